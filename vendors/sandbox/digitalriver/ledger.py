"""The sandbox's ledger: one row per item for every movement of money (DRLedgerEntry).

Authorizations (POST /orders), captures and failed captures (POST /fulfillments, and the
subscription service's invoice payments, which are captures with `invoice_id`), cancels, refunds
and declined invoice charges. Tests read it to prove what a customer was charged, and when a
subscription was charged twice for the same period.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.digitalriver.models import DRLedgerEntry

CENT = Decimal("0.01")
Kind = DRLedgerEntry.Kind


def cents(value: Decimal) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def share(total: Decimal, part: int, whole: int) -> Decimal:
    """`part` of `whole` units of `total`, to the cent; share(total, whole, whole) is exactly total."""
    if whole <= 0 or part <= 0:
        return Decimal("0.00")
    if part >= whole:
        return cents(total)
    return cents(Decimal(total) * part / whole)


def allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split `total` over `weights` proportionally, to the cent, the last taking the remainder."""
    total = cents(total)
    base = sum(weights, Decimal(0))
    if base <= 0:
        return [Decimal("0.00") for _ in weights]
    parts, given = [], Decimal("0.00")
    for index, weight in enumerate(weights):
        if index == len(weights) - 1:
            parts.append(total - given)
        else:
            part = min(cents(total * weight / base), total - given)
            parts.append(part)
            given += part
    return parts


def record(
    kind: str,
    rows: Iterable[tuple[object, Decimal]],
    *,
    currency: str,
    customer_id: str,
    order_id: str = "",
    invoice_id: str = "",
    fulfillment_id: str = "",
    refund_id: str = "",
    period_end: datetime | None = None,
    source_id: str = "",
    subscription_id: str | None = None,
) -> list[DRLedgerEntry]:
    """One entry per (item, amount): an order item (its subscriptionId) or a subscription item dict.

    Zero amounts are not written: no money moved.
    """
    now = sandbox_now()
    entries = []
    for item, amount in rows:
        if not amount:
            continue
        if isinstance(item, dict):  # a subscription item of an invoice
            item_id, sku_id, item_subscription = item.get("id", ""), item.get("skuId") or "", subscription_id
        else:
            item_id, sku_id, item_subscription = item.item_id, item.sku_id, item.subscription_id
        entries.append(
            DRLedgerEntry(
                kind=kind,
                amount=cents(amount),
                currency=currency,
                customer_id=customer_id,
                order_id=order_id,
                invoice_id=invoice_id,
                fulfillment_id=fulfillment_id,
                refund_id=refund_id,
                subscription_id=item_subscription or "",
                period_end=period_end,
                source_id=source_id,
                item_id=item_id or "",
                sku_id=sku_id or "",
                created_at=now,
            )
        )
    return DRLedgerEntry.objects.bulk_create(entries)


def captures_by_subscription() -> dict[str, list[tuple[object, Decimal]]]:
    """{subscription_id: [(period_end or order_id, amount captured), ...]} in the order charged.

    Captures of one subscription for the same invoice period or the same order add up into one
    entry: two entries for one period (an invoice and an order) are a double charge.
    """
    found: dict[str, dict[object, Decimal]] = {}
    captures = DRLedgerEntry.objects.filter(kind=Kind.CAPTURE).exclude(subscription_id="").order_by("seq")
    for entry in captures:
        key = entry.period_end if entry.invoice_id else entry.order_id
        per_key = found.setdefault(entry.subscription_id, {})
        per_key[key] = per_key.get(key, Decimal(0)) + entry.amount
    return {subscription: list(per_key.items()) for subscription, per_key in found.items()}
