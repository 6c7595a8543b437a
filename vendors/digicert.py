"""DigiCert Partner Subscriptions API client (vendors.md section 1.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from django.conf import settings

from vendors.errors import VendorError
from vendors.http import VendorHTTP, oldest_first


@dataclass(frozen=True)
class DigiCertSubaccount:
    """A DigiCert subaccount; `api_key` is only known right after creation, never kept in `raw`."""

    account_id: str
    name: str
    api_key: str | None = field(default=None, repr=False)
    raw: dict = field(default_factory=dict, repr=False)


class DigiCertClient(VendorHTTP):
    """DigiCert Partner Subscriptions API: `X-PARTNER-APIKEY` auth, `{"errors": [...]}` envelope."""

    vendor = "digicert"

    def __init__(self, api_key: str, *, base_url: str | None = None, timeout: float | None = None):
        if not api_key:
            raise ValueError("DigiCertClient needs an API key.")
        super().__init__(base_url or settings.DIGICERT_BASE_URL, timeout=timeout, secrets=(api_key,))
        self._api_key = api_key

    def _auth_headers(self) -> dict[str, str]:
        return {"X-PARTNER-APIKEY": self._api_key}

    def _error_code_and_message(self, body: Any) -> tuple[str, str] | None:
        """First of `{"errors": [{"code", "message"}]}`, or DigiCert prose's lone `{"error": {...}}`."""
        if not isinstance(body, dict):
            return None
        errors = body.get("errors")
        first = errors[0] if isinstance(errors, list) and errors else body.get("error")
        if isinstance(first, dict) and str(first.get("code") or "").strip():
            code = str(first["code"]).strip()
            return code, str(first.get("message") or code)
        return None

    def create_subaccount(
        self, *, name: str, api_key_name: str, emergency_contact_emails: list[str]
    ) -> DigiCertSubaccount:
        """Create a subaccount with its API key (parent key only); the key is returned once."""
        body = self._request(
            "POST",
            "/account/subaccount",
            json={
                "api_key_name": api_key_name,
                "name": name,
                "emergency_contact_emails": list(emergency_contact_emails),
            },
        )
        # The response shape is SILENT in DigiCert's docs: accept the plausible spellings.
        if not isinstance(body, dict):
            raise self._unreadable("create subaccount", body)
        account_id = body.get("account_id", body.get("id"))
        if account_id in (None, ""):
            raise self._unreadable("create subaccount", body)
        api_key = _key_from(body.get("api_key"))
        return DigiCertSubaccount(
            account_id=str(account_id),
            name=str(body.get("name") or name),
            api_key=api_key,
            raw=self._without_key(body, api_key),
        )

    def find_subaccount(self, name: str) -> DigiCertSubaccount | None:
        """Find the oldest subaccount named `name`, to reconcile a create whose answer was lost.

        ASSUMPTION: `GET /account/subaccount?name=` answering `{"subaccounts": [{"account_id",
        "name", "created_at"}]}` is modelled on CertCentral's "list subaccounts"; the Partner
        API documents no listing. Names are compared exactly here whatever the vendor filters.
        """
        body = self._request("GET", "/account/subaccount", params={"name": name})
        items = body.get("subaccounts") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise self._unreadable("list subaccounts", body)
        matches = [
            item
            for item in items
            if isinstance(item, dict)
            and item.get("name") == name
            and item.get("account_id", item.get("id")) not in (None, "")
        ]
        if not matches:
            return None
        oldest = oldest_first(matches, "created_at")[0]
        return DigiCertSubaccount(
            account_id=str(oldest.get("account_id", oldest.get("id"))),
            name=name,
            api_key=None,
            raw=self._scrub(oldest),
        )

    def create_api_key(self, account_id: str, name: str) -> str:
        """Mint a new key for a subaccount (parent key only), e.g. after its first key was lost."""
        body = self._request(
            "POST", f"/api-key/account/{quote(str(account_id), safe='')}", json={"name": name}
        )
        key = _key_from(body if isinstance(body, dict) else None)
        if not key:
            raise self._unreadable("create API key", body)
        return key

    def _unreadable(self, what: str, body: Any) -> VendorError:
        # The body may hold a key under a name we do not know: only its field names are kept.
        fields = sorted(body) if isinstance(body, dict) else type(body).__name__
        return VendorError(
            self.vendor,
            "invalid_response",
            f"unexpected {what} response (fields: {fields})",
            retryable=True,
            outcome_unknown=True,
        )

    def _without_key(self, body: dict, api_key: str | None) -> dict:
        """The response body to keep: the key object's metadata stays, the key itself goes."""
        kept = dict(body)
        key_object = kept.pop("api_key", None)
        if isinstance(key_object, dict):
            kept["api_key"] = {k: v for k, v in key_object.items() if k not in ("api_key", "key")}
        kept = self._scrub(kept)
        # Also anywhere else the vendor might echo it (a "key" field, a message...).
        return _drop_value(kept, api_key) if api_key else kept


def _key_from(value: Any) -> str | None:
    """An API key given as a plain string or as an object with `api_key` (or `key`)."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        key = value.get("api_key", value.get("key"))
        return key if isinstance(key, str) and key else None
    return None


def _drop_value(value: Any, secret: str) -> Any:
    """Remove every entry whose value is (or contains) the secret, wherever it sits."""
    if isinstance(value, dict):
        return {
            k: _drop_value(v, secret) for k, v in value.items() if not (isinstance(v, str) and secret in v)
        }
    if isinstance(value, list):
        return [_drop_value(v, secret) for v in value if not (isinstance(v, str) and secret in v)]
    return value
