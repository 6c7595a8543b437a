"""Customers' Cloudflare account add-ons: previewing and sending purchases, changes and cancellations, syncing."""

from __future__ import annotations

from django.db import transaction

from core import audit, operations, states
from core.actor import Actor
from core.errors import RuleViolation, ValidationFailed
from partner.access import Can, require
from partner.models import Customer, Subaccount, SubaccountState, Vendor
from subscriptions import not_billed, signals
from subscriptions.cloudflare import handlers
from subscriptions.cloudflare import selectors as cloudflare_selectors
from subscriptions.cloudflare.models import ADDON_MOVES, LIVE_ADDON_STATES, AddonState, CloudflareAddon
from subscriptions.cloudflare.rules import (
    PlannedChange,
    addon_cancel,
    addon_change,
    addon_purchase,
    with_billing_terms,
)
from subscriptions.cloudflare.services.common import (
    cloudflare_account,
    current_of,
    direct_change,
    lock_record,
    price_note,
    require_manage,
    send_planned,
)
from subscriptions.error_codes import SubscriptionErrorCode

ADDON_ACTIONS = ("change", "cancel")


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
    account = cloudflare_account(customer)
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
        send_planned(actor, addon, planned, "cloudflare.addon_requested", handlers.CreateAddon.kind, reason)
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
    require_manage(actor, addon)
    with transaction.atomic():
        addon = lock_record(CloudflareAddon, addon)
        planned = plan_addon_change(addon, "change", frequency=frequency, component_values=component_values)
        reason = "" if billed else direct_change(actor, addon, "change", planned, not_billed_reason)
        send_planned(
            actor, addon, planned, "cloudflare.addon_change_requested", handlers.ChangeAddon.kind, reason
        )
    return addon


def cancel_addon(actor: Actor, addon: CloudflareAddon, *, billed: bool = False) -> CloudflareAddon:
    """End a live add-on (DELETE); it shows `cancel_pending` until Cloudflare confirms."""
    require_manage(actor, addon)
    with transaction.atomic():
        addon = lock_record(CloudflareAddon, addon)
        planned = plan_addon_change(addon, "cancel")
        if not billed:  # a billed add-on ends with its billing, at the end of the paid period
            direct_change(actor, addon, "downgrade", planned, "")
        before = audit.snapshot(addon)
        states.move(addon, AddonState.CANCEL_PENDING, ADDON_MOVES)
        audit.record(
            actor,
            "cloudflare.addon_cancel_requested",
            addon,
            partner_id=addon.partner_id,
            before=before,
            note=price_note(planned),
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
