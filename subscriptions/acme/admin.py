"""Support staff's view of ACME contracts: state, term, renewal decision, drift, and the operations."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.db.models import DateTimeField, Value
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core import clock
from core.admin_confirm import ConfirmRow, confirm_page, confirmed, run_rows
from core.admin_tools import (
    AuditTrailMixin,
    ReadOnlyAdmin,
    admin_actor,
    operations_table,
    run_per_row,
    state_badge,
)
from core.dashboard import show_domain_error
from core.errors import DomainError, RuleViolation
from partner.models import Customer, SubaccountState, Vendor
from subscriptions.acme import certificates
from subscriptions.acme import rules as acme_rules
from subscriptions.acme import services as acme
from subscriptions.acme.forms import RENEWAL_CHOICES, OrderForm
from subscriptions.acme.models import AcmeContract, AcmeProduct, Certificate
from subscriptions.acme.rules import end_options, require_cancel_window, require_live
from subscriptions.acme.selectors import expiry_warning_until
from subscriptions.forms import reason_of
from subscriptions.selectors import operations_of


class AdminOrderForm(OrderForm):
    """The dashboard's order form for support: any product, and the customer, offered only where
    a contract can live (an active DigiCert subaccount, as the ordering service requires)."""

    customer = forms.ModelChoiceField(
        queryset=Customer.objects.none(),
        help_text="Customers with an active DigiCert subaccount: a contract lives in it and uses its key.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        customer = self.fields["customer"]
        customer.queryset = (
            Customer.objects.filter(
                subaccounts__vendor=Vendor.DIGICERT, subaccounts__state=SubaccountState.ACTIVE
            )
            .select_related("partner")
            .order_by("partner__name", "name")
            .distinct()
        )
        customer.label_from_instance = lambda c: f"{c.name} ({c.partner.name})"
        self.fields["product"].choices = AcmeProduct.choices
        self.fields["renewal"].choices = RENEWAL_CHOICES  # the customer's account setting is not known here
        self.order_fields(["customer"])


class SansForm(forms.Form):
    sans = forms.CharField(label="Domain names")


# The contract page's buttons that run at once (url action: service call, success message);
# cancel and regenerate-with-revoke go through the confirmation page (CONFIRMED_ACTIONS).
CONTRACT_ACTIONS = {
    "stop_renewal": (acme.stop_renewal, "Stopping renewal at DigiCert."),
    "resume_renewal": (acme.resume_renewal, "Resuming renewal at DigiCert."),
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


def _cancel_change(contract: AcmeContract) -> str:
    """Cancel as the service decides it, by its own rules: live, inside DigiCert's 30 days."""
    require_live(contract)
    require_cancel_window(contract)
    return (
        "Cancelled at DigiCert for good: the directory URL stops issuing, its "
        f"{len(contract.sans)} domain name(s) ({', '.join(contract.sans)}) are released and each "
        "eligible SAN is refunded."
    )


def _stop_renewal_change(contract: AcmeContract) -> str:
    """Stop renewal where it applies today (acme.options_today); else what does (the service's
    exact refusal comes on Confirm)."""
    require_live(contract)
    options = acme.options_today(contract)
    option = next((o for o in options if o.action == "stop_renewal"), None)
    if option is None:
        raise RuleViolation(
            "Does not apply today. " + (" ".join(o.message for o in options) or "The term has ended.")
        )
    return option.message


def _regenerate_change(contract: AcmeContract) -> str:
    """Regenerating with revoke: a live contract (the service's rule); the old pair stops at once."""
    require_live(contract)
    return (
        "New EAB credentials from DigiCert, to reveal once; the current ones are revoked at once: "
        "ACME clients still using them fail until they are given the new pair."
    )


@dataclass(frozen=True)
class ConfirmedAction:
    """An irreversible or bulk ACME operation: the service, the words of its confirmation page,
    and what it will do to one contract (raising the service's refusal when it will not)."""

    service: Callable  # (actor, contract)
    title: str
    intro: str
    confirm: str
    change: Callable[[AcmeContract], str]
    done: str
    danger: bool = False

    def row(self, contract: AcmeContract) -> ConfirmRow:
        closes = contract.cancel_window_closes_at
        cells = (contract.customer, f"{closes:%Y-%m-%d %H:%M:%S}" if closes else "")
        try:
            return ConfirmRow(contract, change=self.change(contract), cells=cells)
        except DomainError as error:
            return ConfirmRow(contract, refusal=f"{error.message} [{error.code}]", cells=cells)


CANCEL = ConfirmedAction(
    acme.cancel_acme_contract,
    "Cancel ACME contracts",
    "This cannot be undone. DigiCert accepts a cancellation only within 30 days of the contract's "
    "creation; past that, stop the renewal instead.",
    "Yes, cancel at DigiCert",
    _cancel_change,
    "cancellation sent to DigiCert; it is irreversible.",
    danger=True,
)
STOP_RENEWAL = ConfirmedAction(
    acme.stop_renewal,
    "Stop renewal",
    "DigiCert stops renewing each contract: it stays active until the end of its term, then ends. "
    "Renewal can be resumed while the term runs.",
    "Stop renewal",
    _stop_renewal_change,
    "stopping renewal at DigiCert.",
)
REGENERATE = ConfirmedAction(
    acme.regenerate_credentials,
    "Regenerate credentials",
    "The current EAB credentials are revoked: an ACME client still configured with them can no longer "
    "order certificates. To switch without downtime, regenerate and keep the old ones instead.",
    "Regenerate and revoke",
    _regenerate_change,
    "new credentials requested; the old ones are revoked.",
    danger=True,
)
# The contract page's buttons that go through the confirmation page first.
CONFIRMED_ACTIONS = {"cancel": CANCEL, "regenerate": REGENERATE}


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

    def get_queryset(self, request):
        """Each row carries the business clock, read once per list rather than once per row."""
        now = Value(clock.now(), output_field=DateTimeField())
        return super().get_queryset(request).annotate(business_now=now)

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
        return format_html(
            "{}{}", closes.strftime("%Y-%m-%d"), " (closed)" if obj.business_now > closes else ""
        )

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
            f"shown once on {obj.credentials_revealed_at:%Y-%m-%d %H:%M:%S} UTC; regenerate for a new pair"
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
                f"None at the last sync ({obj.synced_at:%Y-%m-%d %H:%M:%S})."
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
                        if f in acme_rules.PUSHABLE_FIELDS
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
            f"last read {obj.certificates_synced_at:%Y-%m-%d %H:%M:%S} UTC"
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
        if not self.has_manage_permission(request):
            return self._back(pk)
        if action in CONFIRMED_ACTIONS:
            page = self.confirm_contracts(
                request,
                CONFIRMED_ACTIONS[action],
                AcmeContract.objects.filter(pk=pk),
                back=reverse("admin:subscriptions_acmecontract_change", args=[pk]),
            )
            return self._back(pk) if page is None else page
        if action not in CONTRACT_ACTIONS:
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
        form = AdminOrderForm(request.POST or None, initial=request.GET.dict())
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                contract = acme.order_acme_contract(
                    admin_actor(request),
                    data["customer"],
                    product=data["product"],
                    sans=data["sans"],
                    auto_renew=form.auto_renew(),
                    organization=form.organization(),
                    **reason_of(form),
                )
            except DomainError as error:
                show_domain_error(form, error, with_code=True)
            else:
                self.message_user(request, f"{contract} ordered; DigiCert is creating it.", messages.SUCCESS)
                return self._back(contract.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": "Order an ACME contract",
            "intro": "DigiCert creates the contract in the customer's subaccount in the background. Renewal: "
            "on or off here wins; left to the account setting, the subaccount's auto_renew_subscription "
            "decides, and without one the contract does not renew. The organization is for OV and EV "
            "products only.",
            "submit": "Order at DigiCert",
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/service_form.html", context)

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
