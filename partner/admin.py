"""Support staff's view of partners, customers, members and subaccounts; actions call services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core.admin_lists import BigTableAdmin, PartnerFilter, count_of
from core.admin_tools import (
    AuditTrailMixin,
    ServiceSaveMixin,
    admin_actor,
    run_per_row,
    state_badge,
)
from core.errors import DomainError
from core.forms import show_domain_error
from partner import billing_model, selectors, services
from partner.contacts import who_to_contact
from partner.models import Customer, Membership, Partner, Subaccount, SubaccountState, Vendor
from partner.onboarding import onboarding_checklist


class PartnerForm(forms.ModelForm):
    """Profile fields plus write-only vendor credentials (the stored values are never shown)."""

    new_digicert_api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput,
        label="Set DigiCert partner API key",
        help_text="Leave empty to keep the current key.",
    )
    new_cloudflare_api_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput,
        label="Set Cloudflare API token",
        help_text="Leave empty to keep the current token.",
    )

    class Meta:
        model = Partner
        fields = ["slug", *services.PARTNER_PROFILE_FIELDS]
        help_texts = {
            "billing_model": billing_model.HELP_TEXT,
            "auto_renew_default": billing_model.AUTO_RENEW_DEFAULT_HELP,
        }


@admin.register(Partner)
class PartnerAdmin(ServiceSaveMixin, AuditTrailMixin, BigTableAdmin):
    form = PartnerForm
    list_display = ["name", "slug", "onboarding", "billing_model", "customer_count", "created_at"]
    list_filter = ["billing_model", "country"]
    search_fields = ["name", "legal_name", "^slug", "org_contact_email"]
    readonly_fields = ["onboarding_checklist", "billing_model_effect", "credentials", "audit_trail"]
    prepopulated_fields = {"slug": ["name"]}
    fieldsets = [
        ("Onboarding", {"fields": ["onboarding_checklist"]}),
        (None, {"fields": ["name", "slug"]}),
        (
            "Registration",
            {
                "fields": [
                    "legal_name",
                    "address_line1",
                    "address_line2",
                    "city",
                    "region",
                    "postal_code",
                    "country",
                ]
            },
        ),
        (
            "Contacts",
            {
                "fields": [
                    "org_contact_name",
                    "org_contact_email",
                    "org_contact_phone",
                    "verification_contact_name",
                    "verification_contact_email",
                    "verification_contact_phone",
                ]
            },
        ),
        ("Support and escalation contacts", {"fields": services.SUPPORT_CONTACT_FIELDS}),
        (
            "Decisions",
            {
                "fields": [
                    "billing_model",
                    "billing_model_effect",
                    "subaccount_naming_pattern",
                    "auto_renew_default",
                ]
            },
        ),
        (
            "Vendor access",
            {
                "fields": [
                    "credentials",
                    "new_digicert_api_key",
                    "cloudflare_unit_id",
                    "new_cloudflare_api_token",
                ]
            },
        ),
        ("History", {"fields": ["audit_trail"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_customers=count_of(Customer, "partner"))

    @admin.display(description="Customers", ordering="n_customers")
    def customer_count(self, obj):
        return obj.n_customers

    @admin.display(description="Onboarding")
    def onboarding(self, obj):
        items = onboarding_checklist(obj, customer_count=obj.n_customers)
        done = sum(item.done for item in items)
        return state_badge("active" if done == len(items) else "pending", f"{done}/{len(items)}")

    @admin.display(description="Checklist")
    def onboarding_checklist(self, obj):
        if obj is None or obj.pk is None:
            return "Save the partner to see its checklist."
        return format_html(
            "<ul style='margin:0;padding-left:1em'>{}</ul>",
            format_html_join(
                "",
                "<li>{} <strong>{}</strong> <span style='color:#57606a'>{}</span></li>",
                (
                    ("✅" if i.done else "❌", i.label, "" if i.done else i.hint)
                    for i in onboarding_checklist(obj)
                ),
            ),
        )

    @admin.display(description="What the billing model changes")
    def billing_model_effect(self, obj):
        if obj is None or obj.pk is None:
            return billing_model.NOT_CHOSEN
        return format_html(
            "{}<br><strong>At DigiCert:</strong> {}", billing_model.effect(obj), billing_model.AT_DIGICERT
        )

    @admin.display(description="Stored credentials")
    def credentials(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        return format_html(
            "DigiCert: <code>{}</code><br>Cloudflare: <code>{}</code>",
            obj.digicert_api_key.masked if obj.digicert_api_key else "not set",
            obj.cloudflare_api_token.masked if obj.cloudflare_api_token else "not set",
        )

    def save_via_service(self, request, obj, form, change):
        """Every edit goes through the services and their rules (naming convention locked...)."""
        actor = admin_actor(request)
        if change:
            profile = {
                f: form.cleaned_data[f] for f in services.PARTNER_PROFILE_FIELDS if f in form.changed_data
            }
            if profile:
                services.update_partner_profile(actor, Partner.objects.get(pk=obj.pk), **profile)
        else:
            created = services.create_partner(
                actor,
                slug=obj.slug,
                **{
                    f: form.cleaned_data[f] for f in services.PARTNER_PROFILE_FIELDS if f in form.cleaned_data
                },
            )
            obj.pk = created.pk
        secrets = {
            "digicert_api_key": form.cleaned_data.get("new_digicert_api_key"),
            "cloudflare_api_token": form.cleaned_data.get("new_cloudflare_api_token"),
        }
        if any(secrets.values()):
            services.set_vendor_credentials(actor, Partner.objects.get(pk=obj.pk), **secrets)


class ProvisioningColumns:
    """The create operation's progress (partner.handlers.CreateSubaccount), shown on subaccounts."""

    def get_queryset(self, request):
        return selectors.with_provisioning(super().get_queryset(request))

    @admin.display(description="Attempts")
    def attempts(self, obj):
        return obj.provisioning_attempts or 0

    @admin.display(description="Last error")
    def last_error(self, obj):
        code = obj.provisioning_error_code
        return f"{code}: {obj.provisioning_error_message}" if code else ""

    @admin.display(description="Create operation")
    def provisioning(self, obj):
        operation = obj.provisioning
        if operation is None:
            return "—"
        next_attempt = (
            f"; next attempt {operation.next_attempt_at:%Y-%m-%d %H:%M:%S}"
            if operation.next_attempt_at
            else ""
        )
        return format_html(
            '<a href="{}">{}</a>, {} attempt(s){}',
            reverse("admin:core_operation_change", args=[operation.pk]),
            operation,
            operation.attempts,
            next_attempt,
        )


class SubaccountInline(ProvisioningColumns, admin.TabularInline):
    model = Subaccount
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["vendor", "name", "state_badge", "vendor_id", "attempts", "last_error"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="State")
    def state_badge(self, obj):
        return state_badge(obj.state, obj.get_state_display())


@admin.register(Customer)
class CustomerAdmin(ServiceSaveMixin, AuditTrailMixin, BigTableAdmin):
    list_display = [
        "name",
        "reference",
        "partner",
        "contact_email",
        "subaccount_states",
        "created_at",
    ]
    list_filter = [PartnerFilter, "country"]
    search_fields = ["name", "^reference", "contact_email", "partner__name"]
    list_select_related = ["partner"]
    readonly_fields = ["who_to_contact", "timeline", "audit_trail"]
    fieldsets = [
        (
            None,
            {"fields": ["partner", "name", "reference", "contact_name", "contact_email", "country", "notes"]},
        ),
        ("Support and escalation contacts", {"fields": services.SUPPORT_CONTACT_FIELDS}),
        ("Who to contact", {"fields": ["who_to_contact"]}),
        ("Timeline", {"fields": ["timeline"]}),
        ("History", {"fields": ["audit_trail"], "classes": ["collapse"]}),
    ]
    inlines = [SubaccountInline]
    actions = ["create_digicert_subaccount", "create_cloudflare_subaccount"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("subaccounts")

    @admin.display(description="Who to contact")
    def who_to_contact(self, obj):
        if obj is None or obj.pk is None:
            return "Save the customer to see who to contact."
        return format_html_join(
            "",
            "<div style='margin-bottom:.4em'><strong>{}</strong>: {}{}</div>",
            (
                (line.role, line.text, format_html(" <em style='color:#57606a'>({})</em>", line.source))
                for line in who_to_contact(obj)
            ),
        )

    @admin.display(description="Timeline")
    def timeline(self, obj):
        """The dashboard's customer timeline, read-only (staff see every entry)."""
        from django.template.loader import render_to_string

        from core.actor import Actor, Face
        from partner.dashboard_timeline import customer_timeline

        if obj is None or obj.pk is None:
            return "—"
        entries = customer_timeline(Actor.system(Face.ADMIN), obj)
        return render_to_string("admin/partner/customer/_timeline.html", {"entries": entries})

    @admin.display(description="Subaccounts")
    def subaccount_states(self, obj):
        subs = list(obj.subaccounts.all())
        if not subs:
            return "—"
        return format_html_join(
            " ",
            "{}",
            ((state_badge(s.state, f"{s.get_vendor_display()}: {s.get_state_display()}"),) for s in subs),
        )

    def _create(self, request, queryset, vendor):
        run_per_row(
            self,
            request,
            queryset,
            lambda actor, customer: services.request_subaccount(actor, customer, vendor),
            success=f"{{count}} {Vendor(vendor).label} subaccount(s) requested; they are created in the background.",
        )

    @admin.action(description="Create DigiCert subaccount at vendor", permissions=["provision"])
    def create_digicert_subaccount(self, request, queryset):
        self._create(request, queryset, Vendor.DIGICERT)

    @admin.action(description="Create Cloudflare account at vendor", permissions=["provision"])
    def create_cloudflare_subaccount(self, request, queryset):
        self._create(request, queryset, Vendor.CLOUDFLARE)

    def has_provision_permission(self, request):
        return request.user.has_perm("partner.provision_subaccount")

    def save_via_service(self, request, obj, form, change):
        actor = admin_actor(request)
        data = {f: form.cleaned_data[f] for f in services.CUSTOMER_FIELDS if f in form.cleaned_data}
        if change:
            services.update_customer(actor, Customer.objects.get(pk=obj.pk), **data)
        else:
            created = services.create_customer(actor, form.cleaned_data["partner"], **data)
            obj.pk = created.pk


class MembershipAdminForm(forms.ModelForm):
    """A member is limited (to the customers listed, possibly none) or sees every customer; the
    listed customers are the member's partner's."""

    class Meta:
        model = Membership
        fields = ["user", "partner", "role", "limited_to_customers", "customers"]

    def clean(self):
        data = super().clean()
        customers = list(data.get("customers") or ())
        if customers and not data.get("limited_to_customers"):
            self.add_error(
                "customers",
                "A member who is not limited sees every customer: untick these, or tick “limited”.",
            )
        partner = data.get("partner")
        if partner is not None and any(c.partner_id != partner.pk for c in customers):
            self.add_error("customers", f"Choose among {partner}'s customers.")
        return data


@admin.register(Membership)
class MembershipAdmin(BigTableAdmin):
    form = MembershipAdminForm
    list_display = ["user", "partner", "role", "limited_to_customers", "created_at"]
    list_filter = ["role", PartnerFilter, "limited_to_customers"]
    search_fields = ["user__username", "user__email", "partner__name"]
    autocomplete_fields = ["user", "partner"]
    filter_horizontal = ["customers"]
    list_select_related = ["user", "partner"]


class SubaccountRequestForm(forms.Form):
    customer = forms.ModelChoiceField(queryset=Customer.objects.select_related("partner"))
    vendor = forms.ChoiceField(choices=Vendor.choices)
    name = forms.CharField(
        required=False,
        max_length=100,
        help_text="Leave empty to use the partner's naming convention.",
    )


@admin.register(Subaccount)
class SubaccountAdmin(ProvisioningColumns, AuditTrailMixin, BigTableAdmin):
    list_display = [
        "name",
        "vendor",
        "customer",
        "partner",
        "state_badge",
        "vendor_id",
        "attempts",
        "last_error",
        "created_at",
    ]
    list_filter = ["state", "vendor", PartnerFilter]
    search_fields = ["name", "^vendor_id", "customer__name", "partner__name", "^reference"]
    list_select_related = ["customer", "partner"]
    readonly_fields = [
        "partner",
        "customer",
        "vendor",
        "name",
        "reference",
        "state_badge",
        "vendor_id",
        "masked_api_key",
        "provisioning",
        "last_error",
        "activated_at",
        "auto_renew_setting",
        "settings_read_at",
        "vendor_response",
        "created_at",
        "audit_trail",
    ]
    fields = readonly_fields
    actions = ["retry_failed"]

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj):
        return state_badge(obj.state, obj.get_state_display())

    @admin.display(description="API key")
    def masked_api_key(self, obj):
        return obj.api_key.masked if obj.api_key else "—"

    @admin.action(description="Retry failed subaccounts", permissions=["retry"])
    def retry_failed(self, request, queryset):
        run_per_row(
            self,
            request,
            queryset,
            services.retry_subaccount,
            success="{count} subaccount(s) queued for another attempt.",
        )

    def has_retry_permission(self, request):
        return request.user.has_perm("partner.retry_subaccount")

    def has_add_permission(self, request):
        return request.user.has_perm("partner.provision_subaccount")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "<int:pk>/retry/",
                self.admin_site.admin_view(self.retry_view),
                name="partner_subaccount_retry",
            ),
            path(
                "<int:pk>/retry-operation/",
                self.admin_site.admin_view(self.retry_operation_view),
                name="partner_subaccount_retry_operation",
            ),
            path(
                "<int:pk>/link/",
                self.admin_site.admin_view(self.decide_view),
                {"decision": "link"},
                name="partner_subaccount_link",
            ),
            path(
                "<int:pk>/confirm-create/",
                self.admin_site.admin_view(self.decide_view),
                {"decision": "create"},
                name="partner_subaccount_confirm_create",
            ),
            *super().get_urls(),
        ]

    def decide_view(self, request, pk, decision):
        """A DigiCert subaccount whose create answer was lost: link the id found in CertCentral, or
        confirm that it is not there and create it (partner.services)."""
        url = reverse("admin:partner_subaccount_change", args=[pk])
        if request.method != "POST" or not self.has_retry_permission(request):
            return HttpResponseRedirect(url)
        subaccount = Subaccount.objects.get(pk=pk)
        try:
            if decision == "link":
                services.link_digicert_subaccount(
                    admin_actor(request), subaccount, request.POST.get("account_id")
                )
                self.message_user(request, "Linked; the back office's key is being minted.", messages.SUCCESS)
            else:
                services.confirm_fresh_create(admin_actor(request), subaccount)
                self.message_user(request, "Creating it at DigiCert.", messages.SUCCESS)
        except DomainError as error:
            fields = " ".join(f"{k}: {v}" for k, v in getattr(error, "fields", {}).items())
            self.message_user(request, f"{error.message} {fields} [{error.code}]", messages.ERROR)
        return HttpResponseRedirect(url)

    def retry_view(self, request, pk):
        if request.method != "POST" or not self.has_retry_permission(request):
            return HttpResponseRedirect(reverse("admin:partner_subaccount_change", args=[pk]))
        try:
            services.retry_subaccount(admin_actor(request), Subaccount.objects.get(pk=pk))
            self.message_user(request, "Queued for another attempt.", messages.SUCCESS)
        except DomainError as error:
            self.message_user(request, f"{error.message} [{error.code}]", messages.ERROR)
        return HttpResponseRedirect(reverse("admin:partner_subaccount_change", args=[pk]))

    def retry_operation_view(self, request, pk):
        url = reverse("admin:partner_subaccount_change", args=[pk])
        if request.method != "POST" or not self.has_retry_permission(request):
            return HttpResponseRedirect(url)
        try:
            services.retry_subaccount_operation(admin_actor(request), Subaccount.objects.get(pk=pk))
            self.message_user(request, "Queued for another attempt.", messages.SUCCESS)
        except DomainError as error:
            self.message_user(request, f"{error.message} [{error.code}]", messages.ERROR)
        return HttpResponseRedirect(url)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "show_retry": self.has_retry_permission(request)}
        obj = self.get_object(request, object_id)
        extra_context["failed_operation"] = obj and services.failed_subaccount_operation(obj)
        extra_context["is_failed"] = obj is not None and obj.state == SubaccountState.FAILED
        awaiting = obj is not None and obj.awaiting_decision
        extra_context["awaiting_decision"] = awaiting
        extra_context["is_in_flight"] = (
            obj is not None
            and obj.state in (SubaccountState.PENDING, SubaccountState.UNKNOWN)
            and not awaiting
        )
        return super().change_view(request, object_id, form_url, extra_context)

    def add_view(self, request, form_url="", extra_context=None):
        """Creating a subaccount is a service call (rules, then a background vendor call)."""
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:partner_subaccount_changelist"))
        form = SubaccountRequestForm(request.POST or None, initial=request.GET.dict())
        if request.method == "POST" and form.is_valid():
            try:
                subaccount = services.request_subaccount(
                    admin_actor(request),
                    form.cleaned_data["customer"],
                    form.cleaned_data["vendor"],
                    form.cleaned_data["name"],
                )
            except DomainError as error:
                show_domain_error(form, error, with_code=True)
            else:
                self.message_user(
                    request,
                    f"{subaccount} requested; it is being created at the vendor.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:partner_subaccount_change", args=[subaccount.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Create subaccount at vendor",
            "intro": "The subaccount is created at the vendor in the background; its page shows the "
            "progress. The partner's onboarding must be complete and the name must follow its naming "
            "convention.",
            "submit": "Create at vendor",
            "form": form,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/service_form.html", context)
