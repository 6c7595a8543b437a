"""The partner app's dashboard pages: customers, subaccounts, team, API tokens, the organization and
the password pages. Views parse input, call one service and render its answer or refusal (the
member gate and base views are in dashboard.views)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from core import clock
from core.errors import DomainError
from core.models import ApiToken
from core.tokens import issue_api_token, revoke_api_token
from dashboard import registry as dash
from dashboard import views as dashboard_views
from dashboard.views import (
    ActionView,
    CustomerObjectMixin,
    MemberMixin,
    MemberTemplateView,
    ServiceFormView,
    no_store,
    paginate,
)
from partner import billing_model, selectors, services
from partner.access import Can
from partner.contacts import who_to_contact
from partner.dashboard import IN_PROGRESS
from partner.dashboard_timeline import timeline_page
from partner.forms import (
    CustomerForm,
    InviteForm,
    LimitedPasswordResetForm,
    MemberForm,
    PartnerProfileForm,
    SubaccountForm,
    TokenForm,
    VendorCredentialsForm,
    role_description,
)
from partner.models import Membership, Role, Subaccount, Vendor
from partner.onboarding import onboarding_checklist

# --- Customers ----------------------------------------------------------------------------------

CUSTOMER_FILTERS = [
    ("", "All customers"),
    ("attention", "Needs attention"),
    ("no_subaccount", "No subaccount yet"),
    ("digicert", "With a DigiCert subaccount"),
    ("cloudflare", "With a Cloudflare account"),
]
CUSTOMER_ORDERINGS = {"name": ("name", "id"), "newest": ("-created_at", "-id")}


class CustomerListView(MemberTemplateView):
    template_name = "dashboard/customers/list.html"
    nav = "customers"
    title = "Customers"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        params = self.request.GET
        customers = selectors.search_customers(
            self.actor, q=params.get("q", "").strip(), status=params.get("status", "")
        ).order_by(*CUSTOMER_ORDERINGS.get(params.get("order", ""), CUSTOMER_ORDERINGS["name"]))
        customers = customers.prefetch_related(
            Prefetch("subaccounts", queryset=Subaccount.objects.order_by("vendor"))
        )
        page, query = paginate(self.request, customers)
        rows = list(page.object_list)
        summaries: dict[int, list[str]] = {}
        for source in dash.registry.customer_summaries:
            for customer_id, facts in source(self.actor, [c.pk for c in rows]).items():
                summaries.setdefault(customer_id, []).extend(facts)
        context.update(
            page=page,
            query=query,
            rows=[(customer, summaries.get(customer.pk, [])) for customer in rows],
            q=params.get("q", ""),
            status=params.get("status", ""),
            order=params.get("order", "name"),
            filters=CUSTOMER_FILTERS,
            export_query=urlencode({k: params[k] for k in ("q", "status") if params.get(k)}),
        )
        return context


class CustomerCreateView(ServiceFormView):
    template_name = "dashboard/customers/form.html"
    form_class = CustomerForm
    capability = Can.MANAGE_CUSTOMERS
    nav = "customers"
    title = "Add a customer"

    def perform(self, form):
        return services.create_customer(self.actor, self.partner, **form.cleaned_values())

    def done(self, customer):
        messages.success(self.request, f"{customer} added. Next: create its vendor subaccounts.")
        return redirect("dashboard:customer", pk=customer.pk)


class CustomerEditView(CustomerObjectMixin, ServiceFormView):
    template_name = "dashboard/customers/form.html"
    form_class = CustomerForm
    capability = Can.MANAGE_CUSTOMERS
    nav = "customers"
    title = "Edit customer"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "instance": self.get_customer()}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        customer = self.get_customer()
        context.update(customer=customer, can_delete=not customer.subaccounts.exists())
        return context

    def perform(self, form):
        return services.update_customer(self.actor, self.get_customer(), **form.cleaned_values())

    def done(self, customer):
        messages.success(self.request, f"{customer} saved.")
        return redirect("dashboard:customer", pk=customer.pk)


class CustomerDeleteView(CustomerObjectMixin, ActionView):
    capability = Can.MANAGE_CUSTOMERS

    def get_target(self):
        return self.get_customer()

    def post(self, request, *args, **kwargs):
        customer = self.get_target()
        try:
            services.delete_customer(self.actor, customer)
        except DomainError as error:
            dashboard_views.flash_domain_error(request, error)
            return redirect("dashboard:customer", pk=customer.pk)
        messages.success(request, f"{customer} deleted.")
        return redirect("dashboard:customers")


class CustomerDetailView(CustomerObjectMixin, MemberTemplateView):
    template_name = "dashboard/customers/detail.html"
    nav = "customers"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        customer = self.get_customer()
        sections = [
            {"section": section, **section.context(self.actor, customer)}
            for section in dash.registry.customer_sections
        ]
        history = timeline_page(self.actor, customer, self.request.GET.get("history"))
        context.update(
            customer=customer,
            page_title=customer.name,
            sections=sections,
            timeline=history.entries,
            history=history,
            timeline_all=history.number == 0,
            now=clock.now(),
        )
        return context


# --- Subaccounts --------------------------------------------------------------------------------


class SubaccountCreateView(CustomerObjectMixin, ServiceFormView):
    template_name = "dashboard/customers/subaccount_form.html"
    form_class = SubaccountForm
    capability = Can.MANAGE_SUBACCOUNTS
    nav = "customers"
    title = "Create a subaccount"

    def vendors_without_subaccount(self) -> list[str]:
        if not hasattr(self, "_vendors"):
            present = set(self.get_customer().subaccounts.values_list("vendor", flat=True))
            self._vendors = [v for v in Vendor.values if v not in present]
        return self._vendors

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "vendors": self.vendors_without_subaccount()}

    def get_initial(self):
        vendor = self.request.GET.get("vendor")
        return {"vendor": vendor} if vendor in Vendor.values else {}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        customer = self.get_customer()
        checklist = onboarding_checklist(self.partner)
        context.update(
            customer=customer,
            missing=[item for item in checklist if not item.done],
            suggestions=[
                (Vendor(v).label, self.partner.suggest_subaccount_name(customer, v))
                for v in self.vendors_without_subaccount()
            ],
        )
        return context

    def perform(self, form):
        return services.request_subaccount(
            self.actor, self.get_customer(), form.cleaned_data["vendor"], form.cleaned_data["name"]
        )

    def done(self, subaccount):
        messages.success(
            self.request, f"{subaccount.get_vendor_display()} subaccount {subaccount.name} requested."
        )
        return redirect(reverse("dashboard:customer", args=[subaccount.customer_id]) + "#subaccounts")


class SubaccountMixin:
    def get_subaccount(self) -> Subaccount:
        return selectors.get_or_404(selectors.subaccounts_for(self.actor), pk=self.kwargs["pk"])


class SubaccountRetryView(SubaccountMixin, ActionView):
    capability = Can.RETRY_SUBACCOUNTS

    def get_target(self):
        return self.get_subaccount()

    def perform(self, subaccount):
        services.retry_subaccount(self.actor, subaccount)
        return f"{subaccount} is queued again; the next attempt looks it up at the vendor first."

    def next_url(self, subaccount):
        return reverse("dashboard:customer", args=[subaccount.customer_id]) + "#subaccounts"


class SubaccountProgressView(SubaccountMixin, MemberMixin, View):
    """The live part of a pending subaccount (htmx polls it); once it settles, the page reloads."""

    def get(self, request, *args, **kwargs):
        subaccount = self.get_subaccount()
        if not request.htmx:
            return redirect(reverse("dashboard:customer", args=[subaccount.customer_id]) + "#subaccounts")
        response = render(
            request,
            "dashboard/partials/subaccount_progress.html",
            {"subaccount": subaccount, "in_progress": IN_PROGRESS},
        )
        if subaccount.state not in IN_PROGRESS:
            response["HX-Refresh"] = "true"
        return response


# --- Team ---------------------------------------------------------------------------------------


class TeamView(MemberTemplateView):
    template_name = "dashboard/team/list.html"
    nav = "team"
    title = "Team"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(
            members=list(selectors.members_for(self.actor, self.partner)),
            roles=[(label, role_description(value)) for value, label in Role.choices],
        )
        return context


class MemberObjectMixin:
    def get_member(self) -> Membership:
        if not hasattr(self, "_member"):
            self._member = selectors.get_or_404(
                selectors.members_for(self.actor, self.partner), pk=self.kwargs["pk"]
            )
        return self._member


class InviteView(ServiceFormView):
    template_name = "dashboard/team/form.html"
    form_class = InviteForm
    capability = Can.MANAGE_MEMBERS
    nav = "team"
    title = "Invite a member"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "partner": self.partner}

    def get_initial(self):
        return {"role": Role.VIEWER}

    def perform(self, form):
        data = form.cleaned_data
        return services.invite_member(
            self.actor,
            self.partner,
            email=data["email"],
            role=data["role"],
            first_name=data["first_name"],
            last_name=data["last_name"],
            customers=data["customers"],
        )

    def done(self, membership):
        messages.success(
            self.request,
            f"Invitation sent to {membership.user.email}: the e-mail has a link to choose a password.",
        )
        return redirect("dashboard:team")


class MemberEditView(MemberObjectMixin, ServiceFormView):
    template_name = "dashboard/team/form.html"
    form_class = MemberForm
    capability = Can.MANAGE_MEMBERS
    nav = "team"
    title = "Edit member"

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "partner": self.partner}

    def get_initial(self):
        member = self.get_member()
        return {
            "role": member.role,
            "customers": list(member.customers.all()),
            "limited_to_customers": member.limited_to_customers,  # a limit never widens by saving
        }

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "member": self.get_member()}

    def perform(self, form):
        return services.update_member(
            self.actor,
            self.get_member(),
            role=form.cleaned_data["role"],
            customers=form.cleaned_data["customers"],
        )

    def done(self, membership):
        messages.success(self.request, f"{membership.user.get_full_name() or membership.user.email} updated.")
        return redirect("dashboard:team")


class MemberRemoveView(MemberObjectMixin, ActionView):
    capability = Can.MANAGE_MEMBERS

    def get_target(self):
        return self.get_member()

    def perform(self, membership):
        services.remove_member(self.actor, membership)
        return f"{membership.user.email} removed; their sign-in and API tokens no longer work."

    def next_url(self, membership):
        return reverse("dashboard:team")


class MemberResendView(MemberObjectMixin, ActionView):
    capability = Can.MANAGE_MEMBERS

    def get_target(self):
        return self.get_member()

    def perform(self, membership):
        services.resend_invitation(self.actor, membership)
        return f"Invitation sent again to {membership.user.email}."

    def next_url(self, membership):
        return reverse("dashboard:team")


# --- API tokens (each member's own) -------------------------------------------------------------


class TokenListView(ServiceFormView):
    template_name = "dashboard/account/tokens.html"
    form_class = TokenForm
    nav = "tokens"
    title = "API tokens"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["tokens"] = list(selectors.api_tokens_of(self.actor))
        context["now"] = timezone.now()
        return context

    def perform(self, form):
        days = form.cleaned_data.get("expires_in")
        expires_at = timezone.now() + timedelta(days=int(days)) if days else None
        return issue_api_token(
            self.actor, self.request.user, form.cleaned_data["name"], expires_at=expires_at
        )

    def done(self, result):
        token, key = result
        context = {**self.base_context(), "token": token, "key": key, "page_title": "API token created"}
        messages.success(self.request, f"Token “{token.name}” created.")
        return no_store(render(self.request, "dashboard/account/token_created.html", context))


class TokenRevokeView(ActionView):
    def get_target(self):
        return selectors.get_or_404(selectors.api_tokens_of(self.actor), pk=self.kwargs["pk"])

    def perform(self, token: ApiToken):
        revoke_api_token(self.actor, token)
        return f"Token “{token.name}” revoked: scripts using it are refused from now on."

    def next_url(self, token):
        return reverse("dashboard:tokens")


# --- Organization -------------------------------------------------------------------------------


class OrganizationView(MemberTemplateView):
    template_name = "dashboard/organization/detail.html"
    nav = "organization"
    title = "Organization"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        checklist = onboarding_checklist(self.partner)
        context.update(
            checklist=checklist,
            onboarding_done=all(item.done for item in checklist),
            has_digicert=bool(self.partner.digicert_api_key),
            has_cloudflare=bool(self.partner.cloudflare_api_token),
            billing_model_effect=billing_model.effect(self.partner),
            billing_model_at_digicert=billing_model.AT_DIGICERT,
            contacts=who_to_contact(partner=self.partner),
        )
        return context


class OrganizationEditView(ServiceFormView):
    template_name = "dashboard/organization/form.html"
    form_class = PartnerProfileForm
    capability = Can.MANAGE_PARTNER
    nav = "organization"
    title = "Edit organization"

    def get_form_kwargs(self):
        locked = self.partner.subaccounts.exists()
        return {**super().get_form_kwargs(), "instance": self.partner, "locked": locked}

    def perform(self, form):
        changes = form.changes()
        if not changes:
            return self.partner
        partner = type(self.partner).objects.get(pk=self.partner.pk)
        return services.update_partner_profile(self.actor, partner, **changes)

    def done(self, partner):
        messages.success(self.request, "Organization saved.")
        return redirect("dashboard:organization")


class CredentialsEditView(ServiceFormView):
    template_name = "dashboard/organization/credentials.html"
    form_class = VendorCredentialsForm
    capability = Can.MANAGE_PARTNER
    nav = "organization"
    title = "Vendor credentials"

    def perform(self, form):
        return services.set_vendor_credentials(
            self.actor,
            self.partner,
            digicert_api_key=form.cleaned_data["digicert_api_key"] or None,
            cloudflare_api_token=form.cleaned_data["cloudflare_api_token"] or None,
        )

    def done(self, partner):
        messages.success(self.request, "Vendor credentials stored (encrypted; never shown again).")
        return redirect("dashboard:organization")


# --- Sign-in pages ------------------------------------------------------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset page with the dashboard's e-mail, sending a limited number per address and
    per account (LimitedPasswordResetForm); past the limit the answer looks the same."""

    form_class = LimitedPasswordResetForm
    email_template_name = "emails/password_reset.txt"
    subject_template_name = "emails/password_reset_subject.txt"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Choosing the new password signs the user in: through Django's model backend (django-axes'
    backend, listed first, only watches sign-ins); the new password also revokes their API tokens."""

    post_reset_login = True
    post_reset_login_backend = "django.contrib.auth.backends.ModelBackend"
