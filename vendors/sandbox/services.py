"""Sandbox operations shared by the views, the management commands, the admin and test helpers."""

from __future__ import annotations

import hashlib
import random
import re
import secrets
from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db.models import F, Q

from vendors.sandbox.cloudflare.catalog import DEFAULT_ENTITLEMENTS, PLANS
from vendors.sandbox.digicert.models import AcmeContract, AcmeCredential, DigiCertSubaccount
from vendors.sandbox.state import Fault, KeyRole, RequestLogEntry, Vendor, VendorKey

# The role a registered (not vendor-minted) credential gets, per vendor.
_REGISTERED_ROLE = {Vendor.DIGICERT: KeyRole.PARTNER, Vendor.CLOUDFLARE: KeyRole.TENANT_TOKEN}


def key_digest(key: str) -> str:
    """The stored form of a credential: its SHA-256, never the key."""
    return hashlib.sha256(key.encode()).hexdigest()


def check_registrable(
    vendor: str, key: str, unit_id: str = "", entitlements: list[str] | None = None
) -> None:
    """Refuse what register_key cannot register, with a message for a person."""
    if vendor not in _REGISTERED_ROLE:
        raise ValidationError(f"Unknown vendor {vendor!r}; expected one of {', '.join(Vendor.values)}.")
    if not (key or "").strip():
        raise ValidationError("The key is empty.")
    if unit_id and vendor != Vendor.CLOUDFLARE:
        raise ValidationError("Only Cloudflare tokens have a unit id.")
    if entitlements is not None:
        if vendor != Vendor.CLOUDFLARE:
            raise ValidationError("Only Cloudflare tokens have entitlements.")
        check_plans(entitlements)
    existing = find_key(vendor, key.strip())
    if existing is not None and existing.role != _REGISTERED_ROLE[vendor]:
        raise ValidationError(f"This key is already registered as a {existing.get_role_display()}.")


def register_key(
    vendor: str, key: str, *, label: str = "", unit_id: str = "", entitlements: list[str] | None = None
) -> tuple[VendorKey, bool]:
    """Register a DigiCert partner key or a Cloudflare tenant token; running it again changes nothing.

    A label, unit id or entitlements given again replace the stored ones. Returns (key, created).
    Cloudflare tokens registered without entitlements may buy the default set of plans.
    """
    check_registrable(vendor, key, unit_id, entitlements)
    key = key.strip()
    existing = find_key(vendor, key)
    if existing is None:
        registered = VendorKey.objects.create(
            vendor=vendor,
            role=_REGISTERED_ROLE[vendor],
            digest=key_digest(key),
            label=label,
            unit_id=unit_id,
            entitlements=entitlements,
        )
        return registered, True
    changed = {
        name: value
        for name, value in (("label", label), ("unit_id", unit_id), ("entitlements", entitlements))
        if value is not None and value != "" and getattr(existing, name) != value
    }
    if changed:
        for name, value in changed.items():
            setattr(existing, name, value)
        existing.save(update_fields=list(changed))
    return existing, False


def check_plans(plan_ids: list[str]) -> None:
    """Refuse rate plan ids the sandbox's price list does not have."""
    unknown = [plan_id for plan_id in plan_ids if plan_id not in PLANS]
    if unknown:
        raise ValidationError(
            f"Unknown rate plan(s) {', '.join(unknown)}; the sandbox sells {', '.join(PLANS)}."
        )


def entitlements_of(key: VendorKey) -> list[str]:
    """The rate plan ids a Cloudflare token may buy (its own list, else the default set)."""
    return list(DEFAULT_ENTITLEMENTS if key.entitlements is None else key.entitlements)


def set_entitlements(
    key: VendorKey,
    *,
    replace: Sequence[str] | None = None,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
    default: bool = False,
) -> list[str]:
    """Change what a Cloudflare token may buy: back to the default, replace, then add and remove."""
    if key.vendor != Vendor.CLOUDFLARE:
        raise ValidationError("Only Cloudflare tokens have entitlements.")
    check_plans([*(replace or []), *add, *remove])
    plans = list(DEFAULT_ENTITLEMENTS) if default else entitlements_of(key)
    if replace is not None:
        plans = list(dict.fromkeys(replace))
    plans += [plan_id for plan_id in add if plan_id not in plans]
    plans = [plan_id for plan_id in plans if plan_id not in remove]
    key.entitlements = None if default and not (replace is not None or add or remove) else plans
    key.save(update_fields=["entitlements"])
    return entitlements_of(key)


def mint_subaccount_key(subaccount: DigiCertSubaccount, name: str) -> tuple[VendorKey, str]:
    """A new DigiCert subaccount key: the plaintext is returned once and only its digest is kept."""
    plaintext = secrets.token_hex(24).upper()
    key = VendorKey.objects.create(
        vendor=Vendor.DIGICERT,
        role=KeyRole.SUBACCOUNT,
        digest=key_digest(plaintext),
        label=name,
        subaccount=subaccount,
    )
    return key, plaintext


def issue_acme_credential(contract: AcmeContract) -> tuple[AcmeCredential, str]:
    """A new EAB credential: the HMAC key is returned once; only its digest and a hint are kept."""
    # ACME clients take the EAB HMAC key base64url-encoded (RFC 8555 section 7.3.4).
    hmac_key = secrets.token_urlsafe(32)
    credential = AcmeCredential.objects.create(
        contract=contract,
        kid=secrets.token_urlsafe(16),
        hmac_digest=key_digest(hmac_key),
        hmac_hint=hmac_key[:4],
    )
    return credential, hmac_key


def find_key(vendor: str, presented: str | None) -> VendorKey | None:
    """The registered credential matching what a request presented, if any."""
    if not presented:
        return None
    return VendorKey.objects.filter(vendor=vendor, digest=key_digest(presented)).first()


def add_fault(
    vendor: str,
    kind: str,
    *,
    method: str = "*",
    path_regex: str = "",
    status: int | None = None,
    retry_after: float | None = None,
    count: int | None = None,
    rate: float = 1.0,
) -> Fault:
    """Arm a fault for matching requests, `count` times (None: until cleared), with probability `rate`."""
    if count is not None and count < 1:
        raise ValidationError("The count must be at least 1 (leave it out for unlimited).")
    fault = Fault(
        vendor=vendor,
        kind=kind,
        method=(method or "*").upper(),
        path_regex=path_regex or "",
        status=status,
        retry_after=retry_after,
        remaining=count,
        rate=rate,
    )
    fault.full_clean()
    fault.save()
    return fault


def clear_faults(vendor: str | None = None, fault_id: int | None = None) -> int:
    """Remove faults (all, one vendor's, or one); returns how many."""
    faults = Fault.objects.all()
    if vendor:
        faults = faults.filter(vendor=vendor)
    if fault_id is not None:
        faults = faults.filter(pk=fault_id)
    return faults.delete()[0]


def pick_fault(vendor: str, method: str, path: str) -> Fault | None:
    """The first armed fault that matches this request and wins its dice roll, now used once."""
    armed = Fault.objects.filter(vendor=vendor, method__in=[method.upper(), "*"]).filter(
        Q(remaining__isnull=True) | Q(remaining__gt=0)
    )
    for fault in armed.order_by("id"):
        if not re.search(fault.path_regex, path):
            continue
        if fault.rate < 1.0 and not roll() < fault.rate:
            continue
        used = Fault.objects.filter(pk=fault.pk)
        if fault.remaining is not None:
            # Conditional, so two concurrent requests cannot both take the last one.
            used = used.filter(remaining__gt=0)
            if not used.update(remaining=F("remaining") - 1, fired=F("fired") + 1):
                continue
        else:
            used.update(fired=F("fired") + 1)
        return fault
    return None


def roll() -> float:
    """The dice for a fault's rate, in [0, 1); tests replace it."""
    return random.random()  # noqa: S311 - chooses which request fails, not a secret


def record_request(vendor: str, method: str, path: str, status: int | None, fault: Fault | None) -> None:
    """Log a request: vendor, method, path, status and fault only, never headers or bodies."""
    RequestLogEntry.objects.create(
        vendor=vendor,
        method=method.upper()[:10],
        path=path[:500],
        status=status,
        fault=fault.kind if fault else "",
    )
