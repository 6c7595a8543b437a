"""The actions that settle a reconciliation finding, each one existing service plus the finding's
resolution, in one transaction with one audit event.

Every action needs the billing right (`Can.MANAGE_BILLING`; staff: its Django permission) and
first checks that it applies (`action_refusal`, the one place every face asks). The existing
service that does the work is called with the same actor, so the vendor side keeps its own
rights: pushing to DigiCert also needs the services right, to Cloudflare the Cloudflare right.
A refusal, of ours or of that service, changes nothing.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from billing.models import (
    PROVISIONING_MOVES,
    RENEWING_STATES,
    BillingSubscription,
    Product,
    ProvisioningState,
    SubscriptionState,
)
from billing.services import acquisition, cancellation, lifecycle
from billing.services.acquisition import OrderLine
from core import audit, operations, states
from core.actor import Actor
from core.errors import RuleViolation, ValidationFailed
from partner.access import Can, require
from reconciliation import rules
from reconciliation.error_codes import ReconciliationErrorCode
from reconciliation.models import FINDING_MOVES, Finding, FindingKind, FindingState, Resolution
from reconciliation.services import mark_not_billed, reason_given
from subscriptions.acme import rules as acme_rules
from subscriptions.acme import services as acme
from subscriptions.acme.models import AcmeContract
from subscriptions.cloudflare import selectors as subscription_selectors
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.models import CloudflareAddon, CloudflareZone
from vendors.digitalriver.client import DigitalRiverClient

ADOPT_VENDOR, PUSH_OURS, END_BILLING, BILL, MARK_NOT_BILLED, DISMISS = (
    "adopt_vendor",
    "push_ours",
    "end_billing",
    "bill",
    "mark_not_billed",
    "dismiss",
)
ACTION_LABELS = {
    ADOPT_VENDOR: "Adopt the vendor's state",
    PUSH_OURS: "Push ours to the vendor",
    END_BILLING: "End billing",
    BILL: "Bill it",
    MARK_NOT_BILLED: "Mark not billed",
    DISMISS: "Dismiss",
}
ACTIONS = tuple(ACTION_LABELS)
NEEDS_REASON = (MARK_NOT_BILLED, DISMISS)


# --- Which action applies -------------------------------------------------------------------------

NOTHING_TO_ADOPT = "Our record agrees with the vendor here: there is no vendor state to adopt."
CLOUDFLARE_RECORD = (
    "Our Cloudflare record only ever holds what Cloudflare confirmed: adopt Cloudflare's state, "
    "then change the plan if billing should win."
)


def action_refusal(finding: Finding, action: str) -> str | None:
    """Why `action` does not apply to the finding (None: it applies); every face asks this one function."""
    if action not in ACTIONS:
        return f"Unknown action {action!r}."
    if finding.state != FindingState.OPEN:
        return f"This finding is {finding.get_state_display().lower()}."
    kind, rule = finding.kind, finding.rule
    target_kind = rules.service_kind(finding.target) if finding.target_id else ""
    if action == DISMISS:
        return None
    if action in (BILL, MARK_NOT_BILLED):
        if kind != FindingKind.PROVIDED_NOT_BILLED or not target_kind:
            return "Only a service that is provided but not billed can be billed or marked not billed."
        return None
    if action == END_BILLING:
        subscription = finding.subscription
        if subscription is None:
            return "Nothing bills this: there is no billing to end."
        if subscription.state not in RENEWING_STATES:
            return f"Its billing subscription is already {subscription.get_state_display().lower()}."
        if subscription.ends_at_period_end:
            return "Its renewal is already stopped: billing ends with the paid period."
        return None
    if action == ADOPT_VENDOR:
        if rule == "vendor_state_mismatch" and target_kind:
            return None
        if rule == "unknown_addon":
            return None
        if rule == "digital_river_state_mismatch":
            if (finding.evidence.get("sides", {}).get("vendor") or {}).get("missing"):
                return (
                    "Digital River does not know this subscription: there is nothing to adopt; end billing."
                )
            return None
        if rule == "acme_renewal_mismatch":
            return None
        return NOTHING_TO_ADOPT
    # PUSH_OURS: the vendor side follows billing.
    if rule == "provided_not_billed":
        return None if target_kind else "There is no service to end."
    if rule == "billed_not_provided":
        if target_kind == "zone":
            return None
        return "The service is gone at the vendor and cannot be pushed back: end billing, or sell it again."
    if rule == "plan_mismatch":
        if target_kind == "zone":
            return None
        return (
            "An add-on's plan cannot change at Cloudflare: end billing and bill the add-on the customer has."
        )
    if rule in ("price_mismatch", "acme_renewal_mismatch"):
        return None
    if rule == "vendor_state_mismatch":
        if target_kind == "acme":
            pushable = set(finding.evidence.get("differs", [])) & set(acme_rules.PUSHABLE_FIELDS)
            return None if pushable else "DigiCert owns these fields; adopt DigiCert's values instead."
        return CLOUDFLARE_RECORD
    if rule == "digital_river_state_mismatch":
        return "Digital River's service owns its subscription's state: adopt it, or end billing."
    return "Nothing of ours can be pushed for this finding."


def available_actions(finding: Finding) -> list[dict]:
    """Each action with its label and whether it applies (with the reason when not); no query."""
    return [
        {
            "action": a,
            "label": ACTION_LABELS[a],
            "refusal": action_refusal(finding, a),
            "needs_reason": a in NEEDS_REASON,
        }
        for a in ACTIONS
    ]


def _open(actor: Actor, finding: Finding, action: str) -> Finding:
    finding = (
        Finding.objects.select_for_update(of=("self",))  # its subscription is nullable: lock the row only
        .select_related("partner", "customer", "subscription__product", "subscription__plan")
        .get(pk=finding.pk)
    )
    require(actor, Can.MANAGE_BILLING, partner=finding.partner, customer=finding.customer)
    refusal = action_refusal(finding, action)
    if refusal is not None:
        code = (
            ReconciliationErrorCode.FINDING_NOT_OPEN
            if finding.state != FindingState.OPEN
            else ReconciliationErrorCode.ACTION_NOT_APPLICABLE
        )
        raise RuleViolation(refusal, code=code)
    return finding


def _resolve(actor: Actor, finding: Finding, resolution: str, note: str = "") -> Finding:
    before = audit.snapshot(finding, ["state", "resolution", "resolution_note", "resolved_at"])
    settled = FindingState.DISMISSED if resolution == Resolution.DISMISSED else FindingState.RESOLVED
    states.move(finding, settled, FINDING_MOVES, save=False)
    finding.resolution, finding.resolution_note = resolution, note
    finding.resolved_by, finding.resolved_at = actor.user, timezone.now()
    finding.save()
    audit.record(
        actor,
        f"reconciliation.{resolution}",
        finding,
        partner_id=finding.partner_id,
        before=before,
        after=audit.snapshot(finding, ["state", "resolution", "resolution_note", "resolved_at"]),
        note=note,
    )
    return finding


# --- The actions ----------------------------------------------------------------------------------


def adopt_vendor(actor: Actor, finding: Finding) -> Finding:
    """Adopt the vendor's state: our record (or billing) takes what the vendor says, through the
    object's own sync service: the zone or add-on sync (Cloudflare), the contract's drift accepted
    (DigiCert), Digital River's subscription read and applied as its events would be, or billing
    following the ACME contract's renewal."""
    with transaction.atomic():
        finding = _open(actor, finding, ADOPT_VENDOR)
        target, rule = finding.target, finding.rule
        if rule == "unknown_addon":
            cloudflare.sync_addons(actor, target)
            note = "Cloudflare's add-ons of the account are read and imported."
        elif rule == "vendor_state_mismatch" and isinstance(target, CloudflareZone):
            cloudflare.sync_zone(actor, target)
            note = "The zone is synced with Cloudflare."
        elif rule == "vendor_state_mismatch" and isinstance(target, CloudflareAddon):
            cloudflare.sync_addons(actor, target.subaccount)
            note = "The account's add-ons are synced with Cloudflare."
        elif rule == "vendor_state_mismatch":
            fields = _recorded_drift(target, finding.evidence.get("differs", []))
            for name in fields:
                acme.resolve_drift(actor, target, name, keep="vendor")
            note = f"DigiCert's {', '.join(fields)} accepted."
        elif rule == "digital_river_state_mismatch":
            operations.start(
                actor, finding.subscription, AdoptDigitalRiverState.kind, partner_id=finding.partner_id
            )
            note = "Digital River's state and dates are read and applied to the subscription."
        else:  # acme_renewal_mismatch: billing follows the contract's renewal
            if target.auto_renew:
                cancellation.resume_renewal(actor, finding.subscription)
                note = "Billing renews again, as the contract does."
            else:
                cancellation.stop_renewal(actor, finding.subscription)
                note = "Billing stops renewing, as the contract does; it runs to the end of the paid period."
        return _resolve(actor, finding, Resolution.ADOPTED_VENDOR, note)


def push_ours(actor: Actor, finding: Finding) -> Finding:
    """Push ours: the vendor side follows billing through the service that changes it: a service
    nobody bills ends (ACME renewal stopped, zone back to PARTNERS_FREE, add-on cancelled); a zone
    gets the billed plan, components and frequency; an add-on the billed components; the ACME
    contract's renewal follows billing's; our ACME values are pushed over DigiCert's drift."""
    with transaction.atomic():
        finding = _open(actor, finding, PUSH_OURS)
        target, rule, subscription = finding.target, finding.rule, finding.subscription
        if rule == "provided_not_billed":
            if isinstance(target, AcmeContract):
                acme.stop_renewal(actor, target)
                note = "The contract's renewal is stopped at DigiCert; it runs to the end of its term."
            elif isinstance(target, CloudflareZone):
                cloudflare.downgrade_zone_plan(actor, target)
                note = "The zone goes back to PARTNERS_FREE."
            else:
                cloudflare.cancel_addon(actor, target)
                note = "The add-on is cancelled at Cloudflare."
        elif rule == "acme_renewal_mismatch":
            if subscription.ends_at_period_end:
                acme.stop_renewal(actor, target)
                note = "The contract stops renewing, as billing does."
            else:
                acme.resume_renewal(actor, target)
                note = "The contract renews again, as billing does."
        elif rule == "vendor_state_mismatch":
            pushable = [f for f in finding.evidence.get("differs", []) if f in acme_rules.PUSHABLE_FIELDS]
            name = _recorded_drift(target, pushable)[0]
            acme.resolve_drift(actor, target, name, keep="ours")
            note = f"Our {name} is pushed to DigiCert."
        else:
            note = _push_billed_plan(actor, finding, target, subscription)
        return _resolve(actor, finding, Resolution.PUSHED_OURS, note)


def _push_billed_plan(actor: Actor, finding: Finding, target, subscription: BillingSubscription) -> str:
    """The zone or add-on takes the billed product's plan, frequency and components: billing's own
    change (`billed=True`), since what billing charges is what the customer agreed to."""
    params = subscription.product.provision_params or {}
    catalog = subscription_selectors.catalog_of(finding.partner).plans
    rate_plan_id = params.get("rate_plan_id") or ""
    plan = catalog.get(rate_plan_id)
    values = params.get("component_values") or {}
    # The service keeps the units of components left out; the billed product's defaults are sent.
    full = plan.full_values(values) if plan is not None else values
    frequency = params.get("frequency") or None
    if isinstance(target, CloudflareAddon):
        cloudflare.change_addon(
            actor, target, frequency=frequency, component_values=full or None, billed=True
        )
        return f"The add-on gets the billed components ({_units(full)})."
    if finding.rule == "price_mismatch":
        cloudflare.change_zone_components(
            actor, target, frequency=frequency, component_values=full or None, billed=True
        )
        return f"The zone gets the billed components ({_units(full)})."
    current = catalog.get(target.rate_plan_id)
    upgrade = current is None or plan is None or plan.monthly_price >= current.monthly_price
    change = cloudflare.upgrade_zone_plan if upgrade else cloudflare.downgrade_zone_plan
    change(
        actor,
        target,
        rate_plan_id=rate_plan_id,
        frequency=frequency,
        component_values=values or None,
        billed=True,
    )
    return f"The zone is {'upgraded' if upgrade else 'downgraded'} to the billed plan {rate_plan_id}."


def _units(values: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(values.items())) or "defaults"


def _recorded_drift(contract: AcmeContract, fields) -> list[str]:
    """The differing fields the contract's own sync has recorded (what resolve_drift settles)."""
    recorded = [name for name in fields if name in (contract.drift or {})]
    if not recorded:
        raise RuleViolation(
            "DigiCert's values are not recorded on the contract yet: sync it with DigiCert (its page, "
            "or the scheduled sync), then act on this finding.",
            code=ReconciliationErrorCode.DRIFT_NOT_RECORDED,
        )
    return recorded


def end_billing(actor: Actor, finding: Finding) -> Finding:
    """End billing: the billing subscription stops renewing (no further charge; what was sold runs
    to the end of the paid period), through billing's own stop-renewal service."""
    with transaction.atomic():
        finding = _open(actor, finding, END_BILLING)
        subscription = cancellation.stop_renewal(actor, finding.subscription)
        end = subscription.current_period_end_date
        note = f"Renewal stopped; billing ends on {end:%Y-%m-%d}." if end else "Renewal stopped."
        return _resolve(actor, finding, Resolution.ENDED_BILLING, note)


def matching_products(target) -> list[Product]:
    """The partner's active subscription products that provision this service, the closest first
    (same ACME product; same rate plan, then the same components and frequency)."""
    kind = rules.service_kind(target)
    candidates = Product.objects.filter(
        partner_id=target.partner_id, active=True, plan__isnull=False, provisions=rules.PROVIDES[kind]
    ).select_related("plan")
    scored = []
    for product in candidates.order_by("pk"):
        params = product.provision_params or {}
        if kind == "acme":
            if params.get("product", "ssl_dv_rapidssl") == target.product:
                scored.append((0, product))
            continue
        if params.get("rate_plan_id") != target.rate_plan_id:
            continue
        close = (params.get("component_values") or {}) == {
            k: v
            for k, v in (target.component_values or {}).items()
            if k in (params.get("component_values") or {})
        } and (params.get("frequency") or "monthly") == (target.frequency or "monthly")
        scored.append((0 if close else 1, product))
    return [product for _, product in sorted(scored, key=lambda pair: pair[0])]


def bill(actor: Actor, finding: Finding, product: Product | None = None) -> Finding:
    """Bill it: start an acquisition checkout (billing's own service) for a product that provisions
    this service; once paid, the new billing subscription provides the existing service (nothing
    new is provisioned). Refused when no such product exists."""
    with transaction.atomic():
        finding = _open(actor, finding, BILL)
        target = finding.target
        candidates = matching_products(target)
        if product is None:
            product = candidates[0] if candidates else None
            if product is None:
                raise RuleViolation(
                    f"None of your active subscription products provisions {target}: add one, then bill it.",
                    code=ReconciliationErrorCode.NO_MATCHING_PRODUCT,
                )
        elif product.pk not in {p.pk for p in candidates}:
            raise ValidationFailed(
                f"{product} does not provision {target}.",
                fields={"product": "A product that provisions this service."},
            )
        options = {}
        if isinstance(target, AcmeContract):
            options = {"sans": list(target.sans)}
        elif isinstance(target, CloudflareZone):
            options = {"zone": target.pk}
        checkout = acquisition.start_checkout(actor, target.customer, [OrderLine(product, 1, options)])
        subscription = checkout.items.get().subscription
        _link(actor, subscription, target)
        note = f"Checkout {str(checkout.reference)[:8]} started with {product.sku_id}; once paid it bills {target}."
        return _resolve(actor, finding, Resolution.BILLED, note)


def _link(actor: Actor, subscription: BillingSubscription, target) -> None:
    """The new subscription provides the existing service: provisioning is already done (the
    fulfilment then delivers it), as a replacement takes over what the old one provisioned."""
    before = audit.snapshot(subscription, ["provisioned_type", "provisioned_id", "provisioning_state"])
    states.move(
        subscription,
        ProvisioningState.DONE,
        PROVISIONING_MOVES,
        field="provisioning_state",
        provisioned_type=ContentType.objects.get_for_model(target),
        provisioned_id=str(target.pk),
    )
    audit.record(
        actor,
        "reconciliation.billing_linked",
        subscription,
        partner_id=subscription.partner_id,
        before=before,
        after=audit.snapshot(subscription, ["provisioned_type", "provisioned_id", "provisioning_state"]),
        note=f"Bills the existing {target} once paid.",
    )


def mark_finding_not_billed(actor: Actor, finding: Finding, reason: str) -> Finding:
    """Mark not billed: the service carries a not-billed mark with the reason (see mark_not_billed)."""
    with transaction.atomic():
        finding = _open(actor, finding, MARK_NOT_BILLED)
        reason = reason_given(reason)
        mark_not_billed(actor, finding.target, reason)
        return _resolve(actor, finding, Resolution.MARKED_NOT_BILLED, reason)


def dismiss(actor: Actor, finding: Finding, reason: str) -> Finding:
    """Dismiss: the difference is known and accepted, with a reason (required); a later run that
    finds it again leaves it dismissed."""
    with transaction.atomic():
        finding = _open(actor, finding, DISMISS)
        reason = reason_given(reason)
        return _resolve(actor, finding, Resolution.DISMISSED, reason)


def perform_action(actor: Actor, finding: Finding, action: str, *, reason: str = "", product=None) -> Finding:
    """One entry point for the faces: the action by its name."""
    if action == ADOPT_VENDOR:
        return adopt_vendor(actor, finding)
    if action == PUSH_OURS:
        return push_ours(actor, finding)
    if action == END_BILLING:
        return end_billing(actor, finding)
    if action == BILL:
        return bill(actor, finding, product)
    if action == MARK_NOT_BILLED:
        return mark_finding_not_billed(actor, finding, reason)
    if action == DISMISS:
        return dismiss(actor, finding, reason)
    raise ValidationFailed(f"Unknown action {action!r}.", fields={"action": f"One of {', '.join(ACTIONS)}."})


# --- Worker side ----------------------------------------------------------------------------------


@operations.register
class AdoptDigitalRiverState(operations.OperationHandler):
    """GET /subscriptions/{id}; billing then takes Digital River's state and dates, as its events would
    (an ending Digital River reports is followed by the vendor side, as for `subscription.lapsed`)."""

    kind = "reconciliation.adopt_dr_state"
    label = "Adopt Digital River's subscription state"

    def perform(self, operation, subscription):
        return {"_vendor": DigitalRiverClient().get_subscription(subscription.subscription_id)}

    def succeeded(self, operation, subscription, result, actor):
        vendor = result["_vendor"]
        state = vendor.state if vendor.state in SubscriptionState.values else None
        lifecycle.vendor_subscription_changed(actor, subscription, vendor, state=state)
