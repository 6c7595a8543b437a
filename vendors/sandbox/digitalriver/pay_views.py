"""The page a person uses to pay a Digital River checkout session as the customer would.

GET /sandbox/digitalriver/pay/<session id>/ shows the items, the plan's terms and the recurring
billing agreement the customer accepts, and a card form (brand, last four digits, expiry; by
default Visa 1111 expiring in three years) or the customer's saved sources. POST pays: the card
becomes a reusable source saved to the customer (the save-payment agreement), the checkout's
primary source and the order's payment.sources[0]; the order is accepted and only authorised
(nothing is captured before a fulfilment); draft subscriptions and billing agreements, events.
"Decline card" declines it (the session stays open). After paying, the customer is sent to the
session's `redirects.successUrl` when it has one.

GET/POST /sandbox/digitalriver/drop-in/payment-method/ stands in for Drop-in's "manage payment
methods" flow (see payment_method()).
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse

from vendors.sandbox.digitalriver import checkouts, lifecycle, sources
from vendors.sandbox.digitalriver.errors import DRError, PaymentDeclined
from vendors.sandbox.digitalriver.models import DRCheckoutSession, DRCustomer, DROrder, DRPlan, DRSource


def pay(request: HttpRequest, session_id: str) -> HttpResponse:
    session = DRCheckoutSession.objects.select_related("customer").filter(pk=session_id).first()
    if session is None:
        raise Http404("No such checkout session.")
    error, status = "", 200
    if request.method == "POST":
        decline = request.POST.get("action") == "decline"
        declined = None
        try:
            source_id, card = _payment_method(request)
            with transaction.atomic():
                lifecycle.run_due()
                try:
                    order = checkouts.pay_session(session, decline=decline, source_id=source_id, card=card)
                except PaymentDeclined as refusal:  # caught inside: what the failure changed is kept
                    order, declined = None, refusal
        except ValueError as wrong:
            error, status = str(wrong), 400
        except DRError as refused:
            error, status = str(refused), refused.status
        else:
            if declined is not None:
                error, status = declined.message, 402
            elif order is None:
                return HttpResponseRedirect(f"{reverse('sandbox-dr-pay', args=[session.pk])}?declined=1")
            else:
                success = (session.request.get("redirects") or {}).get("successUrl")
                if isinstance(success, str) and success.startswith(("http://", "https://")):
                    return HttpResponseRedirect(success)
                return HttpResponseRedirect(reverse("sandbox-dr-pay", args=[session.pk]))
        session.refresh_from_db()
    return render(request, "sandbox/digitalriver/pay.html", _context(session, error), status=status)


def _payment_method(request: HttpRequest) -> tuple[str | None, dict | None]:
    """A saved source the customer picked, or the card typed in (ValueError when it does not read)."""
    chosen = request.POST.get("source") or "new"
    if chosen != "new":
        return chosen, None
    defaults = sources.default_card()
    return None, sources.read_card(
        request.POST.get("brand") or defaults["brand"],
        request.POST.get("last_four") or defaults["lastFourDigits"],
        request.POST.get("expiration_month") or defaults["expirationMonth"],
        request.POST.get("expiration_year") or defaults["expirationYear"],
    )


def card_form_context(customer_id: str | None) -> dict:
    """What the card form shows: the default card and the customer's saved sources."""
    saved = (
        DRSource.objects.filter(customer_id=customer_id, state=DRSource.State.CHARGEABLE)
        if customer_id
        else []
    )
    return {"card": sources.default_card(), "brands": sources.BRANDS, "saved_sources": list(saved)}


def _context(session: DRCheckoutSession, error: str) -> dict:
    items = [item for item in session.request.get("items", []) if isinstance(item, dict)]
    plan_ids = {
        (item.get("subscriptionInfo") or {}).get("planId") for item in items if item.get("subscriptionInfo")
    }
    plans = {plan.pk: plan for plan in DRPlan.objects.filter(pk__in=[p for p in plan_ids if p])}
    lines, total = [], Decimal(0)
    for item in items:
        info = item.get("subscriptionInfo") if isinstance(item.get("subscriptionInfo"), dict) else None
        quantity = item.get("quantity") or 1
        amount = Decimal(str(item.get("aggregatePrice", (item.get("price") or 0) * quantity)))
        total += amount
        lines.append(
            {
                "sku": item.get("skuId"),
                "quantity": quantity,
                "amount": amount,
                "recurring": info is not None,
                "plan": plans.get((info or {}).get("planId")),
                "terms": (info or {}).get("terms", ""),
                "free_trial": bool((info or {}).get("freeTrial")),
            }
        )
    order = DROrder.objects.filter(checkout_id=session.checkout_id).first() if session.checkout_id else None
    return {
        "session": session,
        "lines": lines,
        "total": total,
        "recurring": any(line["recurring"] for line in lines),
        "order": order,
        "subscriptions": order.acquired_subscriptions.all() if order else [],
        "error": error,
        **card_form_context(session.customer_id),
    }


def payment_method(request: HttpRequest) -> HttpResponse:
    """Drop-in's "manage payment methods" stand-in: a new card, handed back to the merchant's page.

    GET /sandbox/digitalriver/drop-in/payment-method/?customerId=<id>&returnUrl=<url> shows a card
    form; POST makes a reusable card source, NOT saved to the customer (the merchant's server saves
    it, as with the real Drop-in), and sends the customer to returnUrl with `sourceId=<id>` added
    to its query. A returnUrl that is not http(s), or an unknown customer, is refused (400).
    """
    customer_id = request.GET.get("customerId") or request.POST.get("customerId") or ""
    return_url = request.GET.get("returnUrl") or request.POST.get("returnUrl") or ""
    error = ""
    if urlsplit(return_url).scheme not in ("http", "https") or not urlsplit(return_url).netloc:
        return _drop_in_page(request, customer_id, "", "returnUrl must be an http(s) address.", 400)
    if not DRCustomer.objects.filter(pk=customer_id).exists():
        return _drop_in_page(request, "", "", f"No customer {customer_id!r}.", 400)
    if request.method == "POST":
        try:
            card = sources.read_card(
                request.POST.get("brand"),
                request.POST.get("last_four"),
                request.POST.get("expiration_month"),
                request.POST.get("expiration_year"),
            )
            if sources.card_expired(card):
                raise ValueError("The card has expired.")
        except ValueError as wrong:
            error = str(wrong)
        else:
            with transaction.atomic():
                lifecycle.run_due()
                source = sources.create_source(card)
            return HttpResponseRedirect(_with_query(return_url, sourceId=source.pk))
    return _drop_in_page(request, customer_id, return_url, error, 400 if error else 200)


def _drop_in_page(request, customer_id: str, return_url: str, error: str, status: int) -> HttpResponse:
    context = {
        "customer_id": customer_id,
        "return_url": return_url,
        "error": error,
        **card_form_context(None),
    }
    return render(request, "sandbox/digitalriver/drop_in.html", context, status=status)


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


urlpatterns = [
    path("pay/<str:session_id>/", pay, name="sandbox-dr-pay"),
    path("drop-in/payment-method/", payment_method, name="sandbox-dr-drop-in-payment-method"),
]
