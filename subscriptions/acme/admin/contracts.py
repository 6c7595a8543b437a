"""ACME contracts in the admin: list, filters, bulk actions behind the manage permission."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import DateTimeField, Value

from core import clock
from core.admin_confirm import confirm_page, confirmed, run_rows
from core.admin_lists import BigTableAdmin, PartnerFilter
from core.admin_tools import AuditTrailMixin, run_per_row
from subscriptions.acme import certificates
from subscriptions.acme import services as acme
from subscriptions.acme.admin.actions import CANCEL, STOP_RENEWAL, ConfirmedAction
from subscriptions.acme.admin.pages import ContractPages
from subscriptions.acme.admin.panels import ContractPanels
from subscriptions.acme.models import AcmeContract


@admin.register(AcmeContract)
class AcmeContractAdmin(ContractPanels, ContractPages, AuditTrailMixin, BigTableAdmin):
    list_display = [
        "__str__",
        "customer",
        "partner",
        "product",
        "state_badge",
        "renewal",
        "valid_till",
        "cancel_until",
        "has_drift",
        "created_at",
    ]
    list_filter = ["state", "product", "auto_renew", "auto_renew_source", PartnerFilter]
    search_fields = ["sans", "^vendor_id", "customer__name", "partner__name", "^reference"]
    list_select_related = ["customer", "partner"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "partner",
        "customer",
        "subaccount",
        "reference",
        "product",
        "sans",
        "organization",
        "state_badge",
        "vendor_id",
        "renewal_decision",
        "ending_today",
        "term",
        "credentials",
        "drift_table",
        "operations",
        "vendor_view",
        "synced_at",
        "vendor_response",
        "certificates_panel",
        "created_at",
        "audit_trail",
    ]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "state_badge",
                    "partner",
                    "customer",
                    "subaccount",
                    "product",
                    "sans",
                    "organization",
                    "vendor_id",
                    "reference",
                ]
            },
        ),
        ("Term and renewal", {"fields": ["term", "renewal_decision", "ending_today"]}),
        ("ACME client", {"fields": ["credentials"]}),
        ("Certificates", {"fields": ["certificates_panel"]}),
        ("Vendor", {"fields": ["drift_table", "operations", "synced_at", "vendor_view", "vendor_response"]}),
        ("History", {"fields": ["audit_trail", "created_at"], "classes": ["collapse"]}),
    ]
    actions = [
        "cancel_selected",
        "stop_renewal_selected",
        "sync_selected",
        "refresh_certificates_selected",
        "retry_selected",
    ]
    change_form_template = "admin/subscriptions/acmecontract/change_form.html"

    def get_queryset(self, request):
        """Each row carries the business clock, read once per list rather than once per row."""
        now = Value(clock.now(), output_field=DateTimeField())
        return super().get_queryset(request).annotate(business_now=now)

    # --- bulk actions -----------------------------------------------------------------------------

    @admin.action(description="Cancel (within 30 days)", permissions=["manage"])
    def cancel_selected(self, request, queryset):
        return self.confirm_contracts(request, CANCEL, queryset)

    @admin.action(description="Stop renewal", permissions=["manage"])
    def stop_renewal_selected(self, request, queryset):
        return self.confirm_contracts(request, STOP_RENEWAL, queryset)

    def confirm_contracts(self, request, action: ConfirmedAction, queryset, *, back: str = ""):
        """The confirmation page: each contract with what will happen, or the refusal; only Confirm
        calls the service, row by row. None once done (the caller says where to go back to)."""
        rows = [action.row(c) for c in queryset.select_related("customer", "partner", "subaccount")]
        if confirmed(request):
            run_rows(self, request, rows, action.service, done=action.done)
            return None
        return confirm_page(
            self,
            request,
            title=action.title,
            intro=action.intro,
            rows=rows,
            columns=["Customer", "Cancel window closes (UTC)"],
            confirm=action.confirm,
            danger=action.danger,
            none_apply="It applies to none of these contracts today.",
            back=back,
        )

    @admin.action(description="Sync with DigiCert", permissions=["manage"])
    def sync_selected(self, request, queryset):
        run_per_row(self, request, queryset, acme.sync_acme_contract, success="{count} sync(s) queued.")

    @admin.action(description="Refresh certificates", permissions=["manage"])
    def refresh_certificates_selected(self, request, queryset):
        run_per_row(
            self,
            request,
            queryset,
            certificates.refresh_certificates,
            success="{count} certificate refresh(es) queued.",
        )

    @admin.action(description="Retry the failed operation", permissions=["manage"])
    def retry_selected(self, request, queryset):
        run_per_row(
            self, request, queryset, acme.retry_last_operation, success="{count} operation(s) queued again."
        )

    def has_manage_permission(self, request):
        return request.user.has_perm("subscriptions.manage_acmecontract")

    def has_add_permission(self, request):
        return self.has_manage_permission(request)

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
