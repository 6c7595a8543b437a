"""Reads of ACME contracts and certificates, scoped to the actor."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet

from core.actor import Actor
from partner.selectors import of_customers
from subscriptions.acme.models import AcmeContract, Certificate
from subscriptions.selectors import of_visible_customers


def acme_contracts_for(actor: Actor) -> QuerySet[AcmeContract]:
    """The ACME contracts of the customers the actor may see."""
    return of_visible_customers(actor, AcmeContract.objects)


# --- Certificate inventory ------------------------------------------------------------------------


def certificates_for(actor: Actor, *, include_gone: bool = False) -> QuerySet[Certificate]:
    """The certificates of the customers the actor may see; ones DigiCert no longer lists only if asked."""
    qs = Certificate.objects.select_related("customer", "contract")
    if not include_gone:
        qs = qs.filter(gone_at__isnull=True)
    return of_customers(actor, qs)


def expiry_warning_until(now: datetime) -> datetime:
    """The end of the expiry warning: CERTIFICATE_EXPIRY_WARNING_DAYS (30) from the business clock's now."""
    return now + timedelta(days=settings.CERTIFICATE_EXPIRY_WARNING_DAYS)


def certificates_expiring(actor: Actor, now: datetime) -> QuerySet[Certificate]:
    """Listed certificates that expire within the warning days (expired ones too), soonest first."""
    return (
        certificates_for(actor).filter(expires_at__lte=expiry_warning_until(now)).order_by("expires_at", "id")
    )
