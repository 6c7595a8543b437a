"""A partner's Cloudflare catalog, edited by support staff: a plan and its components, audited once."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from core import audit
from core.actor import Actor
from core.errors import PermissionDenied, ValidationFailed
from subscriptions.cloudflare.models import CatalogComponent, CatalogPlan


def save_catalog_plan(
    actor: Actor,
    plan: CatalogPlan,
    *,
    components: Sequence[CatalogComponent] = (),
    removed: Sequence[CatalogComponent] = (),
) -> CatalogPlan:
    """Staff edit a partner's catalog: a plan and its components change together, audited once."""
    if not (actor.is_system or (actor.is_staff and actor.user.has_perm("subscriptions.change_catalogplan"))):
        raise PermissionDenied("Only support staff with the catalog permission edit Cloudflare catalogs.")
    # Everything is checked before anything is written: a refusal leaves the catalog as it was.
    _clean(plan)
    for component in components:
        _clean(component, exclude=["plan"])
    with transaction.atomic():
        stored = CatalogPlan.objects.filter(pk=plan.pk).first() if plan.pk else None
        before = _catalog_snapshot(stored) if stored else {}
        plan.save()
        for component in removed:
            if component.pk:
                component.delete()
        for component in components:
            component.plan = plan
            component.save()
        audit.record(
            actor,
            "cloudflare.catalog_changed" if before else "cloudflare.catalog_added",
            plan,
            partner_id=plan.partner_id,
            changes=audit.diff(before, _catalog_snapshot(plan)),
        )
    return plan


def _clean(obj, exclude: list[str] | None = None) -> None:
    """The model's own field rules, as a refusal every face renders (400 with field errors)."""
    try:
        obj.full_clean(exclude=exclude)
    except DjangoValidationError as error:
        fields = getattr(error, "message_dict", {"__all__": error.messages})
        raise ValidationFailed(f"{obj}: {'; '.join(error.messages)}", fields=fields) from error


def _catalog_snapshot(plan: CatalogPlan) -> dict:
    values = audit.snapshot(plan)
    values.pop("updated_at", None)
    values["components"] = {
        c.name: [c.default, c.maximum, str(c.unit_price)] for c in plan.components.order_by("name")
    }
    return values
