"""Support staff's billing catalog: plans and products."""

from __future__ import annotations

from django.contrib import admin

from billing.models import (
    Plan,
    Product,
)
from billing.services import catalog
from core.admin_lists import BigTableAdmin, PartnerFilter
from core.admin_tools import (
    AuditTrailMixin,
    ServiceSaveMixin,
    admin_actor,
    operations_table,
    run_per_row,
)
from subscriptions.selectors import operations_of


@admin.register(Plan)
class PlanAdmin(ServiceSaveMixin, AuditTrailMixin, BigTableAdmin):
    list_display = [
        "name",
        "plan_id",
        "interval_count",
        "interval",
        "reminder_offset_days",
        "billing_offset_days",
        "collection_period_days",
        "state",
        "engine",
        "at_vendor",
        "synced_at",
    ]
    list_filter = ["state", "engine", "interval", "at_vendor"]
    search_fields = ["name", "^plan_id"]
    readonly_fields = ["at_vendor", "synced_at", "vendor_view", "operations", "audit_trail"]
    actions = ["sync_selected"]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["plan_id", "terms", "interval", "interval_count", "contract_binding_days"] if obj else []
        return [*fixed, *self.readonly_fields]

    @admin.display(description="Vendor operations")
    def operations(self, obj):
        return operations_table(operations_of(obj)[:10]) if obj and obj.pk else "—"

    def save_via_service(self, request, obj, form, change):
        actor = admin_actor(request)
        if change:
            editable = {*catalog.PLAN_UPDATABLE, *catalog.PLAN_LOCAL}
            catalog.update_plan(
                actor,
                Plan.objects.get(pk=obj.pk),
                **{f: form.cleaned_data[f] for f in form.changed_data if f in editable},
            )
        else:
            obj.pk = catalog.create_plan(actor, **{f: form.cleaned_data[f] for f in catalog.PLAN_FIELDS}).pk

    @admin.action(description="Sync from Digital River")
    def sync_selected(self, request, queryset):
        run_per_row(self, request, queryset, catalog.sync_plan, success="{count} plan sync(s) queued.")


@admin.register(Product)
class ProductAdmin(ServiceSaveMixin, AuditTrailMixin, BigTableAdmin):
    list_display = [
        "name",
        "sku_id",
        "partner",
        "price",
        "currency",
        "plan",
        "provisions",
        "free_trial",
        "trial_plan",
        "active",
    ]
    list_filter = [PartnerFilter, "provisions", "active", "currency", "plan__engine"]
    search_fields = ["name", "^sku_id", "partner__name"]
    list_select_related = ["partner", "plan", "trial_plan"]
    readonly_fields = ["audit_trail"]

    def save_via_service(self, request, obj, form, change):
        actor = admin_actor(request)
        data = {f: form.cleaned_data[f] for f in catalog.PRODUCT_FIELDS if f in form.cleaned_data}
        if change:
            catalog.update_product(actor, Product.objects.get(pk=obj.pk), **data)
        else:
            obj.pk = catalog.create_product(actor, form.cleaned_data["partner"], **data).pk
