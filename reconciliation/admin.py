"""Support staff's view of the reconciliation: runs (and "Run reconciliation now"), findings with
their evidence and actions, not-billed marks.

Every action goes through Django admin's intermediate page: the selected findings are listed with
whether the action applies to each (and why not), a reason is asked where one is needed, and only
Confirm calls the service, row by row. Acting needs the billing permission, as in the services.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.admin_confirm import ConfirmRow, confirm_page, confirmed, run_rows
from core.admin_lists import PartnerFilter
from core.admin_tools import AuditTrailMixin, ReadOnlyAdmin, admin_actor, run_per_row, state_badge
from core.errors import DomainError
from partner.access import STAFF_PERMISSIONS, Can
from partner.models import Partner
from reconciliation import actions as finding_actions
from reconciliation import selectors, services
from reconciliation.models import Finding, NotBilled, Run

RUN_NOW_TEMPLATE = "admin/reconciliation/run_now.html"
BADGES = {
    "open": "unknown",
    "resolved": "active",
    "dismissed": "cancelled",
    "queued": "pending",
    "running": "pending",
    "finished": "active",
}


def _badge(value: str, label: str) -> str:
    return state_badge(BADGES.get(value, value), label)


def evidence_html(evidence: dict) -> str:
    """The evidence as a table: one column per side, differing fields in bold."""
    table = selectors.evidence_table(evidence or {})
    head = format_html_join("", "<th>{}</th>", ((c,) for c in table["columns"]))
    rows = format_html_join(
        "",
        "<tr{}><td>{}</td>{}</tr>",
        (
            (
                mark_safe(' style="font-weight:bold;background:#fff8c5"') if row["differs"] else "",
                row["field"],
                format_html_join("", "<td><code>{}</code></td>", ((v,) for v in row["values"])),
            )
            for row in table["rows"]
        ),
    )
    return format_html(
        "<p>{}</p><table><thead><tr><th></th>{}</tr></thead><tbody>{}</tbody></table>",
        table["rule"],
        head,
        rows,
    )


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False, label="Reason")


class NoInput(forms.Form):
    pass


# What each action does, in its service's words, on the confirmation page.
INTROS = {
    finding_actions.ADOPT_VENDOR: finding_actions.adopt_vendor,
    finding_actions.PUSH_OURS: finding_actions.push_ours,
    finding_actions.END_BILLING: finding_actions.end_billing,
    finding_actions.BILL: finding_actions.bill,
    finding_actions.MARK_NOT_BILLED: finding_actions.mark_finding_not_billed,
    finding_actions.DISMISS: finding_actions.dismiss,
}


def _confirmed(name: str, *, needs_reason: bool = False):
    """An admin action that lists the selected findings with whether `name` applies, then runs on Confirm."""
    label = finding_actions.ACTION_LABELS[name]

    def action(modeladmin, request, queryset):
        form = (ReasonForm if needs_reason else NoInput)(request.POST if "_confirm" in request.POST else None)
        rows = [
            ConfirmRow(f, change=label, refusal=finding_actions.action_refusal(f, name) or "")
            for f in queryset
        ]
        if confirmed(request, form):
            reason = form.cleaned_data.get("reason", "")
            run_rows(
                modeladmin,
                request,
                rows,
                lambda actor, finding: finding_actions.perform_action(actor, finding, name, reason=reason),
                done=f"{label}: done.",
            )
            return None
        return confirm_page(
            modeladmin,
            request,
            title=f"{label}?",
            intro=" ".join(INTROS[name].__doc__.split()),
            rows=rows,
            confirm=label,
            form=form,
        )

    action.__name__ = name
    return admin.action(description=f"{label}…", permissions=["settle"])(action)


class SettleMixin:
    def has_settle_permission(self, request) -> bool:
        return request.user.has_perm(STAFF_PERMISSIONS[Can.MANAGE_BILLING])


@admin.register(Finding)
class FindingAdmin(SettleMixin, AuditTrailMixin, ReadOnlyAdmin):
    list_display = [
        "summary",
        "kind",
        "state_badge",
        "partner",
        "customer",
        "subscription",
        "target_link",
        "times_seen",
        "last_seen_at",
        "resolution",
    ]
    list_filter = ["state", "kind", "rule", "resolution", PartnerFilter]
    search_fields = ["summary", "^key", "^vendor_ref", "customer__name", "partner__name"]
    list_select_related = [
        "partner",
        "customer",
        "subscription__product",
        "subscription__customer",
        "target_type",
    ]
    readonly_fields = [
        "kind",
        "rule",
        "state",
        "partner",
        "customer",
        "subscription",
        "target_link",
        "vendor_ref",
        "summary",
        "evidence_table",
        "first_seen_at",
        "last_seen_at",
        "first_run",
        "last_run",
        "times_seen",
        "resolution",
        "resolution_note",
        "resolved_by",
        "resolved_at",
        "applicable_actions",
        "audit_trail",
    ]
    fields = readonly_fields
    actions = [
        _confirmed(finding_actions.ADOPT_VENDOR),
        _confirmed(finding_actions.PUSH_OURS),
        _confirmed(finding_actions.END_BILLING),
        _confirmed(finding_actions.BILL),
        _confirmed(finding_actions.MARK_NOT_BILLED, needs_reason=True),
        _confirmed(finding_actions.DISMISS, needs_reason=True),
        "run_again",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("target")

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj):
        return _badge(obj.state, obj.get_state_display())

    @admin.display(description="Vendor object")
    def target_link(self, obj):
        if not obj.target_type_id:
            return obj.vendor_ref or "—"
        content_type = obj.target_type
        url = reverse(f"admin:{content_type.app_label}_{content_type.model}_change", args=[obj.target_id])
        label = obj.target if obj.target is not None else f"{content_type.name} #{obj.target_id}"
        return format_html(
            '<a href="{}">{}</a>{}', url, label, f" · {obj.vendor_ref}" if obj.vendor_ref else ""
        )

    @admin.display(description="Evidence")
    def evidence_table(self, obj):
        return evidence_html(obj.evidence)

    @admin.display(description="Actions today")
    def applicable_actions(self, obj):
        return format_html_join(
            "",
            "<li><strong>{}</strong>: {}</li>",
            (
                (item["label"], item["refusal"] or "applies")
                for item in finding_actions.available_actions(obj)
            ),
        )

    @admin.action(description="Run reconciliation again for these findings' partners", permissions=["settle"])
    def run_again(self, request, queryset):
        partners = Partner.objects.filter(pk__in=queryset.values("partner_id"))
        run_per_row(self, request, partners, services.request_run, success="{count} run(s) queued.")


@admin.register(Run)
class RunAdmin(SettleMixin, AuditTrailMixin, ReadOnlyAdmin):
    list_display = [
        "__str__",
        "partner",
        "state_badge",
        "created_at",
        "started_at",
        "finished_at",
        "found",
        "new_count",
        "reopened_count",
        "cleared_count",
        "error_count",
        "face",
        "requested_by",
    ]
    list_filter = ["state", "face", PartnerFilter]
    search_fields = ["partner__name", "^partner__slug"]
    list_select_related = ["partner", "requested_by"]
    readonly_fields = [*Run.SHOWN_FIELDS, "errors_table", "audit_trail"]
    fields = readonly_fields
    actions = ["run_again"]
    change_list_template = "admin/reconciliation/run/change_list.html"

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj):
        return _badge(obj.state, obj.get_state_display())

    @admin.display(description="Vendor errors")
    def error_count(self, obj):
        return len(obj.errors or [])

    @admin.display(description="Vendor reads that failed")
    def errors_table(self, obj):
        if not obj.errors:
            return "None."
        return format_html(
            "<table><thead><tr><th>Vendor</th><th>Object</th><th>Code</th><th>Message</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ((e.get("vendor"), e.get("object"), e.get("code"), e.get("message")) for e in obj.errors),
            ),
        )

    @admin.action(description="Run reconciliation again for these partners", permissions=["settle"])
    def run_again(self, request, queryset):
        partners = Partner.objects.filter(pk__in=queryset.values("partner_id"))
        run_per_row(self, request, partners, services.request_run, success="{count} run(s) queued.")

    def get_urls(self):
        return [
            path(
                "run-now/",
                self.admin_site.admin_view(self.run_now_view),
                name="reconciliation_run_run_now",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {"can_run": self.has_settle_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def run_now_view(self, request):
        """Pick the partners (or all), confirm, then queue one run each (read-only at the vendors)."""
        if not self.has_settle_permission(request):
            messages.error(request, "Running a reconciliation needs the billing permission.")
            return HttpResponseRedirect(reverse("admin:reconciliation_run_changelist"))
        form = RunNowForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            partners = form.cleaned_data["partners"] or Partner.objects.all()
            queued = 0
            for partner in partners:
                try:
                    services.request_run(admin_actor(request), partner)
                    queued += 1
                except DomainError as error:
                    self.message_user(request, f"{partner}: {error.message} [{error.code}]", messages.ERROR)
            if queued:
                self.message_user(request, f"{queued} reconciliation run(s) queued.", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:reconciliation_run_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Run reconciliation now",
            "form": form,
        }
        return TemplateResponse(request, RUN_NOW_TEMPLATE, context)


class RunNowForm(forms.Form):
    partners = forms.ModelMultipleChoiceField(
        queryset=Partner.objects.order_by("name"),
        required=False,
        help_text="Leave empty for every partner. Each run only reads the vendors; nothing changes there.",
    )


@admin.register(NotBilled)
class NotBilledAdmin(SettleMixin, AuditTrailMixin, ReadOnlyAdmin):
    list_display = ["__str__", "partner", "customer", "reason", "marked_by", "marked_at", "unmarked_at"]
    list_filter = [PartnerFilter, "target_type"]
    search_fields = ["reason", "customer__name", "partner__name", "^target_id"]
    list_select_related = ["partner", "customer", "marked_by", "target_type"]
    readonly_fields = [
        "partner",
        "customer",
        "target_type",
        "target_id",
        "reason",
        "marked_by",
        "marked_at",
        "unmarked_by",
        "unmarked_at",
        "audit_trail",
    ]
    fields = readonly_fields
    actions = ["unmark_selected"]

    def get_queryset(self, request):
        # Each row is named after what it marks: fetch the targets per type, not per row.
        return super().get_queryset(request).prefetch_related("target")

    @admin.action(description="Take the mark back (bill it again)…", permissions=["settle"])
    def unmark_selected(self, request, queryset):
        rows = [
            ConfirmRow(mark, change="Taken back: billing must cover it again.")
            if mark.live
            else ConfirmRow(mark, refusal="Already taken back.")
            for mark in queryset
        ]
        if confirmed(request):
            run_rows(self, request, rows, services.unmark, done="mark taken back.")
            return None
        return confirm_page(
            self,
            request,
            title="Take the not-billed marks back?",
            intro=" ".join(services.unmark.__doc__.split()),
            rows=rows,
            confirm="Take back",
        )
