"""Renewals: at the start of each billing cycle, charge auto-renewing subscriptions on their agreement.

Safe to run twice and on several workers at once: due subscriptions are locked with
`select_for_update(skip_locked=True)` (PostgreSQL), and one `Renewal` row per subscription and
period (a unique constraint) is the proof a renewal was taken; its cost follows the renewals due.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef

from billing.models import (
    BillingSubscription,
    Checkout,
    CheckoutItem,
    CheckoutKind,
    CheckoutState,
    Notice,
    NoticeKind,
    Renewal,
    RenewalState,
    SubscriptionState,
)
from billing.rules import reminder_dates, renewal_charge_type, renewal_item
from billing.services import notices
from billing.services.common import dr_customer_id, require_billing
from core import audit, clock, operations
from core.actor import Actor
from core.errors import RuleViolation
from vendors.digitalriver import DigitalRiverClient

logger = logging.getLogger(__name__)
BATCH = 200


def due_subscriptions(now):
    """Auto-renewing subscriptions whose invoice date has come and whose period has no renewal yet."""
    taken = Renewal.objects.filter(
        subscription=OuterRef("pk"), renewal_date=OuterRef("current_period_end_date")
    )
    return BillingSubscription.objects.filter(
        state=SubscriptionState.ACTIVE,
        auto_renewal=True,
        next_invoice_date__lte=now,
        current_period_end_date__isnull=False,
    ).exclude(Exists(taken))


def run_renewals() -> int:
    """Scheduled: take every due renewal once, hold those whose reminder is missing, order the rest."""
    now = clock.now()
    taken: list[Renewal] = []
    with transaction.atomic():
        due = list(
            due_subscriptions(now)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("plan", "product", "customer")[:BATCH]
        )
        reminded = _reminded(due)
        for subscription in due:
            missing = _reminder_missing(subscription, reminded)
            try:
                with transaction.atomic():
                    renewal = Renewal.objects.create(
                        subscription=subscription,
                        renewal_date=subscription.current_period_end_date,
                        state=RenewalState.HELD if missing else RenewalState.DUE,
                        reminder_missing=missing,
                    )
            except IntegrityError:
                continue  # another run took it (SQLite has no SKIP LOCKED)
            if missing:
                notices.alert_staff(
                    subscription,
                    f"Renewal on {renewal.renewal_date:%Y-%m-%d} is held: the 30-day "
                    "reminder was not sent. Send it, then release the renewal.",
                )
            else:
                taken.append(renewal)
        for renewals in _groups(taken):
            _order(Actor.system(), renewals)
    return len(taken)


def _reminded(due: list[BillingSubscription]) -> set[tuple[int, str]]:
    return set(
        Notice.objects.filter(subscription__in=due, kind=NoticeKind.REMINDER_30).values_list(
            "subscription_id", "renewal_date"
        )
    )


def _reminder_missing(subscription: BillingSubscription, reminded: set) -> bool:
    """A renewal that required a 30-day reminder may not be charged without it."""
    renewal_on = subscription.current_period_end_date.date()
    required = reminder_dates(renewal_on, subscription.plan.interval, subscription.plan.interval_count)
    return bool(required) and (subscription.pk, renewal_on) not in reminded


def _groups(renewals: list[Renewal]):
    """Items of one acquisition with the same terms renew in one checkout; others separately."""
    groups = defaultdict(list)
    for renewal in renewals:
        sub = renewal.subscription
        groups[(sub.acquisition_id, sub.plan_id, sub.billing_agreement_id)].append(renewal)
    return groups.values()


def _order(actor: Actor, renewals: list[Renewal]) -> Checkout:
    first = renewals[0].subscription
    checkout = Checkout.objects.create(
        partner=first.partner,
        customer=first.customer,
        kind=CheckoutKind.RENEWAL,
        currency=first.product.currency,
        charge_type=renewal_charge_type(True),
        billing_agreement_id=first.billing_agreement_id,
        total=sum(r.subscription.price * r.subscription.quantity for r in renewals),
    )
    for renewal in renewals:
        CheckoutItem.objects.create(
            checkout=checkout,
            product=renewal.subscription.product,
            quantity=renewal.subscription.quantity,
            price=renewal.subscription.price,
            subscription=renewal.subscription,
        )
        renewal.checkout, renewal.state = checkout, RenewalState.ORDERING
        renewal.save(update_fields=["checkout", "state", "updated_at"])
    audit.record(
        actor,
        "billing.renewal_ordered",
        checkout,
        partner_id=checkout.partner_id,
        changes={"subscriptions": [None, [r.subscription.subscription_id for r in renewals]]},
    )
    operations.start(actor, checkout, OrderRenewal.kind, partner_id=checkout.partner_id)
    return checkout


def release_held_renewal(actor: Actor, renewal: Renewal) -> Renewal:
    """Staff release a renewal held for a missing reminder (once the customer has been told)."""
    require_billing(actor, renewal.subscription.customer)
    with transaction.atomic():
        renewal = (
            Renewal.objects.select_for_update().select_related("subscription__product").get(pk=renewal.pk)
        )
        if renewal.state != RenewalState.HELD:
            raise RuleViolation("Only a held renewal can be released.", code="not_held")
        audit.record(
            actor,
            "billing.renewal_released",
            renewal.subscription,
            partner_id=renewal.subscription.partner_id,
            changes={"renewal": [RenewalState.HELD, RenewalState.ORDERING]},
        )
        _order(actor, [renewal])
    return renewal


@operations.register
class OrderRenewal(operations.OperationHandler):
    """A merchant-initiated checkout (no terms, the subscription and its agreement), then an order."""

    kind = "dr.order_renewal"
    label = "Order renewal at Digital River"

    def perform(self, operation, checkout):
        client = DigitalRiverClient()
        found = client.find_checkouts(str(checkout.reference)) if operation.attempts > 1 else []
        vendor_checkout = found[0] if found else None
        if vendor_checkout is not None:
            orders = client.list_orders(checkoutId=vendor_checkout.id)
            if orders:
                return _order_result(vendor_checkout.id, orders[0])
        if vendor_checkout is None:
            vendor_checkout = client.create_checkout(
                customer_id=dr_customer_id(checkout.customer),
                currency=checkout.currency,
                items=[
                    renewal_item(
                        sku_id=i.product.sku_id,
                        price=i.price,
                        quantity=i.quantity,
                        subscription_id=i.subscription.subscription_id,
                        billing_agreement_id=i.subscription.billing_agreement_id,
                        auto=True,
                    )
                    for i in checkout.items.select_related("product", "subscription")
                ],
                charge_type=checkout.charge_type,
                upstream_id=str(checkout.reference),
            )
        return _order_result(vendor_checkout.id, client.create_order(vendor_checkout.id))

    def succeeded(self, operation, checkout, result, actor):
        before = audit.snapshot(checkout)
        checkout.checkout_id, checkout.order_id = result["checkout_id"], result["order_id"]
        checkout.order_state, checkout.state = result["order_state"], CheckoutState.ORDERED
        agreement = result["billing_agreement_id"]
        if agreement and agreement != checkout.billing_agreement_id:
            logger.warning(
                "renewal %s came back with agreement %s instead of %s",
                checkout.pk,
                agreement,
                checkout.billing_agreement_id,
            )
        checkout.billing_agreement_id = agreement or checkout.billing_agreement_id  # the one to keep
        checkout.save()
        checkout.renewals.update(state=RenewalState.ORDERED)
        audit.record(
            actor, "billing.renewal_order_created", checkout, partner_id=checkout.partner_id, before=before
        )

    def failed(self, operation, checkout, actor):
        checkout.state = CheckoutState.FAILED
        checkout.save(update_fields=["state", "updated_at"])
        checkout.renewals.update(state=RenewalState.FAILED)
        for renewal in checkout.renewals.select_related("subscription"):
            notices.alert_staff(renewal.subscription, f"Renewal order failed: {operation.last_error}")

    def retrying(self, operation, checkout):
        checkout.state = CheckoutState.PENDING
        checkout.save(update_fields=["state", "updated_at"])
        checkout.renewals.update(state=RenewalState.ORDERING)


def _order_result(checkout_id: str, order) -> dict:
    agreements = sorted({i.billing_agreement_id for i in order.items if i.billing_agreement_id})
    return {
        "checkout_id": checkout_id,
        "order_id": order.id,
        "order_state": order.state,
        "billing_agreement_id": agreements[0] if agreements else "",
    }


def renewal_captured(order, actor: Actor) -> list[Renewal]:
    """order.charge.capture.complete on a renewal: it is paid; tell the customer within 24 hours."""
    checkout = Checkout.objects.filter(order_id=order.id, kind=CheckoutKind.RENEWAL).first()
    if checkout is None:
        return []
    done = []
    with transaction.atomic():
        Checkout.objects.filter(pk=checkout.pk).update(
            state=CheckoutState.PAID, order_state=order.state or "complete"
        )
        for renewal in checkout.renewals.select_for_update().select_related("subscription__customer"):
            if renewal.state == RenewalState.CAPTURED:
                continue
            renewal.state = RenewalState.CAPTURED
            renewal.save(update_fields=["state", "updated_at"])
            audit.record(
                actor,
                "billing.renewed",
                renewal.subscription,
                partner_id=renewal.subscription.partner_id,
                changes={"renewal_date": [None, renewal.renewal_date.isoformat()]},
            )
            done.append(renewal)
    for renewal in done:
        notices.send(renewal.subscription, NoticeKind.RENEWED, renewal.renewal_date.date())
    return done


def renewal_payment_failed(order, actor: Actor) -> None:
    """order.charge.capture.failed on a renewal: the renewal failed; staff and reseller are alerted."""
    checkout = Checkout.objects.filter(order_id=order.id, kind=CheckoutKind.RENEWAL).first()
    if checkout is None:
        return
    checkout.renewals.update(state=RenewalState.FAILED)
    Checkout.objects.filter(pk=checkout.pk).update(state=CheckoutState.FAILED, order_state=order.state or "")
    for renewal in checkout.renewals.select_related("subscription"):
        notices.payment_failed(renewal.subscription, renewal.renewal_date.date())
