"""Staff alerts that name who to contact (partner.contacts); core sends the signal, partner mails."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import mail_admins
from django.urls import NoReverseMatch, reverse

from partner.contacts import contacts_text
from partner.models import Customer, Partner

logger = logging.getLogger(__name__)


def operation_gave_up(sender, operation, target, **kwargs) -> None:
    """A vendor operation failed for good: support staff (ADMINS) get a mail with the error and the
    customer's and partner's support and escalation contacts."""
    customer = target if isinstance(target, Customer) else getattr(target, "customer", None)
    partner = (
        customer.partner if customer is not None else Partner.objects.filter(pk=operation.partner_id).first()
    )
    body = f"{operation.label} failed for good on {target}: {operation.last_error or 'no error recorded'}."
    try:
        meta = target._meta
        body += (
            "\n\n"
            + settings.SITE_URL.rstrip("/")
            + reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[target.pk])
        )
    except NoReverseMatch:  # not in the admin: the error and the contacts still go out
        pass
    if partner is not None:
        body += f"\n\n{contacts_text(customer, partner)}"
    mail_admins(f"Vendor operation failed: {operation.label}", body, fail_silently=True)
    logger.warning("operation %s (%s) failed for good on %s", operation.pk, operation.kind, target)
