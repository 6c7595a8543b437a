"""Support staff's view of Cloudflare: each partner's catalog, customers' zones and add-ons, and their actions.

Every action that changes what a customer pays goes through core's confirmation page
(core.admin_confirm) with the dashboard's plan form (subscriptions.forms.PlanChangeForm): the
partner's catalog as choices, component fields with their limits, each selected row's price per
period now and after (or why it is refused), and only Confirm on the previewed values calls the
service, row by row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core.admin_confirm import ConfirmRow, confirm_page, confirmed, run_rows
from core.admin_tools import AuditTrailMixin, admin_actor, operations_table, state_badge
from core.errors import DomainError
from partner.models import Customer, Subaccount, SubaccountState, Vendor
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.forms import PlanChangeForm, ZoneForm
from subscriptions.cloudflare.models import (
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
from subscriptions.cloudflare.rules import Catalog, PlannedChange, PlanTerms, Price
from subscriptions.cloudflare.selectors import catalog_of
from subscriptions.forms import reason_of
from subscriptions.selectors import operations_of

PRICE_COLUMNS = ["Now", "After", "Difference"]
NEEDS_REASON = "Nothing bills this: give the reason it is not billed above."
CHANGED_SINCE_PREVIEW = "The values changed since the preview: check the new price, then confirm."
ONE_PARTNER = (
    "Select rows of one partner at a time: the plans offered are that partner's catalog. Nothing was done."
)
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


def cloudflare_customers():
    """Customers that can take a zone or an add-on: those with an active Cloudflare account."""
    accounts = Subaccount.objects.filter(vendor=Vendor.CLOUDFLARE, state=SubaccountState.ACTIVE)
    return Customer.objects.filter(pk__in=accounts.values("customer")).select_related("partner")


class CustomerForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=cloudflare_customers(),
        help_text="Customers with an active Cloudflare account; their partner's catalog is offered next.",
    )


def _values(form: forms.Form) -> dict:
    """The form's answers as service arguments (the not-billed reason apart: see reason_of)."""
    if isinstance(form, PlanChangeForm):
        return form.values()
    return dict(form.cleaned_data)


def _as_previewed(form: forms.Form | None) -> bool:
    """Confirm sends what the preview priced: a plan form carries the previewed values to compare."""
    return not isinstance(form, PlanChangeForm) or form.confirmed_as_previewed()


# --- Rows of the confirmation page --------------------------------------------------------------


def _difference(planned: PlannedChange) -> str:
    difference = planned.monthly_difference
    priced = planned.new or planned.current
    return f"{difference:+} {priced.currency} a month" if difference is not None and priced else ""


def _what(planned: PlannedChange) -> str:
    components = ", ".join(f"{n} {v}" for n, v in sorted((planned.component_values or {}).items()))
    plan = " ".join(filter(None, [planned.rate_plan_id, planned.frequency, components]))
    notes = [planned.takes_effect, NEEDS_REASON if planned.needs_not_billed_reason else ""]
    return " ".join(filter(None, [f"{planned.action.capitalize()}: {plan}.", *notes]))


def priced_row(obj, planned: PlannedChange) -> ConfirmRow:
    """A priced change's row: the price per period now and after, the monthly difference, what is sent."""
    return ConfirmRow(
        obj, change=_what(planned), cells=(planned.current, planned.new, _difference(planned)), data=planned
    )


def _preview_row(preview: Callable, actor, obj, shown=None, **values) -> ConfirmRow:
    """The row `preview` works out, or the service's refusal with its code."""
    try:
        return preview(actor, obj, **values)
    except DomainError as error:
        return ConfirmRow.refused(shown or obj, error, columns=len(PRICE_COLUMNS))


def _zone_preview(action: str):
    def preview(actor, zone, **values):
        return priced_row(zone, cloudflare.preview_zone_change(actor, zone, action, **values))

    return preview


def _sync_row(actor, record, **values) -> ConfirmRow:
    when = f"last synced {record.synced_at:%Y-%m-%d %H:%M:%S} UTC" if record.synced_at else "never synced"
    return ConfirmRow(
        record,
        change=f"Cloudflare's view replaces ours where they differ ({when}).",
        cells=(cloudflare.current_of(record).vendor_price, "", ""),
    )


def _retry_row(actor, record, **values) -> ConfirmRow:
    failed = cloudflare.failed_operation_of(actor, record)
    preview = failed.params.get("preview") or {}
    return ConfirmRow(
        record,
        change=f"{failed.label} again; it failed with {failed.last_error}",
        cells=(Price.from_dict(preview.get("current")), Price.from_dict(preview.get("new")), ""),
    )


# --- Plans offered ------------------------------------------------------------------------------


def _zone_plans(action: str) -> Callable[[Catalog, list], list[PlanTerms]]:
    """The partner's sellable zone plans that are an `action` for at least one selected zone, by the
    dashboard's rule: another plan, costing no less (upgrade) or less (downgrade) than the zone's."""

    def fits(plan: PlanTerms, zone, current: PlanTerms | None) -> bool:
        if plan.rate_plan_id == zone.rate_plan_id:
            return False
        if current is None:
            return True
        cheaper = plan.monthly_price < current.monthly_price
        return cheaper if action == "downgrade" else not cheaper

    def plans(catalog: Catalog, zones: list) -> list[PlanTerms]:
        return [
            plan
            for plan in catalog.sellable(PlanScope.ZONE)
            if any(fits(plan, zone, catalog.plans.get(zone.rate_plan_id)) for zone in zones)
        ]

    return plans


def _current_plans(catalog: Catalog, records: list) -> list[PlanTerms]:
    """The selected rows' own plans: a change keeps the plan, its components are asked for."""
    plans = {r.rate_plan_id: catalog.plans.get(r.rate_plan_id) for r in records}
    return [plan for plan in plans.values() if plan is not None]


# --- Actions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfirmedAction:
    """An admin action on core's confirmation page: the plan form when `plans` is given (one partner's
    catalog), each row's price, and the service only on Confirm of the previewed values.

    `when` says whether the action applies to one object (its change page offers it as a button);
    `run_on` turns the selected rows into what the service runs on (default: the rows themselves).
    """

    name: str
    label: str
    title: str
    intro: str
    preview: Callable  # (actor, obj, **values) -> ConfirmRow
    run: Callable
    done: str
    confirm: str = "Confirm"
    plans: Callable | None = None  # (catalog, records) -> the plans offered; None: nothing asked
    fixed_plan: bool = False
    keep_label: str = "Keep the current frequency"
    asks_reason: bool = False
    default_plan: str = ""
    when: Callable = lambda obj, failed: True
    run_on: Callable | None = None

    def form(self, records: list, data=None) -> PlanChangeForm:
        """The dashboard's plan form over the partner's catalog; one row's own components prefilled."""
        if self.fixed_plan and len(records) == 1:
            initial = {f"component_{n}": units for n, units in records[0].component_values.items()}
        else:
            initial = {"rate_plan_id": self.default_plan} if self.default_plan else {}
        return PlanChangeForm(
            data,
            plans=self.plans(catalog_of(records[0].partner), records),
            fixed_plan=self.fixed_plan,
            keep_label=self.keep_label,
            asks_reason=self.asks_reason,
            initial=initial,
        )

    def __call__(self, modeladmin, request, queryset):
        records = list(queryset)
        form = None
        if self.plans is not None:
            if len({record.partner_id for record in records}) > 1:
                modeladmin.message_user(request, ONE_PARTNER, messages.ERROR)
                return None
            asked = "_preview" in request.POST or "_confirm" in request.POST
            form = self.form(records, request.POST if asked else None)
        rows = []
        if form is None or (form.is_bound and form.is_valid()):
            values = _values(form) if form is not None else {}
            if confirmed(request, form) and _as_previewed(form):
                reason = reason_of(form) if form is not None else {}
                targets = self.run_on(queryset) if self.run_on else records
                run_rows(
                    modeladmin,
                    request,
                    [ConfirmRow(target) for target in targets],
                    lambda actor, obj: self.run(actor, obj, **values, **reason),
                    done=self.done,
                )
                return None  # back to the list, with a message per row
            if "_confirm" in request.POST:
                modeladmin.message_user(request, CHANGED_SINCE_PREVIEW, messages.WARNING)
            actor = admin_actor(request)
            rows = [_preview_row(self.preview, actor, obj, **values) for obj in records]
            if form is not None:
                form.mark_previewed()
        return confirm_page(
            modeladmin,
            request,
            title=self.title,
            intro=self.intro,
            rows=rows,
            columns=PRICE_COLUMNS,
            confirm=self.confirm,
            form=form,
            preview="Preview price" if form is not None else "",
        )

    def as_admin_action(self):
        """The function Django's admin lists among its actions, behind the manage permission."""

        def action(modeladmin, request, queryset):
            return self(modeladmin, request, queryset)

        action.__name__ = self.name
        return admin.action(description=self.label, permissions=["manage_cloudflare"])(action)


@dataclass(frozen=True)
class AddPage:
    """The add page: a customer that can take it first, then `form(customer, data)`, its preview row
    `preview(actor, customer, **values)`, and `run` only on Confirm of the previewed values."""

    title: str
    intro: str
    form: Callable
    preview: Callable
    run: Callable
    done: str  # formatted with the created object
    confirm: str
    preview_label: str = "Preview price"


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
    add_page: AddPage

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
        """Adding is a service call after its preview; Cloudflare creates the object in the background.
        The customer comes first (?customer=): its partner's catalog is what the form offers."""
        if not self.has_add_permission(request):
            return HttpResponseRedirect(
                reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            )
        page = self.add_page
        chosen = CustomerForm({"customer": request.GET.get("customer")})
        if not chosen.is_valid():
            chooser = CustomerForm(request.POST or None)
            if chooser.is_valid():
                return HttpResponseRedirect(f"{request.path}?customer={chooser.cleaned_data['customer'].pk}")
            return confirm_page(
                self,
                request,
                title=page.title,
                intro=page.intro,
                rows=[],
                form=chooser,
                confirm=page.confirm,
                preview="Next",
            )
        customer = chosen.cleaned_data["customer"]
        form = page.form(customer, request.POST or None)
        rows = []
        if form.is_bound and form.is_valid():
            actor, values = admin_actor(request), _values(form)
            if confirmed(request, form) and _as_previewed(form):
                try:
                    obj = page.run(actor, customer, **values, **reason_of(form))
                except DomainError as error:
                    rows = [ConfirmRow.refused(f"For {customer}", error, columns=len(PRICE_COLUMNS))]
                else:
                    self.message_user(request, page.done.format(obj=obj), messages.SUCCESS)
                    return HttpResponseRedirect(
                        reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.pk])
                    )
            else:
                if "_confirm" in request.POST:
                    self.message_user(request, CHANGED_SINCE_PREVIEW, messages.WARNING)
                rows = [_preview_row(page.preview, actor, customer, f"For {customer}", **values)]
                if isinstance(form, PlanChangeForm):
                    form.mark_previewed()
        return confirm_page(
            self,
            request,
            title=f"{page.title} for {customer} ({customer.partner})",
            intro=page.intro,
            rows=rows,
            columns=PRICE_COLUMNS,
            confirm=page.confirm,
            form=form,
            preview=page.preview_label,
        )


RETRY = dict(
    label="Retry",
    title="Retry the failed operation",
    intro="The last failed operation of each row is queued again; a lost create is looked up first.",
    preview=_retry_row,
    run=cloudflare.retry_failed_operation,
    done="operation queued again.",
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
        intro="Upgrade to a zone plan of the partner's catalog that costs no less. Cloudflare is asked once "
        "you confirm the previewed price; each zone keeps its plan until Cloudflare confirms the new one.",
        plans=_zone_plans("upgrade"),
        keep_label="Monthly (Cloudflare's default)",
        asks_reason=True,
        preview=_zone_preview("upgrade"),
        run=cloudflare.upgrade_zone_plan,
        done="upgrade sent to Cloudflare.",
        confirm="Upgrade at Cloudflare",
        when=_live_zone,
    ),
    ConfirmedAction(
        name="change_zone_components",
        label="Change components",
        title="Change components",
        intro="New component values (or frequency) on each zone's current plan, within its limits; "
        "components left empty take the plan's default.",
        plans=_current_plans,
        fixed_plan=True,
        asks_reason=True,
        preview=_zone_preview("change"),
        run=cloudflare.change_zone_components,
        done="change sent to Cloudflare.",
        confirm="Change at Cloudflare",
        when=_subscribed_zone,
    ),
    ConfirmedAction(
        name="downgrade_zone_plan",
        label="Downgrade",
        title="Downgrade zone plan",
        intro="Downgrade to a cheaper zone plan of the partner's catalog; components left empty take the "
        "new plan's defaults.",
        plans=_zone_plans("downgrade"),
        default_plan=FREE_ZONE_PLAN,
        preview=_zone_preview("downgrade"),
        run=cloudflare.downgrade_zone_plan,
        done="downgrade sent to Cloudflare.",
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


def _live_addon(addon, failed=False) -> bool:
    return addon.state == AddonState.ACTIVE


ADDON_ACTIONS = [
    ConfirmedAction(
        name="change_addon_components",
        label="Change components",
        title="Change add-on components",
        intro="New component values (or frequency) for each add-on, within its plan's limits; components "
        "left empty take the plan's default.",
        plans=_current_plans,
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
        preview=_sync_row,
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
