"""What zone and add-on services share: the actor's right, the customer's account, the recorded request, retries and scheduled syncs."""

from __future__ import annotations

from django.db import transaction

from core import audit, operations
from core.actor import Actor
from core.error_codes import CoreErrorCode
from core.errors import RuleViolation
from core.models import Operation, OperationState
from partner.access import Can, require
from partner.models import Customer, Subaccount, SubaccountState, Vendor
from subscriptions import not_billed, selectors, signals
from subscriptions.cloudflare import handlers
from subscriptions.cloudflare.models import (
    FREE_ZONE_PLAN,
    LIVE_ADDON_STATES,
    CloudflareAddon,
    CloudflarePlanRecord,
    CloudflareZone,
    ZoneState,
)
from subscriptions.cloudflare.rules import Current, PlannedChange, Price
from subscriptions.error_codes import SubscriptionErrorCode


def direct_change(
    actor: Actor, record: CloudflarePlanRecord, action: str, planned: PlannedChange, reason: str
) -> str:
    """A change that billing does not make: refused for a zone or add-on that billing provides (it
    changes through billing, by the agreement rule); one that costs more needs the reason it is not
    billed (returned, cleaned; empty when none is needed)."""
    signals.change_requested.send(type(record), target=record, action=action, planned=planned, actor=actor)
    if not planned.costs_more:
        return ""
    return not_billed.required_reason(reason, f"This change of {record}")


def retry_failed_operation(actor: Actor, record: CloudflarePlanRecord) -> Operation:
    """Retry the zone's or add-on's last failed operation; a lost create is looked up before any new one."""
    return operations.retry(actor, failed_operation_of(actor, record))


def failed_operation_of(actor: Actor, record: CloudflarePlanRecord) -> Operation:
    """What a retry runs again: the newest operation if it failed (a later change supersedes it, a sync does not)."""
    require_manage(actor, record)
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


def require_manage(actor: Actor, record) -> None:
    require(actor, Can.MANAGE_CLOUDFLARE, partner=record.partner, customer=record.customer)


def cloudflare_account(customer: Customer) -> Subaccount:
    account = Subaccount.objects.filter(customer=customer, vendor=Vendor.CLOUDFLARE).first()
    if account is None or account.state != SubaccountState.ACTIVE:
        raise RuleViolation(
            f"{customer} has no active Cloudflare account yet; create it first (zones and add-ons live in it).",
            code=SubscriptionErrorCode.SUBACCOUNT_NOT_ACTIVE,
        )
    return account


def lock_record(model, record):
    return (
        model.objects.select_for_update()
        .select_related("partner", "customer", "subaccount")
        .get(pk=record.pk)
    )


def record_request(actor: Actor, record: CloudflarePlanRecord, planned: PlannedChange, action: str) -> None:
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
        note=price_note(planned),
    )


def send_planned(
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
    record_request(actor, record, planned, action)
    operations.start(
        actor, record, kind, partner_id=record.partner_id, params={**planned.as_params(), **params}
    )
    if not_billed_reason:
        not_billed.started(actor, record, not_billed_reason)


def price_note(planned: PlannedChange) -> str:
    return f"price {planned.current or 'nothing'} -> {planned.new or 'nothing'}"
