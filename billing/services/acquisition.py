"""Selling a subscription: acquisition checkout, activation once paid, then provisioning.

Nothing is provisioned before Digital River accepts the order; provisioning goes through the
existing services (ACME contract, zone plan, add-on) and its failures stay visible and retried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from billing.models import (
    BILLING_SUBSCRIPTION_MOVES,
    CHECKOUT_MOVES,
    PROVISIONING_MOVES,
    BillingAgreement,
    BillingSubscription,
    Checkout,
    CheckoutItem,
    CheckoutKind,
    CheckoutState,
    NoticeKind,
    PlanState,
    Product,
    ProvisioningState,
    Provisions,
    SubscriptionState,
)
from billing.rules import Line, acquisition_item, check_acquisition, period_end, reminder_dates
from billing.services import notices
from billing.services.common import ShowsCheckoutState, change_of, dr_customer_id, require_billing
from billing.services.fulfilment import FULFIL_TASK
from core import audit, clock, operations, states
from core.actor import Actor, Face
from core.error_codes import CoreErrorCode
from core.errors import DomainError, RuleViolation, ValidationFailed
from core.tasks import enqueue_on_commit
from partner import billing_model
from partner.error_codes import PartnerErrorCode
from partner.models import Customer
from subscriptions.acme.rules import clean_sans
from vendors.digitalriver.client import DigitalRiverClient
from vendors.errors import VendorError

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
    if len(lines) > settings.BILLING_MAX_ITEMS:
        raise ValidationFailed(
            f"A checkout holds at most {settings.BILLING_MAX_ITEMS} items.",
            fields={"items": f"At most {settings.BILLING_MAX_ITEMS}."},
        )
    currencies = {line.product.currency for line in lines}
    for i, line in enumerate(lines):
        if line.product.partner_id != customer.partner_id or not line.product.active:
            raise ValidationFailed(
                f"Item {i + 1}: {line.product} is not for sale to this customer.",
                fields={f"items[{i}].product": "Not one of this partner's products."},
            )
        if not 1 <= line.quantity <= settings.BILLING_MAX_QUANTITY:
            raise ValidationFailed(
                f"Quantities run from 1 to {settings.BILLING_MAX_QUANTITY}.",
                fields={f"items[{i}].quantity": f"From 1 to {settings.BILLING_MAX_QUANTITY}."},
            )
        _check_billed_here(customer, line, i)
    if len(currencies) > 1:
        raise ValidationFailed(
            "One checkout, one currency.", fields={"items": f"Mixed: {sorted(currencies)}."}
        )
    options = [_check_options(customer, line, i) for i, line in enumerate(lines)]
    rule_lines = [acquisition_line(line.product, line.quantity, auto_renewal=auto_renewal) for line in lines]
    check_acquisition(rule_lines)
    with transaction.atomic():
        checkout = Checkout.objects.create(
            partner=customer.partner,
            customer=customer,
            currency=currencies.pop(),
            total=sum((rule.price * rule.quantity for rule in rule_lines), Decimal("0")),
        )
        for line, opts, rule in zip(lines, options, rule_lines, strict=True):
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
                    free_trial=line.product.has_trial_period,
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
                price=rule.price,
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


def _check_billed_here(customer: Customer, line: OrderLine, index: int) -> None:
    """Billing model per subaccount: DigiCert bills the subaccount, so a DigiCert product is refused
    here (billing the customer too would bill twice); Cloudflare products are sold either way."""
    if line.product.provisions == Provisions.ACME_CONTRACT and billing_model.digicert_bills_subaccounts(
        customer.partner
    ):
        raise RuleViolation(
            f"Item {index + 1}: {line.product} is a DigiCert product and {customer.partner} is billed "
            "per subaccount by DigiCert; the back office does not bill it (that would bill twice).",
            code=PartnerErrorCode.DIGICERT_BILLED_PER_SUBACCOUNT,
            fields={f"items[{index}].product": "DigiCert bills this partner's subaccounts directly."},
        )


def _check_options(customer: Customer, line: OrderLine, index: int) -> dict:
    """What provisioning will need, checked now so a paid order never lacks it."""
    opts = dict(line.options or {})
    if line.product.provisions == Provisions.ACME_CONTRACT:
        opts["sans"] = clean_sans(opts.get("sans"), field=f"items[{index}].options.sans")
    elif line.product.provisions in (Provisions.ZONE_PLAN, Provisions.ADDON):
        from billing.services import cloudflare_provisioning

        opts = cloudflare_provisioning.check_options(customer, line.product.provisions, opts, index)
    return opts


def acquisition_line(
    product: Product, quantity: int, *, auto_renewal: bool | None = True, price=None, subscription_id=None
) -> Line:
    """One item as Digital River's acquisition rules see it, by the plan's renewal engine.

    A free trial with its own period is sold at 0 on the trial plan (Digital River's engine) or
    with the trial's terms (back office); the product's price is charged from the first renewal.
    """
    plan = product.trial_plan if product.has_trial_period else product.plan
    return Line(
        sku_id=product.sku_id,
        price=Decimal("0") if product.has_trial_period else (product.price if price is None else price),
        quantity=quantity,
        plan_id=plan.plan_id if plan else None,
        terms=plan.terms if plan else None,
        auto_renewal=auto_renewal,
        free_trial=product.free_trial,
        subscription_id=subscription_id,
        external=bool(plan) and not plan.run_by_digital_river,
    )


def checkout_items(checkout: Checkout, fresh_terms: dict[str, str] | None = None) -> list[dict]:
    """The checkout's items in Digital River's shape, our subscription ids included; a Digital River
    plan's terms as read from Digital River right before (`fresh_terms`, by plan id)."""
    items = []
    for item in checkout.items.select_related("product__plan", "product__trial_plan", "subscription"):
        line = acquisition_line(
            item.product,
            item.quantity,
            price=item.price,
            subscription_id=item.subscription.subscription_id if item.subscription else None,
        )
        if fresh_terms and line.plan_id in fresh_terms and not line.external:
            line = replace(line, terms=fresh_terms[line.plan_id])
        items.append(acquisition_item(line))
    return items


def fresh_plan_terms(client: DigitalRiverClient, checkout: Checkout) -> dict[str, str]:
    """The terms of each Digital River plan in the checkout, read from Digital River now: the
    customer accepts what Digital River holds, not an old copy (refused if the plan is not active)."""
    plan_ids = {
        line.plan_id
        for item in checkout.items.select_related("product__plan", "product__trial_plan")
        if (line := acquisition_line(item.product, item.quantity)).plan_id and not line.external
    }
    terms = {}
    for plan_id in sorted(plan_ids):
        plan = client.get_plan(plan_id)
        if plan is None or plan.state != PlanState.ACTIVE:
            raise VendorError(
                "digitalriver",
                "plan_not_active",
                f"Plan {plan_id} is {plan.state if plan else 'unknown'} at Digital River.",
                retryable=False,
            )
        terms[plan_id] = plan.terms
    return terms


@operations.register
class OpenCheckout(ShowsCheckoutState):
    """POST /drop-in/checkout-sessions with customer_initiated and our subscriptionIds (a retry is safe)."""

    kind = "dr.open_checkout"
    label = "Open Digital River checkout"

    def perform(self, operation, checkout):
        client = DigitalRiverClient()
        customer = checkout.customer
        customer_id = client.ensure_customer(
            dr_customer_id(customer), email=customer.contact_email or "", name=customer.name
        )
        if checkout.kind == CheckoutKind.RENEWAL:  # a manual renewal the customer pays by link
            from billing.services.renewals import renewal_items

            items = renewal_items(checkout)
        else:
            items = checkout_items(checkout, fresh_plan_terms(client, checkout))
        session = client.create_checkout_session(
            customer_id=customer_id,
            currency=checkout.currency,
            items=items,
            charge_type="customer_initiated",
            upstream_id=str(checkout.reference),
            email=customer.contact_email or None,
        )
        return {"session_id": session.id, "link": session.link}

    def succeeded(self, operation, checkout, result, actor):
        before = audit.snapshot(checkout)
        checkout.session_id, checkout.payment_link = result["session_id"], result["link"] or ""
        states.move(checkout, CheckoutState.OPEN, CHECKOUT_MOVES, save=False)
        checkout.save()
        audit.record(
            actor, "billing.checkout_opened", checkout, partner_id=checkout.partner_id, before=before
        )
        for renewal in checkout.renewals.select_related("subscription"):
            notices.send(
                renewal.subscription,
                NoticeKind.MANUAL_RENEWAL,
                renewal.renewal_date.date(),
                details={"amount": str(checkout.total), "link": checkout.payment_link},
            )


def retry_checkout(actor: Actor, checkout: Checkout):
    """Open a checkout again after Digital River failed to: its latest failed operation is queued again."""
    from core.errors import RuleViolation
    from core.models import OperationState

    require_billing(actor, checkout.customer)
    failed = operations.on_objects(Checkout.objects.filter(pk=checkout.pk)).order_by("-created_at").first()
    if failed is None or failed.state != OperationState.FAILED:
        raise RuleViolation("Nothing to retry on this checkout.", code=CoreErrorCode.NOT_RETRYABLE)
    return operations.retry(actor, failed)


def order_accepted(order, actor: Actor) -> Checkout | None:
    """Digital River accepted an order (authorised, nothing captured yet): record it, keep the
    agreement and the payment source, start each new subscription by its engine; fulfilment follows."""
    checkout = _checkout_of(order)
    if checkout is None:
        return None
    with transaction.atomic():
        checkout = Checkout.objects.select_for_update().get(pk=checkout.pk)
        before = audit.snapshot(checkout)
        record_order(checkout, order)
        audit.record(actor, "billing.order_accepted", checkout, partner_id=checkout.partner_id, before=before)
        agreements = {i.billing_agreement_id for i in order.items if i.billing_agreement_id}
        for agreement in agreements:
            BillingAgreement.objects.get_or_create(
                agreement_id=agreement, defaults={"customer": checkout.customer, "first_order_id": order.id}
            )
        for item in order.items:
            if not item.subscription_id:
                continue
            subscription = (
                BillingSubscription.objects.select_for_update()
                .select_related("plan", "product")
                .filter(subscription_id=item.subscription_id)
                .first()
            )
            if subscription is None or subscription.state != SubscriptionState.DRAFT:
                continue  # a renewal order, or already handled
            subscription.billing_agreement_id = item.billing_agreement_id or subscription.billing_agreement_id
            subscription.payment_source_id = order.primary_source_id or subscription.payment_source_id
            subscription.save(update_fields=["billing_agreement_id", "payment_source_id", "updated_at"])
            with operations.joining(change_of(subscription)):  # a change's next step, if it is one
                if subscription.run_by_digital_river:
                    operations.start(
                        actor, subscription, ActivateSubscription.kind, partner_id=subscription.partner_id
                    )
                else:
                    start_external_subscription(actor, subscription)
        enqueue_on_commit(FULFIL_TASK, checkout.pk)
    return checkout


def order_state_changed(order, actor: Actor) -> Checkout | None:
    """order.fulfilled / order.complete / order.cancelled: the order's own state, as Digital River
    sees it, is kept on its checkout (what it captured comes with the charge events)."""
    checkout = Checkout.objects.filter(order_id=order.id).first()
    if checkout is not None and checkout.order_state != order.state:
        Checkout.objects.filter(pk=checkout.pk).update(order_state=order.state)
        checkout.order_state = order.state
    return checkout


def record_order(checkout: Checkout, order, *, items: list[CheckoutItem] | None = None) -> None:
    """Copy Digital River's order onto the checkout: its id and state, the agreement, the primary
    source, the authorised amount and each item's id (what POST /fulfillments names). `items`: the
    checkout's items with product and subscription, when the caller has read them already."""
    checkout.order_id, checkout.order_state = order.id, order.state
    checkout.checkout_id = order.checkout_id or checkout.checkout_id
    if checkout.state in (CheckoutState.PENDING, CheckoutState.OPEN):
        states.move(checkout, CheckoutState.ORDERED, CHECKOUT_MOVES, save=False)
    agreements = sorted({i.billing_agreement_id for i in order.items if i.billing_agreement_id})
    if agreements:
        checkout.billing_agreement_id = agreements[0]
    checkout.source_id = order.primary_source_id or checkout.source_id
    checkout.authorized_amount = order.total_amount if order.total_amount is not None else checkout.total
    checkout.save()
    unused = list(order.items)
    if items is None:
        items = checkout.items.select_related("product", "subscription")
    matched = []
    for item in items:
        match = next(
            (
                o
                for o in unused
                if (item.subscription and o.subscription_id == item.subscription.subscription_id)
                or (not item.subscription and not o.subscription_id and o.sku_id == item.product.sku_id)
            ),
            None,
        )
        if match is not None:
            unused.remove(match)
            if item.order_item_id != match.id:
                item.order_item_id = match.id
                matched.append(item)
    if len(matched) == 1:
        matched[0].save(update_fields=["order_item_id"])
    elif matched:  # one UPDATE, not one per item
        CheckoutItem.objects.bulk_update(matched, ["order_item_id"])


def start_external_subscription(actor: Actor, subscription: BillingSubscription) -> None:
    """Back-office engine: the subscription starts when its acquisition order is accepted; its first
    period (the trial's, for a free trial) and its renewal dates are ours to keep."""
    before = audit.snapshot(subscription)
    now = clock.now()
    first = subscription.product.trial_plan if subscription.free_trial else subscription.plan
    started = SubscriptionState.ACTIVE_FREE if subscription.free_trial else SubscriptionState.ACTIVE
    states.move(subscription, started, BILLING_SUBSCRIPTION_MOVES, save=False)
    set_period(subscription, now, period_end(now, first.interval, first.interval_count))
    subscription.contract_binding_until = now + timedelta(days=subscription.plan.contract_binding_days)
    subscription.activated_at = timezone.now()
    _start_provisioning(subscription)
    subscription.save()
    audit.record(
        actor, "billing.subscription_started", subscription, partner_id=subscription.partner_id, before=before
    )
    from billing.services.changes import replacement_activated

    replacement_activated(actor, subscription)  # the one it replaces ends now: never billed twice


def set_period(subscription: BillingSubscription, start, end) -> None:
    """A back-office-engine period: it ends at `end`, is invoiced `billing_offset_days` before, and
    its first reminder is due 30 days before when the term needs reminders."""
    plan = subscription.plan
    subscription.current_period_end_date = end
    subscription.next_invoice_date = end - timedelta(days=plan.billing_offset_days or 0)
    reminders = reminder_dates(end.date(), plan.interval, plan.interval_count)
    subscription.next_reminder_date = datetime.combine(reminders[0][1], end.timetz()) if reminders else None


def _start_provisioning(subscription: BillingSubscription) -> None:
    """Once paid for: provision what was bought (or take over what the replaced one provisioned)."""
    inherited = _inherit_provisioned(subscription)
    if subscription.provisioning_state == ProvisioningState.AWAITING_PAYMENT and not inherited:
        provisioning(subscription, ProvisioningState.PENDING)
        enqueue_on_commit(PROVISION_TASK, subscription.pk)


def _checkout_of(order) -> Checkout | None:
    if order.upstream_id:
        found = Checkout.objects.filter(reference=order.upstream_id).first()
        if found:
            return found
    ids = [i.subscription_id for i in order.items if i.subscription_id]
    sub = BillingSubscription.objects.filter(subscription_id__in=ids).select_related("acquisition").first()
    return sub.acquisition if sub else Checkout.objects.filter(order_id=order.id).first()


def provisioning(subscription: BillingSubscription, to: str) -> None:
    """Move the subscription's provisioning (saved by the caller) as PROVISIONING_MOVES allows, or refuse."""
    states.move(subscription, to, PROVISIONING_MOVES, field="provisioning_state", save=False)


def apply_vendor_subscription(subscription: BillingSubscription, vendor) -> None:
    """Copy Digital River's dates and state onto ours (they exist only once it is activated)."""
    copy_vendor_view(subscription, vendor)
    if vendor.state in SubscriptionState.values:
        states.move(subscription, vendor.state, BILLING_SUBSCRIPTION_MOVES, save=False)


def copy_vendor_view(subscription: BillingSubscription, vendor) -> None:
    """Copy Digital River's dates and view onto ours, not its state (the caller moves that)."""
    subscription.contract_binding_until = vendor.contract_binding_until
    subscription.next_reminder_date = vendor.next_reminder_date
    subscription.current_period_end_date = vendor.current_period_end_date
    subscription.next_invoice_date = vendor.next_invoice_date
    subscription.billing_agreement_id = vendor.billing_agreement_id or subscription.billing_agreement_id
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
        product = subscription.product
        if product.has_trial_period and vendor.plan_id != product.plan.plan_id:
            # A trial converts on the same agreement: the paid plan and price apply after the trial
            # (managing-a-subscription, "Updating the subscription's price and plan").
            vendor = client.update_subscription(
                subscription.subscription_id,
                plan_id=product.plan.plan_id,
                items=[
                    {"skuId": product.sku_id, "price": subscription.price, "quantity": subscription.quantity}
                ],
            )
        return {"_vendor": vendor}

    def succeeded(self, operation, subscription, result, actor):
        before = audit.snapshot(subscription)
        apply_vendor_subscription(subscription, result["_vendor"])
        subscription.activated_at = timezone.now()
        _start_provisioning(subscription)
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
    provisioning(subscription, ProvisioningState.DONE)
    return True


def provision(subscription_id: int) -> None:
    """Create what a paid subscription bought, once; a refusal is retried, and after
    BILLING_PROVISION_ATTEMPTS it has failed for good (its order item is then cancelled, not charged)."""
    with transaction.atomic():
        subscription = (
            BillingSubscription.objects.select_for_update()
            .select_related("product", "customer__partner")
            .get(pk=subscription_id)
        )
        if subscription.provisioning_state != ProvisioningState.PENDING or subscription.provisioned_id:
            return
        actor = Actor.system(Face.TASK)
        before = audit.snapshot(subscription)
        subscription.provisioning_attempts += 1
        try:
            with transaction.atomic(), operations.joining(change_of(subscription)):
                target = _provision_target(actor, subscription)
        except DomainError as error:
            subscription.provisioning_error = f"{error.message} [{error.code}]"
            given_up = subscription.provisioning_attempts >= settings.BILLING_PROVISION_ATTEMPTS
            if given_up:
                provisioning(subscription, ProvisioningState.FAILED)
            subscription.save()
            audit.record(
                actor,
                "billing.provisioning_failed",
                subscription,
                partner_id=subscription.partner_id,
                before=before,
                note=subscription.provisioning_error,
            )
            logger.warning("provisioning of subscription %s refused: %s", subscription_id, error)
            if given_up:
                notices.alert_staff(
                    subscription,
                    f"Provisioning failed for good after {subscription.provisioning_attempts} attempts "
                    f"({subscription.provisioning_error}); the order item is cancelled, not charged.",
                )
                enqueue_on_commit(FULFIL_TASK, subscription.acquisition_id)
            return
        subscription.provisioned_type = ContentType.objects.get_for_model(target)
        subscription.provisioned_id = str(target.pk)
        provisioning(subscription, ProvisioningState.DONE)
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
        enqueue_on_commit(FULFIL_TASK, subscription.acquisition_id)


def _provision_target(actor: Actor, subscription: BillingSubscription):
    """Call the service that creates the product's object (its own vendor call follows in a task)."""
    params, opts = subscription.product.provision_params, subscription.provision_options
    if subscription.product.provisions == Provisions.ACME_CONTRACT:
        from subscriptions.acme import services as acme

        return acme.order_acme_contract(
            actor,
            subscription.customer,
            product=params.get("product", "ssl_dv_rapidssl"),
            sans=opts["sans"],
            auto_renew=True,  # renews with the billing; when the billing ends, renewal is stopped
            billed=True,  # billing's own order: what the checkout sold (no not-billed reason)
        )
    from billing.services import cloudflare_provisioning

    return cloudflare_provisioning.provision(actor, subscription)


def retry_provisioning(actor: Actor, subscription: BillingSubscription) -> BillingSubscription:
    """Staff or a reseller tries a refused provisioning again (after fixing its cause)."""
    require_billing(actor, subscription.customer)
    if subscription.provisioning_state != ProvisioningState.PENDING or subscription.provisioned_id:
        from core.errors import RuleViolation

        raise RuleViolation(
            "Nothing is waiting to be provisioned for this subscription.", code=CoreErrorCode.NOT_RETRYABLE
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
