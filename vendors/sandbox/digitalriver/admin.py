"""What the Digital River emulator holds, in the admin, with the sandbox bank's controls."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html

from vendors.sandbox.digitalriver import checkouts, lifecycle, refunds, sources
from vendors.sandbox.digitalriver.errors import DRError, PaymentDeclined
from vendors.sandbox.digitalriver.events import deliver, deliver_undelivered
from vendors.sandbox.digitalriver.models import (
    DRBillingAgreement,
    DRCharge,
    DRCheckout,
    DRCheckoutItem,
    DRCheckoutSession,
    DRCustomer,
    DREvent,
    DRFulfillment,
    DRInvoice,
    DRLedgerEntry,
    DROrder,
    DROrderItem,
    DRPlan,
    DRRefund,
    DRSource,
    DRSubscription,
)


@admin.register(DRPlan)
class DRPlanAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "interval",
        "interval_count",
        "reminder_offset_days",
        "billing_offset_days",
        "collection_period_days",
        "state",
        "created_at",
    ]
    list_filter = ["state", "interval"]
    search_fields = ["id", "name"]
    readonly_fields = ["id", "terms", "interval", "interval_count", "contract_binding_days", "created_at"]


class DRSourceInline(admin.TabularInline):
    model = DRSource
    extra = 0
    can_delete = False
    fields = ["id", "type", "reusable", "state", "credit_card", "failing_charges", "failing_stage"]
    readonly_fields = fields
    verbose_name_plural = "saved payment sources"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DRCustomer)
class DRCustomerAdmin(admin.ModelAdmin):
    list_display = ["id", "email", "type", "default_source", "created_at"]
    list_select_related = ["default_source"]
    search_fields = ["id", "email"]
    readonly_fields = ["id", "default_source", "created_at", "updated_at"]
    inlines = [DRSourceInline]


@admin.register(DRSource)
class DRSourceAdmin(admin.ModelAdmin):
    """Sources; the sandbox controls make the next charges fail or the card expire."""

    list_display = ["id", "customer", "type", "reusable", "state", "card", "failing_charges", "failing_stage"]
    list_select_related = ["customer"]
    list_filter = ["state", "reusable", "failing_stage"]
    search_fields = ["id", "customer__id"]
    readonly_fields = ["id", "customer", "type", "reusable", "state", "created_at", "updated_at"]
    fields = [
        *readonly_fields[:5],
        "credit_card",
        "failing_charges",
        "failing_stage",
        "created_at",
        "updated_at",
    ]
    actions = ["fail_next_authorization", "fail_next_capture", "clear_failures", "expire"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="card")
    def card(self, obj):
        card = obj.credit_card or {}
        return (
            f"{card.get('brand', '')} {card.get('lastFourDigits', '')} "
            f"{card.get('expirationMonth', '')}/{card.get('expirationYear', '')}"
        )

    def _each(self, request, queryset, change, done: str):
        for source in queryset:
            with transaction.atomic():
                change(DRSource.objects.select_for_update().get(pk=source.pk))
            self.message_user(request, f"Source {source.pk}: {done}.")

    @admin.action(description="Fail the next charge at authorization (POST /orders answers 409)")
    def fail_next_authorization(self, request, queryset):
        self._each(
            request, queryset, lambda s: sources.fail_charges(s, 1, "authorization"), "next charge declined"
        )

    @admin.action(description="Fail the next capture (the fulfilment's capture fails)")
    def fail_next_capture(self, request, queryset):
        self._each(request, queryset, lambda s: sources.fail_charges(s, 1, "capture"), "next capture fails")

    @admin.action(description="Clear the failing charges")
    def clear_failures(self, request, queryset):
        self._each(request, queryset, lambda s: sources.fail_charges(s, 0), "charges succeed again")

    @admin.action(description="Expire the card (expiry in the past)")
    def expire(self, request, queryset):
        self._each(request, queryset, sources.expire_card, "card expired")


@admin.register(DRCheckoutSession)
class DRCheckoutSessionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "customer",
        "charge_type",
        "upstream_id",
        "state",
        "declines",
        "pay_page",
        "created_at",
    ]
    list_filter = ["state", "charge_type"]
    search_fields = ["id", "upstream_id", "customer__id"]
    readonly_fields = ["id", "customer", "request", "state", "declines", "paid_at", "checkout", "pay_page"]
    fields = readonly_fields
    actions = ["pay_sessions", "decline_sessions"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="pay page")
    def pay_page(self, obj):
        if obj.state != DRCheckoutSession.State.OPEN:
            return "paid"
        return format_html('<a href="{}">pay as the customer</a>', reverse("sandbox-dr-pay", args=[obj.pk]))

    @admin.action(description="Pay as the customer (checkout, order, subscriptions, events)")
    def pay_sessions(self, request, queryset):
        self._pay(request, queryset, decline=False)

    @admin.action(description="Decline the customer's card")
    def decline_sessions(self, request, queryset):
        self._pay(request, queryset, decline=True)

    def _pay(self, request, queryset, *, decline: bool):
        for session in queryset:
            with transaction.atomic():
                lifecycle.run_due()
                try:
                    order = checkouts.pay_session(session, decline=decline)
                except PaymentDeclined as declined:  # caught inside: what the failure changed is kept
                    self.message_user(request, f"Session {session.pk}: {declined}", messages.WARNING)
                    continue
                except DRError as refused:
                    transaction.set_rollback(True)
                    self.message_user(request, f"Session {session.pk}: {refused}", messages.ERROR)
                    continue
            if order is None:
                self.message_user(request, f"Session {session.pk}: card declined, still open.")
            else:
                self.message_user(request, f"Session {session.pk}: paid, order {order.pk}.")


class DRCheckoutItemInline(admin.TabularInline):
    model = DRCheckoutItem
    extra = 0
    can_delete = False
    fields = [
        "position",
        "sku_id",
        "quantity",
        "price",
        "amount",
        "plan_id",
        "auto_renewal",
        "free_trial",
        "subscription_id",
        "billing_agreement_id",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DRCheckout)
class DRCheckoutAdmin(admin.ModelAdmin):
    list_display = ["id", "customer", "charge_type", "upstream_id", "total_amount", "currency", "created_at"]
    list_filter = ["charge_type"]
    search_fields = ["id", "upstream_id", "customer__id"]
    readonly_fields = ["id", "customer", "request", "total_amount", "created_at"]
    inlines = [DRCheckoutItemInline]


class DROrderItemInline(DRCheckoutItemInline):
    model = DROrderItem


class DRChargeInline(admin.TabularInline):
    model = DRCharge
    extra = 0
    can_delete = False
    fields = ["id", "source", "amount", "currency", "type", "state", "created_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(DROrder)
class DROrderAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "customer",
        "charge_type",
        "renewal",
        "state",
        "total_amount",
        "currency",
        "created_at",
    ]
    list_filter = ["state", "charge_type", "renewal"]
    search_fields = ["id", "upstream_id", "checkout__id", "customer__id"]
    readonly_fields = ["id", "checkout", "customer", "source", "state_transitions", "created_at"]
    inlines = [DROrderItemInline, DRChargeInline]


@admin.register(DRFulfillment)
class DRFulfillmentAdmin(admin.ModelAdmin):
    list_display = ["id", "order", "created_at"]
    search_fields = ["id", "order__id"]
    readonly_fields = ["id", "order", "items", "shipment", "metadata", "created_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DRLedgerEntry)
class DRLedgerEntryAdmin(admin.ModelAdmin):
    """The money the sandbox moved, one row per item: read-only."""

    list_display = [
        "seq",
        "created_at",
        "kind",
        "amount",
        "currency",
        "customer_id",
        "subscription_id",
        "order_id",
        "invoice_id",
        "period_end",
        "fulfillment_id",
        "refund_id",
        "source_id",
    ]
    list_filter = ["kind", "customer_id"]
    search_fields = ["subscription_id", "order_id", "invoice_id", "refund_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DRBillingAgreement)
class DRBillingAgreementAdmin(admin.ModelAdmin):
    list_display = ["id", "customer", "source_id", "created_at"]
    search_fields = ["id", "customer__id"]
    readonly_fields = ["id", "customer", "terms", "source_id", "created_at"]


@admin.register(DRSubscription)
class DRSubscriptionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "plan",
        "customer",
        "state",
        "current_period_end_date",
        "next_reminder_date",
        "next_invoice_date",
        "source_id",
        "billing_agreement",
    ]
    list_select_related = ["plan", "customer", "billing_agreement"]
    list_filter = ["state", "plan"]
    search_fields = ["id", "customer__id", "billing_agreement__id"]
    readonly_fields = [
        "id",
        "plan",
        "customer",
        "billing_agreement",
        "acquisition_order",
        "items",
        "periods",
        "activated_at",
        "activated_free_at",
        "failed_at",
        "cancelled_at",
        "ended_at",
        "lapsed_at",
        "reminded_period_end",
        "payment_failed_at",
        "created_at",
    ]
    actions = ["fail_next_payment", "expire_card", "lapse", "cancel"]

    def _each(self, request, queryset, change, done: str):
        for subscription in queryset:
            try:
                with transaction.atomic():
                    change(
                        DRSubscription.objects.select_for_update()
                        .select_related("plan")
                        .get(pk=subscription.pk)
                    )
            except DRError as refused:
                self.message_user(request, f"{subscription.pk}: {refused}", messages.ERROR)
            else:
                self.message_user(request, f"{subscription.pk}: {done}.")

    @admin.action(description="Decline the next charge of its source")
    def fail_next_payment(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda s: sources.fail_charges(_source_of(s), 1),
            "its source's next charge fails",
        )

    @admin.action(description="Expire its source's card")
    def expire_card(self, request, queryset):
        self._each(request, queryset, lambda s: sources.expire_card(_source_of(s)), "its card expired")

    @admin.action(description="Lapse (subscription.lapsed)")
    def lapse(self, request, queryset):
        self._each(request, queryset, lifecycle.lapse, "lapsed")

    @admin.action(description="Cancel (as POST {'state': 'cancelled'})")
    def cancel(self, request, queryset):
        self._each(request, queryset, lifecycle.cancel, "cancelled")


@admin.register(DRInvoice)
class DRInvoiceAdmin(admin.ModelAdmin):
    """The subscription service's invoices: read-only, the clock moves them."""

    list_display = ["id", "subscription", "state", "period_end", "total_amount", "currency", "attempt_count"]
    list_filter = ["state"]
    search_fields = ["id", "subscription__id", "customer__id"]
    readonly_fields = [
        "id",
        "subscription",
        "customer",
        "plan",
        "period_end",
        "items",
        "total_amount",
        "currency",
        "state",
        "source_id",
        "collection_period_days",
        "attempt_count",
        "state_transitions",
        "created_at",
    ]
    fields = readonly_fields
    inlines = [DRChargeInline]

    def has_add_permission(self, request):
        return False


@admin.register(DRRefund)
class DRRefundAdmin(admin.ModelAdmin):
    """Refunds; a pending one can be completed or failed (when refunds do not complete at once)."""

    list_display = ["id", "order", "invoice", "amount", "refunded_amount", "currency", "state", "created_at"]
    list_select_related = ["order", "invoice"]
    list_filter = ["state"]
    search_fields = ["id", "order__id", "invoice__id"]
    readonly_fields = [
        "id",
        "order",
        "invoice",
        "charge",
        "currency",
        "amount",
        "refunded_amount",
        "percent",
        "reason",
        "items",
        "allocation",
        "state",
        "failure_reason",
        "metadata",
        "created_at",
        "updated_at",
    ]
    fields = readonly_fields
    actions = ["complete_refunds", "fail_refunds"]

    def has_add_permission(self, request):
        return False

    def _finish(self, request, queryset, *, fail: bool):
        for refund in queryset:
            try:
                with transaction.atomic():
                    refunds.complete(DRRefund.objects.select_for_update().get(pk=refund.pk), fail=fail)
            except DRError as refused:
                self.message_user(request, f"{refund.pk}: {refused}", messages.ERROR)
            else:
                self.message_user(request, f"{refund.pk}: {'failed' if fail else 'succeeded'}.")

    @admin.action(description="Complete the pending refunds (refund.complete)")
    def complete_refunds(self, request, queryset):
        self._finish(request, queryset, fail=False)

    @admin.action(description="Fail the pending refunds (refund.failed)")
    def fail_refunds(self, request, queryset):
        self._finish(request, queryset, fail=True)


def _source_of(subscription: DRSubscription) -> DRSource:
    source = DRSource.objects.select_for_update().filter(pk=subscription.source_id).first()
    if source is None:
        raise DRError(409, "invalid_request", f"Subscription {subscription.pk} has no source.", "sourceId")
    return source


@admin.register(DREvent)
class DREventAdmin(admin.ModelAdmin):
    list_display = ["event_id", "type", "created_at", "delivered_at", "attempts", "last_status", "last_error"]
    list_filter = ["type", ("delivered_at", admin.EmptyFieldListFilter)]
    search_fields = ["event_id", "type"]
    readonly_fields = [
        "event_id",
        "type",
        "data",
        "created_at",
        "delivered_at",
        "attempts",
        "last_attempt_at",
        "last_status",
        "last_error",
    ]
    actions = ["deliver_selected", "deliver_undelivered"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Deliver the selected events to the webhook (again)")
    def deliver_selected(self, request, queryset):
        results = [deliver(event) for event in queryset.order_by("seq")]
        self.message_user(request, f"Delivered {sum(results)} of {len(results)} event(s).")

    @admin.action(description="Deliver every undelivered event (not only the selected ones)")
    def deliver_undelivered(self, request, queryset):
        delivered, failed = deliver_undelivered()
        self.message_user(request, f"Delivered {delivered} event(s); {failed} still undelivered.")
