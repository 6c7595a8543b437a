"""Selling a subscription: acquisition checkout, activation once paid, then provisioning.

Nothing is provisioned before Digital River accepts the order; provisioning goes through the
existing services (ACME contract, zone plan, add-on) and its failures stay visible and retried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from billing.models import (
    BillingAgreement,
    BillingSubscription,
    Checkout,
    CheckoutItem,
    CheckoutState,
    Product,
    ProvisioningState,
    Provisions,
    SubscriptionState,
)
from billing.rules import Line, acquisition_item, check_acquisition
from billing.services.common import dr_customer_id, require_billing
from core import audit, operations
from core.actor import Actor, Face
from core.errors import DomainError, ValidationFailed
from core.tasks import enqueue_on_commit
from partner.models import Customer
from subscriptions.acme_rules import clean_sans
from vendors.digitalriver import DigitalRiverClient

logger = logging.getLogger(__name__)
PROVISION_TASK = "billing.tasks.provision_task"


@dataclass(frozen=True)
class OrderLine:
    """What the reseller sells in one line: a product, how many, and what to provision with it."""

    product: Product
    quantity: int = 1
    options: dict | None = None


def start_checkout(
    actor: Actor, customer: Customer, lines: list[OrderLine], *, auto_renewal: bool | None = True
) -> Checkout:
    """Open an acquisition checkout; Digital River's acquisition rules are applied before any call."""
    require_billing(actor, customer)
    if not lines:
        raise ValidationFailed("Add at least one product.", fields={"items": "At least one item."})
    currencies = {line.product.currency for line in lines}
    for i, line in enumerate(lines):
        if line.product.partner_id != customer.partner_id or not line.product.active:
            raise ValidationFailed(
                f"Item {i + 1}: {line.product} is not for sale to this customer.",
                fields={f"items[{i}].product": "Not one of this partner's products."},
            )
        if line.quantity < 1:
            raise ValidationFailed("Quantities start at 1.", fields={f"items[{i}].quantity": "At least 1."})
    if len(currencies) > 1:
        raise ValidationFailed(
            "One checkout, one currency.", fields={"items": f"Mixed: {sorted(currencies)}."}
        )
    options = [_check_options(customer, line, i) for i, line in enumerate(lines)]
    rule_lines = [
        Line(
            sku_id=line.product.sku_id,
            price=line.product.price,
            quantity=line.quantity,
            plan_id=line.product.plan.plan_id if line.product.plan else None,
            terms=line.product.plan.terms if line.product.plan else None,
            auto_renewal=auto_renewal,
            free_trial=line.product.free_trial,
        )
        for line in lines
    ]
    check_acquisition(rule_lines)
    with transaction.atomic():
        checkout = Checkout.objects.create(
            partner=customer.partner,
            customer=customer,
            currency=currencies.pop(),
            total=sum((line.product.price * line.quantity for line in lines), Decimal("0")),
        )
        for line, opts in zip(lines, options, strict=True):
            subscription = None
            if line.product.plan:
                subscription = BillingSubscription.objects.create(
                    partner=customer.partner,
                    customer=customer,
                    product=line.product,
                    plan=line.product.plan,
                    acquisition=checkout,
                    quantity=line.quantity,
                    price=line.product.price,
                    provision_options=opts,
                    provisioning_state=(
                        ProvisioningState.NOT_NEEDED
                        if line.product.provisions == Provisions.NOTHING
                        else ProvisioningState.AWAITING_PAYMENT
                    ),
                )
            CheckoutItem.objects.create(
                checkout=checkout,
                product=line.product,
                quantity=line.quantity,
                price=line.product.price,
                subscription=subscription,
            )
        audit.record(
            actor,
            "billing.checkout_started",
            checkout,
            partner_id=checkout.partner_id,
            changes={
                "items": [None, [f"{li.quantity} x {li.product.sku_id}" for li in lines]],
                "total": [None, str(checkout.total)],
            },
        )
        operations.start(actor, checkout, OpenCheckout.kind, partner_id=checkout.partner_id)
    return checkout


def _check_options(customer: Customer, line: OrderLine, index: int) -> dict:
    """What provisioning will need, checked now so a paid order never lacks it."""
    opts = dict(line.options or {})
    if line.product.provisions == Provisions.ACME_CONTRACT:
        opts["sans"] = clean_sans(opts.get("sans"), field=f"items[{index}].options.sans")
    elif line.product.provisions in (Provisions.ZONE_PLAN, Provisions.ADDON):
        from billing.services import cloudflare_provisioning

        opts = cloudflare_provisioning.check_options(customer, line.product.provisions, opts, index)
    return opts


def checkout_items(checkout: Checkout) -> list[dict]:
    """The checkout's items in Digital River's shape, our subscription ids included."""
    items = []
    for item in checkout.items.select_related("product__plan", "subscription"):
        plan = item.product.plan
        items.append(
            acquisition_item(
                Line(
                    sku_id=item.product.sku_id,
                    price=item.price,
                    quantity=item.quantity,
                    plan_id=plan.plan_id if plan else None,
                    terms=plan.terms if plan else None,
                    free_trial=item.product.free_trial,
                    subscription_id=item.subscription.subscription_id if item.subscription else None,
                )
            )
        )
    return items


@operations.register
class OpenCheckout(operations.OperationHandler):
    """POST /drop-in/checkout-sessions with customer_initiated and our subscriptionIds (a retry is safe)."""

    kind = "dr.open_checkout"
    label = "Open Digital River checkout"

    def perform(self, operation, checkout):
        client = DigitalRiverClient()
        customer = checkout.customer
        customer_id = client.ensure_customer(
            dr_customer_id(customer), email=customer.contact_email or "", name=customer.name
        )
        session = client.create_checkout_session(
            customer_id=customer_id,
            currency=checkout.currency,
            items=checkout_items(checkout),
            charge_type="customer_initiated",
            upstream_id=str(checkout.reference),
            email=customer.contact_email or None,
        )
        return {"session_id": session.id, "link": session.link}

    def succeeded(self, operation, checkout, result, actor):
        before = audit.snapshot(checkout)
        checkout.session_id, checkout.payment_link = result["session_id"], result["link"] or ""
        checkout.state = CheckoutState.OPEN
        checkout.save()
        audit.record(
            actor, "billing.checkout_opened", checkout, partner_id=checkout.partner_id, before=before
        )

    def failed(self, operation, checkout, actor):
        checkout.state = CheckoutState.FAILED
        checkout.save(update_fields=["state", "updated_at"])

    def retrying(self, operation, checkout):
        checkout.state = CheckoutState.PENDING
        checkout.save(update_fields=["state", "updated_at"])


def retry_checkout(actor: Actor, checkout: Checkout):
    """Open a checkout again after Digital River failed to: its latest failed operation is queued again."""
    from core.errors import RuleViolation
    from core.models import OperationState

    require_billing(actor, checkout.customer)
    failed = operations.on_objects(Checkout.objects.filter(pk=checkout.pk)).order_by("-created_at").first()
    if failed is None or failed.state != OperationState.FAILED:
        raise RuleViolation("Nothing to retry on this checkout.", code="not_retryable")
    return operations.retry(actor, failed)


def order_accepted(order, actor: Actor) -> Checkout | None:
    """Digital River accepted an order: record it, keep the agreement, activate its subscriptions."""
    checkout = _checkout_of(order)
    if checkout is None:
        return None
    with transaction.atomic():
        checkout = Checkout.objects.select_for_update().get(pk=checkout.pk)
        before = audit.snapshot(checkout)
        checkout.order_id, checkout.order_state = order.id, order.state
        checkout.checkout_id = order.checkout_id or checkout.checkout_id
        if checkout.state in (CheckoutState.PENDING, CheckoutState.OPEN):
            checkout.state = CheckoutState.ORDERED
        agreements = {i.billing_agreement_id for i in order.items if i.billing_agreement_id}
        if agreements:
            checkout.billing_agreement_id = sorted(agreements)[0]
        checkout.save()
        audit.record(actor, "billing.order_accepted", checkout, partner_id=checkout.partner_id, before=before)
        for agreement in agreements:
            BillingAgreement.objects.get_or_create(
                agreement_id=agreement, defaults={"customer": checkout.customer, "first_order_id": order.id}
            )
        for item in order.items:
            if not item.subscription_id:
                continue
            subscription = BillingSubscription.objects.filter(subscription_id=item.subscription_id).first()
            if subscription is None or subscription.state != SubscriptionState.DRAFT:
                continue  # a renewal order, or already handled
            subscription.billing_agreement_id = item.billing_agreement_id or subscription.billing_agreement_id
            subscription.save(update_fields=["billing_agreement_id", "updated_at"])
            operations.start(
                actor, subscription, ActivateSubscription.kind, partner_id=subscription.partner_id
            )
    return checkout


def _checkout_of(order) -> Checkout | None:
    if order.upstream_id:
        found = Checkout.objects.filter(reference=order.upstream_id).first()
        if found:
            return found
    ids = [i.subscription_id for i in order.items if i.subscription_id]
    sub = BillingSubscription.objects.filter(subscription_id__in=ids).select_related("acquisition").first()
    return sub.acquisition if sub else Checkout.objects.filter(order_id=order.id).first()


def apply_vendor_subscription(subscription: BillingSubscription, vendor) -> None:
    """Copy Digital River's dates and state onto ours (they exist only once it is activated)."""
    subscription.contract_binding_until = vendor.contract_binding_until
    subscription.next_reminder_date = vendor.next_reminder_date
    subscription.current_period_end_date = vendor.current_period_end_date
    subscription.next_invoice_date = vendor.next_invoice_date
    subscription.billing_agreement_id = vendor.billing_agreement_id or subscription.billing_agreement_id
    if vendor.state in SubscriptionState.values:
        subscription.state = vendor.state
    subscription.vendor_view = {
        k: (v.isoformat() if hasattr(v, "isoformat") else v)
        for k, v in vendor.raw.items()
        if not isinstance(v, (dict, list))
    }


@operations.register
class ActivateSubscription(operations.OperationHandler):
    """POST /subscriptions/{id} with exactly {"state": "active"}, then provision what was bought."""

    kind = "dr.activate_subscription"
    label = "Activate Digital River subscription"

    def perform(self, operation, subscription):
        client = DigitalRiverClient()
        current = client.get_subscription(subscription.subscription_id) if operation.attempts > 1 else None
        vendor = (
            current
            if current and current.state != "draft"
            else client.activate_subscription(subscription.subscription_id)
        )
        return {"_vendor": vendor}

    def succeeded(self, operation, subscription, result, actor):
        before = audit.snapshot(subscription)
        apply_vendor_subscription(subscription, result["_vendor"])
        subscription.activated_at = timezone.now()
        inherited = _inherit_provisioned(subscription)
        if subscription.provisioning_state == ProvisioningState.AWAITING_PAYMENT and not inherited:
            subscription.provisioning_state = ProvisioningState.PENDING
            enqueue_on_commit(PROVISION_TASK, subscription.pk)
        subscription.save()
        audit.record(
            actor,
            "billing.subscription_activated",
            subscription,
            partner_id=subscription.partner_id,
            before=before,
        )
        from billing.services.changes import replacement_activated

        replacement_activated(actor, subscription)


def _inherit_provisioned(subscription: BillingSubscription) -> bool:
    """A replacement that provisions the same thing takes over what the old one provisioned (an ACME
    contract or add-on goes on); a zone plan is provisioned again, as the new plan."""
    old = subscription.replaces
    same = (
        old is not None and old.provisioned_id and subscription.product.provisions == old.product.provisions
    )
    if not same or subscription.product.provisions == Provisions.ZONE_PLAN:
        return False
    subscription.provisioned_type_id, subscription.provisioned_id = (
        old.provisioned_type_id,
        old.provisioned_id,
    )
    subscription.provisioning_state = ProvisioningState.DONE
    return True


def provision(subscription_id: int) -> None:
    """Create what a paid subscription bought, once; a refusal is recorded and retried later."""
    with transaction.atomic():
        subscription = (
            BillingSubscription.objects.select_for_update()
            .select_related("product", "customer__partner")
            .get(pk=subscription_id)
        )
        if subscription.provisioning_state != ProvisioningState.PENDING or subscription.provisioned_id:
            return
        actor = Actor.system(Face.TASK)
        try:
            with transaction.atomic():
                target = _provision_target(actor, subscription)
        except DomainError as error:
            subscription.provisioning_error = f"{error.message} [{error.code}]"
            subscription.save(update_fields=["provisioning_error", "updated_at"])
            audit.record(
                actor,
                "billing.provisioning_failed",
                subscription,
                partner_id=subscription.partner_id,
                changes={},
                note=subscription.provisioning_error,
            )
            logger.warning("provisioning of subscription %s refused: %s", subscription_id, error)
            return
        before = audit.snapshot(subscription)
        subscription.provisioned_type = ContentType.objects.get_for_model(target)
        subscription.provisioned_id = str(target.pk)
        subscription.provisioning_state = ProvisioningState.DONE
        subscription.provisioning_error = ""
        subscription.save()
        audit.record(
            actor,
            "billing.provisioned",
            subscription,
            partner_id=subscription.partner_id,
            before=before,
            note=str(target),
        )


def _provision_target(actor: Actor, subscription: BillingSubscription):
    """Call the service that creates the product's object (its own vendor call follows in a task)."""
    params, opts = subscription.product.provision_params, subscription.provision_options
    if subscription.product.provisions == Provisions.ACME_CONTRACT:
        from subscriptions.services import acme

        return acme.order_acme_contract(
            actor,
            subscription.customer,
            product=params.get("product", "ssl_dv_rapidssl"),
            sans=opts["sans"],
            auto_renew=True,  # renews with the billing; when the billing ends, renewal is stopped
        )
    from billing.services import cloudflare_provisioning

    return cloudflare_provisioning.provision(actor, subscription)


def retry_provisioning(actor: Actor, subscription: BillingSubscription) -> BillingSubscription:
    """Staff or a reseller tries a refused provisioning again (after fixing its cause)."""
    require_billing(actor, subscription.customer)
    if subscription.provisioning_state != ProvisioningState.PENDING or subscription.provisioned_id:
        from core.errors import RuleViolation

        raise RuleViolation(
            "Nothing is waiting to be provisioned for this subscription.", code="not_retryable"
        )
    enqueue_on_commit(PROVISION_TASK, subscription.pk)
    return subscription


def provision_pending() -> int:
    """Scheduled: provision every paid subscription still waiting (never silently dropped)."""
    pending = list(
        BillingSubscription.objects.filter(
            provisioning_state=ProvisioningState.PENDING, provisioned_id=""
        ).values_list("pk", flat=True)
    )
    for pk in pending:
        provision(pk)
    return len(pending)
