"""The comparisons of a reconciliation, one small function per rule; none reads the database or a vendor.

Each takes what the run loaded (billing subscriptions with their product and plan, our records of
the vendor services, the vendors' answers normalised by `reconciliation.runs`) and returns a
`Mismatch` or None. The evidence of a mismatch holds both sides' values as JSON, so every face
shows the same table: billing, our record, the vendor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.db import models

from billing.models import BillingSubscription, ProvisioningState, Provisions
from reconciliation.models import FindingKind
from subscriptions.acme.models import LIVE_STATES, AcmeContract, ContractState
from subscriptions.cloudflare.models import (
    FREE_ZONE_PLAN,
    AddonState,
    CloudflareAddon,
    CloudflareZone,
    Frequency,
    ZoneState,
)
from subscriptions.cloudflare.rules import PlanTerms

# A service in one of these states is not provided any more.
GONE_STATES = {
    "acme": {ContractState.CANCELLED, ContractState.EXPIRED, ContractState.FAILED},
    "zone": {ZoneState.FAILED},
    "addon": {AddonState.CANCELLED, AddonState.FAILED},
}
VENDOR_LABELS = {
    "acme": "DigiCert",
    "zone": "Cloudflare",
    "addon": "Cloudflare",
    "digitalriver": "Digital River",
}
PROVIDES = {"acme": Provisions.ACME_CONTRACT, "zone": Provisions.ZONE_PLAN, "addon": Provisions.ADDON}


@dataclass(frozen=True)
class Mismatch:
    """One difference: its kind, the rule that found it, the objects it concerns and the evidence."""

    kind: str
    rule: str
    customer_id: int
    summary: str
    evidence: dict
    subscription: BillingSubscription | None = None
    target: models.Model | None = None
    vendor_ref: str = ""

    @property
    def key(self) -> str:
        """Kind and objects: a difference seen again by a later run is the same finding."""
        target = ""
        if self.target is not None:
            content_type = ContentType.objects.get_for_model(self.target)
            target = f"{content_type.pk}:{self.target.pk}"
        subscription = self.subscription.pk if self.subscription is not None else ""
        return f"{self.kind}|s{subscription}|t{target}|{self.vendor_ref}"[:200]


@dataclass
class Service:
    """One vendor service as our record holds it and as its vendor answered during the run."""

    obj: models.Model
    ours: dict
    vendor: dict | None = None
    differs: list[str] = field(default_factory=list)


def service_kind(obj) -> str:
    if isinstance(obj, AcmeContract):
        return "acme"
    if isinstance(obj, CloudflareZone):
        return "zone"
    if isinstance(obj, CloudflareAddon):
        return "addon"
    return ""


def _iso(value: datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat() if value else None


def billing_side(subscription: BillingSubscription) -> dict:
    """What billing says: the subscription, its product's plan and parameters, its state and money."""
    product = subscription.product
    params = product.provision_params or {}
    side = {
        "subscription": subscription.subscription_id,
        "product": f"{product.name} ({product.sku_id})",
        "engine": subscription.plan.get_engine_display(),
        "state": subscription.state,
        "renews": not subscription.ends_at_period_end,
        "price": f"{subscription.price} {product.currency} x {subscription.quantity}",
        "current_period_end": _iso(subscription.current_period_end_date),
    }
    if product.provisions in (Provisions.ZONE_PLAN, Provisions.ADDON):
        side.update(
            rate_plan_id=params.get("rate_plan_id"),
            frequency=params.get("frequency") or Frequency.MONTHLY,
            component_values=params.get("component_values") or {},
        )
    return side


def record_side(obj) -> dict:
    """What our record of the vendor service says (as the vendor last confirmed it)."""
    kind = service_kind(obj)
    if kind == "acme":
        return {
            "contract": obj.vendor_id or f"#{obj.pk} (not at DigiCert)",
            "state": obj.state,
            "auto_renew": obj.auto_renew,
            "valid_till": _iso(obj.valid_till),
        }
    side = {
        "state": obj.state,
        "rate_plan_id": obj.rate_plan_id or (FREE_ZONE_PLAN if kind == "zone" else ""),
        "frequency": obj.frequency or "",
        "component_values": obj.component_values or {},
        "price": f"{obj.price} {obj.currency} {obj.frequency}" if obj.price is not None else None,
    }
    if kind == "zone":
        side = {"zone": obj.name, **side}
    return side


def evidence(
    rule: str,
    *,
    vendor: str = "",
    differs=(),
    billing: dict | None = None,
    ours: dict | None = None,
    vendor_side: dict | None = None,
) -> dict:
    """The evidence JSON: the rule in words, each side's values (billing, our record, the vendor's
    answer) and the fields that differ."""
    sides = {"billing": billing, "ours": ours, "vendor": vendor_side}
    return {
        "rule": " ".join((rule or "").split()),
        "vendor": vendor,
        "sides": {name: values for name, values in sides.items() if values is not None},
        "differs": list(differs),
    }


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _describe(obj) -> str:
    kind = service_kind(obj)
    if kind == "acme":
        return f"the ACME contract {obj.sans[0] if obj.sans else obj.pk}"
    if kind == "zone":
        return f"the zone {obj.name}"
    return f"the add-on {obj.rate_plan_id}"


# --- The rules ----------------------------------------------------------------------------------


def billed_not_provided(subscription: BillingSubscription, target) -> Mismatch | None:
    """Billed but not provided: a live billing subscription (still renewing) whose provisioned
    object is missing, cancelled, failed or expired, or whose zone is back on PARTNERS_FREE."""
    product = subscription.product
    if product.provisions == Provisions.NOTHING:
        return None
    if target is None and subscription.provisioning_state in (
        ProvisioningState.AWAITING_PAYMENT,
        ProvisioningState.PENDING,
    ):
        return None  # being provisioned: its own retries and alerts follow it
    billing = billing_side(subscription)
    if target is None:
        why = (
            "its provisioning failed for good"
            if subscription.provisioning_state == ProvisioningState.FAILED
            else "nothing it provisions exists"
        )
        return Mismatch(
            FindingKind.BILLED_NOT_PROVIDED,
            "billed_not_provided",
            subscription.customer_id,
            f"{product.name} is billed, but {why}.",
            evidence(billed_not_provided.__doc__, billing=billing, ours={"provisioned": None}),
            subscription=subscription,
        )
    kind = service_kind(target)
    ours = record_side(target)
    back_on_free = kind == "zone" and (target.rate_plan_id or FREE_ZONE_PLAN) == FREE_ZONE_PLAN
    if target.state not in GONE_STATES[kind] and not back_on_free:
        return None
    why = f"is back on {FREE_ZONE_PLAN}" if back_on_free else f"is {target.get_state_display().lower()}"
    return Mismatch(
        FindingKind.BILLED_NOT_PROVIDED,
        "billed_not_provided",
        subscription.customer_id,
        f"{product.name} is billed, but {_describe(target)} {why}.",
        evidence(
            billed_not_provided.__doc__,
            vendor=VENDOR_LABELS[kind],
            differs=["rate_plan_id"] if back_on_free else ["state"],
            billing=billing,
            ours=ours,
        ),
        subscription=subscription,
        target=target,
    )


def provides_paid_service(target) -> bool:
    """A live paid vendor service: an active ACME contract, a zone on a plan other than
    PARTNERS_FREE, an active add-on (the vendor charges the partner for each)."""
    kind = service_kind(target)
    if kind == "acme":
        return target.state == ContractState.ACTIVE
    if kind == "zone":
        return target.state == ZoneState.ACTIVE and (target.rate_plan_id or FREE_ZONE_PLAN) != FREE_ZONE_PLAN
    return kind == "addon" and target.state == AddonState.ACTIVE


def provided_not_billed(target, *, billed: bool, marked: bool, billing_pending: bool) -> Mismatch | None:
    """Provided but not billed: a live paid vendor service (an active ACME contract, a zone on a
    rate plan other than PARTNERS_FREE, an active add-on) that no live billing subscription
    provides and that carries no not-billed mark (a checkout that bills it and is still open counts
    as billed)."""
    if billed or marked or billing_pending or not provides_paid_service(target):
        return None
    kind = service_kind(target)
    return Mismatch(
        FindingKind.PROVIDED_NOT_BILLED,
        "provided_not_billed",
        target.customer_id,
        f"{_first_upper(_describe(target))} is provided at {VENDOR_LABELS[kind]}, but nothing bills it.",
        evidence(
            provided_not_billed.__doc__,
            vendor=VENDOR_LABELS[kind],
            differs=["billed"],
            billing={"billed": False},
            ours=record_side(target),
        ),
        target=target,
    )


def plan_mismatch(subscription: BillingSubscription, target) -> Mismatch | None:
    """Plan mismatch: the billed product's rate plan (its provision_params rate_plan_id) is not the
    zone's or add-on's current rate plan (a zone downgraded but still billed at the old plan); a
    subscription whose renewal is stopped is not charged again and is left out."""
    billing = billing_side(subscription)
    ours = record_side(target)
    if billing.get("rate_plan_id") == ours["rate_plan_id"]:
        return None
    return Mismatch(
        FindingKind.PLAN_MISMATCH,
        "plan_mismatch",
        subscription.customer_id,
        f"{subscription.product.name} bills {billing.get('rate_plan_id')}, but {_describe(target)} "
        f"is on {ours['rate_plan_id']}.",
        evidence(
            plan_mismatch.__doc__,
            vendor=VENDOR_LABELS[service_kind(target)],
            differs=["rate_plan_id"],
            billing=billing,
            ours=ours,
        ),
        subscription=subscription,
        target=target,
    )


def price_mismatch(subscription: BillingSubscription, target, plan: PlanTerms | None) -> Mismatch | None:
    """Price mismatch: on the same rate plan, the billed product's component values or frequency
    are not the zone's or add-on's, so the price paid is not the price of what the customer has."""
    billing = billing_side(subscription)
    ours = record_side(target)
    billed_values, has_values = billing["component_values"], ours["component_values"]
    if plan is not None:
        billed_full, has_full = plan.full_values(billed_values), plan.full_values(has_values)
    else:  # not in the catalog: only the components the product names can be compared
        billed_full = {name: int(units) for name, units in billed_values.items()}
        has_full = {name: int(has_values.get(name, -1)) for name in billed_values}
    differs = []
    if billed_full != has_full:
        differs.append("component_values")
    if ours["frequency"] and ours["frequency"] != billing["frequency"]:
        differs.append("frequency")
    if not differs:
        return None
    if plan is not None:  # the units the product leaves out are the plan's defaults: shown as such
        billing["component_values"], ours["component_values"] = billed_full, has_full
        billing["catalog_price"] = str(plan.price(billing["frequency"], billed_values))
        ours["catalog_price"] = str(plan.price(ours["frequency"] or billing["frequency"], has_values))
    what = " and ".join("components" if d == "component_values" else d for d in differs)
    return Mismatch(
        FindingKind.PRICE_MISMATCH,
        "price_mismatch",
        subscription.customer_id,
        f"{subscription.product.name} bills other {what} than {_describe(target)} has.",
        evidence(
            price_mismatch.__doc__,
            vendor=VENDOR_LABELS[service_kind(target)],
            differs=differs,
            billing=billing,
            ours=ours,
        ),
        subscription=subscription,
        target=target,
    )


def acme_renewal_mismatch(subscription: BillingSubscription, contract: AcmeContract) -> Mismatch | None:
    """States disagree (renewal): billing ends at its period's end but the ACME contract still
    auto-renews at DigiCert, or billing renews while the contract does not."""
    if contract.state not in LIVE_STATES or contract.auto_renew is None:
        return None
    billing_renews = not subscription.ends_at_period_end
    if billing_renews == bool(contract.auto_renew):
        return None
    summary = (
        f"{subscription.product.name} renews, but {_describe(contract)} does not auto-renew at DigiCert."
        if billing_renews
        else f"{subscription.product.name} ends at its period's end, but {_describe(contract)} still "
        "auto-renews at DigiCert."
    )
    return Mismatch(
        FindingKind.STATE_MISMATCH,
        "acme_renewal_mismatch",
        subscription.customer_id,
        summary,
        evidence(
            acme_renewal_mismatch.__doc__,
            vendor="DigiCert",
            differs=["renews", "auto_renew"],
            billing=billing_side(subscription),
            ours=record_side(contract),
        ),
        subscription=subscription,
        target=contract,
    )


def digital_river_state_mismatch(subscription: BillingSubscription, vendor: dict) -> Mismatch | None:
    """States disagree (Digital River): for a subscription run by Digital River's service, the state
    or current period end that GET /subscriptions/{id} answers is not ours."""
    ours = {"state": subscription.state, "current_period_end": _iso(subscription.current_period_end_date)}
    if vendor.get("missing"):
        differs = ["state"]
        summary = f"Digital River does not know the subscription of {subscription.product.name}."
    else:
        differs = [name for name in ("state", "current_period_end") if ours[name] != vendor.get(name)]
        if not differs:
            return None
        summary = f"{subscription.product.name}: Digital River's " + " and ".join(
            f"{name.replace('_', ' ')} ({vendor.get(name) or '—'}, ours {ours[name] or '—'})"
            for name in differs
        )
        summary += " differ."
    return Mismatch(
        FindingKind.STATE_MISMATCH,
        "digital_river_state_mismatch",
        subscription.customer_id,
        summary[:300],
        evidence(
            digital_river_state_mismatch.__doc__,
            vendor="Digital River",
            differs=differs,
            billing={**billing_side(subscription), **ours},
            vendor_side=vendor,
        ),
        subscription=subscription,
    )


def vendor_state_mismatch(service: Service) -> Mismatch | None:
    """States disagree (our record): our record of an ACME contract, zone or add-on is not what
    DigiCert or Cloudflare answers now (changed at the vendor behind the back office)."""
    if service.vendor is None or not service.differs:
        return None
    obj, kind = service.obj, service_kind(service.obj)
    names = ", ".join(name.replace("_", " ") for name in service.differs)
    return Mismatch(
        FindingKind.STATE_MISMATCH,
        "vendor_state_mismatch",
        obj.customer_id,
        f"{_first_upper(_describe(obj))}: {VENDOR_LABELS[kind]} says otherwise ({names}).",
        evidence(
            vendor_state_mismatch.__doc__,
            vendor=VENDOR_LABELS[kind],
            differs=service.differs,
            ours=service.ours,
            vendor_side=service.vendor,
        ),
        target=obj,
    )


def unknown_addon(account, view: dict) -> Mismatch:
    """States disagree (unknown add-on): Cloudflare bills the customer's account for an add-on the
    back office holds no record of (bought outside it; a sync of the account imports it)."""
    return Mismatch(
        FindingKind.STATE_MISMATCH,
        "unknown_addon",
        account.customer_id,
        f"Cloudflare has the add-on {view.get('rate_plan_id')} in {account.customer}'s account; we hold no record of it.",
        evidence(
            unknown_addon.__doc__,
            vendor="Cloudflare",
            differs=["present"],
            ours={"present": False},
            vendor_side={"present": True, **{k: v for k, v in view.items() if k != "raw"}},
        ),
        target=account,
        vendor_ref=str(view.get("id") or "")[:64],
    )
