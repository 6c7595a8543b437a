"""DigiCert Partner Subscriptions API emulator, under /sandbox/digicert/v1/ (vendors.md 1.1).

Subaccounts, API keys, account settings and reporting; ACME contracts are in digicert_acme.
Errors use `{"errors": [{"code", "message"}]}` with the DigiCert ONE codes: invalid_request
(400), invalid_api_key (401), access_denied (403), resource_not_found (404).
"""

from __future__ import annotations

from datetime import UTC

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import re_path

from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.digicert.models import DigiCertAccountSetting, DigiCertSubaccount
from vendors.sandbox.services import find_key, mint_subaccount_key
from vendors.sandbox.state import KeyRole, Vendor, VendorKey
from vendors.sandbox.views import Refusal, json_body, sandbox_endpoint

_FAULT_CODES = {
    429: "rate_limit_exceeded",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"errors": [{"code": code, "message": message}]}, status=status)


def fault_error(status: int, message: str) -> JsonResponse:
    return error(status, _FAULT_CODES.get(status, f"http_{status}"), message)


def invalid(message: str) -> JsonResponse:
    return error(400, "invalid_request", message)


endpoint = sandbox_endpoint(Vendor.DIGICERT, "/digicert/v1", fault_error)


# Account settings the sandbox knows: name -> (system default, accepted values). The values are
# strings, as DigiCert documents them ("1" on, "0" off).
ACCOUNT_SETTINGS = {"auto_renew_subscription": ("0", ("0", "1"))}


def any_key(request: HttpRequest) -> VendorKey:
    """A registered DigiCert key of either kind, else 401."""
    key = find_key(Vendor.DIGICERT, request.headers.get("X-Partner-Apikey"))
    if key is None:
        raise Refusal(error(401, "invalid_api_key", "The API key is missing or not valid."))
    return key


def partner_key(request: HttpRequest) -> VendorKey:
    """Only a parent (partner) key may manage subaccounts and their keys, and read reporting."""
    key = any_key(request)
    if key.role != KeyRole.PARTNER:
        raise Refusal(error(403, "access_denied", "This endpoint requires a partner (parent) API key."))
    return key


def subaccount_key(request: HttpRequest) -> VendorKey:
    """ACME contract endpoints accept only a subaccount key; a parent key is refused with 403."""
    key = any_key(request)
    if key.role != KeyRole.SUBACCOUNT:
        raise Refusal(error(403, "access_denied", "ACME contract endpoints require a subaccount API key."))
    return key


def _settings_owner(key: VendorKey) -> dict:
    """Whose settings a key reads and changes: its subaccount's, or the parent account's."""
    return {"subaccount": key.subaccount} if key.role == KeyRole.SUBACCOUNT else {"partner_key": key}


def setting_override(name: str, **owner) -> str | None:
    """The account's own value of a setting, or None when the system default applies."""
    found = DigiCertAccountSetting.objects.filter(name=name, **owner).values_list("value", flat=True)
    return found.first()


def method_not_allowed(request: HttpRequest, allowed: list[str]) -> JsonResponse:
    response = error(405, "method_not_allowed", f"{request.method} is not allowed here.")
    response["Allow"] = ", ".join(allowed)
    return response


def _text(body: dict, field: str, max_length: int = 255) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise Refusal(invalid(f"{field} is required."))
    if len(value) > max_length:
        raise Refusal(invalid(f"{field} is longer than {max_length} characters."))
    return value.strip()


def timestamp(value) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@endpoint
def subaccounts(request: HttpRequest) -> JsonResponse:
    """POST creates a subaccount with its first API key. The Partner Subscriptions API documents no
    listing of subaccounts (vendors.md section 0, item 8), so neither does the sandbox."""
    if request.method != "POST":
        return method_not_allowed(request, ["POST"])
    parent = partner_key(request)
    body = json_body(request, invalid)
    name = _text(body, "name")
    api_key_name = _text(body, "api_key_name")
    emails = body.get("emergency_contact_emails", [])
    if not isinstance(emails, list) or not all(isinstance(e, str) and "@" in e for e in emails):
        raise Refusal(invalid("emergency_contact_emails must be a list of e-mail addresses."))
    subaccount = DigiCertSubaccount.objects.create(
        name=name, emergency_contact_emails=emails, parent_key=parent
    )
    key, plaintext = mint_subaccount_key(subaccount, api_key_name)
    return JsonResponse(
        {
            "account_id": subaccount.id,
            "name": subaccount.name,
            "api_key": {"id": key.id, "name": key.label, "api_key": plaintext, "status": "active"},
        },
        status=201,
    )


@endpoint
def api_keys(request: HttpRequest, account_id: str) -> JsonResponse:
    """POST creates another API key for a subaccount of the calling partner."""
    if request.method != "POST":
        return method_not_allowed(request, ["POST"])
    parent = partner_key(request)
    subaccount = (
        DigiCertSubaccount.objects.filter(pk=int(account_id), parent_key=parent).first()
        if account_id.isdigit() and len(account_id) < 10
        else None
    )
    if subaccount is None:
        # Another partner's subaccount is indistinguishable from a missing one.
        return error(404, "resource_not_found", f"Account {account_id} was not found.")
    name = _text(json_body(request, invalid), "name")
    key, plaintext = mint_subaccount_key(subaccount, name)
    return JsonResponse(
        {"id": key.id, "name": key.label, "api_key": plaintext, "status": "active"}, status=201
    )


@endpoint
def account_settings(request: HttpRequest) -> JsonResponse:
    """GET lists the account's settings with `is_default`; PATCH changes one setting per request.

    ASSUMPTION (the listing's shape is SILENT): `{"settings": [{"name", "value", "is_default"}]}`.
    Setting a value back to the system default removes the override. PATCH answers 204.
    """
    if request.method not in ("GET", "PATCH"):
        return method_not_allowed(request, ["GET", "PATCH"])
    owner = _settings_owner(any_key(request))
    if request.method == "GET":
        listed = []
        for name, (default, _) in ACCOUNT_SETTINGS.items():
            value = setting_override(name, **owner)
            listed.append({"name": name, "value": value or default, "is_default": value is None})
        return JsonResponse({"settings": listed})
    body = json_body(request, invalid)
    name, value = body.get("name"), body.get("value")
    if name not in ACCOUNT_SETTINGS:
        raise Refusal(invalid(f"Unknown setting {name!r}; known: {', '.join(ACCOUNT_SETTINGS)}."))
    default, accepted = ACCOUNT_SETTINGS[name]
    if value not in accepted:
        raise Refusal(invalid(f"{name} must be one of {', '.join(repr(v) for v in accepted)}."))
    if value == default:
        DigiCertAccountSetting.objects.filter(name=name, **owner).delete()
    else:
        DigiCertAccountSetting.objects.update_or_create(
            name=name, **owner, defaults={"value": value, "updated_at": sandbox_now()}
        )
    return HttpResponse(status=204)


@endpoint
def no_route(request: HttpRequest) -> JsonResponse:
    """Anything else under the DigiCert prefix."""
    return error(404, "resource_not_found", f"No endpoint {request.method} {request.path_info}.")


urlpatterns = [
    re_path(r"^account/subaccount/?$", subaccounts),
    re_path(r"^account/settings/?$", account_settings),
    re_path(r"^api-key/account/(?P<account_id>[^/]+)/?$", api_keys),
    re_path(r"", no_route),
]
