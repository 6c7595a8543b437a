"""The Cloudflare sandbox's price list: its rate plans, their components and what they cost.

The plan ids are Cloudflare's (tenant docs, vendors.md section 2); the prices are the sandbox's
own, in USD, per month. Other frequencies derive from the monthly price with no discount:
weekly = monthly x 12 / 52, quarterly = x 3, yearly = x 12 (rounded to the cent).

A subscription costs the plan's price plus, for each component, the units above the plan's
default times the component's unit price; fewer units than the default earn no credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta

CURRENCY = "USD"
FREE_ZONE_PLAN = "PARTNERS_FREE"

# How long one billing period lasts, and what it costs relative to a month.
FREQUENCIES = {
    "weekly": (relativedelta(weeks=1), Decimal(12) / Decimal(52)),
    "monthly": (relativedelta(months=1), Decimal(1)),
    "quarterly": (relativedelta(months=3), Decimal(3)),
    "yearly": (relativedelta(years=1), Decimal(12)),
}
DEFAULT_FREQUENCY = "monthly"


@dataclass(frozen=True)
class Component:
    """An add-on unit of a plan (page rules, seats...): included `default` units, then `unit_price` each."""

    name: str
    default: int
    unit_price: Decimal


@dataclass(frozen=True)
class RatePlan:
    """A plan a partner may sell: a zone plan or an account add-on."""

    id: str
    public_name: str
    scope: str  # "zone" or "account"
    monthly_price: Decimal
    components: tuple[Component, ...] = ()

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)


@dataclass(frozen=True)
class ZonePlan:
    """What a zone's own `plan` object says while the zone is on a rate plan: an opaque id, not the rate plan's."""

    id: str
    legacy_id: str
    name: str


# The zone's own plan object per zone rate plan (vendors.md 0.7). Only the free one is confirmed
# from a real zone: id 0feeee..., legacy_id "free", name "Free Website". The legacy ids of the paid
# ones follow the plan names of Cloudflare's schema (x-cfPlanAvailability: free, pro, business,
# enterprise); their ids and names are the sandbox's own. A real GET /zones/{id} of a zone on each
# paid partner plan would confirm them; until then nothing in the back office reads them.
ZONE_PLANS: dict[str, ZonePlan] = {
    "PARTNERS_FREE": ZonePlan("0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "free", "Free Website"),
    "PARTNERS_PRO": ZonePlan("94f3b7b6483fe9f4a6c2a5d1e0c8b7a1", "pro", "Pro Website"),
    "PARTNERS_BIZ": ZonePlan("6e5d3c1b2a4f49e8b7c6d5e4f3a2b1c0", "business", "Business Website"),
    "PARTNERS_ENT": ZonePlan("2c8e4a6b0d1f43a5b7c9e1d3f5a7b9c2", "enterprise", "Enterprise Website"),
}


def _zone_plan(plan_id: str, name: str, price: int, page_rules: int) -> RatePlan:
    return RatePlan(
        plan_id,
        name,
        "zone",
        Decimal(price),
        (
            Component("page_rules", page_rules, Decimal(5)),
            Component("dedicated_certificates", 0, Decimal(10)),
        ),
    )


PLANS: dict[str, RatePlan] = {
    plan.id: plan
    for plan in (
        _zone_plan("PARTNERS_FREE", "Free Plan", 0, 3),
        _zone_plan("PARTNERS_PRO", "Pro Plan", 20, 20),
        _zone_plan("PARTNERS_BIZ", "Business Plan", 200, 50),
        _zone_plan("PARTNERS_ENT", "Enterprise Plan", 5000, 125),
        RatePlan(
            "PARTNERS_LOAD_BALANCING",
            "Load Balancing",
            "account",
            Decimal(5),
            (Component("endpoints", 2, Decimal(5)),),
        ),
        RatePlan(
            "TEAMS_STANDARD",
            "Zero Trust Standard",
            "account",
            Decimal(350),
            (Component("users", 50, Decimal(7)),),
        ),
        RatePlan("PARTNERS_WORKERS_BASIC", "Workers Paid", "account", Decimal(5)),
    )
}

# What a token may buy unless told otherwise: everything but the enterprise zone plan.
DEFAULT_ENTITLEMENTS = tuple(plan_id for plan_id in PLANS if plan_id != "PARTNERS_ENT")


def price(plan: RatePlan, frequency: str, values: dict[str, int]) -> Decimal:
    """What one period of `plan` costs at `frequency` with these component values."""
    monthly = plan.monthly_price + sum(
        (max(values.get(c.name, c.default) - c.default, 0) * c.unit_price for c in plan.components),
        Decimal(0),
    )
    return (monthly * FREQUENCIES[frequency][1]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
