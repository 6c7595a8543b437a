"""Digital River's objects as the back office reads them: frozen dataclasses with money as Decimal,
times as aware UTC datetimes and the parsed JSON in `raw`, and one `*_from` function per object,
for API answers and webhook events' `data.object` alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from vendors.errors import VendorError
from vendors.http import parse_decimal, parse_time

VENDOR = "digitalriver"


@dataclass(frozen=True)
class DRPlan:
    id: str
    name: str
    terms: str
    interval: str
    interval_count: int | None
    contract_binding_days: int | None
    reminder_offset_days: int | None
    billing_offset_days: int | None
    collection_period_days: int | None
    state: str
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class DRCheckoutSession:
    """A Prebuilt Checkout session: `link` is where the customer pays."""

    id: str
    link: str
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class DRCheckout:
    id: str
    total_amount: Decimal | None
    charge_type: str
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class DROrderItem:
    id: str
    sku_id: str
    quantity: int
    amount: Decimal | None
    subscription_id: str | None
    billing_agreement_id: str | None
    plan_id: str | None


@dataclass(frozen=True)
class DROrder:
    id: str
    state: str
    checkout_id: str | None
    upstream_id: str | None
    customer_id: str | None
    charge_type: str | None
    total_amount: Decimal | None
    currency: str
    items: tuple[DROrderItem, ...]
    source_ids: tuple[str, ...] = ()
    captured_amount: Decimal | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def primary_source_id(self) -> str | None:
        return self.source_ids[0] if self.source_ids else None


@dataclass(frozen=True)
class DRCharge:
    """A charge of an order, as `order.charge.*` events carry it (not an order)."""

    id: str
    order_id: str | None
    state: str
    amount: Decimal | None
    captured_amount: Decimal
    source_id: str | None
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class DRFulfillment:
    id: str
    order_id: str | None
    items: tuple[dict, ...]
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class DRSource:
    """A payment source; for a credit card, its brand, last four digits and expiry."""

    id: str
    type: str
    reusable: bool
    state: str
    customer_id: str | None
    brand: str
    last_four: str
    expiration_month: int | None
    expiration_year: int | None
    raw: dict = field(default_factory=dict, repr=False)

    def expires_before(self, when: datetime) -> bool:
        """Whether the card can no longer be charged at `when` (cards run to the end of their month)."""
        if not (self.expiration_year and self.expiration_month):
            return False
        return (self.expiration_year, self.expiration_month) < (when.year, when.month)


@dataclass(frozen=True)
class DRInvoice:
    id: str
    state: str
    total_amount: Decimal | None
    currency: str
    order_id: str | None
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class DRRefund:
    id: str
    state: str
    amount: Decimal | None
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class DRSubscriptionItem:
    sku_id: str | None
    quantity: int | None
    price: Decimal | None
    aggregate_price: Decimal | None


@dataclass(frozen=True)
class DRSubscription:
    """A subscription; the four dates are None until it is activated."""

    id: str
    state: str
    plan_id: str | None
    customer_id: str | None
    billing_agreement_id: str | None
    source_id: str | None
    contract_binding_until: datetime | None
    current_period_end_date: datetime | None
    next_invoice_date: datetime | None
    next_reminder_date: datetime | None
    items: tuple[DRSubscriptionItem, ...]
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class DREvent:
    id: str
    type: str
    created_time: datetime | None
    data_object: dict = field(repr=False)
    previous_attributes: dict = field(repr=False)
    raw: dict = field(default_factory=dict, repr=False)


def plan_from(data: Any) -> DRPlan:
    _need(data, "plan")
    return DRPlan(
        id=str(data["id"]),
        name=_text(data.get("name")),
        terms=_text(data.get("terms")),
        interval=_text(data.get("interval")),
        interval_count=_int(data.get("intervalCount")),
        contract_binding_days=_int(data.get("contractBindingDays")),
        reminder_offset_days=_int(data.get("reminderOffsetDays")),
        billing_offset_days=_int(data.get("billingOffsetDays")),
        collection_period_days=_int(data.get("collectionPeriodDays")),
        state=_text(data.get("state")),
        raw=data,
    )


def checkout_from(data: Any) -> DRCheckout:
    _need(data, "checkout")
    return DRCheckout(
        id=str(data["id"]),
        total_amount=parse_decimal(data.get("totalAmount")),
        charge_type=_text(data.get("chargeType")),
        raw=data,
    )


def order_from(data: Any) -> DROrder:
    _need(data, "order")
    items = data.get("items") if isinstance(data.get("items"), list) else []
    return DROrder(
        id=str(data["id"]),
        state=_text(data.get("state")),
        checkout_id=_optional(data.get("checkoutId")),
        upstream_id=_optional(data.get("upstreamId")),
        customer_id=_optional(data.get("customerId")),
        charge_type=_optional(data.get("chargeType")),
        total_amount=parse_decimal(data.get("totalAmount")),
        currency=_text(data.get("currency")),
        items=tuple(_order_item(item) for item in items if isinstance(item, dict)),
        source_ids=tuple(
            str(source["id"])
            for source in _dicts((data.get("payment") or {}).get("sources"))
            if source.get("id")
        ),
        captured_amount=parse_decimal(data.get("capturedAmount")),
        raw=data,
    )


def charge_from(data: Any) -> DRCharge:
    """A charge from an `order.charge.capture.*` event; the captured amount sums complete captures."""
    _need(data, "charge")
    captured = sum(
        (
            parse_decimal(capture.get("amount")) or Decimal(0)
            for capture in _dicts(data.get("captures"))
            if capture.get("state") == "complete"
        ),
        Decimal(0),
    )
    return DRCharge(
        id=str(data["id"]),
        order_id=_optional(data.get("orderId")),
        state=_text(data.get("state")),
        amount=parse_decimal(data.get("amount")),
        captured_amount=captured,
        source_id=_optional(data.get("sourceId")),
        raw=data,
    )


def fulfillment_from(data: Any) -> DRFulfillment:
    _need(data, "fulfillment")
    return DRFulfillment(
        id=str(data["id"]),
        order_id=_optional(data.get("orderId")),
        items=tuple(_dicts(data.get("items"))),
        raw=data,
    )


def source_from(data: Any) -> DRSource:
    _need(data, "source")
    card = data.get("creditCard") if isinstance(data.get("creditCard"), dict) else {}
    return DRSource(
        id=str(data["id"]),
        type=_text(data.get("type")),
        reusable=data.get("reusable") is True,
        state=_text(data.get("state")),
        customer_id=_optional(data.get("customerId")),
        brand=_text(card.get("brand")),
        last_four=_text(card.get("lastFourDigits")),
        expiration_month=_int(card.get("expirationMonth")),
        expiration_year=_int(card.get("expirationYear")),
        raw=data,
    )


def invoice_from(data: Any) -> DRInvoice:
    _need(data, "invoice")
    return DRInvoice(
        id=str(data["id"]),
        state=_text(data.get("state")),
        total_amount=parse_decimal(data.get("totalAmount")),
        currency=_text(data.get("currency")),
        order_id=_optional(data.get("orderId")),
        raw=data,
    )


def refund_from(data: Any) -> DRRefund:
    _need(data, "refund")
    return DRRefund(
        id=str(data["id"]), state=_text(data.get("state")), amount=parse_decimal(data.get("amount")), raw=data
    )


def _order_item(item: dict) -> DROrderItem:
    info = item.get("subscriptionInfo") if isinstance(item.get("subscriptionInfo"), dict) else {}
    return DROrderItem(
        id=_text(item.get("id")),
        sku_id=_text(item.get("skuId")),
        quantity=_int(item.get("quantity")) or 0,
        amount=parse_decimal(item.get("amount")),
        subscription_id=_optional(info.get("subscriptionId")),
        billing_agreement_id=_optional(info.get("billingAgreementId")),
        plan_id=_optional(info.get("planId")),
    )


def subscription_from(data: Any) -> DRSubscription:
    """A subscription, also from a `subscription.reminder` object ({"subscription", "invoice"})."""
    if isinstance(data, dict) and isinstance(data.get("subscription"), dict) and "id" not in data:
        data = data["subscription"]
    _need(data, "subscription")
    items = data.get("items") if isinstance(data.get("items"), list) else []
    return DRSubscription(
        id=str(data["id"]),
        state=_text(data.get("state")),
        plan_id=_optional(data.get("planId")),
        customer_id=_optional(data.get("customerId")),
        billing_agreement_id=_optional(data.get("billingAgreementId")),
        source_id=_optional(data.get("sourceId")),
        contract_binding_until=parse_time(data.get("contractBindingUntil")),
        current_period_end_date=parse_time(data.get("currentPeriodEndDate")),
        next_invoice_date=parse_time(data.get("nextInvoiceDate")),
        next_reminder_date=parse_time(data.get("nextReminderDate")),
        items=tuple(
            DRSubscriptionItem(
                sku_id=_optional(item.get("skuId")),
                quantity=_int(item.get("quantity")),
                price=parse_decimal(item.get("price")),
                aggregate_price=parse_decimal(item.get("aggregatePrice")),
            )
            for item in items
            if isinstance(item, dict)
        ),
        raw=data,
    )


def event_from(data: Any) -> DREvent:
    _need(data, "event")
    payload = data.get("data") if isinstance(data.get("data"), dict) else {}
    obj = payload.get("object") if isinstance(payload.get("object"), dict) else {}
    previous = (
        payload.get("previousAttributes") if isinstance(payload.get("previousAttributes"), dict) else {}
    )
    return DREvent(
        id=str(data["id"]),
        type=_text(data.get("type")),
        created_time=parse_time(data.get("createdTime")),
        data_object=obj,
        previous_attributes=previous,
        raw=data,
    )


def _dicts(value: Any) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _need(data: Any, what: str) -> None:
    if not isinstance(data, dict) or not data.get("id"):
        raise VendorError(VENDOR, "invalid_response", f"not a Digital River {what}", raw=data)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _optional(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None
