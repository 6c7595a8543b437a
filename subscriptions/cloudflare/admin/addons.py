"""Customers' Cloudflare account add-ons in the admin: component changes, cancellation, purchase."""

from __future__ import annotations

from django.contrib import admin

from partner.models import Subaccount
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.admin.actions import AddPage, ConfirmedAction
from subscriptions.cloudflare.admin.common import current_plans, priced_row, sync_row
from subscriptions.cloudflare.admin.records import (
    PANELS,
    PLAN_COLUMNS,
    RETRY,
    VENDOR_FIELDSETS,
    CloudflareRecordAdmin,
)
from subscriptions.cloudflare.forms import PlanChangeForm
from subscriptions.cloudflare.models import AddonState, CloudflareAddon, PlanScope
from subscriptions.cloudflare.selectors import catalog_of


def _live_addon(addon, failed=False) -> bool:
    return addon.state == AddonState.ACTIVE


ADDON_ACTIONS = [
    ConfirmedAction(
        name="change_addon_components",
        label="Change components",
        title="Change add-on components",
        intro="New component values (or frequency) for each add-on, within its plan's limits; components "
        "left empty take the plan's default.",
        plans=current_plans,
        fixed_plan=True,
        asks_reason=True,
        preview=lambda actor, addon, **values: priced_row(
            addon, cloudflare.preview_addon_change(actor, addon, "change", **values)
        ),
        run=cloudflare.change_addon,
        done="change sent to Cloudflare.",
        confirm="Change at Cloudflare",
        when=_live_addon,
    ),
    ConfirmedAction(
        name="cancel_addons",
        label="Cancel add-on",
        title="Cancel add-ons",
        intro="Each add-on is ended at Cloudflare and billed no more; buying it again is a new purchase.",
        preview=lambda actor, addon: priced_row(
            addon, cloudflare.preview_addon_change(actor, addon, "cancel")
        ),
        run=cloudflare.cancel_addon,
        done="cancellation sent to Cloudflare.",
        confirm="Cancel at Cloudflare",
        when=_live_addon,
    ),
    ConfirmedAction(
        name="sync_addon_accounts",
        label="Sync",
        title="Sync add-ons with Cloudflare",
        intro="The add-ons of each selected add-on's Cloudflare account are listed at Cloudflare: ours are "
        "updated, gone ones marked cancelled, unknown ones imported.",
        preview=sync_row,
        run=cloudflare.sync_addons,
        # One listing per account, however many of its add-ons are selected.
        run_on=lambda addons: Subaccount.objects.filter(pk__in=addons.values("subaccount")),
        done="account sync queued.",
    ),
    ConfirmedAction(name="retry_addons", **RETRY),
]


def _addon_form(customer, data) -> PlanChangeForm:
    """The dashboard's purchase form over the customer's partner's sellable add-ons."""
    return PlanChangeForm(
        data,
        plans=catalog_of(customer.partner).sellable(PlanScope.ACCOUNT),
        keep_label="Monthly (Cloudflare's default)",
        asks_reason=True,
    )


@admin.register(CloudflareAddon)
class CloudflareAddonAdmin(CloudflareRecordAdmin):
    list_display = ["__str__", *PLAN_COLUMNS]
    search_fields = ["^rate_plan_id", "^vendor_id", "customer__name", "partner__name", "^reference"]
    readonly_fields = [
        "state_badge",
        "partner",
        "customer",
        "subaccount",
        "vendor_id",
        "reference",
        "cancelled_at",
        *PANELS,
    ]
    fieldsets = [
        (None, {"fields": ["state_badge", "partner", "customer", "subaccount", "vendor_id", "reference"]}),
        ("Add-on", {"fields": ["plan_panel", "pending_panel", "refusal_panel", "cancelled_at"]}),
        *VENDOR_FIELDSETS,
    ]
    object_actions = ADDON_ACTIONS
    actions = [a.as_admin_action() for a in ADDON_ACTIONS]

    add_page = AddPage(
        title="Add an add-on",
        intro="An account add-on from the customer's partner catalog; components left empty take the "
        "add-on's defaults.",
        form=_addon_form,
        preview=lambda actor, customer, **values: priced_row(
            f"For {customer}", cloudflare.preview_addon_purchase(actor, customer, **values)
        ),
        run=cloudflare.add_addon,
        done="{obj} requested; Cloudflare is creating it.",
        confirm="Buy at Cloudflare",
    )
