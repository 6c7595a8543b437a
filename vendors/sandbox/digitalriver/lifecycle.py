"""Digital River subscriptions over time: activation, cancellation, renewal, reminders, failures, lapse.

The lifecycle of vendors.md 3, on the sandbox clock:
- activation (`{"state": "active"}` exactly, else 409 restricted_update) fills the four dates:
  contractBindingUntil = now + contractBindingDays, currentPeriodEndDate = now + one period,
  nextInvoiceDate = end - billingOffsetDays, nextReminderDate = end - reminderOffsetDays;
  a free-trial subscription becomes activeFree;
- on nextReminderDate, subscription.reminder, once per period (data: the subscription and the
  draft invoice it opens);
- a failed renewal payment leaves the subscription activePendingInvoice
  (subscription.payment_failed); when collectionPeriodDays pass from that first failure without
  a payment, it is failed (subscription.failed);
- lapse (a source that was never fixed) is triggered by hand: subscription.lapsed;
- a deactivated plan ends its subscriptions at their next invoice date.

Activation takes the acquisition order's primary source as the subscription's sourceId. Orders
never move a subscription: a renewal order the back office makes is only charged. Time-driven changes are applied by run_due(), which every Digital River request,
the pay page and every move of the sandbox clock call.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.db.models import F, Q

from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.digitalriver.errors import DRError, conflict, invalid
from vendors.sandbox.digitalriver.events import emit
from vendors.sandbox.digitalriver.render import draft_invoice_json, subscription_json
from vendors.sandbox.models import DRPlan, DRSubscription

State = DRSubscription.State
DATE_FIELDS = {
    "contractBindingUntil": "contract_binding_until",
    "currentPeriodEndDate": "current_period_end_date",
    "nextInvoiceDate": "next_invoice_date",
    "nextReminderDate": "next_reminder_date",
}
# What POST /subscriptions/{id} may change besides the state (UpdateSubscriptionRequest).
UPDATABLE = {"metadata", "sourceId", "locale", "applicationId"}
NOT_HERE = {"planId", "items"}


def _now() -> datetime:
    # Digital River's times have whole seconds; the stored dates match what the API shows.
    return sandbox_now().replace(microsecond=0)


def period(plan: DRPlan, count: int = 1) -> relativedelta:
    return relativedelta(**{f"{plan.interval}s": plan.interval_count * count})


def _snapshot(subscription: DRSubscription, *names: str) -> dict:
    body = subscription_json(subscription)
    return {name: body.get(name) for name in names}


def _set_dates(subscription: DRSubscription, end: datetime) -> None:
    plan = subscription.plan
    subscription.current_period_end_date = end
    subscription.next_invoice_date = end - timedelta(days=plan.billing_offset_days or 0)
    subscription.next_reminder_date = (
        None if plan.reminder_offset_days is None else end - timedelta(days=plan.reminder_offset_days)
    )


def _save(subscription: DRSubscription) -> None:
    subscription.updated_at = _now()
    subscription.save()


# --- Requests (POST /subscriptions/{id}) -------------------------------------------------------------


def update(subscription: DRSubscription, body: dict) -> DRSubscription:
    """POST /subscriptions/{id}: a state change with nothing else, or a change of metadata or source."""
    if "state" in body:
        state = body["state"]
        others = [name for name in body if name != "state"]
        if state not in ("active", "cancelled"):
            raise invalid("state", "state can be set to active or cancelled.")
        if others:
            raise conflict(
                "restricted_update",
                f"Additional data cannot be updated when updating state to {state}.",
                others[0],
            )
        return activate(subscription) if state == "active" else cancel(subscription)
    unknown = sorted(set(body) - UPDATABLE - NOT_HERE)
    if unknown:
        raise DRError(
            400, "unknown_parameter", f"{unknown[0]} is not a parameter of this request.", unknown[0]
        )
    fixed = sorted(set(body) & NOT_HERE)
    if fixed:
        # A new plan or new items are a new agreement: a new customer-initiated checkout (002).
        raise invalid(fixed[0], f"The sandbox does not change {fixed[0]}; sell the change in a new checkout.")
    previous = _snapshot(subscription, "metadata", "sourceId")
    if "metadata" in body:
        if not isinstance(body["metadata"], dict):
            raise invalid("metadata", "metadata must be an object.")
        subscription.metadata = body["metadata"]
    if "sourceId" in body:
        if not isinstance(body["sourceId"], str) or not body["sourceId"]:
            raise invalid("sourceId", "sourceId must be a source id.")
        subscription.source_id = body["sourceId"]
    _save(subscription)
    emit("subscription.updated", subscription_json(subscription), previous)
    return subscription


def activate(subscription: DRSubscription) -> DRSubscription:
    """Draft to active (activeFree for a free trial), filling the four dates; again: no change."""
    if subscription.state in (State.ACTIVE, State.ACTIVE_FREE):
        return subscription
    if subscription.state != State.DRAFT:
        raise conflict(
            "invalid_request", f"A {subscription.state} subscription cannot be activated.", "state"
        )
    now, plan = _now(), subscription.plan
    previous = {"state": subscription.state}
    if subscription.free_trial:
        subscription.state, subscription.activated_free_at = State.ACTIVE_FREE, now
    else:
        subscription.state, subscription.activated_at = State.ACTIVE, now
    subscription.periods = 1
    # Digital River takes the acquisition order's primary source for the renewals.
    order = subscription.acquisition_order
    if order is not None and order.source_id:
        subscription.source_id = order.source_id
    subscription.contract_binding_until = now + timedelta(days=plan.contract_binding_days)
    _set_dates(subscription, now + period(plan))
    _save(subscription)
    emit("subscription.updated", subscription_json(subscription), previous)
    return subscription


def cancel(subscription: DRSubscription) -> DRSubscription:
    """Only active, activeFree and activePendingInvoice subscriptions can be cancelled (the open invoice is void)."""
    if subscription.state not in DRSubscription.LIVE:
        raise conflict(
            "invalid_request",
            f"Only active, activeFree and activePendingInvoice subscriptions can be cancelled, "
            f"not a {subscription.state} one.",
            "state",
        )
    previous = {"state": subscription.state}
    subscription.state, subscription.cancelled_at = State.CANCELLED, _now()
    subscription.payment_failed_at = None
    _save(subscription)
    emit("subscription.updated", subscription_json(subscription), previous)
    return subscription


# --- Payments ----------------------------------------------------------------------------------------


def extend(subscription: DRSubscription) -> DRSubscription:
    """A renewal was captured: one more period, active again (subscription.extended)."""
    previous = _snapshot(subscription, "state", *DATE_FIELDS)
    anchor = subscription.activated_at or subscription.activated_free_at or _now()
    subscription.periods += 1
    _set_dates(subscription, anchor + period(subscription.plan, subscription.periods))
    if subscription.state != State.ACTIVE:
        subscription.state = State.ACTIVE
        subscription.activated_at = subscription.activated_at or _now()
    subscription.payment_failed_at = None
    _save(subscription)
    emit("subscription.extended", subscription_json(subscription), previous)
    return subscription


def payment_failed(subscription: DRSubscription) -> DRSubscription:
    """A renewal payment failed: the invoice stays open (activePendingInvoice) for the collection period."""
    previous = {"state": subscription.state}
    if subscription.state in (State.ACTIVE, State.ACTIVE_FREE):
        subscription.state = State.ACTIVE_PENDING_INVOICE
    subscription.payment_failed_at = subscription.payment_failed_at or _now()
    _save(subscription)
    emit("subscription.payment_failed", subscription_json(subscription), previous)
    return subscription


def lapse(subscription: DRSubscription) -> DRSubscription:
    """The payment source was not fixed within the grace period: lapsed (subscription.lapsed)."""
    if subscription.state not in DRSubscription.LIVE:
        raise conflict(
            "invalid_request", f"Only a live subscription can lapse, not a {subscription.state} one.", "state"
        )
    previous = {"state": subscription.state}
    subscription.state, subscription.lapsed_at = State.LAPSED, _now()
    _save(subscription)
    emit("subscription.lapsed", subscription_json(subscription), previous)
    return subscription


# --- Time ----------------------------------------------------------------------------------------


def run_due(now: datetime | None = None) -> dict[str, int]:
    """Apply what the clock has made due: reminders, failures after the collection period, ends.

    Safe to run concurrently: each change is claimed by a conditional update first. Returns how
    many of each happened.
    """
    now = now or sandbox_now()
    done = {"reminders": 0, "failed": 0, "ended": 0}
    with transaction.atomic():
        live = DRSubscription.objects.filter(state__in=DRSubscription.LIVE).select_related("plan")
        due_reminders = live.filter(next_reminder_date__lte=now).filter(
            Q(reminded_period_end__isnull=True) | ~Q(reminded_period_end=F("current_period_end_date"))
        )
        for subscription in due_reminders:
            claimed = DRSubscription.objects.filter(
                pk=subscription.pk, current_period_end_date=subscription.current_period_end_date
            ).exclude(reminded_period_end=subscription.current_period_end_date)
            if claimed.update(reminded_period_end=subscription.current_period_end_date):
                subscription.reminded_period_end = subscription.current_period_end_date
                emit(
                    "subscription.reminder",
                    {
                        "subscription": subscription_json(subscription),
                        "invoice": draft_invoice_json(subscription),
                    },
                )
                done["reminders"] += 1
        unpaid = live.filter(state=State.ACTIVE_PENDING_INVOICE, payment_failed_at__isnull=False)
        for subscription in unpaid:
            if (
                subscription.payment_failed_at + timedelta(days=subscription.plan.collection_period_days or 0)
                > now
            ):
                continue
            if _move(subscription, State.FAILED, "failed_at", now):
                emit(
                    "subscription.failed",
                    subscription_json(subscription),
                    {"state": State.ACTIVE_PENDING_INVOICE},
                )
                done["failed"] += 1
        ending = live.filter(plan__state=DRPlan.State.DEACTIVATED, next_invoice_date__lte=now)
        for subscription in ending:
            previous = subscription.state
            if _move(subscription, State.ENDED, "ended_at", now):
                emit("subscription.updated", subscription_json(subscription), {"state": previous})
                done["ended"] += 1
    return done


def _move(subscription: DRSubscription, state: str, stamp: str, now: datetime) -> bool:
    """Move a subscription to `state` unless another run did it first."""
    moved = DRSubscription.objects.filter(pk=subscription.pk, state=subscription.state).update(
        state=state, **{stamp: now.replace(microsecond=0)}, updated_at=now
    )
    if moved:
        subscription.refresh_from_db()
    return bool(moved)


def describe(done: dict[str, int]) -> str:
    return ", ".join(f"{count} {name}" for name, count in done.items() if count) or "nothing due"
