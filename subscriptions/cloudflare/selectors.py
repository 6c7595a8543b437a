"""Reads of Cloudflare zones, add-ons and the partner's catalog, scoped to the actor."""

from __future__ import annotations

from django.db.models import QuerySet

from core.actor import Actor
from partner.models import Partner
from partner.selectors import partners_for
from subscriptions.cloudflare.models import CatalogPlan, CloudflareAddon, CloudflareZone
from subscriptions.cloudflare.rules import Catalog, ComponentTerms, PlanTerms
from subscriptions.selectors import of_visible_customers


def cloudflare_zones_for(actor: Actor) -> QuerySet[CloudflareZone]:
    """The Cloudflare zones of the customers the actor may see."""
    return of_visible_customers(actor, CloudflareZone.objects)


def cloudflare_addons_for(actor: Actor) -> QuerySet[CloudflareAddon]:
    """The Cloudflare add-ons of the customers the actor may see."""
    return of_visible_customers(actor, CloudflareAddon.objects)


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
