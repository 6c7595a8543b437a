"""Customers' Cloudflare zones in the admin: plan changes on the confirmation page, adding a zone."""

from __future__ import annotations

from django.contrib import admin

from core.admin_confirm import ConfirmRow
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.admin.actions import AddPage, ConfirmedAction
from subscriptions.cloudflare.admin.common import current_plans, priced_row, sync_row, zone_plans
from subscriptions.cloudflare.admin.records import (
    PANELS,
    PLAN_COLUMNS,
    RETRY,
    VENDOR_FIELDSETS,
    CloudflareRecordAdmin,
)
from subscriptions.cloudflare.forms import ZoneForm
from subscriptions.cloudflare.models import FREE_ZONE_PLAN, CloudflareZone, ZoneState


def _zone_preview(action: str):
    def preview(actor, zone, **values):
        return priced_row(zone, cloudflare.preview_zone_change(actor, zone, action, **values))

    return preview


def _live_zone(zone, failed=False) -> bool:
    return zone.state == ZoneState.ACTIVE


def _subscribed_zone(zone, failed=False) -> bool:
    return _live_zone(zone) and bool(zone.subscription_id)


def _zone_change(action: str, run, **fields) -> ConfirmedAction:
    """A plan change of the zone: previewed priced as Cloudflare prices `action`, then sent there."""
    return ConfirmedAction(
        preview=_zone_preview(action),
        run=run,
        done=f"{action} sent to Cloudflare.",
        confirm=f"{action.capitalize()} at Cloudflare",
        **fields,
    )


ZONE_ACTIONS = [
    _zone_change(
        "upgrade",
        cloudflare.upgrade_zone_plan,
        name="upgrade_zone_plan",
        label="Upgrade zone plan",
        title="Upgrade zone plan",
        intro="Upgrade to a zone plan of the partner's catalog that costs no less. Cloudflare is asked once "
        "you confirm the previewed price; each zone keeps its plan until Cloudflare confirms the new one.",
        plans=zone_plans("upgrade"),
        keep_label="Monthly (Cloudflare's default)",
        asks_reason=True,
        when=_live_zone,
    ),
    _zone_change(
        "change",
        cloudflare.change_zone_components,
        name="change_zone_components",
        label="Change components",
        title="Change components",
        intro="New component values (or frequency) on each zone's current plan, within its limits; "
        "components left empty take the plan's default.",
        plans=current_plans,
        fixed_plan=True,
        asks_reason=True,
        when=_subscribed_zone,
    ),
    _zone_change(
        "downgrade",
        cloudflare.downgrade_zone_plan,
        name="downgrade_zone_plan",
        label="Downgrade",
        title="Downgrade zone plan",
        intro="Downgrade to a cheaper zone plan of the partner's catalog; components left empty take the "
        "new plan's defaults.",
        plans=zone_plans("downgrade"),
        default_plan=FREE_ZONE_PLAN,
        when=_subscribed_zone,
    ),
    ConfirmedAction(
        name="sync_zones",
        label="Sync",
        title="Sync zones with Cloudflare",
        intro="Each zone and its subscription are read at Cloudflare; no price changes there.",
        preview=sync_row,
        run=cloudflare.sync_zone,
        done="sync queued.",
        when=lambda zone, failed: bool(zone.vendor_id),
    ),
    ConfirmedAction(name="retry_zones", **RETRY),
]


def _new_zone(actor, customer, *, name: str) -> ConfirmRow:
    name = cloudflare.clean_zone_name(name)
    return ConfirmRow(
        f"{name} for {customer}",
        change="Created in the customer's Cloudflare account on PARTNERS_FREE, without a subscription.",
        cells=("", "", ""),
    )


@admin.register(CloudflareZone)
class CloudflareZoneAdmin(CloudflareRecordAdmin):
    list_display = ["name", *PLAN_COLUMNS]
    search_fields = ["name", "^vendor_id", "customer__name", "partner__name", "^reference"]
    readonly_fields = [
        "name",
        "state_badge",
        "partner",
        "customer",
        "subaccount",
        "vendor_id",
        "zone_status",
        "subscription_id",
        "zone_plan",
        "reference",
        *PANELS,
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "state_badge",
                    "partner",
                    "customer",
                    "subaccount",
                    "vendor_id",
                    "zone_status",
                    "reference",
                ]
            },
        ),
        (
            "Zone plan",
            # zone_plan: the zone's own plan object (opaque id); the rate plan shown is the subscription's.
            {"fields": ["plan_panel", "subscription_id", "zone_plan", "pending_panel", "refusal_panel"]},
        ),
        *VENDOR_FIELDSETS,
    ]
    object_actions = ZONE_ACTIONS
    actions = [a.as_admin_action() for a in ZONE_ACTIONS]

    add_page = AddPage(
        title="Add a zone",
        intro="The zone is created in the customer's Cloudflare account on PARTNERS_FREE: no charge until "
        "its plan is upgraded.",
        form=lambda customer, data: ZoneForm(data),
        preview=_new_zone,
        run=cloudflare.add_zone,
        done="{obj} requested; Cloudflare is creating it.",
        confirm="Add at Cloudflare",
        preview_label="Preview",  # a new zone is free: nothing to price
    )
