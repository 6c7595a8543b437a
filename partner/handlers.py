"""The partner app's vendor operations: creating a customer's subaccount at DigiCert or Cloudflare.

Registered with core.operations (imported by partner.apps); the services start them.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from core import audit, states
from core.actor import Actor
from core.errors import DomainError
from core.models import Operation, OperationState
from core.operations import AwaitingDecision, OperationHandler, register
from partner import signals
from partner.models import CREATE_SUBACCOUNT, SUBACCOUNT_MOVES, Subaccount, SubaccountState, Vendor
from vendors.cloudflare.client import CloudflareClient
from vendors.digicert.client import DigiCertClient
from vendors.errors import VendorError

logger = logging.getLogger(__name__)


@register
class CreateSubaccount(OperationHandler):
    """Create the subaccount at its vendor exactly once. Cloudflare: after an attempt that may have
    reached it, look the account up by name first. DigiCert documents no such read: after a lost
    create answer nothing is created blindly, the operation waits for staff to link or confirm."""

    kind = CREATE_SUBACCOUNT
    label = "Create subaccount"

    def perform(self, operation: Operation, subaccount: Subaccount) -> dict:
        if subaccount.vendor == Vendor.DIGICERT:
            return self._digicert(operation, subaccount)
        partner = subaccount.partner
        client = CloudflareClient(partner.cloudflare_api_token.reveal())
        # An earlier attempt (of this operation, or of the one a retry replaces) may have created it.
        maybe_created = operation.attempts > 1 or operation.params.get("retry")
        found = client.find_account(subaccount.name) if maybe_created else None
        account = found or client.create_account(
            name=subaccount.name,
            unit_id=partner.cloudflare_unit_id or None,
            business_email=subaccount.customer.contact_email or None,
        )
        return {"vendor_id": account.id, "response": account.raw}

    def _digicert(self, operation: Operation, subaccount: Subaccount) -> dict:
        client = DigiCertClient(subaccount.partner.digicert_api_key.reveal())
        if subaccount.vendor_id:  # linked by staff after a lost answer: it exists, give it our key
            # The key of the lost response is gone for good: mint a fresh one under its own name.
            # The Partner Subscriptions API documents no way to list or revoke keys, so the lost one
            # ("<name>-backoffice") is left for staff to revoke in DigiCert's console (we alert).
            key = client.create_api_key(subaccount.vendor_id, name=f"{subaccount.name}-backoffice-linked")
            return {
                "vendor_id": subaccount.vendor_id,
                "response": {},
                "lost_key_name": f"{subaccount.name}-backoffice",
                "_api_key": key,
            }
        if operation.outcome_unknown:  # a worker died mid-call: it may have been created
            raise AwaitingDecision("An earlier attempt may have created it at DigiCert.")
        try:
            created = client.create_subaccount(
                name=subaccount.name,
                api_key_name=f"{subaccount.name}-backoffice",
                emergency_contact_emails=_emergency_contacts(subaccount),
            )
        except VendorError as error:
            if error.outcome_unknown:
                raise AwaitingDecision(f"DigiCert's answer was lost ({error}).") from error
            raise
        return {"vendor_id": created.account_id, "response": created.raw, "_api_key": created.api_key}

    def succeeded(self, operation, subaccount, result, actor) -> None:
        before = audit.snapshot(subaccount)
        subaccount.vendor_id = result["vendor_id"]
        if result.get("_api_key"):
            subaccount.api_key = result["_api_key"]
        subaccount.vendor_response = result["response"]
        states.move(subaccount, SubaccountState.ACTIVE, SUBACCOUNT_MOVES, save=False)
        subaccount.activated_at = timezone.now()
        subaccount.save()
        lost_key = result.get("lost_key_name")
        audit.record(
            actor,
            "subaccount.activated",
            subaccount,
            partner_id=subaccount.partner_id,
            before=before,
            note=f"adopted after a lost answer; revoke the key {lost_key!r} in DigiCert's console "
            "(the Partner Subscriptions API documents no key revocation)"
            if lost_key
            else "",
        )
        if lost_key:
            logger.warning(
                "subaccount %s adopted after a lost answer: revoke its unused key %r at DigiCert",
                subaccount.pk,
                lost_key,
            )
        # After this outcome commits (the operation is no longer pending on the subaccount), in
        # its own transaction: a refusal there never undoes the recorded subaccount.
        transaction.on_commit(lambda: _announce_activated(actor, subaccount.pk))

    def failed(self, operation, subaccount, actor) -> None:
        self._move(subaccount, SubaccountState.FAILED, actor, "subaccount.failed", operation.last_error)

    def retrying(self, operation, subaccount) -> None:
        states.move(subaccount, SubaccountState.PENDING, SUBACCOUNT_MOVES)

    def attempt_failed(self, operation, subaccount, error) -> None:
        # A lost answer (or out of attempts after one): it may exist at the vendor until a read says.
        unknown = error.outcome_unknown or operation.state == OperationState.UNKNOWN
        states.move(
            subaccount, SubaccountState.UNKNOWN if unknown else SubaccountState.PENDING, SUBACCOUNT_MOVES
        )

    def awaiting(self, operation, subaccount, why, actor) -> None:
        self._move(
            subaccount,
            SubaccountState.UNKNOWN,
            actor,
            "subaccount.awaiting_decision",
            f"{why} Look for {subaccount.name!r} in CertCentral: link its id, or confirm a fresh create.",
        )

    @staticmethod
    def _move(subaccount: Subaccount, state: str, actor: Actor, action: str, note: str) -> None:
        states.move(subaccount, state, SUBACCOUNT_MOVES, actor=actor, action=action, note=note)


def _announce_activated(actor: Actor, subaccount_id: int) -> None:
    """What a new subaccount needs starts (the partner's auto-renew default as its DigiCert account
    setting, run as its own retried operation); a refusal is recorded, never raised."""
    subaccount = Subaccount.objects.select_related("partner", "customer").get(pk=subaccount_id)
    try:
        with transaction.atomic():
            signals.subaccount_activated.send(Subaccount, subaccount=subaccount, actor=actor)
    except DomainError as error:
        audit.record(
            actor,
            "subaccount.settings_not_applied",
            subaccount,
            partner_id=subaccount.partner_id,
            changes={},
            note=f"{error.message} Apply the partner's defaults on the subaccount page.",
        )
        logger.warning("subaccount %s: defaults not applied: %s", subaccount.pk, error)


def _emergency_contacts(subaccount: Subaccount) -> list[str]:
    emails = [subaccount.customer.contact_email, subaccount.partner.org_contact_email]
    return list(dict.fromkeys(e for e in emails if e))
