"""Digital River API emulator, under /sandbox/digitalriver/ (vendors.md 3).

Bearer auth with settings.DIGITALRIVER_API_KEY (anything else: 401 unauthorized); errors in
Digital River's envelope `{"type", "errors": [{"code", "parameter", "message"}]}`; lists as
`{"hasMore", "data"}`, newest first, with `limit` (1..100, default 10), `startingAfter` and
`endingBefore` (which wins when both are given).

Endpoints: plans (create with our id, read, list, update, delete), customers (create, read,
update, save and remove sources), sources (read), drop-in checkout sessions, checkouts (with
attaching and detaching the primary source), orders (which only authorise), fulfillments (which
capture and cancel), refunds (of captured money, of an order or an invoice), subscriptions
(read, list, activate, cancel, update, delete a draft), the subscription service's invoices
(read, list) and events.
The rules live in vendors.sandbox.digitalriver; the customer's pages are in digitalriver_pay.
Every request first applies what the sandbox clock has made due (reminders, invoices, retries,
failures, lapses, ends).
"""

from __future__ import annotations

import hmac
import re
import uuid
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import re_path, reverse

from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.digitalriver import checkouts, fulfillments, lifecycle, refunds, sources
from vendors.sandbox.digitalriver.checkouts import metadata_of
from vendors.sandbox.digitalriver.errors import (
    DRError,
    PaymentDeclined,
    conflict,
    invalid,
    missing,
    not_found,
    refuse_unknown,
)
from vendors.sandbox.digitalriver.events import emit, webhook_url
from vendors.sandbox.digitalriver.models import (
    DRCheckout,
    DRCustomer,
    DREvent,
    DRFulfillment,
    DRInvoice,
    DROrder,
    DRPlan,
    DRRefund,
    DRSource,
    DRSubscription,
    new_dr_id,
    new_dr_number,
)
from vendors.sandbox.digitalriver.render import (
    checkout_json,
    customer_json,
    event_json,
    fulfillment_json,
    invoice_json,
    order_json,
    plan_json,
    refund_json,
    session_json,
    source_json,
    subscription_json,
)
from vendors.sandbox.state import Vendor
from vendors.sandbox.views import Refusal, json_body, sandbox_endpoint

BASE_PATH = "/digitalriver"
DEFAULT_LIMIT, MAX_LIMIT = 10, 100

PLAN_FIELDS = {
    "id", "name", "terms", "contractBindingDays", "interval", "intervalCount", "reminderOffsetDays",
    "billingOffsetDays", "collectionPeriodDays", "state", "metadata",
}  # fmt: skip
PLAN_REQUIRED = (
    "terms", "contractBindingDays", "interval", "intervalCount", "billingOffsetDays", "collectionPeriodDays",
)  # fmt: skip
PLAN_UPDATABLE = {
    "name": "name",
    "reminderOffsetDays": "reminder_offset_days",
    "billingOffsetDays": "billing_offset_days",
    "collectionPeriodDays": "collection_period_days",
    "state": "state",
    "metadata": "metadata",
}
PLAN_STAMPS = {"active": "activated_at", "discontinued": "discontinued_at", "deactivated": "deactivated_at"}
CUSTOMER_FIELDS = {
    "defaultSourceId", "email", "enabled", "id", "locale", "metadata", "shipping", "taxCertificate", "type",
}  # fmt: skip
CUSTOMER_UPDATABLE = {"defaultSourceId", "email", "enabled", "locale", "metadata", "type"}


def fault_error(status: int, message: str) -> HttpResponse:
    """An injected HTTP fault, in the envelope; its code is the type (internal_server_error...)."""
    error = DRError(status, "", message)
    error.code = error.type
    return error.response()


endpoint = sandbox_endpoint(Vendor.DIGITALRIVER, BASE_PATH, fault_error)


def api(*methods: str):
    """A Digital River endpoint: faults and log, the methods it answers, the key, the clock's due work."""

    def decorator(view: Callable[..., HttpResponse]):
        @endpoint
        @wraps(view)
        def answer(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method not in methods:
                return DRError(
                    405, "method_not_allowed", f"Method {request.method} is not allowed here."
                ).response()
            _authorize(request)
            lifecycle.run_due()
            try:
                return view(request, *args, **kwargs)
            except PaymentDeclined as declined:
                return declined.response()  # what the failed payment changed is kept
            except DRError as error:
                raise Refusal(error.response()) from None

        return answer

    return decorator


def _authorize(request: HttpRequest) -> None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    expected = settings.DIGITALRIVER_API_KEY or ""
    if not (scheme.lower() == "bearer" and expected and hmac.compare_digest(key.strip(), expected)):
        raise Refusal(DRError(401, "unauthorized", "The API key is missing or not valid.").response())


def _body(request: HttpRequest) -> dict:
    return json_body(request, lambda message: DRError(400, "invalid_request", message).response())


def _created(body: dict) -> JsonResponse:
    return JsonResponse(body, status=201)


# --- Lists ---------------------------------------------------------------------------------------


def _values(request: HttpRequest, name: str) -> list[str]:
    """A query parameter's values, repeated (`a=1&a=2`) or comma-separated."""
    return [value for raw in request.GET.getlist(name) for value in raw.split(",") if value]


def _filtered(
    request: HttpRequest, found: QuerySet, columns: tuple[tuple[str, str], ...], *, by_ids: bool = False
) -> QuerySet:
    """`found` narrowed to each given query parameter's value (its column) and, `by_ids`, to `ids`."""
    for parameter, column in columns:
        if request.GET.get(parameter):
            found = found.filter(**{column: request.GET[parameter]})
    if by_ids and _values(request, "ids"):
        found = found.filter(pk__in=_values(request, "ids"))
    return found


def _found(found: QuerySet, what: str, identifier: str, parameter: str = "id", *, field: str = "pk"):
    """The row of `found` whose `field` is `identifier`, or Digital River's 404 for that `what`."""
    row = found.filter(**{field: identifier}).first()
    if row is None:
        raise not_found(what, identifier, parameter)
    return row


def _page(
    request: HttpRequest,
    found: QuerySet,
    render: Callable,
    *,
    keys: tuple[str, ...] = ("created_at", "pk"),
    lookup: str = "pk",
) -> JsonResponse:
    """One page of `found`, newest first, by Digital River's cursors."""
    raw_limit = request.GET.get("limit") or str(DEFAULT_LIMIT)
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_LIMIT:
        raise DRError(400, "invalid_parameter", f"limit must be between 1 and {MAX_LIMIT}.", "limit")
    limit = int(raw_limit)
    before, after = request.GET.get("endingBefore"), request.GET.get("startingAfter")
    newest_first = found.order_by(*(f"-{key}" for key in keys))
    if before:
        cursor = _cursor(found, lookup, before, "endingBefore")
        rows = list(found.filter(_beyond(cursor, keys, newer=True)).order_by(*keys)[: limit + 1])
        has_more, rows = len(rows) > limit, list(reversed(rows[:limit]))
    else:
        if after:
            newest_first = newest_first.filter(
                _beyond(_cursor(found, lookup, after, "startingAfter"), keys, newer=False)
            )
        rows = list(newest_first[: limit + 1])
        has_more, rows = len(rows) > limit, rows[:limit]
    return JsonResponse({"hasMore": has_more, "data": [render(row) for row in rows]})


def _cursor(found: QuerySet, lookup: str, value: str, parameter: str):
    cursor = found.model.objects.filter(**{lookup: value}).first()
    if cursor is None:
        raise invalid(parameter, f"{value} is not an object of this list.")
    return cursor


def _beyond(cursor, keys: tuple[str, ...], *, newer: bool) -> Q:
    """Rows after the cursor in (keys) order: newer (greater) or older (smaller)."""
    operator = "gt" if newer else "lt"
    condition, equal = Q(), {}
    for key in keys:
        condition |= Q(**equal, **{f"{key}__{operator}": getattr(cursor, key)})
        equal[key] = getattr(cursor, key)
    return condition


# --- Plans ---------------------------------------------------------------------------------------


@api("GET", "POST")
def plans(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _created(plan_json(_create_plan(_body(request))))
    found = DRPlan.objects.all()
    if request.GET.get("state"):
        found = found.filter(state=request.GET["state"])
    if request.GET.get("interval"):
        found = found.filter(interval=request.GET["interval"])
    return _page(request, found, plan_json)


def _create_plan(body: dict) -> DRPlan:
    refuse_unknown(body, PLAN_FIELDS, "a plan")
    for name in PLAN_REQUIRED:
        if name not in body:
            raise missing(name)
    plan_id = body.get("id")
    if plan_id is not None and (
        not isinstance(plan_id, str) or not plan_id or len(plan_id) > 100 or re.search(r"\s", plan_id)
    ):
        raise invalid("id", "id must be a string of at most 100 characters without whitespace.")
    if not isinstance(body["terms"], str) or not body["terms"].strip():
        raise invalid("terms", "terms must be the text the customer agrees to.")
    if body["interval"] not in DRPlan.Interval.values:
        raise invalid("interval", f"interval must be one of {', '.join(DRPlan.Interval.values)}.")
    fields = {
        "contract_binding_days": _days(body, "contractBindingDays", nullable=False),
        "interval_count": _days(body, "intervalCount", nullable=False, least=1),
        "reminder_offset_days": _days(body, "reminderOffsetDays", least=None),
        "billing_offset_days": _days(body, "billingOffsetDays"),
        "collection_period_days": _days(body, "collectionPeriodDays"),
    }
    state = body.get("state", DRPlan.State.ACTIVE)
    if state not in DRPlan.State.values:
        raise invalid("state", f"state must be one of {', '.join(DRPlan.State.values)}.")
    name = body.get("name")
    if name is not None and not isinstance(name, str):
        raise invalid("name", "name must be a string.")
    if plan_id and DRPlan.objects.filter(pk=plan_id).exists():
        raise conflict("already_exists", f"Plan {plan_id} already exists.", "id")
    now = sandbox_now()
    plan = DRPlan(
        id=plan_id or new_dr_id(),
        name=name,
        terms=body["terms"],
        interval=body["interval"],
        state=state,
        metadata=metadata_of(body.get("metadata"), "metadata"),
        created_at=now,
        updated_at=now,
        **fields,
    )
    if state in PLAN_STAMPS:
        setattr(plan, PLAN_STAMPS[state], now)
    plan.save(force_insert=True)
    return plan


def _days(body: dict, name: str, *, nullable: bool = True, least: int | None = 0) -> int | None:
    """A whole number of days (reminderOffsetDays may be negative: no more reminders)."""
    value = body.get(name)
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or (least is not None and value < least):
        at_least = f" of at least {least}" if least is not None else ""
        raise invalid(name, f"{name} must be a whole number{at_least}.")
    return value


@api("GET", "POST", "DELETE")
def plan_detail(request: HttpRequest, plan_id: str) -> HttpResponse:
    plan = _found(DRPlan.objects.all(), "Plan", plan_id)
    if request.method == "GET":
        return JsonResponse(plan_json(plan))
    if request.method == "DELETE":
        if plan.subscriptions.exists():
            raise conflict(
                "invalid_request", f"Plan {plan_id} has subscriptions; deactivate it instead.", "id"
            )
        plan.delete()
        return HttpResponse(status=204)
    return JsonResponse(plan_json(_update_plan(plan, _body(request))))


def _update_plan(plan: DRPlan, body: dict) -> DRPlan:
    for name in body:
        if name in PLAN_FIELDS and name not in PLAN_UPDATABLE:
            raise invalid(name, f"{name} cannot be updated: terms and the billing cycle are fixed.")
        if name not in PLAN_UPDATABLE:
            raise DRError(400, "unknown_parameter", f"{name} is not a parameter of a plan.", name)
    now = sandbox_now()
    for name in ("reminderOffsetDays", "billingOffsetDays", "collectionPeriodDays"):
        if name in body:
            least = None if name == "reminderOffsetDays" else 0
            setattr(plan, PLAN_UPDATABLE[name], _days(body, name, least=least))
    if "name" in body:
        if body["name"] is not None and not isinstance(body["name"], str):
            raise invalid("name", "name must be a string.")
        plan.name = body["name"]
    if "metadata" in body:
        plan.metadata = metadata_of(body["metadata"], "metadata")
    if "state" in body and body["state"] != plan.state:
        if body["state"] not in DRPlan.State.values:
            raise invalid("state", f"state must be one of {', '.join(DRPlan.State.values)}.")
        if plan.state == DRPlan.State.DEACTIVATED:
            raise invalid("state", "A deactivated plan stays deactivated.")
        plan.state = body["state"]
        if plan.state in PLAN_STAMPS:
            setattr(plan, PLAN_STAMPS[plan.state], now)
    plan.updated_at = now
    plan.save()
    return plan


# --- Customers -------------------------------------------------------------------------------------


@api("GET", "POST")
def customers(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        found = DRCustomer.objects.all()
        if request.GET.get("email"):
            found = found.filter(email=request.GET["email"])
        if _values(request, "ids"):
            found = found.filter(pk__in=_values(request, "ids"))
        return _page(request, found, customer_json)
    body = _body(request)
    refuse_unknown(body, CUSTOMER_FIELDS, "a customer")
    customer_id = body.get("id")
    if customer_id is not None and (not isinstance(customer_id, str) or not customer_id.strip()):
        raise invalid("id", "id must be a non-empty string.")
    email = body.get("email") or ""
    if not isinstance(email, str) or (email and "@" not in email):
        raise invalid("email", "email must be an e-mail address.")
    customer_type = body.get("type", "individual")
    if customer_type not in ("individual", "business"):
        raise invalid("type", "type must be individual or business.")
    if customer_id and DRCustomer.objects.filter(pk=customer_id).exists():
        raise conflict("already_exists", f"Customer {customer_id} already exists.", "id")
    now = sandbox_now()
    customer = DRCustomer.objects.create(
        id=customer_id or new_dr_number(),
        email=email,
        type=customer_type,
        metadata=metadata_of(body.get("metadata"), "metadata"),
        created_at=now,
        updated_at=now,
    )
    return _created(customer_json(customer))


def _customer(customer_id: str) -> DRCustomer:
    customer = _found(DRCustomer.objects.select_for_update(), "Customer", customer_id)
    return customer


@api("GET", "POST")
def customer_detail(request: HttpRequest, customer_id: str) -> HttpResponse:
    customer = _customer(customer_id)
    if request.method == "POST":
        _update_customer(customer, _body(request))
    return JsonResponse(customer_json(customer))


def _update_customer(customer: DRCustomer, body: dict) -> None:
    """POST /customers/{id} (UpdateCustomerRequest): email, locale, enabled, metadata, type, defaultSourceId."""
    refuse_unknown(body, CUSTOMER_UPDATABLE, "a customer")
    if "defaultSourceId" in body:
        source = sources.find(str(body["defaultSourceId"] or ""), parameter="defaultSourceId")
        if source.customer_id != customer.pk or source.state != DRSource.State.CHARGEABLE:
            raise invalid(
                "defaultSourceId", f"Source {source.pk} is not a source saved to customer {customer.pk}."
            )
        customer.default_source = source
    if "email" in body:
        email = body["email"] or ""
        if not isinstance(email, str) or (email and "@" not in email):
            raise invalid("email", "email must be an e-mail address.")
        customer.email = email
    if "type" in body:
        if body["type"] not in ("individual", "business"):
            raise invalid("type", "type must be individual or business.")
        customer.type = body["type"]
    if "locale" in body:
        if not isinstance(body["locale"], str):
            raise invalid("locale", "locale must be a string.")
        customer.locale = body["locale"]
    if "enabled" in body:
        if not isinstance(body["enabled"], bool):
            raise invalid("enabled", "enabled must be true or false.")
        customer.enabled = body["enabled"]
    if "metadata" in body:
        customer.metadata = metadata_of(body["metadata"], "metadata")
    customer.updated_at = sandbox_now()
    customer.save()


@api("POST", "DELETE")
def customer_source(request: HttpRequest, customer_id: str, source_id: str) -> HttpResponse:
    """Save a source to the customer (200, the source) or remove it (204: it is cancelled)."""
    customer = _customer(customer_id)
    source = sources.find(source_id)
    if request.method == "DELETE":
        sources.remove_from_customer(customer, source)
        return HttpResponse(status=204)
    return JsonResponse(source_json(sources.save_to_customer(customer, source)))


# --- Sources -------------------------------------------------------------------------------------


@api("GET")
def source_detail(request: HttpRequest, source_id: str) -> HttpResponse:
    return JsonResponse(source_json(sources.find(source_id)))


# --- Checkout sessions and checkouts ------------------------------------------------------------


@api("POST")
def checkout_sessions(request: HttpRequest) -> HttpResponse:
    """POST /drop-in/checkout-sessions: 201 with the session id and the link of its pay page."""
    session = checkouts.create_session(_body(request))
    link = request.build_absolute_uri(reverse("sandbox-dr-pay", args=[session.pk]))
    return _created(session_json(session, link))


@api("GET", "POST")
def checkouts_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        checkout = checkouts.create_checkout(_body(request))
        return _created(checkout_json(checkout))
    found = DRCheckout.objects.prefetch_related("items")
    found = _filter_by_common(request, found)
    return _page(request, found, checkout_json)


def _filter_by_common(request: HttpRequest, found: QuerySet) -> QuerySet:
    """The filters checkouts and orders share: ids, upstreamIds, customerId, chargeType, subscriptionId."""
    if _values(request, "ids"):
        found = found.filter(pk__in=_values(request, "ids"))
    upstream = _values(request, "upstreamIds") + _values(request, "upstreamId")
    if upstream:
        found = found.filter(upstream_id__in=upstream)
    if request.GET.get("customerId"):
        found = found.filter(customer_id=request.GET["customerId"])
    if request.GET.get("chargeType"):
        found = found.filter(charge_type=request.GET["chargeType"])
    if request.GET.get("subscriptionId"):
        found = found.filter(items__subscription_id=request.GET["subscriptionId"]).distinct()
    return found


@api("POST", "DELETE")
def checkout_source(request: HttpRequest, checkout_id: str, source_id: str) -> HttpResponse:
    """Attach the checkout's primary source (200, the Source as the schema answers) or detach it (204)."""
    checkout = _found(DRCheckout.objects.select_for_update(), "Checkout", checkout_id)
    source = sources.find(source_id)
    if request.method == "DELETE":
        sources.detach_from_checkout(checkout, source)
        return HttpResponse(status=204)
    sources.attach_to_checkout(checkout, source)
    return JsonResponse(source_json(source, checkout.total_amount))


@api("GET", "DELETE")
def checkout_detail(request: HttpRequest, checkout_id: str) -> HttpResponse:
    checkout = _found(DRCheckout.objects.all(), "Checkout", checkout_id)
    if request.method == "DELETE":
        if DROrder.objects.filter(checkout=checkout).exists():
            raise conflict("invalid_request", f"Checkout {checkout_id} is already an order.", "id")
        if hasattr(checkout, "session"):
            raise conflict("invalid_request", f"Checkout {checkout_id} belongs to a paid session.", "id")
        checkout.delete()
        return HttpResponse(status=204)
    return JsonResponse(checkout_json(checkout))


# --- Orders --------------------------------------------------------------------------------------


@api("GET", "POST")
def orders(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        # Only checkoutId counts; Digital River ignores the other fields of an OrderRequest.
        checkout_id = _body(request).get("checkoutId")
        if not checkout_id:
            raise missing("checkoutId")
        checkout = _found(DRCheckout.objects.all(), "Checkout", str(checkout_id), "checkoutId")
        return _created(order_json(checkouts.place_order(checkout)))
    found = _filter_by_common(request, DROrder.objects.prefetch_related("items").select_related("customer"))
    if request.GET.get("checkoutId"):
        found = found.filter(checkout_id=request.GET["checkoutId"])
    if request.GET.get("state"):
        found = found.filter(state=request.GET["state"])
    return _page(request, found, order_json)


@api("GET")
def order_detail(request: HttpRequest, order_id: str) -> HttpResponse:
    order = _found(DROrder.objects.all(), "Order", order_id)
    return JsonResponse(order_json(order))


# --- Fulfillments --------------------------------------------------------------------------------


@api("GET", "POST")
def fulfillments_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _created(fulfillment_json(fulfillments.create(_body(request))))
    found = DRFulfillment.objects.all()
    if request.GET.get("orderId"):
        found = found.filter(order_id=request.GET["orderId"])
    if _values(request, "ids"):
        found = found.filter(pk__in=_values(request, "ids"))
    return _page(request, found, fulfillment_json)


@api("GET")
def fulfillment_detail(request: HttpRequest, fulfillment_id: str) -> HttpResponse:
    fulfillment = _found(DRFulfillment.objects.select_related("order"), "Fulfillment", fulfillment_id)
    return JsonResponse(fulfillment_json(fulfillment, details=True))


# --- Refunds -----------------------------------------------------------------------------------------


@api("GET", "POST")
def refunds_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        _, made = refunds.create(_body(request))
        return _created(made)  # as made (pending); it completes right after in the sandbox
    found = _filtered(
        request,
        DRRefund.objects.select_related("charge"),
        (("orderId", "order_id"), ("invoiceId", "invoice_id"), ("state", "state")),
        by_ids=True,
    )
    return _page(request, found, refund_json)


@api("GET")
def refund_detail(request: HttpRequest, refund_id: str) -> HttpResponse:
    refund = _found(DRRefund.objects.select_related("charge"), "Refund", refund_id)
    return JsonResponse(refund_json(refund))


# --- Invoices (the subscription service's) ----------------------------------------------------------


@api("GET")
def invoices(request: HttpRequest) -> HttpResponse:
    found = _filtered(
        request,
        DRInvoice.objects.all(),
        (("customerId", "customer_id"), ("state", "state"), ("currency", "currency")),
        by_ids=True,
    )
    return _page(request, found, invoice_json)


@api("GET")
def invoice_detail(request: HttpRequest, invoice_id: str) -> HttpResponse:
    invoice = _found(DRInvoice.objects.all(), "Invoice", invoice_id)
    return JsonResponse(invoice_json(invoice))


# --- Subscriptions -------------------------------------------------------------------------------


@api("GET")
def subscriptions(request: HttpRequest) -> HttpResponse:
    found = _filtered(
        request,
        DRSubscription.objects.all(),
        (("planId", "plan_id"), ("state", "state"), ("customerId", "customer_id")),
    )
    return _page(request, found, subscription_json)


@api("GET", "POST", "DELETE")
def subscription_detail(request: HttpRequest, subscription_id: str) -> HttpResponse:
    subscription = (
        DRSubscription.objects.select_for_update(of=("self",))
        .select_related("plan")
        .filter(pk=subscription_id)
        .first()
    )
    if subscription is None:
        raise not_found("Subscription", subscription_id)
    if request.method == "GET":
        return JsonResponse(subscription_json(subscription))
    if request.method == "DELETE":
        if subscription.state != DRSubscription.State.DRAFT:
            raise conflict(
                "invalid_state",
                f"Subscription {subscription.pk} is {subscription.state}, so it cannot be deleted.",
                "state",
            )
        emit("subscription.deleted", subscription_json(subscription))
        subscription.delete()
        return HttpResponse(status=204)
    return JsonResponse(subscription_json(lifecycle.update(subscription, _body(request))))


# --- Events ----------------------------------------------------------------------------------------


@api("GET")
def events(request: HttpRequest) -> HttpResponse:
    found = DREvent.objects.all()
    pattern, types = request.GET.get("type"), _values(request, "types")
    if pattern and types:
        raise DRError(400, "invalid_request", "Pass either type or types, not both.", "types")
    if pattern:
        found = found.filter(type__regex="^" + ".*".join(map(re.escape, pattern.split("*"))) + "$")
    if types:
        found = found.filter(type__in=types)
    return _page(request, found, event_json, keys=("seq",), lookup="event_id")


@api("GET")
def event_detail(request: HttpRequest, event_id: str) -> HttpResponse:
    event = _found(DREvent.objects.all(), "Event", event_id, field="event_id")
    return JsonResponse(event_json(event))


# --- Webhooks --------------------------------------------------------------------------------------


@api("GET")
def webhooks(request: HttpRequest) -> HttpResponse:
    """`GET /webhooks`: the one endpoint the sandbox delivers events to, as a bare array (vendors.md 3).

    Registering webhooks (POST, PATCH, DELETE) is done at Digital River by hand; the sandbox's
    stand-in is `manage.py sandbox_dr register-webhook` (events.webhook_url), so only the read is served.
    """
    address = webhook_url()
    webhook = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, address)),
        "address": address,
        "types": ["*"],
        # The schema's enum is literally ["default", "<YYYY-MM-DD>"]: "default" is the one value
        # every validator accepts (events follow the account's pinned version).
        "apiVersion": "default",
        "enabled": True,
        "transportType": "HTTP",
        "createdTime": "2021-12-13T00:00:00.000Z",
    }
    return JsonResponse([webhook], safe=False)


@endpoint
def no_route(request: HttpRequest) -> HttpResponse:
    return DRError(404, "not_found", f"No resource at {request.path}.").response()


urlpatterns = [
    re_path(r"^plans/?$", plans),
    re_path(r"^plans/(?P<plan_id>[^/]+)/?$", plan_detail),
    re_path(r"^customers/?$", customers),
    re_path(r"^customers/(?P<customer_id>[^/]+)/?$", customer_detail),
    re_path(r"^customers/(?P<customer_id>[^/]+)/sources/(?P<source_id>[^/]+)/?$", customer_source),
    re_path(r"^sources/(?P<source_id>[^/]+)/?$", source_detail),
    re_path(r"^drop-in/checkout-sessions/?$", checkout_sessions),
    re_path(r"^checkouts/?$", checkouts_view),
    re_path(r"^checkouts/(?P<checkout_id>[^/]+)/?$", checkout_detail),
    re_path(r"^checkouts/(?P<checkout_id>[^/]+)/sources/(?P<source_id>[^/]+)/?$", checkout_source),
    re_path(r"^orders/?$", orders),
    re_path(r"^orders/(?P<order_id>[^/]+)/?$", order_detail),
    re_path(r"^fulfillments/?$", fulfillments_view),
    re_path(r"^fulfillments/(?P<fulfillment_id>[^/]+)/?$", fulfillment_detail),
    re_path(r"^refunds/?$", refunds_view),
    re_path(r"^refunds/(?P<refund_id>[^/]+)/?$", refund_detail),
    re_path(r"^invoices/?$", invoices),
    re_path(r"^invoices/(?P<invoice_id>[^/]+)/?$", invoice_detail),
    re_path(r"^subscriptions/?$", subscriptions),
    re_path(r"^subscriptions/(?P<subscription_id>[^/]+)/?$", subscription_detail),
    re_path(r"^events/?$", events),
    re_path(r"^events/(?P<event_id>[^/]+)/?$", event_detail),
    re_path(r"^webhooks/?$", webhooks),
    re_path(r"", no_route),
]
