"""Subscriptions Digital River's service renews: the back office only listens (domain.md).

Digital River sends the reminder event on the reminder date, charges the saved source on the
invoice date and tells us how it went. No renewal checkout or order is ever built for these
subscriptions (that would charge the customer twice). Here:
- `subscription.reminder`: the reminder e-mail with the amount, the date and the card, and a
  warning with a link when the card expires before the invoice date (the trial's end, for a trial);
- `subscription.extended`: the invoice is paid; the new period is recorded as a renewal, what was
  sold goes on, and the customer is told; if what was sold no longer exists the invoice is
  refunded in full and the customer told;
- `subscription.payment_failed` and `subscription.source_invalid`: a dunning e-mail with a link
  to replace the card; `subscription.failed` and `subscription.lapsed` end the subscription
  (billing.services.lifecycle).
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from billing.models import BillingSubscription, NoticeKind, Renewal, RenewalState, SubscriptionState
from billing.services import fulfilment, lifecycle, notices
from core import audit, operations
from core.actor import Actor
from vendors.digitalriver.client import DigitalRiverClient
from vendors.digitalriver.objects import invoice_from, subscription_from
from vendors.errors import VendorError

logger = logging.getLogger(__name__)


def _ours(data: dict) -> tuple[BillingSubscription | None, object, object]:
    """Our subscription run by Digital River's service, its vendor view and the event's invoice."""
    vendor = subscription_from(data)
    invoice = invoice_from(data["invoice"]) if isinstance(data.get("invoice"), dict) else None
    subscription = (
        BillingSubscription.objects.select_related("plan", "product", "customer", "partner")
        .filter(subscription_id=vendor.id)
        .first()
    )
    if subscription is not None and not subscription.run_by_digital_river:
        logger.error("Digital River renews %s, which the back office runs: ignored", vendor.id)
        return None, vendor, invoice
    return subscription, vendor, invoice


def card_details(source_id: str | None, charge_on) -> dict:
    """The card a notice names: brand, last four, expiry, and whether it expires before `charge_on`."""
    if not source_id:
        return {}
    try:
        source = DigitalRiverClient().get_source(source_id)
    except VendorError as error:  # the notice still goes out, without the card
        logger.warning("could not read source %s for a notice: %s", source_id, error)
        return {}
    return {
        "card_brand": source.brand,
        "card_last_four": source.last_four,
        "card_expiry": f"{source.expiration_month:02d}/{source.expiration_year}"
        if source.expiration_month and source.expiration_year
        else "",
        "card_expires_first": bool(charge_on) and source.expires_before(charge_on),
    }


def reminder(data: dict, actor: Actor) -> None:
    """subscription.reminder: what will be charged, when and to which card (a trial: that it ends)."""
    subscription, vendor, invoice = _ours(data)
    if subscription is None:
        return
    lifecycle.vendor_subscription_changed(actor, subscription, vendor, state=None)
    subscription.refresh_from_db()
    charge_on = vendor.next_invoice_date or vendor.current_period_end_date
    details = {
        "amount": str(
            invoice.total_amount if invoice and invoice.total_amount is not None else subscription.price
        ),
        "currency": (invoice.currency if invoice else "") or subscription.product.currency,
        "invoice_date": charge_on.date().isoformat() if charge_on else "",
        **card_details(vendor.source_id, charge_on),
    }
    kind = (
        NoticeKind.TRIAL_ENDING
        if vendor.state == SubscriptionState.ACTIVE_FREE
        else NoticeKind.RENEWAL_REMINDER
    )
    renewal_on = (vendor.current_period_end_date or charge_on).date()
    notices.send(subscription, kind, renewal_on, details=details)


def extended(data: dict, actor: Actor) -> None:
    """subscription.extended: Digital River charged and captured the renewal invoice."""
    subscription, vendor, invoice = _ours(data)
    if subscription is None:
        return
    with transaction.atomic():
        subscription = BillingSubscription.objects.select_for_update().get(pk=subscription.pk)
        renewed_period = subscription.current_period_end_date
        if renewed_period is None or (
            vendor.current_period_end_date and vendor.current_period_end_date <= renewed_period
        ):
            return  # an event about a period we already recorded
        try:
            with transaction.atomic():
                renewal = Renewal.objects.create(
                    subscription=subscription,
                    renewal_date=renewed_period,
                    state=RenewalState.CAPTURED,
                    invoice_id=invoice.id if invoice else "",
                    amount=invoice.total_amount if invoice else None,
                )
        except IntegrityError:
            return  # this period was recorded already
        before = audit.snapshot(subscription)
        from billing.services.acquisition import apply_vendor_subscription

        apply_vendor_subscription(subscription, vendor)
        converted = lifecycle.mark_renewed(actor, subscription, renewal, before)
        delivered = still_delivered(subscription)
        if not delivered and renewal.invoice_id:
            operations.start(actor, renewal, RefundInvoice.kind, partner_id=subscription.partner_id)
    if delivered:
        lifecycle.confirm_renewal(subscription, renewal, converted=converted)


def still_delivered(subscription: BillingSubscription) -> bool:
    """Whether what the subscription sold is still provided, so the renewal paid for something."""
    if subscription.provisioned_id == "":
        return subscription.provisioning_state != "failed"
    return getattr(subscription.provisioned, "state", None) in fulfilment.LIVE_STATES


def payment_failed(data: dict, actor: Actor) -> None:
    """subscription.payment_failed: still collectable; the customer gets a link to change the card."""
    subscription, vendor, _ = _ours(data)
    if subscription is not None:
        lifecycle.vendor_subscription_changed(
            actor, subscription, vendor, state=SubscriptionState.ACTIVE_PENDING_INVOICE
        )


def source_invalid(data: dict, actor: Actor) -> None:
    """subscription.source_invalid: the card cannot be billed; ask for another before it lapses."""
    subscription, vendor, _ = _ours(data)
    if subscription is None:
        return
    lifecycle.vendor_subscription_changed(actor, subscription, vendor, state=None)
    renewal_on = (vendor.current_period_end_date or vendor.next_invoice_date).date()
    if notices.send(
        subscription, NoticeKind.SOURCE_INVALID, renewal_on, details=card_details(vendor.source_id, None)
    ):
        notices.alert_staff(
            subscription, "Digital River cannot bill the saved card; the customer was asked for another."
        )


@operations.register
class RefundInvoice(operations.OperationHandler):
    """POST /refunds with the invoiceId: a renewal that could not be delivered is given back in full."""

    kind = "dr.refund_invoice"
    label = "Refund renewal invoice at Digital River"

    def perform(self, operation, renewal):
        subscription = renewal.subscription
        refund = DigitalRiverClient().create_refund(
            currency=subscription.product.currency,
            invoice_id=renewal.invoice_id,
            reason="The renewed service could not be delivered.",
        )
        return {"refund_id": refund.id, "state": refund.state}

    def succeeded(self, operation, renewal, result, actor):
        from billing.services.renewals import move_renewal

        move_renewal(renewal, RenewalState.REFUNDED)
        renewal.save(update_fields=["state", "updated_at"])
        audit.record(
            actor,
            "billing.renewal_refunded",
            renewal.subscription,
            partner_id=renewal.subscription.partner_id,
            changes={"refund": [None, result["refund_id"]]},
        )
        notices.send(
            renewal.subscription,
            NoticeKind.REFUNDED,
            renewal.renewal_date.date(),
            details={"amount": str(renewal.amount or "")},
        )
