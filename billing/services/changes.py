"""Changing a live subscription: within its agreed terms it keeps its billing agreement; outside
them (upgrade, cycle or duration, quantity, an added subscription) the customer accepts a new one
through a new customer-initiated checkout, and the old subscription ends once the new one is paid."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from billing.error_codes import BillingErrorCode
from billing.models import (
    BILLING_SUBSCRIPTION_MOVES,
    RENEWING_STATES,
    BillingAgreement,
    BillingSubscription,
    Checkout,
    Product,
    ProvisioningState,
    Provisions,
    SubscriptionState,
)
from billing.rules import Change, needs_new_agreement
from billing.services.acquisition import OrderLine, provisioning, start_checkout
from billing.services.common import NEW_AGREEMENT_CHANGE, require_billing
from billing.services.fulfilment import FULFIL_TASK
from core import audit, operations, states
from core.actor import Actor
from core.error_codes import CoreErrorCode
from core.errors import RuleViolation, ValidationFailed
from core.tasks import enqueue_on_commit
from vendors.digitalriver.client import DigitalRiverClient


@dataclass(frozen=True)
class ChangeOutcome:
    agreement: str  # "same" or "new"
    checkout: Checkout | None
    subscription: BillingSubscription


def change_subscription(
    actor: Actor,
    subscription: BillingSubscription,
    change: str,
    *,
    product: Product | None = None,
    quantity: int | None = None,
) -> ChangeOutcome:
    """Apply a change with the billing agreement Digital River's rules call for (see needs_new_agreement)."""
    require_billing(actor, subscription.customer)
    if subscription.state not in RENEWING_STATES:
        raise RuleViolation(
            "Only a live subscription can change.", code=BillingErrorCode.SUBSCRIPTION_NOT_ACTIVE
        )
    if not needs_new_agreement(change):
        audit.record(
            actor,
            "billing.changed_within_terms",
            subscription,
            partner_id=subscription.partner_id,
            changes={"change": [None, change]},
            note="same billing agreement",
        )
        return ChangeOutcome("same", None, subscription)
    product, quantity = _check_change(subscription, change, product, quantity)
    with (
        transaction.atomic(),
        operations.change(
            actor, subscription, NewAgreementChange.kind, partner_id=subscription.partner_id
        ) as record,
    ):
        checkout = start_checkout(
            actor, subscription.customer, [OrderLine(product, quantity, dict(subscription.provision_options))]
        )
        new = checkout.items.get().subscription
        if change != Change.ADDED_SUBSCRIPTION:
            new.replaces = subscription
            new.save(update_fields=["replaces", "updated_at"])
        record.params = {"change": change, "new": new.pk, "checkout": checkout.pk}
        record.save(update_fields=["params"])
        audit.record(
            actor,
            "billing.change_requested",
            subscription,
            partner_id=subscription.partner_id,
            changes={"change": [None, change], "checkout": [None, str(checkout.reference)]},
            note="new billing agreement through a customer-initiated checkout",
        )
    return ChangeOutcome("new", checkout, new)


def _check_change(subscription, change, product, quantity) -> tuple[Product, int]:
    product = product or subscription.product
    quantity = quantity or subscription.quantity
    if product.partner_id != subscription.partner_id or not product.is_subscription:
        raise ValidationFailed(
            "Choose one of the partner's subscription products.", fields={"product": "Invalid."}
        )
    unchanged = product == subscription.product and quantity == subscription.quantity
    if change == Change.QUANTITY and quantity == subscription.quantity:
        raise ValidationFailed("The quantity is the same.", fields={"quantity": "Give the new quantity."})
    if change == Change.UPGRADE and product.price <= subscription.product.price:
        raise ValidationFailed(
            "An upgrade moves to a higher-priced product.", fields={"product": "Not higher."}
        )
    if change == Change.CYCLE and (product.plan.interval, product.plan.interval_count) == (
        subscription.plan.interval,
        subscription.plan.interval_count,
    ):
        raise ValidationFailed(
            "Choose a product on another billing cycle.", fields={"product": "Same cycle."}
        )
    if unchanged and change != Change.ADDED_SUBSCRIPTION:
        raise ValidationFailed("Nothing would change.", code=CoreErrorCode.NOTHING_TO_CHANGE)
    return product, quantity


def replacement_activated(actor: Actor, new: BillingSubscription) -> None:
    """The replacing subscription is paid: the one it replaces ends (at Digital River when its
    service runs it; ours alone for an external subscription, which Digital River holds no object for).

    A zone plan is provisioned anew: the old subscription goes on until Cloudflare has the new plan
    (replacement_delivered), so a refused upgrade leaves the customer billed for what they have."""
    if new.product.provisions == Provisions.ZONE_PLAN:
        return
    replacement_delivered(actor, new)


def replacement_delivered(actor: Actor, new: BillingSubscription) -> None:
    """What the replacing subscription sells is provided: the one it replaces ends now."""
    if not new.replaces_id or new.replaces.state not in RENEWING_STATES:
        return
    if new.replaces.run_by_digital_river:
        operations.start(actor, new.replaces, CancelReplaced.kind, partner_id=new.partner_id)
    else:
        _replaced(actor, BillingSubscription.objects.select_for_update().get(pk=new.replaces_id))


def downgrade_products(subscription: BillingSubscription):
    """What the subscription can be downgraded to: the partner's active, cheaper products of the same
    plan that provide the same kind of service."""
    return Product.objects.filter(
        partner_id=subscription.partner_id,
        plan_id=subscription.plan_id,
        provisions=subscription.product.provisions,
        active=True,
        price__lt=subscription.price,
    ).order_by("-price", "name")


def schedule_downgrade(
    actor: Actor, subscription: BillingSubscription, product: Product
) -> BillingSubscription:
    """A downgrade (a cheaper product on the same plan) keeps the agreement and takes effect at the
    end of the paid period, with the new price from then; until then the customer keeps what they
    paid for. A downgrade to nothing is "stop renewal" (billing.services.cancellation)."""
    require_billing(actor, subscription.customer)
    if subscription.state not in RENEWING_STATES:
        raise RuleViolation(
            "Only a live subscription can change.", code=BillingErrorCode.SUBSCRIPTION_NOT_ACTIVE
        )
    if not downgrade_products(subscription).filter(pk=product.pk).exists():
        raise ValidationFailed(
            "A downgrade moves to a lower-priced product of the same plan that provides the same kind of "
            "service; a higher one is an upgrade (a new agreement).",
            fields={"product": "Not a downgrade of this subscription."},
        )
    with transaction.atomic():
        subscription = BillingSubscription.objects.select_for_update().get(pk=subscription.pk)
        before = audit.snapshot(subscription)
        subscription.scheduled_change = {"product": product.pk}
        subscription.save()
        audit.record(
            actor,
            "billing.downgrade_scheduled",
            subscription,
            partner_id=subscription.partner_id,
            before=before,
            note=f"to {product.sku_id} at {product.price} from {subscription.current_period_end_date:%Y-%m-%d}",
        )
    return subscription


def apply_scheduled_changes(now) -> int:
    """At the end of the paid period, before its renewal: the scheduled downgrade takes effect at the
    vendor (through the vendor's service, as billing's own change) and its price from this renewal."""
    from billing.services import cloudflare_provisioning

    due = BillingSubscription.objects.exclude(scheduled_change={}).filter(
        state__in=RENEWING_STATES, next_invoice_date__lte=now
    )
    applied = 0
    for subscription in due.select_related("product"):
        with transaction.atomic():
            subscription = BillingSubscription.objects.select_for_update().get(pk=subscription.pk)
            product = Product.objects.get(pk=subscription.scheduled_change["product"])
            before = audit.snapshot(subscription)
            subscription.product, subscription.price = product, product.price
            subscription.scheduled_change = {}
            subscription.save()
            cloudflare_provisioning.apply_product(Actor.system(), subscription)
            audit.record(
                Actor.system(),
                "billing.downgraded",
                subscription,
                partner_id=subscription.partner_id,
                before=before,
                note=f"{product.sku_id} at {product.price} from this renewal",
            )
            applied += 1
    return applied


@operations.register
class NewAgreementChange(operations.ChangeHandler):
    """A change on a new agreement, as one record: the checkout opens, the customer pays, the vendor
    change is made, the order is fulfilled (captured only for what was provided), the replaced
    subscription ends. A vendor change refused for good is undone on the billing side."""

    kind = NEW_AGREEMENT_CHANGE
    label = "Change on a new billing agreement"

    def step_succeeded(self, change, step, actor):
        if step.kind == "cloudflare.change_zone_plan":
            new = BillingSubscription.objects.select_for_update().get(pk=change.params["new"])
            replacement_delivered(actor, new)
            if new.acquisition_id:
                enqueue_on_commit(FULFIL_TASK, new.acquisition_id)  # provided: now it is captured

    def step_failed(self, change, step, actor):
        new = BillingSubscription.objects.select_for_update().get(pk=change.params["new"])
        if step.kind != "cloudflare.change_zone_plan":
            return f"Nothing to undo yet: retry “{step.label}” once its cause is fixed."
        return _undo_new_subscription(actor, new, step.last_error)

    def waiting_for(self, change):
        new = BillingSubscription.objects.select_related("acquisition").get(pk=change.params["new"])
        if new.state == SubscriptionState.DRAFT:
            return "the customer's payment"
        if new.acquisition is not None and new.acquisition.fulfilled_at is None:
            return "the vendor change and the order's fulfilment"
        return ""


def _undo_new_subscription(actor: Actor, new: BillingSubscription, error: str) -> str:
    """The vendor refused the change for good: the new subscription provided nothing, so its order
    item is cancelled (never captured) and it ends; the subscription it would replace goes on."""
    from billing.services import cancellation, fulfilment, lifecycle, notices

    before = audit.snapshot(new)
    provisioning(new, ProvisioningState.FAILED)
    new.provisioning_error = error
    new.provisioned_type, new.provisioned_id = None, ""
    new.replaces = None
    new.save()
    audit.record(actor, "billing.change_undone", new, partner_id=new.partner_id, before=before, note=error)
    if new.run_by_digital_river:
        operations.start(
            actor, new, cancellation.CancelAtDigitalRiver.kind, partner_id=new.partner_id, undo=True
        )
    else:
        lifecycle.billing_ended(actor, new, SubscriptionState.CANCELLED, notify=False)
        operations.log_step("New subscription cancelled (ours alone: the back office runs it).")
    if new.acquisition_id:
        fulfilment.fulfil_when_ready(new.acquisition_id)  # its item is cancelled: nothing captured
    notices.alert_staff(new, f"The vendor refused the change for good ({error}); it was undone on billing.")
    return (
        "The new subscription provided nothing: its order item is cancelled (not charged) and it ends; "
        "the subscription it would have replaced goes on at its price."
    )


@operations.register
class CancelReplaced(operations.OperationHandler):
    """POST /subscriptions/{id} with exactly {"state": "cancelled"} for a subscription that was replaced."""

    kind = "dr.cancel_replaced_subscription"
    label = "Cancel replaced subscription at Digital River"

    def perform(self, operation, subscription):
        client = DigitalRiverClient()
        current = client.get_subscription(subscription.subscription_id)
        vendor = (
            current
            if current.state == "cancelled"
            else client.cancel_subscription(subscription.subscription_id)
        )
        return {"state": vendor.state}

    def succeeded(self, operation, subscription, result, actor):
        _replaced(actor, subscription)


def _replaced(actor: Actor, subscription: BillingSubscription) -> None:
    """The replaced subscription is cancelled; its agreement is superseded once nothing uses it."""
    before = audit.snapshot(subscription)
    states.move(subscription, SubscriptionState.CANCELLED, BILLING_SUBSCRIPTION_MOVES, save=False)
    subscription.ended_at = timezone.now()
    subscription.save()
    if not BillingSubscription.objects.filter(
        billing_agreement_id=subscription.billing_agreement_id, state__in=RENEWING_STATES
    ).exists():
        BillingAgreement.objects.filter(
            agreement_id=subscription.billing_agreement_id, superseded_at__isnull=True
        ).update(superseded_at=timezone.now())
    audit.record(actor, "billing.replaced", subscription, partner_id=subscription.partner_id, before=before)


def cancel_scheduled_downgrade(actor: Actor, subscription: BillingSubscription) -> BillingSubscription:
    """The scheduled downgrade is dropped before it takes effect: the subscription renews on its
    current product at its current price."""
    require_billing(actor, subscription.customer)
    with transaction.atomic():
        subscription = BillingSubscription.objects.select_for_update().get(pk=subscription.pk)
        if not subscription.scheduled_change:
            raise RuleViolation("No downgrade is scheduled.", code=BillingErrorCode.NO_DOWNGRADE_SCHEDULED)
        product = Product.objects.filter(pk=subscription.scheduled_change.get("product")).first()
        before = audit.snapshot(subscription)
        subscription.scheduled_change = {}
        subscription.save()
        audit.record(
            actor,
            "billing.downgrade_cancelled",
            subscription,
            partner_id=subscription.partner_id,
            before=before,
            note=f"to {product.sku_id if product else 'a removed product'} no longer scheduled; "
            f"renews at {subscription.price}",
        )
    return subscription
