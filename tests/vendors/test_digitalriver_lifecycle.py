"""Digital River sandbox: paying, orders, activation, renewals (002), the clock's lifecycle, events and faces."""

import io
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from dateutil.relativedelta import relativedelta
from django.core.management import CommandError, call_command

from tests.vendors.dr import (
    CUSTOMER_ID,
    DR,
    acquire,
    one_off,
    pay,
    recurring,
    renew,
    renewal,
)
from vendors.digitalriver_signature import verify
from vendors.errors import VendorError
from vendors.sandbox.clock import advance_clock, sandbox_now
from vendors.sandbox.models import (
    DRBillingAgreement,
    DRCheckoutSession,
    DRCustomer,
    DREvent,
    DROrder,
    DRPlan,
    DRSubscription,
)

pytestmark = pytest.mark.django_db
DATES = ("contractBindingUntil", "currentPeriodEndDate", "nextInvoiceDate", "nextReminderDate")


def _refused(call, *args, **kwargs) -> VendorError:
    with pytest.raises(VendorError) as caught:
        call(*args, **kwargs)
    return caught.value


def _types(since: int = 0) -> list[str]:
    return list(DREvent.objects.filter(seq__gt=since).order_by("seq").values_list("type", flat=True))


def _last_seq() -> int:
    return DREvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


@pytest.fixture
def active(dr, annual, customer_id):
    """A paid and activated annual subscription."""
    _, subscription = acquire(dr, annual, customer_id)
    return dr.activate_subscription(subscription.id)


# --- Paying a checkout session ---------------------------------------------------------------------


def test_paying_makes_an_order_draft_subscriptions_and_one_billing_agreement(dr, annual, customer_id):
    session = dr.create_checkout_session(
        customer_id=customer_id,
        currency="USD",
        items=[recurring(annual), recurring(annual, sku="sku-seat", price=20.0), one_off()],
        upstream_id="ours-7",
        metadata={"checkout": "7"},
    )

    output = pay(session.id)

    order = DROrder.objects.get()
    assert f"order {order.pk}" in output
    assert (order.state, order.upstream_id, order.metadata, order.total_amount) == (
        "complete",
        "ours-7",
        {"checkout": "7"},
        Decimal(190),
    )
    subscriptions = list(DRSubscription.objects.order_by("created_at"))
    # No subscriptionId given: one subscription per recurring item, all on one agreement.
    assert len(subscriptions) == 2 and {s.state for s in subscriptions} == {"draft"}
    assert DRBillingAgreement.objects.count() == 1
    assert {s.billing_agreement_id for s in subscriptions} == {DRBillingAgreement.objects.get().pk}
    for subscription in subscriptions:
        body = dr.get_subscription(subscription.pk).raw
        assert not set(DATES) & set(body)
    items = dr.list_orders(upstream_id="ours-7")[0].items
    assert [i.subscription_id is not None for i in items] == [True, True, False]
    assert items[0].billing_agreement_id == items[1].billing_agreement_id
    assert DRCustomer.objects.get().source_id  # the payment source is saved for renewals
    assert _types() == [
        "checkout_session.order.created",
        "order.accepted",
        "subscription.created",
        "subscription.created",
        "order.charge.capture.complete",
        "order.complete",
    ]


def test_our_subscription_id_is_kept(dr, annual, customer_id):
    _, subscription = acquire(dr, annual, customer_id, subscription_id="ours-sub-1")

    assert subscription.id == "ours-sub-1" and subscription.state == "draft"
    assert subscription.plan_id == annual.id and subscription.customer_id == customer_id


def test_items_sharing_a_subscription_id_make_one_subscription(dr, annual, customer_id):
    acquire(
        dr,
        annual,
        customer_id,
        subscription_id="s-1",
        extra_items=[recurring(annual, subscription_id="s-1", sku="seat", price=10.0)],
    )

    subscription = DRSubscription.objects.get()
    assert [item["skuId"] for item in subscription.items] == ["sku-pro", "seat"]


def test_a_session_is_paid_once(dr, annual, customer_id):
    session, _ = acquire(dr, annual, customer_id)

    with pytest.raises(CommandError, match="already paid"):
        pay(session.id)
    assert DROrder.objects.count() == 1


def test_a_declined_card_leaves_the_session_open(dr, annual, customer_id):
    session = dr.create_checkout_session(customer_id=customer_id, currency="USD", items=[recurring(annual)])

    assert "declined" in pay(session.id, decline=True)

    stored = DRCheckoutSession.objects.get()
    assert (stored.state, stored.declines) == ("open", 1)
    assert not DROrder.objects.exists() and not DREvent.objects.exists()
    pay(session.id)
    assert DRCheckoutSession.objects.get().state == "paid"


def test_a_plan_deactivated_before_payment_refuses_the_payment(dr, annual, customer_id):
    session = dr.create_checkout_session(customer_id=customer_id, currency="USD", items=[recurring(annual)])
    dr.update_plan(annual.id, state="deactivated")

    with pytest.raises(CommandError, match="plan_not_active"):
        pay(session.id)
    assert DRCheckoutSession.objects.get().state == "open" and not DROrder.objects.exists()


def test_the_pay_page_shows_items_terms_and_the_billing_agreement(dr, annual, customer_id, client):
    session = dr.create_checkout_session(
        customer_id=customer_id, currency="USD", items=[recurring(annual), one_off()]
    )

    page = client.get(f"{DR}/pay/{session.id}/")

    text = page.content.decode()
    assert page.status_code == 200
    assert annual.terms in text and "recurring billing agreement" in text and "every 1 year" in text
    assert "170" in text and "Decline card" in text


def test_the_pay_page_pays_and_declines(dr, annual, customer_id, client):
    session = dr.create_checkout_session(customer_id=customer_id, currency="USD", items=[recurring(annual)])

    declined = client.post(f"{DR}/pay/{session.id}/", {"action": "decline"})
    assert declined.status_code == 302 and "declined=1" in declined["Location"]
    assert "was declined" in client.get(declined["Location"]).content.decode()

    paid = client.post(f"{DR}/pay/{session.id}/", {"action": "pay", "agreement": "on"})
    assert paid.status_code == 302
    page = client.get(paid["Location"]).content.decode()
    order = DROrder.objects.get()
    assert "Paid" in page and order.pk in page and DRSubscription.objects.get().pk in page
    again = client.post(f"{DR}/pay/{session.id}/", {"action": "pay"})
    assert again.status_code == 409 and DROrder.objects.count() == 1


def test_the_pay_page_follows_the_success_redirect(dr, annual, customer_id, client):
    body = {
        "customerId": customer_id,
        "currency": "USD",
        "items": [recurring(annual)],
        "redirects": {"successUrl": "https://shop.example/thanks", "cancelUrl": "https://shop.example/cart"},
    }
    session = dr._request("POST", "/drop-in/checkout-sessions", json=body)

    paid = client.post(f"{DR}/pay/{session['id']}/", {"action": "pay"})

    assert paid["Location"] == "https://shop.example/thanks"


def test_an_unknown_session_has_no_pay_page(client, db):
    assert client.get(f"{DR}/pay/nope/").status_code == 404


# --- Activation and cancellation -------------------------------------------------------------------


def test_dates_are_filled_only_after_activation(dr, annual, customer_id):
    _, draft = acquire(dr, annual, customer_id)
    assert (draft.contract_binding_until, draft.current_period_end_date) == (None, None)
    assert (draft.next_invoice_date, draft.next_reminder_date) == (None, None)
    activated_at = sandbox_now().replace(microsecond=0)

    subscription = dr.activate_subscription(draft.id)

    end = subscription.current_period_end_date
    assert subscription.state == "active" and subscription.raw["stateTransitions"]["activated"]
    assert abs(end - (activated_at + relativedelta(years=1))) < timedelta(seconds=2)
    assert abs(subscription.contract_binding_until - (activated_at + timedelta(days=365))) < timedelta(
        seconds=2
    )
    assert subscription.next_invoice_date == end - timedelta(days=5)
    assert subscription.next_reminder_date == end - timedelta(days=30)
    event = DREvent.objects.filter(type="subscription.updated").get()
    assert (
        event.data["previousAttributes"] == {"state": "draft"} and event.data["object"]["state"] == "active"
    )


@pytest.mark.parametrize(
    "body,parameter",
    [
        ({"state": "active", "metadata": {"a": "b"}}, "metadata"),
        ({"state": "active", "planId": "x"}, "planId"),
    ],
)
def test_activate_with_other_fields_is_409_restricted_update(dr, annual, customer_id, body, parameter):
    _, draft = acquire(dr, annual, customer_id)
    before = _last_seq()

    error = _refused(dr._request, "POST", f"/subscriptions/{draft.id}", json=body)

    assert (error.status, error.code, error.raw["errors"][0]["parameter"]) == (
        409,
        "restricted_update",
        parameter,
    )
    assert (
        error.raw["errors"][0]["message"]
        == "Additional data cannot be updated when updating state to active."
    )
    assert dr.get_subscription(draft.id).state == "draft" and _last_seq() == before


def test_activating_twice_changes_nothing(dr, active):
    again = dr.activate_subscription(active.id)

    assert again.current_period_end_date == active.current_period_end_date
    assert DREvent.objects.filter(type="subscription.updated").count() == 1


def test_a_free_trial_activates_as_active_free(dr, annual, customer_id):
    session = dr.create_checkout_session(
        customer_id=customer_id,
        currency="USD",
        items=[recurring(annual, price=0.0, freeTrial=True, subscription_id="t-1")],
    )
    pay(session.id)

    assert dr.activate_subscription("t-1").state == "activeFree"


@pytest.mark.parametrize("state", ["active", "activeFree", "activePendingInvoice"])
def test_cancel_from_a_live_state(dr, active, state):
    DRSubscription.objects.filter(pk=active.id).update(state=state)

    cancelled = dr.cancel_subscription(active.id)

    assert cancelled.state == "cancelled" and cancelled.raw["stateTransitions"]["cancelled"]


@pytest.mark.parametrize("state", ["draft", "failed", "lapsed", "cancelled"])
def test_cancel_is_refused_outside_the_live_states(dr, active, state):
    DRSubscription.objects.filter(pk=active.id).update(state=state)

    error = _refused(dr.cancel_subscription, active.id)

    assert error.status == 409 and DRSubscription.objects.get().state == state


def test_cancel_with_other_fields_is_409_restricted_update(dr, active):
    error = _refused(
        dr._request, "POST", f"/subscriptions/{active.id}", json={"state": "cancelled", "metadata": {}}
    )

    assert (error.code, error.raw["errors"][0]["parameter"]) == ("restricted_update", "metadata")


def test_metadata_alone_can_change(dr, active):
    body = dr._request("POST", f"/subscriptions/{active.id}", json={"metadata": {"ours": "1"}})

    assert body["metadata"] == {"ours": "1"} and body["state"] == "active"


def test_list_subscriptions_by_customer_plan_and_state(dr, active, monthly):
    assert [s.id for s in dr.list_subscriptions(customer_id=CUSTOMER_ID)] == [active.id]
    assert [s.id for s in dr.list_subscriptions(plan_id=active.plan_id, state="active")] == [active.id]
    assert dr.list_subscriptions(plan_id=monthly.id) == [] and dr.list_subscriptions(state="draft") == []


# --- Renewals (002) ----------------------------------------------------------------------------------


def test_renewal_order_returns_the_same_billing_agreement(dr, active, customer_id):
    checkout, order = renew(dr, active, customer_id)

    assert checkout.charge_type == "merchant_initiated"
    assert "terms" not in checkout.raw["items"][0]["subscriptionInfo"]
    assert order.state == "accepted" and order.checkout_id == checkout.id
    assert order.items[0].billing_agreement_id == active.billing_agreement_id
    assert order.items[0].subscription_id == active.id
    assert DRBillingAgreement.objects.count() == 1


def test_capture_extends_the_subscription(dr, active, customer_id):
    before = _last_seq()

    renew(dr, active, customer_id)

    extended = dr.get_subscription(active.id)
    end = active.current_period_end_date + relativedelta(years=1)
    assert extended.state == "active" and extended.current_period_end_date == end
    assert extended.next_invoice_date == end - timedelta(days=5)
    assert extended.next_reminder_date == end - timedelta(days=30)
    assert extended.contract_binding_until == active.contract_binding_until
    assert _types(before) == [
        "order.accepted",
        "order.charge.capture.complete",
        "subscription.extended",
        "order.complete",
    ]
    event = DREvent.objects.get(type="subscription.extended")
    assert event.data["previousAttributes"]["currentPeriodEndDate"] == active.raw["currentPeriodEndDate"]
    assert dr.list_orders(subscription_id=active.id)[-1].state == "complete"


def test_monthly_periods_follow_the_calendar(dr, monthly, customer_id):
    _, draft = acquire(dr, monthly, customer_id)
    subscription = dr.activate_subscription(draft.id)
    anchor = subscription.raw["stateTransitions"]["activated"]

    for number in range(1, 4):
        renew(dr, dr.get_subscription(draft.id), customer_id, upstream_id=f"r-{number}")

    from vendors.http import parse_time

    assert dr.get_subscription(draft.id).current_period_end_date == parse_time(anchor) + relativedelta(
        months=4
    )


def test_a_manual_renewal_is_customer_initiated_with_auto_renewal_false(dr, active, customer_id):
    checkout = dr.create_checkout(
        customer_id=customer_id,
        currency="USD",
        items=[renewal(active, auto=False)],
        charge_type="customer_initiated",
    )

    order = dr.create_order(checkout.id)

    assert order.items[0].billing_agreement_id == active.billing_agreement_id
    assert dr.get_subscription(active.id).current_period_end_date > active.current_period_end_date


@pytest.mark.parametrize(
    "change,code,parameter",
    [
        ({"billingAgreementId": None}, "missing_parameter", "billingAgreementId"),
        ({"subscriptionId": None}, "missing_parameter", "subscriptionId"),
        ({"billingAgreementId": "another-agreement"}, "invalid_parameter", "billingAgreementId"),
        ({"subscriptionId": "nope"}, "invalid_parameter", "subscriptionId"),
        ({"autoRenewal": False}, "invalid_request", "autoRenewal"),
    ],
)
def test_a_merchant_initiated_renewal_names_its_subscription_and_agreement(
    dr, active, customer_id, change, code, parameter
):
    item = renewal(active)
    item["subscriptionInfo"].update(change)

    error = _refused(
        dr.create_checkout,
        customer_id=customer_id,
        currency="USD",
        items=[item],
        charge_type="merchant_initiated",
    )

    assert (error.code, error.raw["errors"][0]["parameter"]) == (code, parameter)


def test_a_subscription_that_is_not_live_does_not_renew(dr, active, customer_id):
    dr.cancel_subscription(active.id)

    error = _refused(renew, dr, active, customer_id)

    assert (error.status, error.code) == (409, "invalid_request")


def test_a_merchant_initiated_checkout_without_renewals_is_refused(dr, customer_id):
    error = _refused(
        dr.create_checkout,
        customer_id=customer_id,
        currency="USD",
        items=[one_off()],
        charge_type="merchant_initiated",
    )

    assert (error.status, error.code) == (400, "invalid_request")


def test_a_checkout_becomes_one_order_only(dr, active, customer_id):
    checkout, order = renew(dr, active, customer_id)

    error = _refused(dr.create_order, checkout.id)

    assert (error.status, error.code) == (409, "already_exists")
    assert [o.id for o in dr.list_orders(checkout_id=checkout.id)] == [order.id]


def test_an_order_needs_a_saved_payment_source(dr, annual, customer_id):
    checkout = dr.create_checkout(
        customer_id=customer_id, currency="USD", items=[recurring(annual)], charge_type="customer_initiated"
    )

    error = _refused(dr.create_order, checkout.id)

    assert (error.status, error.code) == (409, "source_not_found")
    assert not DROrder.objects.exists() and not DRSubscription.objects.exists()


def test_an_acquisition_checkout_ordered_through_the_api_creates_draft_subscriptions(
    dr, active, annual, customer_id
):
    checkout = dr.create_checkout(
        customer_id=customer_id,
        currency="USD",
        items=[recurring(annual, subscription_id="sub-api")],
        charge_type="customer_initiated",
    )

    order = dr.create_order(checkout.id)

    new = dr.get_subscription("sub-api")
    assert new.state == "draft" and order.items[0].billing_agreement_id == new.billing_agreement_id
    assert new.billing_agreement_id != active.billing_agreement_id  # an added subscription: new agreement


# --- Failed payments -----------------------------------------------------------------------------------


def test_a_declined_renewal_is_409_and_leaves_the_invoice_pending(dr, active, customer_id):
    call_command("sandbox_dr", "fail-payment", subscription=active.id, stdout=io.StringIO())
    before = _last_seq()

    error = _refused(renew, dr, active, customer_id)

    assert (error.status, error.code, error.retryable) == (409, "order_submit_failed", False)
    failed = dr.get_subscription(active.id)
    assert (
        failed.state == "activePendingInvoice"
        and failed.current_period_end_date == active.current_period_end_date
    )
    assert _types(before) == ["subscription.payment_failed"]
    assert not DROrder.objects.filter(renewal=True).exists()
    # The flag was for the next payment only: the same checkout is ordered on a retry.
    checkout = dr.find_checkouts("renewal-1")[0]
    dr.create_order(checkout.id)
    recovered = dr.get_subscription(active.id)
    assert recovered.state == "active" and recovered.current_period_end_date > active.current_period_end_date


def test_a_failed_capture_sends_capture_failed(dr, active, customer_id):
    call_command("sandbox_dr", "fail-payment", subscription=active.id, at="capture", stdout=io.StringIO())
    before = _last_seq()

    _, order = renew(dr, active, customer_id)

    assert order.state == "accepted"
    assert _types(before) == ["order.accepted", "order.charge.capture.failed", "subscription.payment_failed"]
    assert dr.get_subscription(active.id).state == "activePendingInvoice"
    assert DROrder.objects.get(pk=order.id).state == "accepted"


def test_the_subscription_fails_when_the_collection_period_runs_out(dr, active, customer_id):
    call_command("sandbox_dr", "fail-payment", subscription=active.id, times=5, stdout=io.StringIO())
    _refused(renew, dr, active, customer_id)

    advance_clock(timedelta(days=13))
    assert dr.get_subscription(active.id).state == "activePendingInvoice"
    _refused(dr.create_order, dr.find_checkouts("renewal-1")[0].id)  # a retry fails again
    out = io.StringIO()
    call_command("sandbox_clock", "advance", days=1, hours=1, stdout=out)

    failed = dr.get_subscription(active.id)
    assert failed.state == "failed" and failed.raw["stateTransitions"]["failed"]
    assert "subscription.failed" in out.getvalue()
    assert DREvent.objects.filter(type="subscription.failed").count() == 1
    assert _refused(renew, dr, dr.get_subscription(active.id), customer_id, upstream_id="late").status == 409


def test_fail_payment_and_lapse_commands_refuse_unknown_subscriptions(db):
    with pytest.raises(CommandError, match="No Digital River subscription"):
        call_command("sandbox_dr", "fail-payment", subscription="nope")
    with pytest.raises(CommandError, match="No Digital River subscription"):
        call_command("sandbox_dr", "lapse", subscription="nope")


def test_lapse(dr, active):
    out = io.StringIO()

    call_command("sandbox_dr", "lapse", subscription=active.id, stdout=out)

    assert dr.get_subscription(active.id).state == "lapsed" and "lapsed" in out.getvalue()
    assert DREvent.objects.filter(type="subscription.lapsed").count() == 1
    with pytest.raises(CommandError, match="invalid_request"):
        call_command("sandbox_dr", "lapse", subscription=active.id)


# --- The clock -----------------------------------------------------------------------------------------


def test_the_reminder_goes_once_per_period_on_the_next_reminder_date(dr, active, customer_id):
    until_reminder = active.next_reminder_date - sandbox_now()
    advance_clock(until_reminder - timedelta(hours=1))
    assert not DREvent.objects.filter(type="subscription.reminder").exists()

    advance_clock(timedelta(hours=2))
    advance_clock(timedelta(days=3))
    dr.get_subscription(active.id)

    reminders = DREvent.objects.filter(type="subscription.reminder")
    assert reminders.count() == 1
    data = reminders.get().data["object"]
    assert data["subscription"]["id"] == active.id and data["invoice"]["state"] == "draft"
    # The next period has its own reminder.
    renew(dr, dr.get_subscription(active.id), customer_id)
    advance_clock(timedelta(days=366))
    assert DREvent.objects.filter(type="subscription.reminder").count() == 2


def test_a_reminder_is_applied_on_any_read_too(dr, active, monkeypatch):
    from vendors.sandbox import clock

    monkeypatch.setattr(clock, "time_moved", lambda now: {})  # the clock moves, nobody is told
    advance_clock(timedelta(days=340))
    assert not DREvent.objects.filter(type="subscription.reminder").exists()

    dr.get_plan(active.plan_id)

    assert DREvent.objects.filter(type="subscription.reminder").count() == 1


def test_a_deactivated_plan_ends_its_subscriptions_at_the_next_invoice_date(dr, active):
    dr.update_plan(active.plan_id, state="deactivated")
    advance_clock(active.next_invoice_date - sandbox_now() + timedelta(minutes=1))

    ended = dr.get_subscription(active.id)

    assert ended.state == "ended" and ended.raw["stateTransitions"]["ended"]


def test_run_command_applies_what_is_due(dr, active, monkeypatch):
    from vendors.sandbox import clock

    monkeypatch.setattr(clock, "time_moved", lambda now: {})
    advance_clock(timedelta(days=340))
    out = io.StringIO()

    call_command("sandbox_dr", "run", stdout=out)

    assert "1 reminders" in out.getvalue()


# --- Events and their delivery ---------------------------------------------------------------------------


def test_events_are_signed_and_verifiable(
    dr, annual, customer_id, webhook, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        acquire(dr, annual, customer_id)

    assert webhook.types() == [
        "checkout_session.order.created",
        "order.accepted",
        "subscription.created",
        "order.charge.capture.complete",
        "order.complete",
    ]
    for delivery in webhook.received:
        assert delivery.signature.startswith("t=") and ", v0=" in delivery.signature
        verify(delivery.signature, delivery.body, settings.DIGITALRIVER_WEBHOOK_SECRETS, now=int(time.time()))
        event = delivery.event
        assert event["liveMode"] is False and event["digitalRiverVersion"] and event["createdTime"]
        assert set(event["data"]) == {"object", "previousAttributes"}
    assert not DREvent.objects.filter(delivered_at__isnull=True).exists()
    assert set(DREvent.objects.values_list("attempts", flat=True)) == {1}


def test_events_of_a_refused_request_are_never_sent(dr, active, webhook, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _refused(dr._request, "POST", f"/subscriptions/{active.id}", json={"state": "active", "metadata": {}})

    assert webhook.received == []


@pytest.mark.parametrize("failure", ["status", "transport"])
def test_an_undelivered_event_keeps_its_attempts_and_is_retried(
    dr, active, webhook, django_capture_on_commit_callbacks, failure
):
    if failure == "status":
        webhook.status = 404
    else:
        webhook.raises = requests.ConnectionError("refused")

    with django_capture_on_commit_callbacks(execute=True):
        dr.cancel_subscription(active.id)

    event = DREvent.objects.get(type="subscription.updated", data__object__state="cancelled")
    assert (event.delivered_at, event.attempts) == (None, 1)
    if failure == "status":
        assert event.last_status == 404 and "404" in event.last_error
    else:
        assert event.last_status is None and "ConnectionError" in event.last_error
    webhook.status, webhook.raises = 200, None
    out = io.StringIO()

    call_command("sandbox_dr", "deliver", stdout=out)

    event.refresh_from_db()
    assert event.delivered_at and event.attempts == 2 and event.last_status == 200 and not event.last_error
    assert "Delivered" in out.getvalue() and webhook.types()[-1] == "subscription.updated"


def test_without_a_signing_secret_nothing_is_sent(dr, active, webhook, settings):
    settings.DIGITALRIVER_WEBHOOK_SECRETS = []
    event = DREvent.objects.filter(type="subscription.updated").get()

    out = io.StringIO()
    call_command("sandbox_dr", "deliver", event=event.event_id, stdout=out)

    assert "no webhook signing secret" in out.getvalue() and webhook.received == []


def test_the_default_webhook_is_the_back_office_endpoint(settings):
    from vendors.sandbox.digitalriver.events import webhook_url

    settings.SANDBOX_DR_WEBHOOK_URL = ""
    settings.SITE_URL = "http://backoffice.test"

    assert webhook_url() == "http://backoffice.test/webhooks/digitalriver/"


def test_events_api_reads_one_and_filters_the_list(dr, active):
    events = dr.list_events(types=["subscription.updated"])
    one = dr.get_event(events[0].id)

    assert [e.type for e in events] == ["subscription.updated"]
    assert one.data_object["id"] == active.id and one.previous_attributes == {"state": "draft"}
    wildcard = dr._request("GET", "/events", params={"type": "order.*", "limit": 100})["data"]
    assert {e["type"] for e in wildcard} == {
        "order.accepted",
        "order.charge.capture.complete",
        "order.complete",
    }
    assert _refused(dr.get_event, "nope").status == 404


# --- Faults -----------------------------------------------------------------------------------------------


def test_faults_apply_to_digital_river(dr, annual, customer_id, vendor_sandbox):
    vendor_sandbox.add_fault("digitalriver", "rate_limit", path_regex="^/drop-in", retry_after=7, count=1)

    limited = _refused(
        dr.create_checkout_session, customer_id=customer_id, currency="USD", items=[recurring(annual)]
    )

    assert (limited.status, limited.code, limited.retryable, limited.retry_after) == (
        429,
        "too_many_requests",
        True,
        7,
    )
    assert limited.raw["type"] == "too_many_requests"


def test_a_timeout_after_the_work_leaves_the_session_created(dr, annual, customer_id, vendor_sandbox):
    vendor_sandbox.add_fault("digitalriver", "timeout_after", path_regex="^/checkouts$", count=1)

    lost = _refused(
        dr.create_checkout,
        customer_id=customer_id,
        currency="USD",
        items=[one_off()],
        charge_type="customer_initiated",
        upstream_id="ours-9",
    )

    assert lost.outcome_unknown and len(dr.find_checkouts("ours-9")) == 1


# --- Admin ------------------------------------------------------------------------------------------------


DR_TABLES = [
    "drplan",
    "drcustomer",
    "drcheckoutsession",
    "drcheckout",
    "drorder",
    "drsubscription",
    "drbillingagreement",
    "drevent",
]


@pytest.mark.parametrize("model", DR_TABLES)
def test_admin_lists_and_shows_every_digital_river_table(admin_client, dr, active, model):
    from django.apps import apps

    listing = admin_client.get(f"/admin/sandbox/{model}/")
    obj = apps.get_model("sandbox", model).objects.first()
    page = admin_client.get(f"/admin/sandbox/{model}/{obj.pk}/change/")

    assert listing.status_code == 200 and page.status_code == 200
    assert "sk_test_sandbox" not in listing.content.decode() + page.content.decode()


def test_admin_pays_a_session(admin_client, dr, annual, customer_id):
    session = dr.create_checkout_session(customer_id=customer_id, currency="USD", items=[recurring(annual)])

    admin_client.post(
        "/admin/sandbox/drcheckoutsession/", {"action": "pay_sessions", "_selected_action": [session.id]}
    )

    assert DRCheckoutSession.objects.get().state == "paid" and DRSubscription.objects.get().state == "draft"


def test_admin_fails_the_next_payment_and_lapses(admin_client, dr, active, customer_id):
    admin_client.post(
        "/admin/sandbox/drsubscription/", {"action": "fail_next_payment", "_selected_action": [active.id]}
    )
    assert _refused(renew, dr, active, customer_id).code == "order_submit_failed"

    admin_client.post("/admin/sandbox/drsubscription/", {"action": "lapse", "_selected_action": [active.id]})

    assert dr.get_subscription(active.id).state == "lapsed"


def test_admin_delivers_undelivered_events(admin_client, dr, active, webhook):
    assert DREvent.objects.filter(delivered_at__isnull=True).count() == 6  # nothing committed in the test

    admin_client.post("/admin/sandbox/drevent/", {"action": "deliver_undelivered", "_selected_action": [1]})

    assert not DREvent.objects.filter(delivered_at__isnull=True).exists()
    assert len(webhook.received) == 6


def test_plan_of_a_subscription_cannot_be_deleted(dr, active):
    error = _refused(dr._request, "DELETE", f"/plans/{active.plan_id}")

    assert error.status == 409 and DRPlan.objects.exists()


def test_a_plan_deactivated_before_the_order_refuses_the_order(dr, active, annual, customer_id):
    checkout = dr.create_checkout(
        customer_id=customer_id,
        currency="USD",
        items=[recurring(annual, subscription_id="sub-late")],
        charge_type="customer_initiated",
    )
    dr.update_plan(annual.id, state="discontinued")

    error = _refused(dr.create_order, checkout.id)

    assert (error.status, error.code) == (409, "plan_not_active")
    assert not DRSubscription.objects.filter(pk="sub-late").exists()


def test_a_webhook_that_blows_up_leaves_the_event_undelivered(
    dr, active, webhook, django_capture_on_commit_callbacks
):
    webhook.raises = RuntimeError("receiver bug")

    with django_capture_on_commit_callbacks(execute=True):
        dr.cancel_subscription(active.id)

    event = DREvent.objects.get(type="subscription.updated", data__object__state="cancelled")
    assert event.delivered_at is None and "RuntimeError: receiver bug" in event.last_error


def test_a_manual_renewal_paid_on_the_pay_page_can_be_declined_by_the_bank(dr, active, customer_id, client):
    session = dr.create_checkout_session(
        customer_id=customer_id,
        currency="USD",
        items=[renewal(active, auto=False)],
        charge_type="customer_initiated",
    )
    call_command("sandbox_dr", "fail-payment", subscription=active.id, stdout=io.StringIO())

    declined = client.post(f"{DR}/pay/{session.id}/", {"action": "pay"})

    assert declined.status_code == 402 and "declined" in declined.content.decode()
    assert dr.get_subscription(active.id).state == "activePendingInvoice"
    assert DRCheckoutSession.objects.get(pk=session.id).state == "open"
    paid = client.post(f"{DR}/pay/{session.id}/", {"action": "pay"})
    assert paid.status_code == 302
    renewed = dr.get_subscription(active.id)
    assert renewed.state == "active" and renewed.current_period_end_date > active.current_period_end_date
