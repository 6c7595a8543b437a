"""The renewal engine, the order's money, notices' details and the payment-method change on the admin
and the API: the permission matrix, refusals that change nothing, constant queries.

Billing rows are written directly (tests.factories): these are tests of the faces,
the services' own paths through the sandbox are tested with the services."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import NoticeKind, Plan, RenewalEngine
from core.models import AuditEvent, Operation
from tests import factories as bf
from tests.factories import CustomerFactory, MembershipFactory, PartnerFactory

pytestmark = pytest.mark.django_db
CHANGE_KIND = "dr.change_payment_method"


def _as(api, partner, role):
    return api.as_user(MembershipFactory(partner=partner, role=role).user)


@pytest.fixture
def dr_plan(db):
    return bf.plan("year", plan_id="dr-annual", name="DR annual", engine=RenewalEngine.DIGITAL_RIVER)


@pytest.fixture
def bo_plan(db):
    return bf.plan("year", plan_id="bo-annual", name="BO annual", engine=RenewalEngine.BACK_OFFICE)


@pytest.fixture
def dr_sub(customer, dr_plan):
    product = bf.product(customer.partner, dr_plan, name="DR product")
    return bf.subscription(customer, product, payment_source_id="src_0123456789abcdef")


@pytest.fixture
def bo_sub(customer, bo_plan):
    return bf.subscription(customer, bf.product(customer.partner, bo_plan, name="BO product"))


@pytest.fixture
def fulfilled(dr_sub):
    """dr_sub's acquisition: authorised, fulfilled (one delivered, one cancelled), captured."""
    return bf.fulfilled_acquisition(dr_sub)


# --- Admin: plans ------------------------------------------------------------------------------------


def test_plan_changelist_shows_and_filters_by_engine(client, superuser, dr_plan, bo_plan):
    client.force_login(superuser)
    url = reverse("admin:billing_plan_changelist")
    page = client.get(url).content.decode()
    assert "Renewal engine" in page and "Back office (external subscription)" in page
    filtered = client.get(url, {"engine__exact": RenewalEngine.BACK_OFFICE}).content.decode()
    assert "BO annual" in filtered and "DR annual" not in filtered


def _plan_form(plan: Plan, **changes) -> dict:
    data = {
        "name": plan.name,
        "reminder_offset_days": plan.reminder_offset_days,
        "billing_offset_days": plan.billing_offset_days,
        "collection_period_days": plan.collection_period_days,
        "state": plan.state,
        "engine": plan.engine,
        "created_at_0": plan.created_at.strftime("%Y-%m-%d"),
        "created_at_1": plan.created_at.strftime("%H:%M:%S"),
    }
    return {**data, **changes}


def test_staff_add_a_back_office_plan_in_the_admin_and_nothing_goes_to_digital_river(client, superuser):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:billing_plan_add"),
        {
            "plan_id": "bo-monthly",
            "name": "BO monthly",
            "terms": "Renews every month until cancelled.",
            "interval": "month",
            "interval_count": 1,
            "contract_binding_days": 30,
            "reminder_offset_days": 0,
            "billing_offset_days": 0,
            "collection_period_days": 7,
            "state": "active",
            "engine": RenewalEngine.BACK_OFFICE,
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    plan = Plan.objects.get(plan_id="bo-monthly")
    assert plan.engine == RenewalEngine.BACK_OFFICE
    assert not Operation.objects.filter(kind="dr.create_plan").exists()


def test_staff_change_the_engine_of_a_plan_without_subscriptions(client, superuser, bo_plan):
    client.force_login(superuser)
    url = reverse("admin:billing_plan_change", args=[bo_plan.pk])
    assert 'name="engine"' in client.get(url).content.decode()
    response = client.post(url, _plan_form(bo_plan, engine=RenewalEngine.DIGITAL_RIVER))
    assert response.status_code == 302, response.content.decode()[:3000]
    bo_plan.refresh_from_db()
    assert bo_plan.engine == RenewalEngine.DIGITAL_RIVER
    assert AuditEvent.objects.filter(action="billing.plan_updated").exists()


def test_the_engine_of_a_plan_with_subscriptions_is_refused_with_plan_engine_fixed(client, superuser, dr_sub):
    plan = dr_sub.plan
    client.force_login(superuser)
    url = reverse("admin:billing_plan_change", args=[plan.pk])
    before = (AuditEvent.objects.count(), Operation.objects.count())
    response = client.post(url, _plan_form(plan, engine=RenewalEngine.BACK_OFFICE), follow=True)
    page = response.content.decode()
    assert "Not saved:" in page and "[plan_engine_fixed]" in page
    plan.refresh_from_db()
    assert plan.engine == RenewalEngine.DIGITAL_RIVER
    assert (AuditEvent.objects.count(), Operation.objects.count()) == before


# --- Admin: subscriptions, checkouts, renewals, notices --------------------------------------------


def test_admin_subscription_says_who_renews_it(client, superuser, dr_sub, bo_sub):
    client.force_login(superuser)
    listing = client.get(reverse("admin:billing_billingsubscription_changelist")).content.decode()
    assert "Digital River&#x27;s subscription service" in listing and "The back office" in listing
    page = client.get(reverse("admin:billing_billingsubscription_change", args=[dr_sub.pk])).content.decode()
    assert "Digital River&#x27;s subscription service" in page and "src_0123456789abcdef" in page
    filtered = client.get(
        reverse("admin:billing_billingsubscription_changelist"),
        {"plan__engine__exact": RenewalEngine.BACK_OFFICE},
    ).content.decode()
    assert "BO product" in filtered and "DR product" not in filtered


def test_admin_checkout_shows_the_orders_money_and_fulfilment(client, superuser, fulfilled):
    client.force_login(superuser)
    page = client.get(reverse("admin:billing_checkout_change", args=[fulfilled.pk])).content.decode()
    for text in ["Authorised", "170.00", "Captured", "120.00", "Cancelled (not charged)", "50.00"]:
        assert text in page, text
    assert "Refunded" in page and "ful_777" in page and "src_order_98765zyxwv" in page
    assert "itm_2" in page and "Fulfilled quantity" in page and "Cancelled quantity" in page


def test_admin_notice_details_are_readable(client, superuser, dr_sub):
    bf.NoticeFactory(subscription=dr_sub, dr_reminder=True)
    client.force_login(superuser)
    listing = client.get(reverse("admin:billing_notice_changelist")).content.decode()
    assert (
        "120.00 USD" in listing and "Visa ending 4242, expires 12/2026 (expires before the charge)" in listing
    )
    page = client.get(reverse("admin:billing_billingsubscription_change", args=[dr_sub.pk])).content.decode()
    assert "Renewal reminder (Digital River&#x27;s reminder date)" in page and "Visa ending 4242" in page


def test_admin_renewals_list_their_engine_amount_and_invoice(client, superuser, dr_sub):
    from billing.models import Renewal, RenewalState

    Renewal.objects.create(
        subscription=dr_sub,
        renewal_date=dr_sub.current_period_end_date,
        state=RenewalState.CAPTURED,
        invoice_id="inv_555",
        amount=Decimal("120.00"),
    )
    client.force_login(superuser)
    page = client.get(reverse("admin:billing_renewal_changelist")).content.decode()
    assert "inv_555" in page and "120.00" in page and "Digital River&#x27;s subscription service" in page


# --- API: engine, money and details (read-only) ----------------------------------------------------


def test_api_plans_show_their_engine_read_only(api, partner, dr_plan, bo_plan):
    client = _as(api, partner, "owner")
    plans = {p["plan_id"]: p for p in client.get("/api/v1/billing/plans/").json()["results"]}
    assert plans["dr-annual"]["engine"] == "digitalriver"
    assert plans["dr-annual"]["renewed_by"] == "Digital River's subscription service"
    assert plans["bo-annual"]["renewed_by"] == "the back office"
    only_bo = client.get("/api/v1/billing/plans/", {"engine": "back_office"}).json()["results"]
    assert [p["plan_id"] for p in only_bo] == ["bo-annual"]
    response = client.patch(f"/api/v1/billing/plans/{dr_plan.pk}/", {"engine": "back_office"}, format="json")
    assert response.status_code == 405
    dr_plan.refresh_from_db()
    assert dr_plan.engine == RenewalEngine.DIGITAL_RIVER


def test_api_subscription_shows_engine_trial_and_masked_source(api, dr_sub, bo_sub):
    client = _as(api, dr_sub.partner, "viewer")
    body = client.get(f"/api/v1/billing/subscriptions/{dr_sub.pk}/").json()
    assert body["engine"] == "digitalriver"
    assert body["renewed_by"] == "Digital River's subscription service"
    assert body["payment_source"] == "…abcdef" and "src_0123" not in str(body)
    assert body["free_trial"] is False and body["provisioning_attempts"] == 0
    listed = client.get("/api/v1/billing/subscriptions/", {"plan__engine": "back_office"}).json()["results"]
    assert [s["id"] for s in listed] == [bo_sub.pk]


def test_api_subscription_engine_cannot_be_written(api, dr_sub):
    client = _as(api, dr_sub.partner, "owner")
    url = f"/api/v1/billing/subscriptions/{dr_sub.pk}/"
    assert client.patch(url, {"engine": "back_office"}, format="json").status_code == 405
    dr_sub.plan.refresh_from_db()
    assert dr_sub.plan.engine == RenewalEngine.DIGITAL_RIVER


def test_api_checkout_exposes_the_orders_money_read_only(api, fulfilled):
    client = _as(api, fulfilled.partner, "viewer")
    body = client.get(f"/api/v1/billing/checkouts/{fulfilled.pk}/").json()
    assert body["authorized_amount"] == "170.00" and body["captured_amount"] == "120.00"
    assert body["cancelled_amount"] == "50.00" and body["refunded_amount"] == "0.00"
    assert body["fulfillment_id"] == "ful_777" and body["fulfilled_at"]
    assert body["payment_source"] == "…5zyxwv"
    items = {i["order_item_id"]: i for i in body["items"]}
    assert items["itm_1"]["fulfilled_quantity"] == 1 and items["itm_1"]["cancelled_quantity"] == 0
    assert items["itm_2"]["fulfilled_quantity"] == 0 and items["itm_2"]["cancelled_quantity"] == 1
    assert client.patch(
        f"/api/v1/billing/checkouts/{fulfilled.pk}/", {"captured_amount": "1.00"}, format="json"
    ).status_code in (403, 405)
    fulfilled.refresh_from_db()
    assert fulfilled.captured_amount == Decimal("120.00")


def test_api_notices_carry_their_details(api, dr_sub):
    notice = bf.notice(dr_sub, NoticeKind.MANUAL_RENEWAL)
    notice.details = {"amount": "120.00", "link": "https://pay.example/s/1"}
    notice.save()
    body = _as(api, dr_sub.partner, "viewer").get("/api/v1/billing/notices/").json()["results"]
    assert body[0]["kind"] == "manual_renewal"
    assert body[0]["details"] == {"amount": "120.00", "link": "https://pay.example/s/1"}


@pytest.mark.parametrize("url", ["/api/v1/billing/subscriptions/", "/api/v1/billing/checkouts/"])
def test_api_lists_stay_constant_with_engines_and_money(api, partner, dr_plan, bo_plan, dr_sub, url):
    client = _as(api, partner, "viewer")
    client.get(url)
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    for i in range(5):
        other = CustomerFactory(partner=partner)
        plan = dr_plan if i % 2 else bo_plan
        bf.subscription(other, bf.product(partner, plan), payment_source_id=f"src_{i}_abcdefgh")
    with CaptureQueriesContext(connection) as grown:
        assert client.get(url).status_code == 200
    assert len(grown) == len(first)


# --- API: changing a customer's payment method ------------------------------------------------------


def _pm_url(customer) -> str:
    return f"/api/v1/billing/customers/{customer.pk}/payment-method/"


def _nothing_changed():
    return (
        Operation.objects.filter(kind=CHANGE_KIND).count(),
        AuditEvent.objects.filter(action__startswith="billing.payment_method").count(),
    )


def test_payment_method_change_anonymous_is_401(api, dr_sub):
    before = _nothing_changed()
    assert api.post(_pm_url(dr_sub.customer), {"source_id": "src_new"}, format="json").status_code == 401
    assert _nothing_changed() == before


def test_payment_method_change_of_another_partners_customer_is_404(api, dr_sub):
    before = _nothing_changed()
    response = _as(api, PartnerFactory(), "owner").post(
        _pm_url(dr_sub.customer), {"source_id": "src_new"}, format="json"
    )
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert _nothing_changed() == before


@pytest.mark.parametrize("role", ["viewer", "technician"])
def test_payment_method_change_needs_the_billing_right(api, dr_sub, role):
    before = _nothing_changed()
    response = _as(api, dr_sub.partner, role).post(
        _pm_url(dr_sub.customer), {"source_id": "src_new"}, format="json"
    )
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert _nothing_changed() == before
    dr_sub.refresh_from_db()
    assert dr_sub.payment_source_id == "src_0123456789abcdef"


@pytest.mark.parametrize("role", ["owner", "admin", "billing"])
def test_a_billing_member_changes_the_payment_method_and_gets_the_queued_operation(api, dr_sub, role):
    response = _as(api, dr_sub.partner, role).post(
        _pm_url(dr_sub.customer), {"source_id": "src_new_card_42"}, format="json"
    )
    assert response.status_code == 202, response.json()
    body = response.json()
    operation = Operation.objects.get(kind=CHANGE_KIND)
    assert body["customer"] == dr_sub.customer_id
    assert body["operation"]["id"] == operation.pk and body["operation"]["state"] == "pending"
    assert body["operation"]["face"] == "api"
    assert operation.params == {"source_id": "src_new_card_42"}
    assert AuditEvent.objects.filter(action="billing.payment_method_change_requested").count() == 1


@pytest.mark.parametrize(
    "body, field",
    [({}, "source_id"), ({"source_id": ""}, "source_id"), ({"source_id": "x" * 65}, "source_id")],
)
def test_a_bad_payment_source_is_400_with_the_field_and_nothing_queued(api, dr_sub, body, field):
    before = _nothing_changed()
    response = _as(api, dr_sub.partner, "billing").post(_pm_url(dr_sub.customer), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert _nothing_changed() == before


def test_a_second_change_while_one_is_queued_is_409(api, dr_sub):
    client = _as(api, dr_sub.partner, "billing")
    assert client.post(_pm_url(dr_sub.customer), {"source_id": "src_a"}, format="json").status_code == 202
    before = _nothing_changed()
    response = client.post(_pm_url(dr_sub.customer), {"source_id": "src_b"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "operation_in_progress"
    assert _nothing_changed() == before


def test_the_payment_method_endpoint_is_in_the_openapi_schema(client):
    schema = client.get(reverse("api-schema"), {"format": "json"}).json()
    operation = schema["paths"]["/api/v1/billing/customers/{id}/payment-method/"]["post"]
    assert "202" in operation["responses"]
    request_ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert "source_id" in schema["components"]["schemas"][request_ref.rsplit("/", 1)[-1]]["properties"]


@pytest.mark.parametrize(
    "model", ["plan", "product", "checkout", "billingsubscription", "renewal", "notice", "billingagreement"]
)
def test_admin_lists_render_with_both_engines_and_constant_queries(
    client, superuser, fulfilled, bo_sub, customer, model
):
    bf.notice(fulfilled.acquired_subscriptions.get(), NoticeKind.RENEWAL_REMINDER)
    client.force_login(superuser)
    url = reverse(f"admin:billing_{model}_changelist")
    client.get(url)
    with CaptureQueriesContext(connection) as first:
        assert client.get(url).status_code == 200
    plan = bf.plan("month", engine=RenewalEngine.BACK_OFFICE)
    for _ in range(4):
        grown = bf.subscription(CustomerFactory(partner=customer.partner), bf.product(customer.partner, plan))
        bf.notice(grown, NoticeKind.RENEWAL_REMINDER)
        bf.held_renewal(grown)
    with CaptureQueriesContext(connection) as grown_queries:
        assert client.get(url).status_code == 200
    assert len(grown_queries) == len(first), model


def test_the_api_change_runs_through_digital_river_and_the_subscriptions_get_the_new_source(
    api, checkout, pay, support_product, run_tasks
):
    """End to end through the sandbox: sold, paid, then a new card from the API reaches Digital River
    (saved to the customer; set on the subscription its service runs) and our subscription."""
    from billing.models import BillingSubscription
    from billing.services.common import dr_customer_id
    from tests.sandbox_helpers import dr_new_source

    pay(checkout(support_product))
    subscription = BillingSubscription.objects.get()
    source = dr_new_source(dr_customer_id(subscription.customer))
    client = _as(api, subscription.partner, "billing")
    response = run_tasks(client.post, _pm_url(subscription.customer), {"source_id": source}, format="json")
    assert response.status_code == 202
    operation = Operation.objects.get(kind=CHANGE_KIND)
    assert operation.state == "succeeded", operation.last_error_message
    subscription.refresh_from_db()
    assert subscription.payment_source_id == source
    body = client.get(f"/api/v1/billing/subscriptions/{subscription.pk}/").json()
    assert body["payment_source"] == f"…{source[-6:]}"
