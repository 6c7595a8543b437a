"""The ACME contract admin's own pages: one contract's actions, SAN changes, drift, credentials, ordering."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core import clock
from core.admin_tools import admin_actor
from core.errors import DomainError
from core.forms import show_domain_error
from subscriptions.acme import services as acme
from subscriptions.acme.admin.actions import CONFIRMED_ACTIONS, CONTRACT_ACTIONS, AdminOrderForm, SansForm
from subscriptions.acme.models import AcmeContract
from subscriptions.acme.rules import end_options
from subscriptions.forms import reason_of
from subscriptions.selectors import operations_of


class ContractPages:
    """The contract admin's custom pages and its add and change views (mixed into AcmeContractAdmin)."""

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
