"""Plans (created at and synced from Digital River) and the products partners sell."""

from __future__ import annotations

from django.db import transaction

from billing.error_codes import BillingErrorCode
from billing.models import PLAN_MOVES, Plan, PlanState, Product
from core import audit, operations, states
from core.actor import Actor
from core.errors import PermissionDenied, RuleViolation
from core.validation import full_clean_or_refuse
from partner.access import Can, require
from partner.models import Partner
from vendors.digitalriver.client import DigitalRiverClient

PLAN_FIELDS = [
    "plan_id",
    "name",
    "terms",
    "interval",
    "interval_count",
    "contract_binding_days",
    "reminder_offset_days",
    "billing_offset_days",
    "collection_period_days",
    "engine",
]
# Digital River lets these change after creation; terms and the cycle are fixed (vendors.md).
PLAN_UPDATABLE = ["name", "reminder_offset_days", "billing_offset_days", "collection_period_days", "state"]
# Ours: which engine renews the plan's subscriptions, changeable only while it has none.
PLAN_LOCAL = ["engine"]
PRODUCT_FIELDS = [
    "sku_id",
    "name",
    "price",
    "currency",
    "plan",
    "free_trial",
    "trial_plan",
    "provisions",
    "provision_params",
    "active",
]


def _require_staff(actor: Actor, perm: str) -> None:
    if not (actor.is_system or (actor.is_staff and actor.user.has_perm(perm))):
        raise PermissionDenied("Plans are managed by support staff.")


def create_plan(actor: Actor, **fields) -> Plan:
    """A Digital River-engine plan is created here and at Digital River (with our id, so a retry
    finds it); a back-office-engine plan is ours only (its subscriptions carry no planId)."""
    _require_staff(actor, "billing.add_plan")
    plan = Plan(**{k: v for k, v in fields.items() if k in PLAN_FIELDS}, state=PlanState.ACTIVE)
    full_clean_or_refuse(plan)
    with transaction.atomic():
        plan.save()
        audit.record(actor, "billing.plan_created", plan, partner_id=None)
        if plan.run_by_digital_river:
            operations.start(actor, plan, CreatePlan.kind, partner_id=None)
    return plan


def update_plan(actor: Actor, plan: Plan, **changes) -> Plan:
    """Change what Digital River allows to change; terms and the billing cycle are fixed."""
    _require_staff(actor, "billing.change_plan")
    fixed = set(changes) - set(PLAN_UPDATABLE) - set(PLAN_LOCAL)
    if fixed:
        raise RuleViolation(
            "Terms and the billing cycle of a plan cannot change; create a new plan.",
            code=BillingErrorCode.PLAN_FIELDS_FIXED,
            fields={f: "Fixed at creation." for f in fixed},
        )
    with transaction.atomic():
        plan = Plan.objects.select_for_update().get(pk=plan.pk)
        before = audit.snapshot(plan)
        if "engine" in changes and changes["engine"] != plan.engine and plan.subscriptions.exists():
            raise RuleViolation(
                "The plan already has subscriptions: their renewal engine cannot change for their whole "
                "life. Create a new plan for the other engine.",
                code=BillingErrorCode.PLAN_ENGINE_FIXED,
                fields={"engine": "Fixed once the plan has subscriptions."},
            )
        for field, value in changes.items():
            if field == "state" and value in PlanState.values:  # an unknown one is refused by full_clean
                states.move(plan, value, PLAN_MOVES, save=False)
            else:
                setattr(plan, field, value)
        full_clean_or_refuse(plan)
        plan.save()
        audit.record(actor, "billing.plan_updated", plan, partner_id=None, before=before)
        if plan.run_by_digital_river and set(changes) & set(PLAN_UPDATABLE):
            operations.start(
                actor, plan, CreatePlan.kind if not plan.at_vendor else PushPlan.kind, partner_id=None
            )
    return plan


def sync_plan(actor: Actor, plan: Plan) -> Plan:
    """Read the plan back from Digital River."""
    _require_staff(actor, "billing.change_plan")
    with transaction.atomic():
        operations.start(actor, plan, SyncPlan.kind, partner_id=None)
    return plan


def _plan_body(plan: Plan) -> dict:
    """What Digital River holds of a plan (the engine is ours)."""
    sent = {k: getattr(plan, k) for k in PLAN_FIELDS if k not in ("plan_id", "engine")}
    return sent | {"state": plan.state}


def _record(plan: Plan, vendor) -> None:
    plan.at_vendor = True
    states.move(plan, vendor.state or plan.state, PLAN_MOVES, save=False)
    plan.vendor_view = {k: v for k, v in vendor.raw.items() if not isinstance(v, (dict, list))}
    from django.utils import timezone

    plan.synced_at = timezone.now()
    plan.save()


@operations.register
class CreatePlan(operations.OperationHandler):
    """POST /plans with our id; if it already exists there (an earlier lost answer), adopt it."""

    kind = "dr.create_plan"
    label = "Create plan at Digital River"

    def perform(self, operation, plan):
        client = DigitalRiverClient()
        existing = client.get_plan(plan.plan_id)
        return {"_vendor": existing or client.create_plan(plan_id=plan.plan_id, **_plan_body(plan))}

    def succeeded(self, operation, plan, result, actor):
        _record(plan, result["_vendor"])


@operations.register
class PushPlan(operations.OperationHandler):
    """POST /plans/{id} with the fields Digital River lets change."""

    kind = "dr.update_plan"
    label = "Update plan at Digital River"

    def perform(self, operation, plan):
        fields = {k: getattr(plan, k) for k in PLAN_UPDATABLE}
        return {"_vendor": DigitalRiverClient().update_plan(plan.plan_id, **fields)}

    def succeeded(self, operation, plan, result, actor):
        _record(plan, result["_vendor"])


@operations.register
class SyncPlan(operations.OperationHandler):
    kind = "dr.sync_plan"
    label = "Sync plan from Digital River"

    def perform(self, operation, plan):
        return {"_vendor": DigitalRiverClient().get_plan(plan.plan_id)}

    def succeeded(self, operation, plan, result, actor):
        if result["_vendor"] is not None:
            _record(plan, result["_vendor"])


def create_product(actor: Actor, partner: Partner, **fields) -> Product:
    """A partner's sellable product (SKU) at its price, and what it provisions."""
    require(actor, Can.MANAGE_BILLING, partner=partner)
    product = Product(partner=partner, **{k: v for k, v in fields.items() if k in PRODUCT_FIELDS})
    full_clean_or_refuse(product)
    with transaction.atomic():
        product.save()
        audit.record(actor, "billing.product_created", product, partner_id=partner.pk)
    return product


def update_product(actor: Actor, product: Product, **changes) -> Product:
    """Change a product; existing subscriptions keep the price they were sold at."""
    require(actor, Can.MANAGE_BILLING, partner=product.partner)
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        before = audit.snapshot(product)
        for field, value in changes.items():
            if field in PRODUCT_FIELDS:
                setattr(product, field, value)
        full_clean_or_refuse(product)
        product.save()
        audit.record(actor, "billing.product_updated", product, partner_id=product.partner_id, before=before)
    return product
