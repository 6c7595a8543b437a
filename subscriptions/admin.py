"""Support staff's view of ACME contracts: state, term, renewal decision, drift, and the operations."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core import clock
from core.admin_tools import (
    AuditTrailMixin,
    ReadOnlyAdmin,
    admin_actor,
    operations_table,
    run_per_row,
    state_badge,
)
from core.errors import DomainError
from partner.models import Customer
from subscriptions import cloudflare_admin  # noqa: F401 - registers the Cloudflare admin pages
from subscriptions.acme_rules import end_options
from subscriptions.forms import not_billed_reason_field
from subscriptions.models import AcmeContract, AcmeProduct, Certificate
from subscriptions.selectors import expiry_warning_until, operations_of
from subscriptions.services import acme, certificates

AUTO_RENEW_CHOICES = [("", "Leave out (account setting, else off)"), ("true", "On"), ("false", "Off")]


class OrderContractForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Customer.objects.select_related("partner"))
    product = forms.ChoiceField(choices=AcmeProduct.choices)
    sans = forms.CharField(
        label="Domain names",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line or comma-separated; a wildcard only as *.example.com.",
    )
    auto_renew = forms.ChoiceField(choices=AUTO_RENEW_CHOICES, required=False)
    organization = forms.JSONField(required=False, help_text="OV/EV only: DigiCert's organization object.")
    not_billed_reason = not_billed_reason_field()


class SansForm(forms.Form):
    sans = forms.CharField(label="Domain names")


# (url action, service call, success message, permission)
CONTRACT_ACTIONS = {
    "cancel": (acme.cancel_acme_contract, "Cancellation requested."),
    "stop_renewal": (acme.stop_renewal, "Stopping renewal at DigiCert."),
    "resume_renewal": (acme.resume_renewal, "Resuming renewal at DigiCert."),
    "regenerate": (acme.regenerate_credentials, "New credentials requested; the old ones are revoked."),
    "regenerate_keep": (
        lambda actor, c: acme.regenerate_credentials(actor, c, revoke_existing=False),
        "New credentials requested; the old ones stay valid.",
    ),
    "sync": (acme.sync_acme_contract, "Sync with DigiCert queued."),
    "retry": (acme.retry_last_operation, "The failed operation is queued again."),
    "refresh_certificates": (
        certificates.refresh_certificates,
        "Reading the certificate list from DigiCert.",
    ),
}


@admin.register(AcmeContract)
class AcmeContractAdmin(AuditTrailMixin, admin.ModelAdmin):
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
    list_filter = ["state", "product", "auto_renew", "auto_renew_source", "partner"]
    search_fields = ["sans", "vendor_id", "customer__name", "partner__name", "reference"]
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

    # --- columns and panels ---------------------------------------------------------------------

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj):
        return state_badge(obj.state, obj.get_state_display())

    @admin.display(description="Renewal")
    def renewal(self, obj):
        if obj.auto_renew is None:
            return "—"
        return f"{'on' if obj.auto_renew else 'off'} ({obj.get_auto_renew_source_display() or '?'})"

    @admin.display(description="Cancel until")
    def cancel_until(self, obj):
        closes = obj.cancel_window_closes_at
        if not closes:
            return "—"
        return format_html("{}{}", closes.strftime("%Y-%m-%d"), " (closed)" if clock.now() > closes else "")

    @admin.display(description="Drift", boolean=True)
    def has_drift(self, obj):
        return bool(obj.drift)

    @admin.display(description="Renewal decision")
    def renewal_decision(self, obj):
        requested = {None: "left out", True: "on", False: "off"}[obj.auto_renew_requested]
        if obj.auto_renew is None:
            return f"Order: {requested}; decided when the contract is created."
        return format_html(
            "Renewal is <strong>{}</strong>, decided by: {} (order: {}; account setting: {}).",
            "on" if obj.auto_renew else "off",
            obj.get_auto_renew_source_display(),
            requested,
            {None: "not set", True: "1", False: "0"}[obj.subaccount.auto_renew_setting],
        )

    @admin.display(description="What applies today")
    def ending_today(self, obj):
        options = end_options(obj, clock.now())
        if not options:
            return f"Nothing: the contract is {obj.get_state_display().lower()}."
        return format_html(
            "<ul style='margin:0'>{}</ul>",
            format_html_join("", "<li>{}</li>", ((o.message,) for o in options)),
        )

    @admin.display(description="Term")
    def term(self, obj):
        if not obj.term_started_at:
            return "Starts when DigiCert creates the contract."
        return format_html(
            "{} → {} (cancel window closes {})",
            obj.term_started_at.strftime("%Y-%m-%d"),
            obj.valid_till.strftime("%Y-%m-%d") if obj.valid_till else "?",
            obj.cancel_window_closes_at.strftime("%Y-%m-%d"),
        )

    @admin.display(description="EAB credentials")
    def credentials(self, obj):
        if not obj.eab_hmac_key:
            return "Issued when DigiCert creates the contract."
        reveal = reverse("admin:subscriptions_acmecontract_reveal", args=[obj.pk])
        status = (
            f"shown once on {obj.credentials_revealed_at:%Y-%m-%d %H:%M} UTC; regenerate for a new pair"
            if obj.credentials_revealed_at
            else format_html('<a class="button" href="{}">Reveal once</a>', reveal)
        )
        return format_html(
            "Directory URL: <code>{}</code><br>Key id: <code>{}</code><br>HMAC key: <code>{}</code> {}",
            obj.directory_url,
            obj.eab_key_id,
            obj.eab_hmac_key.masked,
            status,
        )

    @admin.display(description="Drift with DigiCert")
    def drift_table(self, obj):
        if not obj.drift:
            return (
                f"None at the last sync ({obj.synced_at:%Y-%m-%d %H:%M})."
                if obj.synced_at
                else "Not synced yet."
            )
        url = reverse("admin:subscriptions_acmecontract_drift", args=[obj.pk])
        return format_html(
            "<table><tr><th>Field</th><th>Ours</th><th>DigiCert</th><th></th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>"
                "<a href='{}?field={}&keep=vendor'>accept DigiCert's</a>{}</td></tr>",
                (
                    (
                        f,
                        json.dumps(v["ours"]),
                        json.dumps(v["vendor"]),
                        url,
                        f,
                        format_html(" · <a href='{}?field={}&keep=ours'>push ours</a>", url, f)
                        if f in acme.PUSHABLE_FIELDS
                        else "",
                    )
                    for f, v in obj.drift.items()
                ),
            ),
        )

    @admin.display(description="Certificates")
    def certificates_panel(self, obj):
        listed = obj.certificates.filter(gone_at__isnull=True)
        soon = listed.filter(expires_at__lte=expiry_warning_until(clock.now())).count()
        url = reverse("admin:subscriptions_certificate_changelist") + f"?contract__id__exact={obj.pk}"
        read = (
            f"last read {obj.certificates_synced_at:%Y-%m-%d %H:%M} UTC"
            if obj.certificates_synced_at
            else "never read yet"
        )
        # The change form is the page's one <form>: the button posts it (with its CSRF token) elsewhere.
        refresh = (
            format_html(
                ' <button type="submit" class="button" formaction="{}">Refresh now</button>',
                reverse("admin:subscriptions_acmecontract_do", args=[obj.pk, "refresh_certificates"]),
            )
            if obj.vendor_id
            else ""
        )
        return format_html(
            '<a href="{}">{} listed</a> ({} expiring soon), {} removed from the list; DigiCert\'s list {}.{}',
            url,
            listed.count(),
            soon,
            obj.certificates.filter(gone_at__isnull=False).count(),
            read,
            refresh,
        )

    @admin.display(description="Vendor operations")
    def operations(self, obj):
        return operations_table(operations_of(obj)[:20])

    # --- bulk actions -----------------------------------------------------------------------------

    @admin.action(description="Cancel (within 30 days)", permissions=["manage"])
    def cancel_selected(self, request, queryset):
        run_per_row(
            self, request, queryset, acme.cancel_acme_contract, success="{count} cancellation(s) requested."
        )

    @admin.action(description="Stop renewal", permissions=["manage"])
    def stop_renewal_selected(self, request, queryset):
        run_per_row(
            self, request, queryset, acme.stop_renewal, success="Stopping renewal of {count} contract(s)."
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

    # --- custom pages -------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/do/<str:action>/", wrap(self.action_view), name="subscriptions_acmecontract_do"),
            path("<int:pk>/sans/<str:change>/", wrap(self.sans_view), name="subscriptions_acmecontract_sans"),
            path("<int:pk>/reveal/", wrap(self.reveal_view), name="subscriptions_acmecontract_reveal"),
            path("<int:pk>/drift/", wrap(self.drift_view), name="subscriptions_acmecontract_drift"),
            *super().get_urls(),
        ]

    def _back(self, pk):
        return HttpResponseRedirect(reverse("admin:subscriptions_acmecontract_change", args=[pk]))

    def _run(self, request, pk, call, success):
        if request.method != "POST":
            return self._back(pk)
        try:
            call(admin_actor(request), get_object_or_404(AcmeContract, pk=pk))
            self.message_user(request, success, messages.SUCCESS)
        except DomainError as error:
            self.message_user(request, f"{error.message} [{error.code}]", messages.ERROR)
        return self._back(pk)

    def action_view(self, request, pk, action):
        if action not in CONTRACT_ACTIONS or not self.has_manage_permission(request):
            return self._back(pk)
        call, success = CONTRACT_ACTIONS[action]
        return self._run(request, pk, call, success)

    def sans_view(self, request, pk, change):
        form = SansForm(request.POST or None)
        if not self.has_manage_permission(request) or change not in ("add", "remove") or not form.is_valid():
            return self._back(pk)
        call = acme.add_sans if change == "add" else acme.remove_sans
        return self._run(
            request,
            pk,
            lambda actor, c: call(actor, c, form.cleaned_data["sans"]),
            "SAN change sent to DigiCert.",
        )

    def drift_view(self, request, pk):
        field, keep = request.GET.get("field", ""), request.GET.get("keep", "")
        if request.method == "POST":
            return self._run(
                request,
                pk,
                lambda actor, c: acme.resolve_drift(actor, c, field, keep=keep),
                f"Drift on {field}: {'accepted DigiCert' if keep == 'vendor' else 'pushing ours'}.",
            )
        contract = AcmeContract.objects.get(pk=pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": contract,
            "title": f"Resolve drift on {field}",
            "field": field,
            "keep": keep,
            "values": contract.drift.get(field),
        }
        return TemplateResponse(request, "admin/subscriptions/acmecontract/drift.html", context)

    def reveal_view(self, request, pk):
        """Confirmation page, then the credentials and client configuration, shown this once."""
        contract = get_object_or_404(AcmeContract.objects.select_related("customer", "partner"), pk=pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": contract,
            "title": "Reveal EAB credentials",
        }
        if request.method == "POST":
            try:
                context["revealed"] = acme.reveal_credentials(admin_actor(request), contract)
            except DomainError as error:
                self.message_user(request, f"{error.message} [{error.code}]", messages.ERROR)
                return self._back(pk)
        return TemplateResponse(request, "admin/subscriptions/acmecontract/reveal.html", context)

    def add_view(self, request, form_url="", extra_context=None):
        """Ordering a contract is a service call; DigiCert creates it in the background."""
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:subscriptions_acmecontract_changelist"))
        form = OrderContractForm(request.POST or None, initial=request.GET.dict())
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                contract = acme.order_acme_contract(
                    admin_actor(request),
                    data["customer"],
                    product=data["product"],
                    sans=data["sans"],
                    auto_renew={"": None, "true": True, "false": False}[data["auto_renew"] or ""],
                    organization=data["organization"] or None,
                    not_billed_reason=data["not_billed_reason"],
                )
            except DomainError as error:
                for field, errors in error.fields.items():
                    for message in errors:
                        form.add_error(field if field in form.fields else None, message)
                form.add_error(None, f"{error.message} [{error.code}]")
            else:
                self.message_user(request, f"{contract} ordered; DigiCert is creating it.", messages.SUCCESS)
                return self._back(contract.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": "Order an ACME contract",
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/subscriptions/acmecontract/order.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        contract = self.get_object(request, object_id)
        extra = {"can_manage": self.has_manage_permission(request)}
        if contract is not None:
            extra["options"] = {o.action for o in end_options(contract, clock.now())}
            extra["in_flight"] = (
                contract.state in ("pending", "cancel_pending")
                or operations_of(contract).filter(state="pending").exists()
            )
            extra["has_failed_op"] = operations_of(contract).filter(state="failed").exists()
            extra["is_live"] = contract.state in ("active", "renewal_stopped")
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})


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
    list_filter = [ListedFilter, ExpiryFilter, "status", "partner"]
    search_fields = ["domain", "serial_number", "customer__name", "contract__vendor_id"]
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
