"""Cloudflare API v4 emulator for tenant accounts, under /sandbox/cloudflare/client/v4/ (vendors.md 2).

Zones and subscriptions are in cloudflare_billing. Every answer is a v4 envelope. Error codes are integers >= 1000: the real 10000 (authentication),
7001 (method not allowed) and 7003 (no route); the sandbox's own 1001 (invalid request), 1002
(unit not accessible), 1003 (account not found), and 1000 + status for injected HTTP faults.
"""

from __future__ import annotations

import math
from datetime import UTC

from django.db.models import Q
from django.http import HttpRequest, JsonResponse
from django.urls import re_path

from vendors.sandbox.cloudflare.models import CloudflareAccount
from vendors.sandbox.services import find_key
from vendors.sandbox.state import KeyRole, Vendor, VendorKey
from vendors.sandbox.views import Refusal, json_body, sandbox_endpoint

AUTHENTICATION_ERROR = 10000
METHOD_NOT_ALLOWED = 7001
NO_ROUTE = 7003
INVALID_REQUEST = 1001
UNIT_NOT_ACCESSIBLE = 1002
ACCOUNT_NOT_FOUND = 1003

KYC_FIELDS = ("business_name", "business_address", "business_email", "business_phone", "external_metadata")
DEFAULT_PER_PAGE, MIN_PER_PAGE, MAX_PER_PAGE = 20, 5, 50


def success(result, *, result_info: dict | None = None, status: int = 200) -> JsonResponse:
    body = {"success": True, "errors": [], "messages": [], "result": result}
    if result_info is not None:
        body["result_info"] = result_info
    return JsonResponse(body, status=status)


def failure(status: int, code: int, message: str) -> JsonResponse:
    return JsonResponse(
        {"success": False, "errors": [{"code": code, "message": message}], "messages": [], "result": None},
        status=status,
    )


def fault_failure(status: int, message: str) -> JsonResponse:
    return failure(status, 1000 + status, message)


def invalid(message: str) -> JsonResponse:
    return failure(400, INVALID_REQUEST, message)


endpoint = sandbox_endpoint(Vendor.CLOUDFLARE, "/cloudflare/client/v4", fault_failure)


def token(request: HttpRequest) -> VendorKey:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    key = find_key(Vendor.CLOUDFLARE, token.strip()) if scheme.lower() == "bearer" else None
    if key is None or key.role != KeyRole.TENANT_TOKEN:
        raise Refusal(failure(403, AUTHENTICATION_ERROR, "Authentication error"))
    return key


def visible_accounts(token: VendorKey):
    """A token sees the accounts of its unit, or the accounts it created when it has no unit."""
    mine = Q(owner_key=token)
    return CloudflareAccount.objects.filter(mine | Q(unit_id=token.unit_id) if token.unit_id else mine)


def method_not_allowed(request: HttpRequest) -> JsonResponse:
    return failure(405, METHOD_NOT_ALLOWED, f"Method {request.method} not allowed")


def _account_json(account: CloudflareAccount) -> dict:
    return {
        "id": account.id,
        "name": account.name,
        "type": account.type,
        "settings": {"enforce_twofactor": False},
        "created_on": account.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }


def int_param(request: HttpRequest, name: str, default: int) -> int:
    value = request.GET.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise Refusal(invalid(f"{name} must be an integer.")) from None


@endpoint
def accounts(request: HttpRequest) -> JsonResponse:
    """POST creates an account under the tenant; GET lists visible accounts, paginated."""
    if request.method == "POST":
        return _create_account(request, token(request))
    if request.method == "GET":
        return _list_accounts(request, token(request))
    return method_not_allowed(request)


def _create_account(request: HttpRequest, token: VendorKey) -> JsonResponse:
    body = json_body(request, invalid)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise Refusal(invalid("name is required."))
    account_type = body.get("type", CloudflareAccount.Type.STANDARD)
    if account_type not in CloudflareAccount.Type.values:
        raise Refusal(invalid(f"type must be one of {', '.join(CloudflareAccount.Type.values)}."))
    unit = body.get("unit")
    if unit is not None and not (isinstance(unit, dict) and isinstance(unit.get("id"), str) and unit["id"]):
        raise Refusal(invalid('unit must be {"id": "<unit tag>"}.'))
    unit_id = unit["id"] if unit else token.unit_id
    if token.unit_id and unit_id != token.unit_id:
        raise Refusal(
            failure(403, UNIT_NOT_ACCESSIBLE, f"Unit {unit_id} is not accessible with this API token.")
        )
    kyc = {field: body[field] for field in KYC_FIELDS if body.get(field) not in (None, "")}
    for field, value in kyc.items():
        if not isinstance(value, str) or len(value) > 120:
            raise Refusal(invalid(f"{field} must be text of at most 120 characters."))
    account = CloudflareAccount.objects.create(
        name=name.strip(), type=account_type, unit_id=unit_id, owner_key=token, kyc=kyc
    )
    return success(_account_json(account))


def _list_accounts(request: HttpRequest, token: VendorKey) -> JsonResponse:
    found = visible_accounts(token).order_by("created_at", "id")
    if request.GET.get("name"):
        found = found.filter(name=request.GET["name"])
    return paginated(request, found, _account_json)


def paginated(request: HttpRequest, found, render) -> JsonResponse:
    """A v4 collection answer for one page (`page`, `per_page` 5..50) of a queryset."""
    page = max(int_param(request, "page", 1), 1)
    per_page = min(max(int_param(request, "per_page", DEFAULT_PER_PAGE), MIN_PER_PAGE), MAX_PER_PAGE)
    total = found.count()
    items = list(found[(page - 1) * per_page : page * per_page])
    return success(
        [render(item) for item in items],
        result_info={
            "page": page,
            "per_page": per_page,
            "count": len(items),
            "total_count": total,
            "total_pages": math.ceil(total / per_page),
        },
    )


@endpoint
def account_detail(request: HttpRequest, account_id: str) -> JsonResponse:
    """GET one account visible to the token."""
    if request.method != "GET":
        return method_not_allowed(request)
    account = visible_accounts(token(request)).filter(pk=account_id).first()
    if account is None:
        return failure(404, ACCOUNT_NOT_FOUND, f"Account {account_id} not found.")
    return success(_account_json(account))


@endpoint
def no_route(request: HttpRequest) -> JsonResponse:
    """Anything else under the Cloudflare prefix, as the real API answers it."""
    return failure(404, NO_ROUTE, "No route for the URI")


urlpatterns = [
    re_path(r"^accounts/?$", accounts),
    re_path(r"^accounts/(?P<account_id>[^/]+)/?$", account_detail),
    re_path(r"", no_route),
]
