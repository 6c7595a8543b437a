"""Digital River sandbox: the subscription service charges itself on nextInvoiceDate; updates; trials."""

from datetime import timedelta
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction

from tests.sandbox_helpers import dr_captures_by_subscription, dr_expire_card, dr_fail_charges, dr_ledger
from tests.vendors import dr as fixtures
from tests.vendors.dr import (
    MONTHLY,
    event_types,
    events_of,
    last_seq,
    new_source,
    order_with_source,
    paid_order,
    plan_body,
    recurring,
    sandbox_state,
    saved_source,
)
from vendors.http import parse_time
from vendors.sandbox.clock import advance_clock, sandbox_now
from vendors.sandbox.digitalriver import lifecycle
from vendors.sandbox.digitalriver.models import DRInvoice, DRPlan, DRSource, DRSubscription

api = fixtures.api  # the raw API fixture
trial = fixtures.trial
pytestmark = pytest.mark.django_db


def _to(when, *, hours=1):
    """Move the sandbox clock to `when` (an API time) plus a margin."""
    moment = parse_time(when) if isinstance(when, str) else when
    advance_clock(max(moment - sandbox_now() + timedelta(hours=hours), timedelta(0)))


@pytest.fixture
def active(api, annual, customer_id) -> dict:
    """An activated annual subscription of the service (120 a year), paid with a saved card."""
    paid_order(api, customer_id, [recurring(annual, subscription_id="sub-1")])
    return api.post("/subscriptions/sub-1", {"state": "active"})


def _subscription(api) -> dict:
    return api.get("/subscriptions/sub-1")


# --- The invoice date --------------------------------------------------------------------------------


def test_the_service_charges_and_captures_on_the_invoice_date(api, active):
    before = last_seq()
    _to(active["nextInvoiceDate"], hours=-1)
    assert "subscription.extended" not in event_types(before) and not dr_ledger(kind="capture").exists()

    _to(active["nextInvoiceDate"])

    renewed = _subscription(api)
    end = parse_time(active["currentPeriodEndDate"]) + relativedelta(years=1)
    assert renewed["state"] == "active" and parse_time(renewed["currentPeriodEndDate"]) == end
    assert parse_time(renewed["nextInvoiceDate"]) == end - timedelta(days=5)
    assert parse_time(renewed["nextReminderDate"]) == end - timedelta(days=30)
    assert renewed["contractBindingUntil"] == active["contractBindingUntil"]
    extended = events_of("subscription.extended")
    assert len(extended) == 1 and extended[0]["subscription"]["id"] == "sub-1"
    invoice = extended[0]["invoice"]
    assert (invoice["state"], invoice["totalAmount"]) == ("paid", 120) and invoice["id"]
    assert invoice["payment"]["charges"][0]["captures"][0]["state"] == "complete"
    capture = dr_ledger(kind="capture", invoice_id=invoice["id"]).get()
    assert (capture.subscription_id, capture.amount, capture.period_end) == ("sub-1", Decimal("120.00"), end)
    assert capture.source_id == active["sourceId"] and not capture.order_id
    assert dr_captures_by_subscription() == {"sub-1": [(end, Decimal("120.00"))]}
    assert api.get(f"/invoices/{invoice['id']}")["state"] == "paid"
    assert [i["id"] for i in api.get("/invoices", {"customerId": active["customerId"]})["data"]] == [
        invoice["id"]
    ]


def test_one_invoice_per_subscription_and_period(api, active):
    _to(active["nextInvoiceDate"])

    lifecycle.run_due()
    lifecycle.run_due(sandbox_now() + timedelta(minutes=5))

    assert DRInvoice.objects.count() == 1 and dr_ledger(kind="capture").count() == 1
    invoice = DRInvoice.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        DRInvoice.objects.create(
            subscription=invoice.subscription,
            customer=invoice.customer,
            plan=invoice.plan,
            currency="USD",
            period_end=invoice.period_end,
        )


def test_a_long_jump_of_the_clock_charges_period_after_period(api, active):
    advance_clock(timedelta(days=365 * 3))

    ends = [end for end, _ in dr_captures_by_subscription()["sub-1"]]
    assert len(ends) == 3 and len(set(ends)) == 3
    assert event_types().count("subscription.reminder") == 3
    assert parse_time(_subscription(api)["currentPeriodEndDate"]) == parse_time(
        active["currentPeriodEndDate"]
    ) + relativedelta(years=3)


def test_the_reminder_carries_the_draft_invoice_of_the_items(api, annual, customer_id):
    items = [
        recurring(annual, subscription_id="sub-1"),
        {**recurring(annual, subscription_id="sub-1", sku="seat", price=10.0), "quantity": 3},
    ]
    paid_order(api, customer_id, items)
    subscription = api.post("/subscriptions/sub-1", {"state": "active"})

    _to(subscription["nextReminderDate"])

    reminder = events_of("subscription.reminder")[0]
    assert reminder["invoice"]["state"] == "draft" and reminder["invoice"]["totalAmount"] == 150
    assert {i["subscriptionInfo"]["subscriptionId"] for i in reminder["invoice"]["items"]} == {"sub-1"}


# --- Declines, invalid sources, lapse ---------------------------------------------------------------------


def test_a_declined_charge_is_payment_failed_and_retried_once_a_day(api, active):
    dr_fail_charges(active["sourceId"], times=2)

    _to(active["nextInvoiceDate"])
    pending = _subscription(api)
    advance_clock(timedelta(days=1))
    advance_clock(timedelta(days=1))

    assert pending["state"] == "activePendingInvoice"
    assert pending["currentPeriodEndDate"] == active["currentPeriodEndDate"]
    failed = events_of("subscription.payment_failed")
    assert len(failed) == 2 and failed[0]["invoice"]["state"] == "open"
    assert failed[0]["invoice"]["id"] == failed[1]["invoice"]["id"]
    assert _subscription(api)["state"] == "active" and len(events_of("subscription.extended")) == 1
    assert dr_ledger(kind="invoice_charge_failed").count() == 2 and dr_ledger(kind="capture").count() == 1
    assert DRInvoice.objects.get().attempt_count == 3


def test_the_subscription_fails_when_the_collection_period_runs_out(api, active):
    dr_fail_charges(active["sourceId"], times=100)
    _to(active["nextInvoiceDate"])

    advance_clock(timedelta(days=13))
    assert _subscription(api)["state"] == "activePendingInvoice"
    advance_clock(timedelta(days=1, hours=1))

    failed = _subscription(api)
    assert failed["state"] == "failed" and failed["stateTransitions"]["failed"]
    assert len(events_of("subscription.failed")) == 1
    assert DRInvoice.objects.get().state == "uncollectible"
    assert dr_ledger(kind="invoice_charge_failed").count() == 14 and not dr_ledger(kind="capture").exists()


@pytest.mark.parametrize("problem", ["removed from the customer", "card expired", "missing"])
def test_an_unusable_source_is_source_invalid_then_lapsed(api, active, customer_id, problem):
    if problem == "removed from the customer":
        api.delete(f"/customers/{customer_id}/sources/{active['sourceId']}")
    elif problem == "card expired":
        dr_expire_card(active["sourceId"])
    else:
        DRSubscription.objects.filter(pk="sub-1").update(source_id="")

    _to(active["nextInvoiceDate"])
    invalid = _subscription(api)
    advance_clock(timedelta(days=14))

    assert invalid["state"] == "active" and len(events_of("subscription.source_invalid")) == 1
    assert not DRInvoice.objects.filter(state="open").exists() and not dr_ledger(kind="capture").exists()
    assert _subscription(api)["state"] == "lapsed" and len(events_of("subscription.lapsed")) == 1


def test_a_card_that_expires_before_the_invoice_date_is_source_invalid(api, active):
    invoice_date = parse_time(active["nextInvoiceDate"])
    last_month = invoice_date - relativedelta(months=1)
    DRSource.objects.filter(pk=active["sourceId"]).update(
        credit_card={"brand": "Visa", "lastFourDigits": "1111", "expirationMonth": last_month.month,
                     "expirationYear": last_month.year}
    )  # fmt: skip

    _to(active["nextInvoiceDate"])

    assert len(events_of("subscription.source_invalid")) == 1 and not dr_ledger(kind="capture").exists()


def test_a_source_not_saved_to_the_customer_is_source_invalid(api, annual, customer_id):
    """An acquisition paid with a card never saved: the service cannot charge it later."""
    made = fixtures.checkout(
        api, customer_id, [recurring(annual, subscription_id="sub-1")], sourceId=new_source()
    )
    api.post("/orders", {"checkoutId": made["id"]}, status=201)
    subscription = api.post("/subscriptions/sub-1", {"state": "active"})

    _to(subscription["nextInvoiceDate"])

    assert len(events_of("subscription.source_invalid")) == 1 and not dr_ledger(kind="capture").exists()


def test_a_source_replaced_in_time_is_charged_at_once(api, active, customer_id):
    dr_expire_card(active["sourceId"])
    _to(active["nextInvoiceDate"])
    assert len(events_of("subscription.source_invalid")) == 1
    advance_clock(timedelta(days=3))

    api.post("/subscriptions/sub-1", {"sourceId": saved_source(customer_id, lastFourDigits="4242")})
    renewed = _subscription(api)

    assert renewed["state"] == "active" and len(events_of("subscription.extended")) == 1
    capture = dr_ledger(kind="capture").get()
    assert capture.source_id == renewed["sourceId"] != active["sourceId"]
    advance_clock(timedelta(days=30))
    assert _subscription(api)["state"] == "active" and not events_of("subscription.lapsed")


def test_a_new_source_voids_the_open_invoice_and_the_next_attempt_uses_it(api, active, customer_id):
    dr_fail_charges(active["sourceId"], times=100)
    _to(active["nextInvoiceDate"])
    first = DRInvoice.objects.get()
    new = saved_source(customer_id)

    api.post("/subscriptions/sub-1", {"sourceId": new})
    first.refresh_from_db()
    advance_clock(timedelta(days=1))

    assert first.state == "void"
    paid = DRInvoice.objects.exclude(pk=first.pk).get()
    assert paid.state == "paid" and paid.period_end == first.period_end and paid.source_id == new
    assert _subscription(api)["state"] == "active"


def test_cancelling_an_active_pending_invoice_subscription_voids_the_open_invoice(api, active):
    dr_fail_charges(active["sourceId"], times=100)
    _to(active["nextInvoiceDate"])

    api.post("/subscriptions/sub-1", {"state": "cancelled"})
    advance_clock(timedelta(days=30))

    assert DRInvoice.objects.get().state == "void" and dr_ledger(kind="invoice_charge_failed").count() == 1


# --- Updates -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ["unknown", "single use", "cancelled", "another customer's", "not saved"])
def test_a_new_source_must_be_reusable_and_saved_to_the_subscriptions_customer(
    api, active, customer_id, case
):
    api.post("/customers", {"id": "other-customer"}, status=201)
    removed = saved_source(customer_id)
    api.delete(f"/customers/{customer_id}/sources/{removed}")
    source_id = {
        "unknown": "nope",
        "single use": new_source(reusable=False),
        "cancelled": removed,
        "another customer's": saved_source("other-customer"),
        "not saved": new_source(),
    }[case]
    before = (_subscription(api), sandbox_state())

    answer = api.refused("POST", "/subscriptions/sub-1", {"sourceId": source_id})

    expected = {
        "unknown": (400, "invalid_parameter"),
        "single use": (409, "nonreusable_source"),
        "cancelled": (409, "source_not_chargeable"),
        "another customer's": (409, "source_in_use"),
        "not saved": (400, "invalid_parameter"),
    }[case]
    assert (answer.status, answer.code) == expected
    assert (_subscription(api), sandbox_state()) == before


def test_the_source_of_a_draft_cannot_be_changed(api, annual, customer_id):
    paid_order(api, customer_id, [recurring(annual, subscription_id="sub-1")])

    answer = api.refused("POST", "/subscriptions/sub-1", {"sourceId": saved_source(customer_id)})

    assert (answer.status, answer.code) == (409, "invalid_state") and "sourceId" not in _subscription(api)


def test_a_source_change_is_subscription_updated(api, active, customer_id):
    new = saved_source(customer_id)
    before = last_seq()

    changed = api.post("/subscriptions/sub-1", {"sourceId": new})

    assert changed["sourceId"] == new and event_types(before) == ["subscription.updated"]
    assert events_of("subscription.updated")[-1]["sourceId"] == new


def test_a_new_plan_controls_the_periods_after_the_current_one(api, active, customer_id):
    monthly = api.post("/plans", plan_body(MONTHLY), status=201)

    changed = api.post("/subscriptions/sub-1", {"planId": monthly["id"]})
    _to(active["nextInvoiceDate"])

    assert changed["planId"] == "plan-monthly" and changed["nextInvoiceDate"] == active["nextInvoiceDate"]
    end = parse_time(active["currentPeriodEndDate"]) + relativedelta(months=1)
    renewed = _subscription(api)
    assert parse_time(renewed["currentPeriodEndDate"]) == end
    assert parse_time(renewed["nextInvoiceDate"]) == end - timedelta(days=2)  # the monthly plan's offset
    assert DRInvoice.objects.get().plan_id == "plan-annual"  # the current period's plan billed it
    _to(renewed["nextInvoiceDate"])
    assert parse_time(_subscription(api)["currentPeriodEndDate"]) == end + relativedelta(months=1)


@pytest.mark.parametrize(
    "state,status,code", [("draft", 409, "plan_not_active"), (None, 400, "invalid_parameter")]
)
def test_a_plan_that_is_not_active_or_unknown_is_refused(api, active, state, status, code):
    if state:
        api.post("/plans", {**plan_body(MONTHLY), "state": state}, status=201)
    before = _subscription(api)

    answer = api.refused("POST", "/subscriptions/sub-1", {"planId": "plan-monthly"})

    assert (answer.status, answer.code) == (status, code) and _subscription(api) == before


def test_new_items_are_charged_from_the_next_invoice(api, active):
    changed = api.post(
        "/subscriptions/sub-1",
        {
            "items": [
                {"skuId": "sku-pro", "price": 150.0},
                {"skuId": "seat", "aggregatePrice": 30.0, "quantity": 3},
            ]
        },
    )

    _to(active["nextInvoiceDate"])

    assert changed["items"] == [
        {"quantity": 1, "skuId": "sku-pro", "price": 150.0},
        {"quantity": 3, "skuId": "seat", "aggregatePrice": 30.0},
    ]
    assert events_of("subscription.extended")[0]["invoice"]["totalAmount"] == 180
    assert sum(e.amount for e in dr_ledger(kind="capture")) == Decimal("180.00")


def test_items_changed_while_an_invoice_is_open_wait_for_the_next_cycle(api, active):
    dr_fail_charges(active["sourceId"], times=1)
    _to(active["nextInvoiceDate"])

    api.post("/subscriptions/sub-1", {"items": [{"skuId": "sku-pro", "price": 200.0}]})
    advance_clock(timedelta(days=1))

    assert events_of("subscription.extended")[0]["invoice"]["totalAmount"] == 120


@pytest.mark.parametrize(
    "items,code,parameter",
    [
        ([], "invalid_parameter", "items"),
        ([{"skuId": "sku-pro"}], "missing_parameter", "price"),
        ([{"price": 10.0}], "missing_parameter", "skuId"),
        ([{"skuId": "sku-pro", "price": 10.0, "quantity": 0}], "invalid_parameter", "quantity"),
        ([{"skuId": "sku-pro", "price": "10"}], "invalid_parameter", "price"),
        ([{"skuId": "sku-pro", "price": 10.0, "colour": "blue"}], "unknown_parameter", "colour"),
    ],
)
def test_items_that_do_not_read_are_refused(api, active, items, code, parameter):
    before = _subscription(api)

    answer = api.refused("POST", "/subscriptions/sub-1", {"items": items})

    assert (answer.status, answer.code, answer.parameter) == (400, code, parameter) and _subscription(
        api
    ) == before


@pytest.mark.parametrize("state", ["cancelled", "failed", "lapsed", "ended"])
def test_updates_are_refused_outside_draft_and_the_live_states(api, active, state):
    DRSubscription.objects.filter(pk="sub-1").update(state=state)

    answer = api.refused("POST", "/subscriptions/sub-1", {"metadata": {"a": "b"}})

    assert (answer.status, answer.code) == (409, "invalid_state")


def test_a_subscription_that_is_not_a_draft_cannot_be_deleted(api, active):
    answer = api.refused("DELETE", "/subscriptions/sub-1")

    assert (answer.status, answer.code) == (409, "invalid_state") and DRSubscription.objects.exists()


def test_a_negative_reminder_offset_stops_the_reminders_from_the_next_period(api, active):
    api.post(f"/plans/{active['planId']}", {"reminderOffsetDays": -1})

    _to(active["nextInvoiceDate"])

    assert len(events_of("subscription.reminder")) == 1  # the current period's, already scheduled
    assert "nextReminderDate" not in _subscription(api)
    advance_clock(timedelta(days=367))
    assert len(events_of("subscription.reminder")) == 1 and len(events_of("subscription.extended")) == 2


# --- Free trials and free subscriptions -------------------------------------------------------------------


@pytest.fixture
def on_trial(api, trial, customer_id) -> dict:
    """A free trial (14 days, price 0) of the service, activated."""
    paid_order(api, customer_id, [recurring(trial, price=0.0, freeTrial=True, subscription_id="sub-1")])
    return api.post("/subscriptions/sub-1", {"state": "active"})


def test_a_free_trial_never_priced_stays_active_free_and_charges_nothing(api, on_trial):
    _to(on_trial["nextInvoiceDate"])

    free = _subscription(api)
    assert on_trial["state"] == free["state"] == "activeFree"
    assert parse_time(free["currentPeriodEndDate"]) == parse_time(
        on_trial["currentPeriodEndDate"]
    ) + timedelta(days=14)
    assert not dr_ledger().exists() and not DRInvoice.objects.exists()
    assert not events_of("subscription.extended")


def test_a_trial_updated_to_a_paid_plan_and_price_converts_at_the_end_of_the_trial(api, on_trial, annual):
    updated = api.post(
        "/subscriptions/sub-1", {"planId": annual["id"], "items": [{"skuId": "sku-pro", "price": 120.0}]}
    )
    assert updated["state"] == "activeFree" and updated["nextInvoiceDate"] == on_trial["nextInvoiceDate"]

    _to(on_trial["currentPeriodEndDate"])

    converted = _subscription(api)
    assert converted["state"] == "active" and converted["stateTransitions"]["activated"]
    assert converted["stateTransitions"]["activatedFree"] == on_trial["stateTransitions"]["activatedFree"]
    end = parse_time(on_trial["currentPeriodEndDate"]) + relativedelta(years=1)
    assert parse_time(converted["currentPeriodEndDate"]) == end
    assert events_of("subscription.extended")[0]["invoice"]["totalAmount"] == 120
    assert dr_captures_by_subscription() == {"sub-1": [(end, Decimal("120.00"))]}


def test_a_trial_conversion_declined_for_the_trials_collection_period_fails(api, on_trial, annual):
    api.post(
        "/subscriptions/sub-1", {"planId": annual["id"], "items": [{"skuId": "sku-pro", "price": 120.0}]}
    )
    dr_fail_charges(on_trial["sourceId"], times=100)

    _to(on_trial["currentPeriodEndDate"])
    advance_clock(timedelta(days=3, hours=1))  # the trial plan's collectionPeriodDays

    assert _subscription(api)["state"] == "failed" and DRInvoice.objects.get().state == "uncollectible"


def test_items_priced_zero_revert_an_active_subscription_to_active_free(api, active):
    api.post("/subscriptions/sub-1", {"items": [{"skuId": "sku-pro", "price": 0.0}]})
    before = last_seq()

    _to(active["nextInvoiceDate"])

    assert _subscription(api)["state"] == "activeFree" and not dr_ledger(kind="capture").exists()
    assert "subscription.updated" in event_types(before)


def test_an_order_of_the_back_office_for_a_service_subscription_shows_as_a_double_charge(
    api, active, customer_id
):
    renewal = fixtures.renewal("sub-1", active["billingAgreementId"])
    order = order_with_source(api, customer_id, [renewal], charge_type="merchant_initiated")
    fixtures.fulfil(api, order)

    _to(active["nextInvoiceDate"])

    keys = [key for key, _ in dr_captures_by_subscription()["sub-1"]]
    assert keys == [order["id"], parse_time(_subscription(api)["currentPeriodEndDate"])]


def test_a_discontinued_plan_keeps_billing(api, active):
    api.post(f"/plans/{active['planId']}", {"state": "discontinued"})

    _to(active["nextInvoiceDate"])

    assert (
        len(events_of("subscription.extended")) == 1
        and DRPlan.objects.get(pk="plan-annual").state == "discontinued"
    )


def test_admin_lists_and_shows_invoices(admin_client, api, active):
    _to(active["nextInvoiceDate"])
    invoice = DRInvoice.objects.get()

    assert admin_client.get("/admin/sandbox/drinvoice/").status_code == 200
    assert admin_client.get(f"/admin/sandbox/drinvoice/{invoice.pk}/change/").status_code == 200
