"""Billing rows for dashboard tests, written directly (no Digital River round trip)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from billing.models import (
    BillingAgreement,
    BillingSubscription,
    Checkout,
    CheckoutItem,
    CheckoutState,
    Notice,
    Plan,
    PlanState,
    Product,
    ProvisioningState,
    Renewal,
    RenewalState,
    SubscriptionState,
)


def plan(interval="year", count=1, **fields) -> Plan:
    plan_id = fields.pop("plan_id", f"plan-{uuid.uuid4().hex[:8]}")
    return Plan.objects.create(
        plan_id=plan_id,
        name=fields.pop("name", f"Plan {interval}"),
        terms="Renews until cancelled.",
        interval=interval,
        interval_count=count,
        state=PlanState.ACTIVE,
        at_vendor=True,
        **fields,
    )


def product(partner, plan=None, price="120.00", currency="USD", **fields) -> Product:
    sku = fields.pop("sku_id", f"sku-{uuid.uuid4().hex[:8]}")
    return Product.objects.create(
        partner=partner,
        sku_id=sku,
        name=fields.pop("name", f"Product {sku}"),
        price=Decimal(price),
        currency=currency,
        plan=plan,
        **fields,
    )


def subscription(customer, product, *, renews_in_days=20, **fields) -> BillingSubscription:
    """An active, paid subscription renewing in `renews_in_days` days on a billing agreement."""
    checkout = Checkout.objects.create(
        partner=customer.partner,
        customer=customer,
        currency=product.currency,
        total=product.price,
        state=CheckoutState.PAID,
    )
    agreement = fields.pop("billing_agreement_id", f"ba-{uuid.uuid4().hex[:10]}")
    BillingAgreement.objects.get_or_create(agreement_id=agreement, defaults={"customer": customer})
    end = timezone.now() + timedelta(days=renews_in_days)
    sub = BillingSubscription.objects.create(
        partner=customer.partner,
        customer=customer,
        product=product,
        plan=product.plan,
        acquisition=checkout,
        price=product.price,
        state=fields.pop("state", SubscriptionState.ACTIVE),
        billing_agreement_id=agreement,
        current_period_end_date=end,
        next_invoice_date=end,
        activated_at=timezone.now(),
        provisioning_state=fields.pop("provisioning_state", ProvisioningState.NOT_NEEDED),
        **fields,
    )
    CheckoutItem.objects.create(checkout=checkout, product=product, price=product.price, subscription=sub)
    return sub


def providing(target, product, **fields) -> BillingSubscription:
    """An active, paid subscription (see `subscription`) that provides `target` (a contract, zone or add-on)."""
    return subscription(
        target.customer,
        product,
        provisioned_type=ContentType.objects.get_for_model(target),
        provisioned_id=str(target.pk),
        provisioning_state=ProvisioningState.DONE,
        **fields,
    )


def notice(sub, kind, *, delivered=True, error="") -> Notice:
    return Notice.objects.create(
        subscription=sub,
        kind=kind,
        renewal_date=sub.current_period_end_date.date(),
        to="billing@example.com",
        subject=f"{kind} for {sub.product.name}",
        sent_at=timezone.now(),
        delivered=delivered,
        error=error,
    )


def held_renewal(sub) -> Renewal:
    return Renewal.objects.create(
        subscription=sub,
        renewal_date=sub.current_period_end_date,
        state=RenewalState.HELD,
        reminder_missing=True,
    )
