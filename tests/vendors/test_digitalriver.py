"""Digital River client and sandbox: plans, customers and the acquisition rules (003), through the client."""

import json
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.vendors.dr import (
    ANNUAL,
    CUSTOMER_ID,
    DR,
    one_off,
    recurring,
)
from tests.vendors.helpers import canned
from vendors import digitalriver
from vendors.digitalriver import DigitalRiverClient, order_from, subscription_from
from vendors.errors import VendorError
from vendors.sandbox.models import (
    DRCheckout,
    DRCheckoutSession,
    DRCustomer,
    DREvent,
    DRPlan,
    DRSubscription,
    RequestLogEntry,
)

pytestmark = pytest.mark.django_db


def _refused(call, *args, **kwargs) -> VendorError:
    with pytest.raises(VendorError) as caught:
        call(*args, **kwargs)
    return caught.value


def _state() -> tuple:
    """Everything an acquisition could leave behind at the sandbox."""
    return (
        DRCheckoutSession.objects.count(),
        DRCheckout.objects.count(),
        DRSubscription.objects.count(),
        DREvent.objects.count(),
    )


# --- Client basics ---------------------------------------------------------------------------------


def test_client_sends_the_bearer_key_and_reads_the_error_envelope(dr):
    transport = canned(
        dr,
        status=409,
        body=json.dumps(
            {
                "type": "conflict",
                "errors": [{"code": "plan_limit_reached", "parameter": "planId", "message": "Only one plan"}],
            }
        ),
    )

    error = _refused(dr.get_order, "1")

    assert transport.sent[0].headers["Authorization"] == "Bearer sk_test_sandbox"
    assert (error.status, error.code, error.retryable, error.outcome_unknown) == (
        409,
        "plan_limit_reached",
        False,
        False,
    )
    assert "planId" in error.message and "Only one plan" in error.message


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_timeouts_rate_limits_and_server_errors_are_retryable(dr, status):
    canned(dr, status=status, body='{"type": "x", "errors": [{"code": "busy", "message": "later"}]}')

    error = _refused(dr.get_subscription, "sub-1")

    assert error.retryable and error.code == "busy"


def test_an_answer_that_is_not_the_object_is_an_unknown_outcome(dr):
    canned(dr, status=201, body='{"unexpected": true}')

    error = _refused(dr.create_order, "checkout-1")

    assert (error.code, error.retryable, error.outcome_unknown) == ("invalid_response", True, True)


def test_the_key_never_shows_in_errors(dr):
    canned(
        dr,
        status=400,
        body='{"type": "bad_request", "errors": [{"code": "x", "message": "sk_test_sandbox"}]}',
    )

    error = _refused(dr.get_order, "1")

    assert "sk_test_sandbox" not in error.message and "sk_test_sandbox" not in json.dumps(error.raw)
    assert "sk_test_sandbox" not in repr(dr)


def test_a_client_without_a_key_is_a_configuration_error(settings):
    settings.DIGITALRIVER_API_KEY = ""

    with pytest.raises(ImproperlyConfigured):
        DigitalRiverClient()


def test_a_wrong_key_is_401_unauthorized(vendor_sandbox, db):
    error = _refused(DigitalRiverClient("sk_test_wrong").get_plan, "plan-annual")

    assert (error.status, error.code) == (401, "unauthorized")


def test_the_request_log_never_holds_the_key(dr, annual, vendor_sandbox):
    logged = list(vendor_sandbox.requests("digitalriver").values("method", "path", "status"))

    assert logged == [{"method": "POST", "path": "/plans", "status": 201}]
    assert "sk_test_sandbox" not in json.dumps(list(RequestLogEntry.objects.values()), default=str)


def test_items_are_sent_without_none_values(dr, annual, customer_id, monkeypatch):
    item = {
        **recurring(annual),
        "subscriptionInfo": {**recurring(annual)["subscriptionInfo"], "subscriptionId": None},
    }
    item["price"] = Decimal("120.00")

    session = dr.create_checkout_session(customer_id=customer_id, currency="USD", items=[item])

    sent = DRCheckoutSession.objects.get(pk=session.id).request
    assert "subscriptionId" not in sent["items"][0]["subscriptionInfo"]
    assert sent["items"][0]["price"] == 120


def test_an_unknown_charge_type_is_refused_before_sending(dr, customer_id, vendor_sandbox):
    with pytest.raises(ValueError, match="chargeType"):
        dr.create_checkout(
            customer_id=customer_id, currency="USD", items=[one_off()], charge_type="recurring"
        )
    assert not vendor_sandbox.requests("digitalriver").filter(path="/checkouts").exists()


def test_lists_are_read_page_after_page_oldest_first(dr, annual, customer_id, monkeypatch):
    from tests.vendors.dr import pay

    pay(_acquire(dr, customer_id, [recurring(annual, subscription_id="sub-1"), one_off()]).id)
    monkeypatch.setattr(digitalriver, "PAGE_SIZE", 2)

    events = dr.list_events()

    assert [e.type for e in events] == [
        "checkout_session.order.created",
        "order.accepted",
        "subscription.created",
        "order.charge.capture.complete",
        "order.complete",
    ]
    assert RequestLogEntry.objects.filter(path="/events").count() == 3
    assert [e.type for e in dr.list_events(types=["order.accepted", "order.complete"])] == [
        "order.accepted",
        "order.complete",
    ]


# --- Plans -----------------------------------------------------------------------------------------


def test_create_plan_with_our_id_and_read_it(dr):
    plan = dr.create_plan(**ANNUAL)

    assert plan.id == "plan-annual" and plan.state == "active"
    assert (plan.interval, plan.interval_count, plan.contract_binding_days) == ("year", 1, 365)
    assert (plan.reminder_offset_days, plan.billing_offset_days, plan.collection_period_days) == (30, 5, 14)
    assert dr.get_plan("plan-annual") == plan


def test_a_taken_plan_id_is_409_already_exists(dr, annual):
    error = _refused(dr.create_plan, **{**ANNUAL, "name": "Another"})

    assert (error.status, error.code) == (409, "already_exists")
    assert DRPlan.objects.get().name == "Pro annual"


def test_an_unknown_plan_is_none(dr):
    assert dr.get_plan("plan-nope") is None


@pytest.mark.parametrize(
    "field",
    [
        "terms",
        "contractBindingDays",
        "interval",
        "intervalCount",
        "billingOffsetDays",
        "collectionPeriodDays",
    ],
)
def test_a_plan_needs_its_terms_and_billing_cycle(dr, field):
    body = {
        "id": "plan-x",
        "terms": "t",
        "contractBindingDays": 365,
        "interval": "year",
        "intervalCount": 1,
        "billingOffsetDays": 0,
        "collectionPeriodDays": 7,
    }
    del body[field]

    error = _refused(dr._request, "POST", "/plans", json=body)

    assert (error.status, error.code, error.raw["errors"][0]["parameter"]) == (
        400,
        "missing_parameter",
        field,
    )
    assert not DRPlan.objects.exists()


def test_update_plan_changes_the_updatable_fields(dr, annual):
    plan = dr.update_plan("plan-annual", name="Pro yearly", reminder_offset_days=45, state="discontinued")

    assert (plan.name, plan.reminder_offset_days, plan.state) == ("Pro yearly", 45, "discontinued")
    assert plan.terms == ANNUAL["terms"] and plan.raw["stateTransitions"]["discontinued"]


@pytest.mark.parametrize(
    "body,code",
    [
        ({"terms": "new terms"}, "invalid_parameter"),
        ({"interval": "month"}, "invalid_parameter"),
        ({"contractBindingDays": 30}, "invalid_parameter"),
        ({"colour": "blue"}, "unknown_parameter"),
        ({"state": "paused"}, "invalid_parameter"),
    ],
)
def test_the_sandbox_refuses_to_change_what_a_plan_fixes(dr, annual, body, code):
    error = _refused(dr._request, "POST", "/plans/plan-annual", json=body)

    assert (error.status, error.code) == (400, code)
    assert dr.get_plan("plan-annual") == annual


def test_the_client_refuses_fixed_fields_before_sending(dr, annual):
    with pytest.raises(TypeError, match="terms"):
        dr.update_plan("plan-annual", terms="other")


def test_a_deactivated_plan_stays_deactivated(dr, annual):
    dr.update_plan("plan-annual", state="deactivated")

    assert _refused(dr.update_plan, "plan-annual", state="active").code == "invalid_parameter"


def test_plan_list_pages_with_starting_after_and_ending_before(dr, client):
    for number in range(5):
        dr.create_plan(**{**ANNUAL, "plan_id": f"plan-{number}"})
    auth = {"HTTP_AUTHORIZATION": "Bearer sk_test_sandbox"}

    first = client.get(f"{DR}/plans?limit=2", **auth).json()
    second = client.get(f"{DR}/plans?limit=2&startingAfter={first['data'][-1]['id']}", **auth).json()
    last = client.get(f"{DR}/plans?limit=2&startingAfter={second['data'][-1]['id']}", **auth).json()
    back = client.get(f"{DR}/plans?limit=2&endingBefore={last['data'][0]['id']}", **auth).json()

    assert [p["id"] for p in first["data"]] == ["plan-4", "plan-3"] and first["hasMore"]
    assert [p["id"] for p in second["data"]] == ["plan-2", "plan-1"] and second["hasMore"]
    assert [p["id"] for p in last["data"]] == ["plan-0"] and not last["hasMore"]
    assert [p["id"] for p in back["data"]] == ["plan-2", "plan-1"]
    assert client.get(f"{DR}/plans?limit=101", **auth).status_code == 400


# --- Customers -------------------------------------------------------------------------------------


def test_ensure_customer_creates_it_once(dr):
    assert dr.ensure_customer(CUSTOMER_ID, email="buyer@example.com", name="Buyer Ltd") == CUSTOMER_ID
    assert dr.ensure_customer(CUSTOMER_ID, email="other@example.com", name="Other") == CUSTOMER_ID

    customer = DRCustomer.objects.get()
    assert (customer.email, customer.metadata) == ("buyer@example.com", {"name": "Buyer Ltd"})


# --- Acquisition rules (003) -------------------------------------------------------------------------


def _acquire(dr, customer_id, items, *, endpoint="session", **kwargs):
    if endpoint == "session":
        return dr.create_checkout_session(customer_id=customer_id, currency="USD", items=items, **kwargs)
    return dr.create_checkout(
        customer_id=customer_id, currency="USD", items=items, charge_type="customer_initiated", **kwargs
    )


ENDPOINTS = pytest.mark.parametrize("endpoint", ["session", "checkout"])


def test_checkout_session_answers_its_id_and_pay_link(dr, annual, customer_id):
    session = _acquire(
        dr, customer_id, [recurring(annual), one_off()], upstream_id="ours-1", email="b@example.com"
    )

    assert session.link == f"http://testserver{DR}/pay/{session.id}/"
    stored = DRCheckoutSession.objects.get(pk=session.id)
    assert (stored.state, stored.upstream_id, stored.customer_id) == ("open", "ours-1", customer_id)
    assert stored.request["chargeType"] == "customer_initiated"
    assert not DRSubscription.objects.exists()  # subscriptions come with payment


@ENDPOINTS
def test_missing_terms_is_400_missing_parameter(dr, annual, customer_id, endpoint):
    item = recurring(annual)
    del item["subscriptionInfo"]["terms"]
    before = _state()

    error = _refused(_acquire, dr, customer_id, [item], endpoint=endpoint)

    assert (error.status, error.code, error.raw["errors"][0]["parameter"]) == (
        400,
        "missing_parameter",
        "terms",
    )
    assert error.raw["type"] == "bad_request" and _state() == before


@ENDPOINTS
def test_auto_renewal_false_is_400_invalid_request(dr, annual, customer_id, endpoint):
    before = _state()

    error = _refused(_acquire, dr, customer_id, [recurring(annual, autoRenewal=False)], endpoint=endpoint)

    assert (error.status, error.code) == (400, "invalid_request")
    assert _state() == before


def test_auto_renewal_left_out_is_accepted(dr, annual, customer_id):
    item = recurring(annual)
    del item["subscriptionInfo"]["autoRenewal"]

    assert _acquire(dr, customer_id, [item]).id


@ENDPOINTS
def test_two_plans_in_one_checkout_is_409_plan_limit_reached(dr, annual, monthly, customer_id, endpoint):
    before = _state()

    error = _refused(
        _acquire, dr, customer_id, [recurring(annual), recurring(monthly, price=10.0)], endpoint=endpoint
    )

    assert (error.status, error.code) == (409, "plan_limit_reached")
    assert error.raw == {
        "type": "conflict",
        "errors": [
            {
                "code": "plan_limit_reached",
                "parameter": "planId",
                "message": "Only one unique subscription plan can be supported in a checkout",
            }
        ],
    }
    assert _state() == before


@ENDPOINTS
def test_two_given_subscription_ids_in_one_checkout_is_409_plan_limit_reached(
    dr, annual, customer_id, endpoint
):
    items = [recurring(annual, subscription_id="sub-a"), recurring(annual, subscription_id="sub-b")]

    error = _refused(_acquire, dr, customer_id, items, endpoint=endpoint)

    assert (error.status, error.code, error.raw["errors"][0]["parameter"]) == (
        409,
        "plan_limit_reached",
        "planId",
    )


def test_several_items_of_one_plan_and_one_subscription_id_are_accepted(dr, annual, customer_id):
    items = [
        recurring(annual, subscription_id="sub-a"),
        recurring(annual, subscription_id="sub-a", sku="seat"),
    ]

    assert _acquire(dr, customer_id, items).id


@ENDPOINTS
@pytest.mark.parametrize("price,free_trial", [(0.0, False), (120.0, True), (0.0, None)])
def test_free_trial_flag_inconsistent_with_price_is_400_invalid_parameter(
    dr, annual, customer_id, endpoint, price, free_trial
):
    info = {} if free_trial is None else {"freeTrial": free_trial}
    before = _state()

    error = _refused(_acquire, dr, customer_id, [recurring(annual, price=price, **info)], endpoint=endpoint)

    assert (error.status, error.code, error.raw["errors"][0]["parameter"]) == (
        400,
        "invalid_parameter",
        "items",
    )
    assert "Free Trial flag is not consistent" in error.message and _state() == before


def test_a_free_trial_at_price_zero_is_accepted(dr, annual, customer_id):
    assert _acquire(dr, customer_id, [recurring(annual, price=0.0, freeTrial=True)]).id


@ENDPOINTS
def test_customer_id_is_required(dr, annual, endpoint):
    path = "/drop-in/checkout-sessions" if endpoint == "session" else "/checkouts"

    error = _refused(dr._request, "POST", path, json={"currency": "USD", "items": [recurring(annual)]})

    assert (error.status, error.code, error.raw["errors"][0]["parameter"]) == (
        400,
        "missing_parameter",
        "customerId",
    )


def test_an_unknown_customer_is_refused(dr, annual):
    error = _refused(_acquire, dr, "nobody", [recurring(annual)])

    assert (error.status, error.code) == (400, "invalid_parameter")


@pytest.mark.parametrize("state", ["draft", "discontinued", "deactivated"])
def test_a_checkout_on_a_plan_that_is_not_active_is_plan_not_active(dr, annual, customer_id, state):
    DRPlan.objects.filter(pk=annual.id).update(state=state)

    error = _refused(_acquire, dr, customer_id, [recurring(annual)])

    assert (error.status, error.code) == (409, "plan_not_active")


def test_an_unknown_plan_or_other_terms_are_refused(dr, annual, customer_id):
    unknown = recurring(annual)
    unknown["subscriptionInfo"]["planId"] = "plan-nope"
    other_terms = recurring(annual)
    other_terms["subscriptionInfo"]["terms"] = "Something else."

    assert _refused(_acquire, dr, customer_id, [unknown]).raw["errors"][0]["parameter"] == "planId"
    assert _refused(_acquire, dr, customer_id, [other_terms]).raw["errors"][0]["parameter"] == "terms"


def test_the_charge_type_must_be_one_of_the_enum(dr, customer_id):
    body = {"customerId": customer_id, "currency": "USD", "chargeType": "recurring", "items": [one_off()]}

    error = _refused(dr._request, "POST", "/checkouts", json=body)

    assert (error.status, error.code, error.raw["errors"][0]["parameter"]) == (
        400,
        "invalid_parameter",
        "chargeType",
    )


def test_unknown_parameters_are_refused(dr, customer_id):
    body = {"customerId": customer_id, "currency": "USD", "items": [one_off()], "colour": "blue"}

    assert _refused(dr._request, "POST", "/checkouts", json=body).code == "unknown_parameter"


def test_subscription_and_one_off_items_mix_in_one_checkout(dr, annual, customer_id):
    checkout = _acquire(
        dr, customer_id, [recurring(annual), one_off()], endpoint="checkout", upstream_id="u-1"
    )

    assert checkout.total_amount == Decimal(170) and checkout.charge_type == "customer_initiated"
    assert [item["skuId"] for item in checkout.raw["items"]] == ["sku-pro", "sku-setup"]
    assert checkout.raw["items"][0]["subscriptionInfo"]["terms"] == annual.terms
    assert "subscriptionInfo" not in checkout.raw["items"][1]


def test_find_checkouts_by_upstream_id(dr, customer_id):
    first = _acquire(dr, customer_id, [one_off()], endpoint="checkout", upstream_id="ours-1")
    _acquire(dr, customer_id, [one_off()], endpoint="checkout", upstream_id="ours-2")

    assert [c.id for c in dr.find_checkouts("ours-1")] == [first.id]
    assert dr.find_checkouts("ours-3") == []


def test_a_given_subscription_id_that_exists_is_409_already_exists(dr, annual, customer_id):
    from tests.vendors.dr import pay

    pay(_acquire(dr, customer_id, [recurring(annual, subscription_id="sub-taken")]).id)

    error = _refused(_acquire, dr, customer_id, [recurring(annual, subscription_id="sub-taken")])

    assert (error.status, error.code) == (409, "already_exists")


# --- Reading webhook objects ---------------------------------------------------------------------------


def test_order_and_subscription_are_read_from_webhook_objects():
    order = order_from(
        {
            "id": "1001",
            "state": "accepted",
            "checkoutId": "c-1",
            "upstreamId": "u-1",
            "totalAmount": 170.1,
            "currency": "USD",
            "items": [
                {
                    "skuId": "sku-pro",
                    "quantity": 1,
                    "amount": 120.1,
                    "subscriptionInfo": {
                        "subscriptionId": "s-1",
                        "billingAgreementId": "ba-1",
                        "planId": "p",
                    },
                }
            ],
        }
    )
    reminder = subscription_from(
        {
            "subscription": {"id": "s-1", "state": "active", "nextReminderDate": "2027-01-01T00:00:00Z"},
            "invoice": {},
        }
    )

    assert order.total_amount == Decimal("170.1") and order.items[0].amount == Decimal("120.1")
    assert (order.items[0].subscription_id, order.items[0].billing_agreement_id) == ("s-1", "ba-1")
    assert reminder.id == "s-1" and reminder.next_reminder_date.year == 2027
    with pytest.raises(VendorError):
        order_from({"state": "accepted"})


def test_list_orders_takes_our_names_or_digital_rivers(dr):
    with pytest.raises(TypeError, match="colour"):
        dr.list_orders(colour="blue")

    assert dr.list_orders(checkoutId="nope") == dr.list_orders(checkout_id="nope") == []
