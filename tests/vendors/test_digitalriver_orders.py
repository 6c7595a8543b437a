"""Digital River sandbox: POST /orders only authorises; fulfilments capture or cancel; the ledger."""

from decimal import Decimal

import pytest

from tests.sandbox_helpers import dr_captures_by_subscription, dr_expire_card, dr_fail_charges, dr_ledger
from tests.vendors import dr as fixtures
from tests.vendors.dr import (
    checkout,
    event_types,
    events_of,
    fulfil,
    last_seq,
    new_source,
    one_off,
    order_with_source,
    paid_order,
    recurring,
    sandbox_state,
    saved_source,
)
from vendors.sandbox.digitalriver import payments
from vendors.sandbox.digitalriver.models import DROrder, DRSource

api = fixtures.api  # the raw API fixture
pytestmark = pytest.mark.django_db


def _ordered(api, customer_id, items, **fields):
    made = checkout(api, customer_id, items, **fields)
    return made, api.call("POST", "/orders", {"checkoutId": made["id"]})


def _snapshot(api, order_id) -> tuple:
    """The order as the API shows it and everything the sandbox holds: nothing changed means equal."""
    return api.get(f"/orders/{order_id}"), sandbox_state()


# --- POST /orders --------------------------------------------------------------------------------------


def test_an_order_only_authorises(api, customer_id):
    order = order_with_source(api, customer_id, [one_off(price=50.0), one_off(price=20.0, sku="sku-b")])

    charge = order["payment"]["charges"][0]
    assert order["state"] == "accepted" and order["capturedAmount"] == 0
    assert order["availableToRefundAmount"] == 0
    assert {key: charge[key] for key in ("amount", "state", "captured", "type")} == {
        "amount": 70,
        "state": "capturable",
        "captured": False,
        "type": "customer_initiated",
    }
    assert charge["sourceId"] == order["payment"]["sources"][0]["id"] and charge["id"]
    assert [(e.kind, e.amount) for e in dr_ledger()] == [
        ("authorization", Decimal("50.00")),
        ("authorization", Decimal("20.00")),
    ]
    assert "order.charge.capture.complete" not in event_types()


def test_every_order_item_has_its_own_id(api, customer_id):
    order = order_with_source(api, customer_id, [one_off(), one_off(sku="sku-b")])

    ids = [item["id"] for item in order["items"]]
    assert all(ids) and len(set(ids)) == 2


def test_paying_a_session_only_authorises_with_a_new_card_saved_to_the_customer(api, annual, customer_id):
    order = paid_order(api, customer_id, [recurring(annual), one_off()])

    source = order["payment"]["sources"][0]
    assert order["state"] == "accepted" and order["capturedAmount"] == 0
    assert order["payment"]["charges"][0]["state"] == "capturable"
    assert (source["reusable"], source["customerId"], source["creditCard"]["lastFourDigits"]) == (
        True,
        customer_id,
        "1111",
    )
    assert api.get(f"/customers/{customer_id}")["defaultSourceId"] == source["id"]
    assert not dr_ledger(kind="capture").exists()


def test_an_order_without_a_primary_source_is_409_failed_request(api, customer_id):
    made = checkout(api, customer_id, [one_off()])
    before = sandbox_state()

    answer = api.refused("POST", "/orders", {"checkoutId": made["id"]})

    assert (answer.status, answer.code) == (409, "failed-request")
    assert "no primary payment source" in answer.message
    assert sandbox_state() == before


def test_the_order_refusal_code_is_a_module_constant(api, customer_id, monkeypatch):
    monkeypatch.setattr(payments, "ORDER_REFUSAL_CODE", "source_not_found")
    made = checkout(api, customer_id, [one_off()])

    assert api.refused("POST", "/orders", {"checkoutId": made["id"]}).code == "source_not_found"


def test_a_source_of_another_customer_is_409_source_in_use(api, customer_id):
    api.post("/customers", {"id": "other-customer"}, status=201)
    before_checkout = checkout(api, customer_id, [one_off()], sourceId=saved_source("other-customer"))
    before = sandbox_state()

    answer = api.refused("POST", "/orders", {"checkoutId": before_checkout["id"]})

    assert (answer.status, answer.code, answer.parameter) == (409, "source_in_use", "sourceId")
    assert sandbox_state() == before


@pytest.mark.parametrize("source_kind", ["not saved", "single use"])
def test_a_merchant_initiated_order_needs_a_reusable_source_saved_to_the_customer(
    api, annual, customer_id, source_kind
):
    order = paid_order(api, customer_id, [recurring(annual, subscription_id="sub-1")])
    agreement = order["items"][0]["subscriptionInfo"]["billingAgreementId"]
    api.post("/subscriptions/sub-1", {"state": "active"})
    source = new_source(reusable=source_kind == "not saved")
    item = {
        "skuId": "sku-pro",
        "price": 120.0,
        "subscriptionInfo": {"subscriptionId": "sub-1", "billingAgreementId": agreement, "autoRenewal": True},
    }
    made = checkout(api, customer_id, [item], charge_type="merchant_initiated", sourceId=source)
    before = sandbox_state()

    answer = api.refused("POST", "/orders", {"checkoutId": made["id"]})

    assert (answer.status, answer.code) == (409, "failed-request")
    assert ("not reusable" if source_kind == "single use" else "not saved to customer") in answer.message
    assert sandbox_state() == before


def test_an_expired_card_is_409_source_expired(api, customer_id):
    source = saved_source(customer_id)
    dr_expire_card(source)
    made = checkout(api, customer_id, [one_off()], sourceId=source)
    before = sandbox_state()

    answer = api.refused("POST", "/orders", {"checkoutId": made["id"]})

    assert (answer.status, answer.code) == (409, "source_expired")
    assert sandbox_state() == before


def test_a_source_set_to_fail_at_authorization_is_409_failed_request(api, customer_id):
    source = saved_source(customer_id)
    dr_fail_charges(source, times=1)
    made = checkout(api, customer_id, [one_off()], sourceId=source)

    answer = api.refused("POST", "/orders", {"checkoutId": made["id"]})

    assert answer.body == {
        "type": "conflict",
        "errors": [{"code": "failed-request", "message": "Failed to charge source."}],
    }
    assert not DROrder.objects.exists() and not dr_ledger().exists()
    assert DRSource.objects.get(pk=source).failing_charges == 0  # the failure was used up
    assert api.post("/orders", {"checkoutId": made["id"]}, status=201)["state"] == "accepted"


def test_a_removed_source_is_409_source_not_chargeable(api, customer_id):
    source = saved_source(customer_id)
    made = checkout(api, customer_id, [one_off()], sourceId=source)
    api.delete(f"/customers/{customer_id}/sources/{source}")

    answer = api.refused("POST", "/orders", {"checkoutId": made["id"]})

    assert (answer.status, answer.code) == (409, "source_not_chargeable")


def test_a_single_use_source_is_consumed_by_its_charge(api, customer_id):
    source = new_source(reusable=False)
    made = checkout(api, customer_id, [one_off()], sourceId=source)

    api.post("/orders", {"checkoutId": made["id"]}, status=201)

    assert api.get(f"/sources/{source}")["state"] == "consumed"
    again = checkout(api, customer_id, [one_off()])
    assert api.refused("POST", f"/checkouts/{again['id']}/sources/{source}").code == (
        "source_status_invalid_for_session"
    )


def test_a_checkout_already_ordered_is_404_not_found(api, customer_id):
    made = checkout(api, customer_id, [one_off()], sourceId=saved_source(customer_id))
    order = api.post("/orders", {"checkoutId": made["id"]}, status=201)

    answer = api.refused("POST", "/orders", {"checkoutId": made["id"]})

    assert answer.body == {
        "type": "not_found",
        "errors": [
            {"code": "not_found", "parameter": "orderId", "message": f"Order {order['id']} not found"}
        ],
    }
    assert DROrder.objects.count() == 1


def test_an_order_of_zero_has_no_charge(api, annual, customer_id):
    order = paid_order(api, customer_id, [recurring(annual, price=0.0, freeTrial=True)])

    assert order["state"] == "accepted" and order["payment"]["charges"] == []
    assert not dr_ledger().exists()


# --- Fulfilments ---------------------------------------------------------------------------------------


def test_fulfilling_captures_and_the_capture_event_carries_the_charge(api, customer_id):
    order = order_with_source(api, customer_id, [one_off(price=50.0)])
    before = last_seq()

    fulfillment = fulfil(api, order)

    assert fulfillment["id"].startswith("ful_") and fulfillment["orderId"] == order["id"]
    assert fulfillment["items"] == [
        {"itemId": order["items"][0]["id"], "skuId": "sku-setup", "quantity": 1, "cancelQuantity": 0}
    ]
    assert event_types(before) == [
        "fulfillment.created",
        "order.charge.capture.complete",
        "order.fulfilled",
        "order.complete",
    ]
    charge = events_of("order.charge.capture.complete")[0]
    assert "items" not in charge  # a charge, not an order
    assert (charge["orderId"], charge["amount"], charge["currency"], charge["captured"]) == (
        order["id"],
        50,
        "USD",
        True,
    )
    assert charge["state"] == "complete" and charge["type"] == "customer_initiated"
    assert charge["sourceId"] == order["payment"]["sources"][0]["id"]
    capture = charge["captures"][0]
    assert (capture["amount"], capture["state"], capture["fulfillmentId"]) == (
        50,
        "complete",
        fulfillment["id"],
    )
    assert capture["id"] and capture["createdTime"]
    after = api.get(f"/orders/{order['id']}")
    assert (after["state"], after["capturedAmount"], after["availableToRefundAmount"]) == ("complete", 50, 50)
    assert after["items"][0]["state"] == "fulfilled" and after["items"][0]["availableToRefundAmount"] == 50


def test_a_partial_fulfilment_captures_the_share_of_the_units(api, customer_id):
    order = order_with_source(api, customer_id, [one_off(price=10.0, quantity=3)])
    item_id = order["items"][0]["id"]

    api.post(
        "/fulfillments", {"orderId": order["id"], "items": [{"itemId": item_id, "quantity": 1}]}, status=201
    )
    partly = api.get(f"/orders/{order['id']}")
    api.post(
        "/fulfillments", {"orderId": order["id"], "items": [{"itemId": item_id, "quantity": 2}]}, status=201
    )

    assert (partly["state"], partly["capturedAmount"], partly["items"][0]["state"]) == (
        "accepted",
        10,
        "created",
    )
    assert partly["payment"]["charges"][0]["state"] == "capturable"
    assert [e.amount for e in dr_ledger(kind="capture")] == [Decimal("10.00"), Decimal("20.00")]
    assert api.get(f"/orders/{order['id']}")["capturedAmount"] == 30


def test_units_of_an_odd_amount_add_up_to_the_item_amount(api, customer_id):
    order = order_with_source(api, customer_id, [{"skuId": "sku", "aggregatePrice": 10.0, "quantity": 3}])
    item_id = order["items"][0]["id"]

    for _ in range(3):
        api.post("/fulfillments", {"orderId": order["id"], "items": [{"itemId": item_id, "quantity": 1}]})

    assert [e.amount for e in dr_ledger(kind="capture")] == [
        Decimal("3.33"),
        Decimal("3.34"),
        Decimal("3.33"),
    ]


def test_cancelled_quantities_are_never_charged(api, customer_id):
    order = order_with_source(api, customer_id, [one_off(price=40.0)])
    before = last_seq()

    fulfil(api, order, cancel=True)

    after = api.get(f"/orders/{order['id']}")
    assert event_types(before) == ["fulfillment.created", "order.charge.cancel.complete", "order.cancelled"]
    charge = events_of("order.charge.cancel.complete")[0]
    assert charge["cancels"][0]["amount"] == 40 and charge["captured"] is False
    assert (after["state"], after["capturedAmount"], after["cancelledAmount"]) == ("cancelled", 0, 40)
    assert (
        after["items"][0]["state"] == "cancelled" and after["payment"]["charges"][0]["state"] == "cancelled"
    )
    assert [(e.kind, e.amount) for e in dr_ledger().exclude(kind="authorization")] == [
        ("cancel", Decimal("40.00"))
    ]


def test_fulfilled_and_cancelled_units_in_one_request_complete_the_order(api, customer_id):
    order = order_with_source(api, customer_id, [one_off(price=30.0), one_off(price=20.0, sku="sku-b")])
    first, second = (item["id"] for item in order["items"])
    before = last_seq()

    api.post(
        "/fulfillments",
        {
            "orderId": order["id"],
            "items": [{"itemId": first, "quantity": 1}, {"itemId": second, "cancelQuantity": 1}],
        },
        status=201,
    )

    after = api.get(f"/orders/{order['id']}")
    assert event_types(before) == [
        "fulfillment.created",
        "order.charge.capture.complete",
        "order.charge.cancel.complete",
        "order.fulfilled",
        "order.complete",
    ]
    assert (after["capturedAmount"], after["cancelledAmount"], after["state"]) == (30, 20, "complete")
    assert [item["state"] for item in after["items"]] == ["fulfilled", "cancelled"]


def test_a_source_set_to_fail_at_capture_sends_capture_failed(api, customer_id):
    source = saved_source(customer_id)
    made = checkout(api, customer_id, [one_off(price=50.0)], sourceId=source)
    order = api.post("/orders", {"checkoutId": made["id"]}, status=201)
    dr_fail_charges(source, times=1, stage="capture")
    before = last_seq()

    fulfil(api, order)

    assert event_types(before) == ["fulfillment.created", "order.charge.capture.failed", "order.fulfilled"]
    charge = events_of("order.charge.capture.failed")[0]
    assert (
        charge["captures"][0]["state"] == "failed"
        and charge["captures"][0]["failureCode"] == "failed-request"
    )
    assert charge["orderId"] == order["id"] and "items" not in charge
    after = api.get(f"/orders/{order['id']}")
    assert (after["state"], after["capturedAmount"], after["availableToRefundAmount"]) == ("fulfilled", 0, 0)
    assert [e.kind for e in dr_ledger().exclude(kind="authorization")] == ["capture_failed"]


def _fulfil_body(order, **item):
    return {"orderId": order["id"], "items": [{"itemId": order["items"][0]["id"], **item}]}


@pytest.mark.parametrize(
    "change,parameter,code",
    [
        (lambda body: body.pop("orderId"), "orderId", "missing_parameter"),
        (lambda body: body.pop("items"), "items", "missing_parameter"),
        (lambda body: body.update(items=[]), "items", "missing_parameter"),
        (lambda body: body.update(orderId="404404404"), "orderId", "invalid_parameter"),
        (lambda body: body["items"][0].pop("quantity"), "items", "invalid_parameter"),
        (lambda body: body["items"][0].update(quantity=0, cancelQuantity=0), "items", "invalid_parameter"),
        (lambda body: body["items"][0].update(itemId="not-an-item"), "itemId", "invalid_parameter"),
        (lambda body: body["items"][0].update(quantity=3), "quantity", "invalid_parameter"),
        (lambda body: body["items"][0].update(quantity=1, cancelQuantity=2), "quantity", "invalid_parameter"),
        (lambda body: body["items"][0].update(quantity="2"), "quantity", "invalid_parameter"),
        (lambda body: body.update(colour="blue"), "colour", "unknown_parameter"),
    ],
)
def test_a_fulfilment_that_does_not_fit_the_order_is_400_and_changes_nothing(
    api, customer_id, change, parameter, code
):
    order = order_with_source(api, customer_id, [one_off(quantity=2)])
    body = _fulfil_body(order, quantity=1)
    change(body)
    before = _snapshot(api, order["id"])

    answer = api.refused("POST", "/fulfillments", body)

    assert (answer.status, answer.code, answer.parameter) == (400, code, parameter)
    assert _snapshot(api, order["id"]) == before


def test_more_than_remains_after_an_earlier_fulfilment_is_400(api, customer_id):
    order = order_with_source(api, customer_id, [one_off(quantity=2)])
    api.post("/fulfillments", _fulfil_body(order, quantity=1), status=201)
    before = _snapshot(api, order["id"])

    answer = api.refused("POST", "/fulfillments", _fulfil_body(order, quantity=1, cancelQuantity=1))

    assert (answer.status, answer.code) == (400, "invalid_parameter") and "1 unit(s) left" in answer.message
    assert _snapshot(api, order["id"]) == before


def test_a_fulfilled_order_is_409_order_fulfilled(api, customer_id):
    order = order_with_source(api, customer_id, [one_off()])
    fulfil(api, order)
    before = _snapshot(api, order["id"])

    answer = api.refused("POST", "/fulfillments", _fulfil_body(order, quantity=1))

    assert answer.body == {
        "type": "conflict",
        "errors": [
            {
                "code": "order_fulfilled",
                "parameter": "orderId",
                "message": f"Resource '{order['id']}' is fulfilled.",
            }
        ],
    }
    assert _snapshot(api, order["id"]) == before


def test_a_cancelled_order_is_409(api, customer_id):
    order = order_with_source(api, customer_id, [one_off()])
    fulfil(api, order, cancel=True)

    answer = api.refused("POST", "/fulfillments", _fulfil_body(order, cancelQuantity=1))

    assert (answer.status, answer.code) == (409, "invalid_state")


def test_fulfillment_created_carries_the_fulfilment_and_the_order_details(api, customer_id):
    order = order_with_source(api, customer_id, [one_off()])

    made = fulfil(api, order)

    created = events_of("fulfillment.created")[0]
    assert created["id"] == made["id"] and created["orderDetails"]["id"] == order["id"]
    assert "payment" not in created["orderDetails"]


def test_fulfilments_are_listed_by_order_and_read_one_by_one(api, customer_id):
    order = order_with_source(api, customer_id, [one_off(quantity=2)])
    first = api.post("/fulfillments", _fulfil_body(order, quantity=1), status=201)
    second = api.post("/fulfillments", _fulfil_body(order, cancelQuantity=1), status=201)

    listed = api.get("/fulfillments", {"orderId": order["id"]})["data"]
    one = api.get(f"/fulfillments/{first['id']}")

    assert [f["id"] for f in listed] == [second["id"], first["id"]]
    assert one["id"] == first["id"] and one["orderDetails"]["id"] == order["id"]
    assert api.refused("GET", "/fulfillments/ful_nope").status == 404


# --- The ledger ----------------------------------------------------------------------------------------


def test_the_ledger_has_a_row_per_item_with_its_subscription(api, annual, customer_id):
    order = paid_order(api, customer_id, [recurring(annual, subscription_id="sub-1"), one_off()])

    fulfil(api, order)

    captures = dr_ledger(kind="capture")
    assert [(e.subscription_id, e.amount) for e in captures] == [
        ("sub-1", Decimal("120.00")),
        ("", Decimal("50.00")),
    ]
    assert {e.order_id for e in captures} == {order["id"]} and all(e.fulfillment_id for e in captures)
    assert {e.source_id for e in captures} == {order["payment"]["sources"][0]["id"]}
    assert dr_captures_by_subscription() == {"sub-1": [(order["id"], Decimal("120.00"))]}
