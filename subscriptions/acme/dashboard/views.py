"""The reseller dashboard's ACME pages: the subscriptions list, ordering, a contract's page with
its live vendor operation, credentials revealed once, ending or renewal, SANs, drift and retry.
Each action calls one service of subscriptions.acme.services and renders its answer or refusal."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from core import audit, clock, operations
from core.errors import DomainError, ValidationFailed
from core.models import OperationState
from dashboard import views as dash
from dashboard.views import (
    ActionView,
    CustomerObjectMixin,
    MemberMixin,
    MemberTemplateView,
    ServiceFormView,
    no_store,
    paginate,
)
from partner import selectors as partner_selectors
from partner.access import Can, can
from partner.models import Vendor
from subscriptions import selectors
from subscriptions.acme import certificates
from subscriptions.acme import rules as acme_rules
from subscriptions.acme import selectors as acme_selectors
from subscriptions.acme import services as acme
from subscriptions.acme.dashboard import selectors as dashboard_selectors
from subscriptions.acme.dashboard.parts import ENDS_WITHIN, certificate_search
from subscriptions.acme.forms import PRODUCT_HELP, OrderForm, RegenerateForm, SansForm
from subscriptions.acme.models import AcmeContract, AcmeProduct, ContractState
from subscriptions.forms import reason_of

STATE_FILTERS = [("", "Any state"), *ContractState.choices]
RENEWAL_FILTERS = [
    ("", "Any renewal"),
    ("on", "Renews"),
    ("off", "Does not renew"),
    ("drift", "Drift with DigiCert"),
]
PUSHABLE = set(acme_rules.PUSHABLE_FIELDS)
CONTRACT_CERTIFICATES_SHOWN = 20


class SubscriptionListView(MemberTemplateView):
    template_name = "dashboard/acme/list.html"
    nav = "subscriptions"
    title = "Subscriptions"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        params, now = self.request.GET, clock.now()
        ends = ENDS_WITHIN.get(params.get("ends", ""))
        contracts = dashboard_selectors.search_contracts(
            self.actor,
            q=params.get("q", "").strip(),
            state=params.get("state", ""),
            product=params.get("product", ""),
            renewal=params.get("renewal", ""),
            ends_before=now + timedelta(days=ends) if ends else None,
        )
        page, query = paginate(self.request, contracts)
        rows = list(page.object_list)
        latest = operations.latest_by_target(rows)
        context.update(
            page=page,
            query=query,
            rows=[(c, latest.get(c.pk)) for c in rows],
            now=now,
            filters={k: params.get(k, "") for k in ("q", "state", "product", "renewal", "ends")},
            state_filters=STATE_FILTERS,
            product_filters=[("", "Any product"), *AcmeProduct.choices],
            renewal_filters=RENEWAL_FILTERS,
            export_query=query,
        )
        return context


class OrderView(CustomerObjectMixin, ServiceFormView):
    template_name = "dashboard/acme/order.html"
    form_class = OrderForm
    capability = Can.MANAGE_SERVICES
    nav = "subscriptions"
    title = "Order an ACME subscription"

    def get_form_kwargs(self):
        subaccount = self.vendor_subaccount(Vendor.DIGICERT)
        setting = subaccount.auto_renew_setting if subaccount else None
        return {**super().get_form_kwargs(), "account_setting": setting}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        subaccount = self.vendor_subaccount(Vendor.DIGICERT)
        context.update(
            customer=self.get_customer(),
            subaccount=subaccount,
            ready=partner_selectors.subaccount_ready(subaccount),
            product_help=PRODUCT_HELP,
        )
        return context

    def perform(self, form):
        return acme.order_acme_contract(
            self.actor,
            self.get_customer(),
            product=form.cleaned_data["product"],
            sans=form.cleaned_data["sans"],
            auto_renew=form.auto_renew(),
            organization=form.organization(),
            **reason_of(form),
        )

    def done(self, contract):
        messages.success(self.request, "Order sent to DigiCert. This page follows its progress.")
        return redirect("dashboard:acme", pk=contract.pk)


def progress_context(operation, *, progress_url: str, retry_url: str, vendor: str) -> dict:
    """What the operation progress part needs (see dashboard/partials/operation_progress.html)."""
    return {"operation": operation, "progress_url": progress_url, "retry_url": retry_url, "vendor": vendor}


def progress_response(request, context: dict, page_url: str):
    """The progress part for htmx; once the operation has ended, tell htmx to reload the whole page
    (which then shows the outcome). Without htmx, the page itself."""
    if not request.htmx:
        return redirect(page_url)
    response = render(request, "dashboard/partials/operation_progress.html", context)
    operation = context["operation"]
    if operation is None or operation.state != OperationState.PENDING:
        response["HX-Refresh"] = "true"
    return response


class ContractMixin:
    """The contract of the URL, from the actor's scoped contracts (anyone else's is 404)."""

    def get_contract(self) -> AcmeContract:
        if not hasattr(self, "_contract"):
            self._contract = partner_selectors.get_or_404(
                acme_selectors.acme_contracts_for(self.actor), pk=self.kwargs["pk"]
            )
        return self._contract

    def contract_url(self, contract, anchor: str = "") -> str:
        return reverse("dashboard:acme", args=[contract.pk]) + (f"#{anchor}" if anchor else "")

    def progress(self, contract, operation) -> dict:
        can_retry = can(self.actor, Can.MANAGE_SERVICES)
        return progress_context(
            operation,
            progress_url=reverse("dashboard:acme-progress", args=[contract.pk]),
            retry_url=reverse("dashboard:acme-retry", args=[contract.pk]) if can_retry else "",
            vendor="DigiCert",
        )


def ending_today(contract: AcmeContract, now) -> dict:
    """What the page says about ending the contract today: the options, and when cancelling closed."""
    options = acme.options_today(contract)
    closes = contract.cancel_window_closes_at
    return {
        "options": options,
        "actions": {option.action for option in options},
        "cancel_closed_on": closes
        if closes and now > closes and contract.state in (ContractState.ACTIVE, ContractState.RENEWAL_STOPPED)
        else None,
    }


class ContractDetailView(ContractMixin, MemberTemplateView):
    template_name = "dashboard/acme/detail.html"
    nav = "subscriptions"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        contract, now = self.get_contract(), clock.now()
        history = list(selectors.operations_of(contract)[:10])
        operation = history[0] if history else None
        context.update(
            contract=contract,
            page_title=str(contract),
            now=now,
            **self.progress(contract, operation),
            busy=operation is not None and operation.state == OperationState.PENDING,
            history=history,
            timeline=audit.events_for(contract)[:30],
            drift=[
                {
                    "field": field,
                    "ours": values["ours"],
                    "vendor": values["vendor"],
                    "pushable": field in PUSHABLE,
                }
                for field, values in sorted(contract.drift.items())
            ],
            sans_form=SansForm(),
            certificates=list(
                acme_selectors.certificates_for(self.actor)
                .filter(contract=contract)
                .order_by("expires_at", "id")[:CONTRACT_CERTIFICATES_SHOWN]
            ),
            certificate_warning_until=acme_selectors.expiry_warning_until(now),
            live=contract.state in (ContractState.ACTIVE, ContractState.RENEWAL_STOPPED),
            **ending_today(contract, now),
        )
        return context


class ContractProgressView(ContractMixin, MemberMixin, View):
    """The live part of a contract's pending operation (htmx polls it); once it ends, the page reloads."""

    def get(self, request, *args, **kwargs):
        contract = self.get_contract()
        operation = selectors.operations_of(contract).first()
        return progress_response(request, self.progress(contract, operation), self.contract_url(contract))


class RevealView(ContractMixin, MemberMixin, View):
    """Show the EAB credentials once, with ready-to-paste client configuration; never twice."""

    capability = Can.REVEAL_SECRETS
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        contract = self.get_contract()
        try:
            revealed = acme.reveal_credentials(self.actor, contract)
        except DomainError as error:
            dash.flash_domain_error(request, error)
            return redirect(self.contract_url(contract, "credentials"))
        context = {
            **self.base_context(),
            "contract": contract,
            "revealed": revealed,
            "page_title": "ACME credentials",
            "nav_active": "subscriptions",
        }
        return no_store(render(request, "dashboard/acme/credentials.html", context))


# (service, page heading, button, success message)
ENDINGS = {
    "cancel": (
        acme.cancel_acme_contract,
        "Cancel the subscription",
        "Cancel the subscription",
        "Cancellation sent to DigiCert.",
    ),
    "stop_renewal": (acme.stop_renewal, "Stop renewal", "Stop renewal", "Stopping renewal at DigiCert."),
    "resume_renewal": (
        acme.resume_renewal,
        "Resume renewal",
        "Resume renewal",
        "Resuming renewal at DigiCert.",
    ),
}


class EndingView(ContractMixin, MemberTemplateView):
    """Confirm, then cancel / stop renewal / resume renewal; the page says whether it applies today."""

    template_name = "dashboard/acme/ending.html"
    capability = Can.MANAGE_SERVICES
    nav = "subscriptions"
    action = ""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        contract, now = self.get_contract(), clock.now()
        today = ending_today(contract, now)
        _, heading, button, _ = ENDINGS[self.action]
        context.update(
            contract=contract,
            action=self.action,
            heading=heading,
            button=button,
            page_title=heading,
            option=next((o for o in today["options"] if o.action == self.action), None),
            **today,
        )
        return context

    def post(self, request, *args, **kwargs):
        contract = self.get_contract()
        service, _, _, success = ENDINGS[self.action]
        try:
            service(self.actor, contract)
        except DomainError as error:
            context = self.get_context_data(**kwargs)
            context["error"] = error
            return self.render_to_response(context, status=409 if error.http_status == 409 else 400)
        messages.success(request, success)
        return redirect(self.contract_url(contract))


class RegenerateView(ContractMixin, ServiceFormView):
    template_name = "dashboard/acme/regenerate.html"
    form_class = RegenerateForm
    capability = Can.MANAGE_SERVICES
    nav = "subscriptions"
    title = "Regenerate credentials"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "contract": self.get_contract()}

    def perform(self, form):
        return acme.regenerate_credentials(
            self.actor, self.get_contract(), revoke_existing=form.cleaned_data["revoke_existing"]
        )

    def done(self, contract):
        messages.success(
            self.request, "New credentials requested from DigiCert; reveal them once they arrive."
        )
        return redirect(self.contract_url(contract))


class ContractActionView(ContractMixin, ActionView):
    capability = Can.MANAGE_SERVICES
    anchor = ""

    def get_target(self):
        return self.get_contract()

    def next_url(self, contract):
        return self.contract_url(contract, self.anchor)


class SansAddView(ContractActionView):
    anchor = "domains"

    def perform(self, contract):
        form = SansForm(self.request.POST)
        if not form.is_valid():
            raise ValidationFailed("Give at least one domain name.")
        acme.add_sans(self.actor, contract, form.cleaned_data["sans"])
        return "Adding the domain names at DigiCert."


class SansRemoveView(ContractActionView):
    anchor = "domains"

    def perform(self, contract):
        name = self.request.POST.get("san", "")
        acme.remove_sans(self.actor, contract, [name])
        return f"Removing {name} at DigiCert."


class SyncView(ContractActionView):
    anchor = "vendor"

    def perform(self, contract):
        acme.sync_acme_contract(self.actor, contract)
        return "Reading the contract from DigiCert."


class DriftView(ContractActionView):
    anchor = "vendor"

    def perform(self, contract):
        field, keep = self.request.POST.get("field", ""), self.request.POST.get("keep", "")
        acme.resolve_drift(self.actor, contract, field, keep=keep)
        return f"Accepted DigiCert's {field}." if keep == "vendor" else f"Sending our {field} to DigiCert."


class RetryView(ContractActionView):
    def perform(self, contract):
        operation = acme.retry_last_operation(self.actor, contract)
        return f"{operation.label} is queued again."


class CertificatesRefreshView(ContractActionView):
    anchor = "certificates"

    def perform(self, contract):
        certificates.refresh_certificates(self.actor, contract)
        return "Reading the contract's certificates from DigiCert."


# --- Certificate inventory ----------------------------------------------------------------------


class CertificateListView(MemberTemplateView):
    """Every certificate DigiCert issued under the actor's contracts; a filter on a customer or
    contract the actor cannot see is "not found"."""

    template_name = "dashboard/certificates/list.html"
    nav = "certificates"
    title = "Certificates"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        params, now = self.request.GET, clock.now()
        customer = contract = None
        if params.get("customer"):
            customer = partner_selectors.get_or_404(
                partner_selectors.customers_for(self.actor), pk=_pk(params["customer"])
            )
        if params.get("contract"):
            contract = partner_selectors.get_or_404(
                acme_selectors.acme_contracts_for(self.actor), pk=_pk(params["contract"])
            )
        page, query = paginate(self.request, certificate_search(self.actor, params))
        context.update(
            page=page,
            query=query,
            rows=list(page.object_list),
            now=now,
            warning_until=acme_selectors.expiry_warning_until(now),
            warning_days=settings.CERTIFICATE_EXPIRY_WARNING_DAYS,
            filters={k: params.get(k, "") for k in ("q", "expiring", "gone")},
            customer=customer,
            contract=contract,
            export_query=query,
        )
        return context


def _pk(value: str) -> int:
    """A primary key from the query string; anything else matches nothing (a 404, like another's)."""
    return int(value) if value.isdigit() and len(value) < 12 else 0
