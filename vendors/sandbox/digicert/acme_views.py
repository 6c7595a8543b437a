"""DigiCert ACME contracts emulator, under /sandbox/digicert/v1/acme (vendors.md 1.1), plus reporting.

The documented rules it follows:
- every /acme endpoint takes only a subaccount key; another subaccount's contract is not found;
- products ssl_dv_rapidssl (DV), ssl_basic (OV: needs `organization`) and ssl_ev_basic (EV: also
  `verified_contacts`); `sans` may not be empty;
- `auto_renew` on create: the value sent wins, else the account setting auto_renew_subscription,
  else false; PUT is a full replacement, so an `auto_renew` left out becomes false;
- DELETE cancels only within 30 days of creation (sandbox clock) and is irreversible: the SANs
  are released, the directory URL goes inactive, and nothing but reads work afterwards;
- coverage lasts a year and, while `auto_renew` is on, moves on a year when it runs out
  (applied lazily whenever the contract is read).

ASSUMPTIONS where DigiCert is SILENT: create answers 201 with the contract plus
`acme_directory_url` and `eab_set: {"credential_id", "key_id", "hmac_key"}`; regenerate answers
200 with `acme_contract_id`, `acme_directory_url` and `eab_set`; PUT and PATCH answer 200 with
the contract; adding or removing SANs answers 204; there is no GET /acme listing (405).
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from dateutil.relativedelta import relativedelta
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import re_path, reverse
from django.views.decorators.http import require_safe

from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.digicert.models import AcmeContract, AcmeCredential
from vendors.sandbox.digicert.views import (
    endpoint,
    error,
    invalid,
    method_not_allowed,
    partner_key,
    setting_override,
    subaccount_key,
    timestamp,
)
from vendors.sandbox.services import issue_acme_credential
from vendors.sandbox.state import VendorKey
from vendors.sandbox.views import Refusal, json_body

PRODUCTS = {"ssl_dv_rapidssl": "DV", "ssl_basic": "OV", "ssl_ev_basic": "EV"}
CANCEL_WINDOW = timedelta(days=30)
TERM = relativedelta(years=1)
PATCHABLE = ("auto_renew", "sans", "organization", "verified_contacts")
# Synthetic certificates: 90-day certificates that an ACME client renews every 60 days.
CERTIFICATE_LIFETIME, CERTIFICATE_RENEWAL = timedelta(days=90), timedelta(days=60)
_DOMAIN = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def contract_json(contract: AcmeContract) -> dict:
    """A contract as DigiCert's "get ACME contract details" example shows it."""
    return {
        "acme_contract_id": contract.id,
        "account_id": contract.subaccount_id,
        "product_name_id": contract.product_name_id,
        "created_at": timestamp(contract.created_at),
        "sans": list(contract.sans),
        "valid_till": timestamp(contract.valid_till),
        "organization": contract.organization,
        # The sandbox validates an organization at once; DV has none to validate.
        "is_organization_validated": contract.organization is not None,
        "auto_renew": contract.auto_renew,
        "date_canceled": timestamp(contract.date_canceled) if contract.date_canceled else None,
    }


def directory_url(request: HttpRequest, contract: AcmeContract) -> str:
    """The contract's ACME directory, on the host the request came to."""
    return request.build_absolute_uri(reverse("sandbox-digicert-acme-directory", args=[contract.id]))


def renew_if_due(contract: AcmeContract) -> None:
    """Auto-renewal: past `valid_till`, a live auto-renewing contract gets another year (or more)."""
    if contract.date_canceled or not contract.auto_renew:
        return
    now, valid_till = sandbox_now(), contract.valid_till
    while valid_till <= now:
        valid_till += TERM
    if valid_till != contract.valid_till:
        contract.valid_till = valid_till
        contract.save(update_fields=["valid_till"])


# --- Request checks ----------------------------------------------------------------------------


def _contract(key: VendorKey, contract_id: str) -> AcmeContract:
    """The subaccount's own contract, renewed if due; anyone else's is indistinguishable from none."""
    contract = (
        AcmeContract.objects.filter(pk=int(contract_id), subaccount_id=key.subaccount_id).first()
        if contract_id.isdigit() and len(contract_id) < 10
        else None
    )
    if contract is None:
        raise Refusal(error(404, "resource_not_found", f"ACME contract {contract_id} was not found."))
    renew_if_due(contract)
    return contract


def _live(contract: AcmeContract) -> None:
    """Cancellation is irreversible: a cancelled contract can only be read."""
    if contract.date_canceled:
        raise Refusal(invalid(f"ACME contract {contract.id} is canceled; cancellation is irreversible."))


def _product(body: dict) -> str:
    product = body.get("product_name_id")
    if product not in PRODUCTS:
        raise Refusal(invalid(f"product_name_id must be one of {', '.join(PRODUCTS)}."))
    return product


def _sans(value) -> list[str]:
    if not isinstance(value, list) or not value:
        raise Refusal(invalid("sans must be a non-empty list of domain names."))
    sans: list[str] = []
    for item in value:
        name = item.strip().lower() if isinstance(item, str) else ""
        if not _DOMAIN.match(name):
            raise Refusal(invalid(f"{item!r} is not a domain name."))
        if name not in sans:
            sans.append(name)
    return sans


def _organization(body: dict, product: str) -> dict | None:
    """OV and EV need the organization (PUT must resend it); DV may leave it out."""
    value = body.get("organization")
    if value is None:
        if PRODUCTS[product] != "DV":
            raise Refusal(invalid(f"organization is required for {product} ({PRODUCTS[product]})."))
        return None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"].strip():
        raise Refusal(invalid("organization must be an object with at least a name."))
    return value


def _verified_contacts(body: dict, product: str, current: list | None = None) -> list | None:
    """EV also needs a verified contact."""
    value = body.get("verified_contacts", current)
    if value is not None and not (isinstance(value, list) and all(isinstance(c, dict) for c in value)):
        raise Refusal(invalid("verified_contacts must be a list of contact objects."))
    if PRODUCTS[product] == "EV" and not value:
        raise Refusal(invalid(f"verified_contacts is required for {product} (EV)."))
    return value


def _flag(body: dict, field: str) -> bool | None:
    """A boolean field; None when left out (or null)."""
    value = body.get(field)
    if value is not None and not isinstance(value, bool):
        raise Refusal(invalid(f"{field} must be true or false."))
    return value


def _eab(request: HttpRequest, contract: AcmeContract, credential: AcmeCredential, hmac_key: str) -> dict:
    return {
        "acme_directory_url": directory_url(request, contract),
        "eab_set": {"credential_id": credential.id, "key_id": credential.kid, "hmac_key": hmac_key},
    }


# --- Endpoints ---------------------------------------------------------------------------------


@endpoint
def contracts(request: HttpRequest) -> JsonResponse:
    """POST creates a contract and its first EAB credential (201)."""
    if request.method != "POST":
        return method_not_allowed(request, ["POST"])
    key = subaccount_key(request)
    body = json_body(request, invalid)
    product = _product(body)
    sans = _sans(body.get("sans"))
    organization = _organization(body, product)
    contacts = _verified_contacts(body, product)
    auto_renew = _flag(body, "auto_renew")
    if auto_renew is None:
        # Left out: the account setting decides, and without one the contract does not renew.
        auto_renew = setting_override("auto_renew_subscription", subaccount=key.subaccount) == "1"
    contract = AcmeContract.objects.create(
        subaccount=key.subaccount,
        product_name_id=product,
        sans=sans,
        organization=organization,
        verified_contacts=contacts,
        auto_renew=auto_renew,
    )
    credential, hmac_key = issue_acme_credential(contract)
    return JsonResponse(
        {**contract_json(contract), **_eab(request, contract, credential, hmac_key)}, status=201
    )


@endpoint
def contract_detail(request: HttpRequest, contract_id: str) -> HttpResponse:
    """GET reads, PUT replaces, PATCH changes some fields, DELETE cancels (first 30 days only)."""
    if request.method not in ("GET", "PUT", "PATCH", "DELETE"):
        return method_not_allowed(request, ["GET", "PUT", "PATCH", "DELETE"])
    contract = _contract(subaccount_key(request), contract_id)
    if request.method == "GET":
        return JsonResponse(contract_json(contract))
    _live(contract)
    if request.method == "DELETE":
        return _cancel(contract)
    body = json_body(request, invalid)
    if request.method == "PUT":
        product = _product(body)
        contract.product_name_id = product
        contract.sans = _sans(body.get("sans"))
        contract.organization = _organization(body, product)
        contract.verified_contacts = _verified_contacts(body, product, contract.verified_contacts)
        # A full replacement: an auto_renew left out is false, not "unchanged".
        contract.auto_renew = bool(_flag(body, "auto_renew"))
    else:
        _patch(contract, body)
    contract.save()
    return JsonResponse(contract_json(contract))


def _patch(contract: AcmeContract, body: dict) -> None:
    unknown = sorted(set(body) - set(PATCHABLE))
    if unknown:
        raise Refusal(
            invalid(f"A partial update cannot change {', '.join(unknown)}; use PUT to replace the contract.")
        )
    if not body:
        raise Refusal(invalid(f"Nothing to update; send one of {', '.join(PATCHABLE)}."))
    if "auto_renew" in body:
        if body["auto_renew"] is None:
            raise Refusal(invalid("auto_renew must be true or false."))
        contract.auto_renew = _flag(body, "auto_renew")
    if "sans" in body:
        contract.sans = _sans(body["sans"])
    if "organization" in body:
        contract.organization = _organization(body, contract.product_name_id)
    if "verified_contacts" in body:
        contract.verified_contacts = _verified_contacts(body, contract.product_name_id)


def _cancel(contract: AcmeContract) -> HttpResponse:
    now = sandbox_now()
    if now - contract.created_at > CANCEL_WINDOW:
        raise Refusal(
            invalid(
                "Cancellation is only available within 30 days of the contract's creation. "
                "To stop renewal, set auto_renew to false with a partial update."
            )
        )
    contract.date_canceled = now
    contract.released_sans, contract.sans = contract.sans, []
    contract.save()
    # The directory URL goes inactive, and with it every EAB credential.
    contract.credentials.filter(status=AcmeCredential.Status.ACTIVE).update(
        status=AcmeCredential.Status.REVOKED, revoked_at=now
    )
    return HttpResponse(status=204)


@endpoint
def contract_sans(request: HttpRequest, contract_id: str) -> HttpResponse:
    """PUT adds SANs, DELETE removes them (204); neither on a cancelled contract."""
    if request.method not in ("PUT", "DELETE"):
        return method_not_allowed(request, ["PUT", "DELETE"])
    contract = _contract(subaccount_key(request), contract_id)
    _live(contract)
    sans = _sans(json_body(request, invalid).get("sans"))
    if request.method == "PUT":
        contract.sans = contract.sans + [san for san in sans if san not in contract.sans]
    else:
        missing = [san for san in sans if san not in contract.sans]
        if missing:
            raise Refusal(invalid(f"Not on ACME contract {contract.id}: {', '.join(missing)}."))
        remaining = [san for san in contract.sans if san not in sans]
        if not remaining:
            raise Refusal(invalid("An ACME contract keeps at least one SAN."))
        contract.sans = remaining
    contract.save(update_fields=["sans"])
    return HttpResponse(status=204)


@endpoint
def certificates(request: HttpRequest, contract_id: str) -> JsonResponse:
    """GET lists the contract's certificates: one synthetic certificate per SAN, none once cancelled."""
    if request.method != "GET":
        return method_not_allowed(request, ["GET"])
    contract = _contract(subaccount_key(request), contract_id)
    if contract.date_canceled:
        return JsonResponse({"certificates": []})
    # The latest 60-day renewal within the coverage.
    until = min(sandbox_now(), contract.valid_till - timedelta(seconds=1))
    cycles = max(until - contract.created_at, timedelta(0)) // CERTIFICATE_RENEWAL
    issued = contract.created_at + cycles * CERTIFICATE_RENEWAL
    listed = [
        {
            "domain": san,
            "status": "issued",
            "serial_number": hashlib.sha256(f"{contract.id}:{san}:{issued}".encode())
            .hexdigest()[:32]
            .upper(),
            "expiration_date": timestamp(issued + CERTIFICATE_LIFETIME),
            "sans": [san],
        }
        for san in contract.sans
    ]
    return JsonResponse({"certificates": listed})


@endpoint
def credentials(request: HttpRequest, contract_id: str) -> JsonResponse:
    """GET lists every EAB credential of the contract, revoked ones too."""
    if request.method != "GET":
        return method_not_allowed(request, ["GET"])
    contract = _contract(subaccount_key(request), contract_id)
    return JsonResponse(
        {
            "credentials": [
                {
                    "credential_id": credential.id,
                    "kid_hint": credential.kid_hint,
                    "status": credential.status,
                    # As in DigiCert's example: "2026-06-01 14:00:00".
                    "created_at": credential.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                }
                for credential in contract.credentials.order_by("id")
            ]
        }
    )


@endpoint
def regenerate(request: HttpRequest, contract_id: str) -> JsonResponse:
    """POST issues a new EAB set; `revoke_existing` (default true) revokes the active ones first."""
    if request.method != "POST":
        return method_not_allowed(request, ["POST"])
    contract = _contract(subaccount_key(request), contract_id)
    _live(contract)
    body = json_body(request, invalid) if request.body else {}
    revoke = _flag(body, "revoke_existing")
    if revoke is None or revoke:
        contract.credentials.filter(status=AcmeCredential.Status.ACTIVE).update(
            status=AcmeCredential.Status.REVOKED, revoked_at=sandbox_now()
        )
    credential, hmac_key = issue_acme_credential(contract)
    return JsonResponse({"acme_contract_id": contract.id, **_eab(request, contract, credential, hmac_key)})


@endpoint
def reporting(request: HttpRequest) -> JsonResponse:
    """GET (parent key only): the ACME contracts per subaccount; subaccounts without any are left out."""
    if request.method != "GET":
        return method_not_allowed(request, ["GET"])
    parent = partner_key(request)
    accounts: dict[int, list] = {}
    for contract in AcmeContract.objects.filter(subaccount__parent_key=parent).order_by(
        "subaccount_id", "id"
    ):
        renew_if_due(contract)
        accounts.setdefault(contract.subaccount_id, []).append(contract_json(contract))
    return JsonResponse(
        {"accounts": [{"account_id": account_id, "acme": acme} for account_id, acme in accounts.items()]}
    )


@require_safe
def directory(request: HttpRequest, contract_id: int) -> JsonResponse:
    """The RFC 8555 directory at a contract's directory URL; 404 once the contract is cancelled.

    This is the ACME server's side, not the Partner API: no key, no request log, no faults.
    The sandbox serves the directory only, so an ACME client can be pointed at it and see that
    External Account Binding is required; it issues no certificates.
    """
    contract = AcmeContract.objects.filter(pk=contract_id, date_canceled__isnull=True).first()
    if contract is None:
        return JsonResponse(
            {
                "type": "urn:ietf:params:acme:error:malformed",
                "detail": "No such ACME directory.",
                "status": 404,
            },
            status=404,
            content_type="application/problem+json",
        )
    base = directory_url(request, contract).removesuffix("directory")
    return JsonResponse(
        {
            "newNonce": f"{base}new-nonce",
            "newAccount": f"{base}new-account",
            "newOrder": f"{base}new-order",
            "revokeCert": f"{base}revoke-cert",
            "keyChange": f"{base}key-change",
            "meta": {"externalAccountRequired": True},
        }
    )


urlpatterns = [
    re_path(r"^account/reporting/?$", reporting),
    re_path(r"^acme/?$", contracts),
    re_path(r"^acme/(?P<contract_id>[^/]+)/?$", contract_detail),
    re_path(r"^acme/(?P<contract_id>[^/]+)/sans/?$", contract_sans),
    re_path(r"^acme/(?P<contract_id>[^/]+)/certificates/?$", certificates),
    re_path(r"^acme/(?P<contract_id>[^/]+)/credentials/?$", credentials),
    re_path(r"^acme/(?P<contract_id>[^/]+)/credentials/regenerate/?$", regenerate),
]
