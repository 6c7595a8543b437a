"""Reconciliation rows written directly (no run, no vendor): findings, runs and not-billed marks."""

import uuid

from reconciliation.models import Finding, FindingKind, NotBilled
from subscriptions.cloudflare.models import CloudflareZone, ZoneState
from tests.factories import AcmeContractFactory, FindingFactory, NotBilledFactory, SubaccountFactory


def zone_row(customer, **fields) -> CloudflareZone:
    """An active zone record (not at the sandbox)."""
    account = customer.subaccounts.filter(vendor="cloudflare").first() or SubaccountFactory(
        customer=customer, vendor="cloudflare", active=True, name=f"cf-{uuid.uuid4().hex[:8]}"
    )
    return CloudflareZone.objects.create(
        partner=customer.partner,
        customer=customer,
        subaccount=account,
        name=fields.pop("name", f"{uuid.uuid4().hex[:8]}.example"),
        state=ZoneState.ACTIVE,
        vendor_id=uuid.uuid4().hex,
        rate_plan_id=fields.pop("rate_plan_id", "PARTNERS_BIZ"),
        **fields,
    )


def contract_row(customer, **fields):
    """An active ACME contract record (not at the sandbox)."""
    return AcmeContractFactory(
        subaccount=SubaccountFactory(customer=customer, active=True, name=f"dc-{uuid.uuid4().hex[:8]}"),
        active=True,
        **fields,
    )


def finding_for(
    target, *, kind=FindingKind.PROVIDED_NOT_BILLED, rule="provided_not_billed", **fields
) -> Finding:
    """An open finding about `target` (its partner and customer), with a small evidence table."""
    return FindingFactory(target=target, kind=kind, rule=rule, **fields)


def mark_on(target, reason="Internal test domain.") -> NotBilled:
    return NotBilledFactory(target=target, reason=reason)
