"""The onboarding checklist a partner completes before its first subaccount (domain: Partner accounts)."""

from __future__ import annotations

from dataclasses import dataclass

from partner.models import Partner


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    label: str
    done: bool
    hint: str


def onboarding_checklist(partner: Partner, *, customer_count: int | None = None) -> list[ChecklistItem]:
    """Each item DigiCert asks a partner to prepare before onboarding customers."""
    if customer_count is None:
        customer_count = partner.customers.count()
    return [
        ChecklistItem(
            "legal_name",
            "Legal organization name",
            bool(partner.legal_name),
            "As it appears in the official registration records.",
        ),
        ChecklistItem(
            "address",
            "Registered address",
            partner.address_complete,
            "Street, city, postal code and country as registered.",
        ),
        ChecklistItem(
            "organization_contact",
            "Organization contact",
            bool(partner.org_contact_name and partner.org_contact_email),
            "Name and e-mail (phone recommended).",
        ),
        ChecklistItem(
            "verification_contact",
            "Verification contact",
            bool(partner.verification_contact_name and partner.verification_contact_email),
            "Name and e-mail of the person who confirms validation requests.",
        ),
        ChecklistItem(
            "customers",
            "Customer accounts to onboard",
            customer_count > 0,
            "List at least one customer who will get a subaccount.",
        ),
        ChecklistItem(
            "naming_convention",
            "Subaccount naming convention",
            bool(partner.subaccount_naming_pattern),
            "Fix the pattern before any subaccount is created, e.g. {partner}-{customer}.",
        ),
        ChecklistItem(
            "billing_model",
            "Billing model",
            bool(partner.billing_model),
            "Centralized at the partner, or per subaccount.",
        ),
    ]


def missing_onboarding_items(partner: Partner) -> list[ChecklistItem]:
    return [item for item in onboarding_checklist(partner) if not item.done]
