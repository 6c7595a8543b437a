"""Cloudflare zones, zone plans and account add-ons: one service per operation; vendor calls run as core Operations.

Face side checks the actor (Can.MANAGE_CLOUDFLARE), the partner's catalog and the rule, records
the request and an operation that carries the change; the handlers below call Cloudflare with the
partner's tenant token in a task. A record shows what Cloudflare confirmed, never what was only
asked for: a refused change leaves it as it was and says why in its `refusal_*` fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core import audit, operations
from core.actor import Actor
from core.error_codes import CoreErrorCode
from core.errors import PermissionDenied, RuleViolation, ValidationFailed
from core.models import Operation, OperationState
from partner.access import Can, require
from partner.models import Customer, Subaccount, SubaccountState, Vendor
from subscriptions import not_billed, selectors, signals
from subscriptions.acme_rules import clean_sans
from subscriptions.cloudflare_rules import (
    CENT,
    RATE_PLAN_NOT_AVAILABLE,
    Current,
    PlannedChange,
    Price,
    addon_cancel,
    addon_change,
    addon_purchase,
    explain_refusal,
    with_billing_terms,
    zone_change,
)
from subscriptions.error_codes import SubscriptionErrorCode
from subscriptions.models import (
    FREE_ZONE_PLAN,
    AddonState,
    CatalogComponent,
    CatalogPlan,
    CloudflareAddon,
    CloudflarePlanRecord,
    CloudflareZone,
    VendorState,
    ZoneState,
)
from vendors.cloudflare import CloudflareClient, CloudflareSubscription
from vendors.cloudflare import CloudflareZone as VendorZone
from vendors.errors import VendorError

ZONE_ACTIONS = ("upgrade", "change", "downgrade")
ADDON_ACTIONS = ("change", "cancel")
LIVE_ADDON_STATES = (AddonState.PENDING, AddonState.ACTIVE, AddonState.CANCEL_PENDING)
# Cloudflare's answer to a zone name the account already has.
ZONE_EXISTS = "1061"
# Fields a sync rewrites every time; a change of only these is not worth an audit event.
SYNC_NOISE = ("synced_at", "vendor_view", "updated_at")


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
            operations.start(actor, zone, CreateZone.kind, partner_id=zone.partner_id)
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
    planned = _plan_zone_change(
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
        operations.start(actor, zone, SyncZone.kind, partner_id=zone.partner_id)
    return zone


def _plan_zone_change(zone: CloudflareZone, action: str, **request) -> PlannedChange:
    if action not in ZONE_ACTIONS:
        raise ValidationFailed(
            f"Unknown zone change {action!r}.", fields={"action": f"One of {', '.join(ZONE_ACTIONS)}."}
        )
    if zone.state != ZoneState.ACTIVE:
        raise RuleViolation(
            f"The zone {zone} is {zone.get_state_display().lower()}; its plan changes once Cloudflare has it.",
            code=SubscriptionErrorCode.ZONE_NOT_ACTIVE,
        )
    return zone_change(selectors.catalog_of(zone.partner), current_of(zone), action, **request)


def _change_zone(
    actor: Actor, zone: CloudflareZone, action: str, *, billed: bool, not_billed_reason: str = "", **request
) -> CloudflareZone:
    _require_manage(actor, zone)
    with transaction.atomic():
        zone = _lock(CloudflareZone, zone)
        planned = _plan_zone_change(zone, action, **request)
        reason = "" if billed else _direct_change(actor, zone, action, planned, not_billed_reason)
        _record_request(actor, zone, planned, f"cloudflare.zone_{action}_requested")
        # POST creates the zone's first subscription; once there is one, PUT changes it.
        method = "PUT" if zone.subscription_id else "POST"
        operations.start(
            actor,
            zone,
            ChangeZonePlan.kind,
            partner_id=zone.partner_id,
            params={**planned.as_params(), "method": method},
        )
        if reason:
            not_billed.started(actor, zone, reason)
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
    return _plan_addon_purchase(customer, rate_plan_id, frequency, component_values)


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
    planned = _plan_addon_purchase(customer, rate_plan_id, frequency, component_values)
    with transaction.atomic():
        _require_no_live_addon(account, planned.rate_plan_id)
        reason = (
            "" if billed else not_billed.required_reason(not_billed_reason, f"Buying {planned.rate_plan_id}")
        )
        # The plan identifies what is being bought; price, components and state come from Cloudflare.
        addon = CloudflareAddon.objects.create(
            partner=customer.partner, customer=customer, subaccount=account, rate_plan_id=planned.rate_plan_id
        )
        _record_request(actor, addon, planned, "cloudflare.addon_requested")
        operations.start(
            actor, addon, CreateAddon.kind, partner_id=addon.partner_id, params=planned.as_params()
        )
        if reason:
            not_billed.started(actor, addon, reason)
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
    planned = _plan_addon_change(addon, action, frequency=frequency, component_values=component_values)
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
        planned = _plan_addon_change(addon, "change", frequency=frequency, component_values=component_values)
        reason = "" if billed else _direct_change(actor, addon, "change", planned, not_billed_reason)
        _record_request(actor, addon, planned, "cloudflare.addon_change_requested")
        operations.start(
            actor, addon, ChangeAddon.kind, partner_id=addon.partner_id, params=planned.as_params()
        )
        if reason:
            not_billed.started(actor, addon, reason)
    return addon


def cancel_addon(actor: Actor, addon: CloudflareAddon, *, billed: bool = False) -> CloudflareAddon:
    """End a live add-on (DELETE); it shows `cancel_pending` until Cloudflare confirms."""
    _require_manage(actor, addon)
    with transaction.atomic():
        addon = _lock(CloudflareAddon, addon)
        planned = _plan_addon_change(addon, "cancel")
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
            CancelAddon.kind,
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
        operations.start(actor, subaccount, SyncAddons.kind, partner_id=subaccount.partner_id)
    return subaccount


def _plan_addon_purchase(
    customer: Customer, rate_plan_id: str, frequency: str | None, component_values: dict | None
) -> PlannedChange:
    return addon_purchase(
        selectors.catalog_of(customer.partner),
        rate_plan_id=rate_plan_id,
        frequency=frequency,
        component_values=component_values,
    )


def _plan_addon_change(addon: CloudflareAddon, action: str, **request) -> PlannedChange:
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
    catalog = selectors.catalog_of(addon.partner)
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
    latest = operations_of.exclude(kind=SyncZone.kind, state=OperationState.SUCCEEDED).first()
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
    for target, kind in [*((z, SyncZone.kind) for z in zones), *((a, SyncAddons.kind) for a in accounts)]:
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


def _price_note(planned: PlannedChange) -> str:
    return f"price {planned.current or 'nothing'} -> {planned.new or 'nothing'}"


def _client(record) -> CloudflareClient:
    return CloudflareClient(record.partner.cloudflare_api_token.reveal())


def _pairs(values: dict | None) -> list[tuple[str, int]] | None:
    return sorted(values.items()) if values else None


def _subscription_view(subscription: CloudflareSubscription) -> dict:
    """What we keep of a Cloudflare subscription (JSON-safe; money as a string)."""
    return {
        "id": subscription.id,
        "rate_plan_id": subscription.rate_plan_id,
        "frequency": subscription.frequency,
        "component_values": {c.name: int(c.value) for c in subscription.component_values},
        # Cloudflare prices are JSON numbers ("250"); ours are cents ("250.00"), so a sync compares like with like.
        "price": str(subscription.price.quantize(CENT)) if subscription.price is not None else None,
        "currency": subscription.currency,
        "state": subscription.state,
        "current_period_start": _iso(subscription.current_period_start),
        "current_period_end": _iso(subscription.current_period_end),
        "raw": subscription.raw,
    }


def _zone_view(zone: VendorZone) -> dict:
    """What we keep of a Cloudflare zone: its own plan object raw; its rate plan is the subscription's."""
    return {
        "id": zone.id,
        "name": zone.name,
        "status": zone.status,
        "plan": zone.plan,
        "raw": zone.raw,
    }


def _matches(subscription: CloudflareSubscription, params: dict) -> bool:
    """Whether Cloudflare already has what the operation asks for (an earlier attempt got through)."""
    units = {c.name: int(c.value) for c in subscription.component_values}
    return (
        subscription.rate_plan_id == params["rate_plan_id"]
        and subscription.frequency == params["frequency"]
        and all(units.get(name) == value for name, value in (params.get("component_values") or {}).items())
    )


def _apply(record: CloudflarePlanRecord, view: dict) -> None:
    """Write what Cloudflare confirmed on our record; any earlier refusal is settled."""
    record.rate_plan_id = view["rate_plan_id"]
    record.frequency = view["frequency"]
    record.component_values = view["component_values"]
    record.price = view["price"]
    record.currency = view["currency"]
    record.vendor_state = view["state"]
    record.current_period_start = _time(view["current_period_start"])
    record.current_period_end = _time(view["current_period_end"])
    record.vendor_view = view["raw"]
    record.synced_at = timezone.now()
    _clear_refusal(record)


def _clear_refusal(record: CloudflarePlanRecord) -> None:
    record.refusal_code, record.refusal_message, record.refused_at = "", "", None


def _refuse(record: CloudflarePlanRecord, operation: Operation, what: str) -> None:
    """Say on the record why Cloudflare did not do what was asked; nothing else on it changes."""
    record.refusal_code = operation.last_error_code
    record.refusal_message = explain_refusal(
        operation.last_error_code,
        operation.last_error_message,
        what=what,
        plan=operation.params.get("rate_plan_id") or record.rate_plan_id,
        partner=str(record.partner),
        attempts=operation.attempts,
    )
    record.refused_at = timezone.now()


def _confirm(actor: Actor, record: CloudflarePlanRecord, view: dict, action: str, *, note: str = "") -> None:
    before = audit.snapshot(record)
    _apply(record, view)
    record.state = AddonState.ACTIVE if isinstance(record, CloudflareAddon) else ZoneState.ACTIVE
    if isinstance(record, CloudflareZone):
        record.subscription_id = view["id"]
    else:
        record.vendor_id = view["id"]
    record.save()
    audit.record(actor, action, record, partner_id=record.partner_id, before=before, note=note)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _what(operation: Operation) -> str:
    params = operation.params
    return {
        "upgrade": f"the upgrade to {params.get('rate_plan_id')}",
        "downgrade": f"the downgrade to {params.get('rate_plan_id')}",
        "change": "the change of components",
        "purchase": f"the purchase of {params.get('rate_plan_id')}",
        "cancel": "the cancellation",
    }.get(params.get("action"), operation.label.lower())


# --- Worker side: operation handlers ------------------------------------------------------------


class _RecordsRefusal(operations.OperationHandler):
    """A change Cloudflare did not make leaves the record as it was and says why on it."""

    def failed(self, operation, record, actor):
        _refuse(record, operation, _what(operation))
        record.save()

    def retrying(self, operation, record):
        _clear_refusal(record)
        record.save()


@operations.register
class CreateZone(_RecordsRefusal):
    """POST /zones in the customer's account; a retry after a lost answer finds the zone by name first."""

    kind = "cloudflare.create_zone"
    label = "Add zone at Cloudflare"

    def perform(self, operation, zone):
        client, account_id = _client(zone), zone.subaccount.vendor_id
        found = client.find_zone(zone.name, account_id) if operation.attempts > 1 else None
        adopted = found is not None
        if found is None:
            try:
                found = client.create_zone(name=zone.name, account_id=account_id)
            except VendorError as error:
                # Already in the customer's own account: it is theirs, so adopt it rather than fail.
                found = client.find_zone(zone.name, account_id) if error.code == ZONE_EXISTS else None
                if found is None:
                    raise
                adopted = True
        # A new zone has no subscription; an adopted one may have any plan.
        subscription = client.get_zone_subscription(found.id) if adopted else None
        return {
            "zone": _zone_view(found),
            "subscription": _subscription_view(subscription) if subscription else None,
            "adopted": adopted,
        }

    def succeeded(self, operation, zone, result, actor):
        zone.vendor_id = result["zone"]["id"]
        zone.zone_status = result["zone"]["status"]
        zone.zone_plan = result["zone"]["plan"]
        # The rate plan comes from the subscription (applied by _confirm below); without one the
        # zone is on the free plan of the agreement, whatever its own opaque plan id says.
        zone.rate_plan_id = FREE_ZONE_PLAN
        zone.vendor_view = result["zone"]["raw"]
        note = "adopted: the zone already existed in the customer's account" if result["adopted"] else ""
        if result["subscription"]:
            _confirm(actor, zone, result["subscription"], "cloudflare.zone_created", note=note)
            return
        before = audit.snapshot(zone)
        zone.state = ZoneState.ACTIVE
        zone.synced_at = timezone.now()
        _clear_refusal(zone)
        zone.save()
        audit.record(
            actor, "cloudflare.zone_created", zone, partner_id=zone.partner_id, before=before, note=note
        )

    def failed(self, operation, zone, actor):
        zone.state = ZoneState.FAILED
        super().failed(operation, zone, actor)

    def retrying(self, operation, zone):
        zone.state = ZoneState.PENDING
        super().retrying(operation, zone)


@operations.register
class ChangeZonePlan(_RecordsRefusal):
    """POST or PUT /zones/{id}/subscription; a retry first reads it, so a change that got through is not repeated."""

    kind = "cloudflare.change_zone_plan"
    label = "Change zone plan"

    def perform(self, operation, zone):
        client, params = _client(zone), operation.params
        method = params["method"]
        if operation.attempts > 1:
            current = client.get_zone_subscription(zone.vendor_id)
            if current is not None and _matches(current, params):
                return {"subscription": _subscription_view(current), "adopted": True}
            method = "POST" if current is None else "PUT"
        _require_available(client, zone, params["rate_plan_id"])
        call = client.create_zone_subscription if method == "POST" else client.update_zone_subscription
        subscription = call(
            zone.vendor_id,
            rate_plan_id=params["rate_plan_id"],
            frequency=params["frequency"],
            component_values=_pairs(params["component_values"]),
        )
        return {
            "subscription": _subscription_view(subscription),
            "adopted": False,
            "zone_plan": _zone_plan_after_change(client, zone),
        }

    def succeeded(self, operation, zone, result, actor):
        done = {"upgrade": "upgraded", "change": "components_changed", "downgrade": "downgraded"}
        if result.get("zone_plan") is not None:
            zone.zone_plan = result["zone_plan"]
        _confirm(actor, zone, result["subscription"], f"cloudflare.zone_{done[operation.params['action']]}")


def _require_available(client: CloudflareClient, zone: CloudflareZone, rate_plan_id: str) -> None:
    """Rule: a zone takes only a rate plan Cloudflare lists for it (GET /zones/{id}/available_rate_plans).

    Checked here, in the task, right before the change call: the face side makes no vendor calls
    (the preview and the request check the catalog only), and this list is the zone's own at
    Cloudflare now, not a copy that may have gone stale. A plan it leaves out is refused without
    sending the change, so nothing changes at Cloudflare or here (the record says why)."""
    offered = [str(plan["id"]) for plan in client.available_rate_plans(zone.vendor_id)]
    if rate_plan_id not in offered:
        raise VendorError(
            "cloudflare",
            RATE_PLAN_NOT_AVAILABLE,
            f"{rate_plan_id} is not among the rate plans Cloudflare lists for the zone {zone.name} "
            f"({', '.join(offered) or 'none'})",
            retryable=False,
        )


def _zone_plan_after_change(client: CloudflareClient, zone: CloudflareZone) -> dict | None:
    """The zone's own plan object once its subscription changed; None (kept as it was) if the read fails.

    Best effort: the change went through, so a failed read must not turn it into a failure; the
    next sync reads the zone again."""
    try:
        return client.get_zone(zone.vendor_id).plan
    except VendorError:
        return None


@operations.register
class SyncZone(operations.OperationHandler):
    """GET the zone and its subscription: Cloudflare's view becomes ours (a zone without one is free)."""

    kind = "cloudflare.sync_zone"
    label = "Sync zone with Cloudflare"

    def perform(self, operation, zone):
        client = _client(zone)
        found = client.get_zone(zone.vendor_id)
        subscription = client.get_zone_subscription(zone.vendor_id)
        return {
            "zone": _zone_view(found),
            "subscription": _subscription_view(subscription) if subscription else None,
        }

    def succeeded(self, operation, zone, result, actor):
        before = audit.snapshot(zone)
        zone.zone_status = result["zone"]["status"]
        zone.zone_plan = result["zone"]["plan"]
        if result["subscription"]:
            _apply(zone, result["subscription"])
            zone.subscription_id = result["subscription"]["id"]
        else:
            # No subscription (404 code 1207): the free plan; the zone's plan.id is opaque, never a rate plan.
            zone.rate_plan_id = FREE_ZONE_PLAN
            zone.frequency, zone.component_values, zone.price, zone.currency = "", {}, None, ""
            zone.vendor_state, zone.subscription_id = "", ""
            zone.current_period_start = zone.current_period_end = None
            zone.vendor_view, zone.synced_at = result["zone"]["raw"], timezone.now()
        zone.save()
        _record_sync(actor, zone, before, "cloudflare.zone_synced")


@operations.register
class CreateAddon(_RecordsRefusal):
    """POST /accounts/{id}/subscriptions; a retry after a lost answer adopts an unlinked add-on of that plan."""

    kind = "cloudflare.create_addon"
    label = "Buy add-on at Cloudflare"

    def perform(self, operation, addon):
        client, account_id, params = _client(addon), addon.subaccount.vendor_id, operation.params
        if addon.vendor_id or operation.attempts > 1:
            listed = client.list_account_subscriptions(account_id)
            # Linked by a sync meanwhile, or created by an earlier attempt whose answer was lost.
            found = next((s for s in listed if s.id == addon.vendor_id), None) or _unlinked(
                listed, addon.subaccount, params["rate_plan_id"]
            )
            if found is not None:
                return {"subscription": _subscription_view(found), "adopted": True}
        created = client.create_account_subscription(
            account_id,
            rate_plan_id=params["rate_plan_id"],
            frequency=params["frequency"],
            component_values=_pairs(params["component_values"]),
        )
        return {"subscription": _subscription_view(created), "adopted": False}

    def succeeded(self, operation, addon, result, actor):
        note = "adopted after a lost answer" if result["adopted"] else ""
        _confirm(actor, addon, result["subscription"], "cloudflare.addon_created", note=note)

    def failed(self, operation, addon, actor):
        addon.state = AddonState.FAILED
        super().failed(operation, addon, actor)

    def retrying(self, operation, addon):
        if addon.vendor_id:
            raise RuleViolation(f"{addon} already exists at Cloudflare.", code=CoreErrorCode.NOT_RETRYABLE)
        others = CloudflareAddon.objects.exclude(pk=addon.pk)
        if others.filter(
            subaccount=addon.subaccount, rate_plan_id=addon.rate_plan_id, state__in=LIVE_ADDON_STATES
        ).exists():
            raise RuleViolation(
                f"{addon.customer} has bought {addon.rate_plan_id} again meanwhile.",
                code=SubscriptionErrorCode.ADDON_EXISTS,
            )
        addon.state = AddonState.PENDING
        super().retrying(operation, addon)


def _unlinked(listed: list[CloudflareSubscription], account: Subaccount, rate_plan_id: str):
    """The newest add-on of that plan at Cloudflare that no record of ours points to yet."""
    linked = set(
        CloudflareAddon.objects.filter(subaccount=account)
        .exclude(vendor_id="")
        .values_list("vendor_id", flat=True)
    )
    candidates = [s for s in listed if s.rate_plan_id == rate_plan_id and s.id not in linked]
    return (
        max(candidates, key=lambda s: s.current_period_start or datetime.min.replace(tzinfo=UTC))
        if candidates
        else None
    )


@operations.register
class ChangeAddon(_RecordsRefusal):
    """PUT /accounts/{id}/subscriptions/{id} with the whole wanted state, so sending it twice is harmless."""

    kind = "cloudflare.change_addon"
    label = "Change add-on"

    def perform(self, operation, addon):
        params = operation.params
        changed = _client(addon).update_account_subscription(
            addon.subaccount.vendor_id,
            addon.vendor_id,
            rate_plan_id=params["rate_plan_id"],
            frequency=params["frequency"],
            component_values=_pairs(params["component_values"]),
        )
        return {"subscription": _subscription_view(changed)}

    def succeeded(self, operation, addon, result, actor):
        _confirm(actor, addon, result["subscription"], "cloudflare.addon_changed")


@operations.register
class CancelAddon(_RecordsRefusal):
    """DELETE /accounts/{id}/subscriptions/{id}; a retry first checks whether it is already gone."""

    kind = "cloudflare.cancel_addon"
    label = "Cancel add-on"

    def perform(self, operation, addon):
        client, account_id = _client(addon), addon.subaccount.vendor_id
        if operation.attempts > 1:
            listed = client.list_account_subscriptions(account_id)
            if all(s.id != addon.vendor_id for s in listed):
                return {"already_cancelled": True}
        client.delete_account_subscription(account_id, addon.vendor_id)
        return {"already_cancelled": False}

    def succeeded(self, operation, addon, result, actor):
        before = audit.snapshot(addon)
        addon.state, addon.vendor_state = AddonState.CANCELLED, VendorState.CANCELLED
        addon.cancelled_at = timezone.now()
        _clear_refusal(addon)
        addon.save()
        audit.record(actor, "cloudflare.addon_cancelled", addon, partner_id=addon.partner_id, before=before)

    def failed(self, operation, addon, actor):
        addon.state = operation.params.get("previous_state", AddonState.ACTIVE)
        super().failed(operation, addon, actor)

    def retrying(self, operation, addon):
        if addon.state != AddonState.ACTIVE:
            raise RuleViolation(
                f"{addon} is {addon.get_state_display().lower()}.",
                code=SubscriptionErrorCode.ADDON_NOT_ACTIVE,
            )
        addon.state = AddonState.CANCEL_PENDING
        super().retrying(operation, addon)


@operations.register
class SyncAddons(operations.OperationHandler):
    """GET /accounts/{id}/subscriptions: update our add-ons, mark the gone ones cancelled, link or import the rest."""

    kind = "cloudflare.sync_addons"
    label = "Sync add-ons with Cloudflare"

    def perform(self, operation, account):
        listed = CloudflareClient(account.partner.cloudflare_api_token.reveal()).list_account_subscriptions(
            account.vendor_id
        )
        return {"subscriptions": [_subscription_view(s) for s in listed]}

    def succeeded(self, operation, account, result, actor):
        views = {view["id"]: view for view in result["subscriptions"]}
        addons = list(
            CloudflareAddon.objects.select_for_update()
            .filter(subaccount=account)
            .order_by("created_at", "id")
        )
        linked = {addon.vendor_id for addon in addons if addon.vendor_id}
        for addon in addons:
            before = audit.snapshot(addon)
            if addon.vendor_id in views:
                _apply(addon, views[addon.vendor_id])
            elif addon.vendor_id and addon.state in (AddonState.ACTIVE, AddonState.CANCEL_PENDING):
                addon.state, addon.vendor_state = AddonState.CANCELLED, VendorState.CANCELLED
                addon.cancelled_at = timezone.now()
            elif not addon.vendor_id and addon.state in (AddonState.PENDING, AddonState.FAILED):
                # Bought by a create whose answer was lost: link it now, its retry will adopt it.
                view = next(
                    (
                        v
                        for v in views.values()
                        if v["rate_plan_id"] == addon.rate_plan_id and v["id"] not in linked
                    ),
                    None,
                )
                if view is None:
                    continue
                _apply(addon, view)
                addon.vendor_id, addon.state = view["id"], AddonState.ACTIVE
                linked.add(view["id"])
            else:
                continue
            addon.save()
            _record_sync(actor, addon, before, "cloudflare.addon_synced")
        for view in views.values():
            if view["id"] in linked:
                continue
            # Bought outside the back office: the customer is billed for it, so it is shown here too.
            addon = CloudflareAddon(
                partner=account.partner,
                customer=account.customer,
                subaccount=account,
                vendor_id=view["id"],
                state=AddonState.ACTIVE,
            )
            _apply(addon, view)
            addon.save()
            audit.record(actor, "cloudflare.addon_imported", addon, partner_id=addon.partner_id)


def _record_sync(actor: Actor, record, before: dict, action: str) -> None:
    changes = audit.diff(before, audit.snapshot(record))
    for noise in SYNC_NOISE:
        changes.pop(noise, None)
    if changes:
        audit.record(actor, action, record, partner_id=record.partner_id, changes=changes)
