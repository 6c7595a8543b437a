"""What the sandbox answers, what it emits and what the client sends have Digital River's published shapes.

Two kinds of traffic go through the in-process sandbox transport and are captured:
- `traffic`: every sandbox endpoint, successes and refusals, in Digital River's words (raw HTTP,
  no client), so that each answer and event is checked against the refreshed schema;
- `client_traffic`: the back office's client calls, so that each body it sends is checked.
The schema's documented quirks are relaxed in tests.contract.schemas (UpdateSubscriptionRequest
without a required planId, `lapsed` among the subscription states, Event's stray required names).
"""

import io
import re

import pytest
from django.core.management import call_command

from tests.contract import schemas
from tests.sandbox_helpers import dr_fail_charges, dr_new_source
from tests.vendors.dr import DRApi, checkout, fulfil, one_off, order_with_source, plan_body
from vendors.sandbox.digitalriver.models import DRCheckoutSession, DREvent
from vendors.sandbox.digitalriver.render import event_json

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
    ("POST", "/plans/{id}"): "UpdatePlanRequest",
    ("POST", "/customers"): "CustomerRequest",
    ("POST", "/customers/{id}"): "UpdateCustomerRequest",
    ("POST", "/drop-in/checkout-sessions"): "DropInCheckoutRequest",
    ("POST", "/checkouts"): "CheckoutRequest",
    ("POST", "/orders"): "OrderRequest",
    ("POST", "/fulfillments"): "FulfillmentRequest",
    ("POST", "/refunds"): "RefundRequest",
    ("POST", "/subscriptions/{id}"): "UpdateSubscriptionRequest",
}
RESPONSES = {
    ("POST", "/plans"): ("Plan", "201"),
    ("GET", "/plans/{id}"): ("Plan", "200"),
    ("POST", "/plans/{id}"): ("Plan", "200"),
    ("POST", "/customers"): ("Customer", "201"),
    ("GET", "/customers/{id}"): ("Customer", "200"),
    ("POST", "/customers/{id}"): ("Customer", "200"),
    ("POST", "/customers/{id}/sources/{sourceId}"): ("Source", "200"),
    ("GET", "/sources/{id}"): ("Source", "200"),
    ("POST", "/drop-in/checkout-sessions"): ("CreateDropInCheckoutTokenResponse", "201"),
    ("POST", "/checkouts"): ("Checkout", "201"),
    ("GET", "/checkouts/{id}"): ("Checkout", "200"),
    ("POST", "/checkouts/{id}/sources/{sourceId}"): ("Source", "200"),
    ("POST", "/orders"): ("Order", "201"),
    ("GET", "/orders/{id}"): ("Order", "200"),
    ("POST", "/fulfillments"): ("Fulfillment", "201"),
    ("GET", "/fulfillments/{id}"): ("FulfillmentOrder", "200"),
    ("POST", "/refunds"): ("OrderRefund", "201"),
    ("GET", "/refunds/{id}"): ("OrderRefund", "200"),
    ("GET", "/subscriptions/{id}"): ("Subscription", "200"),
    ("POST", "/subscriptions/{id}"): ("Subscription", "200"),
    ("GET", "/events/{id}"): ("Event", "200"),
}
LISTS = {
    "/plans": "Plan",
    "/checkouts": "Checkout",
    "/orders": "Order",
    "/fulfillments": "Fulfillment",
    "/refunds": "OrderRefund",
    "/subscriptions": "Subscription",
    "/events": "Event",
}
NO_CONTENT = {
    ("DELETE", "/customers/{id}/sources/{sourceId}"),
    ("DELETE", "/checkouts/{id}/sources/{sourceId}"),
}
# What each event's data.object is, by type prefix (a charge for order.charge.*, not an order).
EVENT_OBJECTS = [
    ("order.charge.", "Charge"),
    ("refund.", "OrderRefund"),
    ("fulfillment.", "FulfillmentOrder"),
    ("order.", "Order"),
    ("checkout_session.", "Order"),
    ("subscription.", "Subscription"),
]


def _operation(method: str, path: str) -> tuple[str, str]:
    """(method, templated path), e.g. ("GET", "/orders/{id}")."""
    path = path.rstrip("/") or "/"
    for collection in ("/customers", "/checkouts"):
        if re.fullmatch(f"{collection}/{ID}/sources/{ID}", path):
            return method, f"{collection}/{{id}}/sources/{{sourceId}}"
    for collection in (
        "/plans", "/customers", "/sources", "/checkouts", "/orders", "/fulfillments", "/subscriptions",
        "/events", "/refunds", "/invoices",
    ):  # fmt: skip
        if re.fullmatch(f"{collection}/{ID}", path):
            return method, f"{collection}/{{id}}"
    return method, path


def _recurring(**info) -> dict:
    subscription_info = {"planId": PLAN["plan_id"], "terms": PLAN["terms"], "autoRenewal": True, **info}
    return {"skuId": "sku-pro", "price": 120.0, "quantity": 1, "subscriptionInfo": subscription_info}


def _pay(session_id: str) -> str:
    """Pay on the customer's behalf; the checkout id."""
    call_command("sandbox_dr", "pay", session=session_id, stdout=io.StringIO())
    return DRCheckoutSession.objects.get(pk=session_id).checkout_id


def _validate_event(event: dict) -> None:
    schemas.validate("digitalriver", "Event", event)
    obj = event["data"]["object"]
    for prefix, schema in EVENT_OBJECTS:
        if event["type"].startswith(prefix):
            if schema == "Subscription" and "subscription" in obj:
                schemas.validate("digitalriver", "Subscription", obj["subscription"])
                if "invoice" in obj:
                    schemas.validate("digitalriver", "Invoice", obj["invoice"])
            else:
                schemas.validate("digitalriver", schema, obj)
            return
    raise AssertionError(f"no schema for the object of {event['type']}")


@pytest.fixture
def api(vendor_sandbox, db) -> DRApi:
    return DRApi()


@pytest.fixture
def traffic(api, exchanges, vendor_sandbox):
    """Every sandbox endpoint, in Digital River's words: successes, then refusals (their answers)."""
    api.post("/plans", plan_body(PLAN))
    api.get(f"/plans/{PLAN['plan_id']}")
    api.post(f"/plans/{PLAN['plan_id']}", {"name": "Pro yearly", "reminderOffsetDays": 30})
    api.get("/plans")
    api.post("/customers", {"id": "cust-1", "email": "buyer@example.com", "metadata": {"name": "Buyer"}})
    # Acquisition through the pay page: the card is saved to the customer and authorised.
    made = api.post(
        "/drop-in/checkout-sessions",
        {
            "customerId": "cust-1",
            "currency": "USD",
            "chargeType": "customer_initiated",
            "items": [_recurring(subscriptionId="sub-1"), {"skuId": "setup", "price": 50.0, "quantity": 1}],
            "upstreamId": "acq-1",
            "email": "buyer@example.com",
            "metadata": {"ours": "1"},
        },
    )
    acquisition = api.get("/orders", {"checkoutId": _pay(made["id"])})["data"][0]
    api.get(f"/orders/{acquisition['id']}")
    subscription = api.post("/subscriptions/sub-1", {"state": "active"})
    api.post("/subscriptions/sub-1", {"metadata": {"ours": "1"}})
    api.get("/subscriptions/sub-1")
    # Fulfil part, then cancel the rest.
    setup, pro = sorted(acquisition["items"], key=lambda item: item["skuId"])
    first = api.post(
        "/fulfillments", {"orderId": acquisition["id"], "items": [{"itemId": pro["id"], "quantity": 1}]}
    )
    api.post(
        "/fulfillments",
        {"orderId": acquisition["id"], "items": [{"itemId": setup["id"], "cancelQuantity": 1}]},
    )
    api.get(f"/fulfillments/{first['id']}")
    api.get("/fulfillments", {"orderId": acquisition["id"]})
    # Refunds of what was captured: an amount, then per item.
    refund = api.post(
        "/refunds",
        {"orderId": acquisition["id"], "currency": "USD", "amount": 20.0, "reason": "requested_by_customer"},
    )
    api.post(
        "/refunds",
        {
            "orderId": acquisition["id"],
            "currency": "USD",
            "items": [{"itemId": pro["id"], "quantity": 1, "percent": 50}],
        },
    )
    api.get(f"/refunds/{refund['id']}")
    api.get("/refunds", {"orderId": acquisition["id"]})
    # Sources: saved, read, made default, attached, removed.
    spare = dr_new_source()
    api.post(f"/customers/cust-1/sources/{spare}")
    api.get(f"/sources/{spare}")
    api.post("/customers/cust-1", {"defaultSourceId": spare})
    api.get("/customers/cust-1")
    # A merchant-initiated order on the subscription's agreement, its source attached by path.
    renewal = api.post(
        "/checkouts",
        {
            "customerId": "cust-1",
            "currency": "USD",
            "chargeType": "merchant_initiated",
            "upstreamId": "renewal-1",
            "items": [
                {
                    "skuId": "sku-pro",
                    "price": 120.0,
                    "quantity": 1,
                    "subscriptionInfo": {
                        "subscriptionId": "sub-1",
                        "billingAgreementId": subscription["billingAgreementId"],
                        "autoRenewal": True,
                    },
                }
            ],
        },
    )
    api.post(f"/checkouts/{renewal['id']}/sources/{spare}")
    api.get(f"/checkouts/{renewal['id']}")
    api.get("/checkouts", {"upstreamIds": "renewal-1"})
    order = api.post("/orders", {"checkoutId": renewal["id"]})
    dr_fail_charges(spare, stage="capture")
    fulfil(api, order)
    # An external subscription: acquired with a saved source, renewed on its agreement.
    external = {"subscriptionId": "ext-1", "terms": "Renews every year.", "autoRenewal": True}
    acquired = api.post(
        "/orders",
        {
            "checkoutId": checkout(
                api,
                "cust-1",
                [{"skuId": "zone", "price": 20.0, "subscriptionInfo": external}],
                sourceId=spare,
            )["id"]
        },
    )
    agreement = acquired["items"][0]["subscriptionInfo"]["billingAgreementId"]
    renewed = checkout(
        api,
        "cust-1",
        [
            {
                "skuId": "zone",
                "price": 20.0,
                "subscriptionInfo": {
                    "subscriptionId": "ext-1",
                    "billingAgreementId": agreement,
                    "autoRenewal": True,
                },
            }
        ],
        charge_type="merchant_initiated",
        sourceId=spare,
    )
    fulfil(api, api.post("/orders", {"checkoutId": renewed["id"]}))
    other = dr_new_source()
    api.post(f"/customers/cust-1/sources/{other}")
    loose = checkout(api, "cust-1", [one_off()], sourceId=other)
    api.delete(f"/checkouts/{loose['id']}/sources/{other}")
    api.delete(f"/customers/cust-1/sources/{other}")
    api.get("/orders", {"customerId": "cust-1"})
    api.get("/subscriptions", {"customerId": "cust-1"})
    events = api.get("/events", {"limit": 100})
    api.get(f"/events/{events['data'][0]['id']}")
    api.post("/subscriptions/sub-1", {"state": "cancelled"})

    no_terms = _recurring()
    del no_terms["subscriptionInfo"]["terms"]
    session_body = {"customerId": "cust-1", "currency": "USD", "chargeType": "customer_initiated"}
    refusals = [
        api.refused("POST", "/drop-in/checkout-sessions", {**session_body, "items": [no_terms]}),
        api.refused(
            "POST", "/drop-in/checkout-sessions", {**session_body, "items": [_recurring(autoRenewal=False)]}
        ),
        api.refused(
            "POST",
            "/drop-in/checkout-sessions",
            {**session_body, "items": [_recurring(subscriptionId="a"), _recurring(subscriptionId="b")]},
        ),
        api.refused(
            "POST", "/drop-in/checkout-sessions", {**session_body, "items": [_recurring(freeTrial=True)]}
        ),
        api.refused("POST", "/subscriptions/sub-1", {"state": "active", "metadata": {"a": "b"}}),
        api.refused("POST", "/plans", plan_body(PLAN)),
        api.refused("POST", "/orders", {"checkoutId": renewal["id"]}),
        api.refused("POST", "/orders", {"checkoutId": checkout(api, "cust-1", [one_off()])["id"]}),
        api.refused("POST", f"/customers/cust-1/sources/{dr_new_source(reusable=False)}"),
        api.refused("POST", f"/customers/cust-1/sources/{other}"),
        api.refused(
            "POST",
            "/fulfillments",
            {
                "orderId": order_with_source(api, "cust-1", [one_off()])["id"],
                "items": [{"itemId": "nope", "quantity": 1}],
            },
        ),
        api.refused(
            "POST",
            "/fulfillments",
            {"orderId": acquisition["id"], "items": [{"itemId": pro["id"], "quantity": 1}]},
        ),
        api.refused("POST", "/refunds", {"orderId": acquisition["id"], "currency": "USD", "amount": 1000.0}),
        api.refused("POST", "/refunds", {"orderId": acquisition["id"], "currency": "EUR", "amount": 1.0}),
        api.refused("GET", "/orders/404404404"),
        api.refused("GET", "/sources/nope"),
        DRApi("sk_test_wrong").refused("GET", f"/plans/{PLAN['plan_id']}"),
    ]
    vendor_sandbox.add_fault("digitalriver", "rate_limit", path_regex="^/orders", count=1)
    vendor_sandbox.add_fault("digitalriver", "http_500", path_regex="^/subscriptions", count=1)
    refusals += [api.refused("GET", f"/orders/{order['id']}"), api.refused("GET", "/subscriptions/sub-1")]
    return refusals


def test_traffic_covers_the_operations_and_the_refusals(traffic, exchanges):
    operations = {_operation(e.method, e.path) for e in exchanges}

    assert set(REQUESTS) | set(RESPONSES) | NO_CONTENT <= operations
    assert {("GET", path) for path in LISTS} <= operations
    assert sorted(answer.code for answer in traffic) == sorted(
        [
            "missing_parameter",
            "invalid_request",
            "plan_limit_reached",
            "invalid_parameter",
            "restricted_update",
            "already_exists",
            "not_found",  # the checkout already made into an order
            "failed-request",  # no primary source
            "nonreusable_source",
            "source_not_chargeable",
            "invalid_parameter",  # an itemId not in the order
            "order_fulfilled",
            "invalid_parameter",  # amountRequested
            "invalid_parameter",  # currency
            "not_found",
            "not_found",
            "unauthorized",
            "too_many_requests",
            "internal_server_error",
        ]
    )


def test_sandbox_responses_validate(traffic, exchanges):
    checked = set()
    for e in exchanges:
        if not 200 <= e.status < 300:
            continue
        operation = _operation(e.method, e.path)
        if operation in NO_CONTENT:
            assert e.status == 204 and e.answer is None
            checked.add(operation)
        elif operation in RESPONSES:
            schema, status = RESPONSES[operation]
            assert str(e.status) == status, operation
            schemas.validate_at(
                "digitalriver", schemas.response_pointer(operation[1], operation[0], status), e.answer
            )
            schemas.validate("digitalriver", schema, e.answer)
            checked.add(operation)
        elif e.method == "GET" and operation[1] in LISTS:
            schemas.validate_at("digitalriver", schemas.response_pointer(operation[1], "get"), e.answer)
            for item in e.answer["data"]:
                schemas.validate("digitalriver", LISTS[operation[1]], item)
            checked.add(operation)
    assert set(RESPONSES) | NO_CONTENT | {("GET", path) for path in LISTS} <= checked


def _validate_sent(exchanges) -> set[str]:
    """Every request body sent fits its operation's request schema; the schemas that were checked."""
    checked = set()
    for e in exchanges:
        schema = REQUESTS.get(_operation(e.method, e.path))
        if schema is not None and e.sent is not None:
            schemas.validate("digitalriver", schema, e.sent)
            checked.add(schema)
    return checked


def test_requests_sent_to_the_sandbox_fit_the_request_schemas(traffic, exchanges):
    """Refused requests too: they break Digital River's rules, not its shapes."""
    _validate_sent(exchanges)


def test_refusals_validate_against_errors(traffic, exchanges):
    refusals = [e for e in exchanges if e.status >= 400]

    for e in refusals:
        schemas.validate("digitalriver", "Errors", e.answer)
        assert e.answer["errors"] and e.answer["errors"][0]["code"]
    assert len(refusals) == len(traffic)


def test_every_event_validates_and_charge_events_carry_a_charge(traffic):
    events = [event_json(event) for event in DREvent.objects.order_by("seq")]

    assert {e["type"] for e in events} >= {
        "checkout_session.order.created",
        "order.accepted",
        "subscription.created",
        "subscription.updated",
        "fulfillment.created",
        "order.charge.capture.complete",
        "order.charge.capture.failed",
        "order.charge.cancel.complete",
        "order.fulfilled",
        "order.complete",
        "refund.pending",
        "refund.complete",
    }
    for event in events:
        _validate_event(event)
    for event in events:
        if event["type"].startswith("order.charge."):
            obj = event["data"]["object"]
            assert "items" not in obj and obj["orderId"] and (obj.get("captures") or obj.get("cancels"))


def test_a_refused_shape_is_caught_by_the_schema(traffic, exchanges):
    """The validator does reject: a wrong charge type and a string price do not fit."""
    sent = next(e.sent for e in exchanges if e.path == "/checkouts" and e.method == "POST")

    assert schemas.errors("digitalriver", "CheckoutRequest", {**sent, "chargeType": "recurring"})
    bad_item = {**sent["items"][0], "price": "120"}
    assert schemas.errors("digitalriver", "CheckoutRequest", {**sent, "items": [bad_item]})
    assert schemas.errors("digitalriver", "FulfillmentRequest", {"items": [{"itemId": "1", "quantity": "2"}]})
    # A product refund leaves `type` out: "orderLevel" is not one of the schema's types.
    assert schemas.errors(
        "digitalriver", "RefundRequest", {"orderId": "1", "currency": "USD", "type": "orderLevel"}
    )


# --- The client's bodies ------------------------------------------------------------------------------


@pytest.fixture
def client_traffic(vendor_sandbox, db, exchanges):
    """The back office's client on the calls it has had from the start."""
    from vendors.digitalriver.client import DigitalRiverClient

    dr = DigitalRiverClient()
    plan = dr.create_plan(**PLAN)
    dr.update_plan(plan.id, name="Pro yearly", reminder_offset_days=30)
    customer = dr.ensure_customer("cust-1", email="buyer@example.com", name="Buyer")
    dr.ensure_customer("cust-1", email="buyer@example.com", name="Buyer")  # 409 already_exists, absorbed
    session = dr.create_checkout_session(
        customer_id=customer, currency="USD", items=[_recurring(subscriptionId="sub-1")], upstream_id="acq-1"
    )
    _pay(session.id)
    subscription = dr.activate_subscription("sub-1")
    renewal = dr.create_checkout(
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
    DRApi().post(f"/checkouts/{renewal.id}/sources/{subscription.source_id}")
    dr.create_order(renewal.id)
    dr.cancel_subscription(subscription.id)


def test_client_request_bodies_validate(client_traffic, exchanges):
    checked = _validate_sent(exchanges)
    assert {
        "PlanRequest",
        "UpdatePlanRequest",
        "CustomerRequest",
        "DropInCheckoutRequest",
        "CheckoutRequest",
        "OrderRequest",
        "UpdateSubscriptionRequest",
    } <= checked


def test_the_activate_and_cancel_bodies_are_exactly_the_state(client_traffic, exchanges):
    sent = [e.sent for e in exchanges if _operation(e.method, e.path) == ("POST", "/subscriptions/{id}")]

    assert {"state": "active"} in sent and {"state": "cancelled"} in sent


# --- The subscription service over time -----------------------------------------------------------------


def test_the_service_events_and_invoices_validate(api, exchanges):
    """Reminder, paid invoice, declined charges, failure, invalid source and lapse: every event and invoice fits."""
    from datetime import timedelta

    from tests.sandbox_helpers import dr_expire_card
    from vendors.sandbox.clock import advance_clock

    api.post("/plans", plan_body(PLAN))
    api.post("/customers", {"id": "cust-2"})
    for subscription_id in ("sub-paid", "sub-fails", "sub-lapses"):
        made = api.post(
            "/drop-in/checkout-sessions",
            {
                "customerId": "cust-2",
                "currency": "USD",
                "items": [_recurring(subscriptionId=subscription_id)],
            },
        )
        _pay(made["id"])
        api.post(f"/subscriptions/{subscription_id}", {"state": "active"})
    dr_fail_charges(api.get("/subscriptions/sub-fails")["sourceId"], times=100)
    dr_expire_card(api.get("/subscriptions/sub-lapses")["sourceId"])
    advance_clock(timedelta(days=361))
    advance_clock(timedelta(days=15))
    paid = api.get("/invoices", {"customerId": "cust-2", "state": "paid"})["data"][0]
    api.post("/refunds", {"invoiceId": paid["id"], "currency": "USD", "percent": 100})
    invoices = api.get("/invoices", {"customerId": "cust-2", "limit": 100})
    for invoice in invoices["data"]:
        api.get(f"/invoices/{invoice['id']}")

    events = [event_json(event) for event in DREvent.objects.order_by("seq")]
    assert {
        "subscription.reminder",
        "subscription.extended",
        "subscription.payment_failed",
        "subscription.failed",
        "subscription.source_invalid",
        "subscription.lapsed",
        "refund.complete",
    } <= {e["type"] for e in events}
    for event in events:
        _validate_event(event)
    schemas.validate_at("digitalriver", schemas.response_pointer("/invoices", "get"), invoices)
    states = set()
    for e in exchanges:
        if e.method == "GET" and _operation(e.method, e.path) == ("GET", "/invoices/{id}"):
            schemas.validate_at("digitalriver", schemas.response_pointer("/invoices/{id}", "get"), e.answer)
            schemas.validate("digitalriver", "Invoice", e.answer)
            states.add(e.answer["state"])
    assert states == {"paid", "uncollectible"}
    assert [api.get(f"/subscriptions/{s}")["state"] for s in ("sub-paid", "sub-fails", "sub-lapses")] == [
        "active",
        "failed",
        "lapsed",
    ]


# --- The client's calls for fulfilment, sources, refunds and external subscriptions ------------------


@pytest.fixture
def money_client_traffic(vendor_sandbox, db, exchanges):
    """The client on the calls billing added: fulfil, sources, source updates, renewals with a
    source, refunds; an external (back-office) acquisition too."""
    from tests.sandbox_helpers import dr_new_card
    from vendors.digitalriver.client import DigitalRiverClient

    dr = DigitalRiverClient()
    dr.create_plan(**PLAN)
    customer = dr.ensure_customer("cust-2", email="buyer@example.com", name="Buyer")
    session = dr.create_checkout_session(
        customer_id=customer, currency="USD", items=[_recurring(subscriptionId="sub-2")], upstream_id="acq-2"
    )
    _pay(session.id)
    [order] = dr.list_orders(upstream_id="acq-2")
    subscription = dr.activate_subscription("sub-2")
    fulfillment = dr.fulfil(order.id, [{"itemId": order.items[0].id, "quantity": 1}])
    assert [f.id for f in dr.list_fulfillments(order.id)] == [fulfillment.id]
    new_card = dr_new_card()
    source = dr.save_source_to_customer(customer, new_card)
    assert dr.get_source(new_card).customer_id == customer and source.last_four
    dr.update_subscription(subscription.id, source_id=new_card)
    external = {
        "skuId": "sku-ext",
        "price": 10.0,
        "quantity": 1,
        "subscriptionInfo": {
            "terms": "Monthly until cancelled.",
            "autoRenewal": True,
            "subscriptionId": "ext-1",
        },
    }
    ext_session = dr.create_checkout_session(
        customer_id=customer, currency="USD", items=[external], upstream_id="acq-3"
    )
    _pay(ext_session.id)
    [ext_order] = dr.list_orders(upstream_id="acq-3")
    dr.fulfil(ext_order.id, [{"itemId": ext_order.items[0].id, "quantity": 1}])
    renewal = dr.create_checkout(
        customer_id=customer,
        currency="USD",
        items=[
            {
                "skuId": "sku-ext",
                "price": 10.0,
                "quantity": 1,
                "subscriptionInfo": {
                    "subscriptionId": "ext-1",
                    "billingAgreementId": ext_order.items[0].billing_agreement_id,
                    "autoRenewal": True,
                },
            }
        ],
        charge_type="merchant_initiated",
        upstream_id="renewal-2",
        source_id=ext_order.primary_source_id,
    )
    renewed = dr.create_order(renewal.id)
    dr.fulfil(renewed.id, [{"itemId": renewed.items[0].id, "cancelQuantity": 1}])
    dr.create_refund(currency="USD", order_id=order.id, reason="Cancelled within 30 days.")


def test_the_clients_money_calls_validate(money_client_traffic, exchanges):
    checked = _validate_sent(exchanges)
    assert {"FulfillmentRequest", "RefundRequest", "UpdateSubscriptionRequest", "CheckoutRequest"} <= checked
    sent_checkouts = [e.sent for e in exchanges if _operation(e.method, e.path) == ("POST", "/checkouts")]
    assert all(body.get("sourceId") for body in sent_checkouts)  # a renewal always names its source
    external = [
        item["subscriptionInfo"]
        for e in exchanges
        if _operation(e.method, e.path) == ("POST", "/drop-in/checkout-sessions")
        for item in e.sent["items"]
        if item["skuId"] == "sku-ext"
    ]
    assert external and all("planId" not in info for info in external)
