"""Cloudflare rules that need no database: the partner's catalog, what a change is, and what it costs.

Every face previews a change with these functions before asking for it, and the services check
the same functions again when asked: what was previewed is what is sent to Cloudflare.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

from core.error_codes import CoreErrorCode
from core.errors import RuleViolation, ValidationFailed
from subscriptions.cloudflare.models import FREE_ZONE_PLAN, Frequency, PlanScope
from subscriptions.error_codes import SubscriptionErrorCode
from subscriptions.signals import BillingTerms

CENT = Decimal("0.01")
# How many months one billing period is worth (weekly: 12 months over 52 weeks).
MONTHS_PER_PERIOD = {
    Frequency.WEEKLY: Decimal(12) / Decimal(52),
    Frequency.MONTHLY: Decimal(1),
    Frequency.QUARTERLY: Decimal(3),
    Frequency.YEARLY: Decimal(12),
}
SCOPE_WORDS = {PlanScope.ZONE: "zone plans", PlanScope.ACCOUNT: "account add-ons"}


@dataclass(frozen=True)
class Price:
    """What one billing period costs: an amount in a currency, every `frequency`."""

    amount: Decimal
    currency: str
    frequency: str

    @property
    def per_month(self) -> Decimal:
        return (self.amount / MONTHS_PER_PERIOD[self.frequency]).quantize(CENT, rounding=ROUND_HALF_UP)

    def as_dict(self) -> dict:
        return {"amount": str(self.amount), "currency": self.currency, "frequency": self.frequency}

    @classmethod
    def from_dict(cls, value: dict | None) -> Price | None:
        if not value:
            return None
        return cls(Decimal(value["amount"]), value["currency"], value["frequency"])

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} {self.frequency}"


@dataclass(frozen=True)
class ComponentTerms:
    """A component a plan may be sold with: units included, the most allowed, monthly price per extra unit."""

    name: str
    default: int
    maximum: int
    unit_price: Decimal

    def __str__(self) -> str:
        return f"{self.name} (default {self.default}, at most {self.maximum})"


@dataclass(frozen=True)
class PlanTerms:
    """One catalog plan as the rules see it."""

    rate_plan_id: str
    name: str
    scope: str
    monthly_price: Decimal
    currency: str
    frequencies: tuple[str, ...]
    components: tuple[ComponentTerms, ...] = ()
    active: bool = True

    def component(self, name: str) -> ComponentTerms | None:
        return next((c for c in self.components if c.name == name), None)

    def full_values(self, values: dict) -> dict[str, int]:
        """Every component of the plan with its units: those given, the default for the rest."""
        return {c.name: int(values.get(c.name, c.default)) for c in self.components}

    def price(self, frequency: str, values: dict) -> Price:
        """One period at `frequency`: the plan, plus each unit above a component's default (no credit below)."""
        units = self.full_values(values)
        monthly = self.monthly_price + sum(
            (max(units[c.name] - c.default, 0) * c.unit_price for c in self.components), Decimal(0)
        )
        amount = (monthly * MONTHS_PER_PERIOD[frequency]).quantize(CENT, rounding=ROUND_HALF_UP)
        return Price(amount, self.currency, frequency)


@dataclass(frozen=True)
class Catalog:
    """A partner's catalog: the plans it may sell under its Cloudflare reseller agreement."""

    partner: str
    plans: dict[str, PlanTerms] = field(default_factory=dict)

    def sellable(self, scope: str) -> list[PlanTerms]:
        return [p for p in self.plans.values() if p.scope == scope and p.active]


@dataclass(frozen=True)
class Current:
    """What a customer has now on one subscription (a zone without a subscription is on the free plan)."""

    rate_plan_id: str
    frequency: str
    component_values: dict
    subscribed: bool
    vendor_price: Price | None = None


@dataclass(frozen=True)
class PlannedChange:
    """A change checked against the catalog: what to send Cloudflare, and the price before and after."""

    action: str
    rate_plan_id: str
    frequency: str
    component_values: dict[str, int] | None  # what is sent; None: left out (the purchase's defaults)
    current: Price | None
    new: Price | None
    from_rate_plan_id: str = ""
    from_frequency: str = ""
    billed: bool = False  # billing provides the zone or add-on: it changes through billing
    takes_effect: str = ""  # when a change of a billed one takes effect (empty when not billed)

    @property
    def costs_more(self) -> bool:
        """An upgrade or a purchase, or a change that costs more a month (or in another currency)."""
        if self.action in ("upgrade", "purchase"):
            return True
        difference = self.monthly_difference
        return self.action == "change" and (difference is None or difference > 0)

    @property
    def needs_not_billed_reason(self) -> bool:
        """Made directly, it is a paid service nothing bills: the reason why is asked (domain.md)."""
        return self.costs_more and not self.billed

    @property
    def monthly_difference(self) -> Decimal | None:
        """New minus current, per month, when both are in one currency."""
        prices = [p for p in (self.current, self.new) if p is not None]
        if len({p.currency for p in prices}) > 1:
            return None
        before = self.current.per_month if self.current else Decimal("0.00")
        after = self.new.per_month if self.new else Decimal("0.00")
        return after - before

    def as_params(self) -> dict:
        """JSON-safe, for the operation that carries the change until Cloudflare confirms it."""
        return {
            "action": self.action,
            "rate_plan_id": self.rate_plan_id,
            "frequency": self.frequency,
            "component_values": self.component_values,
            "preview": {
                "current": self.current.as_dict() if self.current else None,
                "new": self.new.as_dict() if self.new else None,
                "from_rate_plan_id": self.from_rate_plan_id,
                "from_frequency": self.from_frequency,
            },
        }


def with_billing_terms(planned: PlannedChange, terms: BillingTerms | None) -> PlannedChange:
    """The preview of a change to a zone or add-on that billing provides says when it takes effect:
    a cheaper one at the end of the paid period, a dearer one once the customer has paid for it."""
    if terms is None:
        return planned
    difference = planned.monthly_difference
    if planned.action in ("downgrade", "cancel") or (difference is not None and difference < 0):
        end = f" ({terms.period_end:%Y-%m-%d})" if terms.period_end else ""
        when = f"takes effect at the end of the paid period{end}, with the new price from then."
    else:
        when = "needs the customer's payment in a new checkout and takes effect at Cloudflare once paid."
    return replace(planned, billed=True, takes_effect=f"Billed through {terms.product}: this change {when}")


# --- Catalog checks -----------------------------------------------------------------------------


def check_plan(catalog: Catalog, rate_plan_id: str, scope: str) -> PlanTerms:
    """The plan must be an active catalog plan of this scope: refused as `plan_not_in_catalog` otherwise."""
    plan = catalog.plans.get(rate_plan_id)
    if plan is not None and plan.active and plan.scope == scope:
        return plan
    allowed = [p.rate_plan_id for p in catalog.sellable(scope)]
    what = SCOPE_WORDS[scope]
    listed = (
        f"it allows: {', '.join(allowed)}."
        if allowed
        else f"it has no {what} yet (support staff add them in the admin)."
    )
    raise RuleViolation(
        f"{rate_plan_id or 'That plan'} is not in {catalog.partner}'s Cloudflare catalog of {what}; {listed}",
        code=SubscriptionErrorCode.PLAN_NOT_IN_CATALOG,
        fields={"rate_plan_id": f"One of: {', '.join(allowed) or 'none'}."},
    )


def check_frequency(plan: PlanTerms, frequency: str) -> str:
    """A Cloudflare frequency that the catalog allows for this plan, else a field error."""
    if frequency not in Frequency.values:
        raise ValidationFailed(
            f"{frequency!r} is not a Cloudflare frequency; use one of {', '.join(Frequency.values)}.",
            code=SubscriptionErrorCode.INVALID_FREQUENCY,
            fields={"frequency": f"One of: {', '.join(plan.frequencies)}."},
        )
    if frequency not in plan.frequencies:
        raise ValidationFailed(
            f"{plan.rate_plan_id} is sold {_or(plan.frequencies)} only, not {frequency}.",
            code=SubscriptionErrorCode.FREQUENCY_NOT_ALLOWED,
            fields={"frequency": f"One of: {', '.join(plan.frequencies)}."},
        )
    return frequency


def check_components(plan: PlanTerms, values: dict | None) -> dict[str, int]:
    """Only the plan's catalog components, whole units from 0 up to each one's maximum."""
    values = dict(values or {})
    allowed = "; ".join(str(c) for c in plan.components) or "none"
    unknown = sorted(name for name in values if plan.component(name) is None)
    if unknown:
        raise RuleViolation(
            f"{plan.rate_plan_id} cannot be sold with {', '.join(unknown)}; its components are: {allowed}.",
            code=SubscriptionErrorCode.COMPONENT_NOT_ALLOWED,
            fields={"component_values": f"Allowed: {allowed}."},
        )
    bad = sorted(n for n, v in values.items() if isinstance(v, bool) or not isinstance(v, int) or v < 0)
    if bad:
        raise ValidationFailed(
            f"Component values are whole units, 0 or more ({', '.join(bad)}).",
            code=SubscriptionErrorCode.INVALID_COMPONENT_VALUE,
            fields={"component_values": "Whole units, 0 or more."},
        )
    over = sorted(n for n, v in values.items() if v > plan.component(n).maximum)
    if over:
        asked = ", ".join(f"{n} {values[n]}" for n in over)
        raise RuleViolation(
            f"{asked} is above what {plan.rate_plan_id} allows; its components are: {allowed}.",
            code=SubscriptionErrorCode.COMPONENT_ABOVE_MAXIMUM,
            fields={"component_values": f"Allowed: {allowed}."},
        )
    return values


# --- Changes ------------------------------------------------------------------------------------


def current_price(catalog: Catalog, current: Current, currency: str) -> Price:
    """What the customer pays now, from the catalog; Cloudflare's own price for a plan outside it."""
    if not current.subscribed:
        return Price(Decimal("0.00"), currency, Frequency.MONTHLY)
    plan = catalog.plans.get(current.rate_plan_id)
    frequency = current.frequency or Frequency.MONTHLY
    if plan is None:
        return current.vendor_price or Price(Decimal("0.00"), currency, frequency)
    return plan.price(frequency, current.component_values)


def zone_change(
    catalog: Catalog,
    current: Current,
    action: str,
    *,
    rate_plan_id: str | None = None,
    frequency: str | None = None,
    component_values: dict | None = None,
) -> PlannedChange:
    """Upgrade to a plan costing no less, downgrade to a cheaper one (default free), or change components."""
    if action == "change":
        if not current.subscribed:
            raise RuleViolation(
                f"The zone has no subscription yet (it is on {current.rate_plan_id}); upgrade it first.",
                code=SubscriptionErrorCode.NO_SUBSCRIPTION,
            )
        rate_plan_id = current.rate_plan_id
    elif action == "downgrade":
        rate_plan_id = rate_plan_id or FREE_ZONE_PLAN
    plan = check_plan(catalog, rate_plan_id or "", PlanScope.ZONE)
    same_plan = plan.rate_plan_id == current.rate_plan_id
    if action == "upgrade" and same_plan:
        raise RuleViolation(
            f"The zone is already on {plan.rate_plan_id}; change its components instead.",
            code=SubscriptionErrorCode.NOT_AN_UPGRADE,
        )
    if action == "downgrade" and same_plan:
        raise RuleViolation(
            f"The zone is already on {plan.rate_plan_id}; change its components instead.",
            code=SubscriptionErrorCode.NOT_A_DOWNGRADE,
        )
    keep = current.frequency if current.subscribed and current.frequency else Frequency.MONTHLY
    frequency = check_frequency(plan, frequency or keep)
    requested = check_components(plan, component_values)
    # The same plan keeps the units it has unless told otherwise; a new plan starts from its defaults.
    sent = {**_known(plan, current.component_values), **requested} if same_plan else requested
    before = current_price(catalog, current, plan.currency)
    base_now = _base_per_month(catalog, current, before)
    if action == "upgrade" and plan.monthly_price < base_now:
        raise RuleViolation(
            f"{plan.rate_plan_id} costs less than {current.rate_plan_id}; downgrade instead.",
            code=SubscriptionErrorCode.NOT_AN_UPGRADE,
        )
    if action == "downgrade" and plan.monthly_price >= base_now:
        raise RuleViolation(
            f"{plan.rate_plan_id} does not cost less than {current.rate_plan_id}; upgrade instead.",
            code=SubscriptionErrorCode.NOT_A_DOWNGRADE,
        )
    if (
        action == "change"
        and frequency == current.frequency
        and plan.full_values(sent) == plan.full_values(current.component_values)
    ):
        raise RuleViolation(_nothing(plan, current), code=CoreErrorCode.NOTHING_TO_CHANGE)
    return PlannedChange(
        action=action,
        rate_plan_id=plan.rate_plan_id,
        frequency=frequency,
        component_values=sent,
        current=before,
        new=plan.price(frequency, sent),
        from_rate_plan_id=current.rate_plan_id,
        from_frequency=current.frequency,
    )


def addon_purchase(
    catalog: Catalog, *, rate_plan_id: str, frequency: str | None = None, component_values: dict | None = None
) -> PlannedChange:
    """A new add-on from the catalog; components left out take the add-on's defaults."""
    plan = check_plan(catalog, rate_plan_id, PlanScope.ACCOUNT)
    frequency = check_frequency(plan, frequency or Frequency.MONTHLY)
    requested = check_components(plan, component_values)
    return PlannedChange(
        action="purchase",
        rate_plan_id=plan.rate_plan_id,
        frequency=frequency,
        component_values=requested or None,
        current=None,
        new=plan.price(frequency, requested),
    )


def addon_change(
    catalog: Catalog, current: Current, *, frequency: str | None = None, component_values: dict | None = None
) -> PlannedChange:
    """New components or frequency for an add-on, within its catalog plan; nothing changed is refused."""
    plan = check_plan(catalog, current.rate_plan_id, PlanScope.ACCOUNT)
    frequency = check_frequency(plan, frequency or current.frequency or Frequency.MONTHLY)
    sent = {**_known(plan, current.component_values), **check_components(plan, component_values)}
    if frequency == current.frequency and plan.full_values(sent) == plan.full_values(
        current.component_values
    ):
        raise RuleViolation(_nothing(plan, current), code=CoreErrorCode.NOTHING_TO_CHANGE)
    return PlannedChange(
        action="change",
        rate_plan_id=plan.rate_plan_id,
        frequency=frequency,
        component_values=sent,
        current=current_price(catalog, current, plan.currency),
        new=plan.price(frequency, sent),
        from_rate_plan_id=current.rate_plan_id,
        from_frequency=current.frequency,
    )


def addon_cancel(catalog: Catalog, current: Current) -> PlannedChange:
    """Ending an add-on: it costs nothing from then on."""
    plan = catalog.plans.get(current.rate_plan_id)
    return PlannedChange(
        action="cancel",
        rate_plan_id=current.rate_plan_id,
        frequency=current.frequency,
        component_values=None,
        current=current_price(catalog, current, plan.currency if plan else "USD"),
        new=None,
        from_rate_plan_id=current.rate_plan_id,
        from_frequency=current.frequency,
    )


def _known(plan: PlanTerms, values: dict) -> dict[str, int]:
    return {name: int(units) for name, units in values.items() if plan.component(name) is not None}


def _base_per_month(catalog: Catalog, current: Current, price_now: Price) -> Decimal:
    """The current plan's own monthly price, to tell an upgrade from a downgrade."""
    plan = catalog.plans.get(current.rate_plan_id)
    if plan is not None:
        return plan.monthly_price
    return price_now.per_month


def _nothing(plan: PlanTerms, current: Current) -> str:
    units = ", ".join(f"{n} {v}" for n, v in plan.full_values(current.component_values).items())
    return f"Nothing to change: it is already {plan.rate_plan_id}, {current.frequency}" + (
        f", {units}." if units else "."
    )


def _or(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


# --- Cloudflare's refusals, as users need them --------------------------------------------------

NOT_ENTITLED = "1225"
# Ours, not Cloudflare's: the plan is missing from the zone's GET /zones/{id}/available_rate_plans,
# so the change was not sent (subscriptions.cloudflare.handlers._require_available).
RATE_PLAN_NOT_AVAILABLE = "rate_plan_not_available"


def explain_refusal(code: str, message: str, *, what: str, plan: str, partner: str, attempts: int) -> str:
    """Why a requested change did not happen, in words a reseller or support agent can act on."""
    if code == NOT_ENTITLED:
        return (
            f"Cloudflare refused {what}: {plan} is not in {partner}'s Cloudflare entitlement "
            f"(error {code}: {message}). Ask Cloudflare to add it to the reseller agreement, or take it "
            "out of the catalog."
        )
    if code == RATE_PLAN_NOT_AVAILABLE:
        return (
            f"{what[:1].upper()}{what[1:]} was not sent to Cloudflare: {message}. It is not in "
            f"{partner}'s Cloudflare entitlement for this zone; ask Cloudflare to add it to the "
            "reseller agreement, or take it out of the catalog. Nothing was changed."
        )
    tries = f" after {attempts} attempts" if attempts > 1 else ""
    return f"Cloudflare did not accept {what}{tries} ({code}: {message}). Nothing was changed here."
