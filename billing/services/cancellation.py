"""Ending a subscription: billing follows the service, and the service follows billing (domain.md).

- Cancel with a full refund: an ACME contract inside DigiCert's 30 days. DigiCert cancels first;
  once it confirms, the billing subscription is cancelled (Digital River's service: `{"state":
  "cancelled"}`; the back office: ours), what the customer paid for it is refunded in full
  (`POST /refunds`) and the customer is told.
- Stop renewal: no further charge; what was sold runs to the end of the paid period, then ends
  (the ACME contract's renewal is stopped at DigiCert; a zone goes back to PARTNERS_FREE and an
  add-on is cancelled at the period's end).
- Resume renewal: a back-office subscription, while its period runs. Digital River cannot take a
  cancelled subscription back: a new checkout sells it again.

The dashboard, the API and the admin call these; a change made on the ACME contract itself (its
own cancel or stop-renewal) arrives through `subscriptions.signals` and is followed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.error_codes import BillingErrorCode
from billing.models import (
    RENEWING_STATES,
    BillingSubscription,
    Checkout,
    CheckoutState,
    NoticeKind,
    Provisions,
    SubscriptionState,
)
from billing.services import lifecycle, notices
from billing.services.common import require_billing
from core import audit, clock, operations
from core.actor import Actor
from core.error_codes import CoreErrorCode
from core.errors import RuleViolation
from subscriptions import signals
from vendors.digitalriver import DigitalRiverClient

CANCEL_WITH_REFUND, STOP_RENEWAL, RESUME_RENEWAL = "cancel_with_refund", "stop_renewal", "resume_renewal"


@dataclass(frozen=True)
class EndingOption:
    """One way to end (or keep) a subscription today, with until when it applies and what it means."""

    code: str
    until: datetime | None
    explanation: str


def _contract(subscription: BillingSubscription):
    if subscription.product.provisions != Provisions.ACME_CONTRACT or not subscription.provisioned_id:
        return None
    return subscription.provisioned


def paid_amount(subscription: BillingSubscription) -> Decimal:
    return subscription.price * subscription.quantity


def ending_options(subscription: BillingSubscription, now: datetime | None = None) -> list[EndingOption]:
    """Which of cancel-with-refund / stop renewal / resume renewal applies today, and until when."""
    now = now or clock.now()
    if subscription.state not in RENEWING_STATES:
        return []
    options = []
    contract = _contract(subscription)
    closes = contract.cancel_window_closes_at if contract else None
    if closes and now <= closes and contract.state in ("active", "renewal_stopped"):
        options.append(
            EndingOption(
                CANCEL_WITH_REFUND,
                closes,
                f"Cancel now with a full refund of {paid_amount(subscription)} {subscription.product.currency}: "
                f"possible until {closes:%Y-%m-%d %H:%M:%S} UTC (DigiCert's 30 days).",
            )
        )
    end = subscription.current_period_end_date
    if not subscription.ends_at_period_end:
        options.append(
            EndingOption(
                STOP_RENEWAL,
                end,
                f"Stop renewal: no further charge; it runs until {end:%Y-%m-%d} and then ends."
                if end
                else "Stop renewal: no further charge.",
            )
        )
    elif not subscription.run_by_digital_river and end and now < end:
        options.append(
            EndingOption(
                RESUME_RENEWAL, end, f"Resume renewal: possible until the period ends on {end:%Y-%m-%d}."
            )
        )
    return options


def _require_option(subscription: BillingSubscription, code: str) -> EndingOption:
    options = {option.code: option for option in ending_options(subscription)}
    if code in options:
        return options[code]
    if code == CANCEL_WITH_REFUND and STOP_RENEWAL in options:
        raise RuleViolation(
            "A full refund is only possible within DigiCert's 30 days of the contract. "
            + options[STOP_RENEWAL].explanation,
            code=CoreErrorCode.CANCEL_WINDOW_CLOSED,
        )
    if subscription.state not in RENEWING_STATES:
        raise RuleViolation(
            f"This subscription is {subscription.get_state_display().lower()}.",
            code=BillingErrorCode.NOT_LIVE,
        )
    if code == RESUME_RENEWAL and subscription.run_by_digital_river and subscription.ends_at_period_end:
        end = subscription.current_period_end_date
        raise RuleViolation(
            f"Renewal is stopped and Digital River cannot take a cancelled subscription back: it runs until "
            f"{end:%Y-%m-%d}, then ends. Sell it again in a new checkout.",
            code=BillingErrorCode.NOT_AVAILABLE_TODAY,
        )
    raise RuleViolation(
        " ".join(option.explanation for option in options.values()) or "Nothing can change today.",
        code=BillingErrorCode.NOT_AVAILABLE_TODAY,
    )


def cancel_with_refund(actor: Actor, subscription: BillingSubscription) -> BillingSubscription:
    """Cancel inside DigiCert's 30 days: DigiCert first, then billing follows (refunded in full)."""
    from subscriptions.acme import services as acme

    subscription = BillingSubscription.objects.select_related("product", "plan", "customer").get(
        pk=subscription.pk
    )
    require_billing(actor, subscription.customer)
    _require_option(subscription, CANCEL_WITH_REFUND)
    with operations.change(actor, subscription, CancelWithRefund.kind, partner_id=subscription.partner_id):
        acme.cancel_acme_contract(Actor.system(actor.face), _contract(subscription))
        audit.record(
            actor, "billing.cancel_requested", subscription, partner_id=subscription.partner_id, changes={}
        )
    return subscription


def stop_renewal(actor: Actor, subscription: BillingSubscription) -> BillingSubscription:
    """No further charge; the service runs to the end of the paid period, then ends."""
    subscription = BillingSubscription.objects.select_related("product", "plan", "customer").get(
        pk=subscription.pk
    )
    require_billing(actor, subscription.customer)
    _require_option(subscription, STOP_RENEWAL)
    return _stop(actor, subscription, follow_vendor=True)


def resume_renewal(actor: Actor, subscription: BillingSubscription) -> BillingSubscription:
    """Renew again (back-office engine, while the period runs); the ACME contract renews again too."""
    subscription = BillingSubscription.objects.select_related("product", "plan", "customer").get(
        pk=subscription.pk
    )
    require_billing(actor, subscription.customer)
    _require_option(subscription, RESUME_RENEWAL)
    return _resume(actor, subscription, follow_vendor=True)


def _stop(actor: Actor, subscription: BillingSubscription, *, follow_vendor: bool) -> BillingSubscription:
    from subscriptions.acme import services as acme

    with transaction.atomic():
        subscription = BillingSubscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.ends_at_period_end:
            return subscription
        before = audit.snapshot(subscription)
        subscription.ends_at_period_end = True
        if subscription.product.provisions in (Provisions.ZONE_PLAN, Provisions.ADDON):
            subscription.cancel_at = subscription.current_period_end_date
        subscription.save()
        audit.record(
            actor, "billing.renewal_stopped", subscription, partner_id=subscription.partner_id, before=before
        )
        if subscription.run_by_digital_river:  # the only way to stop Digital River charging it
            operations.start(
                actor, subscription, CancelAtDigitalRiver.kind, partner_id=subscription.partner_id
            )
        contract = _contract(subscription)
        if follow_vendor and contract is not None and contract.auto_renew and contract.state == "active":
            acme.stop_renewal(Actor.system(actor.face), contract)
    end = subscription.current_period_end_date
    notices.send(
        subscription,
        NoticeKind.RENEWAL_STOPPED,
        (end or clock.now()).date(),
        details={"runs_until": end.date().isoformat() if end else ""},
    )
    return subscription


def _resume(actor: Actor, subscription: BillingSubscription, *, follow_vendor: bool) -> BillingSubscription:
    from subscriptions.acme import services as acme

    with transaction.atomic():
        subscription = BillingSubscription.objects.select_for_update().get(pk=subscription.pk)
        before = audit.snapshot(subscription)
        subscription.ends_at_period_end, subscription.cancel_at = False, None
        subscription.save()
        audit.record(
            actor, "billing.renewal_resumed", subscription, partner_id=subscription.partner_id, before=before
        )
        contract = _contract(subscription)
        if follow_vendor and contract is not None and not contract.auto_renew:
            acme.resume_renewal(Actor.system(actor.face), contract)
    return subscription


def end_stopped_subscriptions() -> int:
    """Scheduled: a subscription whose renewal was stopped ends with its paid period; the vendor
    side follows. On Digital River's engine only once Digital River has it cancelled: until then
    it would still charge, and its own events say what happened."""
    due = BillingSubscription.objects.filter(
        Q(plan__engine="back_office") | Q(vendor_view__state="cancelled"),
        ends_at_period_end=True,
        state__in=[SubscriptionState.ACTIVE, SubscriptionState.ACTIVE_FREE],
        current_period_end_date__lte=clock.now(),
    )
    ended = 0
    for subscription in due:
        lifecycle.billing_ended(Actor.system(), subscription, SubscriptionState.ENDED)
        ended += 1
    return ended


# --- The vendor side changed: billing follows ----------------------------------------------------


def billed_subscription_of(target) -> BillingSubscription | None:
    """The live billing subscription that provides `target` (an ACME contract, zone or add-on)."""
    return (
        BillingSubscription.objects.filter(
            provisioned_type=ContentType.objects.get_for_model(target),
            provisioned_id=str(target.pk),
            state__in=RENEWING_STATES,
            replaced_by__isnull=True,
        )
        .select_related("product", "plan", "customer", "partner")
        .first()
    )


def service_changed(sender, target, change, actor, **kwargs) -> None:
    """subscriptions.signals.service_changed: the vendor confirmed a change; billing follows it."""
    subscription = billed_subscription_of(target)
    if subscription is None:
        return
    if change == signals.CANCELLED:
        _cancel_and_refund(actor, subscription)
    elif change == signals.RENEWAL_STOPPED:
        _stop(actor, subscription, follow_vendor=False)
    elif change == signals.RENEWAL_RESUMED and subscription.ends_at_period_end:
        if subscription.run_by_digital_river:
            notices.alert_staff(
                subscription,
                "The ACME contract renews again, but its Digital River subscription was cancelled: sell it "
                "again in a new checkout, or stop the contract's renewal.",
            )
        else:
            _resume(actor, subscription, follow_vendor=False)


def direct_change_requested(sender, target, action, planned, actor, **kwargs) -> None:
    """subscriptions.signals.change_requested: a service billing provides changes through billing,
    by the agreement rule; a direct change at the vendor would bill one thing and provide another."""
    subscription = billed_subscription_of(target)
    if subscription is None:
        return
    end = subscription.current_period_end_date
    cheaper = action == "downgrade" or (
        planned.monthly_difference is not None and planned.monthly_difference < 0
    )
    if cheaper:
        raise RuleViolation(
            f"{target} is billed through {subscription.product.name}: a downgrade or an ending takes effect at "
            f"the end of the paid period ({end:%Y-%m-%d}), with the new price from then. Schedule it on the "
            "billing subscription (or stop its renewal: it ends, or returns to the free plan, then).",
            code=BillingErrorCode.CHANGE_THROUGH_BILLING,
        )
    raise RuleViolation(
        f"{target} is billed through {subscription.product.name}: an upgrade needs a new billing agreement. "
        "Start it on the billing subscription; it takes effect at Cloudflare once the customer has paid.",
        code=BillingErrorCode.CHANGE_THROUGH_BILLING,
    )


def _cancel_and_refund(actor: Actor, subscription: BillingSubscription) -> None:
    """The service was cancelled inside its refund window: billing ends now, refunded in full.

    The steps join the change the cancel began in (or a new one that takes the cancel as its first)."""
    with (
        transaction.atomic(),
        operations.change(actor, subscription, CancelWithRefund.kind, partner_id=subscription.partner_id),
    ):
        subscription = BillingSubscription.objects.select_for_update().get(pk=subscription.pk)
        paid = paid_by(subscription)
        if subscription.run_by_digital_river:
            operations.start(
                actor, subscription, CancelAtDigitalRiver.kind, partner_id=subscription.partner_id
            )
        else:
            lifecycle.billing_ended(actor, subscription, SubscriptionState.CANCELLED, notify=False)
            operations.log_step("Billing subscription cancelled (the back office runs it: ours alone).")
        if paid is None:
            operations.log_step("Nothing was paid for it: nothing to refund.")
        else:
            operations.start(
                actor,
                paid,
                RefundOrder.kind,
                partner_id=subscription.partner_id,
                params={"subscription": subscription.pk, "amount": str(paid_amount(subscription))},
                exclusive=False,
            )


def paid_by(subscription: BillingSubscription) -> Checkout | None:
    """The order that paid the subscription's current period (its acquisition or latest renewal)."""
    return (
        Checkout.objects.filter(items__subscription=subscription, captured_amount__gt=0)
        .exclude(state=CheckoutState.FAILED)
        .order_by("-created_at", "-id")
        .first()
    )


@operations.register
class CancelWithRefund(operations.ChangeHandler):
    """Cancel inside DigiCert's 30 days as one change: DigiCert cancels, billing is cancelled (at Digital
    River or ours), what was paid is refunded in full, the customer is told."""

    kind = "change.cancel_with_refund"
    label = "Cancel with a full refund"

    def step_failed(self, change, step, actor):
        # DigiCert's cancel cannot be taken back, so nothing after it is undone: the failed step is
        # retried until both sides tell the same story (reconciliation shows it meanwhile).
        if step.kind == "acme.cancel":
            return "Nothing to undo: nothing was cancelled or refunded; the contract stays active and billed."
        if step.kind == CancelAtDigitalRiver.kind:
            return (
                "Nothing can be undone: DigiCert's cancellation is final and the refund goes on. Digital River "
                "still has the subscription live; retry its cancel."
            )
        if step.kind == RefundOrder.kind:
            return (
                "Nothing can be undone: the contract and its billing are cancelled. The refund is still owed; "
                "retry it."
            )
        return "Nothing to undo."


@operations.register
class CancelAtDigitalRiver(operations.OperationHandler):
    """POST /subscriptions/{id} with exactly {"state": "cancelled"}; a retry reads it first."""

    kind = "dr.cancel_subscription"
    label = "Cancel Digital River subscription"

    def perform(self, operation, subscription):
        client = DigitalRiverClient()
        if operation.attempts > 1:
            current = client.get_subscription(subscription.subscription_id)
            if current.state == "cancelled":
                return {"_vendor": current}
        return {"_vendor": client.cancel_subscription(subscription.subscription_id)}

    def succeeded(self, operation, subscription, result, actor):
        vendor = result["_vendor"]
        lifecycle.vendor_subscription_changed(actor, subscription, vendor, state=SubscriptionState.CANCELLED)

    def failed(self, operation, subscription, actor):
        # Nothing to undo: the subscription stays as Digital River has it (still live, so it would
        # charge on its invoice date). Staff see it on the subscription and retry the cancel.
        notices.alert_staff(
            subscription,
            f"Cancelling at Digital River failed for good ({operation.last_error}); it is still live there "
            f"and would charge on {subscription.next_invoice_date:%Y-%m-%d}. Retry the cancel.",
        )


@operations.register
class RefundOrder(operations.OperationHandler):
    """POST /refunds for what the customer paid for one subscription in an order (product costs)."""

    kind = "dr.refund_order"
    label = "Refund at Digital River"

    def perform(self, operation, checkout):
        client = DigitalRiverClient()
        amount = Decimal(operation.params["amount"])
        if operation.attempts > 1:
            earlier = client.list_refunds(order_id=checkout.order_id)
            if earlier:
                return {"refund_id": earlier[0].id, "amount": str(amount)}
        refund = client.create_refund(
            currency=checkout.currency,
            order_id=checkout.order_id,
            amount=amount,
            reason="Cancelled within the refund window.",
        )
        return {"refund_id": refund.id, "amount": str(amount)}

    def succeeded(self, operation, checkout, result, actor):
        before = audit.snapshot(checkout)
        checkout.refunded_amount += Decimal(result["amount"])
        checkout.save()
        audit.record(actor, "billing.refunded", checkout, partner_id=checkout.partner_id, before=before)
        subscription = BillingSubscription.objects.get(pk=operation.params["subscription"])
        notices.send(
            subscription,
            NoticeKind.CANCELLED_REFUNDED,
            timezone.localdate(clock.now()),
            details={"amount": result["amount"]},
        )

    def failed(self, operation, checkout, actor):
        subscription = BillingSubscription.objects.get(pk=operation.params["subscription"])
        notices.alert_staff(
            subscription, f"The refund of order {checkout.order_id} failed: {operation.last_error}"
        )
