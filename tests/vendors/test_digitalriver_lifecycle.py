"""Digital River sandbox: paying a session, activation, cancellation, the clock, events, faults, admin."""

import io
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from dateutil.relativedelta import relativedelta
from django.core.management import CommandError, call_command

from tests.sandbox_helpers import dr_fail_charges, dr_ledger
from tests.vendors import dr as fixtures
from tests.vendors.dr import (
    CUSTOMER_ID,
    DR,
    acquire,
    checkout,
    event_types,
    last_seq,
    one_off,
    order_with_source,
    paid_order,
    pay,
    recurring,
    renewal,
    saved_source,
    session,
)
from vendors.digitalriver.signature import verify
from vendors.http import parse_time
from vendors.sandbox.clock import advance_clock, sandbox_now
from vendors.sandbox.digitalriver.models import (
    DRBillingAgreement,
    DRCheckoutSession,
    DREvent,
    DROrder,
    DRPlan,
    DRSource,
    DRSubscription,
)

api = fixtures.api  # the raw API fixture
pytestmark = pytest.mark.django_db
DATES = ("contractBindingUntil", "currentPeriodEndDate", "nextInvoiceDate", "nextReminderDate")


@pytest.fixture
def active(api, annual, customer_id) -> dict:
    """A paid and activated annual subscription of Digital River's service."""
    acquire(api, annual, customer_id)
    return api.post("/subscriptions/sub-0001", {"state": "active"})


# --- Paying a checkout session ---------------------------------------------------------------------


def test_paying_makes_an_order_draft_subscriptions_and_a_billing_agreement_each(api, annual, customer_id):
    made = session(
        api,
        customer_id,
        [recurring(annual), recurring(annual, sku="sku-seat", price=20.0), one_off()],
        upstreamId="ours-7",
        metadata={"checkout": "7"},
    )

    output = pay(made["id"])

    order = DROrder.objects.get()
    assert f"order {order.pk}" in output
    assert (order.state, order.upstream_id, order.metadata, order.total_amount) == (
        "accepted",
        "ours-7",
        {"checkout": "7"},
        Decimal(190),
    )
    subscriptions = list(DRSubscription.objects.order_by("created_at"))
    # No subscriptionId given: one subscription per recurring item, each with its billing agreement.
    assert len(subscriptions) == 2 and {s.state for s in subscriptions} == {"draft"}
    assert DRBillingAgreement.objects.count() == 2
    for subscription in subscriptions:
        body = api.get(f"/subscriptions/{subscription.pk}")
        assert not set(DATES) & set(body) and "sourceId" not in body
    items = api.get("/orders", {"upstreamIds": "ours-7"})["data"][0]["items"]
    infos = [item.get("subscriptionInfo", {}) for item in items]
    assert [bool(info.get("subscriptionId")) for info in infos] == [True, True, False]
    assert {infos[0]["billingAgreementId"], infos[1]["billingAgreementId"]} == {
        s.billing_agreement_id for s in subscriptions
    }
    assert event_types() == [
        "checkout_session.order.created",
        "order.accepted",
        "subscription.created",
        "subscription.created",
    ]


def test_our_subscription_id_is_kept(api, annual, customer_id):
    _, subscription = acquire(api, annual, customer_id, subscription_id="ours-sub-1")

    assert subscription["id"] == "ours-sub-1" and subscription["state"] == "draft"
    assert subscription["planId"] == annual["id"] and subscription["customerId"] == customer_id


def test_items_sharing_a_subscription_id_make_one_subscription(api, annual, customer_id):
    acquire(
        api,
        annual,
        customer_id,
        subscription_id="s-1",
        extra_items=[recurring(annual, subscription_id="s-1", sku="seat", price=10.0)],
    )

    subscription = DRSubscription.objects.get()
    assert [item["skuId"] for item in subscription.items] == ["sku-pro", "seat"]
    assert DRBillingAgreement.objects.get().pk == subscription.billing_agreement_id


def test_a_session_is_paid_once(api, annual, customer_id):
    made = session(api, customer_id, [recurring(annual)])
    pay(made["id"])

    with pytest.raises(CommandError, match="already paid"):
        pay(made["id"])
    assert DROrder.objects.count() == 1


def test_a_declined_card_leaves_the_session_open(api, annual, customer_id):
    made = session(api, customer_id, [recurring(annual)])

    assert "declined" in pay(made["id"], decline=True)

    stored = DRCheckoutSession.objects.get()
    assert (stored.state, stored.declines) == ("open", 1)
    assert not DROrder.objects.exists() and not DREvent.objects.exists() and not DRSource.objects.exists()
    pay(made["id"])
    assert DRCheckoutSession.objects.get().state == "paid"


def test_a_saved_source_set_to_fail_is_declined_by_the_bank_and_the_session_stays_open(
    api, annual, customer_id
):
    source = saved_source(customer_id)
    dr_fail_charges(source)
    made = session(api, customer_id, [recurring(annual)])

    with pytest.raises(CommandError, match="Failed to charge source"):
        pay(made["id"], source=source)

    stored = DRCheckoutSession.objects.get()
    assert (stored.state, stored.declines) == ("open", 1) and not DROrder.objects.exists()
    pay(made["id"], source=source)
    assert DROrder.objects.get().source_id == source


def test_a_plan_deactivated_before_payment_refuses_the_payment(api, annual, customer_id):
    made = session(api, customer_id, [recurring(annual)])
    api.post(f"/plans/{annual['id']}", {"state": "deactivated"})

    with pytest.raises(CommandError, match="plan_not_active"):
        pay(made["id"])
    assert DRCheckoutSession.objects.get().state == "open" and not DROrder.objects.exists()


def test_the_pay_page_shows_items_terms_the_billing_agreement_and_a_card_form(
    api, annual, customer_id, client
):
    made = session(api, customer_id, [recurring(annual), one_off()])

    page = client.get(f"{DR}/pay/{made['id']}/")

    text = page.content.decode()
    assert page.status_code == 200
    assert annual["terms"] in text and "recurring billing agreement" in text and "every 1 year" in text
    assert "170" in text and "Decline card" in text
    assert 'name="last_four" value="1111"' in text and f'value="{sandbox_now().year + 3}"' in text


def test_the_pay_page_pays_with_the_card_typed_in_and_declines(api, annual, customer_id, client):
    made = session(api, customer_id, [recurring(annual)])

    declined = client.post(f"{DR}/pay/{made['id']}/", {"action": "decline"})
    assert declined.status_code == 302 and "declined=1" in declined["Location"]
    assert "was declined" in client.get(declined["Location"]).content.decode()

    paid = client.post(
        f"{DR}/pay/{made['id']}/",
        {
            "action": "pay",
            "agreement": "on",
            "source": "new",
            "brand": "MasterCard",
            "last_four": "0008",
            "expiration_month": "7",
            "expiration_year": str(sandbox_now().year + 2),
        },
    )
    assert paid.status_code == 302
    page = client.get(paid["Location"]).content.decode()
    order = DROrder.objects.get()
    assert "Paid" in page and order.pk in page and DRSubscription.objects.get().pk in page
    assert order.source.credit_card["lastFourDigits"] == "0008" and order.source.customer_id == customer_id
    again = client.post(f"{DR}/pay/{made['id']}/", {"action": "pay"})
    assert again.status_code == 409 and DROrder.objects.count() == 1


def test_the_pay_page_offers_the_customers_saved_sources(api, annual, customer_id, client):
    source = saved_source(customer_id, lastFourDigits="4242")
    made = session(api, customer_id, [recurring(annual)])

    assert "ending in 4242" in client.get(f"{DR}/pay/{made['id']}/").content.decode()
    client.post(f"{DR}/pay/{made['id']}/", {"action": "pay", "source": source})

    assert DROrder.objects.get().source_id == source and DRSource.objects.count() == 1


@pytest.mark.parametrize(
    "card,status",
    [({"last_four": "12"}, 400), ({"expiration_month": "13"}, 400), ({"expiration_year": "2001"}, 409)],
)
def test_the_pay_page_refuses_a_card_that_does_not_read_or_expired(
    api, annual, customer_id, client, card, status
):
    made = session(api, customer_id, [recurring(annual)])

    answer = client.post(f"{DR}/pay/{made['id']}/", {"action": "pay", "source": "new", **card})

    assert answer.status_code == status
    assert not DRSource.objects.exists() and DRCheckoutSession.objects.get().state == "open"


def test_the_pay_page_follows_the_success_redirect(api, annual, customer_id, client):
    made = session(
        api,
        customer_id,
        [recurring(annual)],
        redirects={"successUrl": "https://shop.example/thanks", "cancelUrl": "https://shop.example/cart"},
    )

    paid = client.post(f"{DR}/pay/{made['id']}/", {"action": "pay"})

    assert paid["Location"] == "https://shop.example/thanks"


def test_an_unknown_session_has_no_pay_page(client, db):
    assert client.get(f"{DR}/pay/nope/").status_code == 404


# --- Activation and cancellation -------------------------------------------------------------------


def test_dates_and_source_are_filled_only_after_activation(api, annual, customer_id):
    order, draft = acquire(api, annual, customer_id)
    assert not set(DATES) & set(draft)
    activated_at = sandbox_now().replace(microsecond=0)

    subscription = api.post(f"/subscriptions/{draft['id']}", {"state": "active"})

    end = parse_time(subscription["currentPeriodEndDate"])
    assert subscription["state"] == "active" and subscription["stateTransitions"]["activated"]
    assert subscription["sourceId"] == order["payment"]["sources"][0]["id"]
    assert abs(end - (activated_at + relativedelta(years=1))) < timedelta(seconds=2)
    binding = parse_time(subscription["contractBindingUntil"])
    assert abs(binding - (activated_at + timedelta(days=365))) < timedelta(seconds=2)
    assert parse_time(subscription["nextInvoiceDate"]) == end - timedelta(days=5)
    assert parse_time(subscription["nextReminderDate"]) == end - timedelta(days=30)
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
def test_activate_with_other_fields_is_409_restricted_update(api, annual, customer_id, body, parameter):
    _, draft = acquire(api, annual, customer_id)
    before = last_seq()

    answer = api.refused("POST", f"/subscriptions/{draft['id']}", body)

    assert (answer.status, answer.code, answer.parameter) == (409, "restricted_update", parameter)
    assert answer.message == "Additional data cannot be updated when updating state to active."
    assert api.get(f"/subscriptions/{draft['id']}")["state"] == "draft" and last_seq() == before


def test_activating_twice_changes_nothing(api, active):
    again = api.post(f"/subscriptions/{active['id']}", {"state": "active"})

    assert again["currentPeriodEndDate"] == active["currentPeriodEndDate"]
    assert DREvent.objects.filter(type="subscription.updated").count() == 1


def test_a_free_trial_activates_as_active_free(api, annual, customer_id):
    pay(
        session(api, customer_id, [recurring(annual, price=0.0, freeTrial=True, subscription_id="t-1")])["id"]
    )

    assert api.post("/subscriptions/t-1", {"state": "active"})["state"] == "activeFree"


@pytest.mark.parametrize("state", ["active", "activeFree", "activePendingInvoice"])
def test_cancel_from_a_live_state(api, active, state):
    DRSubscription.objects.filter(pk=active["id"]).update(state=state)

    cancelled = api.post(f"/subscriptions/{active['id']}", {"state": "cancelled"})

    assert cancelled["state"] == "cancelled" and cancelled["stateTransitions"]["cancelled"]


@pytest.mark.parametrize("state", ["draft", "failed", "lapsed", "cancelled"])
def test_cancel_is_refused_outside_the_live_states(api, active, state):
    DRSubscription.objects.filter(pk=active["id"]).update(state=state)

    answer = api.refused("POST", f"/subscriptions/{active['id']}", {"state": "cancelled"})

    assert answer.status == 409 and DRSubscription.objects.get().state == state


def test_cancel_with_other_fields_is_409_restricted_update(api, active):
    answer = api.refused("POST", f"/subscriptions/{active['id']}", {"state": "cancelled", "metadata": {}})

    assert (answer.code, answer.parameter) == ("restricted_update", "metadata")


def test_metadata_alone_can_change(api, active):
    body = api.post(f"/subscriptions/{active['id']}", {"metadata": {"ours": "1"}})

    assert body["metadata"] == {"ours": "1"} and body["state"] == "active"


def test_list_subscriptions_by_customer_plan_and_state(api, active, monthly):
    def ids(**params):
        return [s["id"] for s in api.get("/subscriptions", params)["data"]]

    assert ids(customerId=CUSTOMER_ID) == [active["id"]]
    assert ids(planId=active["planId"], state="active") == [active["id"]]
    assert ids(planId=monthly["id"]) == [] and ids(state="draft") == []


def test_a_draft_subscription_can_be_deleted(api, annual, customer_id):
    _, draft = acquire(api, annual, customer_id)

    api.delete(f"/subscriptions/{draft['id']}")

    assert not DRSubscription.objects.exists() and event_types()[-1] == "subscription.deleted"


# --- The clock -----------------------------------------------------------------------------------------


def test_the_reminder_goes_once_per_period_on_the_next_reminder_date(api, active):
    until_reminder = parse_time(active["nextReminderDate"]) - sandbox_now()
    advance_clock(until_reminder - timedelta(hours=1))
    assert not DREvent.objects.filter(type="subscription.reminder").exists()

    advance_clock(timedelta(hours=2))
    advance_clock(timedelta(days=3))
    api.get(f"/subscriptions/{active['id']}")

    reminders = DREvent.objects.filter(type="subscription.reminder")
    assert reminders.count() == 1
    data = reminders.get().data["object"]
    assert data["subscription"]["id"] == active["id"] and data["invoice"]["state"] == "draft"


def test_a_reminder_is_applied_on_any_read_too(api, active, monkeypatch):
    from vendors.sandbox import clock

    monkeypatch.setattr(clock, "time_moved", lambda now: {})  # the clock moves, nobody is told
    advance_clock(timedelta(days=340))
    assert not DREvent.objects.filter(type="subscription.reminder").exists()

    api.get(f"/plans/{active['planId']}")

    assert DREvent.objects.filter(type="subscription.reminder").count() == 1


def test_a_deactivated_plan_ends_its_subscriptions_at_the_next_invoice_date(api, active):
    api.post(f"/plans/{active['planId']}", {"state": "deactivated"})
    advance_clock(parse_time(active["nextInvoiceDate"]) - sandbox_now() + timedelta(minutes=1))

    ended = api.get(f"/subscriptions/{active['id']}")

    assert ended["state"] == "ended" and ended["stateTransitions"]["ended"]
    assert not dr_ledger(kind="capture").exists()


def test_run_command_applies_what_is_due(api, active, monkeypatch):
    from vendors.sandbox import clock

    monkeypatch.setattr(clock, "time_moved", lambda now: {})
    advance_clock(timedelta(days=340))
    out = io.StringIO()

    call_command("sandbox_dr", "run", stdout=out)

    assert "1 reminders" in out.getvalue()


def test_lapse_by_hand(api, active):
    out = io.StringIO()

    call_command("sandbox_dr", "lapse", subscription=active["id"], stdout=out)

    assert api.get(f"/subscriptions/{active['id']}")["state"] == "lapsed" and "lapsed" in out.getvalue()
    assert DREvent.objects.filter(type="subscription.lapsed").count() == 1
    with pytest.raises(CommandError, match="invalid_request"):
        call_command("sandbox_dr", "lapse", subscription=active["id"])


def test_commands_refuse_unknown_subscriptions_and_sources(db):
    with pytest.raises(CommandError, match="No Digital River subscription"):
        call_command("sandbox_dr", "fail-payment", subscription="nope")
    with pytest.raises(CommandError, match="No Digital River source"):
        call_command("sandbox_dr", "fail-payment", source="nope")
    with pytest.raises(CommandError, match="No Digital River subscription"):
        call_command("sandbox_dr", "lapse", subscription="nope")


# --- Events and their delivery ---------------------------------------------------------------------------


def test_events_are_signed_and_verifiable(
    api, annual, customer_id, webhook, settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        acquire(api, annual, customer_id)

    assert webhook.types() == ["checkout_session.order.created", "order.accepted", "subscription.created"]
    for delivery in webhook.received:
        assert delivery.signature.startswith("t=") and ", v0=" in delivery.signature
        verify(delivery.signature, delivery.body, settings.DIGITALRIVER_WEBHOOK_SECRETS, now=int(time.time()))
        event = delivery.event
        assert event["liveMode"] is False and event["digitalRiverVersion"] and event["createdTime"]
        assert set(event["data"]) == {"object", "previousAttributes"}
    assert not DREvent.objects.filter(delivered_at__isnull=True).exists()
    assert set(DREvent.objects.values_list("attempts", flat=True)) == {1}


def test_events_of_a_refused_request_are_never_sent(api, active, webhook, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api.refused("POST", f"/subscriptions/{active['id']}", {"state": "active", "metadata": {}})

    assert webhook.received == []


@pytest.mark.parametrize("failure", ["status", "transport"])
def test_an_undelivered_event_keeps_its_attempts_and_is_retried(
    api, active, webhook, django_capture_on_commit_callbacks, failure
):
    if failure == "status":
        webhook.status = 404
    else:
        webhook.raises = requests.ConnectionError("refused")

    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/subscriptions/{active['id']}", {"state": "cancelled"})

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


def test_without_a_signing_secret_nothing_is_sent(api, active, webhook, settings):
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


def test_events_api_reads_one_and_filters_the_list(api, active):
    events = api.get("/events", {"types": "subscription.updated"})["data"]
    one = api.get(f"/events/{events[0]['id']}")

    assert [e["type"] for e in events] == ["subscription.updated"]
    assert one["data"]["object"]["id"] == active["id"] and one["data"]["previousAttributes"] == {
        "state": "draft"
    }
    wildcard = api.get("/events", {"type": "order.*", "limit": 100})["data"]
    assert {e["type"] for e in wildcard} == {"order.accepted"}
    assert api.refused("GET", "/events/nope").status == 404


def test_a_webhook_that_blows_up_leaves_the_event_undelivered(
    api, active, webhook, django_capture_on_commit_callbacks
):
    webhook.raises = RuntimeError("receiver bug")

    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/subscriptions/{active['id']}", {"state": "cancelled"})

    event = DREvent.objects.get(type="subscription.updated", data__object__state="cancelled")
    assert event.delivered_at is None and "RuntimeError: receiver bug" in event.last_error


# --- Faults -----------------------------------------------------------------------------------------------


def test_faults_apply_to_digital_river(api, annual, customer_id, vendor_sandbox):
    vendor_sandbox.add_fault("digitalriver", "rate_limit", path_regex="^/drop-in", retry_after=7, count=1)

    answer = api.call(
        "POST",
        "/drop-in/checkout-sessions",
        {"customerId": customer_id, "currency": "USD", "items": [one_off()]},
    )

    assert (answer.status, answer.code, answer.body["type"]) == (
        429,
        "too_many_requests",
        "too_many_requests",
    )


def test_a_timeout_after_the_work_keeps_the_work(api, customer_id, vendor_sandbox):
    vendor_sandbox.add_fault("digitalriver", "timeout_after", path_regex="^/checkouts$", count=1)
    body = {"customerId": customer_id, "currency": "USD", "items": [one_off()], "upstreamId": "ours-9"}

    with pytest.raises(requests.ReadTimeout):
        api.call("POST", "/checkouts", body)

    assert len(api.get("/checkouts", {"upstreamIds": "ours-9"})["data"]) == 1


# --- Renewal orders of the subscription service's subscriptions -------------------------------------------


def test_a_merchant_initiated_order_for_a_service_subscription_is_charged_not_refused(
    api, active, customer_id
):
    agreement = active["billingAgreementId"]
    source = active["sourceId"]
    made = checkout(
        api,
        customer_id,
        [renewal(active["id"], agreement)],
        charge_type="merchant_initiated",
        sourceId=source,
    )

    order = api.post("/orders", {"checkoutId": made["id"]}, status=201)

    assert order["items"][0]["subscriptionInfo"]["billingAgreementId"] == agreement
    assert dr_ledger(kind="authorization", subscription_id=active["id"], order_id=order["id"]).count() == 1
    # The service's own dates do not move for an order: only its invoices extend it.
    assert api.get(f"/subscriptions/{active['id']}")["currentPeriodEndDate"] == active["currentPeriodEndDate"]


def test_a_merchant_initiated_checkout_without_recurring_items_is_refused(api, customer_id):
    answer = api.refused(
        "POST",
        "/checkouts",
        {
            "customerId": customer_id,
            "currency": "USD",
            "items": [one_off()],
            "chargeType": "merchant_initiated",
        },
    )

    assert (answer.status, answer.code) == (400, "invalid_request")


def test_an_acquisition_checkout_ordered_through_the_api_creates_draft_subscriptions(
    api, annual, customer_id
):
    order = order_with_source(api, customer_id, [recurring(annual, subscription_id="sub-api")])

    new = api.get("/subscriptions/sub-api")
    assert (
        new["state"] == "draft"
        and order["items"][0]["subscriptionInfo"]["billingAgreementId"] == new["billingAgreementId"]
    )


def test_a_plan_deactivated_before_the_order_refuses_the_order(api, annual, customer_id):
    made = checkout(
        api, customer_id, [recurring(annual, subscription_id="sub-late")], sourceId=saved_source(customer_id)
    )
    api.post(f"/plans/{annual['id']}", {"state": "discontinued"})

    answer = api.refused("POST", "/orders", {"checkoutId": made["id"]})

    assert (answer.status, answer.code) == (409, "plan_not_active")
    assert not DRSubscription.objects.filter(pk="sub-late").exists()


def test_plan_of_a_subscription_cannot_be_deleted(api, active):
    assert api.refused("DELETE", f"/plans/{active['planId']}").status == 409 and DRPlan.objects.exists()


# --- Admin ------------------------------------------------------------------------------------------------


DR_TABLES = [
    "drplan",
    "drcustomer",
    "drsource",
    "drcheckoutsession",
    "drcheckout",
    "drorder",
    "drfulfillment",
    "drsubscription",
    "drbillingagreement",
    "drledgerentry",
    "drevent",
]


@pytest.mark.parametrize("model", DR_TABLES)
def test_admin_lists_and_shows_every_digital_river_table(admin_client, api, active, customer_id, model):
    from django.apps import apps
    from django.contrib.admin.utils import quote

    order = DROrder.objects.get()
    order_json = api.get(f"/orders/{order.pk}")
    api.post(
        "/fulfillments",
        {"orderId": order.pk, "items": [{"itemId": i["id"], "quantity": 1} for i in order_json["items"]]},
    )
    listing = admin_client.get(f"/admin/sandbox/{model}/")
    obj = apps.get_model("sandbox", model).objects.first()
    page = admin_client.get(f"/admin/sandbox/{model}/{quote(obj.pk)}/change/")  # "_" is escaped in admin URLs

    assert listing.status_code == 200 and page.status_code == 200
    assert "sk_test_sandbox" not in listing.content.decode() + page.content.decode()


def test_admin_pays_a_session(admin_client, api, annual, customer_id):
    made = session(api, customer_id, [recurring(annual)])

    admin_client.post(
        "/admin/sandbox/drcheckoutsession/", {"action": "pay_sessions", "_selected_action": [made["id"]]}
    )

    assert DRCheckoutSession.objects.get().state == "paid" and DRSubscription.objects.get().state == "draft"


def test_admin_fails_a_source_and_lapses_a_subscription(admin_client, api, active, customer_id):
    admin_client.post(
        "/admin/sandbox/drsource/",
        {"action": "fail_next_authorization", "_selected_action": [active["sourceId"]]},
    )
    assert DRSource.objects.get(pk=active["sourceId"]).failing_charges == 1

    admin_client.post(
        "/admin/sandbox/drsubscription/", {"action": "lapse", "_selected_action": [active["id"]]}
    )

    assert api.get(f"/subscriptions/{active['id']}")["state"] == "lapsed"


def test_admin_delivers_undelivered_events(admin_client, api, active, webhook):
    assert DREvent.objects.filter(delivered_at__isnull=True).count() == 4  # nothing committed in the test

    admin_client.post("/admin/sandbox/drevent/", {"action": "deliver_undelivered", "_selected_action": [1]})

    assert not DREvent.objects.filter(delivered_at__isnull=True).exists()
    assert len(webhook.received) == 4


def test_the_paid_order_is_found_by_upstream_id(api, annual, customer_id):
    order = paid_order(api, customer_id, [recurring(annual)], upstreamId="up-1")

    assert api.get("/orders", {"upstreamIds": "up-1"})["data"][0]["id"] == order["id"]
