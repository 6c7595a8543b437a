"""Reconciliation rows written directly (no run, no vendor): findings, runs and not-billed marks."""

import uuid

import factory
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from reconciliation.models import Finding, FindingKind, NotBilled, Run, RunState
from subscriptions.models import CloudflareZone, ZoneState
from tests.dashboard.factories import AcmeContractFactory
from tests.factories import SubaccountFactory


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


class RunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Run

    state = RunState.FINISHED
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)


def finding_for(
    target, *, kind=FindingKind.PROVIDED_NOT_BILLED, rule="provided_not_billed", **fields
) -> Finding:
    """An open finding about `target` (its partner and customer), with a small evidence table."""
    return Finding.objects.create(
        partner=target.partner,
        customer=target.customer,
        kind=kind,
        rule=rule,
        key=f"{kind}|{uuid.uuid4().hex}",
        target_type=ContentType.objects.get_for_model(target),
        target_id=str(target.pk),
        summary=fields.pop("summary", f"{target} is provided, but nothing bills it."),
        evidence=fields.pop(
            "evidence",
            {
                "rule": "Provided but not billed.",
                "vendor": "Cloudflare",
                "sides": {"billing": {"billed": False}, "ours": {"state": "active"}},
                "differs": ["billed"],
            },
        ),
        **fields,
    )


def mark_on(target, reason="Internal test domain.") -> NotBilled:
    return NotBilled.objects.create(
        partner=target.partner,
        customer=target.customer,
        target_type=ContentType.objects.get_for_model(target),
        target_id=str(target.pk),
        reason=reason,
    )
