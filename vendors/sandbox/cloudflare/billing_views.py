"""Cloudflare zones and subscriptions emulator, under /sandbox/cloudflare/client/v4/ (vendors.md 2).

The documented rules it follows:
- a zone starts on PARTNERS_FREE; `POST /zones/{id}/subscription` upgrades it, PUT changes the
  plan (downgrades included), the components or the frequency;
- the zone's own `plan` names no rate plan: its id is opaque, with a `legacy_id` and a name
  (vendors.md 0.7, cloudflare.catalog.ZONE_PLANS); rate plan ids appear only in the zone's
  subscription and in `GET /zones/{id}/available_rate_plans`;
- account add-ons are account subscriptions: POST (components left out: the plan's defaults),
  GET list, PUT, DELETE (`result: {"subscription_id"}`);
- `frequency` is weekly, monthly (the default), quarterly or yearly; anything else ("annual") is
  refused;
- a plan the token is not entitled to fails with code 1225 and Cloudflare's message.

Prices come from vendors.sandbox.cloudflare.catalog. A period starts when the plan or the
frequency changes and rolls over when the sandbox clock passes its end (applied on every read).

Error codes where Cloudflare's are SILENT (the sandbox's choices): 1004 zone not found, 1005
subscription not found, 1061 zone already exists in the account, 1206 the zone already has a
paid subscription (POST again), 1207 no subscription for this zone (GET/PUT on a zone that
never had one). A deleted account subscription becomes `Cancelled` and is no longer listed;
the account listing holds add-ons only, not zone subscriptions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.http import HttpRequest, JsonResponse
from django.urls import re_path

from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.cloudflare.catalog import (
    CURRENCY,
    DEFAULT_FREQUENCY,
    FREQUENCIES,
    PLANS,
    ZONE_PLANS,
    RatePlan,
    price,
)
from vendors.sandbox.cloudflare.models import CloudflareAccount, CloudflareSubscription, CloudflareZone
from vendors.sandbox.cloudflare.views import (
    ACCOUNT_NOT_FOUND,
    endpoint,
    failure,
    invalid,
    method_not_allowed,
    paginated,
    success,
    token,
    visible_accounts,
)
from vendors.sandbox.services import entitlements_of
from vendors.sandbox.state import VendorKey
from vendors.sandbox.views import Refusal, json_body

ZONE_NOT_FOUND = 1004
SUBSCRIPTION_NOT_FOUND = 1005
ZONE_EXISTS = 1061
ZONE_SUBSCRIPTION_EXISTS = 1206
NO_ZONE_SUBSCRIPTION = 1207
NO_ACCESS = 1225
NO_ACCESS_MESSAGE = (
    "Your account does not have access to this product. Contact billing@cloudflare.com for assistance."
)

# The zone name pattern of Cloudflare's schema (zones_name), lower case.
ZONE_NAME = re.compile(r"^([a-z0-9][-a-z0-9]*\.)+[-a-z0-9]{2,20}$")
NAME_SERVERS = ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"]
State = CloudflareSubscription.State
_KIND = {"zone": "a zone plan", "account": "an account add-on"}


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _number(value: Decimal) -> int | float:
    """A JSON number for a Decimal: Cloudflare's prices and values are numbers, not strings."""
    return int(value) if value == value.to_integral_value() else float(value)


# --- Zones --------------------------------------------------------------------------------------


def _zone_json(zone: CloudflareZone) -> dict:
    """A zone with every field Cloudflare's schema (zones_zone) requires, plus status, type and plan."""
    plan, zone_plan = PLANS[zone.plan_id], ZONE_PLANS[zone.plan_id]
    subscription = CloudflareSubscription.objects.filter(zone=zone).first()
    values = subscription.component_values if subscription else {}
    created = zone.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "id": zone.id,
        "name": zone.name,
        "status": zone.status,
        "type": zone.type,
        "paused": False,
        "development_mode": 0,
        "name_servers": NAME_SERVERS,
        "original_name_servers": None,
        "original_registrar": None,
        "original_dnshost": None,
        "owner": {"id": zone.account_id, "name": zone.account.name, "type": "organization"},
        "account": {"id": zone.account_id, "name": zone.account.name},
        "meta": {
            "step": 2,
            "page_rule_quota": values.get("page_rules", plan.component("page_rules").default),
            "custom_certificate_quota": values.get("dedicated_certificates", 0),
            "phishing_detected": False,
        },
        # zones_zone in the 2024-08 spec leaves `plan` out; these fields are what a real zone shows
        # (vendors.md 0.7: id, legacy_id, name) plus the price, currency, frequency and
        # is_subscribed the sandbox always answered. A real zone read would confirm the rest.
        "plan": {
            "id": zone_plan.id,
            "legacy_id": zone_plan.legacy_id,
            "name": zone_plan.name,
            "price": _number(subscription.price if subscription else plan.monthly_price),
            "currency": CURRENCY,
            "frequency": subscription.frequency if subscription else DEFAULT_FREQUENCY,
            "is_subscribed": subscription is not None,
        },
        "created_on": created,
        "modified_on": zone.modified_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "activated_on": created,
    }


def _zone(key: VendorKey, zone_id: str) -> CloudflareZone:
    """A zone of an account the token sees; any other is indistinguishable from a missing one."""
    zone = (
        CloudflareZone.objects.filter(pk=zone_id, account__in=visible_accounts(key))
        .select_related("account")
        .first()
    )
    if zone is None:
        raise Refusal(failure(404, ZONE_NOT_FOUND, f"Zone {zone_id} not found."))
    return zone


@endpoint
def zones(request: HttpRequest) -> JsonResponse:
    """POST creates a zone (on PARTNERS_FREE) in a visible account; GET lists zones, by name and account.id."""
    if request.method not in ("GET", "POST"):
        return method_not_allowed(request)
    key = token(request)
    if request.method == "POST":
        return _create_zone(request, key)
    found = (
        CloudflareZone.objects.filter(account__in=visible_accounts(key))
        .select_related("account")
        .order_by("created_at", "id")
    )
    if request.GET.get("name"):
        found = found.filter(name=request.GET["name"].strip().lower())
    if request.GET.get("account.id"):
        found = found.filter(account_id=request.GET["account.id"])
    return paginated(request, found, _zone_json)


def _create_zone(request: HttpRequest, key: VendorKey) -> JsonResponse:
    body = json_body(request, invalid)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Refusal(invalid("name is required."))
    name = name.strip().lower().rstrip(".")
    if len(name) > 253 or not ZONE_NAME.match(name):
        raise Refusal(invalid(f"{name!r} is not a valid domain name."))
    account = body.get("account")
    if not (isinstance(account, dict) and isinstance(account.get("id"), str) and account["id"]):
        raise Refusal(invalid('account must be {"id": "<account id>"}.'))
    owner = visible_accounts(key).filter(pk=account["id"]).first()
    if owner is None:
        raise Refusal(failure(404, ACCOUNT_NOT_FOUND, f"Account {account['id']} not found."))
    zone_type = body.get("type", CloudflareZone.Type.FULL)
    if zone_type not in CloudflareZone.Type.values:
        raise Refusal(invalid(f"type must be one of {', '.join(CloudflareZone.Type.values)}."))
    if CloudflareZone.objects.filter(account=owner, name=name).exists():
        raise Refusal(failure(400, ZONE_EXISTS, f"{name} already exists."))
    zone = CloudflareZone.objects.create(name=name, account=owner, type=zone_type)
    return success(_zone_json(zone))


@endpoint
def zone_detail(request: HttpRequest, zone_id: str) -> JsonResponse:
    """GET one zone of a visible account."""
    if request.method != "GET":
        return method_not_allowed(request)
    return success(_zone_json(_zone(token(request), zone_id)))


# --- Subscriptions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Order:
    """A validated subscription request: the plan, the frequency and every component's units."""

    plan: RatePlan
    frequency: str
    values: dict[str, int]


def _order(
    request: HttpRequest, key: VendorKey, scope: str, current: CloudflareSubscription | None = None
) -> _Order:
    """Read a subscription-v2 body; on PUT (`current`), what is left out stays as it is."""
    body = json_body(request, invalid)
    rate_plan = body.get("rate_plan")
    if rate_plan is None and current is not None:
        plan_id = current.rate_plan_id
    elif isinstance(rate_plan, dict) and isinstance(rate_plan.get("id"), str) and rate_plan["id"]:
        plan_id = rate_plan["id"]
    else:
        raise Refusal(invalid('rate_plan must be {"id": "<rate plan id>"}.'))
    plan = PLANS.get(plan_id)
    if plan is None or plan_id not in entitlements_of(key):
        raise Refusal(failure(400, NO_ACCESS, NO_ACCESS_MESSAGE))
    if plan.scope != scope:
        raise Refusal(invalid(f"{plan_id} is {_KIND[plan.scope]}, not {_KIND[scope]}."))
    frequency = body.get("frequency", current.frequency if current else DEFAULT_FREQUENCY)
    if frequency not in FREQUENCIES:
        raise Refusal(invalid(f"frequency must be one of {', '.join(FREQUENCIES)}, not {frequency!r}."))
    if body.get("component_values") is not None:
        values = _component_values(body["component_values"], plan)
    elif current is not None and current.rate_plan_id == plan_id:
        values = dict(current.component_values)
    else:
        values = {}
    # Components left out get the plan's defaults.
    return _Order(plan, frequency, {c.name: values.get(c.name, c.default) for c in plan.components})


def _component_values(items, plan: RatePlan) -> dict[str, int]:
    if not isinstance(items, list):
        raise Refusal(invalid('component_values must be a list of {"name", "value"}.'))
    values: dict[str, int] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise Refusal(invalid('component_values must be a list of {"name", "value"}.'))
        name, units = item["name"], item.get("value")
        if plan.component(name) is None:
            known = ", ".join(c.name for c in plan.components) or "none"
            raise Refusal(invalid(f"{name} is not a component of {plan.id} (it has: {known})."))
        if isinstance(units, bool) or not isinstance(units, int | float) or units < 0 or units != int(units):
            raise Refusal(invalid(f"The value of {name} must be a whole number, 0 or more."))
        if name in values:
            raise Refusal(invalid(f"{name} is given twice."))
        values[name] = int(units)
    return values


def _apply(subscription: CloudflareSubscription, order: _Order, *, new: bool) -> None:
    """Put an order into effect; a new plan or frequency starts a new period now."""
    now = sandbox_now()
    restart = new or order.plan.id != subscription.rate_plan_id or order.frequency != subscription.frequency
    subscription.rate_plan_id = order.plan.id
    subscription.frequency = order.frequency
    subscription.component_values = order.values
    subscription.price = price(order.plan, order.frequency, order.values)
    subscription.state = State.PAID if subscription.price > 0 else State.PROVISIONED
    if restart:
        subscription.current_period_start = now
        subscription.current_period_end = now + FREQUENCIES[order.frequency][0]
    subscription.save()


def roll_period(subscription: CloudflareSubscription) -> None:
    """Renewal: once the sandbox clock passes the period's end, the next period begins."""
    if subscription.cancelled_at:
        return
    now, length = sandbox_now(), FREQUENCIES[subscription.frequency][0]
    start, end = subscription.current_period_start, subscription.current_period_end
    while end <= now:
        start, end = end, end + length
    if end != subscription.current_period_end:
        subscription.current_period_start, subscription.current_period_end = start, end
        subscription.save(update_fields=["current_period_start", "current_period_end"])


def subscription_json(subscription: CloudflareSubscription) -> dict:
    """A subscription as Cloudflare's bill-subs-api_subscription-v2 describes it."""
    roll_period(subscription)
    plan = PLANS[subscription.rate_plan_id]
    body = {
        "id": subscription.id,
        "rate_plan": {
            "id": plan.id,
            "public_name": plan.public_name,
            "currency": CURRENCY,
            "scope": plan.scope,
            "sets": [],
            "is_contract": False,
            "externally_managed": False,
        },
        "component_values": [
            {
                "name": c.name,
                "value": subscription.component_values.get(c.name, c.default),
                "default": c.default,
                "price": _number(c.unit_price),
            }
            for c in plan.components
        ],
        "frequency": subscription.frequency,
        "price": _number(subscription.price),
        "currency": CURRENCY,
        "state": subscription.state,
        "current_period_start": _time(subscription.current_period_start),
        "current_period_end": _time(subscription.current_period_end),
    }
    if subscription.zone_id:
        body["zone"] = {"id": subscription.zone_id, "name": subscription.zone.name}
    return body


@endpoint
def zone_subscription(request: HttpRequest, zone_id: str) -> JsonResponse:
    """GET reads the zone's subscription, POST creates it (upgrading the free zone), PUT changes it."""
    if request.method not in ("GET", "POST", "PUT"):
        return method_not_allowed(request)
    key = token(request)
    zone = _zone(key, zone_id)
    current = CloudflareSubscription.objects.filter(zone=zone).first()
    if current is None and request.method in ("GET", "PUT"):
        return failure(404, NO_ZONE_SUBSCRIPTION, "No subscription for this zone.")
    if request.method == "GET":
        return success(subscription_json(current))
    if request.method == "POST":
        # A zone back on the free plan may be upgraded again with POST; a paid one is changed with PUT.
        if current is not None and current.state != State.PROVISIONED:
            return failure(
                400, ZONE_SUBSCRIPTION_EXISTS, "The zone already has a paid subscription; change it with PUT."
            )
        order = _order(request, key, "zone")
        subscription = current or CloudflareSubscription(account=zone.account, zone=zone)
        _apply(subscription, order, new=True)
    else:
        subscription = current
        _apply(subscription, _order(request, key, "zone", current), new=False)
    zone.plan_id, zone.modified_at = subscription.rate_plan_id, sandbox_now()
    zone.save(update_fields=["plan_id", "modified_at"])
    return success(subscription_json(subscription))


@endpoint
def available_rate_plans(request: HttpRequest, zone_id: str) -> JsonResponse:
    """GET the zone plans the token is entitled to, with their components."""
    if request.method != "GET":
        return method_not_allowed(request)
    key = token(request)
    _zone(key, zone_id)
    entitled = set(entitlements_of(key))
    plans = [
        {
            "id": plan.id,
            "name": plan.public_name,
            "currency": CURRENCY,
            "duration": 1,
            "frequency": DEFAULT_FREQUENCY,
            "components": [
                {"name": c.name, "default": c.default, "unit_price": _number(c.unit_price)}
                for c in plan.components
            ],
        }
        for plan in PLANS.values()
        if plan.scope == "zone" and plan.id in entitled
    ]
    count = len(plans)
    return success(
        plans,
        result_info={"page": 1, "per_page": count, "count": count, "total_count": count, "total_pages": 1},
    )


def _account(key: VendorKey, account_id: str) -> CloudflareAccount:
    account = visible_accounts(key).filter(pk=account_id).first()
    if account is None:
        raise Refusal(failure(404, ACCOUNT_NOT_FOUND, f"Account {account_id} not found."))
    return account


@endpoint
def account_subscriptions(request: HttpRequest, account_id: str) -> JsonResponse:
    """GET lists the account's live add-on subscriptions; POST buys one (components left out: defaults)."""
    if request.method not in ("GET", "POST"):
        return method_not_allowed(request)
    key = token(request)
    account = _account(key, account_id)
    if request.method == "GET":
        live = account.subscriptions.filter(zone__isnull=True, cancelled_at__isnull=True)
        return paginated(request, live.order_by("created_at", "id"), subscription_json)
    subscription = CloudflareSubscription(account=account)
    _apply(subscription, _order(request, key, "account"), new=True)
    return success(subscription_json(subscription))


@endpoint
def account_subscription_detail(request: HttpRequest, account_id: str, subscription_id: str) -> JsonResponse:
    """PUT changes an add-on subscription; DELETE ends it (`result: {"subscription_id"}`)."""
    if request.method not in ("PUT", "DELETE"):
        return method_not_allowed(request)
    key = token(request)
    account = _account(key, account_id)
    subscription = account.subscriptions.filter(
        pk=subscription_id, zone__isnull=True, cancelled_at__isnull=True
    ).first()
    if subscription is None:
        return failure(404, SUBSCRIPTION_NOT_FOUND, f"Subscription {subscription_id} not found.")
    if request.method == "PUT":
        roll_period(subscription)
        _apply(subscription, _order(request, key, "account", subscription), new=False)
        return success(subscription_json(subscription))
    subscription.state, subscription.cancelled_at = State.CANCELLED, sandbox_now()
    subscription.save(update_fields=["state", "cancelled_at"])
    return success({"subscription_id": subscription.id})


urlpatterns = [
    re_path(r"^zones/?$", zones),
    re_path(r"^zones/(?P<zone_id>[^/]+)/?$", zone_detail),
    re_path(r"^zones/(?P<zone_id>[^/]+)/subscription/?$", zone_subscription),
    re_path(r"^zones/(?P<zone_id>[^/]+)/available_rate_plans/?$", available_rate_plans),
    re_path(r"^accounts/(?P<account_id>[^/]+)/subscriptions/?$", account_subscriptions),
    re_path(
        r"^accounts/(?P<account_id>[^/]+)/subscriptions/(?P<subscription_id>[^/]+)/?$",
        account_subscription_detail,
    ),
]
