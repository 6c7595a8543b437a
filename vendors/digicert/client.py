"""DigiCert Partner Subscriptions API client (vendors.md section 1.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django.conf import settings

from vendors.errors import VendorError
from vendors.http import VendorHTTP, oldest_first, parse_time


@dataclass(frozen=True)
class DigiCertSubaccount:
    """A DigiCert subaccount; `api_key` is only known right after creation, never kept in `raw`."""

    account_id: str
    name: str
    api_key: str | None = field(default=None, repr=False)
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class AccountSetting:
    """One account setting; `is_default` means the account has not overridden the system default."""

    name: str
    value: str
    is_default: bool


@dataclass(frozen=True)
class AcmeContract:
    """An ACME contract as DigiCert reports it; `raw` is the body without any EAB HMAC key."""

    contract_id: str
    account_id: str | None
    product_name_id: str
    sans: tuple[str, ...]
    auto_renew: bool
    created_at: datetime
    valid_till: datetime | None
    date_canceled: datetime | None
    organization: dict | None
    raw: dict = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class EabCredentials:
    """What an ACME client needs: the directory URL and the EAB key id and HMAC key (a secret)."""

    directory_url: str
    key_id: str
    hmac_key: str = field(repr=False)
    credential_id: str | None = None


@dataclass(frozen=True)
class AcmeCredential:
    """One EAB credential of a contract as listed (never the HMAC key): active or revoked."""

    credential_id: str
    kid_hint: str
    status: str
    created_at: datetime | None


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

    def create_api_key(self, account_id: str, name: str) -> str:
        """Mint a new key for a subaccount (parent key only), e.g. after its first key was lost."""
        body = self._request(
            "POST", f"/api-key/account/{quote(str(account_id), safe='')}", json={"name": name}
        )
        key = _key_from(body if isinstance(body, dict) else None)
        if not key:
            raise self._unreadable("create API key", body)
        return key

    # --- Account settings (parent or subaccount key) -----------------------------------------

    def get_account_settings(self) -> dict[str, AccountSetting]:
        """The key's account settings by name (`GET /account/settings`).

        The listing's shape is SILENT: `{"settings": [{"name", "value", "is_default"}]}` is
        read, and so is a bare list or a `{name: {"value", "is_default"}}` mapping.
        """
        body = self._request("GET", "/account/settings")
        items = body.get("settings", body) if isinstance(body, dict) else body
        if isinstance(items, dict):
            items = [{"name": name, **item} for name, item in items.items() if isinstance(item, dict)]
        if not isinstance(items, list):
            raise self._unreadable("account settings", body)
        settings_by_name = {}
        for item in items:
            if isinstance(item, dict) and item.get("name"):
                value = item.get("value")
                settings_by_name[str(item["name"])] = AccountSetting(
                    name=str(item["name"]),
                    value="" if value is None else str(value),
                    is_default=bool(item.get("is_default", False)),
                )
        return settings_by_name

    def update_account_setting(self, name: str, value: str) -> None:
        """Change one setting (`PATCH /account/settings`, one setting per request, values are strings)."""
        self._request("PATCH", "/account/settings", json={"name": name, "value": value})

    # --- ACME contracts (subaccount key only) -------------------------------------------------

    def create_acme_contract(
        self,
        *,
        product_name_id: str,
        sans: list[str],
        auto_renew: bool | None,
        organization: dict | None = None,
        verified_contacts: list | None = None,
    ) -> tuple[AcmeContract, EabCredentials]:
        """Create a contract (`POST /acme`); `auto_renew=None` leaves it out for the vendor to resolve.

        Left out, DigiCert uses the account setting `auto_renew_subscription`, else false. OV/EV
        need `organization`, EV also `verified_contacts`. The EAB HMAC key is returned only here.
        """
        payload: dict[str, Any] = {"product_name_id": product_name_id, "sans": list(sans)}
        if auto_renew is not None:
            payload["auto_renew"] = auto_renew
        if organization is not None:
            payload["organization"] = organization
        if verified_contacts is not None:
            payload["verified_contacts"] = list(verified_contacts)
        body = self._request("POST", "/acme", json=payload)
        if not isinstance(body, dict):
            raise self._unreadable("create ACME contract", body)
        credentials = self._eab(body, "create ACME contract")
        # The vendor echoing back what we sent is the fallback for fields its answer lacks.
        contract = self._contract(body, "create ACME contract", fallback=payload, secret=credentials.hmac_key)
        return contract, credentials

    def get_acme_contract(self, contract_id: str) -> AcmeContract:
        """Read one contract (`GET /acme/{id}`)."""
        body = self._request("GET", self._acme_path(contract_id))
        return self._contract(body, "get ACME contract")

    def replace_acme_contract(
        self,
        contract_id: str,
        *,
        product_name_id: str,
        sans: list[str],
        auto_renew: bool | None,
        organization: dict | None = None,
    ) -> None:
        """Replace a contract (`PUT /acme/{id}`), a full replacement.

        DigiCert resets `auto_renew` to false when it is left out (`auto_renew=None`), and OV/EV
        contracts must resend `organization`.
        """
        payload: dict[str, Any] = {"product_name_id": product_name_id, "sans": list(sans)}
        if auto_renew is not None:
            payload["auto_renew"] = auto_renew
        if organization is not None:
            payload["organization"] = organization
        self._request("PUT", self._acme_path(contract_id), json=payload)

    def patch_acme_contract(
        self,
        contract_id: str,
        *,
        auto_renew: bool | None = None,
        sans: list[str] | None = None,
        organization: dict | None = None,
        verified_contacts: list | None = None,
    ) -> None:
        """Change only the given fields (`PATCH /acme/{id}`); stops renewal after day 30 with auto_renew=False."""
        payload: dict[str, Any] = {}
        if auto_renew is not None:
            payload["auto_renew"] = auto_renew
        if sans is not None:
            payload["sans"] = list(sans)
        if organization is not None:
            payload["organization"] = organization
        if verified_contacts is not None:
            payload["verified_contacts"] = list(verified_contacts)
        if not payload:
            raise ValueError("patch_acme_contract needs at least one field to change.")
        self._request("PATCH", self._acme_path(contract_id), json=payload)

    def cancel_acme_contract(self, contract_id: str) -> None:
        """Cancel a contract (`DELETE /acme/{id}`, 204); DigiCert allows it only within 30 days of creation."""
        self._request("DELETE", self._acme_path(contract_id))

    def add_sans(self, contract_id: str, sans: list[str]) -> None:
        """Add SANs to a contract (`PUT /acme/{id}/sans`)."""
        self._request("PUT", f"{self._acme_path(contract_id)}/sans", json={"sans": list(sans)})

    def remove_sans(self, contract_id: str, sans: list[str]) -> None:
        """Remove SANs from a contract (`DELETE /acme/{id}/sans` with a JSON body); fails once cancelled."""
        self._request("DELETE", f"{self._acme_path(contract_id)}/sans", json={"sans": list(sans)})

    def list_credentials(self, contract_id: str) -> list[AcmeCredential]:
        """Every EAB credential of a contract, revoked ones included (`GET /acme/{id}/credentials`)."""
        body = self._request("GET", f"{self._acme_path(contract_id)}/credentials")
        items = body.get("credentials") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise self._unreadable("list ACME credentials", body)
        return [
            AcmeCredential(
                credential_id=str(item.get("credential_id", item.get("id", ""))),
                kid_hint=str(item.get("kid_hint") or ""),
                status=str(item.get("status") or ""),
                created_at=parse_time(item.get("created_at")),
            )
            for item in items
            if isinstance(item, dict)
        ]

    def regenerate_credentials(self, contract_id: str, *, revoke_existing: bool = True) -> EabCredentials:
        """New EAB credentials (`POST /acme/{id}/credentials/regenerate`); revoke_existing=False rotates without downtime.

        ASSUMPTION: the answer carries `eab_set` and the directory URL as on create (shape SILENT).
        """
        body = self._request(
            "POST",
            f"{self._acme_path(contract_id)}/credentials/regenerate",
            json={"revoke_existing": revoke_existing},
        )
        if not isinstance(body, dict):
            raise self._unreadable("regenerate ACME credentials", body)
        return self._eab(body, "regenerate ACME credentials")

    def list_certificates(self, contract_id: str) -> list[dict]:
        """The certificates issued under a contract (`GET /acme/{id}/certificates`), no PEM data."""
        body = self._request("GET", f"{self._acme_path(contract_id)}/certificates")
        items = body.get("certificates") if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise self._unreadable("list ACME certificates", body)
        return [self._scrub(item) for item in items if isinstance(item, dict)]

    def reporting(self) -> list[dict]:
        """ACME contracts per subaccount (`GET /account/reporting`, parent key only).

        Items are `{"account_id", "acme": [contract dicts]}`; only subaccounts with contracts.
        """
        body = self._request("GET", "/account/reporting")
        accounts = body.get("accounts") if isinstance(body, dict) else None
        if not isinstance(accounts, list):
            raise self._unreadable("ACME reporting", body)
        return [self._scrub(item) for item in accounts if isinstance(item, dict)]

    def find_acme_contract(
        self, *, account_id: str, product_name_id: str, sans: list[str], created_after: datetime
    ) -> AcmeContract | None:
        """Find, through reporting (parent key), the oldest live contract a lost create may have made.

        It belongs to `account_id`, was created at or after `created_after` (allow for clock
        skew), has the same product and the same SANs in any order, and is not cancelled.
        """
        wanted = sorted(san.lower() for san in sans)
        matches = []
        for account in self.reporting():
            if str(account.get("account_id")) != str(account_id):
                continue
            for item in account.get("acme") or []:
                if not isinstance(item, dict) or item.get("date_canceled"):
                    continue
                created = parse_time(item.get("created_at"))
                found_sans = item.get("sans") if isinstance(item.get("sans"), list) else []
                if (
                    item.get("product_name_id") == product_name_id
                    and sorted(str(san).lower() for san in found_sans) == wanted
                    and created is not None
                    and created >= created_after
                ):
                    matches.append(item)
        if not matches:
            return None
        return self._contract(oldest_first(matches, "created_at")[0], "ACME reporting")

    def _acme_path(self, contract_id: str) -> str:
        return f"/acme/{quote(str(contract_id), safe='')}"

    def _contract(
        self, body: Any, what: str, *, fallback: dict | None = None, secret: str | None = None
    ) -> AcmeContract:
        """An AcmeContract from a contract body; `raw` keeps neither the EAB set nor the HMAC key."""
        if not isinstance(body, dict):
            raise self._unreadable(what, body)
        known = {**(fallback or {}), **{k: v for k, v in body.items() if v is not None}}
        contract_id = known.get("acme_contract_id", known.get("id"))
        created_at = parse_time(known.get("created_at"))
        sans = known.get("sans")
        auto_renew = known.get("auto_renew")
        if (
            contract_id in (None, "")
            or created_at is None
            or not isinstance(sans, list)
            or not isinstance(auto_renew, bool)
            or not known.get("product_name_id")
        ):
            raise self._unreadable(what, body)
        account_id = body.get("account_id")
        organization = body.get("organization")
        return AcmeContract(
            contract_id=str(contract_id),
            account_id=None if account_id in (None, "") else str(account_id),
            product_name_id=str(known["product_name_id"]),
            sans=tuple(str(san) for san in sans),
            auto_renew=auto_renew,
            created_at=created_at,
            valid_till=parse_time(body.get("valid_till")),
            date_canceled=parse_time(body.get("date_canceled")),
            organization=organization if isinstance(organization, dict) else None,
            raw=self._without_eab(body, secret),
        )

    def _eab(self, body: dict, what: str) -> EabCredentials:
        """The directory URL and EAB pair from a create or regenerate answer (field names SILENT).

        ASSUMPTION: `acme_directory_url` and `eab_set: {"credential_id", "key_id", "hmac_key"}`
        (the sandbox's choice); also read are `directory_url`, the `kid`/`eab_kid` and
        `hmac`/`eab_hmac_key` spellings, and CertCentral's top-level `ext_act_kid`/`ext_act_hmac`.
        """
        eab = body.get("eab_set") if isinstance(body.get("eab_set"), dict) else {}
        directory_url = _first_text(body, "acme_directory_url", "directory_url")
        key_id = _first_text(eab, "key_id", "kid", "eab_kid") or _first_text(body, "ext_act_kid")
        hmac_key = _first_text(eab, "hmac_key", "hmac", "eab_hmac_key") or _first_text(body, "ext_act_hmac")
        if not (directory_url and key_id and hmac_key):
            raise self._unreadable(what, body)
        credential_id = eab.get("credential_id")
        return EabCredentials(
            directory_url=directory_url,
            key_id=key_id,
            hmac_key=hmac_key,
            credential_id=None if credential_id in (None, "") else str(credential_id),
        )

    def _without_eab(self, body: dict, secret: str | None) -> dict:
        """The body to keep: the EAB set's identifiers stay, every HMAC field and value goes."""
        kept = {k: v for k, v in body.items() if k not in _HMAC_FIELDS}
        if isinstance(kept.get("eab_set"), dict):
            kept["eab_set"] = {k: v for k, v in kept["eab_set"].items() if k not in _HMAC_FIELDS}
        kept = self._scrub(kept)
        return _drop_value(kept, secret) if secret else kept

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


# Where a create or regenerate answer may carry the EAB HMAC key: never kept in `raw`.
_HMAC_FIELDS = ("hmac_key", "hmac", "eab_hmac_key", "ext_act_hmac")


def _first_text(source: dict, *names: str) -> str | None:
    for name in names:
        value = source.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


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
