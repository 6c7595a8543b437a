"""Support staff's billing subscriptions: their notices, renewals and the ending actions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from billing.admin.common import badge
from billing.admin.endings import (
    CANCEL_DOWNGRADE,
    DOWNGRADES,
    ENDINGS,
    SCHEDULE_DOWNGRADE,
    DowngradeForm,
    Ending,
    cancel_downgrade_rows,
    downgrade_offer,
    ending_rows,
    scheduled_product,
    scheduled_text,
)
from billing.admin.renewals import details_html
from billing.dashboard_selectors import renewed_by
from billing.models import (
    BillingSubscription,
    Notice,
    NoticeKind,
    Renewal,
)
from billing.services import acquisition, cancellation, notices, renewals
from billing.services.cancellation import CANCEL_WITH_REFUND, RESUME_RENEWAL, STOP_RENEWAL
from core import clock
from core.admin_confirm import ConfirmRow, confirm_page, confirmed, run_rows
from core.admin_lists import PartnerFilter, count_of
from core.admin_tools import (
    AuditTrailMixin,
    ReadOnlyAdmin,
    admin_actor,
    operations_table,
    run_per_row,
)
from subscriptions.selectors import operations_of


class NoticeInline(admin.TabularInline):
    model = Notice
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "renewal_date", "to", "said", "sent_at", "delivered", "error"]
    fields = readonly_fields

    @admin.display(description="What it said")
    def said(self, obj):
        return details_html(obj)

    def has_add_permission(self, request, obj=None):
        return False


class RenewalInline(admin.TabularInline):
    model = Renewal
    extra = 0
    can_delete = False
    readonly_fields = [
        "renewal_date",
        "state",
        "amount",
        "reminder_missing",
        "checkout",
        "invoice_id",
        "updated_at",
    ]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(BillingSubscription)
class BillingSubscriptionAdmin(AuditTrailMixin, ReadOnlyAdmin):
    list_display = [
        "__str__",
        "partner",
        "state_badge",
        "renewed_by",
        "auto_renewal",
        "current_period_end_date",
        "next_invoice_date",
        "provisioning",
        "billing_agreement_id",
        "notices_sent",
    ]
    list_filter = [
        "state",
        "plan__engine",
        "ends_at_period_end",
        "provisioning_state",
        "auto_renewal",
        "free_trial",
        PartnerFilter,
        "plan",
    ]
    search_fields = [
        "^subscription_id",
        "^billing_agreement_id",
        "^payment_source_id",
        "customer__name",
        "product__name",
    ]
    list_select_related = ["customer", "partner", "product", "plan"]
    date_hierarchy = "current_period_end_date"
    inlines = [RenewalInline, NoticeInline]
    readonly_fields = [
        "partner",
        "customer",
        "product",
        "plan",
        "renewed_by",
        "subscription_id",
        "acquisition",
        "quantity",
        "price",
        "state_badge",
        "auto_renewal",
        "free_trial",
        "billing_agreement_id",
        "payment_source_id",
        "contract_binding_until",
        "next_reminder_date",
        "current_period_end_date",
        "next_invoice_date",
        "activated_at",
        "payment_failed_at",
        "ended_at",
        "provisioning",
        "provisioning_error",
        "provisioning_attempts",
        "provisioned_link",
        "provision_options",
        "ends_at_period_end",
        "ending_today",
        "scheduled_downgrade",
        "cancel_at",
        "operations",
        "vendor_view",
        "audit_trail",
    ]
    fields = readonly_fields
    actions = [
        "cancel_with_refund_selected",
        "stop_renewal_selected",
        "resume_renewal_selected",
        "schedule_downgrade_selected",
        "cancel_scheduled_downgrade_selected",
        "retry_provisioning",
    ]
    change_list_template = "admin/billing/billingsubscription/change_list.html"

    # Its object-tools buttons post one of this page's actions for this one subscription.
    change_form_template = "admin/subscriptions/cloudflare/change_form.html"
    object_actions = {
        SCHEDULE_DOWNGRADE: "schedule_downgrade_selected",
        CANCEL_DOWNGRADE: "cancel_scheduled_downgrade_selected",
    }

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_notices=count_of(Notice, "subscription"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """The change page offers scheduling a downgrade, or cancelling the scheduled one, to staff
        with the billing permission (the actions Django lists for them)."""
        obj = self.get_object(request, object_id)
        available = self.get_actions(request)
        offered = CANCEL_DOWNGRADE if obj is not None and obj.scheduled_change else SCHEDULE_DOWNGRADE
        name = self.object_actions[offered]
        object_actions = [(name, available[name][2])] if obj is not None and name in available else []
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "object_actions": object_actions}
        )

    @admin.display(description="Scheduled downgrade")
    def scheduled_downgrade(self, obj):
        if not obj.scheduled_change:
            return "None."
        return capfirst(scheduled_text(obj, scheduled_product(obj)))

    @admin.display(description="Ending, today")
    def ending_today(self, obj):
        """Which of cancel with a full refund / stop renewal / resume renewal applies today, until when."""
        options = cancellation.ending_options(obj)
        if not options:
            state = obj.get_state_display().lower()
            stopped = " and its renewal is stopped" if obj.ends_at_period_end else ""
            return f"Nothing can change today: the subscription is {state}{stopped}."
        return format_html(
            "<ul style='margin:0;padding-left:1.2em'>{}</ul>",
            format_html_join(
                "",
                "<li><strong>{}</strong>: {}{}</li>",
                (
                    (
                        ENDINGS[o.code].title,
                        o.explanation,
                        f" (until {o.until:%Y-%m-%d %H:%M:%S} UTC)" if o.until else "",
                    )
                    for o in options
                ),
            ),
        )

    # --- Ending: each through the confirmation page, then one service call per row ----------------

    @admin.action(description="Cancel with full refund (inside DigiCert's 30 days)", permissions=["billing"])
    def cancel_with_refund_selected(self, request, queryset):
        return self.confirm_ending(request, queryset, CANCEL_WITH_REFUND)

    @admin.action(description="Stop renewal", permissions=["billing"])
    def stop_renewal_selected(self, request, queryset):
        return self.confirm_ending(request, queryset, STOP_RENEWAL)

    @admin.action(description="Resume renewal", permissions=["billing"])
    def resume_renewal_selected(self, request, queryset):
        return self.confirm_ending(request, queryset, RESUME_RENEWAL)

    @admin.action(description="Schedule downgrade", permissions=["billing"])
    def schedule_downgrade_selected(self, request, queryset):
        subscriptions = list(queryset.select_related("product", "plan")[:2])
        if len(subscriptions) != 1:
            self.message_user(
                request,
                "Schedule a downgrade one subscription at a time: each has its own cheaper products.",
                messages.ERROR,
            )
            return None
        row, products = downgrade_offer(subscriptions[0])
        form = DowngradeForm(subscriptions[0], products, request.POST if "_confirm" in request.POST else None)
        return self.confirm_rows(request, DOWNGRADES[SCHEDULE_DOWNGRADE], [row], form=form)

    @admin.action(description="Cancel scheduled downgrade", permissions=["billing"])
    def cancel_scheduled_downgrade_selected(self, request, queryset):
        rows = cancel_downgrade_rows(list(queryset.select_related("product")))
        return self.confirm_rows(request, DOWNGRADES[CANCEL_DOWNGRADE], rows)

    def confirm_ending(self, request, queryset, code: str):
        subscriptions = list(queryset.prefetch_related("provisioned"))
        rows = ending_rows(subscriptions, code, clock.now())
        return self.confirm_rows(request, ENDINGS[code], rows, danger=code == CANCEL_WITH_REFUND)

    def confirm_rows(self, request, ending: Ending, rows: list[ConfirmRow], *, form=None, danger=False):
        """Each selected subscription with what applies today and until when (or why not), and the
        form when it asks something; only Confirm calls the service, row by row."""
        if confirmed(request, form):
            answers = form.cleaned_data if form is not None else {}
            run_rows(
                self,
                request,
                rows,
                lambda actor, subscription: ending.service(actor, subscription, **answers),
                done=lambda row: ending.done(row.object, row.data, **answers),
            )
            return None  # back to the list, with the messages
        return confirm_page(
            self,
            request,
            title=ending.title,
            intro=ending.intro,
            rows=rows,
            columns=["Until (UTC)"],
            confirm=ending.confirm,
            form=form,
            danger=danger,
            none_apply="It applies to none of the selected subscriptions today.",
        )

    def has_billing_permission(self, request):
        return request.user.has_perm("billing.change_billingsubscription")

    @admin.display(description="Notices", ordering="n_notices")
    def notices_sent(self, obj):
        return obj.n_notices

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj):
        return badge(obj.state, obj.get_state_display())

    @admin.display(description="Renewed by", ordering="plan__engine")
    def renewed_by(self, obj):
        return capfirst(renewed_by(obj.plan.engine))

    @admin.display(description="Provisioning", ordering="provisioning_state")
    def provisioning(self, obj):
        return badge(obj.provisioning_state, obj.get_provisioning_state_display())

    @admin.display(description="Provisioned")
    def provisioned_link(self, obj):
        target = obj.provisioned
        if target is None:
            return "—"
        meta = target._meta
        return format_html(
            '<a href="../../../{}/{}/{}/change/">{}</a>', meta.app_label, meta.model_name, target.pk, target
        )

    @admin.display(description="Vendor operations")
    def operations(self, obj):
        return operations_table(operations_of(obj)[:10])

    @admin.action(description="Retry provisioning")
    def retry_provisioning(self, request, queryset):
        run_per_row(
            self, request, queryset, acquisition.retry_provisioning, success="{count} provisioning(s) queued."
        )

    # --- Runs over everything due: a changelist button each, no selection needed ------------------

    def get_urls(self):
        extra = [
            path(
                "run-renewals/",
                self.admin_site.admin_view(self.run_renewals_view),
                name="billing_run_renewals",
            ),
            path(
                "send-reminders/",
                self.admin_site.admin_view(self.send_reminders_view),
                name="billing_send_reminders",
            ),
        ]
        return extra + super().get_urls()

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(
            request, {**(extra_context or {}), "can_run": self.has_run_permission(request)}
        )

    def run_renewals_view(self, request):
        """Every due renewal, ordered or held, as the scheduled run would; recorded as this staff member's."""
        if not self.has_run_permission(request):
            raise PermissionDenied
        if confirmed(request):
            ordered = renewals.run_renewals(admin_actor(request))
            self.message_user(
                request,
                f"Renewal run done: {ordered} renewal(s) ordered; held ones are listed under Renewals.",
            )
            return HttpResponseRedirect(reverse("admin:billing_billingsubscription_changelist"))
        rows = [
            ConfirmRow(
                subscription,
                cells=(
                    f"{subscription.current_period_end_date:%Y-%m-%d}",
                    f"{subscription.price * subscription.quantity} {subscription.product.currency}",
                ),
                change=f"Held: {hold}" if hold else "Ordered on the saved payment source.",
            )
            for subscription, hold in renewals.preview_due_renewals(clock.now())
        ]
        return confirm_page(
            self,
            request,
            title="Run renewals now",
            intro="The run the schedule makes every hour: every subscription the back office renews whose "
            "invoice date has come is taken once; those not ready to charge are held, the others ordered. "
            "Scheduled downgrades due are applied and declined renewals retried too.",
            rows=rows,
            columns=["Renewal date", "Amount"],
            confirm="Run renewals",
        )

    def send_reminders_view(self, request):
        """The reminders due today and undelivered notices, as the daily schedule sends them."""
        if not self.has_run_permission(request):
            raise PermissionDenied
        if confirmed(request):
            sent = notices.send_due_reminders()
            self.message_user(request, f"{sent} reminder(s) sent.")
            return HttpResponseRedirect(reverse("admin:billing_billingsubscription_changelist"))
        rows = [
            ConfirmRow(
                n.subscription,
                cells=(n.get_kind_display(), f"{n.renewal_date:%Y-%m-%d}"),
                change="Sent again.",
            )
            for n in notices.undelivered_notices()
        ] + [
            ConfirmRow(subscription, cells=(NoticeKind(kind).label, f"{renewal_on:%Y-%m-%d}"), change="Sent.")
            for subscription, kind, renewal_on, _ in notices.unsent(notices.due_reminders(clock.now()))
        ]
        return confirm_page(
            self,
            request,
            title="Send due reminders now",
            intro="What the daily schedule sends: notices whose delivery failed, then the renewal reminders "
            "(30, 7 and 1 days before) and trial-end reminders due today. Each is sent once.",
            rows=rows,
            columns=["Notice", "Renewal date"],
            confirm="Send reminders",
        )

    def has_run_permission(self, request):
        return request.user.has_perm("billing.run_renewals")
