"""Cloudflare operation handlers: the worker side of cloudflare/services.py, one per vendor call."""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone

from core import audit, operations, states
from core.actor import Actor
from core.error_codes import CoreErrorCode
from core.errors import RuleViolation
from core.models import Operation
from partner.models import Subaccount
from subscriptions.cloudflare.models import (
    ADDON_MOVES,
    FREE_ZONE_PLAN,
    LIVE_ADDON_STATES,
    ZONE_MOVES,
    AddonState,
    CloudflareAddon,
    CloudflarePlanRecord,
    CloudflareZone,
    VendorState,
    ZoneState,
)
from subscriptions.cloudflare.rules import (
    CENT,
    RATE_PLAN_NOT_AVAILABLE,
    explain_refusal,
)
from subscriptions.error_codes import SubscriptionErrorCode
from vendors.cloudflare.client import CloudflareClient, CloudflareSubscription
from vendors.cloudflare.client import CloudflareZone as VendorZone
from vendors.errors import VendorError

# Cloudflare's answer to a zone name the account already has.
ZONE_EXISTS = "1061"


# Fields a sync rewrites every time; a change of only these is not worth an audit event.
SYNC_NOISE = ("synced_at", "vendor_view", "updated_at")


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
    if isinstance(record, CloudflareAddon):
        states.move(record, AddonState.ACTIVE, ADDON_MOVES, save=False)
    else:
        states.move(record, ZoneState.ACTIVE, ZONE_MOVES, save=False)
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
        states.move(zone, ZoneState.ACTIVE, ZONE_MOVES, save=False)
        zone.synced_at = timezone.now()
        _clear_refusal(zone)
        zone.save()
        audit.record(
            actor, "cloudflare.zone_created", zone, partner_id=zone.partner_id, before=before, note=note
        )

    def failed(self, operation, zone, actor):
        states.move(zone, ZoneState.FAILED, ZONE_MOVES, save=False)
        super().failed(operation, zone, actor)

    def retrying(self, operation, zone):
        states.move(zone, ZoneState.PENDING, ZONE_MOVES, save=False)
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
        states.move(addon, AddonState.FAILED, ADDON_MOVES, save=False)
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
        states.move(addon, AddonState.PENDING, ADDON_MOVES, save=False)
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
        states.move(addon, AddonState.CANCELLED, ADDON_MOVES, save=False)
        addon.vendor_state = VendorState.CANCELLED
        addon.cancelled_at = timezone.now()
        _clear_refusal(addon)
        addon.save()
        audit.record(actor, "cloudflare.addon_cancelled", addon, partner_id=addon.partner_id, before=before)

    def failed(self, operation, addon, actor):
        states.move(addon, operation.params.get("previous_state", AddonState.ACTIVE), ADDON_MOVES, save=False)
        super().failed(operation, addon, actor)

    def retrying(self, operation, addon):
        if addon.state != AddonState.ACTIVE:
            raise RuleViolation(
                f"{addon} is {addon.get_state_display().lower()}.",
                code=SubscriptionErrorCode.ADDON_NOT_ACTIVE,
            )
        states.move(addon, AddonState.CANCEL_PENDING, ADDON_MOVES, save=False)
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
                states.move(addon, AddonState.CANCELLED, ADDON_MOVES, save=False)
                addon.vendor_state = VendorState.CANCELLED
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
                addon.vendor_id = view["id"]
                states.move(addon, AddonState.ACTIVE, ADDON_MOVES, save=False)
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
