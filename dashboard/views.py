"""The reseller dashboard's kernel views: the member gate, the base views every app's pages use,
the home page that gathers every app's parts, and the CSV exports."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.generic import FormView, TemplateView

from core import clock
from core.actor import Actor, Face
from core.csv_export import csv_response
from core.errors import DomainError, NotFound, PermissionDenied
from core.forms import show_domain_error
from dashboard.charts import chart_geometry, month_starts
from dashboard.registry import attention_items, registry
from partner import selectors
from partner.access import Can, can, require
from partner.models import Customer, Membership, Subaccount

PAGE_SIZE = 25


def no_store(response: HttpResponse) -> HttpResponse:
    """Pages that show a secret once must not be kept by the browser or a proxy."""
    response["Cache-Control"] = "no-store"
    return response


# --- The member gate ----------------------------------------------------------------------------


class MemberMixin:
    """Signed-in reseller members only, acting through the dashboard face.

    Anonymous users go to the sign-in page; staff without a membership are sent to the admin; a
    refusal of the services becomes the matching page: another partner's object (or a customer
    outside the member's limits) is 404, a role without the right is 403 with the reason.
    """

    capability: Can | None = Can.VIEW
    nav = ""
    title = ""

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        membership = Membership.objects.select_related("partner").filter(user=user).first()
        if membership is None:
            if user.is_staff:
                messages.info(
                    request, "Support staff work in the admin; the dashboard is for reseller members."
                )
                return redirect("admin:index")
            return render(request, "dashboard/no_membership.html", status=403)
        user.membership = membership
        self.actor = Actor(user, Face.DASHBOARD)
        self.membership, self.partner = membership, membership.partner
        try:
            if self.capability:
                require(self.actor, self.capability, partner=self.partner)
            return super().dispatch(request, *args, **kwargs)
        except (NotFound, Http404):
            return render(request, "dashboard/404.html", self.base_context(), status=404)
        except PermissionDenied as error:
            context = {**self.base_context(), "reason": error.message}
            return render(request, "dashboard/403.html", context, status=403)

    def base_context(self) -> dict:
        caps = {cap.name.lower(): can(self.actor, cap) for cap in Can}
        nav = [item for item in registry.nav if not item.capability or can(self.actor, Can(item.capability))]
        return {
            "caps": caps,
            "partner": self.partner,
            "membership": self.membership,
            "nav_items": nav,
            "nav_active": self.nav,
            "page_title": self.title,
        }

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(self.base_context())
        return context


class MemberTemplateView(MemberMixin, TemplateView):
    pass


class ServiceFormView(MemberMixin, FormView):
    """A form whose valid input goes to one service; the service's refusal becomes form errors.

    Subclasses define `perform(form)`, which calls the service and returns its result.
    """

    def form_valid(self, form):
        try:
            result = self.perform(form)
        except DomainError as error:
            show_domain_error(form, error)
            return self.form_invalid(form)
        return self.done(result)

    def done(self, result):
        return redirect(self.get_success_url())


class ActionView(MemberMixin, View):
    """A button: POST runs one service, then back to the page with its outcome as a message.

    Subclasses define `get_target()`, `perform(target) -> str` (the success message) and
    `next_url(target) -> str`.
    """

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        target = self.get_target()
        try:
            message = self.perform(target)
        except DomainError as error:
            flash_domain_error(request, error)
        else:
            messages.success(request, message)
        return redirect(self.next_url(target))


def paginate(request, queryset, per_page: int = PAGE_SIZE):
    """The requested page (a bad page number gives the nearest one) and the query string without it."""
    page = Paginator(queryset, per_page).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return page, params.urlencode()


class CustomerObjectMixin:
    """The customer of the URL, from the actor's scoped customers (anyone else's is 404)."""

    def get_customer(self) -> Customer:
        if not hasattr(self, "_customer"):
            self._customer = selectors.get_or_404(selectors.customers_for(self.actor), pk=self.kwargs["pk"])
        return self._customer

    def vendor_subaccount(self, vendor: str) -> Subaccount | None:
        """The customer's subaccount at `vendor` (None before one is requested), read once a request."""
        found = self.__dict__.setdefault("_vendor_subaccounts", {})
        if vendor not in found:
            found[vendor] = self.get_customer().subaccounts.filter(vendor=vendor).first()
        return found[vendor]


# --- Home ---------------------------------------------------------------------------------------


class HomeView(MemberTemplateView):
    template_name = "dashboard/home.html"
    nav = "home"
    title = "Home"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        now = clock.now()
        figures = [figure for _, source in registry.figures for figure in source(self.actor, now)]
        months = month_starts(now.date(), 12)
        charts = [chart_geometry(source(self.actor, months)) for _, source in registry.charts]
        activity = selectors.activity_for(
            self.actor, selectors.customers_for(self.actor), registry.timeline_sources
        )
        context.update(
            now=now,
            attention=attention_items(self.actor, now),
            figures=figures,
            charts=charts,
            activity=activity[:8],
        )
        return context


# --- CSV exports --------------------------------------------------------------------------------


class ExportView(MemberMixin, View):
    """A CSV download of one registered export, honouring the list's search and filters."""

    def get(self, request, key):
        export = registry.exports.get(key)
        if export is None:
            raise Http404
        if export.capability:
            require(self.actor, Can(export.capability), partner=self.partner)
        stamp = clock.now().strftime("%Y%m%d")
        return csv_response(
            f"{self.partner.slug}-{key}-{stamp}.csv", export.header, export.rows(self.actor, request.GET)
        )


def flash_domain_error(request, error: DomainError) -> None:
    """A refusal of a service, shown as a message on the next page."""
    messages.error(request, error.message)
