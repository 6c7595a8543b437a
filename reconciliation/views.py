"""The reseller dashboard's reconciliation pages: the findings with their evidence and actions, one
finding's page, "Run now", and the not-billed marks. Reads go through the scoped selectors; each
button calls one reconciliation service and shows its refusal in place."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from billing.models import Product
from core import audit, clock
from core.errors import RuleViolation, ValidationFailed
from dashboard.views import MemberMixin, MemberTemplateView, paginate
from partner import selectors as partner_selectors
from partner.access import Can, can
from reconciliation import actions, selectors, services
from reconciliation.models import FindingKind

BADGES = {"open": "unknown", "resolved": "active", "dismissed": "off"}
STATE_FILTERS = [("open", "Open"), ("resolved", "Resolved"), ("dismissed", "Dismissed"), ("all", "All")]


def finding_row(finding, *, can_act: bool) -> dict:
    """What a list row and the finding's page show: evidence as a table, the actions that apply."""
    offered = actions.available_actions(finding) if can_act else []
    return {
        "finding": finding,
        "evidence": selectors.evidence_table(finding.evidence),
        "actions": [a for a in offered if a["refusal"] is None],
        "not_applicable": [a for a in offered if a["refusal"] is not None],
        "target_url": target_url(finding.target),
        "badge": BADGES.get(finding.state, finding.state),
    }


def target_url(target) -> str:
    """The dashboard page of the vendor object a finding concerns."""
    if target is None:
        return ""
    names = {
        "acmecontract": "dashboard:acme",
        "cloudflarezone": "dashboard:zone",
        "cloudflareaddon": "dashboard:addon",
    }
    name = names.get(target._meta.model_name)
    if name:
        return reverse(name, args=[target.pk])
    customer_id = getattr(target, "customer_id", None)
    return reverse("dashboard:customer", args=[customer_id]) if customer_id else ""


class FindingListView(MemberTemplateView):
    """Every finding of the partner (a limited member: of their customers), filtered by kind, state
    and customer; each row shows its evidence and the actions the billing right may take."""

    template_name = "dashboard/reconciliation/list.html"
    nav = "reconciliation"
    title = "Reconciliation"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        params = self.request.GET
        state = params.get("state", "open")
        kind = params.get("kind", "")
        customer = params.get("customer", "")
        findings = selectors.search_findings(
            self.actor, kind=kind, state="" if state == "all" else state, customer=customer
        )
        page, query = paginate(self.request, findings)
        can_act = can(self.actor, Can.MANAGE_BILLING)
        filters = {"kind": kind, "state": state, "customer": customer}
        context.update(
            page=page,
            query=query,
            rows=[finding_row(f, can_act=can_act) for f in page.object_list],
            can_act=can_act,
            counts=selectors.open_counts(self.actor),
            kinds=FindingKind.choices,
            states=STATE_FILTERS,
            filters=filters,
            customers=list(
                partner_selectors.customers_for(self.actor).order_by("name").values_list("pk", "name")
            ),
            export_query="&".join(
                f"{k}={v}" for k, v in filters.items() if v and not (k == "state" and v == "all")
            ),
            latest_run=selectors.latest_run(self.actor),
            marks=list(selectors.marks_for(self.actor).filter(unmarked_at__isnull=True)[:50]),
            now=clock.now(),
        )
        return context


class FindingDetailView(MemberTemplateView):
    """One finding: its evidence, the actions that apply (and why the others do not), its history."""

    template_name = "dashboard/reconciliation/detail.html"
    nav = "reconciliation"
    title = "Finding"

    def get_finding(self):
        if not hasattr(self, "_finding"):
            self._finding = partner_selectors.get_or_404(
                selectors.findings_for(self.actor), pk=self.kwargs["pk"]
            )
        return self._finding

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        finding = self.get_finding()
        can_act = can(self.actor, Can.MANAGE_BILLING)
        products = []
        if can_act and finding.kind == FindingKind.PROVIDED_NOT_BILLED and finding.target is not None:
            products = actions.matching_products(finding.target)
        context.update(
            row=finding_row(finding, can_act=can_act),
            finding=finding,
            can_act=can_act,
            products=products,
            events=list(audit.events_for(finding)[:20]),
            errors=kwargs.get("errors", {}),
            page_title=finding.get_kind_display(),
        )
        return context


class FindingActionView(FindingDetailView):
    """POST one action on a finding (the billing right); a refusal shows on the finding's page."""

    capability = Can.MANAGE_BILLING
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        finding = self.get_finding()
        action = kwargs["action"]
        product = None
        if request.POST.get("product"):
            product = Product.objects.filter(partner=self.partner, pk=_int(request.POST["product"])).first()
        try:
            finding = actions.perform_action(
                self.actor, finding, action, reason=request.POST.get("reason", ""), product=product
            )
        except (ValidationFailed, RuleViolation) as error:
            context = self.get_context_data(errors={action: error}, **kwargs)
            return self.render_to_response(context, status=error.http_status)
        messages.success(request, f"{actions.ACTION_LABELS[action]}: {finding.resolution_note or 'done'}")
        return redirect(_next(request, reverse("dashboard:reconciliation-finding", args=[finding.pk])))


class RunNowView(MemberMixin, View):
    """POST: queue a reconciliation of the partner now (the billing right)."""

    capability = Can.MANAGE_BILLING
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        try:
            run = services.request_run(self.actor, self.partner)
        except RuleViolation as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                f"Reconciliation #{run.pk} is queued: billing is compared with DigiCert, Cloudflare and "
                "Digital River (nothing is changed there); its findings appear here.",
            )
        return redirect(reverse("dashboard:reconciliation"))


class UnmarkView(MemberMixin, View):
    """POST: take a not-billed mark back (the billing right)."""

    capability = Can.MANAGE_BILLING
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        mark = partner_selectors.get_or_404(selectors.marks_for(self.actor), pk=kwargs["pk"])
        try:
            services.unmark(self.actor, mark)
        except RuleViolation as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"{mark.target} is no longer marked not billed.")
        return redirect(reverse("dashboard:reconciliation") + "#marks")


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _next(request, default: str) -> str:
    wanted = request.POST.get("next", "")
    if wanted and url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()}):
        return wanted
    return default
