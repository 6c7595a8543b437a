"""Reads of Cloudflare zones and add-ons for the reseller dashboard, scoped to the actor."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum

from core import operations
from core.actor import Actor
from core.models import Operation
from subscriptions.cloudflare.models import (
    FREE_ZONE_PLAN,
    AddonState,
    CatalogPlan,
    CloudflareAddon,
    CloudflareZone,
    ZoneState,
)
from subscriptions.cloudflare.selectors import cloudflare_addons_for, cloudflare_zones_for


def on_paid_zone_plan() -> Q:
    """A zone whose current rate plan is paid: neither the free plan nor one its partner's catalog
    prices at nothing (a zone downgraded to the free plan keeps its subscription)."""
    free_in_catalog = CatalogPlan.objects.filter(
        partner=OuterRef("partner"), rate_plan_id=OuterRef("rate_plan_id"), monthly_price=0
    )
    return ~Q(rate_plan_id__in=["", FREE_ZONE_PLAN]) & ~Exists(free_in_catalog)


def cloudflare_counts(actor: Actor) -> dict:
    """Active zones (paid: on a paid rate plan now) and live add-ons the actor sees."""
    zones = (
        cloudflare_zones_for(actor)
        .filter(state=ZoneState.ACTIVE)
        .aggregate(total=Count("id"), paid=Count("id", filter=on_paid_zone_plan()))
    )
    addons = cloudflare_addons_for(actor).filter(state=AddonState.ACTIVE).count()
    return {"zones": zones["total"], "paid_zones": zones["paid"], "addons": addons}


def cloudflare_period_prices(actor: Actor) -> list[tuple[str, str, Decimal]]:
    """What Cloudflare bills for the live zone plans and add-ons, summed per (currency, frequency)."""
    rows = []
    for qs in (
        cloudflare_zones_for(actor).filter(state=ZoneState.ACTIVE).exclude(subscription_id=""),
        cloudflare_addons_for(actor).filter(state__in=[AddonState.ACTIVE, AddonState.CANCEL_PENDING]),
    ):
        rows += list(
            qs.filter(price__isnull=False)
            .order_by()
            .values_list("currency", "frequency")
            .annotate(total=Sum("price"))
        )
    return rows


def cloudflare_operations_needing_attention(actor: Actor) -> list[Operation]:
    """Vendor operations on the actor's zones and add-ons that failed for good or keep failing."""
    found = []
    for records in (cloudflare_zones_for(actor), cloudflare_addons_for(actor)):
        failing = operations.unresolved_failures(records) | operations.struggling(records)
        found += list(failing.select_related("content_type").order_by("-created_at", "-id")[:10])
    return found


def cloudflare_refusals(actor: Actor) -> list:
    """Zones and add-ons whose last requested change Cloudflare did not make (the reason is on them)."""
    found = []
    for records in (cloudflare_zones_for(actor), cloudflare_addons_for(actor)):
        found += list(records.exclude(refusal_code="").order_by("-refused_at")[:5])
    return found


def cloudflare_counts_per_customer(actor: Actor, customer_ids: list[int]) -> dict[int, tuple[int, int]]:
    """(live zones, live add-ons) per customer, for a page of the customer list."""
    counts: dict[int, list[int]] = {}
    for index, records in enumerate(
        (
            cloudflare_zones_for(actor).exclude(state=ZoneState.FAILED),
            cloudflare_addons_for(actor).filter(state__in=[AddonState.ACTIVE, AddonState.CANCEL_PENDING]),
        )
    ):
        rows = (
            records.filter(customer_id__in=customer_ids)
            .order_by()
            .values("customer_id")
            .annotate(n=Count("id"))
        )
        for row in rows:
            counts.setdefault(row["customer_id"], [0, 0])[index] = row["n"]
    return {cid: (zones, addons) for cid, (zones, addons) in counts.items()}


def search_zones(actor: Actor, *, q: str = "", state: str = "", plan: str = "") -> QuerySet[CloudflareZone]:
    """The zones list: search on zone and customer, filters on state (or refused) and plan."""
    qs = _search_records(cloudflare_zones_for(actor), "name", q=q, state=state, plan=plan)
    return qs.order_by("customer__name", "name", "id")


def search_addons(actor: Actor, *, q: str = "", state: str = "", plan: str = "") -> QuerySet[CloudflareAddon]:
    """The add-ons list: search on plan and customer, filters on state (or refused) and plan."""
    qs = _search_records(cloudflare_addons_for(actor), "rate_plan_id", q=q, state=state, plan=plan)
    return qs.order_by("customer__name", "rate_plan_id", "id")


def _search_records(qs: QuerySet, text_field: str, *, q: str, state: str, plan: str) -> QuerySet:
    if q:
        qs = qs.filter(
            Q(**{f"{text_field}__icontains": q})
            | Q(customer__name__icontains=q)
            | Q(customer__reference__icontains=q)
        )
    if state == "refused":
        qs = qs.exclude(refusal_code="")
    elif state:
        qs = qs.filter(state=state)
    return qs.filter(rate_plan_id=plan) if plan else qs
