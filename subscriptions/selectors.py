"""Reads of subscriptions, scoped to the actor through the partner selectors."""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from core.actor import Actor
from core.models import Operation, OperationState
from partner.models import Partner
from partner.selectors import customers_for, partners_for
from subscriptions.cloudflare_rules import Catalog, ComponentTerms, PlanTerms
from subscriptions.models import AcmeContract, CatalogPlan, Certificate, CloudflareAddon, CloudflareZone


def acme_contracts_for(actor: Actor) -> QuerySet[AcmeContract]:
    """The ACME contracts of the customers the actor may see."""
    return _of_visible_customers(actor, AcmeContract.objects)


def operations_of(obj) -> QuerySet[Operation]:
    """Vendor operations on one object, newest first."""
    return Operation.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).select_related("requested_by")


def with_pending_operation(model) -> set[str]:
    """Primary keys (as text, like Operation.object_id) of the model's objects with an operation in flight.

    Compared in Python on purpose: PostgreSQL will not compare the text object_id with an integer key.
    """
    return set(
        Operation.objects.filter(
            content_type=ContentType.objects.get_for_model(model), state=OperationState.PENDING
        ).values_list("object_id", flat=True)
    )


def cloudflare_zones_for(actor: Actor) -> QuerySet[CloudflareZone]:
    """The Cloudflare zones of the customers the actor may see."""
    return _of_visible_customers(actor, CloudflareZone.objects)


def cloudflare_addons_for(actor: Actor) -> QuerySet[CloudflareAddon]:
    """The Cloudflare add-ons of the customers the actor may see."""
    return _of_visible_customers(actor, CloudflareAddon.objects)


def catalog_plans_for(actor: Actor) -> QuerySet[CatalogPlan]:
    """The catalog plans of the partners the actor may see (a member: its own partner's)."""
    return CatalogPlan.objects.filter(partner__in=partners_for(actor).values("pk")).prefetch_related(
        "components"
    )


def catalog_of(partner: Partner) -> Catalog:
    """A partner's whole Cloudflare catalog (inactive plans too, to price what customers still have)."""
    plans = CatalogPlan.objects.filter(partner=partner).prefetch_related("components")
    return Catalog(
        partner=partner.name,
        plans={
            plan.rate_plan_id: PlanTerms(
                rate_plan_id=plan.rate_plan_id,
                name=plan.name,
                scope=plan.scope,
                monthly_price=plan.monthly_price,
                currency=plan.currency,
                frequencies=tuple(plan.frequencies),
                components=tuple(
                    ComponentTerms(c.name, c.default, c.maximum, c.unit_price) for c in plan.components.all()
                ),
                active=plan.active,
            )
            for plan in plans
        },
    )


def _of_visible_customers(actor: Actor, manager) -> QuerySet:
    """Objects of the customers the actor may see, with their partner, customer and subaccount."""
    qs = manager.select_related("partner", "customer", "subaccount")
    if actor.is_system or actor.is_staff:
        return qs
    return qs.filter(customer__in=customers_for(actor).values("pk"))


# --- Certificate inventory ------------------------------------------------------------------------


def certificates_for(actor: Actor, *, include_gone: bool = False) -> QuerySet[Certificate]:
    """The certificates of the customers the actor may see; ones DigiCert no longer lists only if asked."""
    qs = Certificate.objects.select_related("customer", "contract")
    if not include_gone:
        qs = qs.filter(gone_at__isnull=True)
    if actor.is_system or actor.is_staff:
        return qs
    return qs.filter(customer__in=customers_for(actor).values("pk"))


def expiry_warning_until(now: datetime) -> datetime:
    """The end of the expiry warning: CERTIFICATE_EXPIRY_WARNING_DAYS (30) from the business clock's now."""
    return now + timedelta(days=settings.CERTIFICATE_EXPIRY_WARNING_DAYS)


def certificates_expiring(actor: Actor, now: datetime) -> QuerySet[Certificate]:
    """Listed certificates that expire within the warning days (expired ones too), soonest first."""
    return (
        certificates_for(actor).filter(expires_at__lte=expiry_warning_until(now)).order_by("expires_at", "id")
    )
