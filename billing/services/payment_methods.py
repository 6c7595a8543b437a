"""Changing a customer's payment method: same billing agreement, new source (domain.md).

The card is the customer's: a new source is saved to the Digital River customer, then
- Digital River-engine subscriptions get it as their `sourceId` (its service charges it next);
- back-office-engine subscriptions charge it from their next renewal (attached to that checkout).

The customer reaches Digital River's Drop-in through a signed link of ours (no sign-in), and the
Drop-in returns to us with the new source's id; resellers use the same page from the dashboard.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse

from billing.error_codes import BillingErrorCode
from billing.models import RENEWING_STATES, BillingSubscription
from billing.services.common import dr_customer_id, require_billing
from core import audit, operations
from core.actor import Actor
from core.errors import ValidationFailed
from partner.models import Customer
from vendors.digitalriver.client import DigitalRiverClient

SALT = "billing.payment-method"
LINK_MAX_AGE = 30 * 24 * 3600  # a dunning e-mail's link works through the collection period


def customer_link(customer: Customer) -> str:
    """The customer-facing link (signed; it expires) to replace the card on file."""
    token = signing.dumps({"customer": customer.pk}, salt=SALT)
    return settings.SITE_URL.rstrip("/") + reverse("payment-method", args=[token])


def customer_from_token(token: str) -> Customer:
    """The customer a payment-method link was made for; ValidationFailed when forged or expired."""
    try:
        data = signing.loads(token, salt=SALT, max_age=LINK_MAX_AGE)
    except signing.BadSignature:
        raise ValidationFailed(
            "This payment-method link is not valid or has expired; ask for a new one.",
            code=BillingErrorCode.LINK_INVALID,
        ) from None
    customer = Customer.objects.select_related("partner").filter(pk=data.get("customer")).first()
    if customer is None:
        raise ValidationFailed("This payment-method link is not valid.", code=BillingErrorCode.LINK_INVALID)
    return customer


def dropin_url(customer: Customer, return_url: str) -> str:
    """Where the customer enters the new card (Digital River's Drop-in; the sandbox stands in)."""
    from urllib.parse import urlencode

    query = urlencode({"customerId": dr_customer_id(customer), "returnUrl": return_url})
    return f"{settings.DIGITALRIVER_DROPIN_URL}?{query}"


def change_payment_method(actor: Actor, customer: Customer, source_id: str) -> Customer:
    """The customer's new card: saved at Digital River, then used by every live subscription (Digital
    River's engine: its sourceId; the back office's: from the next renewal). Same agreement."""
    if not actor.is_system:
        require_billing(actor, customer)
    source_id = (source_id or "").strip()
    if not source_id or len(source_id) > 64:
        raise ValidationFailed("A payment source id is needed.", fields={"source_id": "Required."})
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        audit.record(
            actor,
            "billing.payment_method_change_requested",
            customer,
            partner_id=customer.partner_id,
            changes={"payment_source": [None, source_id]},
        )
        operations.start(
            actor,
            customer,
            ChangePaymentMethod.kind,
            partner_id=customer.partner_id,
            params={"source_id": source_id},
        )
    return customer


def live_subscriptions(customer: Customer):
    return BillingSubscription.objects.filter(customer=customer, state__in=RENEWING_STATES).select_related(
        "plan"
    )


@operations.register
class ChangePaymentMethod(operations.OperationHandler):
    """POST /customers/{id}/sources/{sourceId}, then POST /subscriptions/{id} {sourceId} for each
    subscription Digital River's service runs (both safe to repeat)."""

    kind = "dr.change_payment_method"
    label = "Change payment method at Digital River"

    def perform(self, operation, customer):
        client = DigitalRiverClient()
        source_id = operation.params["source_id"]
        source = client.save_source_to_customer(dr_customer_id(customer), source_id)
        updated = []
        for subscription in live_subscriptions(customer):
            if subscription.run_by_digital_river:
                client.update_subscription(subscription.subscription_id, source_id=source_id)
                updated.append(subscription.subscription_id)
        return {
            "source_id": source_id,
            "card": f"{source.brand} {source.last_four}".strip(),
            "updated": updated,
        }

    def succeeded(self, operation, customer, result, actor):
        for subscription in live_subscriptions(customer):
            before = audit.snapshot(subscription)
            subscription.payment_source_id = result["source_id"]
            subscription.save(update_fields=["payment_source_id", "updated_at"])
            audit.record(
                actor,
                "billing.payment_method_changed",
                subscription,
                partner_id=subscription.partner_id,
                before=before,
                note=f"new card {result['card']}; same billing agreement",
            )
