"""Cloudflare zones, zone plans and account add-ons: one service per operation.

Each checks the actor (Can.MANAGE_CLOUDFLARE), the partner's catalog and the rule, records the
request and an operation that carries the change; cloudflare/handlers.py calls Cloudflare with the
partner's tenant token in a task. A record shows what Cloudflare confirmed, never what was only
asked for: a refused change leaves it as it was and says why in its `refusal_*` fields.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from core import audit, operations
from core.actor import Actor
from core.error_codes import CoreErrorCode
from core.errors import PermissionDenied, RuleViolation, ValidationFailed
from core.models import Operation, OperationState
from partner.access import Can, require
from partner.models import Customer, Subaccount, SubaccountState, Vendor
from subscriptions import not_billed, selectors, signals
from subscriptions.acme.rules import clean_sans
from subscriptions.cloudflare import handlers
from subscriptions.cloudflare import selectors as cloudflare_selectors
from subscriptions.cloudflare.models import (
    FREE_ZONE_PLAN,
    LIVE_ADDON_STATES,
    AddonState,
    CatalogComponent,
    CatalogPlan,
    CloudflareAddon,
    CloudflarePlanRecord,
    CloudflareZone,
    ZoneState,
)
from subscriptions.cloudflare.rules import (
    Current,
    PlannedChange,
    Price,
    addon_cancel,
    addon_change,
    addon_purchase,
    with_billing_terms,
    zone_change,
)
from subscriptions.error_codes import SubscriptionErrorCode

ZONE_ACTIONS = ("upgrade", "change", "downgrade")
ADDON_ACTIONS = ("change", "cancel")


# --- Catalog (support staff) --------------------------------------------------------------------


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


# --- Zones --------------------------------------------------------------------------------------


def add_zone(actor: Actor, customer: Customer, *, name: str) -> CloudflareZone:
    """Add a zone to the customer's Cloudflare account (POST /zones in a task); it starts on PARTNERS_FREE."""
    require(actor, Can.MANAGE_CLOUDFLARE, partner=customer.partner, customer=customer)
    name = clean_zone_name(name)
    account = _cloudflare_account(customer)
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
    _require_manage(actor, zone)
    if not zone.vendor_id:
        raise RuleViolation(
            "The zone does not exist at Cloudflare yet.", code=SubscriptionErrorCode.NOT_AT_VENDOR
        )
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
    _require_manage(actor, zone)
    with transaction.atomic():
        zone = _lock(CloudflareZone, zone)
        planned = plan_zone_change(zone, action, **request)
        reason = "" if billed else _direct_change(actor, zone, action, planned, not_billed_reason)
        # POST creates the zone's first subscription; once there is one, PUT changes it.
        method = "PUT" if zone.subscription_id else "POST"
        _send(
            actor,
            zone,
            planned,
            f"cloudflare.zone_{action}_requested",
            handlers.ChangeZonePlan.kind,
            reason,
            method=method,
        )
    return zone


def _direct_change(
    actor: Actor, record: CloudflarePlanRecord, action: str, planned: PlannedChange, reason: str
) -> str:
    """A change that billing does not make: refused for a zone or add-on that billing provides (it
    changes through billing, by the agreement rule); one that costs more needs the reason it is not
    billed (returned, cleaned; empty when none is needed)."""
    signals.change_requested.send(type(record), target=record, action=action, planned=planned, actor=actor)
    if not planned.costs_more:
        return ""
    return not_billed.required_reason(reason, f"This change of {record}")


# --- Account add-ons ----------------------------------------------------------------------------


def preview_addon_purchase(
    actor: Actor,
    customer: Customer,
    *,
    rate_plan_id: str,
    frequency: str | None = None,
    component_values: dict | None = None,
) -> PlannedChange:
    """The price per period of a new catalog add-on, checked like the purchase itself."""
    require(actor, Can.VIEW, partner=customer.partner, customer=customer)
    return plan_addon_purchase(
        customer, rate_plan_id=rate_plan_id, frequency=frequency, component_values=component_values
    )


def add_addon(
    actor: Actor,
    customer: Customer,
    *,
    rate_plan_id: str,
    frequency: str | None = None,
    component_values: dict | None = None,
    billed: bool = False,
    not_billed_reason: str = "",
) -> CloudflareAddon:
    """Buy a catalog add-on for the customer's account (POST in a task); one live add-on per plan.

    Not billing's own (`billed=False`), it needs `not_billed_reason` (see subscriptions.not_billed)."""
    require(actor, Can.MANAGE_CLOUDFLARE, partner=customer.partner, customer=customer)
    account = _cloudflare_account(customer)
    planned = plan_addon_purchase(
        customer, rate_plan_id=rate_plan_id, frequency=frequency, component_values=component_values
    )
    with transaction.atomic():
        _require_no_live_addon(account, planned.rate_plan_id)
        reason = (
            "" if billed else not_billed.required_reason(not_billed_reason, f"Buying {planned.rate_plan_id}")
        )
        # The plan identifies what is being bought; price, components and state come from Cloudflare.
        addon = CloudflareAddon.objects.create(
            partner=customer.partner, customer=customer, subaccount=account, rate_plan_id=planned.rate_plan_id
        )
        _send(actor, addon, planned, "cloudflare.addon_requested", handlers.CreateAddon.kind, reason)
    return addon


def preview_addon_change(
    actor: Actor,
    addon: CloudflareAddon,
    action: str,
    *,
    frequency: str | None = None,
    component_values: dict | None = None,
) -> PlannedChange:
    """The price per period before and after changing or cancelling an add-on, checked like the change."""
    require(actor, Can.VIEW, partner=addon.partner, customer=addon.customer)
    planned = plan_addon_change(addon, action, frequency=frequency, component_values=component_values)
    return with_billing_terms(planned, signals.billing_terms_of(addon))


def change_addon(
    actor: Actor,
    addon: CloudflareAddon,
    *,
    frequency: str | None = None,
    component_values: dict | None = None,
    billed: bool = False,
    not_billed_reason: str = "",
) -> CloudflareAddon:
    """New component values or frequency for a live add-on, within its catalog plan (PUT); one that
    costs more, not billing's own, needs `not_billed_reason`."""
    _require_manage(actor, addon)
    with transaction.atomic():
        addon = _lock(CloudflareAddon, addon)
        planned = plan_addon_change(addon, "change", frequency=frequency, component_values=component_values)
        reason = "" if billed else _direct_change(actor, addon, "change", planned, not_billed_reason)
        _send(actor, addon, planned, "cloudflare.addon_change_requested", handlers.ChangeAddon.kind, reason)
    return addon


def cancel_addon(actor: Actor, addon: CloudflareAddon, *, billed: bool = False) -> CloudflareAddon:
    """End a live add-on (DELETE); it shows `cancel_pending` until Cloudflare confirms."""
    _require_manage(actor, addon)
    with transaction.atomic():
        addon = _lock(CloudflareAddon, addon)
        planned = plan_addon_change(addon, "cancel")
        if not billed:  # a billed add-on ends with its billing, at the end of the paid period
            _direct_change(actor, addon, "downgrade", planned, "")
        before = audit.snapshot(addon)
        addon.state = AddonState.CANCEL_PENDING
        addon.save(update_fields=["state", "updated_at"])
        audit.record(
            actor,
            "cloudflare.addon_cancel_requested",
            addon,
            partner_id=addon.partner_id,
            before=before,
            note=_price_note(planned),
        )
        operations.start(
            actor,
            addon,
            handlers.CancelAddon.kind,
            partner_id=addon.partner_id,
            params={**planned.as_params(), "previous_state": AddonState.ACTIVE},
        )
    return addon


def sync_addons(actor: Actor, subaccount: Subaccount) -> Subaccount:
    """List the account's add-ons at Cloudflare (GET) and take that view: update, link or import each."""
    require(actor, Can.MANAGE_CLOUDFLARE, partner=subaccount.partner, customer=subaccount.customer)
    if subaccount.vendor != Vendor.CLOUDFLARE or subaccount.state != SubaccountState.ACTIVE:
        raise RuleViolation(
            "Only an active Cloudflare account has add-ons to sync.",
            code=SubscriptionErrorCode.SUBACCOUNT_NOT_ACTIVE,
        )
    with transaction.atomic():
        operations.start(actor, subaccount, handlers.SyncAddons.kind, partner_id=subaccount.partner_id)
    return subaccount


def plan_addon_purchase(customer: Customer, **request) -> PlannedChange:
    """Rule: a new add-on is a sellable account plan of the partner's catalog, within its limits; its
    price. The preview shows this plan and the purchase sends it."""
    return addon_purchase(cloudflare_selectors.catalog_of(customer.partner), **request)


def plan_addon_change(addon: CloudflareAddon, action: str, **request) -> PlannedChange:
    """Rule: only an active add-on changes or is cancelled, within its catalog plan; the price before
    and after. The preview shows this plan and the change sends it (planned again under the lock)."""
    if action not in ADDON_ACTIONS:
        raise ValidationFailed(
            f"Unknown add-on change {action!r}.", fields={"action": f"One of {', '.join(ADDON_ACTIONS)}."}
        )
    if addon.state == AddonState.CANCELLED:
        raise RuleViolation(
            f"{addon} is cancelled; buy it again instead.", code=SubscriptionErrorCode.ADDON_CANCELLED
        )
    if addon.state != AddonState.ACTIVE:
        raise RuleViolation(
            f"{addon} is {addon.get_state_display().lower()}; only an active add-on can be changed.",
            code=SubscriptionErrorCode.ADDON_NOT_ACTIVE,
        )
    catalog = cloudflare_selectors.catalog_of(addon.partner)
    if action == "cancel":
        return addon_cancel(catalog, current_of(addon))
    return addon_change(catalog, current_of(addon), **request)


def _require_no_live_addon(account: Subaccount, rate_plan_id: str) -> None:
    live = CloudflareAddon.objects.filter(
        subaccount=account, rate_plan_id=rate_plan_id, state__in=LIVE_ADDON_STATES
    )
    if live.exists():
        raise RuleViolation(
            f"{account.customer} already has {rate_plan_id}; change its components instead.",
            code=SubscriptionErrorCode.ADDON_EXISTS,
        )


# --- Both ---------------------------------------------------------------------------------------


def retry_failed_operation(actor: Actor, record: CloudflarePlanRecord) -> Operation:
    """Retry the zone's or add-on's last failed operation; a lost create is looked up before any new one."""
    return operations.retry(actor, failed_operation_of(actor, record))


def failed_operation_of(actor: Actor, record: CloudflarePlanRecord) -> Operation:
    """What a retry runs again: the newest operation if it failed (a later change supersedes it, a sync does not)."""
    _require_manage(actor, record)
    operations_of = selectors.operations_of(record)
    latest = operations_of.exclude(kind=handlers.SyncZone.kind, state=OperationState.SUCCEEDED).first()
    if latest is None or latest.state != OperationState.FAILED:
        superseded = latest is not None and operations_of.filter(state=OperationState.FAILED).exists()
        reason = f"{latest.label} came after the failed one" if superseded else "no operation of it failed"
        raise RuleViolation(f"Nothing to retry on {record}: {reason}.", code=CoreErrorCode.NOT_RETRYABLE)
    return latest


def queue_scheduled_syncs() -> int:
    """Scheduled: sync every live zone and every account with add-ons that has no operation in flight."""
    busy_zones, busy_accounts = (
        selectors.with_pending_operation(CloudflareZone),
        selectors.with_pending_operation(Subaccount),
    )
    zones = [
        zone
        for zone in CloudflareZone.objects.filter(state=ZoneState.ACTIVE).exclude(vendor_id="")
        if str(zone.pk) not in busy_zones
    ]
    accounts = [
        account
        for account in Subaccount.objects.filter(
            pk__in=CloudflareAddon.objects.filter(state__in=LIVE_ADDON_STATES).values("subaccount"),
            state=SubaccountState.ACTIVE,
        )
        if str(account.pk) not in busy_accounts
    ]
    # Materialised first: enqueueing through the ORM broker must not interleave with an open cursor.
    for target, kind in [
        *((z, handlers.SyncZone.kind) for z in zones),
        *((a, handlers.SyncAddons.kind) for a in accounts),
    ]:
        with transaction.atomic():
            operations.start(Actor.system(), target, kind, partner_id=target.partner_id)
    return len(zones) + len(accounts)


def current_of(record: CloudflarePlanRecord) -> Current:
    """What the customer has now, as Cloudflare last confirmed it (a zone without subscription: free)."""
    subscribed = bool(record.subscription_id) if isinstance(record, CloudflareZone) else True
    price = (
        Price(record.price, record.currency, record.frequency)
        if record.price is not None and record.frequency and record.currency
        else None
    )
    return Current(
        rate_plan_id=record.rate_plan_id or FREE_ZONE_PLAN,
        frequency=record.frequency,
        component_values=dict(record.component_values or {}),
        subscribed=subscribed,
        vendor_price=price,
    )


def pending_change(operation: Operation | None) -> dict | None:
    """The change an operation in flight asks for (plan, frequency, components, preview), for display."""
    if operation is None or operation.state != OperationState.PENDING or "action" not in operation.params:
        return None
    return {
        key: value
        for key, value in operation.params.items()
        if key in ("action", "rate_plan_id", "frequency", "component_values", "preview")
    }


def _require_manage(actor: Actor, record) -> None:
    require(actor, Can.MANAGE_CLOUDFLARE, partner=record.partner, customer=record.customer)


def _cloudflare_account(customer: Customer) -> Subaccount:
    account = Subaccount.objects.filter(customer=customer, vendor=Vendor.CLOUDFLARE).first()
    if account is None or account.state != SubaccountState.ACTIVE:
        raise RuleViolation(
            f"{customer} has no active Cloudflare account yet; create it first (zones and add-ons live in it).",
            code=SubscriptionErrorCode.SUBACCOUNT_NOT_ACTIVE,
        )
    return account


def _lock(model, record):
    return (
        model.objects.select_for_update()
        .select_related("partner", "customer", "subaccount")
        .get(pk=record.pk)
    )


def _record_request(actor: Actor, record: CloudflarePlanRecord, planned: PlannedChange, action: str) -> None:
    """One audit event for the request: what would change, and the price before and after."""
    ours = current_of(record)
    wanted = {
        "rate_plan_id": [ours.rate_plan_id, planned.rate_plan_id],
        "frequency": [ours.frequency, planned.frequency],
        "component_values": [ours.component_values, planned.component_values],
    }
    audit.record(
        actor,
        action,
        record,
        partner_id=record.partner_id,
        changes={name: pair for name, pair in wanted.items() if pair[0] != pair[1] and pair[1] is not None},
        note=_price_note(planned),
    )


def _send(
    actor: Actor,
    record: CloudflarePlanRecord,
    planned: PlannedChange,
    action: str,
    kind: str,
    not_billed_reason: str,
    **params,
) -> None:
    """Rule: what was planned is what is sent: the request is audited with its price and the operation
    carries the same plan; a direct paid change also records why nothing bills it."""
    _record_request(actor, record, planned, action)
    operations.start(
        actor, record, kind, partner_id=record.partner_id, params={**planned.as_params(), **params}
    )
    if not_billed_reason:
        not_billed.started(actor, record, not_billed_reason)


def _price_note(planned: PlannedChange) -> str:
    return f"price {planned.current or 'nothing'} -> {planned.new or 'nothing'}"
