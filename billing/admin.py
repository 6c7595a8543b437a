"""Support staff's view of billing: plans, products, checkouts, subscriptions, renewals, notices, events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import capfirst

from billing.dashboard_selectors import notice_details, renewed_by
from billing.forms import CheckoutForm, form_field_for
from billing.models import (
    RENEWING_STATES,
    BillingAgreement,
    BillingSubscription,
    Checkout,
    CheckoutItem,
    Notice,
    NoticeKind,
    Plan,
    Product,
    RejectedWebhook,
    Renewal,
    RenewalState,
    WebhookEvent,
)
from billing.services import acquisition, cancellation, catalog, changes, events, notices, renewals
from billing.services.cancellation import CANCEL_WITH_REFUND, RESUME_RENEWAL, STOP_RENEWAL, EndingOption
from core import clock
from core.admin_confirm import ConfirmRow, confirm_page, confirmed, run_rows
from core.admin_tools import (
    AuditTrailMixin,
    ReadOnlyAdmin,
    ServiceSaveMixin,
    admin_actor,
    operations_table,
    run_per_row,
    state_badge,
)
from core.dashboard import show_domain_error
from core.errors import DomainError
from partner.models import Customer
from subscriptions.cloudflare.models import CloudflareZone
from subscriptions.selectors import operations_of

SERVICE_FORM_TEMPLATE = "admin/service_form.html"
BILLING_BADGES = {
    "draft": "pending",
    "activePendingInvoice": "unknown",
    "lapsed": "failed",
    "ended": "cancelled",
    "ordered": "pending",
    "paid": "active",
    "open": "pending",
    "held": "unknown",
    "due": "pending",
    "ordering": "pending",
    "captured": "active",
    "processed": "active",
    "rejected": "failed",
    "ignored": "cancelled",
    "duplicate": "cancelled",
    "received": "pending",
    "done": "active",
    "awaiting_payment": "pending",
    "not_needed": "cancelled",
    "awaiting_customer": "pending",
    "refunded": "cancelled",
}


def badge(value: str, label: str) -> str:
    return state_badge(BILLING_BADGES.get(value, value), label)


@admin.register(Plan)
class PlanAdmin(ServiceSaveMixin, AuditTrailMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "plan_id",
        "interval_count",
        "interval",
        "reminder_offset_days",
        "billing_offset_days",
        "collection_period_days",
        "state",
        "engine",
        "at_vendor",
        "synced_at",
    ]
    list_filter = ["state", "engine", "interval", "at_vendor"]
    search_fields = ["name", "plan_id"]
    readonly_fields = ["at_vendor", "synced_at", "vendor_view", "operations", "audit_trail"]
    actions = ["sync_selected"]

    def get_readonly_fields(self, request, obj=None):
        fixed = ["plan_id", "terms", "interval", "interval_count", "contract_binding_days"] if obj else []
        return [*fixed, *self.readonly_fields]

    @admin.display(description="Vendor operations")
    def operations(self, obj):
        return operations_table(operations_of(obj)[:10]) if obj and obj.pk else "—"

    def save_via_service(self, request, obj, form, change):
        actor = admin_actor(request)
        if change:
            editable = {*catalog.PLAN_UPDATABLE, *catalog.PLAN_LOCAL}
            catalog.update_plan(
                actor,
                Plan.objects.get(pk=obj.pk),
                **{f: form.cleaned_data[f] for f in form.changed_data if f in editable},
            )
        else:
            obj.pk = catalog.create_plan(actor, **{f: form.cleaned_data[f] for f in catalog.PLAN_FIELDS}).pk

    @admin.action(description="Sync from Digital River")
    def sync_selected(self, request, queryset):
        run_per_row(self, request, queryset, catalog.sync_plan, success="{count} plan sync(s) queued.")


@admin.register(Product)
class ProductAdmin(ServiceSaveMixin, AuditTrailMixin, admin.ModelAdmin):
    list_display = [
        "name",
        "sku_id",
        "partner",
        "price",
        "currency",
        "plan",
        "provisions",
        "free_trial",
        "trial_plan",
        "active",
    ]
    list_filter = ["partner", "provisions", "active", "currency", "plan__engine"]
    search_fields = ["name", "sku_id", "partner__name"]
    list_select_related = ["partner", "plan", "trial_plan"]
    readonly_fields = ["audit_trail"]

    def save_via_service(self, request, obj, form, change):
        actor = admin_actor(request)
        data = {f: form.cleaned_data[f] for f in catalog.PRODUCT_FIELDS if f in form.cleaned_data}
        if change:
            catalog.update_product(actor, Product.objects.get(pk=obj.pk), **data)
        else:
            obj.pk = catalog.create_product(actor, form.cleaned_data["partner"], **data).pk


class CheckoutItemInline(admin.TabularInline):
    model = CheckoutItem
    extra = 0
    can_delete = False
    readonly_fields = [
        "product",
        "quantity",
        "price",
        "subscription",
        "order_item_id",
        "fulfilled_quantity",
        "cancelled_quantity",
    ]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


class CheckoutCustomerForm(forms.Form):
    """Step one of a checkout from the admin: the customers whose partner sells something."""

    customer = forms.ModelChoiceField(
        queryset=Customer.objects.filter(partner__products__active=True).distinct().select_related("partner"),
        help_text="Only customers of partners with an active product are listed.",
    )


@admin.register(Checkout)
class CheckoutAdmin(AuditTrailMixin, admin.ModelAdmin):
    list_display = [
        "reference",
        "kind",
        "customer",
        "partner",
        "state_badge",
        "total",
        "captured_amount",
        "currency",
        "charge_type",
        "order_id",
        "fulfilled_at",
        "billing_agreement_id",
        "created_at",
    ]
    list_filter = ["kind", "state", "charge_type", "partner"]
    search_fields = [
        "reference",
        "order_id",
        "session_id",
        "checkout_id",
        "customer__name",
        "billing_agreement_id",
    ]
    list_select_related = ["customer", "partner"]
    inlines = [CheckoutItemInline]
    readonly_fields = [
        "partner",
        "customer",
        "kind",
        "reference",
        "state_badge",
        "charge_type",
        "currency",
        "total",
        "payment",
        "checkout_id",
        "order_id",
        "order_state",
        "billing_agreement_id",
        "source_id",
        "money",
        "fulfillment_id",
        "fulfilled_at",
        "operations",
        "created_at",
        "audit_trail",
    ]
    fields = readonly_fields

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj):
        return badge(obj.state, obj.get_state_display())

    @admin.display(description="Payment page")
    def payment(self, obj):
        if not obj.payment_link:
            return "—"
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">Pay as the customer</a> (session {})',
            obj.payment_link,
            obj.session_id,
        )

    @admin.display(description="Money at Digital River")
    def money(self, obj):
        """Authorised at acceptance; captured once fulfilled; cancelled (never charged); refunded."""
        rows = format_html_join(
            "",
            "<tr><th scope='row'>{}</th><td style='text-align:right'>{} {}</td></tr>",
            (
                (label, amount, obj.currency)
                for label, amount in (
                    ("Authorised", obj.authorized_amount),
                    ("Captured", obj.captured_amount),
                    ("Cancelled (not charged)", obj.cancelled_amount),
                    ("Refunded", obj.refunded_amount),
                )
            ),
        )
        return format_html("<table><tbody>{}</tbody></table>", rows)

    @admin.display(description="Vendor operations")
    def operations(self, obj):
        return operations_table(operations_of(obj)[:10])

    def has_add_permission(self, request):
        return request.user.has_perm("billing.add_checkout")

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        """Start an acquisition checkout: pick the customer, then the dashboard's own checkout form
        (the partner's products, the customer's zones); the page then follows the checkout."""
        if not self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:billing_checkout_changelist"))
        # The customer comes in the query (after the first step) or with the form (scripts, tests).
        asked = (
            request.GET if "customer" in request.GET else request.POST if "customer" in request.POST else None
        )
        picked = CheckoutCustomerForm(asked)
        if not picked.is_valid():
            return self._service_form(
                request, picked, intro="Whom is the checkout for?", submit="Next", method="get"
            )
        customer = picked.cleaned_data["customer"]
        products = list(Product.objects.filter(partner=customer.partner, active=True).select_related("plan"))
        zones = list(CloudflareZone.objects.filter(customer=customer).order_by("name", "id"))
        form = CheckoutForm(request.POST or None, products=products, zones=zones)
        if request.method == "POST" and form.is_valid():
            try:
                checkout = acquisition.start_checkout(admin_actor(request), customer, form.lines())
            except DomainError as error:
                show_domain_error(form, error, form_field_for, with_code=True)
            else:
                self.message_user(
                    request, "Checkout started; the payment link appears once Digital River opens it."
                )
                return HttpResponseRedirect(reverse("admin:billing_checkout_change", args=[checkout.pk]))
        return self._service_form(
            request,
            form,
            intro=f"A Digital River checkout for {customer} ({customer.partner}). The customer pays on Digital "
            "River's page; what the products provide is ordered at the vendors once the order is accepted.",
            submit="Start the checkout",
        )

    def _service_form(self, request, form, *, intro: str, submit: str, method: str = "post"):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": "Start a checkout",
            "intro": intro,
            "submit": submit,
            "method": method,
            "has_view_permission": True,
        }
        return TemplateResponse(request, SERVICE_FORM_TEMPLATE, context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        checkout = self.get_object(request, object_id)
        waiting = checkout is not None and checkout.state in ("pending", "open")
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "refresh": waiting}
        )


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


@dataclass(frozen=True)
class Ending:
    """One way to end, keep or downgrade billing subscriptions from the admin: the service, and the
    words of its confirmation page and of each row's result."""

    code: str
    service: Callable  # (actor, subscription, **the form's answers)
    title: str
    intro: str
    confirm: str
    done: Callable  # (subscription, option, **the form's answers) -> what happened, for the row's message


ENDINGS = {
    CANCEL_WITH_REFUND: Ending(
        CANCEL_WITH_REFUND,
        cancellation.cancel_with_refund,
        "Cancel with a full refund",
        "This cannot be undone. DigiCert cancels each ACME contract first; once it confirms, the billing "
        "subscription is cancelled (at Digital River, or by the back office) and what the customer paid "
        "is refunded in full; the customer is told. Only inside DigiCert's 30 days.",
        "Yes, cancel and refund in full",
        lambda s, option: (
            "cancellation sent to DigiCert; once it confirms, billing is cancelled and "
            f"{cancellation.paid_amount(s)} {s.product.currency} refunded in full."
        ),
    ),
    STOP_RENEWAL: Ending(
        STOP_RENEWAL,
        cancellation.stop_renewal,
        "Stop renewal",
        "No further charge: what was sold runs to the end of the paid period, then ends. The ACME "
        "contract's renewal is stopped at DigiCert too.",
        "Stop renewal",
        lambda s, option: (
            f"renewal stopped; no further charge, it runs until {option.until:%Y-%m-%d}."
            if option and option.until
            else "renewal stopped; no further charge."
        ),
    ),
    RESUME_RENEWAL: Ending(
        RESUME_RENEWAL,
        cancellation.resume_renewal,
        "Resume renewal",
        "Renew again, while the paid period runs (subscriptions the back office renews only: Digital "
        "River cannot take a cancelled subscription back).",
        "Resume renewal",
        lambda s, option: (
            f"renewal resumed; it renews on {option.until:%Y-%m-%d}."
            if option and option.until
            else "renewal resumed."
        ),
    ),
}

SCHEDULE_DOWNGRADE, CANCEL_DOWNGRADE = "schedule_downgrade", "cancel_scheduled_downgrade"
DOWNGRADES = {
    SCHEDULE_DOWNGRADE: Ending(
        SCHEDULE_DOWNGRADE,
        changes.schedule_downgrade,
        "Schedule downgrade",
        "A cheaper product of the same plan that provides the same kind of service, on the same billing "
        "agreement. Nothing changes before the end of the paid period.",
        "Schedule the downgrade",
        lambda s, option, product: (
            f"downgrade to {product.name} scheduled: it takes effect on "
            f"{s.current_period_end_date:%Y-%m-%d}, at {product.price} {product.currency} from then."
        ),
    ),
    CANCEL_DOWNGRADE: Ending(
        CANCEL_DOWNGRADE,
        changes.cancel_scheduled_downgrade,
        "Cancel scheduled downgrade",
        "The scheduled downgrade is dropped: the subscription renews on its current product, at its "
        "current price.",
        "Cancel the downgrade",
        lambda s, option: f"scheduled downgrade cancelled; it renews at {s.price} {s.product.currency}.",
    ),
}


def scheduled_product(subscription: BillingSubscription) -> Product | None:
    if not subscription.scheduled_change:
        return None
    return Product.objects.filter(pk=subscription.scheduled_change.get("product")).first()


def scheduled_text(subscription: BillingSubscription, product: Product | None) -> str:
    """The scheduled downgrade in words: to what, at which price, from when."""
    end = subscription.current_period_end_date
    when = f" from {end:%Y-%m-%d}, the end of the paid period" if end else ""
    if product is None:
        return f"a product no longer in the catalog{when}"
    return f"{product.name} at {product.price} {product.currency}{when}"


class DowngradeForm(forms.Form):
    product = forms.ModelChoiceField(queryset=Product.objects.none(), widget=forms.RadioSelect)

    def __init__(self, subscription: BillingSubscription, offered, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["product"]
        # Offered: the downgrades; looked up: any of the partner's products (the service says which
        # is a downgrade, and its refusal is the row's message).
        field.queryset = Product.objects.filter(partner_id=subscription.partner_id)
        field.choices = [(p.pk, f"{p.name} ({p.price} {p.currency})") for p in offered]
        field.label = "Downgrade to"
        if len(offered) == 1:
            field.initial = offered[0].pk


def _row(subscription: BillingSubscription, option: EndingOption | None, reason: str = "") -> ConfirmRow:
    """A subscription on the confirmation page: what applies today and until when, or why nothing does."""
    if option is None:
        return ConfirmRow(subscription, refusal=reason, cells=("",))
    until = f"{option.until:%Y-%m-%d %H:%M:%S}" if option.until else ""
    return ConfirmRow(subscription, change=option.explanation, cells=(until,), data=option)


def downgrade_offer(subscription: BillingSubscription) -> tuple[ConfirmRow, list[Product]]:
    """The subscription's row (when the downgrade takes effect, at which price, or why there is none)
    and the products it can be downgraded to."""
    end = subscription.current_period_end_date
    products = []
    if subscription.scheduled_change:
        reason = (
            f"A downgrade is already scheduled: to {scheduled_text(subscription, scheduled_product(subscription))}. "
            "Cancel it first to choose another."
        )
    elif subscription.state not in RENEWING_STATES or subscription.ends_at_period_end or end is None:
        reason = "Only a live subscription that renews can be downgraded."
    else:
        products = list(changes.downgrade_products(subscription))
        reason = "" if products else "Nothing to downgrade to: no active, cheaper product of the same plan."
    if not products:
        return _row(subscription, None, reason), products
    prices = " or ".join(f"{p.price} {p.currency}" for p in products)
    price = f"price {prices}" if len(products) == 1 else f"price of the chosen product ({prices})"
    explanation = (
        f"Takes effect at the end of the paid period ({end:%Y-%m-%d}); the new {price} applies from then; "
        "until then the customer keeps what they paid for."
    )
    option = EndingOption(SCHEDULE_DOWNGRADE, end, explanation)
    return _row(subscription, option), products


def cancel_downgrade_rows(subscriptions) -> list[ConfirmRow]:
    """Each selected subscription with the downgrade that is dropped, or that none is scheduled."""
    products = Product.objects.in_bulk(
        [s.scheduled_change.get("product") for s in subscriptions if s.scheduled_change]
    )
    rows = []
    for s in subscriptions:
        if not s.scheduled_change:
            rows.append(_row(s, None, "No downgrade is scheduled."))
            continue
        explanation = (
            f"The downgrade to {scheduled_text(s, products.get(s.scheduled_change.get('product')))} is "
            f"dropped; it renews on {s.product.name} at {s.price} {s.product.currency}."
        )
        option = EndingOption(CANCEL_DOWNGRADE, s.current_period_end_date, explanation)
        rows.append(_row(s, option))
    return rows


def ending_rows(subscriptions, code: str, now) -> list[ConfirmRow]:
    """Each selected subscription with the option that applies today (explanation, until), or why not."""
    rows = []
    for subscription in subscriptions:
        options = cancellation.ending_options(subscription, now)
        option = next((o for o in options if o.code == code), None)
        if option is not None:
            reason = ""
        elif options:
            reason = "Does not apply today. " + " ".join(o.explanation for o in options)
        else:
            reason = f"Does not apply today: the subscription is {subscription.get_state_display().lower()}"
            reason += " and its renewal is stopped." if subscription.ends_at_period_end else "."
        rows.append(_row(subscription, option, reason))
    return rows


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
        "partner",
        "plan",
    ]
    search_fields = [
        "subscription_id",
        "billing_agreement_id",
        "payment_source_id",
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
        from django.db.models import Count

        return super().get_queryset(request).annotate(n_notices=Count("notices"))

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
    search_fields = ["subscription__subscription_id", "subscription__customer__name", "invoice_id"]
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


@admin.register(BillingAgreement)
class BillingAgreementAdmin(ReadOnlyAdmin):
    list_display = ["agreement_id", "customer", "first_order_id", "created_at", "superseded_at"]
    search_fields = ["agreement_id", "customer__name", "first_order_id"]
    list_select_related = ["customer"]


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "type", "event_id", "state_badge", "attempts", "processed_at", "error"]
    list_filter = ["state", "type"]
    search_fields = ["event_id", "type", "body"]
    readonly_fields = [
        "event_id",
        "type",
        "state_badge",
        "received_at",
        "processed_at",
        "attempts",
        "error",
        "signature",
        "pretty_body",
    ]
    fields = readonly_fields
    actions = ["replay"]

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj):
        return badge(obj.state, obj.get_state_display())

    @admin.display(description="Body (as received)")
    def pretty_body(self, obj):
        return format_html("<pre style='white-space:pre-wrap'>{}</pre>", obj.body)

    @admin.action(description="Replay selected events", permissions=["replay"])
    def replay(self, request, queryset):
        run_per_row(self, request, queryset, events.replay, success="{count} event(s) queued again.")

    def has_replay_permission(self, request):
        return request.user.has_perm("billing.replay_webhookevent")


@admin.register(RejectedWebhook)
class RejectedWebhookAdmin(ReadOnlyAdmin):
    """Webhook requests refused before anything was stored (no body is ever kept)."""

    list_display = ["received_at", "reason", "source_address", "body_bytes", "event_type", "detail"]
    list_filter = ["reason"]
    search_fields = ["source_address", "event_type"]
    date_hierarchy = "received_at"
    readonly_fields = list_display
    fields = readonly_fields
