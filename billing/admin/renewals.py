"""Support staff's renewals and notices (reminders, receipts, failed payments)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst

from billing.admin.common import badge
from billing.dashboard_selectors import notice_details, renewed_by
from billing.models import (
    Notice,
    Renewal,
    RenewalState,
)
from billing.services import notices, renewals
from core.admin_confirm import ConfirmRow, confirm_page, confirmed, run_rows
from core.admin_tools import (
    ReadOnlyAdmin,
    run_per_row,
)


@admin.register(Renewal)
class RenewalAdmin(ReadOnlyAdmin):
    list_display = [
        "subscription",
        "renewal_date",
        "state_badge",
        "renewed_by",
        "amount",
        "reminder_missing",
        "checkout",
        "invoice_id",
        "updated_at",
    ]
    list_filter = ["state", "subscription__plan__engine", "reminder_missing"]
    search_fields = ["^subscription__subscription_id", "subscription__customer__name", "^invoice_id"]
    list_select_related = [
        "subscription__product",
        "subscription__customer",
        "subscription__plan",
        "checkout__customer",  # the checkout's name carries its customer
    ]
    actions = ["postpone", "renew_manually", "release"]

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj):
        return badge(obj.state, obj.get_state_display())

    @admin.display(description="Renewed by", ordering="subscription__plan__engine")
    def renewed_by(self, obj):
        return capfirst(renewed_by(obj.subscription.plan.engine))

    @admin.action(description="Send the reminder now and move the renewal 30 days later", permissions=["run"])
    def postpone(self, request, queryset):
        run_per_row(
            self,
            request,
            queryset,
            renewals.postpone_held_renewal,
            success="{count} renewal(s) moved 30 days.",
        )

    @admin.action(description="Renew manually (the customer pays by link)", permissions=["run"])
    def renew_manually(self, request, queryset):
        run_per_row(
            self, request, queryset, renewals.renew_held_manually, success="{count} payment link(s) sent."
        )

    @admin.action(
        description="Release anyway, with a reason (a breach of the reminder rule)", permissions=["run"]
    )
    def release(self, request, queryset):
        """The confirmation page asks for the reason; only Confirm with one releases, row by row."""
        form = ReleaseForm(request.POST if "_confirm" in request.POST else None)
        rows = [
            ConfirmRow(
                renewal,
                change="Charged now, without the reminder the rule requires: recorded as a breach, with your reason.",
            )
            if renewal.state == RenewalState.HELD
            else ConfirmRow(
                renewal,
                refusal=f"Only a held renewal can be released; it is {renewal.get_state_display().lower()}.",
            )
            for renewal in queryset.select_related(
                "subscription__customer", "subscription__product", "checkout__customer"
            )
        ]
        if confirmed(request, form):
            reason = form.cleaned_data["reason"]
            run_rows(
                self,
                request,
                rows,
                lambda actor, renewal: renewals.release_held_renewal(actor, renewal, reason),
                done="released; recorded as a breach of the reminder rule.",
            )
            return None
        return confirm_page(
            self,
            request,
            title="Release anyway",
            intro="Releasing charges these renewals without the 30-day reminder the rule requires: it is "
            "recorded as a breach of the rule, with your reason. The other "
            "ways out keep to the rule: send the reminder now and move the renewal 30 days later, or let the "
            "customer renew by link.",
            rows=rows,
            confirm="Release anyway",
            form=form,
            danger=True,
        )

    def has_run_permission(self, request):
        return request.user.has_perm("billing.run_renewals")


class ReleaseForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
        help_text="Why the renewal is charged without its reminder; kept in the audit trail.",
        error_messages={"required": "Give the reason."},
    )


def details_html(notice: Notice) -> str:
    """A notice's details (amount, card, link) as readable lines rather than raw JSON."""
    lines = notice_details(notice.details, notice.subscription.product.currency)
    if not lines:
        return "—"
    return format_html_join(
        mark_safe("<br>"),
        "{}: {}",
        (
            (label, format_html('<a href="{}" rel="noopener">{}</a>', url, text) if url else text)
            for label, text, url in lines
        ),
    )


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = ["subscription", "kind", "renewal_date", "to", "said", "sent_at", "delivered"]
    list_filter = ["kind", "delivered"]
    search_fields = ["to", "subject", "subscription__customer__name"]
    list_select_related = ["subscription__product", "subscription__customer"]
    date_hierarchy = "sent_at"
    actions = ["resend"]
    exclude = ["details"]
    readonly_fields = ["said"]

    @admin.display(description="What it said")
    def said(self, obj):
        return details_html(obj)

    @admin.action(description="Resend selected notices", permissions=["run"])
    def resend(self, request, queryset):
        run_per_row(self, request, queryset, notices.resend_notice, success="{count} notice(s) sent again.")

    def has_run_permission(self, request):
        return request.user.has_perm("billing.run_renewals")
