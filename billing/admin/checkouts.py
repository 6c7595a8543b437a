"""Support staff's checkouts: the new-checkout form and each checkout's items and payment."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from billing.admin.common import SERVICE_FORM_TEMPLATE, badge
from billing.forms import CheckoutForm, form_field_for
from billing.models import (
    Checkout,
    CheckoutItem,
    Product,
)
from billing.services import acquisition
from core.admin_lists import BigTableAdmin, PartnerFilter
from core.admin_tools import (
    AuditTrailMixin,
    admin_actor,
    operations_table,
)
from core.errors import DomainError
from core.forms import show_domain_error
from partner.models import Customer
from subscriptions.cloudflare.models import CloudflareZone
from subscriptions.selectors import operations_of


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
class CheckoutAdmin(AuditTrailMixin, BigTableAdmin):
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
    list_filter = ["kind", "state", "charge_type", PartnerFilter]
    search_fields = [
        "^reference",
        "^order_id",
        "^session_id",
        "^checkout_id",
        "customer__name",
        "^billing_agreement_id",
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
