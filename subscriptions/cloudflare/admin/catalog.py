"""Each partner's Cloudflare catalog in the admin: a plan and its components, saved by one audited service."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.html import format_html_join

from core.admin_lists import BigTableAdmin, PartnerFilter
from core.admin_tools import AuditTrailMixin, admin_actor
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.models import CatalogComponent, CatalogPlan, Frequency

# --- Forms --------------------------------------------------------------------------------------


class CatalogPlanForm(forms.ModelForm):
    frequencies = forms.MultipleChoiceField(
        choices=Frequency.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="The renewal cadences this plan may be sold with.",
    )

    class Meta:
        model = CatalogPlan
        fields = [
            "partner",
            "rate_plan_id",
            "name",
            "scope",
            "monthly_price",
            "currency",
            "frequencies",
            "active",
        ]


# --- Catalog ------------------------------------------------------------------------------------


class CatalogComponentInline(admin.TabularInline):
    model = CatalogComponent
    extra = 1
    fields = ["name", "default", "maximum", "unit_price"]


@admin.register(CatalogPlan)
class CatalogPlanAdmin(AuditTrailMixin, BigTableAdmin):
    """A partner's Cloudflare catalog; a plan and its components are saved together by one audited service."""

    form = CatalogPlanForm
    inlines = [CatalogComponentInline]
    list_display = [
        "rate_plan_id",
        "name",
        "partner",
        "scope",
        "price",
        "frequency_list",
        "component_list",
        "active",
    ]
    list_filter = [PartnerFilter, "scope", "active"]
    search_fields = ["^rate_plan_id", "name", "partner__name"]
    list_select_related = ["partner"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("components")

    def get_readonly_fields(self, request, obj=None):
        return ["partner", "audit_trail"] if obj else []

    def get_fields(self, request, obj=None):
        fields = list(CatalogPlanForm.Meta.fields)
        return [*fields, "audit_trail"] if obj else fields

    @admin.display(description="Monthly price", ordering="monthly_price")
    def price(self, obj):
        return f"{obj.monthly_price} {obj.currency}"

    @admin.display(description="Frequencies")
    def frequency_list(self, obj):
        return ", ".join(obj.frequencies)

    @admin.display(description="Components")
    def component_list(self, obj):
        return (
            format_html_join(
                ", ",
                "{} (default {}, at most {}, {} each)",
                ((c.name, c.default, c.maximum, c.unit_price) for c in obj.components.all()),
            )
            or "—"
        )

    def has_add_permission(self, request):
        return request.user.has_perm("subscriptions.change_catalogplan")

    def has_delete_permission(self, request, obj=None):
        return False  # what customers have keeps its price: deactivate a plan instead

    def save_model(self, request, obj, form, change):
        """Nothing yet: the plan is saved with its components in save_related, through the service."""

    def save_related(self, request, form, formsets, change):
        components, removed = [], []
        for formset in formsets:
            components += formset.save(commit=False)
            removed += formset.deleted_objects
        cloudflare.save_catalog_plan(
            admin_actor(request), form.instance, components=components, removed=removed
        )
