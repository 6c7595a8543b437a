"""The certificates DigiCert lists for each ACME contract, read-only, with listing and expiry filters."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from core import clock
from core.admin_lists import PartnerFilter
from core.admin_tools import ReadOnlyAdmin, run_per_row
from subscriptions.acme import certificates
from subscriptions.acme.models import AcmeContract, Certificate
from subscriptions.acme.selectors import expiry_warning_until


class ListedFilter(admin.SimpleListFilter):
    title = "DigiCert lists it"
    parameter_name = "listed"

    def lookups(self, request, model_admin):
        return [("yes", "Listed now"), ("no", "Gone (replaced, or the contract ended)")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(gone_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(gone_at__isnull=False)
        return queryset


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [("soon", "Expiring within the warning days"), ("expired", "Expired")]

    def queryset(self, request, queryset):
        now = clock.now()
        if self.value() == "soon":
            return queryset.filter(gone_at__isnull=True, expires_at__lte=expiry_warning_until(now))
        if self.value() == "expired":
            return queryset.filter(expires_at__lte=now)
        return queryset


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    """DigiCert's certificates of every contract, as its certificate lists last showed them (read-only)."""

    list_display = ["domain", "customer", "contract_link", "status", "expires_at", "serial_number", "gone_at"]
    list_filter = [ListedFilter, ExpiryFilter, "status", PartnerFilter]
    search_fields = ["domain", "^serial_number", "customer__name", "^contract__vendor_id"]
    list_select_related = ["customer", "contract"]
    date_hierarchy = "expires_at"
    readonly_fields = [
        "partner",
        "customer",
        "contract_link",
        "serial_number",
        "domain",
        "sans",
        "status",
        "expires_at",
        "first_seen_at",
        "last_seen_at",
        "gone_at",
        "vendor_view",
    ]
    fields = readonly_fields
    actions = ["refresh_selected"]

    @admin.display(description="ACME contract", ordering="contract")
    def contract_link(self, obj):
        url = reverse("admin:subscriptions_acmecontract_change", args=[obj.contract_id])
        return format_html('<a href="{}">{}</a>', url, obj.contract)

    @admin.action(description="Refresh certificates (their contracts)", permissions=["manage"])
    def refresh_selected(self, request, queryset):
        contracts = AcmeContract.objects.filter(pk__in=queryset.values("contract_id")).select_related(
            "partner", "customer"
        )
        run_per_row(
            self, request, contracts, certificates.refresh_certificates, success="{count} refresh(es) queued."
        )

    def has_manage_permission(self, request):
        return request.user.has_perm("subscriptions.manage_acmecontract")
