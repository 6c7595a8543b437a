"""Digital River's rules that need no database: acquisition items, terms, reminders, agreements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db import models

from billing.error_codes import BillingErrorCode
from core.errors import RuleViolation, ValidationFailed

# A reminder is due this many days before renewal, for terms longer than 30 days (domain.md).
REMINDER_DAYS = (30, 7, 1)
NOTICE_WITHIN = timedelta(hours=24)


class Interval(models.TextChoices):
    YEAR = "year", "Year"
    MONTH = "month", "Month"
    WEEK = "week", "Week"
    DAY = "day", "Day"


def period_delta(interval: str, count: int) -> relativedelta:
    """One billing period of a plan (calendar months and years, as Digital River bills them)."""
    return relativedelta(**{f"{interval}s": count})


def period_end(start: datetime, interval: str, count: int) -> datetime:
    return start + period_delta(interval, count)


def term_longer_than_30_days(interval: str, count: int) -> bool:
    """Whether renewal reminders are required: the shortest such period exceeds 30 days."""
    start = datetime(2001, 2, 1)  # February: a one-month term is never longer than 30 days
    return (start + period_delta(interval, count) - start) > timedelta(days=30)


def reminder_dates(renewal_on: date, interval: str, count: int) -> list[tuple[str, date]]:
    """(kind, send_on) for each reminder a renewal needs: 30 days before, then 7 and 1."""
    if not term_longer_than_30_days(interval, count):
        return []
    return [(f"reminder_{days}", renewal_on - timedelta(days=days)) for days in REMINDER_DAYS]


# A free trial's end is announced this long before it converts to paid (and at once when shorter).
TRIAL_REMINDER_DAYS = 7


def trial_reminder_date(trial_ends_on: date) -> date:
    """When the back office tells a customer their free trial ends and what will be charged."""
    return trial_ends_on - timedelta(days=TRIAL_REMINDER_DAYS)


# --- Acquisition items --------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One item of a checkout as the back office builds it, before it becomes Digital River's JSON."""

    sku_id: str
    price: Decimal
    quantity: int
    plan_id: str | None = None
    terms: str | None = None
    auto_renewal: bool | None = True
    free_trial: bool = False
    subscription_id: str | None = None
    # An external subscription (back-office engine): terms and our id, no planId at Digital River.
    external: bool = False

    @property
    def recurring(self) -> bool:
        return bool(self.plan_id) or self.external


def check_acquisition(lines: list[Line]) -> None:
    """Digital River's acquisition rules, applied before any vendor call, with its own codes."""
    recurring = [(i, line) for i, line in enumerate(lines) if line.recurring]
    if len({line.external for _, line in recurring}) > 1:
        raise RuleViolation(
            "A checkout sells subscriptions of one renewal engine: Digital River's subscription "
            "service or the back office. Sell the others in a separate checkout.",
            code=BillingErrorCode.ENGINE_MIXED,
            fields={"items": "Plans of both renewal engines."},
        )
    for i, line in recurring:
        if not line.terms:
            raise ValidationFailed(
                f"Item {i + 1}: the plan's terms must be sent; fetch the plan {line.plan_id} first.",
                code=BillingErrorCode.MISSING_PARAMETER,
                fields={f"items[{i}].subscriptionInfo.terms": "Required."},
            )
        if line.auto_renewal is False:
            raise ValidationFailed(
                f"Item {i + 1}: autoRenewal must be true or left out on an acquisition.",
                code=BillingErrorCode.INVALID_REQUEST,
                fields={f"items[{i}].subscriptionInfo.autoRenewal": "Must be true."},
            )
    if len({line.plan_id for _, line in recurring if not line.external}) > 1:
        raise RuleViolation(
            "Only one unique subscription plan can be supported in a checkout: sell the other plan in a "
            "separate checkout.",
            code=BillingErrorCode.PLAN_LIMIT_REACHED,
            fields={"planId": "All subscription items must share one plan."},
        )
    for i, line in enumerate(lines):
        if line.recurring and line.free_trial != (line.price * line.quantity == 0):
            raise ValidationFailed(
                "The value of the Free Trial flag is not consistent with the item price.",
                code=BillingErrorCode.INVALID_PARAMETER,
                fields={"items": f"Item {i + 1}: free trial and price disagree."},
            )


def acquisition_item(line: Line) -> dict:
    """A checkout-session item in Digital River's shape (terms sent, autoRenewal true); an external
    subscription's item carries no planId (third-party coordinated subscriptions)."""
    item = {"skuId": line.sku_id, "price": float(line.price), "quantity": line.quantity}
    if line.recurring:
        item["subscriptionInfo"] = {
            "planId": None if line.external else line.plan_id,
            "terms": line.terms,
            "autoRenewal": True,
            "freeTrial": line.free_trial,
            "subscriptionId": line.subscription_id,
        }
    return item


def renewal_item(
    *, sku_id: str, price: Decimal, quantity: int, subscription_id: str, billing_agreement_id: str, auto: bool
) -> dict:
    """A renewal checkout item: no terms (already agreed), the subscription and its agreement."""
    return {
        "skuId": sku_id,
        "price": float(price),
        "quantity": quantity,
        "subscriptionInfo": {
            "subscriptionId": subscription_id,
            "billingAgreementId": billing_agreement_id,
            "autoRenewal": auto,
        },
    }


def renewal_group_key(subscription) -> tuple:
    """Items of one acquisition with the same terms renew in one checkout, each item with the
    agreement it was given; different terms apart (and one payment source per checkout)."""
    return (
        subscription.acquisition_id,
        subscription.plan.terms,
        subscription.payment_source_id,
        subscription.auto_renewal,
    )


def renewal_charge_type(auto: bool) -> str:
    """Auto renewals are merchant-initiated; manual ones need the customer (customer_initiated)."""
    return "merchant_initiated" if auto else "customer_initiated"


# --- Billing agreement after a change -----------------------------------------------------------


class Change(models.TextChoices):
    PAYMENT_METHOD = "payment_method", "Payment method changed"
    METERED = "metered", "Metered billing"
    TRIAL_CONVERSION = "trial_conversion", "Free trial converts to paid"
    UPGRADE = "upgrade", "Upgrade to a higher service level"
    CYCLE = "cycle", "Billing cycle or duration changed"
    QUANTITY = "quantity", "Quantity changed"
    ADDED_SUBSCRIPTION = "added_subscription", "Subscription added"


SAME_AGREEMENT = {Change.PAYMENT_METHOD, Change.METERED, Change.TRIAL_CONVERSION}


def needs_new_agreement(change: str) -> bool:
    """A new billing agreement whenever the change is outside the agreed auto-renewal terms."""
    if change not in Change.values:
        raise ValidationFailed(f"Unknown change {change!r}.", fields={"change": f"One of {Change.values}."})
    return change not in SAME_AGREEMENT
