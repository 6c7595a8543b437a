"""Cloudflare API v4 client for tenant (reseller) accounts (vendors.md section 2)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

from vendors.errors import VendorError
from vendors.http import VendorHTTP, oldest_first, parse_decimal, parse_time

# Cloudflare's own maximum page size for GET /accounts.
_PAGE_SIZE = 50
# A lookup by name that needs more pages than this is not a lookup any more.
_MAX_PAGES = 100


@dataclass(frozen=True)
class CloudflareAccount:
    """A Cloudflare account created under the reseller's tenant; `raw` is the v4 `result`."""

    id: str
    name: str
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class CloudflareZone:
    """A zone in a customer account; `plan` is the zone's own plan object, raw, `raw` the v4 `result`.

    The plan's `id` is opaque ("0feeee...", `legacy_id` "free"): it names no rate plan. Which rate
    plan a zone is on comes from its subscription only (vendors.md 0.7, `get_zone_subscription`).
    """

    id: str
    name: str
    account_id: str
    status: str
    plan: dict = field(default_factory=dict)
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class ComponentValue:
    """Units of one component of a subscription (e.g. page_rules), its included default and unit price."""

    name: str
    value: Decimal
    default: Decimal | None
    price: Decimal | None


@dataclass(frozen=True)
class CloudflareSubscription:
    """A zone or account subscription (bill-subs-api_subscription-v2); money as Decimal, times aware UTC."""

    id: str
    rate_plan_id: str
    rate_plan: dict
    component_values: tuple[ComponentValue, ...]
    frequency: str
    price: Decimal | None
    currency: str
    state: str
    current_period_start: datetime | None
    current_period_end: datetime | None
    zone_id: str | None
    raw: dict = field(default_factory=dict, repr=False)


class CloudflareClient(VendorHTTP):
    """Cloudflare API v4: Bearer token auth; the v4 envelope's `success` flag decides, not only HTTP."""

    vendor = "cloudflare"

    # ASSUMPTION (SILENT in Cloudflare's docs): how "this zone has no subscription yet" is
    # answered. The sandbox answers 404 with code 1207; a 2xx with an empty result also counts.
    NO_SUBSCRIPTION_CODES = frozenset({"1207"})

    def __init__(self, api_token: str, *, base_url: str | None = None, timeout: float | None = None):
        if not api_token:
            raise ValueError("CloudflareClient needs an API token.")
        super().__init__(base_url or settings.CLOUDFLARE_BASE_URL, timeout=timeout, secrets=(api_token,))
        self._api_token = api_token

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_token}"}

    def _error_code_and_message(self, body: Any) -> tuple[str, str] | None:
        """v4 failures list `errors: [{"code": <int>, "message"}]`; the first code, as a string."""
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            first = errors[0]
            if first.get("code") not in (None, ""):
                return str(first["code"]), str(first.get("message") or first["code"])
        return None

    def _check_success(self, body: Any, response: requests.Response) -> None:
        """A 2xx whose envelope says `success: false` is still a failure."""
        if isinstance(body, dict) and body.get("success") is False:
            code, message = self._error_code_and_message(body) or ("unsuccessful", "success: false")
            raise VendorError(
                self.vendor,
                code,
                self._scrub(message),
                status=response.status_code,
                raw=self._scrub(body),
            )

    def create_account(
        self,
        *,
        name: str,
        unit_id: str | None = None,
        account_type: str = "standard",
        business_email: str | None = None,
    ) -> CloudflareAccount:
        """Create a customer account under the tenant (`POST /accounts`); `unit` only when given."""
        payload: dict[str, Any] = {"name": name, "type": account_type}
        if unit_id:
            payload["unit"] = {"id": unit_id}
        if business_email:
            payload["business_email"] = business_email
        body = self._request("POST", "/accounts", json=payload)
        return self._account(body.get("result") if isinstance(body, dict) else None, "create account")

    def find_account(self, name: str) -> CloudflareAccount | None:
        """Find the oldest account named exactly `name` (`GET /accounts?name=`, every page)."""
        matches: list[dict] = []
        for page in range(1, _MAX_PAGES + 1):
            body = self._request(
                "GET", "/accounts", params={"name": name, "page": page, "per_page": _PAGE_SIZE}
            )
            result = body.get("result") if isinstance(body, dict) else None
            if not isinstance(result, list):
                raise self._unreadable("list accounts", body)
            matches += [item for item in result if isinstance(item, dict) and item.get("name") == name]
            if _last_page(body.get("result_info"), page, len(result)):
                break
        if not matches:
            return None
        return self._account(oldest_first(matches, "created_on")[0], "list accounts")

    def list_accounts(self, *, per_page: int = 1) -> list[CloudflareAccount]:
        """The first page of the accounts the token sees (`GET /accounts`): a cheap authenticated read."""
        body = self._request("GET", "/accounts", params={"page": 1, "per_page": per_page})
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, list):
            raise self._unreadable("list accounts", body)
        return [self._account(item, "list accounts") for item in result if isinstance(item, dict)]

    def get_account(self, account_id: str) -> CloudflareAccount:
        """Read one account (`GET /accounts/{account_id}`)."""
        body = self._request("GET", f"/accounts/{quote(account_id, safe='')}")
        return self._account(body.get("result") if isinstance(body, dict) else None, "get account")

    # --- Zones ----------------------------------------------------------------------------------

    def create_zone(self, *, name: str, account_id: str, zone_type: str = "full") -> CloudflareZone:
        """Create a zone in a customer account (`POST /zones {"name", "account": {"id"}, "type"}`)."""
        body = self._request(
            "POST", "/zones", json={"name": name, "account": {"id": account_id}, "type": zone_type}
        )
        return self._zone(body.get("result") if isinstance(body, dict) else None, "create zone")

    def get_zone(self, zone_id: str) -> CloudflareZone:
        """Read one zone (`GET /zones/{zone_id}`)."""
        body = self._request("GET", f"/zones/{quote(zone_id, safe='')}")
        return self._zone(body.get("result") if isinstance(body, dict) else None, "get zone")

    def find_zone(self, name: str, account_id: str) -> CloudflareZone | None:
        """The account's zone named exactly `name` (`GET /zones?name=&account.id=`), or None."""
        params = {"name": name, "account.id": account_id}
        for item in self._pages("/zones", params, "list zones"):
            if item.get("name") == name and (item.get("account") or {}).get("id") == account_id:
                return self._zone(item, "list zones")
        return None

    # --- Zone subscriptions ----------------------------------------------------------------------

    def get_zone_subscription(self, zone_id: str) -> CloudflareSubscription | None:
        """The zone's subscription (`GET /zones/{zone_id}/subscription`); None while a free zone has none."""
        try:
            body = self._request("GET", self._zone_subscription_path(zone_id))
        except VendorError as error:
            if error.status == 404 and error.code in self.NO_SUBSCRIPTION_CODES:
                return None
            raise
        result = body.get("result") if isinstance(body, dict) else None
        if result in (None, {}):
            return None
        return self._subscription(result, "get zone subscription")

    def create_zone_subscription(
        self,
        zone_id: str,
        *,
        rate_plan_id: str,
        frequency: str = "monthly",
        component_values: list[tuple[str, Decimal | int]] | None = None,
    ) -> CloudflareSubscription:
        """Subscribe a zone to a plan, typically an upgrade from PARTNERS_FREE (`POST /zones/{id}/subscription`)."""
        return self._write_subscription(
            "POST",
            self._zone_subscription_path(zone_id),
            subscription_body(rate_plan_id, frequency, component_values),
            "create zone subscription",
        )

    def update_zone_subscription(
        self,
        zone_id: str,
        *,
        rate_plan_id: str,
        frequency: str,
        component_values: list[tuple[str, Decimal | int]] | None = None,
    ) -> CloudflareSubscription:
        """Change a zone's plan, components or frequency, downgrades included (`PUT /zones/{id}/subscription`)."""
        return self._write_subscription(
            "PUT",
            self._zone_subscription_path(zone_id),
            subscription_body(rate_plan_id, frequency, component_values),
            "update zone subscription",
        )

    def available_rate_plans(self, zone_id: str) -> list[dict]:
        """The rate plans this zone may subscribe to (`GET /zones/{id}/available_rate_plans`), each raw
        (bill-subs-api_rate-plan: id, name, currency, duration, frequency, components)."""
        body = self._request("GET", f"/zones/{quote(zone_id, safe='')}/available_rate_plans")
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, list):
            raise self._unreadable("available rate plans", body)
        return [self._scrub(item) for item in result if isinstance(item, dict) and item.get("id")]

    # --- Account subscriptions (add-ons) ---------------------------------------------------------

    def list_account_subscriptions(self, account_id: str) -> list[CloudflareSubscription]:
        """Every subscription of an account (`GET /accounts/{id}/subscriptions`, every page)."""
        items = self._pages(self._account_subscriptions_path(account_id), {}, "list subscriptions")
        return [self._subscription(item, "list subscriptions") for item in items]

    def create_account_subscription(
        self,
        account_id: str,
        *,
        rate_plan_id: str,
        frequency: str = "monthly",
        component_values: list[tuple[str, Decimal | int]] | None = None,
    ) -> CloudflareSubscription:
        """Buy an add-on (`POST /accounts/{id}/subscriptions`); components left out get the purchase's defaults."""
        return self._write_subscription(
            "POST",
            self._account_subscriptions_path(account_id),
            subscription_body(rate_plan_id, frequency, component_values),
            "create account subscription",
        )

    def update_account_subscription(
        self,
        account_id: str,
        subscription_id: str,
        *,
        rate_plan_id: str,
        frequency: str,
        component_values: list[tuple[str, Decimal | int]] | None = None,
    ) -> CloudflareSubscription:
        """Change an add-on (`PUT /accounts/{id}/subscriptions/{subscription_id}`)."""
        return self._write_subscription(
            "PUT",
            f"{self._account_subscriptions_path(account_id)}/{quote(subscription_id, safe='')}",
            subscription_body(rate_plan_id, frequency, component_values),
            "update account subscription",
        )

    def delete_account_subscription(self, account_id: str, subscription_id: str) -> str:
        """End an add-on (`DELETE /accounts/{id}/subscriptions/{subscription_id}`); returns `result.subscription_id`."""
        body = self._request(
            "DELETE",
            f"{self._account_subscriptions_path(account_id)}/{quote(subscription_id, safe='')}",
            json={},
        )
        result = _result(body)
        if not isinstance(result, dict) or not result.get("subscription_id"):
            raise self._unreadable("delete account subscription", body)
        return str(result["subscription_id"])

    # --- Parsing ---------------------------------------------------------------------------------

    def _write_subscription(self, method: str, path: str, request: dict, what: str) -> CloudflareSubscription:
        """Create or change one subscription (zone or account) and read the one Cloudflare answers with."""
        return self._subscription(_result(self._request(method, path, json=request)), what)

    def _zone_subscription_path(self, zone_id: str) -> str:
        return f"/zones/{quote(zone_id, safe='')}/subscription"

    def _account_subscriptions_path(self, account_id: str) -> str:
        return f"/accounts/{quote(account_id, safe='')}/subscriptions"

    def _pages(self, path: str, params: dict, what: str) -> list[dict]:
        """Every item of a v4 collection, page after page."""
        items: list[dict] = []
        for page in range(1, _MAX_PAGES + 1):
            body = self._request("GET", path, params={**params, "page": page, "per_page": _PAGE_SIZE})
            result = body.get("result") if isinstance(body, dict) else None
            if not isinstance(result, list):
                raise self._unreadable(what, body)
            items += [item for item in result if isinstance(item, dict)]
            if _last_page(body.get("result_info"), page, len(result)):
                break
        return items

    def _zone(self, result: Any, what: str) -> CloudflareZone:
        if not isinstance(result, dict) or not result.get("id") or not result.get("name"):
            raise self._unreadable(what, result)
        account = result.get("account") if isinstance(result.get("account"), dict) else {}
        plan = result.get("plan") if isinstance(result.get("plan"), dict) else {}
        return CloudflareZone(
            id=str(result["id"]),
            name=str(result["name"]),
            account_id=str(account.get("id") or ""),
            status=str(result.get("status") or ""),
            plan=self._scrub(plan),
            raw=self._scrub(result),
        )

    def _subscription(self, result: Any, what: str) -> CloudflareSubscription:
        rate_plan = result.get("rate_plan") if isinstance(result, dict) else None
        if not isinstance(rate_plan, dict) or not result.get("id") or not rate_plan.get("id"):
            raise self._unreadable(what, result)
        zone = result.get("zone") if isinstance(result.get("zone"), dict) else {}
        components = (
            result.get("component_values") if isinstance(result.get("component_values"), list) else []
        )
        return CloudflareSubscription(
            id=str(result["id"]),
            rate_plan_id=str(rate_plan["id"]),
            rate_plan=self._scrub(rate_plan),
            component_values=tuple(
                ComponentValue(
                    name=str(item["name"]),
                    value=parse_decimal(item.get("value")) or Decimal(0),
                    default=parse_decimal(item.get("default")),
                    price=parse_decimal(item.get("price")),
                )
                for item in components
                if isinstance(item, dict) and item.get("name")
            ),
            frequency=str(result.get("frequency") or ""),
            price=parse_decimal(result.get("price")),
            currency=str(result.get("currency") or rate_plan.get("currency") or ""),
            state=str(result.get("state") or ""),
            current_period_start=parse_time(result.get("current_period_start")),
            current_period_end=parse_time(result.get("current_period_end")),
            zone_id=str(zone["id"]) if zone.get("id") else None,
            raw=self._scrub(result),
        )

    def _account(self, result: Any, what: str) -> CloudflareAccount:
        if not isinstance(result, dict) or not result.get("id"):
            raise self._unreadable(what, result)
        return CloudflareAccount(
            id=str(result["id"]), name=str(result.get("name") or ""), raw=self._scrub(result)
        )


def subscription_body(
    rate_plan_id: str, frequency: str, component_values: Iterable[tuple[str, Decimal | int]] | None
) -> dict:
    """The subscription-v2 request body; `component_values` only when given (the tenant docs send it)."""
    body: dict[str, Any] = {"rate_plan": {"id": rate_plan_id}, "frequency": frequency}
    if component_values is not None:
        body["component_values"] = [
            {"name": name, "value": _json_number(value)} for name, value in component_values
        ]
    return body


def _json_number(value: Decimal | int) -> int | float:
    # JSON has no Decimal: whole amounts go as integers, others as floats.
    number = Decimal(value)
    return int(number) if number == number.to_integral_value() else float(number)


def _result(body: Any) -> Any:
    return body.get("result") if isinstance(body, dict) else None


def _last_page(info: Any, page: int, count: int) -> bool:
    """Whether `page` was the last one, from `result_info` or, lacking it, a short page."""
    if isinstance(info, dict):
        total_pages = info.get("total_pages")
        if isinstance(total_pages, int):
            return page >= total_pages
        total_count, per_page = info.get("total_count"), info.get("per_page")
        if isinstance(total_count, int) and isinstance(per_page, int) and per_page > 0:
            return page * per_page >= total_count
    return count < _PAGE_SIZE
