"""Digital River sandbox: refunds of captured money (orders, and invoices of the subscription service)."""

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.utils import quote
from django.core.management import CommandError, call_command

from tests.sandbox_helpers import dr_ledger
from tests.vendors import dr as fixtures
from tests.vendors.dr import (
    event_types,
    events_of,
    fulfil,
    last_seq,
    one_off,
    order_with_source,
    paid_order,
    recurring,
    sandbox_state,
)
from vendors.http import parse_time
from vendors.sandbox.clock import advance_clock, sandbox_now
from vendors.sandbox.digitalriver import refunds
from vendors.sandbox.digitalriver.models import DRInvoice, DRRefund

api = fixtures.api  # the raw API fixture
pytestmark = pytest.mark.django_db


@pytest.fixture
def captured(api, customer_id) -> dict:
    """An order of 27.01 and 10 x 2, fulfilled: 47.01 captured."""
    order = order_with_source(
        api,
        customer_id,
        [{"skuId": "sku-a", "price": 27.01, "quantity": 1}, {"skuId": "sku-b", "price": 10.0, "quantity": 2}],
    )
    fulfil(api, order)
    return api.get(f"/orders/{order['id']}")


def _refund(order, **fields) -> dict:
    return {"orderId": order["id"], "currency": "USD", **fields}


def _state(api, order) -> tuple:
    return api.get(f"/orders/{order['id']}"), sandbox_state(), DRRefund.objects.count()


def test_an_order_level_refund_is_pending_then_complete(api, captured):
    before = last_seq()

    made = api.post("/refunds", _refund(captured, amount=20.0, reason="requested_by_customer"), status=201)

    assert made["id"].startswith("re_") and made["state"] == "pending"
    assert (made["amount"], made["refundedAmount"], made["items"]) == (20, 0, [])
    assert event_types(before) == ["refund.pending", "refund.complete"]
    done = api.get(f"/refunds/{made['id']}")
    assert (done["state"], done["refundedAmount"], done["reason"]) == (
        "succeeded",
        20,
        "requested_by_customer",
    )
    assert done["charges"][0]["refunds"][0]["state"] == "complete"
    order = api.get(f"/orders/{captured['id']}")
    assert (order["capturedAmount"], order["refundedAmount"], order["availableToRefundAmount"]) == (
        47.01,
        20,
        27.01,
    )
    assert order["payment"]["charges"][0]["refunded"] is True
    refunded = dr_ledger(kind="refund")
    assert sum(e.amount for e in refunded) == Decimal("20.00") and {e.refund_id for e in refunded} == {
        made["id"]
    }
    assert {e.order_id for e in refunded} == {captured["id"]}


def test_a_percent_refund_is_that_share_of_what_is_available(api, captured):
    half = api.post("/refunds", _refund(captured, percent=50), status=201)
    rest = api.post("/refunds", _refund(captured, percent=100), status=201)

    assert half["amount"] == 23.51  # 47.01 / 2, half up
    assert rest["amount"] == 23.5
    assert api.get(f"/orders/{captured['id']}")["availableToRefundAmount"] == 0


def test_an_item_level_refund(api, captured):
    first, second = captured["items"]

    made = api.post(
        "/refunds",
        _refund(
            captured,
            items=[
                {"itemId": first["id"], "amount": 7.01},
                {"itemId": second["id"], "quantity": 1, "percent": 100},
            ],
        ),
        status=201,
    )

    assert made["amount"] == 17.01
    assert [(i["itemId"], i["amount"]) for i in made["items"]] == [(first["id"], 7.01), (second["id"], 10)]
    items = api.get(f"/orders/{captured['id']}")["items"]
    assert [item["availableToRefundAmount"] for item in items] == [20, 10]
    assert [(e.item_id, e.amount) for e in dr_ledger(kind="refund")] == [
        (first["id"], Decimal("7.01")),
        (second["id"], Decimal("10.00")),
    ]


@pytest.mark.parametrize(
    "fields,status,code,parameter",
    [
        ({"currency": None, "amount": 1.0}, 400, "missing_parameter", "currency"),
        ({"currency": "EUR", "amount": 1.0}, 400, "invalid_parameter", "currency"),
        ({"orderId": None, "amount": 1.0}, 400, "missing_parameter", "orderId"),
        ({"orderId": "404404404", "amount": 1.0}, 400, "invalid_parameter", "orderId"),
        ({"amount": 47.02}, 400, "invalid_parameter", "amountRequested"),
        ({"type": "orderLevel", "percent": 100}, 400, "invalid_parameter", "type"),
        ({"type": "shipping", "percent": 100}, 400, "invalid_parameter", "type"),
        ({"percent": 0}, 400, "invalid_parameter", "percent"),
        ({"percent": 100.5}, 400, "invalid_parameter", "percent"),
        ({"amount": 1.0, "percent": 10}, 400, "invalid_request", "percent"),
        ({}, 400, "missing_parameter", "amount"),
        ({"amount": "10"}, 400, "invalid_parameter", "amount"),
        ({"items": [{"itemId": "nope", "amount": 1.0}]}, 400, "invalid_parameter", "itemId"),
        ({"colour": "blue", "amount": 1.0}, 400, "unknown_parameter", "colour"),
    ],
)
def test_a_refund_that_breaks_the_preconditions_is_refused_and_changes_nothing(
    api, captured, fields, status, code, parameter
):
    body = _refund(captured, **fields)
    for name in [name for name, value in body.items() if value is None]:
        del body[name]
    before = _state(api, captured)

    answer = api.refused("POST", "/refunds", body)

    assert (answer.status, answer.code, answer.parameter) == (status, code, parameter)
    assert _state(api, captured) == before


def test_the_documented_answers_for_too_much_and_another_currency(api, captured):
    too_much = api.refused("POST", "/refunds", _refund(captured, amount=100.0))
    euros = api.refused("POST", "/refunds", {**_refund(captured, amount=1.0), "currency": "EUR"})

    assert too_much.body == {
        "type": "bad_request",
        "errors": [
            {
                "code": "invalid_parameter",
                "parameter": "amountRequested",
                "message": "The requested refund amount is greater than the available amount.",
            }
        ],
    }
    assert euros.message == "Currency EUR is not supported."


@pytest.mark.parametrize(
    "item,code,parameter",
    [
        ({"quantity": 3, "percent": 100}, "invalid_parameter", "quantity"),
        ({"amount": 20.01}, "invalid_parameter", "amountRequested"),
        ({}, "missing_parameter", "amount"),
        ({"amount": 1.0, "type": "shipping"}, "invalid_parameter", "type"),
    ],
)
def test_an_item_refund_stays_within_the_item(api, captured, item, code, parameter):
    body = _refund(captured, items=[{"itemId": captured["items"][1]["id"], **item}])
    before = _state(api, captured)

    answer = api.refused("POST", "/refunds", body)

    assert (answer.status, answer.code, answer.parameter) == (400, code, parameter)
    assert _state(api, captured) == before


def test_refunds_never_add_up_to_more_than_was_captured(api, captured):
    api.post("/refunds", _refund(captured, amount=40.0), status=201)

    answer = api.refused("POST", "/refunds", _refund(captured, amount=7.02))

    assert answer.parameter == "amountRequested" and DRRefund.objects.count() == 1


def test_only_captured_money_is_refundable(api, customer_id):
    authorised = order_with_source(api, customer_id, [one_off(price=30.0, quantity=3)])
    item = authorised["items"][0]["id"]
    nothing = api.refused("POST", "/refunds", _refund(authorised, percent=100))
    api.post(
        "/fulfillments",
        {"orderId": authorised["id"], "items": [{"itemId": item, "quantity": 1, "cancelQuantity": 2}]},
    )

    too_much = api.refused("POST", "/refunds", _refund(authorised, amount=30.01))
    made = api.post("/refunds", _refund(authorised, percent=100), status=201)

    assert (nothing.status, nothing.parameter) == (400, "amountRequested")
    assert too_much.parameter == "amountRequested" and made["amount"] == 30


def test_a_cancelled_order_has_nothing_to_refund(api, customer_id):
    order = order_with_source(api, customer_id, [one_off()])
    fulfil(api, order, cancel=True)

    assert api.refused("POST", "/refunds", _refund(order, percent=100)).parameter == "amountRequested"


def test_refunds_are_listed_by_order(api, captured):
    first = api.post("/refunds", _refund(captured, amount=1.0), status=201)
    second = api.post("/refunds", _refund(captured, amount=2.0), status=201)

    listed = api.get("/refunds", {"orderId": captured["id"]})["data"]

    assert [r["id"] for r in listed] == [second["id"], first["id"]]
    assert api.refused("GET", "/refunds/re_nope").status == 404


# --- Invoices of the subscription service -----------------------------------------------------------------


@pytest.fixture
def paid_invoice(api, annual, customer_id) -> dict:
    paid_order(api, customer_id, [recurring(annual, subscription_id="sub-1")])
    subscription = api.post("/subscriptions/sub-1", {"state": "active"})
    advance_clock(parse_time(subscription["nextInvoiceDate"]) - sandbox_now() + timedelta(hours=1))
    return api.get(f"/invoices/{DRInvoice.objects.get().pk}")


def test_an_invoice_of_the_service_is_refunded_by_its_id(api, paid_invoice):
    made = api.post(
        "/refunds", {"invoiceId": paid_invoice["id"], "currency": "USD", "percent": 100}, status=201
    )

    assert made["invoiceId"] == paid_invoice["id"] and made["amount"] == 120 and "orderId" not in made
    entry = dr_ledger(kind="refund").get()
    assert (entry.invoice_id, entry.subscription_id, entry.amount) == (
        paid_invoice["id"],
        "sub-1",
        Decimal("120.00"),
    )
    assert entry.period_end == DRInvoice.objects.get().period_end
    assert [r["id"] for r in api.get("/refunds", {"invoiceId": paid_invoice["id"]})["data"]] == [made["id"]]
    again = api.refused(
        "POST", "/refunds", {"invoiceId": paid_invoice["id"], "currency": "USD", "amount": 0.01}
    )
    assert again.parameter == "amountRequested"


@pytest.mark.parametrize(
    "fields,code,parameter",
    [
        ({"items": [{"itemId": "x", "amount": 1.0}]}, "invalid_parameter", "items"),
        ({"currency": "EUR", "amount": 1.0}, "invalid_parameter", "currency"),
        ({"invoiceId": "nope", "amount": 1.0}, "invalid_parameter", "invoiceId"),
        ({"orderId": "1", "amount": 1.0}, "invalid_request", "invoiceId"),
    ],
)
def test_an_invoice_refund_that_does_not_fit_is_refused(api, paid_invoice, fields, code, parameter):
    before = sandbox_state()

    answer = api.refused("POST", "/refunds", {"invoiceId": paid_invoice["id"], "currency": "USD", **fields})

    assert (answer.status, answer.code, answer.parameter) == (
        400,
        code,
        parameter,
    ) and sandbox_state() == before


# --- Completing later ---------------------------------------------------------------------------------------


def test_a_refund_completes_or_fails_later_when_not_at_once(api, captured, monkeypatch):
    monkeypatch.setattr(refunds, "REFUNDS_COMPLETE_AT_ONCE", False)
    first = api.post("/refunds", _refund(captured, amount=40.0), status=201)
    assert api.get(f"/orders/{captured['id']}")["availableToRefundAmount"] == 7.01  # pending counts
    assert not dr_ledger(kind="refund").exists() and event_types()[-1] == "refund.pending"
    out = io.StringIO()

    call_command("sandbox_dr", "refund", refund=first["id"], fail=True, stdout=out)

    assert "failed" in out.getvalue() and api.get(f"/refunds/{first['id']}")["state"] == "failed"
    assert events_of("refund.failed")[0]["refundedAmount"] == 0
    assert api.get(f"/orders/{captured['id']}")["availableToRefundAmount"] == 47.01
    second = api.post("/refunds", _refund(captured, amount=47.01), status=201)
    call_command("sandbox_dr", "refund", refund=second["id"], stdout=io.StringIO())
    assert api.get(f"/refunds/{second['id']}")["state"] == "succeeded"
    assert sum(e.amount for e in dr_ledger(kind="refund")) == Decimal("47.01")
    with pytest.raises(CommandError, match="not pending"):
        call_command("sandbox_dr", "refund", refund=second["id"])


def test_admin_completes_a_pending_refund(admin_client, api, captured, monkeypatch):
    monkeypatch.setattr(refunds, "REFUNDS_COMPLETE_AT_ONCE", False)
    made = api.post("/refunds", _refund(captured, amount=5.0), status=201)

    admin_client.post(
        "/admin/sandbox/drrefund/", {"action": "complete_refunds", "_selected_action": [made["id"]]}
    )

    assert api.get(f"/refunds/{made['id']}")["state"] == "succeeded"
    assert admin_client.get(f"/admin/sandbox/drrefund/{quote(made['id'])}/change/").status_code == 200
