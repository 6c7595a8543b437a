"""POST /refunds: giving back captured money, as "Issuing refunds" describes it.

A RefundRequest names the `currency` (required) and an `orderId` or, for an invoice of the
subscription service, an `invoiceId`. A product refund omits `type`; it gives back an `amount`,
a `percent` (0.01 to 100) of the availableToRefundAmount, or, per order item, `items[]`
(`itemId`, optional `quantity` up to the item's, and an `amount` or `percent` of what remains of
that item); `reason` and `metadata` are kept. Preconditions, refused with nothing changed:
- only captured money is refundable: availableToRefundAmount is the captured amount minus the
  pending and succeeded refunds; more than that is 400 invalid_parameter on `amountRequested`
  ("The requested refund amount is greater than the available amount.", as documented), and so
  is a refund of an order or invoice nothing was captured of;
- the currency must be the order's (or invoice's): 400 invalid_parameter on currency
  ("Currency EUR is not supported.", as documented).
The refund is `pending` (201, refundedAmount 0, refund.pending) and then completes:
`succeeded`, refundedAmount set (refund.complete), the order's refundedAmount and the ledger
(a refund row per item) follow. REFUNDS_COMPLETE_AT_ONCE (default) completes it in the same
request; otherwise it stays pending until complete() (sandbox_dr refund --refund ID [--fail]),
and a failed refund (refund.failed) gives its amount back to availableToRefundAmount.

Sandbox choices where Digital River is SILENT: `type` (shipping, tax, duty, importer_tax,
fees) refunds a cost the sandbox never charges: 400 invalid_parameter on type; any other value
(such as "orderLevel") is not in the schema's enum: 400 invalid_parameter on type too. Both an
orderId and an invoiceId, or an amount with a percent or with items: 400 invalid_request. An
unknown order or invoice is 400 invalid_parameter (the operation documents no 404). An invoice
is refunded by amount or percent, not per item. A percent amount is rounded half up to the cent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.digitalriver import ledger
from vendors.sandbox.digitalriver.checkouts import metadata_of, money
from vendors.sandbox.digitalriver.errors import (
    DRError,
    conflict,
    invalid,
    missing,
    refuse_unknown,
    required_string,
)
from vendors.sandbox.digitalriver.events import emit
from vendors.sandbox.digitalriver.models import DRCharge, DRInvoice, DROrder, DROrderItem, DRRefund
from vendors.sandbox.digitalriver.render import refund_json

REFUNDS_COMPLETE_AT_ONCE = True
FIELDS = {"amount", "currency", "invoiceId", "items", "metadata", "orderId", "percent", "reason", "type"}
ITEM_FIELDS = {"amount", "itemId", "percent", "quantity", "skuId", "type"}
COST_TYPES = ("shipping", "tax", "duty", "importer_tax", "fees")
TOO_MUCH = "The requested refund amount is greater than the available amount."


def create(body: dict) -> tuple[DRRefund, dict]:
    """Check the request, make the refund: (the refund, its JSON as made, pending)."""
    refuse_unknown(body, FIELDS, "a refund")
    currency = required_string(body, "currency", "currency must be a three-letter code.")
    order_id, invoice_id = body.get("orderId"), body.get("invoiceId")
    if order_id and invoice_id:
        raise DRError(
            400, "invalid_request", "A refund names an orderId or an invoiceId, not both.", "invoiceId"
        )
    if not order_id and not invoice_id:
        raise missing("orderId", "orderId (or invoiceId) is required.")
    if body.get("type") is not None:
        kind = body["type"]
        if kind in COST_TYPES:
            raise invalid("type", f"There is no {kind} amount to refund: the sandbox charges none.")
        raise invalid(
            "type", f"type must be one of {', '.join(COST_TYPES)}, or left out for a product refund."
        )
    reason = body.get("reason") or ""
    if not isinstance(reason, str) or len(reason) > 64:
        raise invalid("reason", "reason is a string of at most 64 characters.")
    amount, percent = money(body.get("amount"), "amount"), _percent(body.get("percent"), "percent")
    items = body.get("items")
    given = [
        name
        for name, value in (("amount", amount), ("percent", percent), ("items", items))
        if value is not None
    ]
    if not given:
        raise missing("amount", "A refund needs an amount, a percent or items.")
    if len(given) > 1:
        raise DRError(
            400,
            "invalid_request",
            f"Give one of amount, percent or items, not {' and '.join(given)}.",
            given[1],
        )
    metadata = metadata_of(body.get("metadata"))
    if order_id:
        order = DROrder.objects.select_for_update().filter(pk=str(order_id)).first()
        if order is None:
            raise invalid("orderId", f"Order {order_id} not found.")
        _same_currency(currency, order.currency)
        charge = order.charges.first()
        lines = list(order.items.all())
        available = {item.item_id: item.captured_amount - item.refunded_amount for item in lines}
        target: dict[str, Any] = {"order": order}
    else:
        invoice = DRInvoice.objects.select_for_update().filter(pk=str(invoice_id)).first()
        if invoice is None:
            raise invalid("invoiceId", f"Invoice {invoice_id} not found.")
        _same_currency(currency, invoice.currency)
        if items is not None:
            raise invalid("items", "An invoice is refunded by amount or percent.")
        charge = invoice.charges.filter(state=DRCharge.State.COMPLETE).first()
        lines = invoice.items
        available = _invoice_available(invoice, charge)
        target = {"invoice": invoice}
    if items is not None:
        requested, allocation, asked = _items(items, lines, available)
    else:
        total = sum(available.values(), Decimal(0))
        requested = amount if amount is not None else ledger.cents(total * percent / 100)
        if requested <= 0 or requested > total:
            raise invalid("amountRequested", TOO_MUCH)
        keys = list(available)
        shares = ledger.allocate(requested, [available[key] for key in keys])
        allocation = [
            {"itemId": key, "amount": str(part)} for key, part in zip(keys, shares, strict=True) if part
        ]
        asked = []
    if charge is None:
        raise invalid("amountRequested", TOO_MUCH)
    now = sandbox_now()
    refund = DRRefund.objects.create(
        charge=charge,
        currency=currency.upper(),
        amount=requested,
        percent=percent,
        reason=reason,
        items=asked,
        allocation=allocation,
        metadata=metadata,
        created_at=now,
        updated_at=now,
        **target,
    )
    _reserve(refund, sign=1)
    made = refund_json(refund)
    emit("refund.pending", made)
    if REFUNDS_COMPLETE_AT_ONCE:
        complete(refund)
    return refund, made


def _same_currency(currency: str, expected: str) -> None:
    if currency.upper() != expected.upper():
        raise invalid("currency", f"Currency {currency} is not supported.")


def _percent(value: Any, name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(name, f"{name} must be a number.")
    percent = Decimal(str(value))
    if not Decimal("0.01") <= percent <= 100:
        raise invalid(name, f"{name} must be between 0.01 and 100.")
    return percent


def _items(raw_items: Any, lines: list[DROrderItem], available: dict[str, Decimal]) -> tuple:
    if not isinstance(raw_items, list) or not raw_items:
        raise invalid("items", "items must list the items to refund.")
    by_id = {line.item_id: line for line in lines}
    allocation, asked, total = [], [], Decimal(0)
    left = dict(available)
    for raw in raw_items:
        if not isinstance(raw, dict):
            raise invalid("items", "Each item must be an object.")
        refuse_unknown(raw, ITEM_FIELDS, "an item")
        item_id = raw.get("itemId")
        if not item_id:
            raise missing("itemId")
        line = by_id.get(item_id)
        if line is None:
            raise invalid("itemId", f"Item {item_id} is not an item of the order.")
        if raw.get("type") is not None:
            raise invalid(
                "type", "The sandbox charges no shipping, fees or duty: refund the product (no type)."
            )
        quantity = raw.get("quantity")
        if quantity is not None and (
            isinstance(quantity, bool) or not isinstance(quantity, int) or not 1 <= quantity <= line.quantity
        ):
            raise invalid("quantity", f"quantity must be between 1 and the item's quantity, {line.quantity}.")
        amount, percent = money(raw.get("amount"), "amount"), _percent(raw.get("percent"), "percent")
        if (amount is None) == (percent is None):
            raise missing("amount", "Each item needs an amount or a percent.")
        if amount is None:
            base = ledger.share(left[item_id], quantity or line.quantity, line.quantity)
            amount = ledger.cents(base * percent / 100)
        if amount <= 0 or amount > left[item_id]:
            raise invalid("amountRequested", TOO_MUCH)
        left[item_id] -= amount
        total += amount
        allocation.append({"itemId": item_id, "amount": str(amount)})
        asked.append(
            {
                "itemId": item_id,
                "skuId": line.sku_id,
                "quantity": quantity or line.quantity,
                "amount": str(amount),
            }
        )
    return total, allocation, asked


def _invoice_available(invoice: DRInvoice, charge: DRCharge | None) -> dict[str, Decimal]:
    """What remains refundable of each invoice item: its amount, less pending and succeeded refunds."""
    if charge is None:
        return {item["id"]: Decimal(0) for item in invoice.items}
    left = {item["id"]: Decimal(str(item["amount"])) for item in invoice.items}
    for refund in invoice.refunds.exclude(state=DRRefund.State.FAILED):
        for part in refund.allocation:
            left[part["itemId"]] -= Decimal(part["amount"])
    return left


def _reserve(refund: DRRefund, *, sign: int) -> None:
    """Pending and succeeded refunds count against the order items' availableToRefundAmount."""
    if refund.order_id is None:
        return
    items = {item.item_id: item for item in refund.order.items.all()}
    for part in refund.allocation:
        item = items[part["itemId"]]
        item.refunded_amount += sign * Decimal(part["amount"])
        item.save(update_fields=["refunded_amount"])


def complete(refund: DRRefund, *, fail: bool = False, reason: str = "") -> DRRefund:
    """A pending refund succeeds (refund.complete, the ledger) or fails (refund.failed)."""
    if refund.state != DRRefund.State.PENDING:
        raise conflict("invalid_state", f"Refund {refund.pk} is {refund.state}, not pending.", "state")
    now = sandbox_now()
    if fail:
        refund.state, refund.failure_reason = DRRefund.State.FAILED, reason or "The refund was declined."
        refund.updated_at = now
        refund.save()
        _reserve(refund, sign=-1)
        emit("refund.failed", refund_json(refund))
        return refund
    refund.state, refund.refunded_amount, refund.updated_at = DRRefund.State.SUCCEEDED, refund.amount, now
    refund.save()
    target = refund.order or refund.invoice
    if refund.order_id:
        lines = {item.item_id: item for item in refund.order.items.all()}
    else:
        lines = {item["id"]: item for item in refund.invoice.items}
    subscription_id = refund.invoice.subscription_id if refund.invoice_id else None
    ledger.record(
        ledger.Kind.REFUND,
        [(lines[part["itemId"]], Decimal(part["amount"])) for part in refund.allocation],
        currency=refund.currency,
        customer_id=target.customer_id,
        order_id=refund.order_id or "",
        invoice_id=refund.invoice_id or "",
        refund_id=refund.pk,
        period_end=refund.invoice.period_end if refund.invoice_id else None,
        source_id=refund.charge.source_id,
        subscription_id=subscription_id,
    )
    emit("refund.complete", refund_json(refund))
    return refund
