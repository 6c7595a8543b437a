"""Billing faces: the Digital River webhook endpoint (it only hands the raw request to the service)
and the reseller dashboard's billing pages."""

from datetime import timedelta

from django.contrib import messages
from django.core import signing
from django.db.models import Prefetch
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing import dashboard_selectors as reads
from billing import selectors
from billing.forms import CheckoutForm, form_field_for
from billing.models import RENEWING_STATES, CheckoutItem, CheckoutState, Notice, Product
from billing.services import acquisition, cancellation, changes, events, payment_methods
from billing.services.cancellation import CANCEL_WITH_REFUND, RESUME_RENEWAL, STOP_RENEWAL
from core import audit, clock, operations
from core import dashboard as dash
from core.errors import DomainError, NotFound, PermissionDenied
from core.models import OperationState
from partner import selectors as partner_selectors
from partner.access import Can, can
from partner.views import (
    ActionView,
    CustomerObjectMixin,
    MemberMixin,
    MemberTemplateView,
    ServiceFormView,
    paginate,
)
from subscriptions.acme.dashboard.views import progress_context, progress_response
from subscriptions.cloudflare.selectors import cloudflare_zones_for
from subscriptions.selectors import operations_of


@csrf_exempt
@require_POST
def digitalriver_webhook(request):
    """Throttle, size, verify, then store and acknowledge; processing happens in a task. The body
    is read by the service, at most the size limit (never request.body)."""
    answer = events.receive(
        request.read,
        content_length=request.META.get("CONTENT_LENGTH"),
        signature=request.headers.get("DigitalRiver-Signature", ""),
        source=request.META.get("REMOTE_ADDR", ""),
    )
    response = JsonResponse(answer.json, status=answer.status)
    if answer.retry_after:
        response["Retry-After"] = str(answer.retry_after)
    return response


# --- The customer's own payment-method link (from the dunning e-mail; no sign-in) ----------------


def payment_method(request, token: str):
    """Send the customer to Digital River's Drop-in to enter a new card; it returns below."""
    from django.http import HttpResponseRedirect

    from billing.services import payment_methods

    try:
        customer = payment_methods.customer_from_token(token)
    except DomainError as error:
        return render(request, "billing/payment_method_done.html", {"error": error.message}, status=400)
    back = request.build_absolute_uri(reverse("payment-method-return", args=[token]))
    return HttpResponseRedirect(payment_methods.dropin_url(customer, back))


def payment_method_return(request, token: str):
    """Drop-in came back with the new source: save it and use it for the customer's subscriptions."""
    from billing.services import payment_methods
    from core.actor import Actor, Face

    try:
        customer = payment_methods.customer_from_token(token)
        payment_methods.change_payment_method(
            Actor.system(Face.DASHBOARD), customer, request.GET.get("sourceId", "")
        )
    except DomainError as error:
        return render(request, "billing/payment_method_done.html", {"error": error.message}, status=400)
    return render(request, "billing/payment_method_done.html", {"customer": customer})


# --- The reseller dashboard's billing pages -----------------------------------------------------
# Renewals by week, billing agreements, a subscription's notices, and starting a Digital River
# checkout for a customer, then following it live; changing a customer's payment method through
# Digital River's Drop-in. Reads go through scoped selectors; each write calls one billing service
# and shows its refusals in Digital River's words.


RETURN_SALT = "billing.dashboard.payment-method-return"
RETURN_MAX_AGE = 3600  # the member enters the card at the Drop-in now, not tomorrow


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class BillingTabsMixin:
    nav = "renewals"

    def billing_context(self, tab: str) -> dict:
        return {"tab": tab, "can_bill": can(self.actor, Can.MANAGE_BILLING)}


class RenewalsView(BillingTabsMixin, MemberTemplateView):
    """Renewals of the next 12 weeks by week (or as a month calendar), what needs attention on top."""

    template_name = "dashboard/billing/renewals.html"
    title = "Renewals"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        params, now = self.request.GET, clock.now()
        today = now.date()
        customer_id = _int(params.get("customer"))
        state = params.get("state", "")
        rows = reads.upcoming_renewals(self.actor, today, customer_id=customer_id, state=state)
        view = "calendar" if params.get("view") == "calendar" else "weeks"
        months = []
        if view == "calendar":
            month = today.replace(day=1)
            for _ in range(3):
                months.append({"month": month, "weeks": reads.month_calendar(rows, month)})
                month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
        held = list(reads.held_renewals(self.actor)[:50])
        failed = list(reads.failed_renewals(self.actor)[:50])
        failed_payments = list(reads.failed_payments(self.actor)[:50])
        if customer_id:
            held = [r for r in held if r.subscription.customer_id == customer_id]
            failed = [r for r in failed if r.subscription.customer_id == customer_id]
            failed_payments = [s for s in failed_payments if s.customer_id == customer_id]
        filters = {"customer": params.get("customer", ""), "state": state, "view": view}
        query = "&".join(f"{k}={v}" for k, v in filters.items() if v and k != "view")
        context.update(
            self.billing_context("renewals"),
            now=now,
            today=today,
            weeks=reads.by_week(rows, today),
            months=months,
            view=view,
            count=len(rows),
            held=held,
            failed=failed,
            failed_payments=failed_payments,
            late=[row for row in rows if row.reminder_missing(today) and row.renewal is None],
            customers=list(
                partner_selectors.customers_for(self.actor).order_by("name").values_list("pk", "name")
            ),
            filters=filters,
            state_filters=reads.STATE_FILTERS,
            filtered=bool(customer_id or state),
            export_query=query,
        )
        return context


class AgreementsView(BillingTabsMixin, MemberTemplateView):
    """Every billing agreement, its customer, first order and the subscriptions charged on it."""

    template_name = "dashboard/billing/agreements.html"
    title = "Billing agreements"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        customer_id = _int(self.request.GET.get("customer"))
        agreements = list(reads.agreements(self.actor, customer_id)[:200])
        on = reads.subscriptions_on_agreements(self.actor, [a.agreement_id for a in agreements])
        context.update(
            self.billing_context("agreements"),
            rows=[(a, on.get(a.agreement_id, [])) for a in agreements],
            customers=list(
                partner_selectors.customers_for(self.actor).order_by("name").values_list("pk", "name")
            ),
            filters={"customer": self.request.GET.get("customer", "")},
        )
        return context


class CheckoutsView(BillingTabsMixin, MemberTemplateView):
    """Acquisition and renewal checkouts, newest first: where each stands at Digital River."""

    template_name = "dashboard/billing/checkouts.html"
    title = "Checkouts"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        checkouts = selectors.checkouts_for(self.actor).order_by("-created_at", "-id")
        page, query = paginate(self.request, checkouts)
        context.update(self.billing_context("checkouts"), page=page, query=query, rows=list(page.object_list))
        return context


class SubscriptionMixin:
    def get_subscription(self):
        if not hasattr(self, "_subscription"):
            self._subscription = partner_selectors.get_or_404(
                selectors.subscriptions_for(self.actor)
                .select_related("acquisition")
                .prefetch_related(
                    Prefetch("notices", queryset=Notice.objects.order_by("-created_at", "-id"))
                ),
                pk=self.kwargs["pk"],
            )
        return self._subscription


class SubscriptionDetailView(SubscriptionMixin, BillingTabsMixin, MemberTemplateView):
    """One billing subscription: its dates, agreement, provisioning and every notice sent."""

    template_name = "dashboard/billing/subscription.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        subscription = self.get_subscription()
        currency = subscription.product.currency
        can_bill = can(self.actor, Can.MANAGE_BILLING)
        now = clock.now()
        context.update(
            self.billing_context("renewals"),
            subscription=subscription,
            page_title=str(subscription),
            renewed_by=reads.renewed_by(subscription.plan.engine),
            run_by_digital_river=subscription.run_by_digital_river,
            payment_source=reads.mask_source(subscription.payment_source_id),
            notices=[(n, reads.notice_details(n.details, currency)) for n in subscription.notices.all()],
            renewals=list(subscription.renewals.select_related("checkout").order_by("-renewal_date")[:24]),
            timeline=audit.events_for(subscription)[:30],
            now=now,
            can_retry_provisioning=bool(subscription.provisioning_error) and can_bill,
            can_change_payment_method=can_bill,
            downgrades=list(changes.downgrade_products(subscription))
            if can_bill and subscription.state in RENEWING_STATES and not subscription.ends_at_period_end
            else [],
            scheduled_product=Product.objects.filter(pk=subscription.scheduled_change.get("product")).first()
            if subscription.scheduled_change
            else None,
            **ending_today(subscription, now),
        )
        return context


def ending_today(subscription, now) -> dict:
    """What the page says about ending the subscription today: each option with until when it
    applies (billing.services.cancellation decides), and why there is none."""
    options = cancellation.ending_options(subscription, now)
    codes = {option.code for option in options}
    end = subscription.current_period_end_date
    stopped = ""
    if subscription.ends_at_period_end and subscription.state in RENEWING_STATES and end and now < end:
        stopped = f"Renewal is stopped: no further charge; it runs until {end:%d %b %Y} and then ends."
        if subscription.run_by_digital_river:
            stopped += (
                " Digital River cannot take a cancelled subscription back; sell it again in a new checkout."
            )
    if codes or stopped:
        why_none = ""
    elif subscription.state not in RENEWING_STATES:
        why_none = f"Nothing can change: the subscription is {subscription.get_state_display().lower()}."
    elif subscription.ends_at_period_end:
        why_none = "Renewal is stopped and the paid period has ended."
    else:
        why_none = "Nothing can change today."
    return {
        "ending_options": options,
        "ending_codes": codes,
        "ending_none": why_none,
        "ending_stopped": stopped,
    }


# code -> (service, page heading, button, success message for the subscription and its option)
ENDINGS = {
    CANCEL_WITH_REFUND: (
        cancellation.cancel_with_refund,
        "Cancel with a full refund",
        "Cancel and refund in full",
        lambda s, option: (
            "Cancellation sent to DigiCert. Once it confirms, the billing subscription is cancelled, "
            f"{cancellation.paid_amount(s)} {s.product.currency} is refunded in full and the customer is told."
        ),
    ),
    STOP_RENEWAL: (
        cancellation.stop_renewal,
        "Stop renewal",
        "Stop renewal",
        lambda s, option: (
            f"Renewal stopped: no further charge; it runs until {option.until:%d %b %Y} and then ends."
            if option and option.until
            else "Renewal stopped: no further charge."
        ),
    ),
    RESUME_RENEWAL: (
        cancellation.resume_renewal,
        "Resume renewal",
        "Resume renewal",
        lambda s, option: (
            f"Renewal resumed: it renews on {option.until:%d %b %Y}."
            if option and option.until
            else "Renewal resumed."
        ),
    ),
}


class SubscriptionEndingView(SubscriptionMixin, BillingTabsMixin, MemberTemplateView):
    """Cancel with a full refund / stop renewal / resume renewal. GET: the page saying whether it
    applies today and until when (cancelling is irreversible: it is confirmed here); POST: the
    service, then back to the subscription, or its refusal on this page."""

    template_name = "dashboard/billing/ending.html"
    capability = Can.MANAGE_BILLING
    action = ""

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        subscription, now = self.get_subscription(), clock.now()
        today = ending_today(subscription, now)
        _, heading, button, _ = ENDINGS[self.action]
        context.update(
            self.billing_context("renewals"),
            subscription=subscription,
            action=self.action,
            heading=heading,
            button=button,
            page_title=heading,
            option=next((o for o in today["ending_options"] if o.code == self.action), None),
            paid=cancellation.paid_amount(subscription),
            **today,
        )
        return context

    def post(self, request, *args, **kwargs):
        subscription = self.get_subscription()
        service, _, _, success = ENDINGS[self.action]
        option = next((o for o in cancellation.ending_options(subscription) if o.code == self.action), None)
        try:
            service(self.actor, subscription)
        except (NotFound, PermissionDenied):
            raise  # the member gate answers 404 / 403
        except DomainError as error:
            self._subscription = self.fresh_subscription()
            context = self.get_context_data(**kwargs)
            context["error"] = error
            return self.render_to_response(context, status=error.http_status)
        messages.success(request, success(subscription, option))
        return redirect("dashboard:billing-subscription", pk=subscription.pk)

    def fresh_subscription(self):
        del self._subscription
        return self.get_subscription()


class SubscriptionDowngradeView(SubscriptionMixin, ActionView):
    """Downgrade at the end of the paid period (same agreement, the lower price from then)."""

    capability = Can.MANAGE_BILLING

    def get_target(self):
        return self.get_subscription()

    def perform(self, subscription) -> str:
        product = Product.objects.filter(pk=_int(self.request.POST.get("product"))).first()
        if product is None:
            from core.errors import ValidationFailed

            raise ValidationFailed("Choose the product to move to.", fields={"product": "Required."})
        changes.schedule_downgrade(self.actor, subscription, product)
        end = subscription.current_period_end_date
        return f"Downgrade to {product.name} scheduled: it takes effect on {end:%d %b %Y}, at {product.price} {product.currency} from then."

    def next_url(self, subscription) -> str:
        return reverse("dashboard:billing-subscription", args=[subscription.pk])


class SubscriptionCancelDowngradeView(SubscriptionDowngradeView):
    """Drop the scheduled downgrade before it takes effect: it renews on its current product and price."""

    def perform(self, subscription) -> str:
        changes.cancel_scheduled_downgrade(self.actor, subscription)
        return (
            f"Scheduled downgrade cancelled: it renews on {subscription.product.name} at "
            f"{subscription.price} {subscription.product.currency}."
        )


class ProvisioningRetryView(SubscriptionMixin, ActionView):
    """Try provisioning again once the cause of its refusal is fixed (e.g. the subaccount now exists)."""

    capability = Can.MANAGE_BILLING

    def get_target(self):
        return self.get_subscription()

    def perform(self, subscription) -> str:
        acquisition.retry_provisioning(self.actor, subscription)
        return "Provisioning is queued again."

    def next_url(self, subscription) -> str:
        return reverse("dashboard:billing-subscription", args=[subscription.pk])


class PaymentMethodStartView(CustomerObjectMixin, MemberMixin, View):
    """The "Change payment method" button: off to Digital River's Drop-in, which comes back below
    with the new source (the button is a POST so only a click by a billing member makes a link)."""

    capability = Can.MANAGE_BILLING
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        customer = self.get_customer()
        back = _int(request.POST.get("subscription"))
        token = signing.dumps(
            {"customer": customer.pk, "user": request.user.pk, "subscription": back}, salt=RETURN_SALT
        )
        return_url = request.build_absolute_uri(
            reverse("dashboard:billing-payment-method-return", args=[customer.pk, token])
        )
        return HttpResponseRedirect(payment_methods.dropin_url(customer, return_url))


class PaymentMethodReturnView(CustomerObjectMixin, MemberMixin, View):
    """Drop-in came back with `?sourceId=`: the customer's new card, through the billing service;
    back to the page the button was on with the outcome. Only a return link this member was given
    a moment ago is taken (signed, for this customer and user), so a crafted link changes nothing."""

    capability = Can.MANAGE_BILLING

    def get(self, request, *args, **kwargs):
        customer = self.get_customer()
        try:
            data = signing.loads(kwargs["token"], salt=RETURN_SALT, max_age=RETURN_MAX_AGE)
        except signing.BadSignature:
            data = {}
        back = _int(data.get("subscription"))
        next_url = (
            reverse("dashboard:billing-subscription", args=[back])
            if back
            else reverse("dashboard:customer", args=[customer.pk])
        )
        if data.get("customer") != customer.pk or data.get("user") != request.user.pk:
            messages.error(
                request, "This payment-method return link is not valid or has expired; start again."
            )
            return redirect(next_url)
        try:
            payment_methods.change_payment_method(self.actor, customer, request.GET.get("sourceId", ""))
        except DomainError as error:
            dash.flash_domain_error(request, error)
        else:
            messages.success(
                request,
                "New payment method received: Digital River saves it, and the customer's subscriptions "
                "are charged to it from their next renewal (same billing agreement).",
            )
        return redirect(next_url)


class CheckoutStartView(CustomerObjectMixin, BillingTabsMixin, ServiceFormView):
    """Start a Digital River checkout for the customer: product, quantity, extra item, what to provision."""

    template_name = "dashboard/billing/checkout_form.html"
    form_class = CheckoutForm
    capability = Can.MANAGE_BILLING
    title = "Start a checkout"

    def get_form_kwargs(self):
        customer = self.get_customer()
        products = list(selectors.products_for(self.actor).filter(partner=customer.partner, active=True))
        zones = list(cloudflare_zones_for(self.actor).filter(customer=customer).order_by("name", "id"))
        return {**super().get_form_kwargs(), "products": products, "zones": zones}

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.update(self.billing_context("checkouts"), customer=self.get_customer())
        return context

    def form_valid(self, form):
        try:
            checkout = acquisition.start_checkout(self.actor, self.get_customer(), form.lines())
        except DomainError as error:
            dash.show_domain_error(form, error, form_field_for)
            return self.form_invalid(form)
        messages.success(self.request, "Checkout started: Digital River is opening it. This page follows it.")
        return redirect("dashboard:checkout", pk=checkout.pk)


class CheckoutPickView(BillingTabsMixin, MemberMixin, View):
    """From the billing pages: pick the customer, then the checkout form (works without JavaScript)."""

    capability = Can.MANAGE_BILLING

    def get(self, request, *args, **kwargs):
        customer = partner_selectors.get_or_404(
            partner_selectors.customers_for(self.actor), pk=_int(request.GET.get("customer")) or 0
        )
        return redirect("dashboard:checkout-start", pk=customer.pk)


class CheckoutMixin:
    def get_checkout(self):
        if not hasattr(self, "_checkout"):
            self._checkout = partner_selectors.get_or_404(
                selectors.checkouts_for(self.actor), pk=self.kwargs["pk"]
            )
        return self._checkout

    def checkout_url(self, checkout) -> str:
        return reverse("dashboard:checkout", args=[checkout.pk])

    def progress(self, checkout, operation) -> dict:
        return progress_context(
            operation,
            progress_url=reverse("dashboard:checkout-progress", args=[checkout.pk]),
            retry_url=reverse("dashboard:checkout-retry", args=[checkout.pk])
            if can(self.actor, Can.MANAGE_BILLING)
            else "",
            vendor="Digital River",
        )


class CheckoutDetailView(CheckoutMixin, BillingTabsMixin, MemberTemplateView):
    """A checkout: its opening at Digital River live, then the payment link, the order and the
    subscriptions it sells with their provisioning."""

    template_name = "dashboard/billing/checkout.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        checkout = self.get_checkout()
        history = list(operations_of(checkout)[:5])
        operation = history[0] if history else None
        items = list(
            CheckoutItem.objects.filter(checkout=checkout)
            .select_related("product__plan", "subscription")
            .order_by("id")
        )
        subscriptions = [item.subscription for item in items if item.subscription]
        latest = operations.latest_by_target(subscriptions)
        context.update(
            self.billing_context("checkouts"),
            checkout=checkout,
            page_title=f"Checkout for {checkout.customer.name}",
            **self.progress(checkout, operation),
            busy=operation is not None and operation.state == OperationState.PENDING,
            items=items,
            subscriptions=[(s, latest.get(s.pk)) for s in subscriptions],
            awaiting_payment=checkout.state == CheckoutState.OPEN,
            payment_source=reads.mask_source(checkout.source_id),
            timeline=audit.events_for(checkout)[:20],
        )
        return context


class CheckoutProgressView(CheckoutMixin, MemberMixin, View):
    """The live part of the checkout's opening (htmx polls it); once it ends, the page reloads."""

    def get(self, request, *args, **kwargs):
        checkout = self.get_checkout()
        operation = operations_of(checkout).first()
        return progress_response(request, self.progress(checkout, operation), self.checkout_url(checkout))


class CheckoutRetryView(CheckoutMixin, MemberMixin, View):
    """Open a checkout again after Digital River failed to (its last operation failed)."""

    capability = Can.MANAGE_BILLING
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        checkout = self.get_checkout()
        try:
            operation = acquisition.retry_checkout(self.actor, checkout)
        except DomainError as error:
            dash.flash_domain_error(request, error)
        else:
            messages.success(request, f"{operation.label} is queued again.")
        return redirect(self.checkout_url(checkout))
