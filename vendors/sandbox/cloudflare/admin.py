"""What the Cloudflare emulator holds, in the admin: accounts, zones, subscriptions."""

from __future__ import annotations

from django.contrib import admin

from vendors.sandbox.cloudflare.models import CloudflareAccount, CloudflareSubscription, CloudflareZone


@admin.register(CloudflareAccount)
class CloudflareAccountAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "type", "unit_id", "owner_key", "created_at"]
    list_filter = ["type"]
    search_fields = ["id", "name", "unit_id"]
    readonly_fields = ["id", "created_at"]


@admin.register(CloudflareZone)
class CloudflareZoneAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "account", "plan_id", "status", "created_at"]
    list_filter = ["plan_id", "status"]
    search_fields = ["id", "name", "account__name"]
    readonly_fields = ["id", "created_at", "modified_at"]


@admin.register(CloudflareSubscription)
class CloudflareSubscriptionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "rate_plan_id",
        "account",
        "zone",
        "frequency",
        "price",
        "state",
        "current_period_end",
    ]
    list_select_related = ["account", "zone"]
    list_filter = ["rate_plan_id", "state", "frequency"]
    search_fields = ["id", "account__name", "zone__name"]
    readonly_fields = ["id", "created_at"]
