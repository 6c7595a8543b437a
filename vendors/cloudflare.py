"""Cloudflare API v4 client for tenant (reseller) accounts (vendors.md section 2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

from vendors.errors import VendorError
from vendors.http import VendorHTTP, oldest_first

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


class CloudflareClient(VendorHTTP):
    """Cloudflare API v4: Bearer token auth; the v4 envelope's `success` flag decides, not only HTTP."""

    vendor = "cloudflare"

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

    def get_account(self, account_id: str) -> CloudflareAccount:
        """Read one account (`GET /accounts/{account_id}`)."""
        body = self._request("GET", f"/accounts/{quote(account_id, safe='')}")
        return self._account(body.get("result") if isinstance(body, dict) else None, "get account")

    def _account(self, result: Any, what: str) -> CloudflareAccount:
        if not isinstance(result, dict) or not result.get("id"):
            raise self._unreadable(what, result)
        return CloudflareAccount(
            id=str(result["id"]), name=str(result.get("name") or ""), raw=self._scrub(result)
        )

    def _unreadable(self, what: str, body: Any) -> VendorError:
        return VendorError(
            self.vendor,
            "invalid_response",
            f"unexpected {what} response",
            retryable=True,
            outcome_unknown=True,
            raw=self._scrub(body),
        )


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
