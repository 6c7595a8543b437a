"""What the Digital River client sends and what the sandbox answers have Digital River's published shapes.

The schema's documented quirks are relaxed in tests.contract.schemas (UpdateSubscriptionRequest
without a required planId, `lapsed` among the subscription states, Event's stray required names).
"""

import io
import re

import pytest
from django.core.management import call_command

from tests.contract import schemas
from vendors.digitalriver import DigitalRiverClient
from vendors.errors import VendorError
from vendors.sandbox.digitalriver.render import event_json
from vendors.sandbox.models import DREvent

pytestmark = pytest.mark.django_db

PLAN = {
    "plan_id": "plan-annual",
    "name": "Pro annual",
    "terms": "Renews every year until you cancel.",
    "interval": "year",
    "interval_count": 1,
    "contract_binding_days": 365,
    "reminder_offset_days": 30,
    "billing_offset_days": 5,
    "collection_period_days": 14,
}
ID = r"[^/]+"
REQUESTS = {
    ("POST", "/plans"): "PlanRequest",
    ("POST", "/customers"): "CustomerRequest",
    ("POST", "/drop-in/checkout-sessions"): "DropInCheckoutRequest",
    ("POST", "/checkouts"): "CheckoutRequest",
    ("POST", "/orders"): "OrderRequest",
    ("POST", "/subscriptions/{id}"): "UpdateSubscriptionRequest",
    ("POST", "/plans/{id}"): "UpdatePlanRequest",
}
RESPONSES = {
    ("POST", "/plans"): ("Plan", "201"),
    ("GET", "/plans/{id}"): ("Plan", "200"),
    ("POST", "/plans/{id}"): ("Plan", "200"),
    ("POST", "/customers"): ("Customer", "201"),
    ("POST", "/drop-in/checkout-sessions"): ("CreateDropInCheckoutTokenResponse", "201"),
    ("POST", "/checkouts"): ("Checkout", "201"),
    ("POST", "/orders"): ("Order", "201"),
    ("GET", "/orders/{id}"): ("Order", "200"),
    ("GET", "/subscriptions/{id}"): ("Subscription", "200"),
    ("POST", "/subscriptions/{id}"): ("Subscription", "200"),
    ("GET", "/events/{id}"): ("Event", "200"),
}
LISTS = {"/plans", "/checkouts", "/orders", "/subscriptions", "/events"}


def _operation(method: str, path: str) -> tuple[str, str]:
    """(method, templated path), e.g. ("GET", "/orders/{id}")."""
    path = path.rstrip("/") or "/"
    for collection in ("/plans", "/customers", "/checkouts", "/orders", "/subscriptions", "/events"):
        if re.fullmatch(f"{collection}/{ID}", path):
            return method, f"{collection}/{{id}}"
    return method, path


def _fails(call, *args, **kwargs) -> VendorError:
    with pytest.raises(VendorError) as caught:
        call(*args, **kwargs)
    return caught.value


def _recurring(**info) -> dict:
    subscription_info = {"planId": PLAN["plan_id"], "terms": PLAN["terms"], "autoRenewal": True, **info}
    return {"skuId": "sku-pro", "price": 120.0, "quantity": 1, "subscriptionInfo": subscription_info}


@pytest.fixture
def dr(vendor_sandbox, db):
    return DigitalRiverClient()


@pytest.fixture
def traffic(dr, vendor_sandbox, exchanges):
    """Every Digital River endpoint the back office uses, successes and refusals, through the client."""
    plan = dr.create_plan(**PLAN)
    dr.get_plan(plan.id)
    dr.update_plan(
        plan.id, name="Pro yearly", reminder_offset_days=30, billing_offset_days=5, collection_period_days=14
    )
    customer = dr.ensure_customer("cust-1", email="buyer@example.com", name="Buyer")
    dr.ensure_customer("cust-1", email="buyer@example.com", name="Buyer")  # 409 already_exists, absorbed
    session = dr.create_checkout_session(
        customer_id=customer,
        currency="USD",
        items=[_recurring(subscriptionId="sub-1"), {"skuId": "setup", "price": 50.0, "quantity": 1}],
        upstream_id="acq-1",
        email="buyer@example.com",
        metadata={"ours": "1"},
    )
    call_command("sandbox_dr", "pay", session=session.id, stdout=io.StringIO())
    subscription = dr.activate_subscription("sub-1")
    checkout = dr.create_checkout(
        customer_id=customer,
        currency="USD",
        items=[
            {
                "skuId": "sku-pro",
                "price": 120.0,
                "quantity": 1,
                "subscriptionInfo": {
                    "subscriptionId": subscription.id,
                    "billingAgreementId": subscription.billing_agreement_id,
                    "autoRenewal": True,
                },
            }
        ],
        charge_type="merchant_initiated",
        upstream_id="renewal-1",
    )
    dr.find_checkouts("renewal-1")
    order = dr.create_order(checkout.id)
    dr.get_order(order.id)
    dr.list_orders(checkout_id=checkout.id)
    dr.list_subscriptions(customer_id=customer)
    events = dr.list_events()
    dr.get_event(events[0].id)
    dr.cancel_subscription(subscription.id)

    no_terms = _recurring()
    del no_terms["subscriptionInfo"]["terms"]
    failures = [
        _fails(dr.create_checkout_session, customer_id=customer, currency="USD", items=[no_terms]),
        _fails(
            dr.create_checkout_session,
            customer_id=customer,
            currency="USD",
            items=[_recurring(autoRenewal=False)],
        ),
        _fails(
            dr.create_checkout_session,
            customer_id=customer,
            currency="USD",
            items=[_recurring(subscriptionId="a"), _recurring(subscriptionId="b")],
        ),
        _fails(
            dr.create_checkout_session,
            customer_id=customer,
            currency="USD",
            items=[_recurring(freeTrial=True)],
        ),
        _fails(dr._request, "POST", "/subscriptions/sub-1", json={"state": "active", "metadata": {"a": "b"}}),
        _fails(dr.create_plan, **PLAN),
        _fails(dr.create_order, checkout.id),
        _fails(dr.get_order, "404404404"),
        _fails(DigitalRiverClient("sk_test_wrong").get_plan, plan.id),
    ]
    vendor_sandbox.add_fault("digitalriver", "rate_limit", path_regex="^/orders", count=1)
    vendor_sandbox.add_fault("digitalriver", "http_500", path_regex="^/subscriptions", count=1)
    failures += [_fails(dr.get_order, order.id), _fails(dr.get_subscription, subscription.id)]
    return failures


def test_traffic_covers_the_operations_and_the_refusals(traffic, exchanges):
    operations = {_operation(e.method, e.path) for e in exchanges}

    assert set(REQUESTS) | set(RESPONSES) <= operations
    assert {("GET", path) for path in LISTS - {"/plans"}} <= operations
    assert sorted(error.code for error in traffic) == sorted(
        [
            "missing_parameter",
            "invalid_request",
            "plan_limit_reached",
            "invalid_parameter",
            "restricted_update",
            "already_exists",
            "already_exists",
            "not_found",
            "unauthorized",
            "too_many_requests",
            "internal_server_error",
        ]
    )


def test_client_request_bodies_validate(traffic, exchanges):
    checked = set()
    for e in exchanges:
        schema = REQUESTS.get(_operation(e.method, e.path))
        if schema is None or e.sent is None:
            continue
        # Refused requests too: they break Digital River's rules, not its shapes.
        schemas.validate("digitalriver", schema, e.sent)
        checked.add(schema)
    assert checked == set(REQUESTS.values())


def test_the_activate_and_cancel_bodies_are_exactly_the_state(traffic, exchanges):
    sent = [e.sent for e in exchanges if _operation(e.method, e.path) == ("POST", "/subscriptions/{id}")]

    assert {"state": "active"} in sent and {"state": "cancelled"} in sent


def test_sandbox_responses_validate(traffic, exchanges):
    checked = set()
    for e in exchanges:
        if not 200 <= e.status < 300:
            continue
        operation = _operation(e.method, e.path)
        if operation in RESPONSES:
            schema, status = RESPONSES[operation]
            assert str(e.status) == status, operation
            schemas.validate("digitalriver", schema, e.answer)
            checked.add(schema)
        elif e.method == "GET" and operation[1] in LISTS:
            schemas.validate_at("digitalriver", schemas.response_pointer(operation[1], "get"), e.answer)
            for item in e.answer["data"]:
                name = {"/checkouts": "Checkout", "/orders": "Order", "/subscriptions": "Subscription"}.get(
                    operation[1], "Event"
                )
                schemas.validate("digitalriver", name, item)
            checked.add(f"list {operation[1]}")
    assert {schema for schema, _ in RESPONSES.values()} <= checked
    assert {"list /checkouts", "list /orders", "list /subscriptions", "list /events"} <= checked


def test_refusals_validate_against_errors(traffic, exchanges):
    refusals = [e for e in exchanges if e.status >= 400]

    for e in refusals:
        schemas.validate("digitalriver", "Errors", e.answer)
        assert e.answer["errors"] and e.answer["errors"][0]["code"]
    # Every failure the client raised, and the absorbed already_exists of ensure_customer.
    assert len(refusals) == len(traffic) + 1


def test_every_event_validates(traffic):
    events = [event_json(event) for event in DREvent.objects.all()]

    assert {e["type"] for e in events} >= {
        "checkout_session.order.created",
        "order.accepted",
        "subscription.created",
        "subscription.updated",
        "order.charge.capture.complete",
        "subscription.extended",
        "order.complete",
    }
    for event in events:
        schemas.validate("digitalriver", "Event", event)
    # A reminder carries the subscription with the draft invoice it opens.
    objects = [e["data"]["object"] for e in events if e["type"].startswith("subscription.")]
    for subscription in (obj.get("subscription", obj) for obj in objects):
        schemas.validate("digitalriver", "Subscription", subscription)
    for order in (
        e["data"]["object"] for e in events if e["type"].startswith(("order.", "checkout_session."))
    ):
        schemas.validate("digitalriver", "Order", order)


def test_a_refused_shape_is_caught_by_the_schema(traffic, exchanges):
    """The validator does reject: a wrong charge type and a string price do not fit."""
    sent = next(e.sent for e in exchanges if e.path == "/checkouts" and e.method == "POST")

    assert schemas.errors("digitalriver", "CheckoutRequest", {**sent, "chargeType": "recurring"})
    bad_item = {**sent["items"][0], "price": "120"}
    assert schemas.errors("digitalriver", "CheckoutRequest", {**sent, "items": [bad_item]})


def test_lifecycle_events_validate(dr):
    """Reminder, failed payment, failure after the collection period, lapse: every event fits."""
    from datetime import timedelta

    from vendors.sandbox.clock import advance_clock

    dr.create_plan(**PLAN)
    customer = dr.ensure_customer("cust-2", email="", name="")
    for subscription_id in ("sub-fails", "sub-lapses"):
        session = dr.create_checkout_session(
            customer_id=customer, currency="USD", items=[_recurring(subscriptionId=subscription_id)]
        )
        call_command("sandbox_dr", "pay", session=session.id, stdout=io.StringIO())
        dr.activate_subscription(subscription_id)
    call_command("sandbox_dr", "lapse", subscription="sub-lapses", stdout=io.StringIO())
    call_command("sandbox_dr", "fail-payment", subscription="sub-fails", stdout=io.StringIO())
    failing = dr.get_subscription("sub-fails")
    advance_clock(timedelta(days=340))
    checkout = dr.create_checkout(
        customer_id=customer,
        currency="USD",
        items=[
            {
                "skuId": "sku-pro",
                "price": 120.0,
                "subscriptionInfo": {
                    "subscriptionId": failing.id,
                    "billingAgreementId": failing.billing_agreement_id,
                    "autoRenewal": True,
                },
            }
        ],
        charge_type="merchant_initiated",
    )
    _fails(dr.create_order, checkout.id)
    advance_clock(timedelta(days=15))

    events = [event_json(event) for event in DREvent.objects.order_by("seq")]
    kinds = [e["type"] for e in events if e["type"].startswith("subscription.")]
    assert {
        "subscription.lapsed",
        "subscription.reminder",
        "subscription.payment_failed",
        "subscription.failed",
    } <= set(kinds)
    for event in events:
        schemas.validate("digitalriver", "Event", event)
        obj = event["data"]["object"]
        if event["type"].startswith("subscription."):
            schemas.validate("digitalriver", "Subscription", obj.get("subscription", obj))
    assert dr.get_subscription("sub-fails").state == "failed"
