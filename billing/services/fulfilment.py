"""Money moves only for what was delivered: an accepted order is fulfilled once its items are settled.

An accepted order is only authorised. When every item is settled, provisioned at the vendor or
failed for good, `POST /fulfillments` reports the quantities delivered (Digital River captures
them) and cancels the rest (`cancelQuantity`, never charged). A renewal order delivers what it
extends: a service that no longer exists is cancelled, not charged. Captures, cancels and
failures come back as `order.charge.*` events whose object is a charge.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing.models import (
    CHECKOUT_MOVES,
    Checkout,
    CheckoutKind,
    CheckoutState,
    ProvisioningState,
    Provisions,
)
from billing.services.common import change_of
from core import audit, operations, states
from core.actor import Actor
from core.errors import RuleViolation
from vendors.digitalriver.client import DigitalRiverClient

logger = logging.getLogger(__name__)
FULFIL_TASK = "billing.tasks.fulfil_task"
FULFIL, CANCEL = "fulfil", "cancel"
# The provisioned object's own state: delivered, never delivered (or no longer there), or not yet.
LIVE_STATES = {"active", "renewal_stopped"}
GONE_STATES = {"failed", "cancelled", "cancel_pending", "expired"}


def item_outcome(checkout: Checkout, item) -> str | None:
    """Fulfil or cancel one item, or None while its vendor side is still being provisioned."""
    subscription = item.subscription
    if subscription is None or subscription.provisioning_state == ProvisioningState.NOT_NEEDED:
        return FULFIL  # a fee or a service with nothing to provision is delivered with the order
    if subscription.provisioning_state == ProvisioningState.FAILED:
        return CANCEL
    if subscription.provisioning_state != ProvisioningState.DONE:
        return CANCEL if checkout.kind == CheckoutKind.RENEWAL else None
    target = subscription.provisioned
    state = getattr(target, "state", None)
    if state in GONE_STATES or target is None:
        return CANCEL
    if subscription.product.provisions == Provisions.ZONE_PLAN:
        return zone_plan_outcome(subscription, target)
    if state in LIVE_STATES:
        return FULFIL
    return None


def zone_plan_outcome(subscription, zone) -> str | None:
    """A zone plan is delivered once the zone has it at Cloudflare: while its change is on its way
    nothing is settled; a zone on another plan and nothing on its way has not got what was sold."""
    if operations.pending_for(zone).exists():
        return None
    if zone.rate_plan_id == subscription.product.provision_params.get("rate_plan_id"):
        return FULFIL
    return CANCEL


def settled_items(checkout: Checkout) -> list[dict] | None:
    """The POST /fulfillments items of an order whose items are all settled, else None."""
    items = []
    for item in checkout.items.select_related("product", "subscription__product"):
        outcome = item_outcome(checkout, item)
        if outcome is None or not item.order_item_id:
            return None
        key = "quantity" if outcome == FULFIL else "cancelQuantity"
        items.append({"itemId": item.order_item_id, key: item.quantity})
    return items


def fulfil_when_ready(checkout_pk: int) -> bool:
    """Report the order's fulfilment once every item is settled (once: a fulfilled order is left)."""
    with transaction.atomic():
        checkout = Checkout.objects.select_for_update().get(pk=checkout_pk)
        if not checkout.order_id or checkout.fulfilled_at or checkout.state == CheckoutState.FAILED:
            return False
        items = settled_items(checkout)
        if items is None:
            return False
        change = next(
            (c for i in checkout.items.exclude(subscription=None) if (c := change_of(i.subscription))), None
        )
        try:
            with operations.joining(change):
                operations.start(
                    Actor.system(),
                    checkout,
                    FulfilOrder.kind,
                    partner_id=checkout.partner_id,
                    params={"items": items},
                )
        except RuleViolation:  # a fulfilment (or another call) is already on its way
            return False
    return True


def fulfil_ready_orders() -> int:
    """Scheduled: fulfil every accepted order whose items have been settled since."""
    waiting = Checkout.objects.filter(
        state__in=[CheckoutState.ORDERED, CheckoutState.PAID], fulfilled_at__isnull=True
    ).exclude(order_id="")
    return sum(fulfil_when_ready(pk) for pk in waiting.values_list("pk", flat=True))


@operations.register
class FulfilOrder(operations.OperationHandler):
    """POST /fulfillments with what was delivered and what is cancelled; a retry looks first."""

    kind = "dr.fulfil_order"
    label = "Report fulfilment to Digital River"

    def perform(self, operation, checkout):
        client = DigitalRiverClient()
        if operation.attempts > 1:
            done = client.list_fulfillments(checkout.order_id)
            if done:
                return {"fulfillment_id": done[0].id, "items": operation.params["items"]}
        fulfillment = client.fulfil(checkout.order_id, operation.params["items"])
        return {"fulfillment_id": fulfillment.id, "items": operation.params["items"]}

    def succeeded(self, operation, checkout, result, actor):
        before = audit.snapshot(checkout)
        checkout.fulfillment_id, checkout.fulfilled_at = result["fulfillment_id"], timezone.now()
        checkout.save()
        by_item = {i["itemId"]: i for i in result["items"]}
        for item in checkout.items.all():
            reported = by_item.get(item.order_item_id, {})
            item.fulfilled_quantity = reported.get("quantity", 0)
            item.cancelled_quantity = reported.get("cancelQuantity", 0)
            item.save(update_fields=["fulfilled_quantity", "cancelled_quantity"])
        audit.record(
            actor,
            "billing.order_fulfilled",
            checkout,
            partner_id=checkout.partner_id,
            before=before,
            changes={"items": [None, result["items"]]},
        )

    def failed(self, operation, checkout, actor):
        from billing.services import notices

        for item in checkout.items.exclude(subscription=None).select_related("subscription"):
            notices.alert_staff(item.subscription, f"Fulfilment of order {checkout.order_id} failed.")


def _checkout_of_charge(charge) -> Checkout | None:
    return Checkout.objects.filter(order_id=charge.order_id).first() if charge.order_id else None


def charge_captured(charge, actor: Actor) -> Checkout | None:
    """order.charge.capture.complete: what was fulfilled is paid; a renewal is renewed."""
    from billing.services import renewals

    checkout = _checkout_of_charge(charge)
    if checkout is None:
        return None
    with transaction.atomic():
        checkout = Checkout.objects.select_for_update().get(pk=checkout.pk)
        before = audit.snapshot(checkout)
        checkout.captured_amount = max(checkout.captured_amount, charge.captured_amount)
        if checkout.state == CheckoutState.ORDERED:
            states.move(checkout, CheckoutState.PAID, CHECKOUT_MOVES, save=False)
        checkout.save()
        audit.record(
            actor, "billing.payment_captured", checkout, partner_id=checkout.partner_id, before=before
        )
    if checkout.kind == CheckoutKind.RENEWAL:
        renewals.renewal_captured(checkout, actor)
    return checkout


def charge_cancelled(charge, actor: Actor) -> Checkout | None:
    """order.charge.cancel.complete: cancelled quantities are not charged; nothing left is a
    checkout that charged nothing (a renewal with nothing left to renew)."""
    from billing.services import renewals

    checkout = _checkout_of_charge(charge)
    if checkout is None:
        return None
    cancels = charge.raw.get("cancels") if isinstance(charge.raw.get("cancels"), list) else []
    amount = sum((Decimal(str(c.get("amount") or 0)) for c in cancels if isinstance(c, dict)), Decimal(0))
    with transaction.atomic():
        checkout = Checkout.objects.select_for_update().get(pk=checkout.pk)
        before = audit.snapshot(checkout)
        checkout.cancelled_amount = max(checkout.cancelled_amount, amount)
        # Read from the money, not from our fulfilment record: over HTTP this event may come
        # before the answer to POST /fulfillments.
        if checkout.cancelled_amount >= checkout.authorized_amount and not checkout.captured_amount:
            states.move(checkout, CheckoutState.CANCELLED, CHECKOUT_MOVES, save=False)
        checkout.save()
        audit.record(
            actor, "billing.payment_cancelled", checkout, partner_id=checkout.partner_id, before=before
        )
    if checkout.kind == CheckoutKind.RENEWAL and checkout.state == CheckoutState.CANCELLED:
        renewals.renewal_not_charged(checkout, actor)
    return checkout


def charge_failed(charge, actor: Actor) -> Checkout | None:
    """order.charge.capture.failed (or order.charge.failed): the payment did not go through."""
    from billing.services import renewals

    checkout = _checkout_of_charge(charge)
    if checkout is None:
        return None
    states.move_all(Checkout.objects.filter(pk=checkout.pk), CheckoutState.FAILED, CHECKOUT_MOVES)
    if checkout.kind == CheckoutKind.RENEWAL:
        renewals.renewal_payment_failed(checkout, actor)
    return checkout
