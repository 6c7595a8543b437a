"""Ending a billing subscription on every face (dashboard, API, admin): each shows before the click
which of cancel with a full refund / stop renewal / resume renewal applies today and until when,
calls the one service, and shows its refusal with nothing changed; the permission matrix and
constant queries. The success paths run through the sandbox (DigiCert and Digital River)."""

from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape
from rest_framework.test import APIClient

from billing.models import BillingSubscription, NoticeKind, Provisions, RenewalEngine, SubscriptionState
from billing.services import cancellation
from billing.services.acquisition import OrderLine
from core.models import AuditEvent, Operation
from subscriptions.acme.models import AcmeContract
from tests import factories as bf
from tests.factories import (
    AcmeContractFactory,
    MembershipFactory,
    PartnerFactory,
    StaffFactory,
    SubaccountFactory,
)
from tests.sandbox_helpers import (
    advance_vendor_clock,
    dr_ledger,
    sandbox_acme_contracts,
    vendor_request_count,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold_bo(sell, external_acme_product, digicert_subaccount):
    """The same, renewed by the back office (the only engine that can resume a stopped renewal)."""
    return sell(external_acme_product, "resume.example.com")


def _login(partner, role):
    client = Client()
    client.force_login(MembershipFactory(partner=partner, role=role).user)
    return client


def _api(api, partner, role):
    """A signed-in API client (issuing its token is audited: make it before counting)."""
    if not hasattr(api, "as_user"):
        from core.actor import Actor
        from core.tokens import issue_api_token

        _, key = issue_api_token(Actor.system(), MembershipFactory(partner=partner, role=role).user, "tests")
        api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return api
    return api.as_user(MembershipFactory(partner=partner, role=role).user)


def _unchanged(subscription):
    """What a refusal must leave as it was: the row, the audit trail, operations, vendor calls."""
    subscription.refresh_from_db()
    return (
        subscription.state,
        subscription.ends_at_period_end,
        AuditEvent.objects.count(),
        Operation.objects.count(),
        vendor_request_count(),
        AcmeContract.objects.get().state,
    )


def _assert_cancelled_and_refunded(subscription):
    subscription.refresh_from_db()
    contract = AcmeContract.objects.get()
    assert sandbox_acme_contracts(pk=int(contract.vendor_id)).get().date_canceled is not None
    assert subscription.state == SubscriptionState.CANCELLED
    refunds = dr_ledger(kind="refund", order_id=subscription.acquisition.order_id)
    assert [r.amount for r in refunds] == [Decimal("120.00")]
    assert subscription.notices.filter(kind=NoticeKind.CANCELLED_REFUNDED, delivered=True).exists()


# --- Dashboard ----------------------------------------------------------------------------------


def test_the_subscription_page_says_what_applies_today_and_until_when(sold):
    page = _login(sold.partner, "billing").get(reverse("dashboard:billing-subscription", args=[sold.pk]))
    body = page.content.decode()
    options = {o.code: o for o in cancellation.ending_options(sold)}
    assert set(options) == {"cancel_with_refund", "stop_renewal"}
    assert escape(options["cancel_with_refund"].explanation) in body  # the refund and its deadline
    assert "full refund of 120.00 USD" in body and "DigiCert&#x27;s 30 days" in body
    assert f"runs until {sold.current_period_end_date:%Y-%m-%d}" in body
    assert reverse("dashboard:billing-subscription-cancel", args=[sold.pk]) in body
    assert reverse("dashboard:billing-subscription-stop", args=[sold.pk]) in body
    viewer = _login(sold.partner, "viewer").get(reverse("dashboard:billing-subscription", args=[sold.pk]))
    assert "full refund of 120.00 USD" in viewer.content.decode()  # what applies: shown to everyone
    assert reverse("dashboard:billing-subscription-cancel", args=[sold.pk]) not in viewer.content.decode()


def test_cancel_with_refund_is_confirmed_first_then_cancelled_at_both_and_refunded(sold, run_tasks):
    client = _login(sold.partner, "billing")
    url = reverse("dashboard:billing-subscription-cancel", args=[sold.pk])
    before = (vendor_request_count(), AuditEvent.objects.count())
    confirm = client.get(url)
    body = confirm.content.decode()
    assert confirm.status_code == 200 and "cannot be undone" in body and "Cancel and refund in full" in body
    assert "full refund of 120.00 USD" in body and "This applies until" in body
    assert (vendor_request_count(), AuditEvent.objects.count()) == before  # the page changes nothing

    response = run_tasks(client.post, url, follow=True)

    assert response.redirect_chain[-1][0] == reverse("dashboard:billing-subscription", args=[sold.pk])
    assert "Cancellation sent to DigiCert" in response.content.decode()
    _assert_cancelled_and_refunded(sold)


def test_stop_renewal_from_the_dashboard_stops_the_next_charge_on_both_sides(sold, run_tasks):
    client = _login(sold.partner, "billing")
    response = run_tasks(
        client.post, reverse("dashboard:billing-subscription-stop", args=[sold.pk]), follow=True
    )
    body = response.content.decode()
    assert f"it runs until {sold.current_period_end_date:%d %b %Y} and then ends" in body
    sold.refresh_from_db()
    contract = AcmeContract.objects.get()
    assert sold.ends_at_period_end and not contract.auto_renew
    assert sandbox_acme_contracts(pk=int(contract.vendor_id)).get().auto_renew is False
    assert sold.notices.filter(kind=NoticeKind.RENEWAL_STOPPED).exists()


def test_a_back_office_renewal_stopped_is_resumed_from_the_dashboard(sold_bo, run_tasks):
    client = _login(sold_bo.partner, "billing")
    run_tasks(client.post, reverse("dashboard:billing-subscription-stop", args=[sold_bo.pk]))
    page = client.get(reverse("dashboard:billing-subscription", args=[sold_bo.pk])).content.decode()
    assert "Resume renewal: possible until the period ends" in page
    assert reverse("dashboard:billing-subscription-resume", args=[sold_bo.pk]) in page

    response = run_tasks(
        client.post, reverse("dashboard:billing-subscription-resume", args=[sold_bo.pk]), follow=True
    )

    assert "Renewal resumed" in response.content.decode()
    sold_bo.refresh_from_db()
    assert not sold_bo.ends_at_period_end and AcmeContract.objects.get().auto_renew


def test_cancel_after_day_31_is_refused_on_the_page_and_nothing_changes(sold, run_tasks):
    run_tasks(advance_vendor_clock, days=31)
    client = _login(sold.partner, "billing")
    url = reverse("dashboard:billing-subscription-cancel", args=[sold.pk])
    page = client.get(url).content.decode()
    assert "This does not apply to the subscription today" in page and "Stop renewal: no further" in page
    before = _unchanged(sold)

    response = run_tasks(client.post, url)

    body = response.content.decode()
    assert response.status_code == 409
    assert "A full refund is only possible within DigiCert&#x27;s 30 days" in body
    assert 'data-code="cancel_window_closed"' in body and "runs until" in body
    assert _unchanged(sold) == before
    assert not dr_ledger(kind="refund").exists()


def test_resuming_a_digital_river_subscription_is_refused_with_the_reason(
    checkout, pay, acme_product, digicert_subaccount, run_tasks
):
    pay(checkout(OrderLine(acme_product, options={"sans": ["dr.example.com"]})))
    subscription = BillingSubscription.objects.get()
    client = _login(subscription.partner, "billing")
    run_tasks(client.post, reverse("dashboard:billing-subscription-stop", args=[subscription.pk]))
    page = client.get(reverse("dashboard:billing-subscription", args=[subscription.pk])).content.decode()
    assert "Digital River cannot take a cancelled subscription back" in page
    before = _unchanged(subscription)

    response = run_tasks(
        client.post, reverse("dashboard:billing-subscription-resume", args=[subscription.pk])
    )

    assert response.status_code == 409  # cancelled at Digital River: nothing renews it again
    assert 'data-code="not_available_today"' in response.content.decode()
    assert "runs until" in response.content.decode()
    assert _unchanged(subscription) == before


def test_a_member_without_the_billing_right_cannot_end_a_subscription(sold, run_tasks):
    client = _login(sold.partner, "technician")
    before = _unchanged(sold)
    for name in ("billing-subscription-cancel", "billing-subscription-stop"):
        response = run_tasks(client.post, reverse(f"dashboard:{name}", args=[sold.pk]))
        assert response.status_code == 403 and "does not allow this" in response.content.decode()
    assert _unchanged(sold) == before


def test_a_member_limited_to_other_customers_cannot_see_or_end_it(sold, run_tasks):
    from tests.factories import CustomerFactory

    membership = MembershipFactory(partner=sold.partner, role="billing")
    membership.customers.set([CustomerFactory(partner=sold.partner)])
    client = Client()
    client.force_login(membership.user)
    before = _unchanged(sold)
    assert client.get(reverse("dashboard:billing-subscription-cancel", args=[sold.pk])).status_code == 404
    assert (
        run_tasks(client.post, reverse("dashboard:billing-subscription-stop", args=[sold.pk])).status_code
        == 404
    )
    assert _unchanged(sold) == before


# --- API ----------------------------------------------------------------------------------------


def _api_url(subscription, action=""):
    return f"/api/v1/billing/subscriptions/{subscription.pk}/" + (f"{action}/" if action else "")


def test_the_api_exposes_the_ending_options_read_only(api, sold):
    body = _api(api, sold.partner, "viewer").get(_api_url(sold)).json()
    options = {o["code"]: o for o in body["ending_options"]}
    assert set(options) == {"cancel_with_refund", "stop_renewal"}
    assert "full refund of 120.00 USD" in options["cancel_with_refund"]["explanation"]
    assert options["cancel_with_refund"]["until"] is not None
    assert options["stop_renewal"]["until"].startswith(sold.current_period_end_date.strftime("%Y-%m-%d"))
    assert body["ends_at_period_end"] is False


@pytest.mark.parametrize("action", ["cancel", "stop-renewal", "resume-renewal"])
def test_ending_endpoints_permission_matrix(api, sold_bo, run_tasks, action):
    url = _api_url(sold_bo, action)
    anonymous, stranger, technician = (
        APIClient(),
        _api(APIClient(), PartnerFactory(), "owner"),
        _api(APIClient(), sold_bo.partner, "technician"),
    )
    before = _unchanged(sold_bo)
    assert anonymous.post(url).status_code == 401
    stranger = stranger.post(url)
    assert stranger.status_code == 404 and stranger.json()["code"] == "not_found"
    refused = technician.post(url)
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"
    assert _unchanged(sold_bo) == before


def test_the_api_cancels_with_a_full_refund_202(api, sold, run_tasks):
    client = _api(api, sold.partner, "billing")
    response = run_tasks(client.post, _api_url(sold, "cancel"))
    assert response.status_code == 202
    assert response.json()["id"] == sold.pk and "ending_options" in response.json()
    _assert_cancelled_and_refunded(sold)
    assert client.get(_api_url(sold)).json()["ending_options"] == []


def test_the_api_stops_and_resumes_renewal_202(api, sold_bo, run_tasks):
    client = _api(api, sold_bo.partner, "billing")
    stopped = run_tasks(client.post, _api_url(sold_bo, "stop-renewal"))
    assert stopped.status_code == 202 and stopped.json()["ends_at_period_end"] is True
    assert [o["code"] for o in stopped.json()["ending_options"]] == ["cancel_with_refund", "resume_renewal"]
    assert AcmeContract.objects.get().auto_renew is False
    resumed = run_tasks(client.post, _api_url(sold_bo, "resume-renewal"))
    assert resumed.status_code == 202 and resumed.json()["ends_at_period_end"] is False
    assert AcmeContract.objects.get().auto_renew is True


def test_the_api_refuses_a_cancel_after_day_31_with_409_and_changes_nothing(api, sold, run_tasks):
    run_tasks(advance_vendor_clock, days=31)
    client = _api(api, sold.partner, "billing")
    before = _unchanged(sold)
    response = run_tasks(client.post, _api_url(sold, "cancel"))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "cancel_window_closed" and body["fields"] == {}
    assert "DigiCert's 30 days" in body["message"] and "runs until" in body["message"]
    assert _unchanged(sold) == before


def test_resuming_what_is_not_stopped_is_409_not_available_today(api, sold_bo, run_tasks):
    client = _api(api, sold_bo.partner, "owner")
    before = _unchanged(sold_bo)
    response = run_tasks(client.post, _api_url(sold_bo, "resume-renewal"))
    assert response.status_code == 409 and response.json()["code"] == "not_available_today"
    assert _unchanged(sold_bo) == before


def _acme_billed(subaccount, plan):
    """A subscription providing an ACME contract (rows written directly: a face test)."""
    customer = subaccount.customer
    product = bf.product(customer.partner, plan, provisions=Provisions.ACME_CONTRACT)
    contract = AcmeContractFactory(subaccount=subaccount, active=True)
    return bf.subscription(
        customer,
        product,
        provisioned_type=ContentType.objects.get_for_model(AcmeContract),
        provisioned_id=str(contract.pk),
    )


def test_the_subscription_list_with_ending_options_is_constant_in_queries(api, customer):
    plan = bf.plan("year", engine=RenewalEngine.BACK_OFFICE)
    subaccount = SubaccountFactory(customer=customer, active=True)
    _acme_billed(subaccount, plan)
    bf.subscription(customer, bf.product(customer.partner, plan))
    client = _api(api, customer.partner, "viewer")
    client.get("/api/v1/billing/subscriptions/")

    def count():
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/billing/subscriptions/")
        assert response.status_code == 200
        return len(queries), response.json()["results"]

    few, rows = count()
    assert all(row["ending_options"] for row in rows)
    for _ in range(5):
        _acme_billed(subaccount, plan)
        bf.subscription(customer, bf.product(customer.partner, plan))
    many, rows = count()
    assert len(rows) == 12 and few == many
    assert sum("cancel_with_refund" in str(row["ending_options"]) for row in rows) == 6


def test_the_openapi_schema_documents_the_ending_endpoints(client):
    schema = client.get("/api/schema/?format=json").json()
    for action in ("cancel", "stop-renewal", "resume-renewal"):
        operation = schema["paths"][f"/api/v1/billing/subscriptions/{{id}}/{action}/"]["post"]
        assert set(operation["responses"]) >= {"202", "403", "404", "409"}
    assert "cancel_window_closed" in str(schema["paths"]["/api/v1/billing/subscriptions/{id}/cancel/"])
    fields = schema["components"]["schemas"]["Subscription"]["properties"]
    option = schema["components"]["schemas"]["EndingOption"]["properties"]
    assert fields["ending_options"]["readOnly"] and set(option) == {"code", "until", "explanation"}


# --- Admin --------------------------------------------------------------------------------------


def _changelist():
    return reverse("admin:billing_billingsubscription_changelist")


def _action(client, action, subscription, confirm=False, **kwargs):
    data = {"action": action, "_selected_action": [subscription.pk]}
    if confirm:
        data["_confirm"] = "yes"
    return client.post(_changelist(), data, **kwargs)


def test_the_admin_change_page_shows_the_ending_options(client, superuser, sold):
    client.force_login(superuser)
    page = client.get(reverse("admin:billing_billingsubscription_change", args=[sold.pk])).content.decode()
    assert "Ending, today" in page and "Cancel with a full refund" in page
    assert (
        "full refund of 120.00 USD" in page and f"runs until {sold.current_period_end_date:%Y-%m-%d}" in page
    )


def test_the_admin_cancels_with_a_full_refund_after_its_confirmation_page(client, superuser, sold, run_tasks):
    client.force_login(superuser)
    before = (vendor_request_count(), AuditEvent.objects.count())
    page = _action(client, "cancel_with_refund_selected", sold)
    body = page.content.decode()
    assert page.status_code == 200 and "This cannot be undone" in body
    assert "full refund of 120.00 USD" in body and 'name="_confirm"' in body
    assert (vendor_request_count(), AuditEvent.objects.count()) == before

    done = run_tasks(_action, client, "cancel_with_refund_selected", sold, confirm=True, follow=True)

    assert f"{sold}: cancellation sent to DigiCert" in done.content.decode()
    _assert_cancelled_and_refunded(sold)


def test_the_admin_stops_and_resumes_renewal_with_a_message_per_row(client, superuser, sold_bo, run_tasks):
    client.force_login(superuser)
    stopped = run_tasks(_action, client, "stop_renewal_selected", sold_bo, confirm=True, follow=True)
    assert f"{sold_bo}: renewal stopped; no further charge, it runs until" in stopped.content.decode()
    sold_bo.refresh_from_db()
    assert sold_bo.ends_at_period_end and not AcmeContract.objects.get().auto_renew
    page = _action(client, "resume_renewal_selected", sold_bo).content.decode()
    assert "Resume renewal: possible until the period ends" in page
    resumed = run_tasks(_action, client, "resume_renewal_selected", sold_bo, confirm=True, follow=True)
    assert f"{sold_bo}: renewal resumed" in resumed.content.decode()
    sold_bo.refresh_from_db()
    assert not sold_bo.ends_at_period_end and AcmeContract.objects.get().auto_renew


def test_the_admin_refuses_a_cancel_after_day_31_per_row_and_nothing_changes(
    client, superuser, sold, run_tasks
):
    run_tasks(advance_vendor_clock, days=31)
    client.force_login(superuser)
    page = _action(client, "cancel_with_refund_selected", sold).content.decode()
    assert "Does not apply today" in page and "Stop renewal: no further charge" in page
    assert 'name="_confirm"' not in page
    before = _unchanged(sold)

    forced = run_tasks(_action, client, "cancel_with_refund_selected", sold, confirm=True, follow=True)

    assert "[cancel_window_closed]" in forced.content.decode()
    assert _unchanged(sold) == before


def test_staff_without_the_billing_permission_have_no_ending_actions(client, sold):
    staff = StaffFactory(permissions=["view_billingsubscription"])
    client.force_login(staff)
    listing = client.get(_changelist()).content.decode()
    assert "stop_renewal_selected" not in listing and "cancel_with_refund_selected" not in listing
    before = _unchanged(sold)
    _action(client, "stop_renewal_selected", sold, confirm=True)
    assert _unchanged(sold) == before


# --- Downgrade at the end of the paid period (API) ------------------------------------------------


@pytest.fixture
def cheaper(sold_bo):
    """What sold_bo may downgrade to: the same contract on the same plan at 90.00."""
    from billing.seeding import ensure_product
    from tests.conftest import system_actor

    return ensure_product(
        system_actor(),
        sold_bo.partner,
        sku_id="acme-dv-annual-lite",
        name="ACME DV annual, lite",
        price="90.00",
        plan=sold_bo.plan,
        provisions=sold_bo.product.provisions,
        provision_params=sold_bo.product.provision_params,
    )


def test_the_api_schedules_a_downgrade_for_the_end_of_the_paid_period(api, sold_bo, cheaper, run_tasks):
    url = _api_url(sold_bo, "downgrade")
    anonymous, stranger, technician = (
        APIClient(),
        _api(APIClient(), PartnerFactory(), "owner"),
        _api(APIClient(), sold_bo.partner, "technician"),
    )
    assert anonymous.post(url, {"product": cheaper.pk}).status_code == 401
    assert stranger.post(url, {"product": cheaper.pk}).status_code == 404
    assert technician.post(url, {"product": cheaper.pk}).status_code == 403
    client = _api(api, sold_bo.partner, "billing")
    higher = client.post(url, {"product": sold_bo.product.pk})
    assert higher.status_code == 400 and "product" in higher.json()["fields"]
    sold_bo.refresh_from_db()
    assert sold_bo.scheduled_change == {}
    done = client.post(url, {"product": cheaper.pk})
    assert done.status_code == 202 and done.json()["scheduled_change"] == {"product": cheaper.pk}


def test_the_dashboard_schedules_a_downgrade_for_the_end_of_the_paid_period(sold_bo, cheaper, run_tasks):
    from django.urls import reverse

    page = reverse("dashboard:billing-subscription", args=[sold_bo.pk])
    url = reverse("dashboard:billing-subscription-downgrade", args=[sold_bo.pk])
    biller = _login(sold_bo.partner, "billing")
    assert "ACME DV annual, lite (90.00 USD)" in biller.get(page).content.decode()
    assert _login(sold_bo.partner, "technician").post(url, {"product": cheaper.pk}).status_code == 403
    assert _login(PartnerFactory(), "owner").post(url, {"product": cheaper.pk}).status_code == 404
    sold_bo.refresh_from_db()
    assert sold_bo.scheduled_change == {}
    done = biller.post(url, {"product": cheaper.pk}, follow=True)
    assert "Downgrade to ACME DV annual, lite scheduled" in done.content.decode()
    sold_bo.refresh_from_db()
    assert sold_bo.scheduled_change == {"product": cheaper.pk}
