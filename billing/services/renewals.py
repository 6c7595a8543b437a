"""Renewals run by the back office (external subscriptions): at the start of each billing cycle a
renewal checkout on the subscription's agreement and saved payment source, then an order.

Only back-office-engine subscriptions are renewed here: Digital River's subscription service
charges its own subscriptions on their invoice date, so building an order for one would charge
the customer twice (domain.md). Auto-renewals are merchant-initiated checkouts with the source
attached; manual renewals are customer-initiated checkout sessions the customer pays through a
link. Either way the order is fulfilled before it is captured (billing.services.fulfilment), and
the period moves on when the capture completes.

Safe to run twice and on several workers at once: due subscriptions are locked with
`select_for_update(skip_locked=True)` (PostgreSQL), and one `Renewal` row per subscription and
period (a unique constraint) is the proof a renewal was taken; its cost follows the renewals due.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from billing.error_codes import BillingErrorCode
from billing.models import (
    RENEWAL_MOVES,
    BillingSubscription,
    Checkout,
    CheckoutItem,
    CheckoutKind,
    Notice,
    NoticeKind,
    Renewal,
    RenewalEngine,
    RenewalState,
    SubscriptionState,
)
from billing.rules import period_end, reminder_dates, renewal_charge_type, renewal_group_key, renewal_item
from billing.services import lifecycle, notices
from billing.services.common import ShowsCheckoutState, dr_customer_id, require_billing
from core import audit, clock, operations, states
from core.actor import Actor
from core.error_codes import CoreErrorCode
from core.errors import RuleViolation
from vendors.digitalriver.client import DigitalRiverClient

logger = logging.getLogger(__name__)
BATCH = 200
RETRY_EVERY = timedelta(days=1)  # a declined renewal is tried again once a day, as Digital River does


def move_renewal(renewal: Renewal, to: str) -> None:
    """Move one renewal (saved by the caller) as billing.models.RENEWAL_MOVES allows, or refuse."""
    states.move(renewal, to, RENEWAL_MOVES, save=False)


def move_renewals(renewals, to: str) -> list[int]:
    """The renewals that move to `to` as RENEWAL_MOVES allows, in one conditional update; the others
    are left as they are: a late answer never takes a renewal back (a capture stays a capture)."""
    return states.move_all(renewals, to, RENEWAL_MOVES)


def due_subscriptions(now):
    """Back-office-engine subscriptions whose invoice date has come and whose period has no renewal."""
    taken = Renewal.objects.filter(
        subscription=OuterRef("pk"), renewal_date=OuterRef("current_period_end_date")
    )
    return BillingSubscription.objects.filter(
        plan__engine=RenewalEngine.BACK_OFFICE,
        ends_at_period_end=False,
        state__in=[SubscriptionState.ACTIVE, SubscriptionState.ACTIVE_FREE],
        next_invoice_date__lte=now,
        current_period_end_date__isnull=False,
    ).exclude(Exists(taken))


def preview_due_renewals(now, limit: int = BATCH) -> list[tuple[BillingSubscription, str]]:
    """What a run would do now: each due subscription with why its renewal would be held ("" when it
    would be ordered). Reads only; the run itself decides again under its locks."""
    due = list(due_subscriptions(now).select_related("plan", "product", "customer", "partner")[:limit])
    reminded = _reminded(due)
    return [(subscription, _hold_reason(subscription, reminded)) for subscription in due]


def run_renewals(actor: Actor | None = None) -> int:
    """Scheduled (or started by staff, then recorded as theirs): take every due renewal once, hold
    those not ready to charge, order the rest; then try declined renewals again."""
    from billing.services.changes import apply_scheduled_changes

    actor = actor or Actor.system()
    now = clock.now()
    apply_scheduled_changes(now)
    retry_declined_renewals(now)
    end_unpaid_manual_renewals(now)
    taken = 0
    while True:  # batch after batch, each in its own transaction (its locks held only that long)
        with transaction.atomic():
            due = list(
                due_subscriptions(now)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("plan", "product", "customer")[:BATCH]
            )
            taken += _take(actor, due)
        if len(due) < BATCH:
            return taken


def _take(actor: Actor, due: list[BillingSubscription]) -> int:
    """Take the renewals of a batch of due subscriptions (locked by the caller): one Renewal row each
    in one INSERT, held ones alerted, the rest ordered in bulk. Returns how many were ordered."""
    if not due:
        return 0
    reminded = _reminded(due)
    holds = {subscription.pk: _hold_reason(subscription, reminded) for subscription in due}
    # This run's mark on the rows it inserts. A row of the same period another run inserted first
    # (PostgreSQL: it committed between our due query and our lock; SQLite: no SKIP LOCKED) is
    # skipped by the INSERT, and its created_at is that run's, taken before ours: not ours to order.
    mark = timezone.now()
    inserted = {
        subscription.pk: Renewal(
            subscription=subscription,
            renewal_date=subscription.current_period_end_date,
            state=RenewalState.HELD if holds[subscription.pk] else RenewalState.DUE,
            reminder_missing=bool(holds[subscription.pk]),
            amount=subscription.price * subscription.quantity,
            created_at=mark,
        )
        for subscription in due
    }
    # The unique period is the proof a renewal was taken: a row that conflicts is not written.
    Renewal.objects.bulk_create(inserted.values(), ignore_conflicts=True)
    ours = Renewal.objects.filter(
        subscription__in=list(inserted), created_at=mark, checkout=None
    ).values_list("subscription_id", "renewal_date", "pk")
    ordered = []
    for subscription_id, renewal_date, pk in ours:
        renewal = inserted[subscription_id]
        if renewal_date != renewal.renewal_date:
            continue  # not this period's (cannot carry our mark, but never order another period)
        renewal.pk = pk  # the row as written (its pk is not returned when conflicts are ignored)
        if holds[subscription_id]:  # rare: one alert each is fine
            notices.alert_staff(
                renewal.subscription,
                f"Renewal on {renewal.renewal_date:%Y-%m-%d} is held: {holds[subscription_id]}",
            )
        else:
            ordered.append(renewal)
    _order_groups(actor, list(_groups(ordered)))
    return len(ordered)


def retry_declined_renewals(now) -> int:
    """Back-office dunning: a declined renewal is ordered again once a day, on the subscription's
    saved source (the new card, once the customer changed it), during the plan's collection
    period; after it the subscription has failed, as Digital River's service fails its own."""
    retried = 0
    declined = Renewal.objects.filter(
        state=RenewalState.FAILED,
        subscription__plan__engine=RenewalEngine.BACK_OFFICE,
        subscription__state__in=[SubscriptionState.ACTIVE, SubscriptionState.ACTIVE_FREE],
        subscription__auto_renewal=True,
    ).select_related("subscription__plan", "subscription__product", "subscription__customer")
    for renewal in declined:
        subscription = renewal.subscription
        first_failure = subscription.payment_failed_at or renewal.attempted_at or now
        if now >= first_failure + timedelta(days=subscription.plan.collection_period_days):
            lifecycle.billing_ended(Actor.system(), subscription, SubscriptionState.FAILED)
        elif renewal.attempted_at is None or now >= renewal.attempted_at + RETRY_EVERY:
            with transaction.atomic():
                locked = Renewal.objects.select_for_update().get(pk=renewal.pk)
                if locked.state == RenewalState.FAILED:
                    locked.subscription = subscription  # loaded above, with what the order reads
                    _order(Actor.system(), [locked])
                    retried += 1
    return retried


def end_unpaid_manual_renewals(now) -> int:
    """A manual renewal the customer has not paid by the end of the plan's collection period after
    its renewal date fails like a declined one: billing ends, and the vendor side follows."""
    unpaid = Renewal.objects.filter(
        state=RenewalState.AWAITING_CUSTOMER,
        subscription__plan__engine=RenewalEngine.BACK_OFFICE,
        subscription__state__in=[SubscriptionState.ACTIVE, SubscriptionState.ACTIVE_FREE],
    ).select_related("subscription__plan")
    ended = 0
    for renewal in unpaid:
        if now < renewal.renewal_date + timedelta(days=renewal.subscription.plan.collection_period_days):
            continue
        with transaction.atomic():
            locked = Renewal.objects.select_for_update().get(pk=renewal.pk)
            if locked.state != RenewalState.AWAITING_CUSTOMER:
                continue
            move_renewal(locked, RenewalState.FAILED)
            locked.save(update_fields=["state", "updated_at"])
            audit.record(
                Actor.system(),
                "billing.manual_renewal_unpaid",
                renewal.subscription,
                partner_id=renewal.subscription.partner_id,
                changes={"renewal": [RenewalState.AWAITING_CUSTOMER, RenewalState.FAILED]},
                note=f"not paid within {renewal.subscription.plan.collection_period_days} days",
            )
        lifecycle.billing_ended(Actor.system(), renewal.subscription, SubscriptionState.FAILED)
        ended += 1
    return ended


def _reminded(due: list[BillingSubscription]) -> dict[tuple[int, str, object], Notice]:
    notices_sent = Notice.objects.filter(
        subscription__in=due, kind__in=[NoticeKind.REMINDER_30, NoticeKind.TRIAL_ENDING]
    )
    return {(n.subscription_id, n.kind, n.renewal_date): n for n in notices_sent}


def required_reminder(subscription: BillingSubscription) -> tuple[str, timedelta] | None:
    """The reminder a charge on this renewal date needs and how long before it must be delivered:
    the trial's end (before it ends), or 30 days before for auto-renewing terms over 30 days; a
    manual renewal is paid by the customer, no reminder."""
    if not subscription.auto_renewal:
        return None
    if subscription.free_trial:
        return NoticeKind.TRIAL_ENDING, timedelta(0)
    plan = subscription.plan
    renewal_on = subscription.current_period_end_date.date()
    if reminder_dates(renewal_on, plan.interval, plan.interval_count):
        return NoticeKind.REMINDER_30, timedelta(days=30)
    return None


def _hold_reason(subscription: BillingSubscription, reminded: dict) -> str:
    """Why a renewal may not be charged yet ("" when it may): the proof of its reminder is the
    reminder's delivery in time (30 days before), not that one was tried."""
    required = required_reminder(subscription)
    renewal = subscription.current_period_end_date
    if required:
        kind, ahead = required
        notice = reminded.get((subscription.pk, kind, renewal.date()))
        if not notices.delivered_in_time(notice, renewal - ahead):
            why = "was not delivered" if notice is None or not notice.delivered else "was delivered late"
            return (
                f"the {NoticeKind(kind).label.lower()} {why}. Send it now and move the renewal 30 days "
                "later, renew it manually (the customer pays by link), or release it with a reason."
            )
    if subscription.auto_renewal and not subscription.payment_source_id:
        return "no saved payment source to charge. Ask the customer for a payment method."
    return ""


def _groups(renewals: list[Renewal]):
    """Items of one acquisition with the same terms renew in one checkout; others separately."""
    groups = defaultdict(list)
    for renewal in renewals:
        groups[renewal_group_key(renewal.subscription)].append(renewal)
    return groups.values()


def _order(actor: Actor, renewals: list[Renewal], *, manual: bool = False) -> Checkout:
    """One renewal checkout for renewals of one group (retry, manual, release): the batch's path."""
    [checkout] = _order_groups(actor, [renewals], manual=manual)
    return checkout


def _order_groups(actor: Actor, groups: list[list[Renewal]], *, manual: bool = False) -> list[Checkout]:
    """One renewal checkout per group of renewals (their subscriptions loaded with product and
    customer): merchant-initiated on the saved source, or a customer-initiated session with a
    payment link for a manual renewal. Each table is written once for all groups."""
    from billing.services.acquisition import OpenCheckout

    if not groups:
        return []
    now = clock.now()
    checkouts = []
    for renewals in groups:
        first = renewals[0].subscription
        auto = first.auto_renewal and not manual
        checkouts.append(
            Checkout(
                partner_id=first.partner_id,
                customer=first.customer,
                kind=CheckoutKind.RENEWAL,
                currency=first.product.currency,
                charge_type=renewal_charge_type(auto),
                billing_agreement_id=first.billing_agreement_id,
                source_id=first.payment_source_id if auto else "",
                total=sum(r.subscription.price * r.subscription.quantity for r in renewals),
            )
        )
    # Each Checkout() draws its own reference (uuid4), the upstreamId Digital River keys on.
    Checkout.objects.bulk_create(checkouts)
    items, moving = [], defaultdict(list)
    for checkout, renewals in zip(checkouts, groups, strict=True):
        to = (
            RenewalState.ORDERING
            if checkout.charge_type == renewal_charge_type(True)
            else RenewalState.AWAITING_CUSTOMER
        )
        for renewal in renewals:
            subscription = renewal.subscription
            items.append(
                CheckoutItem(
                    checkout=checkout,
                    product=subscription.product,
                    quantity=subscription.quantity,
                    price=subscription.price,
                    subscription=subscription,
                )
            )
            move_renewal(renewal, to)  # an illegal move is refused here, before anything is written
            renewal.checkout, renewal.attempted_at = checkout, now
            moving[to].append(renewal.pk)
    CheckoutItem.objects.bulk_create(items)
    # One UPDATE per state (not one per renewal): each renewal's checkout is the new one holding its
    # subscription's item.
    its_checkout = CheckoutItem.objects.filter(
        checkout__in=[checkout.pk for checkout in checkouts], subscription=OuterRef("subscription")
    ).values("checkout")[:1]
    for to, pks in moving.items():
        states.move_all(
            Renewal.objects.filter(pk__in=pks),
            to,
            RENEWAL_MOVES,
            checkout=Subquery(its_checkout),
            attempted_at=now,
        )
    audit.record_many(
        [
            audit.event(
                actor,
                "billing.renewal_ordered",
                checkout,
                partner_id=checkout.partner_id,
                changes={"subscriptions": [None, [r.subscription.subscription_id for r in renewals]]},
            )
            for checkout, renewals in zip(checkouts, groups, strict=True)
        ]
    )
    # These checkouts were created just above, in this transaction: no operation can be pending on
    # them, so the exclusive check (one query) is left out.
    for kind in (OrderRenewal.kind, OpenCheckout.kind):
        targets = [
            (checkout, checkout.partner_id)
            for checkout in checkouts
            if (checkout.charge_type == renewal_charge_type(True)) == (kind == OrderRenewal.kind)
        ]
        operations.start_many(actor, targets, kind, exclusive=False)
    return checkouts


def renewal_items(checkout: Checkout, items: list[CheckoutItem] | None = None) -> list[dict]:
    """The items of a renewal checkout: the subscription and its agreement, no terms (agreed)."""
    auto = checkout.charge_type == renewal_charge_type(True)
    if items is None:
        items = checkout_items(checkout)
    return [
        renewal_item(
            sku_id=i.product.sku_id,
            price=i.price,
            quantity=i.quantity,
            subscription_id=i.subscription.subscription_id,
            billing_agreement_id=i.subscription.billing_agreement_id,
            auto=auto,
        )
        for i in items
    ]


def checkout_items(checkout: Checkout) -> list[CheckoutItem]:
    """A checkout's items with their product and subscription, in one query."""
    return list(checkout.items.select_related("product", "subscription"))


def _held(actor: Actor, renewal: Renewal) -> Renewal:
    require_billing(actor, renewal.subscription.customer)
    renewal = (
        Renewal.objects.select_for_update()
        .select_related("subscription__product", "subscription__plan", "subscription__customer")
        .get(pk=renewal.pk)
    )
    if renewal.state != RenewalState.HELD:
        raise RuleViolation("Only a held renewal can be brought back.", code=BillingErrorCode.NOT_HELD)
    return renewal


def postpone_held_renewal(actor: Actor, renewal: Renewal) -> Renewal:
    """Way out 1: send the 30-day reminder now and move the renewal 30 days later (the customer
    gets the notice the rule asks for; the period runs on until then)."""
    from billing.services.acquisition import set_period

    with transaction.atomic():
        renewal = _held(actor, renewal)
        subscription = BillingSubscription.objects.select_for_update().get(pk=renewal.subscription_id)
        before = audit.snapshot(subscription)
        new_date = max(renewal.renewal_date, clock.now()) + timedelta(days=30)
        set_period(subscription, subscription.current_period_end_date, new_date)
        subscription.save()
        move_renewal(renewal, RenewalState.POSTPONED)
        renewal.save(update_fields=["state", "updated_at"])
        audit.record(
            actor,
            "billing.renewal_postponed",
            subscription,
            partner_id=subscription.partner_id,
            before=before,
            note=f"the reminder was missing; renewal moved from {renewal.renewal_date:%Y-%m-%d}",
        )
    notices.send(subscription, NoticeKind.REMINDER_30, new_date.date())
    return renewal


def renew_held_manually(actor: Actor, renewal: Renewal) -> Renewal:
    """Way out 2: the customer renews it themselves: a customer-initiated checkout and a payment link."""
    with transaction.atomic():
        renewal = _held(actor, renewal)
        audit.record(
            actor,
            "billing.renewal_made_manual",
            renewal.subscription,
            partner_id=renewal.subscription.partner_id,
            changes={"renewal": [RenewalState.HELD, RenewalState.AWAITING_CUSTOMER]},
        )
        _order(actor, [renewal], manual=True)
    return renewal


def release_held_renewal(actor: Actor, renewal: Renewal, reason: str = "") -> Renewal:
    """Way out 3, a breach of the reminder rule: charge anyway, with a reason, audited as such."""
    from core.errors import ValidationFailed

    if not (reason or "").strip():
        raise ValidationFailed(
            "Releasing a held renewal charges without the reminder the rule requires: give the reason.",
            code=CoreErrorCode.REASON_REQUIRED,
            fields={"reason": "Required."},
        )
    with transaction.atomic():
        renewal = _held(actor, renewal)
        if renewal.subscription.auto_renewal and not renewal.subscription.payment_source_id:
            raise RuleViolation(
                "There is no saved payment source to charge: change the payment method first.",
                code=BillingErrorCode.NO_PAYMENT_SOURCE,
            )
        audit.record(
            actor,
            "billing.reminder_rule_breached",
            renewal.subscription,
            partner_id=renewal.subscription.partner_id,
            changes={"renewal": [RenewalState.HELD, RenewalState.ORDERING]},
            note=f"released without the reminder: {reason.strip()}",
        )
        _order(actor, [renewal])
    return renewal


# What perform() and record_order read of a renewal checkout, its customer and items: only these
# columns of the six tables are read (the outcome reads the checkout again, in full, under its lock).
PERFORM_READS = (
    "quantity",
    "price",
    "order_item_id",
    "product__sku_id",
    "subscription__subscription_id",
    "subscription__billing_agreement_id",
    *(
        f"checkout__{name}"
        for name in ("reference", "currency", "charge_type", "source_id", "billing_agreement_id", "state")
    ),
    "checkout__customer__reference",
    "checkout__customer__partner__slug",
)


@operations.register
class OrderRenewal(ShowsCheckoutState):
    """A merchant-initiated checkout with the saved source attached (no terms, the subscription and
    its agreement), then an order; a retry finds the checkout and order it made before."""

    kind = "dr.order_renewal"
    label = "Order renewal at Digital River"
    related = ("customer",)  # the audit event's words (load() reads the partner too, for the call)

    def load(self, model, pk):
        """The checkout read through its items: one query for the checkout, its customer and partner,
        and its items with their product and subscription (what perform() sends)."""
        items = list(
            CheckoutItem.objects.filter(checkout_id=pk)
            .select_related("checkout__customer__partner", "product", "subscription")
            .only(*PERFORM_READS)
        )
        if not items:
            return super().load(model, pk)
        checkout = items[0].checkout
        for item in items:
            item.checkout = checkout
        checkout.loaded_items = items
        return checkout

    def perform(self, operation, checkout):
        client = DigitalRiverClient()
        # Read once: the order's items are matched to these when it is recorded ("_": not stored).
        items = getattr(checkout, "loaded_items", None) or checkout_items(checkout)
        found = client.find_checkouts(str(checkout.reference)) if operation.attempts > 1 else []
        vendor_checkout = found[0] if found else None
        if vendor_checkout is not None:
            orders = client.list_orders(checkoutId=vendor_checkout.id)
            if orders:
                return {"checkout_id": vendor_checkout.id, "_order": orders[0], "_items": items}
        if vendor_checkout is None:
            vendor_checkout = client.create_checkout(
                customer_id=dr_customer_id(checkout.customer),
                currency=checkout.currency,
                items=renewal_items(checkout, items),
                charge_type=checkout.charge_type,
                upstream_id=str(checkout.reference),
                source_id=checkout.source_id,
            )
        order = client.create_order(vendor_checkout.id)
        return {"checkout_id": vendor_checkout.id, "_order": order, "_items": items}

    def succeeded(self, operation, checkout, result, actor):
        from billing.services.acquisition import record_order
        from billing.services.fulfilment import FULFIL_TASK
        from core.tasks import enqueue_on_commit

        before = audit.snapshot(checkout)
        order = result["_order"]
        agreements = sorted({i.billing_agreement_id for i in order.items if i.billing_agreement_id})
        if agreements and agreements[0] != checkout.billing_agreement_id:
            logger.warning(
                "renewal %s came back with agreement %s instead of %s",
                checkout.pk,
                agreements[0],
                checkout.billing_agreement_id,
            )
        checkout.checkout_id = result["checkout_id"]
        # The agreement the order returns is the one to keep. The items read before the call still
        # hold: only recording an order changes what is matched (their order item ids).
        record_order(checkout, order, items=result.get("_items"))
        move_renewals(checkout.renewals.all(), RenewalState.ORDERED)  # not back from a capture
        audit.record(
            actor, "billing.renewal_order_created", checkout, partner_id=checkout.partner_id, before=before
        )
        enqueue_on_commit(FULFIL_TASK, checkout.pk)

    def failed(self, operation, checkout, actor):
        super().failed(operation, checkout, actor)
        renewal_payment_failed(checkout, actor, reason=operation.last_error)

    def retrying(self, operation, checkout):
        super().retrying(operation, checkout)
        move_renewals(checkout.renewals.all(), RenewalState.ORDERING)


def renewal_captured(checkout: Checkout, actor: Actor) -> list[Renewal]:
    """The renewal was captured: its period moves on, a trial has converted; the customer is told
    within 24 hours (domain.md)."""
    from billing.services.acquisition import set_period

    done = []
    with transaction.atomic():
        for renewal in checkout.renewals.select_for_update().select_related(
            "subscription__plan", "subscription__customer"
        ):
            if not move_renewals(Renewal.objects.filter(pk=renewal.pk), RenewalState.CAPTURED):
                continue  # captured already (told once), or refunded
            subscription = BillingSubscription.objects.select_for_update().get(pk=renewal.subscription_id)
            before = audit.snapshot(subscription)
            start = subscription.current_period_end_date
            if start == renewal.renewal_date:  # not moved on already
                plan = subscription.plan
                set_period(subscription, start, period_end(start, plan.interval, plan.interval_count))
            converted = lifecycle.mark_renewed(actor, subscription, renewal, before)
            done.append((renewal, subscription, converted))
    for renewal, subscription, converted in done:
        lifecycle.confirm_renewal(subscription, renewal, converted=converted)
    return [renewal for renewal, _, _ in done]


def renewal_payment_failed(checkout: Checkout, actor: Actor, *, reason: str = "") -> None:
    """The renewal's payment failed (declined at the order, or at capture): the renewal failed, the
    subscription records its first failure, the customer gets a link to change the card and the
    reseller and staff are told."""
    failed = move_renewals(checkout.renewals.all(), RenewalState.FAILED)  # never a captured one
    for renewal in checkout.renewals.filter(pk__in=failed).select_related("subscription"):
        BillingSubscription.objects.filter(pk=renewal.subscription_id, payment_failed_at=None).update(
            payment_failed_at=clock.now()
        )
        notices.payment_failed(renewal.subscription, renewal.renewal_date.date())
        if reason:
            notices.alert_staff(renewal.subscription, f"Renewal order failed: {reason}")


def renewal_not_charged(checkout: Checkout, actor: Actor) -> None:
    """Everything in the renewal was cancelled at fulfilment: nothing was charged, nothing renews."""
    cancelled = move_renewals(checkout.renewals.all(), RenewalState.CANCELLED)
    for renewal in checkout.renewals.filter(pk__in=cancelled).select_related("subscription"):
        notices.alert_staff(
            renewal.subscription,
            f"Renewal on {renewal.renewal_date:%Y-%m-%d} was not charged: nothing left to renew.",
        )
