"""POST /fulfillments: what was delivered is captured, what was cancelled is never charged.

A FulfillmentRequest names the order and, per item (`itemId`, the order item's `id`), the
`quantity` fulfilled and/or the `cancelQuantity` cancelled; it must give one or the other.
Refused with nothing changed (400): orderId or items missing, an unknown order, an item with
neither, an itemId not in the order, more units than remain to fulfil or cancel. An order that
is no longer `accepted` is 409: fulfilled or complete, `order_fulfilled` on orderId ("Resource
'…' is fulfilled.", as documented); cancelled, `invalid_state`.

Each fulfilled unit captures its share of the item's amount (amount / quantity, to the cent, the
last unit taking the remainder): `order.charge.capture.complete`, whose object is the charge
(captures[] with the fulfillmentId), not the order. A source set to fail at capture gives
`order.charge.capture.failed` (the capture `failed`, failureCode failed-request) instead.
Cancelled units are cancelled on the charge: `order.charge.cancel.complete`. Every fulfilment
sends `fulfillment.created` first (the fulfilment with its orderDetails). Once every unit is
fulfilled or cancelled the order is `fulfilled` (order.fulfilled) and then `complete`
(order.complete) when no capture failed, or `cancelled` (order.cancelled) when all were cancelled.

Sandbox choices where Digital River is SILENT: an unknown order is 400 invalid_parameter on
orderId (the operation documents no 404); the same itemId twice in one request adds up; an order
whose capture failed stays `fulfilled` (never complete).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.digitalriver import ledger
from vendors.sandbox.digitalriver.checkouts import metadata_of
from vendors.sandbox.digitalriver.errors import conflict, invalid, missing, refuse_unknown, required_string
from vendors.sandbox.digitalriver.events import emit
from vendors.sandbox.digitalriver.models import DRCharge, DRChargeOperation, DRFulfillment, DROrder, DRSource
from vendors.sandbox.digitalriver.render import charge_json, fulfillment_json, order_json, time
from vendors.sandbox.digitalriver.sources import take_failure

FIELDS = {"items", "metadata", "orderId", "shipmentId", "trackingCompany", "trackingNumber", "trackingUrl"}
ITEM_FIELDS = {"cancelQuantity", "itemId", "quantity", "shipmentItemId", "skuId"}
SHIPMENT_FIELDS = ("shipmentId", "trackingCompany", "trackingNumber", "trackingUrl")
CAPTURE_FAILURE = ("failed-request", "Failed to operate on charge")


def create(body: dict) -> DRFulfillment:
    """Check the whole request, then record the fulfilment and move the money."""
    refuse_unknown(body, FIELDS, "a fulfillment")
    order_id = required_string(body, "orderId")
    raw_items = body.get("items")
    if raw_items in (None, []):
        raise missing("items", "items must list at least one item to fulfil or cancel.")
    if not isinstance(raw_items, list):
        raise invalid("items", "items must be a list.")
    order = DROrder.objects.select_for_update().filter(pk=order_id).first()
    if order is None:
        raise invalid("orderId", f"Order {order_id} not found.")
    if order.state in (DROrder.State.FULFILLED, DROrder.State.COMPLETE):
        raise conflict("order_fulfilled", f"Resource '{order.pk}' is fulfilled.", "orderId")
    if order.state != DROrder.State.ACCEPTED:
        raise conflict("invalid_state", f"Resource '{order.pk}' is {order.state}.", "orderId")
    items = {item.item_id: item for item in order.items.all()}
    wanted: dict[str, list[int]] = {}
    for raw in raw_items:
        item_id, quantity, cancel = _item(raw)
        if item_id not in items:
            raise invalid("itemId", f"Item {item_id} is not an item of order {order.pk}.")
        counts = wanted.setdefault(item_id, [0, 0])
        counts[0] += quantity
        counts[1] += cancel
    for item_id, (quantity, cancel) in wanted.items():
        item = items[item_id]
        left = item.quantity - item.fulfilled_quantity - item.cancelled_quantity
        if quantity + cancel > left:
            raise invalid(
                "quantity" if quantity else "cancelQuantity",
                f"Item {item_id} has {left} unit(s) left to fulfil or cancel, not {quantity + cancel}.",
            )
    shipment = {}
    for name in SHIPMENT_FIELDS:
        if body.get(name) is not None:
            if not isinstance(body[name], str):
                raise invalid(name, f"{name} must be a string.")
            shipment[name] = body[name]
    fulfillment = DRFulfillment.objects.create(
        order=order,
        items=[
            {
                "itemId": item_id,
                "skuId": items[item_id].sku_id,
                "quantity": quantity,
                "cancelQuantity": cancel,
            }
            for item_id, (quantity, cancel) in wanted.items()
        ],
        shipment=shipment,
        metadata=metadata_of(body.get("metadata")),
        created_at=sandbox_now(),
    )
    _apply(order, fulfillment, [(items[item_id], q, c) for item_id, (q, c) in wanted.items()])
    return fulfillment


def _item(raw: Any) -> tuple[str, int, int]:
    if not isinstance(raw, dict):
        raise invalid("items", "Each item must be an object.")
    refuse_unknown(raw, ITEM_FIELDS, "an item")
    item_id = required_string(raw, "itemId")
    quantity, cancel = (
        _count(raw.get("quantity"), "quantity"),
        _count(raw.get("cancelQuantity"), "cancelQuantity"),
    )
    if not quantity and not cancel:
        raise invalid("items", f"Item {item_id} needs a quantity to fulfil or a cancelQuantity to cancel.")
    return item_id, quantity, cancel


def _count(value: Any, name: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise invalid(name, f"{name} must be a whole number of 0 or more.")
    return value


def _apply(order: DROrder, fulfillment: DRFulfillment, handled: list) -> None:
    now = sandbox_now()
    captures, cancels = [], []
    for item, quantity, cancel in handled:
        done = item.fulfilled_quantity + item.cancelled_quantity
        capture = ledger.share(item.amount, done + quantity, item.quantity) - ledger.share(
            item.amount, done, item.quantity
        )
        cancelled = ledger.share(item.amount, done + quantity + cancel, item.quantity) - ledger.share(
            item.amount, done + quantity, item.quantity
        )
        item.fulfilled_quantity += quantity
        item.cancelled_quantity += cancel
        if quantity:
            item.fulfilled_at = now
        if cancel:
            item.cancelled_at = now
        captures.append((item, capture))
        cancels.append((item, cancelled))
    emit("fulfillment.created", fulfillment_json(fulfillment, details=True))
    charge = order.charges.select_related("source").first()
    recorded = {
        "currency": order.currency,
        "customer_id": order.customer_id,
        "order_id": order.pk,
        "fulfillment_id": fulfillment.pk,
    }
    capture_total = sum((amount for _, amount in captures), Decimal(0))
    if charge is not None and capture_total > 0:
        source = DRSource.objects.select_for_update().get(pk=charge.source_id)
        recorded["source_id"] = source.pk
        failed = take_failure(source, DRSource.Stage.CAPTURE)
        DRChargeOperation.objects.create(
            charge=charge,
            kind=DRChargeOperation.Kind.CAPTURE,
            amount=capture_total,
            state="failed" if failed else "complete",
            failure_code=CAPTURE_FAILURE[0] if failed else "",
            failure_message=CAPTURE_FAILURE[1] if failed else "",
            fulfillment=fulfillment,
            created_at=now,
        )
        if failed:
            ledger.record(ledger.Kind.CAPTURE_FAILED, captures, **recorded)
        else:
            for item, amount in captures:
                item.captured_amount += amount
            ledger.record(ledger.Kind.CAPTURE, captures, **recorded)
    cancel_total = sum((amount for _, amount in cancels), Decimal(0))
    if charge is not None and cancel_total > 0:
        recorded["source_id"] = charge.source_id
        DRChargeOperation.objects.create(
            charge=charge,
            kind=DRChargeOperation.Kind.CANCEL,
            amount=cancel_total,
            fulfillment=fulfillment,
            created_at=now,
        )
        for item, amount in cancels:
            item.cancelled_amount += amount
        ledger.record(ledger.Kind.CANCEL, cancels, **recorded)
    for item, _, _ in handled:
        item.save()
    items = list(order.items.all())
    settled = all(item.fulfilled_quantity + item.cancelled_quantity >= item.quantity for item in items)
    if charge is not None:
        _settle_charge(charge, settled)
        if capture_total > 0:
            failed_now = charge.operations.filter(fulfillment=fulfillment, kind="capture", state="failed")
            kind = "failed" if failed_now.exists() else "complete"
            emit(f"order.charge.capture.{kind}", charge_json(charge))
        if cancel_total > 0:
            emit("order.charge.cancel.complete", charge_json(charge))
    order.updated_at = now
    if not settled:
        order.save(update_fields=["updated_at"])
        return
    if any(item.fulfilled_quantity for item in items):
        _move(order, DROrder.State.FULFILLED, now)
        emit("order.fulfilled", order_json(order))
        failed_any = charge is not None and charge.operations.filter(kind="capture", state="failed").exists()
        if not failed_any:
            _move(order, DROrder.State.COMPLETE, now)
            emit("order.complete", order_json(order))
    else:
        _move(order, DROrder.State.CANCELLED, now)
        emit("order.cancelled", order_json(order))


def _move(order: DROrder, state: str, now) -> None:
    order.state = state
    order.state_transitions = {**order.state_transitions, state: time(now)}
    order.save(update_fields=["state", "state_transitions", "updated_at"])


def _settle_charge(charge: DRCharge, settled: bool) -> None:
    """capturable while units are open; then complete (something captured), cancelled or failed."""
    if not settled:
        return
    operations = list(charge.operations.all())
    captured = any(op.kind == "capture" and op.state == "complete" for op in operations)
    cancelled = sum((op.amount for op in operations if op.kind == "cancel"), Decimal(0))
    if captured:
        state = DRCharge.State.COMPLETE
    elif cancelled >= charge.amount:
        state = DRCharge.State.CANCELLED
    else:
        state = DRCharge.State.FAILED
    charge.state, charge.updated_at = state, sandbox_now()
    charge.save(update_fields=["state", "updated_at"])
