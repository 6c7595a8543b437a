"""Customers' Cloudflare zones: adding one, previewing and sending plan changes, syncing."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from core import audit, operations
from core.actor import Actor
from core.errors import RuleViolation, ValidationFailed
from partner.access import Can, require
from partner.models import Customer
from subscriptions import signals
from subscriptions.acme.rules import clean_sans
from subscriptions.cloudflare import handlers
from subscriptions.cloudflare import selectors as cloudflare_selectors
from subscriptions.cloudflare.models import FREE_ZONE_PLAN, CloudflareZone, ZoneState
from subscriptions.cloudflare.rules import PlannedChange, with_billing_terms, zone_change
from subscriptions.cloudflare.services.common import (
    cloudflare_account,
    current_of,
    direct_change,
    lock_record,
    require_manage,
    send_planned,
)
from subscriptions.error_codes import SubscriptionErrorCode
from subscriptions.rules import require_at_vendor

ZONE_ACTIONS = ("upgrade", "change", "downgrade")


def add_zone(actor: Actor, customer: Customer, *, name: str) -> CloudflareZone:
    """Add a zone to the customer's Cloudflare account (POST /zones in a task); it starts on PARTNERS_FREE."""
    require(actor, Can.MANAGE_CLOUDFLARE, partner=customer.partner, customer=customer)
    name = clean_zone_name(name)
    account = cloudflare_account(customer)
    if CloudflareZone.objects.filter(subaccount=account, name=name).exists():
        raise RuleViolation(
            f"{customer} already has the zone {name}.",
            code=SubscriptionErrorCode.ZONE_EXISTS,
            fields={"name": "Exists."},
        )
    try:
        with transaction.atomic():
            zone = CloudflareZone.objects.create(
                partner=customer.partner,
                customer=customer,
                subaccount=account,
                name=name,
                rate_plan_id=FREE_ZONE_PLAN,
            )
            audit.record(actor, "cloudflare.zone_requested", zone, partner_id=zone.partner_id)
            operations.start(actor, zone, handlers.CreateZone.kind, partner_id=zone.partner_id)
    except IntegrityError as exc:  # the same zone asked for twice at once
        raise RuleViolation(
            f"{customer} already has the zone {name}.", code=SubscriptionErrorCode.ZONE_EXISTS
        ) from exc
    return zone


def clean_zone_name(name: str) -> str:
    """A zone is a registrable domain name: lower case, no wildcard (the SAN syntax of ACME otherwise)."""
    cleaned = clean_sans([name or ""], field="name")
    if len(cleaned) != 1 or cleaned[0].startswith("*."):
        raise ValidationFailed(
            f"{name!r} is not a zone name.", fields={"name": "A domain such as example.com."}
        )
    return cleaned[0]


def preview_zone_change(
    actor: Actor,
    zone: CloudflareZone,
    action: str,
    *,
    rate_plan_id: str | None = None,
    frequency: str | None = None,
    component_values: dict | None = None,
) -> PlannedChange:
    """The price per period before and after an upgrade, component change or downgrade, checked like the change."""
    require(actor, Can.VIEW, partner=zone.partner, customer=zone.customer)
    planned = plan_zone_change(
        zone, action, rate_plan_id=rate_plan_id, frequency=frequency, component_values=component_values
    )
    return with_billing_terms(planned, signals.billing_terms_of(zone))


def upgrade_zone_plan(
    actor: Actor,
    zone: CloudflareZone,
    *,
    rate_plan_id: str,
    frequency: str | None = None,
    component_values: dict | None = None,
    billed: bool = False,
    not_billed_reason: str = "",
) -> CloudflareZone:
    """Upgrade to a catalog zone plan that costs no less (POST on a zone without subscription, else PUT).

    Not billing's own (`billed=False`), it needs `not_billed_reason` (see subscriptions.not_billed)."""
    return _change_zone(
        actor,
        zone,
        "upgrade",
        billed=billed,
        not_billed_reason=not_billed_reason,
        rate_plan_id=rate_plan_id,
        frequency=frequency,
        component_values=component_values,
    )


def change_zone_components(
    actor: Actor,
    zone: CloudflareZone,
    *,
    component_values: dict | None = None,
    frequency: str | None = None,
    billed: bool = False,
    not_billed_reason: str = "",
) -> CloudflareZone:
    """New component values (or frequency) on the zone's plan, within the catalog's limits (PUT);
    one that costs more, not billing's own, needs `not_billed_reason`."""
    return _change_zone(
        actor,
        zone,
        "change",
        billed=billed,
        not_billed_reason=not_billed_reason,
        frequency=frequency,
        component_values=component_values,
    )


def downgrade_zone_plan(
    actor: Actor,
    zone: CloudflareZone,
    *,
    rate_plan_id: str = FREE_ZONE_PLAN,
    frequency: str | None = None,
    component_values: dict | None = None,
    billed: bool = False,
) -> CloudflareZone:
    """Downgrade to a cheaper catalog zone plan, PARTNERS_FREE by default (PUT)."""
    return _change_zone(
        actor,
        zone,
        "downgrade",
        billed=billed,
        rate_plan_id=rate_plan_id,
        frequency=frequency,
        component_values=component_values,
    )


def sync_zone(actor: Actor, zone: CloudflareZone) -> CloudflareZone:
    """Read the zone and its subscription at Cloudflare (GET) and take Cloudflare's view as ours."""
    require_manage(actor, zone)
    require_at_vendor(zone, "zone", "Cloudflare")
    with transaction.atomic():
        operations.start(actor, zone, handlers.SyncZone.kind, partner_id=zone.partner_id)
    return zone


def plan_zone_change(zone: CloudflareZone, action: str, **request) -> PlannedChange:
    """Rule: only an active zone changes plan, to what the partner's catalog allows for `action`; the
    price before and after. The preview shows this plan and the change sends it (planned again under
    the lock, so what is sent is what the preview would show now)."""
    if action not in ZONE_ACTIONS:
        raise ValidationFailed(
            f"Unknown zone change {action!r}.", fields={"action": f"One of {', '.join(ZONE_ACTIONS)}."}
        )
    if zone.state != ZoneState.ACTIVE:
        raise RuleViolation(
            f"The zone {zone} is {zone.get_state_display().lower()}; its plan changes once Cloudflare has it.",
            code=SubscriptionErrorCode.ZONE_NOT_ACTIVE,
        )
    return zone_change(cloudflare_selectors.catalog_of(zone.partner), current_of(zone), action, **request)


def _change_zone(
    actor: Actor, zone: CloudflareZone, action: str, *, billed: bool, not_billed_reason: str = "", **request
) -> CloudflareZone:
    require_manage(actor, zone)
    with transaction.atomic():
        zone = lock_record(CloudflareZone, zone)
        planned = plan_zone_change(zone, action, **request)
        reason = "" if billed else direct_change(actor, zone, action, planned, not_billed_reason)
        # POST creates the zone's first subscription; once there is one, PUT changes it.
        method = "PUT" if zone.subscription_id else "POST"
        send_planned(
            actor,
            zone,
            planned,
            f"cloudflare.zone_{action}_requested",
            handlers.ChangeZonePlan.kind,
            reason,
            method=method,
        )
    return zone
