"""What the zone and add-on admins have in common: read-only records, plan panels, service actions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from core.admin_confirm import ConfirmRow, confirm_page, confirmed
from core.admin_lists import BigTableAdmin, PartnerFilter
from core.admin_tools import AuditTrailMixin, admin_actor, operations_table, state_badge
from core.errors import DomainError
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.admin.actions import AddPage, ConfirmedAction
from subscriptions.cloudflare.admin.common import (
    CHANGED_SINCE_PREVIEW,
    MANAGE_PERMISSION,
    PRICE_COLUMNS,
    CustomerForm,
    as_previewed,
    form_values,
    preview_row,
    retry_row,
)
from subscriptions.cloudflare.forms import PlanChangeForm
from subscriptions.cloudflare.rules import Price
from subscriptions.forms import reason_of
from subscriptions.selectors import operations_of

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


class CloudflareRecordAdmin(AuditTrailMixin, BigTableAdmin):
    """What a zone and an add-on admin have in common: read-only records, plan panel, service actions."""

    list_filter = ["state", "vendor_state", "rate_plan_id", "frequency", PartnerFilter]
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
            actor, values = admin_actor(request), form_values(form)
            if confirmed(request, form) and as_previewed(form):
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
                rows = [preview_row(page.preview, actor, customer, f"For {customer}", **values)]
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
    preview=retry_row,
    run=cloudflare.retry_failed_operation,
    done="operation queued again.",
    when=lambda obj, failed: failed,
)
