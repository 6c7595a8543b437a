"""A partner's billing catalog (plans and the products sold on them), seeded through the catalog
services: the demo, the test fixtures and the benchmark seed it the same way, and again is a no-op."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from billing.models import Plan, Product
from billing.services import catalog
from core.actor import Actor
from partner.models import Partner


def cycle(interval: str, count: int, *, binding: int, reminder: int, collection: int) -> dict:
    """A plan's billing cycle (billed on the renewal day); a plan adds its id, name, terms and engine."""
    return dict(
        interval=interval,
        interval_count=count,
        contract_binding_days=binding,
        reminder_offset_days=reminder,
        billing_offset_days=0,
        collection_period_days=collection,
    )


# The two cycles the demo and the tests sell on.
ANNUAL = cycle("year", 1, binding=365, reminder=30, collection=14)
MONTHLY = cycle("month", 1, binding=30, reminder=0, collection=7)


@dataclass
class Catalog:
    plans: dict[str, Plan] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)


def ensure_plan(actor: Actor, **fields) -> Plan:
    """A plan is seeded once by its plan_id: the one on file, else created by the catalog service."""
    return Plan.objects.filter(plan_id=fields["plan_id"]).first() or catalog.create_plan(actor, **fields)


def ensure_product(actor: Actor, partner: Partner, *, price, currency: str = "USD", **fields) -> Product:
    """A product is seeded once per partner by its SKU: the one on file, else created by the catalog service."""
    existing = Product.objects.filter(partner=partner, sku_id=fields["sku_id"]).first()
    return existing or catalog.create_product(
        actor, partner, price=Decimal(str(price)), currency=currency, **fields
    )


def seed_catalog(actor: Actor, partner: Partner, *, plans=(), products=()) -> Catalog:
    """The plans, then the partner's products; a product's `plan` and `trial_plan` name a plan_id of `plans`."""
    seeded = Catalog()
    for fields in plans:
        seeded.plans[fields["plan_id"]] = ensure_plan(actor, **fields)
    for fields in products:
        named = {k: seeded.plans[fields[k]] for k in ("plan", "trial_plan") if fields.get(k)}
        product = ensure_product(actor, partner, **(fields | named))
        seeded.products[product.sku_id] = product
    return seeded
