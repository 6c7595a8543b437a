"""Support staff's view of Cloudflare: each partner's catalog, customers' zones and add-ons, and their actions.

Every action that changes what a customer pays goes through Django admin's intermediate page: the
change is asked for, each selected row shows its price per period before and after (or why it is
refused), and only Confirm calls the service, row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core.admin_tools import AuditTrailMixin, admin_actor, operations_table, run_per_row, state_badge
from core.errors import DomainError
from partner.models import Customer, Subaccount
from subscriptions.cloudflare_rules import Price
from subscriptions.forms import not_billed_reason_field, reason_of
from subscriptions.models import (
    FREE_ZONE_PLAN,
    AddonState,
    CatalogComponent,
    CatalogPlan,
    CloudflareAddon,
    CloudflareZone,
    Frequency,
    PlanScope,
    ZoneState,
)
from subscriptions.selectors import operations_of
from subscriptions.services import cloudflare

CONFIRM_TEMPLATE = "admin/subscriptions/cloudflare/confirm.html"
NEEDS_REASON = "Nothing bills this: give the reason it is not billed above."
MANAGE_PERMISSION = "subscriptions.manage_cloudflare"


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


class ComponentValuesField(forms.CharField):
    """Component units typed as `name=units`, one per line or comma-separated."""

    widget = forms.Textarea(attrs={"rows": 2, "placeholder": "page_rules=50"})

    def to_python(self, value) -> dict | None:
        text = super().to_python(value).replace(",", "\n")
        values = {}
        for line in filter(None, (part.strip() for part in text.splitlines())):
            name, _, units = line.partition("=")
            if not name.strip() or not units.strip().isdigit():
                raise forms.ValidationError(f"{line!r}: write name=units, e.g. page_rules=50.")
            values[name.strip()] = int(units)
        return values or None


def _plan_field(required: bool = True, initial: str = "") -> forms.CharField:
    # Free text with the catalog as suggestions: the service, not the form, says what is sold.
    return forms.CharField(
        label="Rate plan",
        max_length=64,
        required=required,
        initial=initial,
        widget=forms.TextInput(attrs={"list": "catalog-plans"}),
    )


def _frequency_field(label: str) -> forms.ChoiceField:
    return forms.ChoiceField(choices=[("", label), *Frequency.choices], required=False)


class UpgradeForm(forms.Form):
    rate_plan_id = _plan_field()
    frequency = _frequency_field("Monthly (Cloudflare's default)")
    component_values = ComponentValuesField(label="Components", required=False)
    not_billed_reason = not_billed_reason_field()


class DowngradeForm(UpgradeForm):
    rate_plan_id = _plan_field(initial=FREE_ZONE_PLAN)
    frequency = _frequency_field("Keep the current frequency")
    not_billed_reason = None  # a downgrade adds nothing unbilled


class ComponentsForm(forms.Form):
    component_values = ComponentValuesField(label="Components", required=False)
    frequency = _frequency_field("Keep the current frequency")
    not_billed_reason = not_billed_reason_field()


class NoInput(forms.Form):
    pass


class AddZoneForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Customer.objects.select_related("partner"))
    name = forms.CharField(label="Zone", max_length=253, help_text="The domain, e.g. example.com.")


class AddAddonForm(UpgradeForm):
    customer = forms.ModelChoiceField(queryset=Customer.objects.select_related("partner"))
    frequency = _frequency_field("Monthly (Cloudflare's default)")
    component_values = ComponentValuesField(
        label="Components", required=False, help_text="Left empty: the add-on's default components."
    )
    field_order = ["customer", "rate_plan_id", "frequency", "component_values"]


def _data(form: forms.Form) -> tuple[dict, dict]:
    """The form's answers as service arguments (an empty choice is "left out"), and apart the
    not-billed reason, for the change itself only (its price preview does not take it)."""
    reason = reason_of(form)
    return {name: value or None for name, value in form.cleaned_data.items() if name not in reason}, reason


# --- The intermediate page ----------------------------------------------------------------------


def _row(obj, planned=None, *, note: str = "", error: DomainError | None = None) -> dict:
    """One line of the confirmation table: the object, its price now and after, and a note or refusal."""
    if planned is None:
        return {"object": obj, "note": note, "error": error}
    difference = planned.monthly_difference
    currency = (planned.new or planned.current).currency if (planned.new or planned.current) else ""
    return {
        "object": obj,
        "current": planned.current,
        "new": planned.new,
        "difference": f"{difference:+} {currency} a month" if difference is not None else "",
        "note": note or planned.takes_effect or (NEEDS_REASON if planned.needs_not_billed_reason else ""),
    }


def _page(modeladmin, request, *, title: str, intro: str, form, rows, confirm: str, **extra):
    scope = PlanScope.ZONE if modeladmin.model is CloudflareZone else PlanScope.ACCOUNT
    catalog = CatalogPlan.objects.filter(active=True, scope=scope).order_by("monthly_price")
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.model._meta,
        "title": title,
        "intro": intro,
        "form": form,
        "rows": rows,
        "can_confirm": any(row.get("error") is None for row in rows),
        "confirm": confirm,
        "suggestions": catalog.values_list("rate_plan_id", "name").distinct(),
        **extra,
    }
    return TemplateResponse(request, CONFIRM_TEMPLATE, context)


@dataclass(frozen=True)
class ConfirmedAction:
    """An admin action on the intermediate page: ask (form), preview each row's price, run only on Confirm.

    `when` says whether the action applies to one object (its change page offers it as a button);
    `run_on` turns the selected rows into what the service runs on (default: the rows themselves).
    """

    name: str
    label: str
    title: str
    intro: str
    preview: Callable
    run: Callable
    success: str
    form_class: type[forms.Form] = NoInput
    confirm: str = "Confirm"
    when: Callable = lambda obj, failed: True
    run_on: Callable | None = None

    def __call__(self, modeladmin, request, queryset):
        asked = "_preview" in request.POST or "_confirm" in request.POST or not self.form_class.base_fields
        form = self.form_class(request.POST if asked else None)
        rows = []
        if form.is_bound and form.is_valid():
            data, reason = _data(form)
            if "_confirm" in request.POST:
                targets = self.run_on(queryset) if self.run_on else queryset
                run_per_row(
                    modeladmin,
                    request,
                    targets,
                    lambda actor, obj: self.run(actor, obj, **data, **reason),
                    success=self.success,
                )
                return None  # back to the list, with a message per row
            for obj in queryset:
                try:
                    rows.append(self.preview(admin_actor(request), obj, **data))
                except DomainError as error:
                    rows.append(_row(obj, error=error))
        return _page(
            modeladmin,
            request,
            title=self.title,
            intro=self.intro,
            form=form,
            rows=rows,
            confirm=self.confirm,
            action=request.POST.get("action", ""),
            selected=request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
        )

    def as_admin_action(self):
        """The function Django's admin lists among its actions, behind the manage permission."""

        def action(modeladmin, request, queryset):
            return self(modeladmin, request, queryset)

        action.__name__ = self.name
        return admin.action(description=self.label, permissions=["manage_cloudflare"])(action)


def _zone_preview(action: str):
    def preview(actor, zone, **data):
        return _row(zone, cloudflare.preview_zone_change(actor, zone, action, **data))

    return preview


def _sync_row(actor, record, **data):
    current = cloudflare.current_of(record)
    when = f"last synced {record.synced_at:%Y-%m-%d %H:%M} UTC" if record.synced_at else "never synced"
    return {
        "object": record,
        "current": current.vendor_price,
        "note": f"Cloudflare's view replaces ours where they differ ({when}).",
    }


def _retry_row(actor, record, **data):
    failed = cloudflare.failed_operation_of(actor, record)
    preview = failed.params.get("preview") or {}
    return {
        "object": record,
        "current": Price.from_dict(preview.get("current")),
        "new": Price.from_dict(preview.get("new")),
        "note": f"{failed.label} again; it failed with {failed.last_error}",
    }


# --- Shared by zones and add-ons ----------------------------------------------------------------


PLAN_COLUMNS = [
    "customer",
    "partner",
    "state_badge",
    "plan",
    "price_display",
    "cloudflare_state",
    "current_period_end",
    "has_refusal",
    "created_at",
]
PANELS = [
    "plan_panel",
    "pending_panel",
    "refusal_panel",
    "operations",
    "synced_at",
    "vendor_view",
    "created_at",
    "audit_trail",
]
VENDOR_FIELDSETS = [
    ("Vendor", {"fields": ["operations", "synced_at", "vendor_view"]}),
    ("History", {"fields": ["audit_trail", "created_at"], "classes": ["collapse"]}),
]


class CloudflareRecordAdmin(AuditTrailMixin, admin.ModelAdmin):
    """What a zone and an add-on admin have in common: read-only records, plan panel, service actions."""

    list_filter = ["state", "vendor_state", "rate_plan_id", "frequency", "partner"]
    list_select_related = ["customer", "partner"]
    date_hierarchy = "created_at"
    change_form_template = "admin/subscriptions/cloudflare/change_form.html"
    object_actions: list[ConfirmedAction] = []
    add_page: ConfirmedAction

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj):
        return state_badge(obj.state, obj.get_state_display())

    @admin.display(description="Plan", ordering="rate_plan_id")
    def plan(self, obj):
        return f"{obj.rate_plan_id} {obj.frequency}".strip() or "—"

    @admin.display(description="Price", ordering="price")
    def price_display(self, obj):
        return f"{obj.price} {obj.currency} / {obj.frequency}" if obj.price is not None else "—"

    @admin.display(description="Cloudflare state", ordering="vendor_state")
    def cloudflare_state(self, obj):
        return obj.vendor_state or "no subscription"

    @admin.display(description="Refused", boolean=True)
    def has_refusal(self, obj):
        return bool(obj.refusal_code)

    @admin.display(description="What Cloudflare confirmed")
    def plan_panel(self, obj):
        components = ", ".join(f"{n} {v}" for n, v in sorted(obj.component_values.items())) or "—"
        period = (
            f"{obj.current_period_start:%Y-%m-%d} → {obj.current_period_end:%Y-%m-%d}"
            if obj.current_period_start and obj.current_period_end
            else "—"
        )
        return format_html(
            "<table><tr><th>Rate plan</th><td>{}</td></tr><tr><th>Frequency</th><td>{}</td></tr>"
            "<tr><th>Components</th><td>{}</td></tr><tr><th>Price</th><td>{}</td></tr>"
            "<tr><th>Cloudflare state</th><td><code>{}</code></td></tr><tr><th>Current period</th><td>{}</td></tr>"
            "</table>",
            obj.rate_plan_id or "—",
            obj.frequency or "—",
            components,
            self.price_display(obj),
            self.cloudflare_state(obj),
            period,
        )

    @admin.display(description="Waiting for Cloudflare")
    def pending_panel(self, obj):
        change = cloudflare.pending_change(operations_of(obj).first())
        if change is None:
            return "Nothing."
        preview = change["preview"]
        return format_html(
            "{} to <strong>{}</strong> {} {} — price {} → {}",
            change["action"].capitalize(),
            change["rate_plan_id"],
            change["frequency"],
            ", ".join(f"{n} {v}" for n, v in sorted((change["component_values"] or {}).items())),
            Price.from_dict(preview["current"]) or "nothing",
            Price.from_dict(preview["new"]) or "nothing",
        )

    @admin.display(description="Last refusal")
    def refusal_panel(self, obj):
        if not obj.refusal_code:
            return "None."
        return format_html(
            '<p class="errornote" style="margin:0">{} <br><small>{} UTC, code {}</small></p>',
            obj.refusal_message,
            obj.refused_at.strftime("%Y-%m-%d %H:%M") if obj.refused_at else "?",
            obj.refusal_code,
        )

    @admin.display(description="Vendor operations")
    def operations(self, obj):
        return operations_table(operations_of(obj)[:20])

    def has_manage_cloudflare_permission(self, request):
        return request.user.has_perm(MANAGE_PERMISSION)

    def has_add_permission(self, request):
        return self.has_manage_cloudflare_permission(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        extra = {"object_actions": []}
        if obj is not None and self.has_manage_cloudflare_permission(request):
            try:
                retryable = bool(cloudflare.failed_operation_of(admin_actor(request), obj))
            except DomainError:
                retryable = False
            extra["object_actions"] = [
                (a.name, a.label) for a in self.object_actions if a.when(obj, retryable)
            ]
            extra["in_flight"] = operations_of(obj).filter(state="pending").exists()
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def add_view(self, request, form_url="", extra_context=None):
        """Adding is a service call after its price preview; Cloudflare creates the object in the background."""
        if not self.has_add_permission(request):
            return HttpResponseRedirect(
                reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            )
        page = self.add_page
        form = page.form_class(request.POST or None, initial=request.GET.dict())
        rows = []
        if request.method == "POST" and form.is_valid():
            data, reason = _data(form)
            customer = data.pop("customer")
            try:
                if "_confirm" in request.POST:
                    obj = page.run(admin_actor(request), customer, **data, **reason)
                    self.message_user(request, page.success.format(obj=obj), messages.SUCCESS)
                    return HttpResponseRedirect(
                        reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.pk])
                    )
                rows.append(page.preview(admin_actor(request), customer, **data))
            except DomainError as error:
                rows.append(_row(customer, error=error))
        return _page(
            self, request, title=page.title, intro=page.intro, form=form, rows=rows, confirm=page.confirm
        )


RETRY = dict(
    label="Retry",
    title="Retry the failed operation",
    intro="The last failed operation of each row is queued again; a lost create is looked up first.",
    preview=_retry_row,
    run=cloudflare.retry_failed_operation,
    success="{count} operation(s) queued again.",
    when=lambda obj, failed: failed,
)


def _live_zone(zone, failed=False) -> bool:
    return zone.state == ZoneState.ACTIVE


def _subscribed_zone(zone, failed=False) -> bool:
    return _live_zone(zone) and bool(zone.subscription_id)


ZONE_ACTIONS = [
    ConfirmedAction(
        name="upgrade_zone_plan",
        label="Upgrade zone plan",
        title="Upgrade zone plan",
        intro="Upgrade to a catalog zone plan that costs no less. Cloudflare is asked once you confirm; "
        "each zone keeps its plan until Cloudflare confirms the new one.",
        form_class=UpgradeForm,
        preview=_zone_preview("upgrade"),
        run=cloudflare.upgrade_zone_plan,
        success="{count} upgrade(s) sent to Cloudflare.",
        confirm="Upgrade at Cloudflare",
        when=_live_zone,
    ),
    ConfirmedAction(
        name="change_zone_components",
        label="Change components",
        title="Change components",
        intro="New component values (or frequency) on each zone's current plan; components not named keep "
        "their units.",
        form_class=ComponentsForm,
        preview=_zone_preview("change"),
        run=cloudflare.change_zone_components,
        success="{count} change(s) sent to Cloudflare.",
        confirm="Change at Cloudflare",
        when=_subscribed_zone,
    ),
    ConfirmedAction(
        name="downgrade_zone_plan",
        label="Downgrade",
        title="Downgrade zone plan",
        intro="Downgrade to a cheaper catalog zone plan; the new plan starts from its default components.",
        form_class=DowngradeForm,
        preview=_zone_preview("downgrade"),
        run=cloudflare.downgrade_zone_plan,
        success="{count} downgrade(s) sent to Cloudflare.",
        confirm="Downgrade at Cloudflare",
        when=_subscribed_zone,
    ),
    ConfirmedAction(
        name="sync_zones",
        label="Sync",
        title="Sync zones with Cloudflare",
        intro="Each zone and its subscription are read at Cloudflare; no price changes there.",
        preview=_sync_row,
        run=cloudflare.sync_zone,
        success="{count} sync(s) queued.",
        when=lambda zone, failed: bool(zone.vendor_id),
    ),
    ConfirmedAction(name="retry_zones", **RETRY),
]


@admin.register(CloudflareZone)
class CloudflareZoneAdmin(CloudflareRecordAdmin):
    list_display = ["name", *PLAN_COLUMNS]
    search_fields = ["name", "vendor_id", "customer__name", "partner__name", "reference"]
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

    add_page = ConfirmedAction(
        name="add",
        label="Add a zone",
        title="Add a zone",
        intro="The zone is created in the customer's Cloudflare account on PARTNERS_FREE: no charge until "
        "its plan is upgraded.",
        form_class=AddZoneForm,
        preview=lambda actor, customer, name: _row(customer, note=f"{name}: PARTNERS_FREE, no subscription."),
        run=cloudflare.add_zone,
        success="{obj} requested; Cloudflare is creating it.",
        confirm="Add at Cloudflare",
    )


def _live_addon(addon, failed=False) -> bool:
    return addon.state == AddonState.ACTIVE


ADDON_ACTIONS = [
    ConfirmedAction(
        name="change_addon_components",
        label="Change components",
        title="Change add-on components",
        intro="New component values (or frequency) for each add-on; components not named keep their units.",
        form_class=ComponentsForm,
        preview=lambda actor, addon, **data: _row(
            addon, cloudflare.preview_addon_change(actor, addon, "change", **data)
        ),
        run=cloudflare.change_addon,
        success="{count} change(s) sent to Cloudflare.",
        confirm="Change at Cloudflare",
        when=_live_addon,
    ),
    ConfirmedAction(
        name="cancel_addons",
        label="Cancel add-on",
        title="Cancel add-ons",
        intro="Each add-on is ended at Cloudflare and billed no more; buying it again is a new purchase.",
        preview=lambda actor, addon: _row(addon, cloudflare.preview_addon_change(actor, addon, "cancel")),
        run=cloudflare.cancel_addon,
        success="{count} cancellation(s) sent to Cloudflare.",
        confirm="Cancel at Cloudflare",
        when=_live_addon,
    ),
    ConfirmedAction(
        name="sync_addon_accounts",
        label="Sync",
        title="Sync add-ons with Cloudflare",
        intro="The add-ons of each selected add-on's Cloudflare account are listed at Cloudflare: ours are "
        "updated, gone ones marked cancelled, unknown ones imported.",
        preview=_sync_row,
        run=cloudflare.sync_addons,
        # One listing per account, however many of its add-ons are selected.
        run_on=lambda addons: Subaccount.objects.filter(pk__in=addons.values("subaccount")),
        success="{count} account sync(s) queued.",
    ),
    ConfirmedAction(name="retry_addons", **RETRY),
]


@admin.register(CloudflareAddon)
class CloudflareAddonAdmin(CloudflareRecordAdmin):
    list_display = ["__str__", *PLAN_COLUMNS]
    search_fields = ["rate_plan_id", "vendor_id", "customer__name", "partner__name", "reference"]
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

    add_page = ConfirmedAction(
        name="add",
        label="Add an add-on",
        title="Add an add-on",
        intro="An account add-on from the customer's partner catalog; components left empty take the "
        "add-on's defaults.",
        form_class=AddAddonForm,
        preview=lambda actor, customer, **data: _row(
            customer, cloudflare.preview_addon_purchase(actor, customer, **data)
        ),
        run=cloudflare.add_addon,
        success="{obj} requested; Cloudflare is creating it.",
        confirm="Buy at Cloudflare",
    )


# --- Catalog ------------------------------------------------------------------------------------


class CatalogComponentInline(admin.TabularInline):
    model = CatalogComponent
    extra = 1
    fields = ["name", "default", "maximum", "unit_price"]


@admin.register(CatalogPlan)
class CatalogPlanAdmin(AuditTrailMixin, admin.ModelAdmin):
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
    list_filter = ["partner", "scope", "active"]
    search_fields = ["rate_plan_id", "name", "partner__name"]
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
