"""The dashboard's billing pages: renewals by week with reminders and flags, agreements, a
subscription's notices, the home figures and attention items, the customer section, the renewals
CSV; every page behind the permission matrix and constant in SQL queries."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.dashboard_selectors import monthly_amount, monthly_recurring_revenue
from billing.models import NoticeKind, ProvisioningState, RenewalEngine, SubscriptionState
from core.actor import Actor
from tests import factories as bf
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def annual(db):
    """A plan the back office renews (external subscriptions): it sends the 30/7/1-day reminders."""
    return bf.plan("year", plan_id="annual", engine=RenewalEngine.BACK_OFFICE)


@pytest.fixture
def sub(customer, annual):
    """An annual subscription renewing in 20 days: its 30-day reminder delivered, 7 and 1 to come."""
    product = bf.product(customer.partner, annual, name="ACME DV annual")
    subscription = bf.subscription(customer, product, renews_in_days=20, billing_agreement_id="ba-first")
    bf.notice(subscription, NoticeKind.REMINDER_30)
    return subscription


def _pages(sub):
    return [
        reverse("dashboard:renewals"),
        reverse("dashboard:billing-agreements"),
        reverse("dashboard:checkouts"),
        reverse("dashboard:billing-subscription", args=[sub.pk]),
        reverse("dashboard:checkout", args=[sub.acquisition_id]),
        reverse("dashboard:export", args=["renewals"]),
    ]


# --- Permissions -----------------------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client, sub):
    for url in [
        *_pages(sub),
        reverse("dashboard:checkout-progress", args=[sub.acquisition_id]),
        reverse("dashboard:checkout-start", args=[sub.customer_id]),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


def test_every_role_reads_the_billing_pages(login, partner, sub):
    viewer = login("viewer", partner)
    for url in _pages(sub):
        assert viewer.get(url).status_code == 200, url
    assert (
        viewer.get(reverse("dashboard:checkout-progress", args=[sub.acquisition_id]), **HX).status_code == 200
    )


def test_another_partners_subscription_and_checkout_are_not_found(stranger_client, sub):
    for url in [
        reverse("dashboard:billing-subscription", args=[sub.pk]),
        reverse("dashboard:checkout", args=[sub.acquisition_id]),
        reverse("dashboard:checkout-progress", args=[sub.acquisition_id]),
        reverse("dashboard:checkout-start", args=[sub.customer_id]),
    ]:
        assert stranger_client.get(url, **HX).status_code == 404, url
    assert (
        stranger_client.post(reverse("dashboard:checkout-retry", args=[sub.acquisition_id])).status_code
        == 404
    )


def test_another_partners_rows_are_not_listed(stranger_client, sub):
    for url in _pages(sub)[:3]:
        body = stranger_client.get(url).content.decode()
        assert sub.customer.name not in body, url
    rows = b"".join(stranger_client.get(reverse("dashboard:export", args=["renewals"])).streaming_content)
    assert sub.customer.name.encode() not in rows


def test_the_billing_nav_entry_is_shown(login, partner, sub):
    body = login("viewer", partner).get(reverse("dashboard:home")).content.decode()
    assert reverse("dashboard:renewals") in body


# --- Renewals page ---------------------------------------------------------------------------------


def test_renewals_are_grouped_by_week_with_reminders_and_agreement(owner_client, sub):
    body = owner_client.get(reverse("dashboard:renewals")).content.decode()
    assert "ACME DV annual" in body and sub.customer.name in body
    assert "ba-first" in body
    assert "30 days · delivered" in body  # the reminder that went out
    assert "7 days · due" in body  # the one still to come
    assert "120.00 USD" in body
    assert body.count("Week of ") == 12


def test_held_renewals_and_failed_payments_are_flagged_on_top(owner_client, customer, annual, sub):
    held = bf.subscription(
        customer, bf.product(customer.partner, annual, name="Held product"), renews_in_days=-1
    )
    bf.held_renewal(held)
    failing = bf.subscription(
        customer,
        bf.product(customer.partner, annual, name="Unpaid product"),
        renews_in_days=40,
        state=SubscriptionState.ACTIVE_PENDING_INVOICE,
        payment_failed_at=timezone.now() - timedelta(days=2),
    )
    body = owner_client.get(reverse("dashboard:renewals")).content.decode()
    flags = body.split('id="flags-title"')[1].split("</section>")[0]
    assert "Renewal held, reminder missing: Held product" in flags
    assert "Payment failed: Unpaid product" in flags
    assert f"{failing.payment_failed_at:%-d %b %Y}" in flags


def test_a_missing_reminder_is_flagged_before_the_renewal(owner_client, customer, annual):
    late = bf.subscription(
        customer, bf.product(customer.partner, annual, name="Late product"), renews_in_days=10
    )
    body = owner_client.get(reverse("dashboard:renewals")).content.decode()
    assert "Reminder not sent: Late product" in body
    assert "30 days · missing" in body
    assert late.customer.name in body


def test_renewals_filter_by_customer_and_state(owner_client, partner, customer, annual, sub):
    other = CustomerFactory(partner=partner, name="Zed Other Co")
    bf.subscription(
        other, bf.product(partner, annual, name="Other product"), renews_in_days=30, auto_renewal=False
    )
    body = owner_client.get(reverse("dashboard:renewals"), {"customer": customer.pk}).content.decode()
    assert "ACME DV annual" in body and "Other product" not in body
    body = owner_client.get(reverse("dashboard:renewals"), {"state": "ends"}).content.decode()
    assert "Other product" in body and "ACME DV annual" not in body
    body = owner_client.get(reverse("dashboard:renewals"), {"state": "renews"}).content.decode()
    assert "ACME DV annual" in body and "Other product" not in body


def test_the_month_calendar_lists_renewals_on_their_day(owner_client, sub):
    body = owner_client.get(reverse("dashboard:renewals"), {"view": "calendar"}).content.decode()
    assert 'class="calendar"' in body
    assert f"{sub.current_period_end_date:%B %Y}" in body
    assert reverse("dashboard:billing-subscription", args=[sub.pk]) in body


def test_renewals_csv(owner_client, sub):
    response = owner_client.get(reverse("dashboard:export", args=["renewals"]))
    text = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert text[0].startswith("renewal_date,customer,")
    assert len(text) == 2
    assert "ACME DV annual" in text[1] and "ba-first" in text[1] and "reminder_30=" in text[1]


# --- Agreements, subscription and its notices ------------------------------------------------------


def test_agreements_list_their_subscriptions(owner_client, sub):
    body = owner_client.get(reverse("dashboard:billing-agreements")).content.decode()
    assert "ba-first" in body and "ACME DV annual" in body and "In use" in body


def test_a_subscription_lists_its_notices_with_delivery(owner_client, sub):
    bf.notice(sub, NoticeKind.REMINDER_7, delivered=False, error="SMTP 550 mailbox unavailable")
    body = owner_client.get(reverse("dashboard:billing-subscription", args=[sub.pk])).content.decode()
    assert "Renewal reminder, 30 days before" in body and "Delivered" in body
    assert "Renewal reminder, 7 days before" in body and "SMTP 550 mailbox unavailable" in body


# --- The renewal engine -----------------------------------------------------------------------------


@pytest.fixture
def dr_sub(customer):
    """A subscription Digital River's service renews: the back office only listens."""
    plan = bf.plan("year", plan_id="dr-annual", engine=RenewalEngine.DIGITAL_RIVER)
    product = bf.product(customer.partner, plan, name="DR-renewed product")
    return bf.subscription(customer, product, renews_in_days=10, payment_source_id="src_0123456789abcdef")


def _row_of(body: str, name: str) -> str:
    return body.split(name, 1)[1].split("</tr>", 1)[0]


def test_digital_river_engine_rows_say_it_charges_itself_without_reminders_or_flags(
    owner_client, dr_sub, sub
):
    body = owner_client.get(reverse("dashboard:renewals")).content.decode()
    row = _row_of(body, "DR-renewed product")
    assert "Digital River charges this itself" in row
    assert "30 days" not in row and "missing" not in row
    assert "Reminder not sent: DR-renewed product" not in body  # its reminder is Digital River's
    assert "Digital River charges this itself" not in _row_of(body, "ACME DV annual")


def test_a_held_renewal_is_only_flagged_for_what_the_back_office_renews(owner_client, customer, dr_sub):
    bf.held_renewal(dr_sub)
    body = owner_client.get(reverse("dashboard:renewals")).content.decode()
    assert "Renewal held, reminder missing: DR-renewed product" not in body


def test_renewals_filter_by_engine(owner_client, dr_sub, sub):
    body = owner_client.get(reverse("dashboard:renewals"), {"state": "digitalriver"}).content.decode()
    assert "DR-renewed product" in body and "ACME DV annual" not in body
    body = owner_client.get(reverse("dashboard:renewals"), {"state": "back_office"}).content.decode()
    assert "ACME DV annual" in body and "DR-renewed product" not in body


def test_renewals_csv_says_who_renews(owner_client, dr_sub, sub):
    response = owner_client.get(reverse("dashboard:export", args=["renewals"]))
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0].endswith(",renewed_by")
    by_product = {line.split(",")[3]: line for line in lines[1:]}
    assert by_product["DR-renewed product"].endswith(",digitalriver")
    assert by_product["ACME DV annual"].endswith(",back_office")


def test_the_subscription_page_says_who_renews_it(owner_client, dr_sub, sub):
    body = owner_client.get(reverse("dashboard:billing-subscription", args=[dr_sub.pk])).content.decode()
    renewed_by = body.split('id="renewed-by">', 1)[1].split("</dd>", 1)[0]
    assert "Digital River&#x27;s subscription service" in renewed_by
    body = owner_client.get(reverse("dashboard:billing-subscription", args=[sub.pk])).content.decode()
    assert "The back office" in body.split('id="renewed-by">', 1)[1].split("</dd>", 1)[0]


def test_the_subscription_page_lists_new_notice_kinds_with_their_details(owner_client, dr_sub):
    bf.NoticeFactory(subscription=dr_sub, dr_reminder=True)
    manual = bf.notice(dr_sub, NoticeKind.MANUAL_RENEWAL)
    manual.details = {"amount": "120.00", "link": "https://pay.example/s/1"}
    manual.save()
    sneaky = bf.notice(dr_sub, NoticeKind.REFUNDED)
    sneaky.details = {"amount": "120.00", "link": "javascript:alert(1)"}
    sneaky.save()
    body = owner_client.get(reverse("dashboard:billing-subscription", args=[dr_sub.pk])).content.decode()
    assert "Renewal reminder (Digital River&#x27;s reminder date)" in body
    assert "Renewal to pay (payment link)" in body and "Refund" in body
    assert "120.00 USD" in body and "2027-01-05" in body
    assert "Visa ending 4242, expires 12/2026 (expires before the charge)" in body
    assert 'href="https://pay.example/s/1"' in body
    assert 'href="javascript:' not in body


def test_the_checkout_page_shows_the_orders_money_and_fulfilment(owner_client, dr_sub):
    checkout = bf.fulfilled_acquisition(dr_sub)
    body = owner_client.get(reverse("dashboard:checkout", args=[checkout.pk])).content.decode()

    def dd(name):
        return body.split(f'id="money-{name}">', 1)[1].split("</dd>", 1)[0]

    assert "170.00" in dd("authorized") and "120.00" in dd("captured")
    assert "50.00" in dd("cancelled") and "0.00" in dd("refunded")
    assert "ful_777" in dd("fulfilled")
    assert "…5zyxwv" in body and "src_order_98765zyxwv" not in body
    fee_row = _row_of(body, "Setup fee")
    assert [c.split(">")[-1] for c in fee_row.split("</td>")[1:4]] == ["1", "0", "1"]


def test_the_checkout_page_before_fulfilment_says_it_waits(owner_client, dr_sub):
    checkout = dr_sub.acquisition
    checkout.order_id = "ord_2002"
    checkout.save()
    body = owner_client.get(reverse("dashboard:checkout", args=[checkout.pk])).content.decode()
    assert "Not yet: waiting for every item" in body.split('id="money-fulfilled">', 1)[1].split("</dd>")[0]


# --- Home and customer page through the registry ---------------------------------------------------


def test_monthly_amounts_follow_the_plan_interval():
    assert monthly_amount(Decimal("120"), 1, "year", 1) == Decimal("10")
    assert monthly_amount(Decimal("10"), 2, "month", 1) == Decimal("20")
    assert monthly_amount(Decimal("12"), 1, "week", 1) == Decimal("52")
    assert monthly_amount(Decimal("12"), 1, "day", 1) == Decimal("365")
    assert monthly_amount(Decimal("240"), 1, "year", 2) == Decimal("10")


def test_mrr_is_per_currency_over_active_subscriptions(customer, annual, sub):
    monthly = bf.plan("month", plan_id="monthly")
    bf.subscription(customer, bf.product(customer.partner, monthly, price="10.00", currency="EUR"))
    bf.subscription(customer, bf.product(customer.partner, annual), state=SubscriptionState.CANCELLED)
    mrr = monthly_recurring_revenue(Actor.system())
    assert mrr == {"EUR": Decimal("10.00"), "USD": Decimal("10.00")}


def test_home_shows_mrr_and_billing_attention(owner_client, customer, annual, sub):
    broken = bf.subscription(
        customer,
        bf.product(customer.partner, annual, name="Zone plan"),
        provisioning_state=ProvisioningState.PENDING,
        provisioning_error="The zone is not active at Cloudflare. [zone_not_active]",
    )
    body = owner_client.get(reverse("dashboard:home")).content.decode()
    assert "Monthly recurring revenue" in body and "20.00 USD" in body  # two annual 120 USD
    assert "Provisioning failed: Zone plan" in body and "zone_not_active" in body
    assert "Billing renewals, next 12 months" in body
    assert broken.customer.name in body


def test_customer_page_has_a_billing_section_and_button(login, partner, customer, sub):
    body = login("billing", partner).get(reverse("dashboard:customer", args=[customer.pk])).content.decode()
    assert 'id="billing"' in body and "ACME DV annual" in body and "ba-first" in body
    assert reverse("dashboard:checkout-start", args=[customer.pk]) in body
    body = (
        login("technician", partner).get(reverse("dashboard:customer", args=[customer.pk])).content.decode()
    )
    assert reverse("dashboard:checkout-start", args=[customer.pk]) not in body


# --- Constant queries ------------------------------------------------------------------------------


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200, url
    return len(queries)


def _grow(partner, annual, n):
    dr_plan = bf.plan("year", engine=RenewalEngine.DIGITAL_RIVER)
    for i in range(n):
        other = CustomerFactory(partner=partner)
        product = bf.product(partner, annual)
        grown = bf.subscription(other, product, renews_in_days=5 + i * 3)
        bf.notice(grown, NoticeKind.REMINDER_30)
        bf.notice(grown, NoticeKind.REMINDER_7, delivered=False, error="bounced")
        held = bf.subscription(other, product, renews_in_days=-1)
        bf.held_renewal(held)
        bf.subscription(
            other,
            product,
            state=SubscriptionState.ACTIVE_PENDING_INVOICE,
            payment_failed_at=timezone.now(),
            provisioning_state=ProvisioningState.PENDING,
            provisioning_error="refused",
        )
        by_dr = bf.subscription(other, bf.product(partner, dr_plan), renews_in_days=4 + i * 3)
        reminder = bf.notice(by_dr, NoticeKind.RENEWAL_REMINDER)
        reminder.details = {"amount": "120.00", "card_brand": "Visa", "card_last_four": "4242"}
        reminder.save()


@pytest.mark.parametrize("index", range(6))
def test_billing_pages_run_a_constant_number_of_queries(owner_client, partner, customer, annual, sub, index):
    url = _pages(sub)[index]
    _count(owner_client, url)  # warm caches (content types)
    one = _count(owner_client, url)
    _grow(partner, annual, 6)
    assert _count(owner_client, url) == one


@pytest.mark.parametrize("name", ["home", "customer"])
def test_home_and_customer_stay_constant_with_billing_rows(
    owner_client, partner, customer, annual, sub, name
):
    url = reverse("dashboard:home") if name == "home" else reverse("dashboard:customer", args=[customer.pk])
    _count(owner_client, url)
    one = _count(owner_client, url)
    _grow(partner, annual, 6)
    for i in range(4):
        bf.subscription(customer, bf.product(partner, annual), renews_in_days=3 + i)
    assert _count(owner_client, url) == one
