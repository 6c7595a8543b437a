"""Certificate inventory: what DigiCert issued under each ACME contract, read with its subaccount key.

Face side: a refresh of one contract ("refresh now", the admin action, the API) and the scheduled
refresh of every contract. Worker side: `RefreshCertificates` lists the contract's certificates
(`GET /acme/{id}/certificates`) and makes our rows match the list: new serials are added, listed
ones refreshed, and ones no longer listed (replaced, or the contract ended) marked gone.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import audit, operations
from core.actor import Actor
from core.error_codes import CoreErrorCode
from core.errors import RuleViolation
from core.models import Operation, OperationState
from partner.access import Can, require
from subscriptions.acme.models import LIVE_STATES, AcmeContract, Certificate, ContractState
from subscriptions.rules import require_at_vendor
from vendors.digicert.client import DigiCertClient
from vendors.http import parse_time

# Contracts whose certificates the schedule reads: live ones, and ones on their way out.
REFRESHED_STATES = [*LIVE_STATES, ContractState.CANCEL_PENDING]
CHANGE_NAMES_SHOWN = 10


# --- Face side ----------------------------------------------------------------------------------


def refresh_certificates(actor: Actor, contract: AcmeContract) -> AcmeContract:
    """Read the contract's certificate list at DigiCert now (refused before the contract exists there)."""
    require(actor, Can.MANAGE_SERVICES, partner=contract.partner, customer=contract.customer)
    require_at_vendor(contract, "contract", "DigiCert")
    with transaction.atomic():
        if operations.pending_for(contract).filter(kind=RefreshCertificates.kind).exists():
            raise RuleViolation(
                f"The certificates of {contract} are being read already; wait for it to finish or fail.",
                code=CoreErrorCode.OPERATION_IN_PROGRESS,
            )
        _start(actor, contract)
    return contract


def _start(actor: Actor, contract: AcmeContract) -> None:
    # Not exclusive: reading the certificate list changes nothing at DigiCert, so it need not wait
    # for the contract's other operations (the scheduled contract sync runs at the same times and
    # would otherwise crowd it out, every time).
    operations.start(
        actor, contract, RefreshCertificates.kind, partner_id=contract.partner_id, exclusive=False
    )


def queue_scheduled_refreshes() -> int:
    """Scheduled: refresh every live contract, and every ended one still showing certificates, unless a
    refresh of it is already in flight."""
    busy = set(
        Operation.objects.filter(
            content_type=ContentType.objects.get_for_model(AcmeContract),
            kind=RefreshCertificates.kind,
            state=OperationState.PENDING,
        ).values_list("object_id", flat=True)
    )
    ended_with_certificates = Certificate.objects.filter(gone_at__isnull=True).values("contract_id")
    contracts = AcmeContract.objects.exclude(vendor_id="").filter(
        Q(state__in=REFRESHED_STATES) | Q(pk__in=ended_with_certificates)
    )
    # Materialised first: enqueueing through the ORM broker must not interleave with an open cursor.
    due = [contract for contract in contracts if str(contract.pk) not in busy]
    for contract in due:
        with transaction.atomic():
            _start(Actor.system(), contract)
    return len(due)


# --- Worker side --------------------------------------------------------------------------------


def _item(raw: dict) -> dict | None:
    """One listed certificate in our terms; an item without a serial number cannot be tracked."""
    serial = str(raw.get("serial_number") or "").strip()
    if not serial:
        return None
    expires = parse_time(raw.get("expiration_date"))
    sans = next((raw[k] for k in ("sans", "dns_names") if isinstance(raw.get(k), list)), [])
    return {
        "serial_number": serial[:64],
        "domain": str(raw.get("domain") or (sans[0] if sans else ""))[:253],
        "sans": [str(s) for s in sans],
        "status": str(raw.get("status") or "")[:32],
        "expires_at": expires.isoformat() if expires else None,
        "vendor_view": raw,
    }


@operations.register
class RefreshCertificates(operations.OperationHandler):
    """GET /acme/{id}/certificates with the subaccount key; our rows then match DigiCert's list."""

    kind = "acme.refresh_certificates"
    label = "Refresh certificates"

    def perform(self, operation, contract):
        listed = DigiCertClient(contract.subaccount.api_key.reveal()).list_certificates(contract.vendor_id)
        items = {item["serial_number"]: item for item in filter(None, map(_item, listed))}
        # The list goes to succeeded() only: it lives on the Certificate rows, not on the operation.
        return {"listed": len(items), "_items": list(items.values())}

    def succeeded(self, operation, contract, result, actor):
        now = timezone.now()
        listed = {item["serial_number"]: item for item in result["_items"]}
        known = {c.serial_number: c for c in Certificate.objects.filter(contract=contract)}
        new, seen, changed = [], [], []
        for serial, item in listed.items():
            fields = {
                "domain": item["domain"],
                "sans": item["sans"],
                "status": item["status"],
                "expires_at": parse_time(item["expires_at"]),
                "vendor_view": item["vendor_view"],
            }
            cert = known.get(serial)
            if cert is None:
                new.append(
                    Certificate(
                        partner_id=contract.partner_id,
                        customer_id=contract.customer_id,
                        contract=contract,
                        serial_number=serial,
                        first_seen_at=now,
                        last_seen_at=now,
                        **fields,
                    )
                )
                continue
            if cert.gone_at is not None or any(
                getattr(cert, k) != v for k, v in fields.items() if k != "vendor_view"
            ):
                changed.append(cert.domain)
            for name, value in fields.items():
                setattr(cert, name, value)
            cert.last_seen_at, cert.gone_at = now, None
            seen.append(cert)
        gone = [c for serial, c in known.items() if serial not in listed and c.gone_at is None]
        for cert in gone:
            cert.gone_at = now
        Certificate.objects.bulk_create(new)
        Certificate.objects.bulk_update(
            [*seen, *gone],
            ["domain", "sans", "status", "expires_at", "vendor_view", "last_seen_at", "gone_at"],
        )
        contract.certificates_synced_at = now
        contract.save(update_fields=["certificates_synced_at", "updated_at"])
        if new or gone or changed:  # a refresh that finds the same list is not an event
            audit.record(
                actor,
                "acme.certificates_changed",
                contract,
                partner_id=contract.partner_id,
                changes={
                    name: [None, _names(certs)]
                    for name, certs in (
                        ("new_certificates", [c.domain for c in new]),
                        ("gone_certificates", [c.domain for c in gone]),
                        ("changed_certificates", changed),
                    )
                    if certs
                },
                note=f"{len(new)} new, {len(gone)} gone, {len(changed)} changed at DigiCert",
            )


def _names(names: list[str]) -> list[str]:
    shown = sorted(names)[:CHANGE_NAMES_SHOWN]
    return [*shown, f"+{len(names) - len(shown)} more"] if len(names) > len(shown) else shown
