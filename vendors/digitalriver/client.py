"""Digital River API client: plans, customers, checkouts, orders, subscriptions, events (vendors.md 3).

`Authorization: Bearer <secret key>`; failures come as `{"type", "errors": [{"code",
"parameter", "message"}]}` and are raised as VendorError with the first error's code and a
message naming its parameter. 409s (`plan_limit_reached`, `restricted_update`, a declined
payment...) are final; 408, 429 and 5xx are retryable (vendors.http).

Objects come back as frozen dataclasses with money as Decimal, times as aware UTC datetimes and
the parsed JSON in `raw`. The module-level `*_from` functions read the same objects from a
webhook event's `data.object`.

Choices where Digital River is SILENT or the back office needs more than it says:
- a customer has no name field: `ensure_customer` puts the name in the customer's metadata;
- lists are read page after page (`limit=100`, `startingAfter`) up to MAX_PAGES pages;
- `find_checkouts` and `list_orders(upstreamId=...)` send the documented `upstreamIds` filter and
  keep only exact matches;
- `None` values are left out of the items sent (Digital River's schema has no nulls there).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from vendors.digitalriver.objects import (
    VENDOR,
    DRCheckout,
    DRCheckoutSession,
    DREvent,
    DRFulfillment,
    DROrder,
    DRPlan,
    DRRefund,
    DRSource,
    DRSubscription,
    checkout_from,
    event_from,
    fulfillment_from,
    order_from,
    plan_from,
    refund_from,
    source_from,
    subscription_from,
)
from vendors.errors import VendorError
from vendors.http import VendorHTTP, parse_time

PAGE_SIZE = 100
MAX_PAGES = 50

CHARGE_TYPES = ("customer_initiated", "merchant_initiated", "moto")

# update_plan's keyword arguments and Digital River's names for them (UpdatePlanRequest).
PLAN_UPDATABLE = {
    "name": "name",
    "reminder_offset_days": "reminderOffsetDays",
    "billing_offset_days": "billingOffsetDays",
    "collection_period_days": "collectionPeriodDays",
    "state": "state",
    "metadata": "metadata",
}
# list_orders' filters, by our name or Digital River's; upstreamId goes out as `upstreamIds`.
ORDER_FILTERS = {
    "checkout_id": "checkoutId",
    "checkoutId": "checkoutId",
    "upstream_id": "upstreamIds",
    "upstreamId": "upstreamIds",
    "upstreamIds": "upstreamIds",
    "subscription_id": "subscriptionId",
    "subscriptionId": "subscriptionId",
    "customer_id": "customerId",
    "customerId": "customerId",
    "state": "state",
    "charge_type": "chargeType",
    "chargeType": "chargeType",
}


# --- The client ------------------------------------------------------------------------------


class DigitalRiverClient(VendorHTTP):
    """Digital River API over the shared transport; one call per method, no silent retries."""

    vendor = VENDOR

    def __init__(
        self, api_key: str | None = None, *, base_url: str | None = None, timeout: float | None = None
    ):
        api_key = settings.DIGITALRIVER_API_KEY if api_key is None else api_key
        if not api_key:
            raise ImproperlyConfigured("No Digital River API key (DIGITALRIVER_API_KEY).")
        super().__init__(base_url or settings.DIGITALRIVER_BASE_URL, timeout=timeout, secrets=(api_key,))
        self._api_key = api_key

    def _auth_headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._api_key}"}
        # Pinned (DIGITALRIVER_API_VERSION) so that answers keep the shape we parse.
        if settings.DIGITALRIVER_API_VERSION:
            headers["DigitalRiver-Version"] = settings.DIGITALRIVER_API_VERSION
        return headers

    def _error_code_and_message(self, body: Any) -> tuple[str, str] | None:
        """The first of `errors: [{"code", "parameter", "message"}]`, the parameter in the message."""
        errors = body.get("errors") if isinstance(body, dict) else None
        if not (isinstance(errors, list) and errors and isinstance(errors[0], dict)):
            return None
        first = errors[0]
        code = first.get("code")
        if not code:
            return None
        message = str(first.get("message") or code)
        if first.get("parameter"):
            message = f"{message} (parameter: {first['parameter']})"
        return str(code), message

    # --- Plans -----------------------------------------------------------------------------------

    def create_plan(
        self,
        *,
        plan_id: str,
        name: str,
        terms: str,
        interval: str,
        interval_count: int,
        contract_binding_days: int,
        reminder_offset_days: int | None,
        billing_offset_days: int,
        collection_period_days: int,
        state: str = "active",
    ) -> DRPlan:
        """POST /plans with our own id; a taken id is a 409 `already_exists`."""
        body = self._request(
            "POST",
            "/plans",
            json={
                "id": plan_id,
                "name": name,
                "terms": terms,
                "interval": interval,
                "intervalCount": interval_count,
                "contractBindingDays": contract_binding_days,
                "reminderOffsetDays": reminder_offset_days,
                "billingOffsetDays": billing_offset_days,
                "collectionPeriodDays": collection_period_days,
                "state": state,
            },
        )
        return self._parse(plan_from, body)

    def list_plans(self, *, limit: int = 1) -> list[DRPlan]:
        """One page of `GET /plans` (`limit` 1-100): a cheap authenticated read."""
        body = self._request("GET", "/plans", params={"limit": max(1, min(limit, PAGE_SIZE))})
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise self._unreadable("list plans", body)
        return [self._parse(plan_from, item) for item in data if isinstance(item, dict)]

    def get_plan(self, plan_id: str) -> DRPlan | None:
        """GET /plans/{id}; None when Digital River does not know it (404)."""
        try:
            body = self._request("GET", f"/plans/{_segment(plan_id)}")
        except VendorError as error:
            if error.status == 404:
                return None
            raise
        return self._parse(plan_from, body)

    def update_plan(self, plan_id: str, **fields: Any) -> DRPlan:
        """POST /plans/{id} with the fields Digital River lets change (see PLAN_UPDATABLE)."""
        fixed = sorted(set(fields) - set(PLAN_UPDATABLE))
        if fixed:
            raise TypeError(
                f"update_plan() cannot change {', '.join(fixed)}; only {', '.join(PLAN_UPDATABLE)}."
            )
        payload = {PLAN_UPDATABLE[name]: value for name, value in fields.items()}
        body = self._request("POST", f"/plans/{_segment(plan_id)}", json=payload)
        return self._parse(plan_from, body)

    # --- Customers -------------------------------------------------------------------------------

    def ensure_customer(self, customer_id: str, *, email: str, name: str) -> str:
        """POST /customers with our id; an `already_exists` conflict means it is there already."""
        payload: dict[str, Any] = {"id": customer_id}
        if email:
            payload["email"] = email
        if name:
            payload["metadata"] = {"name": name[:500]}
        try:
            body = self._request("POST", "/customers", json=payload)
        except VendorError as error:
            if error.status == 409 and error.code == "already_exists":
                return customer_id
            raise
        if not isinstance(body, dict) or not body.get("id"):
            raise self._unreadable("create customer", body)
        return str(body["id"])

    # --- Checkouts -------------------------------------------------------------------------------

    def create_checkout_session(
        self,
        *,
        customer_id: str,
        currency: str,
        items: list[dict],
        charge_type: str = "customer_initiated",
        upstream_id: str | None = None,
        email: str | None = None,
        metadata: dict | None = None,
    ) -> DRCheckoutSession:
        """POST /drop-in/checkout-sessions (Prebuilt Checkout); 201 with the session id and its link."""
        payload = _checkout_payload(customer_id, currency, items, charge_type, upstream_id, metadata)
        if email:
            payload["email"] = email
        body = self._request("POST", "/drop-in/checkout-sessions", json=payload)
        if not isinstance(body, dict) or not body.get("id"):
            raise self._unreadable("create checkout session", body)
        return DRCheckoutSession(id=str(body["id"]), link=str(body.get("link") or ""), raw=self._scrub(body))

    def create_checkout(
        self,
        *,
        customer_id: str,
        currency: str,
        items: list[dict],
        charge_type: str,
        upstream_id: str | None = None,
        metadata: dict | None = None,
        source_id: str | None = None,
    ) -> DRCheckout:
        """POST /checkouts (direct integration, renewals); 201 with the checkout.

        `source_id` attaches a reusable source saved to the customer as the checkout's primary
        source: a merchant-initiated renewal cannot become an order without one.
        """
        payload = _checkout_payload(customer_id, currency, items, charge_type, upstream_id, metadata)
        if source_id:
            payload["sourceId"] = source_id
        body = self._request("POST", "/checkouts", json=payload)
        return self._parse(checkout_from, body)

    def find_checkouts(self, upstream_id: str) -> list[DRCheckout]:
        """The checkouts made with this upstreamId (GET /checkouts?upstreamIds=), oldest first."""
        items = self._list("/checkouts", {"upstreamIds": upstream_id}, "list checkouts")
        found = [self._parse(checkout_from, item) for item in items if item.get("upstreamId") == upstream_id]
        return _oldest_first(found)

    # --- Orders ----------------------------------------------------------------------------------

    def create_order(self, checkout_id: str) -> DROrder:
        """POST /orders {"checkoutId"}: 201 with the order; 409 when payment authorization fails."""
        body = self._request("POST", "/orders", json={"checkoutId": checkout_id})
        return self._parse(order_from, body)

    def get_order(self, order_id: str) -> DROrder:
        body = self._request("GET", f"/orders/{_segment(order_id)}")
        return self._parse(order_from, body)

    def list_orders(self, **filters: Any) -> list[DROrder]:
        """GET /orders filtered by checkoutId, upstreamId, subscriptionId, customerId, state, chargeType.

        Filters take our names (checkout_id=) or Digital River's (checkoutId=); oldest first.
        """
        unknown = sorted(set(filters) - set(ORDER_FILTERS))
        if unknown:
            raise TypeError(f"list_orders() has no filter {', '.join(unknown)}.")
        params = {ORDER_FILTERS[name]: value for name, value in filters.items() if value is not None}
        items = self._list("/orders", params, "list orders")
        orders = [self._parse(order_from, item) for item in items]
        upstream = params.get("upstreamIds")
        if upstream is not None:
            orders = [order for order in orders if order.upstream_id == upstream]
        return _oldest_first(orders)

    def fulfil(self, order_id: str, items: list[dict]) -> DRFulfillment:
        """POST /fulfillments: `quantity` delivered (captured) or `cancelQuantity` (never charged)."""
        body = self._request("POST", "/fulfillments", json={"orderId": order_id, "items": items})
        return self._parse(fulfillment_from, body)

    def list_fulfillments(self, order_id: str) -> list[DRFulfillment]:
        """GET /fulfillments?orderId=: what was already reported for an order (a retry checks first)."""
        items = self._list("/fulfillments", {"orderId": order_id}, "list fulfillments")
        found = [self._parse(fulfillment_from, item) for item in items]
        return _oldest_first([f for f in found if f.order_id == order_id])

    def create_refund(
        self,
        *,
        currency: str,
        reason: str,
        order_id: str | None = None,
        invoice_id: str | None = None,
        amount: Decimal | None = None,
    ) -> DRRefund:
        """POST /refunds of product costs for an order (or a subscription-service invoice): all of it
        (`percent` 100) or `amount`. No `type`: a type refunds only shipping, tax, duty or fees."""
        if bool(order_id) == bool(invoice_id):
            raise ValueError("A refund names either an order or an invoice.")
        payload: dict[str, Any] = {"currency": currency, "reason": reason}
        payload["orderId" if order_id else "invoiceId"] = order_id or invoice_id
        if amount is not None:
            payload["amount"] = _compact(amount)
        else:
            payload["percent"] = 100
        body = self._request("POST", "/refunds", json=payload)
        return self._parse(refund_from, body)

    def list_refunds(self, *, order_id: str | None = None, invoice_id: str | None = None) -> list[DRRefund]:
        """GET /refunds?orderId= (or invoiceId=): a retry checks what was refunded before."""
        params = {"orderId": order_id, "invoiceId": invoice_id}
        items = self._list("/refunds", {k: v for k, v in params.items() if v}, "list refunds")
        return _oldest_first([self._parse(refund_from, item) for item in items])

    # --- Payment sources -------------------------------------------------------------------------

    def get_source(self, source_id: str) -> DRSource:
        body = self._request("GET", f"/sources/{_segment(source_id)}")
        return self._parse(source_from, body)

    def save_source_to_customer(self, customer_id: str, source_id: str) -> DRSource:
        """POST /customers/{id}/sources/{sourceId}: the source becomes reusable for this customer."""
        body = self._request(
            "POST", f"/customers/{_segment(customer_id)}/sources/{_segment(source_id)}", json={}
        )
        return self._parse(source_from, body)

    # --- Subscriptions ---------------------------------------------------------------------------

    def get_subscription(self, subscription_id: str) -> DRSubscription:
        body = self._request("GET", f"/subscriptions/{_segment(subscription_id)}")
        return self._parse(subscription_from, body)

    def activate_subscription(self, subscription_id: str) -> DRSubscription:
        """POST /subscriptions/{id} with exactly {"state": "active"} (anything more is a 409)."""
        body = self._request("POST", f"/subscriptions/{_segment(subscription_id)}", json={"state": "active"})
        return self._parse(subscription_from, body)

    def cancel_subscription(self, subscription_id: str) -> DRSubscription:
        """POST /subscriptions/{id} with exactly {"state": "cancelled"}."""
        body = self._request(
            "POST", f"/subscriptions/{_segment(subscription_id)}", json={"state": "cancelled"}
        )
        return self._parse(subscription_from, body)

    def update_subscription(
        self,
        subscription_id: str,
        *,
        source_id: str | None = None,
        plan_id: str | None = None,
        items: list[dict] | None = None,
    ) -> DRSubscription:
        """POST /subscriptions/{id} with a new sourceId, planId or items (never with a state)."""
        payload = {"sourceId": source_id, "planId": plan_id, "items": items}
        payload = _compact({k: v for k, v in payload.items() if v is not None})
        if not payload:
            raise ValueError("Nothing to update.")
        body = self._request("POST", f"/subscriptions/{_segment(subscription_id)}", json=payload)
        return self._parse(subscription_from, body)

    def list_subscriptions(
        self, *, customer_id: str | None = None, plan_id: str | None = None, state: str | None = None
    ) -> list[DRSubscription]:
        """GET /subscriptions filtered by customerId, planId and state; oldest first."""
        params = {"customerId": customer_id, "planId": plan_id, "state": state}
        items = self._list(
            "/subscriptions", {k: v for k, v in params.items() if v is not None}, "list subscriptions"
        )
        return _oldest_first([self._parse(subscription_from, item) for item in items])

    # --- Events ----------------------------------------------------------------------------------

    def get_event(self, event_id: str) -> DREvent:
        body = self._request("GET", f"/events/{_segment(event_id)}")
        return self._parse(event_from, body)

    def list_events(self, types: Iterable[str] | None = None) -> list[DREvent]:
        """GET /events, optionally of these types only; oldest first."""
        params = {"types": list(types)} if types else {}
        items = self._list("/events", params, "list events")
        return _oldest_first([self._parse(event_from, item) for item in items])

    # --- Plumbing --------------------------------------------------------------------------------

    # --- Webhooks ----------------------------------------------------------------------------

    def list_webhooks(self) -> list[dict]:
        """`GET /webhooks`: the registered endpoints (a bare array, not `{hasMore, data}`), raw."""
        body = self._request("GET", "/webhooks")
        if isinstance(body, dict) and isinstance(body.get("data"), list):
            body = body["data"]  # the spec's prose speaks of a `data` property: read that too
        if not isinstance(body, list):
            raise self._unreadable("list webhooks", body)
        return [self._scrub(item) for item in body if isinstance(item, dict)]

    def _list(self, path: str, params: dict, what: str) -> list[dict]:
        """Every item of a `{"hasMore", "data"}` list, page after page."""
        items: list[dict] = []
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = {**params, "limit": PAGE_SIZE}
            if cursor:
                page["startingAfter"] = cursor
            body = self._request("GET", path, params=page)
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list):
                raise self._unreadable(what, body)
            items += [item for item in data if isinstance(item, dict)]
            if not body.get("hasMore") or not data or not isinstance(data[-1], dict):
                return items
            cursor = data[-1].get("id")
            if not cursor:
                raise self._unreadable(what, body)
        raise VendorError(self.vendor, "too_many_pages", f"{what}: more than {MAX_PAGES} pages")

    def _parse(self, parser, body: Any):
        try:
            return parser(self._scrub(body))
        except VendorError as error:
            # An answer we cannot read: the vendor may have acted on it.
            raise VendorError(
                self.vendor,
                error.code,
                error.message,
                retryable=True,
                outcome_unknown=True,
                raw=self._scrub(body),
            ) from None


# --- Helpers ---------------------------------------------------------------------------------


def _checkout_payload(
    customer_id: str,
    currency: str,
    items: list[dict],
    charge_type: str,
    upstream_id: str | None,
    metadata: dict | None,
) -> dict:
    if charge_type not in CHARGE_TYPES:
        raise ValueError(f"chargeType must be one of {', '.join(CHARGE_TYPES)}, not {charge_type!r}.")
    payload: dict[str, Any] = {
        "customerId": customer_id,
        "currency": currency,
        "chargeType": charge_type,
        "items": [_compact(item) for item in items],
    }
    if upstream_id:
        payload["upstreamId"] = upstream_id
    if metadata:
        payload["metadata"] = metadata
    return payload


def _compact(value: Any) -> Any:
    """JSON without None values in objects (Digital River's item schemas have no nulls); Decimal as number."""
    if isinstance(value, dict):
        return {key: _compact(item) for key, item in value.items() if item is not None}
    if isinstance(value, list | tuple):
        return [_compact(item) for item in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _oldest_first(objects: list) -> list:
    """Digital River lists newest first; callers want the oldest first.

    The list is turned around before sorting so that objects of the same second keep their
    order (times have one-second precision); unreadable times go last.
    """

    def created(obj) -> datetime:
        return parse_time(obj.raw.get("createdTime")) or _LAST

    return sorted(reversed(objects), key=created)


_LAST = datetime.max.replace(tzinfo=UTC)
