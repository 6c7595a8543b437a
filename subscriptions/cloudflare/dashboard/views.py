"""The reseller dashboard's Cloudflare pages: zones and their plans, account add-ons, with the price
before and after every change shown before it is confirmed. Each action calls one service of
subscriptions.cloudflare.services; what was previewed is what is sent."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View

from core import audit, clock
from core import forms as dash
from core.errors import DomainError, RuleViolation
from core.models import OperationState
from dashboard.views import (
    ActionView,
    CustomerObjectMixin,
    MemberMixin,
    MemberTemplateView,
    ServiceFormView,
    paginate,
)
from partner import selectors as partner_selectors
from partner.access import Can, can
from partner.models import Vendor
from subscriptions import selectors
from subscriptions.acme.dashboard.views import progress_context, progress_response
from subscriptions.cloudflare import selectors as cloudflare_selectors
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.dashboard import selectors as dashboard_selectors
from subscriptions.cloudflare.forms import PlanChangeForm, ZoneForm
from subscriptions.cloudflare.models import AddonState, PlanScope, ZoneState
from subscriptions.error_codes import SubscriptionErrorCode
from subscriptions.forms import reason_of

ZONE_ACTIONS = {
    "upgrade": ("Upgrade the plan", "Upgrade", cloudflare.upgrade_zone_plan),
    "change": ("Change components or billing", "Apply the change", cloudflare.change_zone_components),
    "downgrade": ("Downgrade the plan", "Downgrade", cloudflare.downgrade_zone_plan),
}


class RecordMixin:
    """A zone or an add-on of the URL, from the actor's scoped records (anyone else's is 404)."""

    kind = "zone"  # or "addon"

    def get_record(self):
        if not hasattr(self, "_record"):
            records = (
                cloudflare_selectors.cloudflare_zones_for(self.actor)
                if self.kind == "zone"
                else cloudflare_selectors.cloudflare_addons_for(self.actor)
            )
            self._record = partner_selectors.get_or_404(records, pk=self.kwargs["pk"])
        return self._record

    def record_url(self, record, anchor: str = "") -> str:
        return reverse(f"dashboard:{self.kind}", args=[record.pk]) + (f"#{anchor}" if anchor else "")

    def progress(self, record, operation) -> dict:
        return progress_context(
            operation,
            progress_url=reverse(f"dashboard:{self.kind}-progress", args=[record.pk]),
            retry_url=reverse(f"dashboard:{self.kind}-retry", args=[record.pk])
            if can(self.actor, Can.MANAGE_CLOUDFLARE)
            else "",
            vendor="Cloudflare",
        )


def plan_panel(record, catalog) -> dict:
    """The record's plan as the page shows it: catalog name, price per period and month, components."""
    terms = catalog.plans.get(record.rate_plan_id)
    current = cloudflare.current_of(record)
    components = []
    if terms is not None:
        for component in terms.components:
            units = int(record.component_values.get(component.name, component.default))
            components.append(
                {
                    "name": component.name.replace("_", " "),
                    "units": units,
                    "included": component.default,
                    "maximum": component.maximum,
                }
            )
    else:
        components = [
            {"name": name.replace("_", " "), "units": units, "included": None, "maximum": None}
            for name, units in sorted(record.component_values.items())
        ]
    return {
        "plan_name": terms.name if terms else record.rate_plan_id,
        "price": current.vendor_price,
        "components": components,
    }


class RecordDetailView(RecordMixin, MemberTemplateView):
    template_name = "dashboard/cloudflare/detail.html"
    nav = "subscriptions"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        record = self.get_record()
        history = list(selectors.operations_of(record)[:10])
        operation = history[0] if history else None
        catalog = cloudflare_selectors.catalog_of(record.partner)
        context.update(
            record=record,
            kind=self.kind,
            page_title=str(record) if self.kind == "zone" else record.rate_plan_id,
            history=history,
            busy=operation is not None and operation.state == OperationState.PENDING,
            pending=cloudflare.pending_change(operation),
            timeline=audit.events_for(record)[:30],
            active=record.state == (ZoneState.ACTIVE if self.kind == "zone" else AddonState.ACTIVE),
            subscribed=bool(record.subscription_id) if self.kind == "zone" else True,
            **plan_panel(record, catalog),
            **self.progress(record, operation),
        )
        return context


class RecordProgressView(RecordMixin, MemberMixin, View):
    """The live part of a zone's or add-on's pending operation (htmx polls it); once it ends, the page reloads."""

    def get(self, request, *args, **kwargs):
        record = self.get_record()
        operation = selectors.operations_of(record).first()
        return progress_response(request, self.progress(record, operation), self.record_url(record))


class PricedChangeView(MemberTemplateView):
    """Ask for a plan change, show its price before and after, and only then send it.

    POST without `_confirm` (or with values edited since the preview) shows the preview; POST with
    `_confirm` on the previewed values calls the service. A refusal becomes the form's errors, next
    to the preview still shown (a missing "Not billed because" is asked for there).
    Subclasses define `preview(values)`, `perform(values, **reason)`, `done(result)` and `back_url()`.
    """

    template_name = "dashboard/cloudflare/change.html"
    capability = Can.MANAGE_CLOUDFLARE
    nav = "subscriptions"
    heading = ""
    button = ""
    fixed_plan = False
    asks_reason = True  # a change that may cost more: the preview asks why it is not billed

    def plans(self):
        return []

    def initial(self) -> dict:
        return {}

    def form(self, data=None) -> PlanChangeForm:
        return PlanChangeForm(
            data,
            plans=self.plans(),
            fixed_plan=self.fixed_plan,
            asks_reason=self.asks_reason,
            initial=self.initial(),
        )

    def get(self, request, *args, **kwargs):
        return self.render_to_response(self.get_context_data(form=self.form()))

    def post(self, request, *args, **kwargs):
        form = self.form(request.POST)
        planned = None
        if form.is_valid():
            values = form.values()
            refusal = None
            if "_confirm" in request.POST and form.confirmed_as_previewed():
                try:
                    return self.done(self.perform(values, **reason_of(form)))
                except DomainError as error:
                    refusal = error
            try:
                planned = self.preview(values)
            except DomainError as error:
                refusal = refusal or error
            if refusal is not None:
                dash.show_domain_error(form, refusal)
            else:
                if "_confirm" in request.POST:
                    messages.warning(
                        request, "The values changed since the preview: check the new price, then confirm."
                    )
                data = request.POST.copy()
                data["previewed"] = form.signature()
                form = self.form(data)
                form.is_valid()
        return self.render_to_response(self.get_context_data(form=form, planned=planned))

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        planned = context.get("planned")
        priced = planned and (planned.new or planned.current)
        context.update(
            heading=self.heading,
            button=self.button,
            back_url=self.back_url(),
            page_title=self.heading,
            planned_currency=priced.currency if priced else "",
        )
        return context


class ZonePlanView(RecordMixin, PricedChangeView):
    kind = "zone"

    def setup(self, request, *args, **kwargs):
        super().setup(request, *args, **kwargs)
        self.action = kwargs["action"]
        self.heading, self.button, self.service = ZONE_ACTIONS[self.action]
        self.fixed_plan = self.action == "change"
        self.asks_reason = self.action != "downgrade"

    def plans(self):
        zone = self.get_record()
        catalog = cloudflare_selectors.catalog_of(zone.partner)
        sellable = catalog.sellable(PlanScope.ZONE)
        current = catalog.plans.get(zone.rate_plan_id)
        if self.action == "change":
            return [current] if current else []
        others = [p for p in sellable if p.rate_plan_id != zone.rate_plan_id]
        if current is None:
            return others
        if self.action == "upgrade":
            return [p for p in others if p.monthly_price >= current.monthly_price]
        return [p for p in others if p.monthly_price < current.monthly_price]

    def initial(self):
        zone = self.get_record()
        if self.action == "change":
            return {f"component_{name}": units for name, units in zone.component_values.items()}
        return {}

    def preview(self, values):
        return cloudflare.preview_zone_change(self.actor, self.get_record(), self.action, **values)

    def perform(self, values, **reason):
        return self.service(self.actor, self.get_record(), **values, **reason)

    def done(self, zone):
        messages.success(self.request, f"{self.heading} of {zone}: sent to Cloudflare.")
        return redirect(self.record_url(zone))

    def back_url(self):
        return self.record_url(self.get_record())

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "record": self.get_record(), "kind": "zone"}


class AddonBuyView(CustomerObjectMixin, PricedChangeView):
    heading = "Buy an add-on"
    button = "Buy the add-on"

    def plans(self):
        return cloudflare_selectors.catalog_of(self.partner).sellable(PlanScope.ACCOUNT)

    def initial(self):
        return {"frequency": "monthly"}

    def preview(self, values):
        return cloudflare.preview_addon_purchase(self.actor, self.get_customer(), **values)

    def perform(self, values, **reason):
        return cloudflare.add_addon(self.actor, self.get_customer(), **values, **reason)

    def done(self, addon):
        messages.success(self.request, f"{addon.rate_plan_id} ordered at Cloudflare.")
        return redirect("dashboard:addon", pk=addon.pk)

    def back_url(self):
        return reverse("dashboard:customer", args=[self.get_customer().pk]) + "#cloudflare"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "customer": self.get_customer()}


class AddonChangeView(RecordMixin, PricedChangeView):
    kind = "addon"
    heading = "Change the add-on"
    button = "Apply the change"
    fixed_plan = True

    def plans(self):
        plan = cloudflare_selectors.catalog_of(self.partner).plans.get(self.get_record().rate_plan_id)
        return [plan] if plan else []

    def initial(self):
        return {f"component_{name}": units for name, units in self.get_record().component_values.items()}

    def preview(self, values):
        return cloudflare.preview_addon_change(self.actor, self.get_record(), "change", **values)

    def perform(self, values, **reason):
        return cloudflare.change_addon(self.actor, self.get_record(), **values, **reason)

    def done(self, addon):
        messages.success(self.request, "The change is sent to Cloudflare.")
        return redirect(self.record_url(addon))

    def back_url(self):
        return self.record_url(self.get_record())

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "record": self.get_record(), "kind": "addon"}


class AddonCancelView(RecordMixin, MemberTemplateView):
    """Confirm ending an add-on, with what it costs now and from then on."""

    kind = "addon"
    template_name = "dashboard/cloudflare/cancel.html"
    capability = Can.MANAGE_CLOUDFLARE
    nav = "subscriptions"
    title = "Cancel the add-on"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        addon = self.get_record()
        try:
            planned, refusal = cloudflare.preview_addon_change(self.actor, addon, "cancel"), None
        except DomainError as error:
            planned, refusal = None, error
        context.update(record=addon, planned=planned, refusal=refusal)
        return context

    def post(self, request, *args, **kwargs):
        addon = self.get_record()
        try:
            cloudflare.cancel_addon(self.actor, addon)
        except DomainError as error:
            context = self.get_context_data(**kwargs)
            context["error"] = error
            return self.render_to_response(context, status=error.http_status)
        messages.success(request, f"Cancelling {addon.rate_plan_id} at Cloudflare.")
        return redirect(self.record_url(addon))


class ZoneAddView(CustomerObjectMixin, ServiceFormView):
    template_name = "dashboard/cloudflare/zone_form.html"
    form_class = ZoneForm
    capability = Can.MANAGE_CLOUDFLARE
    nav = "subscriptions"
    title = "Add a zone"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        customer = self.get_customer()
        account = self.vendor_subaccount(Vendor.CLOUDFLARE)
        context.update(
            customer=customer,
            account=account,
            ready=partner_selectors.subaccount_ready(account),
        )
        return context

    def perform(self, form):
        return cloudflare.add_zone(self.actor, self.get_customer(), name=form.cleaned_data["name"])

    def done(self, zone):
        messages.success(self.request, f"{zone} is being added to the customer's Cloudflare account.")
        return redirect("dashboard:zone", pk=zone.pk)


class RecordActionView(RecordMixin, ActionView):
    capability = Can.MANAGE_CLOUDFLARE

    def get_target(self):
        return self.get_record()

    def next_url(self, record):
        return self.record_url(record)


class ZoneSyncView(RecordActionView):
    kind = "zone"

    def perform(self, zone):
        cloudflare.sync_zone(self.actor, zone)
        return "Reading the zone and its plan from Cloudflare."


class RecordRetryView(RecordActionView):
    def perform(self, record):
        operation = cloudflare.retry_failed_operation(self.actor, record)
        return f"{operation.label} is queued again."


class AddonsSyncView(CustomerObjectMixin, ActionView):
    capability = Can.MANAGE_CLOUDFLARE

    def get_target(self):
        return self.get_customer()

    def perform(self, customer):
        account = customer.subaccounts.filter(vendor=Vendor.CLOUDFLARE).first()
        if account is None:
            raise RuleViolation(
                f"{customer} has no Cloudflare account yet.", code=SubscriptionErrorCode.SUBACCOUNT_NOT_ACTIVE
            )
        cloudflare.sync_addons(self.actor, account)
        return "Reading the account's add-ons from Cloudflare."

    def next_url(self, customer):
        return reverse("dashboard:customer", args=[customer.pk]) + "#cloudflare"


# --- Lists ------------------------------------------------------------------------------------


class CloudflareListView(MemberTemplateView):
    nav = "subscriptions"
    kind = "zone"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        params = self.request.GET
        filters = {k: params.get(k, "").strip() for k in ("q", "state", "plan")}
        search = (
            dashboard_selectors.search_zones if self.kind == "zone" else dashboard_selectors.search_addons
        )
        page, query = paginate(self.request, search(self.actor, **filters))
        states = ZoneState.choices if self.kind == "zone" else AddonState.choices
        scope = PlanScope.ZONE if self.kind == "zone" else PlanScope.ACCOUNT
        context.update(
            page=page,
            query=query,
            rows=list(page.object_list),
            filters=filters,
            state_filters=[("", "Any state"), *states, ("refused", "Refused by Cloudflare")],
            plan_filters=[("", "Any plan")]
            + [
                (p.rate_plan_id, p.name)
                for p in cloudflare_selectors.catalog_of(self.partner).plans.values()
                if p.scope == scope
            ],
            kind=self.kind,
            now=clock.now(),
        )
        return context


class ZoneListView(CloudflareListView):
    template_name = "dashboard/cloudflare/list.html"
    kind = "zone"
    title = "Cloudflare zones"


class AddonListView(CloudflareListView):
    template_name = "dashboard/cloudflare/list.html"
    kind = "addon"
    title = "Cloudflare add-ons"
