"""What follows from Digital River's subscription states: failed payments, lapses, endings."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from billing.models import (
    BILLING_SUBSCRIPTION_MOVES,
    ENDED_STATES,
    BillingSubscription,
    NoticeKind,
    Provisions,
    SubscriptionState,
)
from billing.services import notices
from core import audit, clock, states
from core.actor import Actor
from core.errors import DomainError


def vendor_subscription_changed(
    actor: Actor, subscription: BillingSubscription, vendor, *, state: str | None
) -> None:
    """Record Digital River's view; a first payment failure alerts, an ending stops the vendor side.

    A stopped renewal runs to the end of the period that was paid: Digital River has it cancelled
    (no further charge) but ours stays live until then (see runs_to_period_end)."""
    from billing.services.acquisition import copy_vendor_view

    with transaction.atomic():
        subscription = BillingSubscription.objects.select_for_update().get(pk=subscription.pk)
        before = audit.snapshot(subscription)
        was = to = subscription.state
        if subscription.state != SubscriptionState.DRAFT:  # dates exist only after our activation
            copy_vendor_view(subscription, vendor)
            if vendor.state in SubscriptionState.values:
                to = vendor.state
        if state:
            to = state
        if runs_to_period_end(subscription, vendor):
            to = was
        states.move(subscription, to, BILLING_SUBSCRIPTION_MOVES, save=False)
        first_failure = (
            state == SubscriptionState.ACTIVE_PENDING_INVOICE and not subscription.payment_failed_at
        )
        if first_failure:
            subscription.payment_failed_at = timezone.now()
        ended = subscription.state in ENDED_STATES and was not in ENDED_STATES
        if ended:
            subscription.ended_at = timezone.now()
        subscription.save()
        changes = audit.diff(before, audit.snapshot(subscription))
        changes.pop("vendor_view", None)
        if changes:
            audit.record(
                actor,
                "billing.subscription_changed",
                subscription,
                partner_id=subscription.partner_id,
                changes=changes,
            )
    renewal_on = (subscription.current_period_end_date or clock.now()).date()
    if first_failure:
        notices.payment_failed(subscription, renewal_on)
    if ended:
        _after_billing_ended(actor, subscription)


def runs_to_period_end(subscription: BillingSubscription, vendor) -> bool:
    """Digital River cancelled a subscription whose renewal we stopped, inside the paid period."""
    end = subscription.current_period_end_date
    return (
        vendor.state == SubscriptionState.CANCELLED
        and subscription.ends_at_period_end
        and end is not None
        and end > clock.now()
    )


def billing_ended(
    actor: Actor, subscription: BillingSubscription, state: str, *, notify: bool = True
) -> None:
    """Billing ends on our side (a back-office subscription unpaid after its collection period,
    stopped at its period's end, or cancelled): recorded, the customer told, the vendor side follows."""
    with transaction.atomic():
        subscription = BillingSubscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.state in ENDED_STATES:
            return
        before = audit.snapshot(subscription)
        states.move(subscription, state, BILLING_SUBSCRIPTION_MOVES, save=False)
        subscription.ended_at = timezone.now()
        subscription.save()
        audit.record(
            actor,
            f"billing.subscription_{state.lower()}",
            subscription,
            partner_id=subscription.partner_id,
            before=before,
        )
    _after_billing_ended(actor, subscription, notify=notify)


def _after_billing_ended(actor: Actor, subscription: BillingSubscription, *, notify: bool = True) -> None:
    if notify:
        notices.send(
            subscription, NoticeKind.ENDED, (subscription.current_period_end_date or clock.now()).date()
        )
    end_vendor_side(actor, subscription)


def mark_renewed(actor: Actor, subscription: BillingSubscription, renewal, before: dict) -> bool:
    """A period was paid (by either engine): active again, a trial has converted, no failure
    pending; recorded. Returns whether it was a trial converting to paid."""
    converted = subscription.free_trial
    subscription.free_trial = False
    states.move(subscription, SubscriptionState.ACTIVE, BILLING_SUBSCRIPTION_MOVES, save=False)
    subscription.payment_failed_at = None
    subscription.save()
    audit.record(
        actor,
        "billing.renewed",
        subscription,
        partner_id=subscription.partner_id,
        before=before,
        changes={"renewal_date": [None, renewal.renewal_date.isoformat()]},
        note=f"Digital River invoice {renewal.invoice_id}" if renewal.invoice_id else "",
    )
    return converted


def confirm_renewal(subscription: BillingSubscription, renewal, *, converted: bool) -> None:
    """Tell the customer it renewed (or that the trial is now paid), once, within 24 hours."""
    kind = NoticeKind.TRIAL_CONVERTED if converted else NoticeKind.RENEWED
    notices.send(
        subscription, kind, renewal.renewal_date.date(), details={"amount": str(renewal.amount or "")}
    )


def end_vendor_side(actor: Actor, subscription: BillingSubscription) -> None:
    """When billing ends, so does the vendor side: an ACME contract stops renewing, an add-on is
    cancelled at the end of the term it was paid for."""
    target = subscription.provisioned
    if target is None or subscription.replaced_by.exists():  # a replacement carries it on
        return
    if subscription.product.provisions == Provisions.ACME_CONTRACT:
        from subscriptions.acme import services as acme

        if target.state not in ("active",) or not target.auto_renew:
            return  # cancelled, or its renewal already stopped: nothing left to do

        try:
            acme.stop_renewal(actor, target)
        except DomainError as error:  # already stopped or cancelled: nothing left to do
            notices.alert_staff(subscription, f"Stopping the ACME renewal: {error.message}")
        return
    BillingSubscription.objects.filter(pk=subscription.pk).update(
        cancel_at=subscription.current_period_end_date or clock.now()
    )


def cancel_ended_targets() -> int:
    """Scheduled: cancel what ended subscriptions provisioned, once their paid term is over."""
    from billing.services import cloudflare_provisioning

    due = list(
        BillingSubscription.objects.filter(cancel_at__lte=clock.now(), state__in=ENDED_STATES).exclude(
            provisioned_id=""
        )
    )
    for subscription in due:
        cloudflare_provisioning.cancel(subscription)
        BillingSubscription.objects.filter(pk=subscription.pk).update(cancel_at=None)
    return len(due)
