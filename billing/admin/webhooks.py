"""Support staff's billing agreements and Digital River's webhook events, received and rejected."""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html

from billing.admin.common import badge
from billing.models import (
    BillingAgreement,
    RejectedWebhook,
    WebhookEvent,
)
from billing.services import events
from core.admin_tools import (
    ReadOnlyAdmin,
    run_per_row,
)


@admin.register(BillingAgreement)
class BillingAgreementAdmin(ReadOnlyAdmin):
    list_display = ["agreement_id", "customer", "first_order_id", "created_at", "superseded_at"]
    search_fields = ["^agreement_id", "customer__name", "^first_order_id"]
    list_select_related = ["customer"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "type", "event_id", "state_badge", "attempts", "processed_at", "error"]
    list_filter = ["state", "type"]
    search_fields = ["^event_id", "type", "body"]
    readonly_fields = [
        "event_id",
        "type",
        "state_badge",
        "received_at",
        "processed_at",
        "attempts",
        "error",
        "signature",
        "pretty_body",
    ]
    fields = readonly_fields
    actions = ["replay"]

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj):
        return badge(obj.state, obj.get_state_display())

    @admin.display(description="Body (as received)")
    def pretty_body(self, obj):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", obj.body)

    @admin.action(description="Replay selected events", permissions=["replay"])
    def replay(self, request, queryset):
        run_per_row(self, request, queryset, events.replay, success="{count} event(s) queued again.")

    def has_replay_permission(self, request):
        return request.user.has_perm("billing.replay_webhookevent")


@admin.register(RejectedWebhook)
class RejectedWebhookAdmin(ReadOnlyAdmin):
    """Webhook requests refused before anything was stored (no body is ever kept)."""

    list_display = ["received_at", "reason", "source_address", "body_bytes", "event_type", "detail"]
    list_filter = ["reason"]
    search_fields = ["^source_address", "event_type"]
    date_hierarchy = "received_at"
    readonly_fields = list_display
    fields = readonly_fields
