"""Digital River's subscription service over time: activation, updates, reminders, invoices, lapse.

The lifecycle of vendors.md 3 and "Managing a subscription", on the sandbox clock:
- activation (`{"state": "active"}` exactly, else 409 restricted_update) fills the four dates:
  contractBindingUntil = now + contractBindingDays, currentPeriodEndDate = now + one period,
  nextInvoiceDate = end - billingOffsetDays, nextReminderDate = end - reminderOffsetDays; the
  acquisition order's primary source becomes the subscription's sourceId; a free-trial
  subscription becomes activeFree;
- on nextReminderDate, subscription.reminder, once per period (data: the subscription and the
  draft invoice it opens for the next period: totalAmount is the items' price x quantity, or
  aggregatePrice);
- THE SERVICE CHARGES ITSELF on nextInvoiceDate: it opens the invoice (activePendingInvoice)
  and charges and captures the sourceId at once (ledger: a capture with invoice_id and
  period_end). Paid: the invoice is `paid`, the subscription `active` (`activated` set when a
  trial converts), its period moves on one period of its plan: subscription.extended (data: the
  subscription and the paid invoice);
- a sourceId that is missing, not chargeable, not saved to the subscription's customer, or a card
  that expires before the invoice date: no invoice, no charge, subscription.source_invalid (the
  subscription stays active); replaced in time (POST sourceId) it is charged at once; not replaced
  within the plan's collectionPeriodDays: lapsed (subscription.lapsed);
- a declined charge: subscription.payment_failed (data: the subscription and the open invoice),
  retried once a day within collectionPeriodDays from the first failure; then the invoice is
  uncollectible and the subscription failed (subscription.failed). A new sourceId voids the open
  invoice; the next attempt opens a new one with the new source;
- an invoice of 0 (a free trial never priced, or items priced 0) charges nothing: the
  subscription is (or becomes) activeFree and its dates move on;
- a deactivated plan ends its subscriptions at their next invoice date;
- cancelling (`{"state": "cancelled"}` exactly) voids an open invoice.

POST /subscriptions/{id} also updates ("Updating subscriptions", in the states draft, active,
activeFree, activePendingInvoice; else 409 invalid_state): `sourceId` (active, activeFree or
activePendingInvoice only; a reusable chargeable source saved to the subscription's customer),
`planId` (an active plan; it controls the periods that follow the current one), `items`
(skuId or productDetails, price or aggregatePrice, quantity default 1; an invoice already open
keeps its amounts), metadata, locale, applicationId; subscription.updated. A negative
reminderOffsetDays on the plan stops the reminders from the next period on.

Orders never move a subscription: a renewal order the back office makes is only charged.
Everything time-driven is applied by run_due() (every Digital River request, the pages and each
move of the sandbox clock call it), repeatedly until nothing more is due, and is idempotent: one
live invoice per subscription and period (a unique key), each attempt claimed before it is made.

Sandbox choices where Digital River is SILENT: an invoice of 0 is not created (no event; a
change of state to activeFree is a subscription.updated); source_invalid and lapsed carry the
subscription alone; a source not saved to the customer is 400 invalid_parameter on sourceId;
invoices make no order (no orderId); the failed charge attempts of an invoice are its charges.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.db.models import F, Q

from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.digitalriver import ledger, sources
from vendors.sandbox.digitalriver.checkouts import metadata_of, money
from vendors.sandbox.digitalriver.errors import conflict, invalid, missing, refuse_unknown
from vendors.sandbox.digitalriver.events import emit
from vendors.sandbox.digitalriver.models import (
    DRCharge,
    DRChargeOperation,
    DRInvoice,
    DRPlan,
    DRSource,
    DRSubscription,
    new_dr_id,
)
from vendors.sandbox.digitalriver.render import invoice_json, subscription_json, time

State = DRSubscription.State
DATE_FIELDS = {
    "contractBindingUntil": "contract_binding_until",
    "currentPeriodEndDate": "current_period_end_date",
    "nextInvoiceDate": "next_invoice_date",
    "nextReminderDate": "next_reminder_date",
}
# What POST /subscriptions/{id} may change besides the state (UpdateSubscriptionRequest).
UPDATABLE = {"metadata", "sourceId", "locale", "applicationId", "planId", "items"}
UPDATABLE_STATES = (State.DRAFT, State.ACTIVE, State.ACTIVE_FREE, State.ACTIVE_PENDING_INVOICE)
ITEM_FIELDS = {"aggregatePrice", "metadata", "price", "productDetails", "quantity", "skuId"}
RETRY_EVERY = timedelta(days=1)
MAX_ROUNDS = 100  # run_due repeats until nothing is due: a long jump of the clock, period by period
DECLINED = ("failed-request", "Failed to charge source.")


def _now() -> datetime:
    # Digital River's times have whole seconds; the stored dates match what the API shows.
    return sandbox_now().replace(microsecond=0)


def period(plan: DRPlan, count: int = 1) -> relativedelta:
    return relativedelta(**{f"{plan.interval}s": plan.interval_count * count})


def _snapshot(subscription: DRSubscription, *names: str) -> dict:
    body = subscription_json(subscription)
    return {name: body.get(name) for name in names}


def _set_dates(subscription: DRSubscription, end: datetime) -> None:
    """The dates of a period ending at `end`, by the plan that controls it."""
    plan = subscription.period_plan or subscription.plan
    subscription.current_period_end_date = end
    subscription.next_invoice_date = end - timedelta(days=plan.billing_offset_days or 0)
    offset = plan.reminder_offset_days
    subscription.next_reminder_date = None if offset is None or offset < 0 else end - timedelta(days=offset)


def _save(subscription: DRSubscription) -> None:
    subscription.updated_at = _now()
    subscription.save()


def items_total(items: list[dict]) -> Decimal:
    """The subscription items' price x quantity (quantity 1 by default), or their aggregatePrice."""
    total = Decimal(0)
    for item in items:
        if item.get("aggregatePrice") is not None:
            total += Decimal(str(item["aggregatePrice"]))
        else:
            total += Decimal(str(item.get("price") or 0)) * int(item.get("quantity") or 1)
    return ledger.cents(total)


def _item_amount(item: dict) -> Decimal:
    return items_total([item])


# --- Requests (POST /subscriptions/{id}) -------------------------------------------------------------


def update(subscription: DRSubscription, body: dict) -> DRSubscription:
    """POST /subscriptions/{id}: a state change with nothing else, or an update (see the module)."""
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
    refuse_unknown(body, UPDATABLE, "this request")
    if subscription.state not in UPDATABLE_STATES:
        raise conflict(
            "invalid_state",
            f"Subscription {subscription.pk} is {subscription.state}: it cannot be updated.",
            "state",
        )
    changes: dict[str, Any] = {}
    if "metadata" in body:
        changes["metadata"] = metadata_of(body["metadata"], "metadata")
    for name in ("locale", "applicationId"):  # accepted; the sandbox keeps neither
        if body.get(name) is not None and not isinstance(body[name], str):
            raise invalid(name, f"{name} must be a string.")
    if "planId" in body:
        changes["plan"] = _update_plan(body["planId"])
    if "items" in body:
        changes["items"] = _update_items(body["items"])
    source = _update_source(subscription, body["sourceId"]) if "sourceId" in body else None
    previous = _snapshot(
        subscription, *(name for name in ("metadata", "planId", "items", "sourceId") if name in body)
    )
    if "metadata" in changes:
        subscription.metadata = changes["metadata"]
    if "plan" in changes:
        subscription.plan = changes["plan"]
    if "items" in changes:
        subscription.items = changes["items"]
    if source is not None and source.pk != subscription.source_id:
        subscription.source_id = source.pk
        # Digital River voids the invoice it could not collect; the next attempt makes a new one.
        for open_invoice in subscription.invoices.filter(state=DRInvoice.State.OPEN):
            _finish(open_invoice, DRInvoice.State.VOID)
    _save(subscription)
    emit("subscription.updated", subscription_json(subscription), previous)
    return subscription


def _update_plan(plan_id: Any) -> DRPlan:
    if not isinstance(plan_id, str) or not plan_id:
        raise invalid("planId", "planId must be a plan id.")
    plan = DRPlan.objects.filter(pk=plan_id).first()
    if plan is None:
        raise invalid("planId", f"Plan {plan_id} not found.")
    if plan.state != DRPlan.State.ACTIVE:
        raise conflict("plan_not_active", f"Plan {plan_id} is not active.", "planId")
    return plan


def _update_items(raw_items: Any) -> list[dict]:
    if not isinstance(raw_items, list) or not raw_items:
        raise invalid("items", "items must list at least one item.")
    items = []
    for raw in raw_items:
        if not isinstance(raw, dict):
            raise invalid("items", "Each item must be an object.")
        refuse_unknown(raw, ITEM_FIELDS, "an item")
        if not raw.get("skuId") and not raw.get("productDetails"):
            raise missing("skuId", "Each item needs a skuId or productDetails.")
        if raw.get("skuId") is not None and not isinstance(raw["skuId"], str):
            raise invalid("skuId", "skuId must be a string.")
        quantity = raw.get("quantity")
        quantity = 1 if quantity is None else quantity  # "the default quantity is 1"
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise invalid("quantity", "quantity must be a whole number of at least 1.")
        price, aggregate = (
            money(raw.get("price"), "price"),
            money(raw.get("aggregatePrice"), "aggregatePrice"),
        )
        if price is None and aggregate is None:
            raise missing("price", "Each item needs a price or an aggregatePrice.")
        item: dict[str, Any] = {"quantity": quantity}
        if raw.get("skuId"):
            item["skuId"] = raw["skuId"]
        if price is not None:
            item["price"] = float(price)
        if aggregate is not None:
            item["aggregatePrice"] = float(aggregate)
        if isinstance(raw.get("productDetails"), dict):
            item["productDetails"] = raw["productDetails"]
        if raw.get("metadata") is not None:
            item["metadata"] = metadata_of(raw["metadata"], "metadata")
        items.append(item)
    return items


def _update_source(subscription: DRSubscription, source_id: Any) -> DRSource:
    """A new payment source: reusable, chargeable, saved to the subscription's customer."""
    if subscription.state not in DRSubscription.LIVE:
        raise conflict(
            "invalid_state",
            f"The payment source of a {subscription.state} subscription cannot be changed: it must be "
            "active, activeFree or activePendingInvoice.",
            "sourceId",
        )
    if not isinstance(source_id, str) or not source_id:
        raise invalid("sourceId", "sourceId must be a source id.")
    source = sources.find(source_id, parameter="sourceId")
    sources.check_savable(source, subscription.customer_id)
    if source.customer_id != subscription.customer_id:
        raise invalid(
            "sourceId",
            f"Source {source.pk} is not saved to customer {subscription.customer_id}: save it first "
            "(POST /customers/{id}/sources/{sourceId}).",
        )
    return source


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
    subscription.period_plan, subscription.period_anchor, subscription.periods = plan, now, 1
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
    return _end(
        subscription,
        State.CANCELLED,
        "cancelled_at",
        "subscription.updated",
        f"Only active, activeFree and activePendingInvoice subscriptions can be cancelled, "
        f"not a {subscription.state} one.",
        payment_failed_at=None,
    )


def lapse(subscription: DRSubscription) -> DRSubscription:
    """The payment source was not fixed within the grace period: lapsed (subscription.lapsed)."""
    return _end(
        subscription,
        State.LAPSED,
        "lapsed_at",
        "subscription.lapsed",
        f"Only a live subscription can lapse, not a {subscription.state} one.",
    )


def _end(
    subscription: DRSubscription, state: str, at: str, event: str, refusal: str, **also
) -> DRSubscription:
    """A live subscription ends (`state`, stamped `at` now): its open invoices go void, `event` tells."""
    if subscription.state not in DRSubscription.LIVE:
        raise conflict("invalid_request", refusal, "state")
    previous = {"state": subscription.state}
    subscription.state = state
    setattr(subscription, at, _now())
    for name, value in also.items():
        setattr(subscription, name, value)
    _close_invoices(subscription)
    _save(subscription)
    emit(event, subscription_json(subscription), previous)
    return subscription


# --- Invoices ------------------------------------------------------------------------------------------


def next_period_end(subscription: DRSubscription) -> datetime:
    """The end of the period after the current one, on the plan that will control it (planId)."""
    plan = subscription.plan
    if subscription.period_plan_id == plan.pk and subscription.period_anchor:
        return subscription.period_anchor + period(plan, subscription.periods + 1)
    return subscription.current_period_end_date + period(plan)


def _invoice_items(subscription: DRSubscription) -> list[dict]:
    return [
        {
            **item,
            "id": new_dr_id(),
            "amount": float(_item_amount(item)),
            "subscriptionInfo": {
                "subscriptionId": subscription.pk,
                "planId": subscription.plan_id,
                "billingAgreementId": subscription.billing_agreement_id or "",
                "autoRenewal": True,
            },
        }
        for item in subscription.items
    ]


def _invoice_for(subscription: DRSubscription, period_end: datetime, state: str) -> DRInvoice | None:
    """The live invoice of the period, made (as `state`) or brought up to date; None if another run holds it."""
    now = _now()
    invoice = (
        DRInvoice.objects.select_for_update()
        .filter(subscription=subscription, period_end=period_end)
        .exclude(state=DRInvoice.State.VOID)
        .first()
    )
    if invoice is None:
        try:
            with transaction.atomic():
                invoice = DRInvoice.objects.create(
                    subscription=subscription,
                    customer_id=subscription.customer_id,
                    plan=subscription.period_plan or subscription.plan,
                    currency=subscription.currency,
                    period_end=period_end,
                    items=_invoice_items(subscription),
                    total_amount=items_total(subscription.items),
                    state=state,
                    state_transitions={state: time(now)},
                    created_at=now,
                    updated_at=now,
                )
        except IntegrityError:
            return None
    elif invoice.state == DRInvoice.State.DRAFT:
        # Until the invoice opens, it follows the subscription's items.
        invoice.items, invoice.total_amount = _invoice_items(subscription), items_total(subscription.items)
        invoice.state = state
        invoice.state_transitions = {**invoice.state_transitions, state: time(now)}
        invoice.updated_at = now
        invoice.save()
    # Drafts for another period end (the plan changed since the reminder) are deleted.
    DRInvoice.objects.filter(subscription=subscription, state=DRInvoice.State.DRAFT).exclude(
        pk=invoice.pk
    ).delete()
    return invoice


def _close_invoices(subscription: DRSubscription) -> None:
    """The subscription bills no more: its open invoice is void, its draft deleted."""
    for open_invoice in subscription.invoices.filter(state=DRInvoice.State.OPEN):
        _finish(open_invoice, DRInvoice.State.VOID)
    subscription.invoices.filter(state=DRInvoice.State.DRAFT).delete()


def _finish(invoice: DRInvoice, state: str) -> None:
    invoice.state = state
    invoice.state_transitions = {**invoice.state_transitions, state: time(_now())}
    invoice.updated_at = _now()
    invoice.save(update_fields=["state", "state_transitions", "updated_at"])


def source_problem(subscription: DRSubscription, when: datetime) -> str:
    """Why the subscription's source cannot be charged on `when` ("" when it can)."""
    source = DRSource.objects.filter(pk=subscription.source_id).first() if subscription.source_id else None
    if source is None:
        return "the subscription has no payment source"
    if source.state != DRSource.State.CHARGEABLE:
        return f"source {source.pk} is {source.state}"
    if source.customer_id != subscription.customer_id:
        return f"source {source.pk} is not saved to customer {subscription.customer_id}"
    if sources.expired(source, when):
        return f"the card of source {source.pk} expires before {when:%Y-%m-%d}"
    return ""


def _collection_days(subscription: DRSubscription, invoice: DRInvoice | None = None) -> int:
    if invoice is not None and invoice.collection_period_days is not None:
        return invoice.collection_period_days
    plan = subscription.period_plan or subscription.plan
    return plan.collection_period_days or 0


def _open(subscription: DRSubscription, when: datetime) -> DRInvoice | None:
    """Open the invoice of the next period (activePendingInvoice); None if another run did."""
    invoice = _invoice_for(subscription, next_period_end(subscription), DRInvoice.State.OPEN)
    if invoice is None or invoice.state != DRInvoice.State.OPEN:
        return None
    if invoice.collection_period_days is None:
        invoice.collection_period_days = _collection_days(subscription)
    invoice.source_id = subscription.source_id
    invoice.save(update_fields=["collection_period_days", "source_id"])
    subscription.state, subscription.source_invalid_at = State.ACTIVE_PENDING_INVOICE, None
    _save(subscription)
    return invoice


def _attempt(subscription: DRSubscription, invoice: DRInvoice, when: datetime) -> bool:
    """One charge of the invoice at `when` (claimed first); True when it was paid."""
    claimed = DRInvoice.objects.filter(
        pk=invoice.pk, state=DRInvoice.State.OPEN, attempt_count=invoice.attempt_count
    ).update(attempt_count=F("attempt_count") + 1, source_id=subscription.source_id, updated_at=_now())
    if not claimed:
        return False
    invoice.refresh_from_db()
    source = DRSource.objects.select_for_update().filter(pk=subscription.source_id).first()
    declined = bool(source_problem(subscription, when))
    if source is not None and not declined and source.failing_charges:
        source.failing_charges -= 1  # a failure at either stage declines the invoice's charge
        source.save(update_fields=["failing_charges"])
        declined = True
    rows = [(item, Decimal(str(item["amount"]))) for item in invoice.items]
    recorded = {
        "currency": invoice.currency,
        "customer_id": invoice.customer_id,
        "invoice_id": invoice.pk,
        "period_end": invoice.period_end,
        "source_id": subscription.source_id,
        "subscription_id": subscription.pk,
    }
    now = _now()
    charge = None
    if source is not None:
        charge = DRCharge.objects.create(
            invoice=invoice,
            source=source,
            amount=invoice.total_amount,
            currency=invoice.currency,
            type="merchant_initiated",
            state=DRCharge.State.FAILED if declined else DRCharge.State.COMPLETE,
            created_at=now,
            updated_at=now,
        )
    if declined:
        if charge is not None:
            DRChargeOperation.objects.create(
                charge=charge,
                kind=DRChargeOperation.Kind.CAPTURE,
                amount=invoice.total_amount,
                state="failed",
                failure_code=DECLINED[0],
                failure_message=DECLINED[1],
                created_at=now,
            )
        ledger.record(ledger.Kind.INVOICE_CHARGE_FAILED, rows, **recorded)
        previous = {"state": subscription.state} if subscription.payment_failed_at is None else {}
        subscription.payment_failed_at = subscription.payment_failed_at or when
        subscription.last_attempt_at = when
        _save(subscription)
        emit(
            "subscription.payment_failed",
            {"subscription": subscription_json(subscription), "invoice": invoice_json(invoice)},
            previous,
        )
        return False
    DRChargeOperation.objects.create(
        charge=charge, kind=DRChargeOperation.Kind.CAPTURE, amount=invoice.total_amount, created_at=now
    )
    ledger.record(ledger.Kind.CAPTURE, rows, **recorded)
    _finish(invoice, DRInvoice.State.PAID)
    _extend(subscription, invoice)
    return True


def _extend(subscription: DRSubscription, invoice: DRInvoice | None) -> None:
    """The next period starts: paid (active, subscription.extended) or free (activeFree)."""
    previous = _snapshot(subscription, "state", *DATE_FIELDS)
    now = _now()
    end = next_period_end(subscription)
    if subscription.period_plan_id == subscription.plan_id and subscription.period_anchor:
        subscription.periods += 1
    else:
        subscription.period_anchor, subscription.periods = subscription.current_period_end_date, 1
    subscription.period_plan = subscription.plan
    _set_dates(subscription, end)
    if invoice is not None:
        subscription.state = State.ACTIVE
        subscription.activated_at = subscription.activated_at or now
    else:
        subscription.state = State.ACTIVE_FREE
        subscription.activated_free_at = subscription.activated_free_at or now
    subscription.payment_failed_at = subscription.last_attempt_at = subscription.source_invalid_at = None
    _save(subscription)
    if invoice is not None:
        emit(
            "subscription.extended",
            {"subscription": subscription_json(subscription), "invoice": invoice_json(invoice)},
            previous,
        )
    elif previous["state"] != subscription.state:
        emit("subscription.updated", subscription_json(subscription), {"state": previous["state"]})


# --- Time ----------------------------------------------------------------------------------------


def run_due(now: datetime | None = None) -> dict[str, int]:
    """Apply what the clock has made due, round after round until nothing is; how many of each."""
    now = now or sandbox_now()
    done: Counter = Counter()
    with transaction.atomic():
        for _ in range(MAX_ROUNDS):
            before = sum(done.values())
            _ends(now, done)
            _reminders(now, done)
            _invoice_dates(now, done)
            _retries(now, done)
            if sum(done.values()) == before:
                break
    return {name: done[name] for name in ("reminders", "invoices", "extended", "payment_failed",
                                          "source_invalid", "lapsed", "failed", "ended")}  # fmt: skip


def _locked(subscription: DRSubscription) -> DRSubscription:
    return (
        DRSubscription.objects.select_for_update(of=("self",))  # period_plan is nullable: no outer-join lock
        .select_related("plan", "period_plan")
        .get(pk=subscription.pk)
    )


def _ends(now: datetime, done: Counter) -> None:
    live = DRSubscription.objects.filter(state__in=DRSubscription.LIVE)
    for subscription in live.filter(plan__state=DRPlan.State.DEACTIVATED, next_invoice_date__lte=now):
        previous = subscription.state
        if _move(subscription, State.ENDED, "ended_at", now):
            _close_invoices(subscription)
            emit("subscription.updated", subscription_json(subscription), {"state": previous})
            done["ended"] += 1


def _reminders(now: datetime, done: Counter) -> None:
    live = DRSubscription.objects.filter(state__in=DRSubscription.LIVE).select_related("plan", "period_plan")
    due = live.filter(next_reminder_date__lte=now).filter(
        Q(reminded_period_end__isnull=True) | ~Q(reminded_period_end=F("current_period_end_date"))
    )
    for subscription in due:
        claimed = DRSubscription.objects.filter(
            pk=subscription.pk, current_period_end_date=subscription.current_period_end_date
        ).exclude(reminded_period_end=subscription.current_period_end_date)
        if not claimed.update(reminded_period_end=subscription.current_period_end_date):
            continue
        subscription.reminded_period_end = subscription.current_period_end_date
        invoice = None
        if subscription.state != State.ACTIVE_PENDING_INVOICE:
            invoice = _invoice_for(subscription, next_period_end(subscription), DRInvoice.State.DRAFT)
        emit(
            "subscription.reminder",
            {
                "subscription": subscription_json(subscription),
                "invoice": invoice_json(invoice) if invoice else draft_invoice(subscription),
            },
        )
        done["reminders"] += 1


def draft_invoice(subscription: DRSubscription) -> dict:
    """A draft invoice's JSON without a row (another run holds the period's invoice)."""
    return {
        "state": "draft",
        "customerId": subscription.customer_id,
        "currency": subscription.currency,
        "totalAmount": float(items_total(subscription.items)),
        "items": _invoice_items(subscription),
        "liveMode": False,
    }


def _invoice_dates(now: datetime, done: Counter) -> None:
    due = DRSubscription.objects.filter(
        state__in=(State.ACTIVE, State.ACTIVE_FREE), next_invoice_date__lte=now
    )
    for candidate in due.exclude(plan__state=DRPlan.State.DEACTIVATED):
        subscription = _locked(candidate)
        if (
            subscription.state not in (State.ACTIVE, State.ACTIVE_FREE)
            or subscription.next_invoice_date > now
        ):
            continue
        due_at = subscription.next_invoice_date
        if items_total(subscription.items) <= 0:
            DRInvoice.objects.filter(subscription=subscription, state=DRInvoice.State.DRAFT).delete()
            _extend(subscription, None)
            done["invoices"] += 1
            continue
        problem = source_problem(subscription, due_at)
        if problem:
            if subscription.source_invalid_at is None:
                subscription.source_invalid_at = due_at
                _save(subscription)
                emit("subscription.source_invalid", subscription_json(subscription))
                done["source_invalid"] += 1
            elif subscription.source_invalid_at + timedelta(days=_collection_days(subscription)) <= now:
                lapse(subscription)
                done["lapsed"] += 1
            continue
        # Charged on the invoice date, or now when the source was replaced since it was found invalid.
        when = now if subscription.source_invalid_at is not None else due_at
        invoice = _open(subscription, when)
        if invoice is None:
            continue
        done["invoices"] += 1
        done["extended" if _attempt(subscription, invoice, when) else "payment_failed"] += 1


def _retries(now: datetime, done: Counter) -> None:
    pending = DRSubscription.objects.filter(
        state=State.ACTIVE_PENDING_INVOICE, payment_failed_at__isnull=False
    )
    for candidate in pending:
        subscription = _locked(candidate)
        if subscription.state != State.ACTIVE_PENDING_INVOICE or subscription.payment_failed_at is None:
            continue
        invoice = subscription.invoices.filter(state=DRInvoice.State.OPEN).order_by("-created_at").first()
        deadline = subscription.payment_failed_at + timedelta(days=_collection_days(subscription, invoice))
        attempt_at = (subscription.last_attempt_at or subscription.payment_failed_at) + RETRY_EVERY
        paid = False
        while attempt_at <= now and attempt_at < deadline:
            if invoice is None:  # voided after a new source: a new invoice for the same period
                invoice = _open(subscription, attempt_at)
                if invoice is None:
                    break
            paid = _attempt(subscription, invoice, attempt_at)
            done["extended" if paid else "payment_failed"] += 1
            if paid:
                break
            invoice.refresh_from_db()
            attempt_at += RETRY_EVERY
        if not paid and deadline <= now and subscription.state == State.ACTIVE_PENDING_INVOICE:
            if invoice is not None:
                _finish(invoice, DRInvoice.State.UNCOLLECTIBLE)
            if _move(subscription, State.FAILED, "failed_at", now):
                _close_invoices(subscription)
                emit(
                    "subscription.failed",
                    subscription_json(subscription),
                    {"state": State.ACTIVE_PENDING_INVOICE},
                )
                done["failed"] += 1


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
