"""Who support staff contact about a customer or a partner, for the admin and the staff alerts.

A customer's own support and escalation contacts come first; where the customer has none, the
partner's are used (the partner serves its customers). The partner's own follow in any case.
"""

from __future__ import annotations

from dataclasses import dataclass

from partner.models import Customer, Partner, SupportContacts

ROLES = (("support", "Support"), ("escalation", "Escalation"))


@dataclass(frozen=True)
class ContactLine:
    role: str  # "Support", "Partner escalation", ...
    text: str  # "Ann Lee · ann@example.test · +1 555 0100", or "none given"
    source: str  # whose contact it is


def _contact(holder: SupportContacts, role: str) -> str:
    parts = [getattr(holder, f"{role}_contact_{part}") for part in ("name", "email", "phone")]
    return " · ".join(p for p in parts if p)


def who_to_contact(customer: Customer | None = None, partner: Partner | None = None) -> list[ContactLine]:
    """The customer's support and escalation contacts (the partner's when it has none), then the
    partner's own."""
    partner = partner or customer.partner
    lines = []
    if customer is not None:
        for role, label in ROLES:
            own = _contact(customer, role)
            fallback = _contact(partner, role)
            if own:
                lines.append(ContactLine(label, own, f"customer {customer}"))
            else:
                lines.append(
                    ContactLine(label, fallback or "none given", f"partner {partner}, the customer has none")
                )
    for role, label in ROLES:
        lines.append(
            ContactLine(
                f"Partner {label.lower()}", _contact(partner, role) or "none given", f"partner {partner}"
            )
        )
    return lines


def contacts_text(customer: Customer | None = None, partner: Partner | None = None) -> str:
    """The same as plain text, for a staff alert's body."""
    return "Who to contact:\n" + "\n".join(
        f"- {line.role}: {line.text} ({line.source})" for line in who_to_contact(customer, partner)
    )
