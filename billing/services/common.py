"""Small pieces every billing service shares."""

from __future__ import annotations

from core.actor import Actor
from partner.access import Can, require
from partner.models import Customer


def dr_customer_id(customer: Customer) -> str:
    """The customer's id at Digital River: stable, readable, unique across partners."""
    return f"{customer.partner.slug}-{customer.reference}"


def require_billing(actor: Actor, customer: Customer) -> None:
    require(actor, Can.MANAGE_BILLING, partner=customer.partner, customer=customer)
