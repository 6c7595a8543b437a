"""States move only by their model's transition table (core/states.py): the mechanism, one refused
move per table, and a scan of the source for any other assignment of a state field."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from billing.models import (
    BILLING_SUBSCRIPTION_MOVES,
    CHECKOUT_MOVES,
    PLAN_MOVES,
    PROVISIONING_MOVES,
    RENEWAL_MOVES,
    WEBHOOK_EVENT_MOVES,
    BillingSubscription,
    Checkout,
    CheckoutState,
    EventState,
    Plan,
    PlanState,
    ProvisioningState,
    Renewal,
    RenewalState,
    SubscriptionState,
    WebhookEvent,
)
from core import states
from core.actor import Actor, Face
from core.error_codes import CoreErrorCode
from core.errors import RuleViolation
from core.models import OPERATION_MOVES, AuditEvent, Operation, OperationState
from partner.models import SUBACCOUNT_MOVES, Subaccount, SubaccountState
from reconciliation.models import FINDING_MOVES, RUN_MOVES, Finding, FindingState, Run, RunState
from subscriptions.acme.models import CONTRACT_MOVES, AcmeContract, ContractState
from subscriptions.cloudflare.models import (
    ADDON_MOVES,
    ZONE_MOVES,
    AddonState,
    CloudflareAddon,
    CloudflareZone,
    ZoneState,
)
from tests.factories import RenewalFactory, SubaccountFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
# The apps whose state fields move only through core.states.
SCANNED_APPS = ["core", "partner", "billing", "reconciliation", "subscriptions"]
STATE_FIELDS = {"state", "status", "provisioning_state"}

TABLES = [
    (Operation, "state", OPERATION_MOVES),
    (Subaccount, "state", SUBACCOUNT_MOVES),
    (Plan, "state", PLAN_MOVES),
    (Checkout, "state", CHECKOUT_MOVES),
    (BillingSubscription, "state", BILLING_SUBSCRIPTION_MOVES),
    (BillingSubscription, "provisioning_state", PROVISIONING_MOVES),
    (Renewal, "state", RENEWAL_MOVES),
    (WebhookEvent, "state", WEBHOOK_EVENT_MOVES),
    (Run, "state", RUN_MOVES),
    (Finding, "state", FINDING_MOVES),
    (AcmeContract, "state", CONTRACT_MOVES),
    (CloudflareZone, "state", ZONE_MOVES),
    (CloudflareAddon, "state", ADDON_MOVES),
]


# --- The mechanism ---------------------------------------------------------------------------------


def test_a_refused_move_changes_nothing_and_records_nothing(db):
    subaccount = SubaccountFactory(active=True)

    with pytest.raises(RuleViolation) as refused:
        states.move(subaccount, SubaccountState.PENDING, SUBACCOUNT_MOVES, actor=Actor.system())

    assert refused.value.code == CoreErrorCode.ILLEGAL_TRANSITION
    assert refused.value.message == "A subaccount that is active cannot become pending."
    assert subaccount.state == SubaccountState.ACTIVE
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.ACTIVE
    assert AuditEvent.objects.count() == 0


def test_an_allowed_move_saves_the_state_only_and_records_one_audit_event(db):
    subaccount = SubaccountFactory()
    subaccount.name = "not-saved"  # a field the move does not own stays unsaved
    user = UserFactory()

    states.move(
        subaccount,
        SubaccountState.ACTIVE,
        SUBACCOUNT_MOVES,
        actor=Actor(user, Face.ADMIN),
        action="subaccount.activated",
        note="why",
    )

    stored = Subaccount.objects.get(pk=subaccount.pk)
    assert stored.state == SubaccountState.ACTIVE and stored.name != "not-saved"
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.partner_id, event.note) == (
        "subaccount.activated",
        user,
        subaccount.partner_id,
        "why",
    )
    assert event.changes["state"] == [SubaccountState.PENDING, SubaccountState.ACTIVE]


def test_a_move_without_an_actor_records_no_audit_event_and_save_false_writes_nothing(db):
    subaccount = SubaccountFactory()

    states.move(subaccount, SubaccountState.FAILED, SUBACCOUNT_MOVES, save=False)

    assert subaccount.state == SubaccountState.FAILED
    assert Subaccount.objects.get(pk=subaccount.pk).state == SubaccountState.PENDING
    assert AuditEvent.objects.count() == 0


def test_staying_in_the_current_state_is_never_refused():
    assert states.allows(RENEWAL_MOVES, RenewalState.CANCELLED, RenewalState.CANCELLED)
    states.move(Renewal(state=RenewalState.CANCELLED), RenewalState.CANCELLED, RENEWAL_MOVES, save=False)


def test_move_all_moves_only_the_rows_the_table_allows_and_says_which(db):
    ordering = RenewalFactory(ordering=True)
    captured = RenewalFactory(captured=True)

    moved = states.move_all(Renewal.objects.all(), RenewalState.ORDERED, RENEWAL_MOVES)

    assert moved == [ordering.pk]
    ordering.refresh_from_db()
    captured.refresh_from_db()
    assert (ordering.state, captured.state) == (RenewalState.ORDERED, RenewalState.CAPTURED)
    assert states.move_all(Renewal.objects.all(), RenewalState.ORDERED, RENEWAL_MOVES) == []  # once


@pytest.mark.parametrize(("model", "field", "moves"), TABLES, ids=lambda v: getattr(v, "__name__", None))
def test_each_table_names_every_state_of_its_field_and_only_those(model, field, moves):
    choices = {value for value, _ in model._meta.get_field(field).flatchoices}

    assert set(moves) == choices
    assert set().union(*moves.values()) <= choices


# --- One impossible move per table -------------------------------------------------------------------


def _refused(obj, to, moves, field="state") -> bool:
    try:
        states.move(obj, to, moves, field=field, save=False)
    except RuleViolation as refusal:
        return refusal.code == CoreErrorCode.ILLEGAL_TRANSITION
    return False


def test_a_succeeded_operation_cannot_become_failed():
    assert _refused(Operation(state=OperationState.SUCCEEDED), OperationState.FAILED, OPERATION_MOVES)


def test_an_active_subaccount_cannot_become_failed():
    assert _refused(Subaccount(state=SubaccountState.ACTIVE), SubaccountState.FAILED, SUBACCOUNT_MOVES)


def test_a_plan_is_never_a_draft_again():
    assert _refused(Plan(state=PlanState.ACTIVE), PlanState.DRAFT, PLAN_MOVES)


def test_a_deactivated_plan_cannot_be_active_again():
    assert _refused(Plan(state=PlanState.DEACTIVATED), PlanState.ACTIVE, PLAN_MOVES)


def test_a_paid_checkout_cannot_be_opened_again():
    assert _refused(Checkout(state=CheckoutState.PAID), CheckoutState.OPEN, CHECKOUT_MOVES)


def test_a_cancelled_billing_subscription_cannot_be_active_again():
    subscription = BillingSubscription(state=SubscriptionState.CANCELLED)
    assert _refused(subscription, SubscriptionState.ACTIVE, BILLING_SUBSCRIPTION_MOVES)


def test_a_live_billing_subscription_is_never_a_draft_again():
    subscription = BillingSubscription(state=SubscriptionState.ACTIVE)
    assert _refused(subscription, SubscriptionState.DRAFT, BILLING_SUBSCRIPTION_MOVES)


def test_provisioning_failed_for_good_is_not_provisioned_later():
    subscription = BillingSubscription(provisioning_state=ProvisioningState.FAILED)
    assert _refused(subscription, ProvisioningState.DONE, PROVISIONING_MOVES, field="provisioning_state")


def test_a_captured_renewal_cannot_go_back_to_ordering():
    assert _refused(Renewal(state=RenewalState.CAPTURED), RenewalState.ORDERING, RENEWAL_MOVES)


def test_a_rejected_webhook_event_cannot_be_processed():
    assert _refused(WebhookEvent(state=EventState.REJECTED), EventState.PROCESSED, WEBHOOK_EVENT_MOVES)


def test_a_finished_run_cannot_run_again():
    assert _refused(Run(state=RunState.FINISHED), RunState.RUNNING, RUN_MOVES)


def test_a_dismissed_finding_cannot_be_reopened():
    assert _refused(Finding(state=FindingState.DISMISSED), FindingState.OPEN, FINDING_MOVES)


def test_a_cancelled_acme_contract_cannot_be_active_again():
    assert _refused(AcmeContract(state=ContractState.CANCELLED), ContractState.ACTIVE, CONTRACT_MOVES)


def test_a_pending_acme_contract_cannot_be_cancelled_before_it_exists():
    assert _refused(AcmeContract(state=ContractState.PENDING), ContractState.CANCEL_PENDING, CONTRACT_MOVES)


def test_an_active_zone_cannot_become_failed():
    assert _refused(CloudflareZone(state=ZoneState.ACTIVE), ZoneState.FAILED, ZONE_MOVES)


def test_a_cancelled_addon_cannot_be_active_again():
    assert _refused(CloudflareAddon(state=AddonState.CANCELLED), AddonState.ACTIVE, ADDON_MOVES)


# --- No other assignment ------------------------------------------------------------------------------


def state_assignments(source: str, filename: str = "<source>") -> list[int]:
    """Lines assigning a state field: `x.state = ...` (alone or in a tuple), `setattr(x, "state", ...)`
    and `.update(state=...)`."""
    lines = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for part in ast.walk(target):
                    if isinstance(part, ast.Attribute) and part.attr in STATE_FIELDS:
                        lines.append(node.lineno)
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            if (
                name == "setattr"
                and len(node.args) > 1
                and getattr(node.args[1], "value", None) in STATE_FIELDS
            ):
                lines.append(node.lineno)
            # A queryset's update is a chain (`X.objects.filter(...).update(...)`); a dict's (a
            # template context's `status=`) is not.
            chained = isinstance(node.func, ast.Attribute) and isinstance(
                node.func.value, (ast.Call, ast.Attribute)
            )
            if name == "update" and chained and any(k.arg in STATE_FIELDS for k in node.keywords):
                lines.append(node.lineno)
    return lines


def test_the_scan_finds_every_form_of_assignment():
    source = """
a.state = 1
a.status, b = 2, 3
setattr(a, "provisioning_state", 4)
Model.objects.filter(pk=1).update(state=5)
rows.objects.update(status=6)
a.state == 7
Model.objects.filter(state=8)
context.update(status=9)
"""
    assert state_assignments(source) == [2, 3, 4, 5, 6]


def test_state_fields_are_assigned_only_by_core_states():
    found = []
    for app in SCANNED_APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" in rel or rel == "core/states.py":
                continue
            found += [f"{rel}:{line}" for line in state_assignments(path.read_text(), rel)]

    assert found == [], "Move these through core.states.move (or move_all):\n" + "\n".join(found)


def test_move_all_returns_exactly_the_rows_it_moved_when_another_writer_moved_one_first(db):
    from django.db import connection

    first, second = RenewalFactory(ordering=True), RenewalFactory(ordering=True)
    done = []

    def capture_lands_first(execute, sql, params, many, context):
        # Another writer captures `second` just before move_all's UPDATE reaches the database.
        if sql.startswith("UPDATE") and "billing_renewal" in sql and not done:
            done.append(sql)
            Renewal.objects.filter(pk=second.pk).update(state=RenewalState.CAPTURED)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(capture_lands_first):
        moved = states.move_all(Renewal.objects.all(), RenewalState.ORDERED, RENEWAL_MOVES)

    assert done and moved == [first.pk]  # not `second`: the capture stands and is not reported moved
    assert Renewal.objects.get(pk=second.pk).state == RenewalState.CAPTURED


@pytest.mark.parametrize("returning", [True, False], ids=["update-returning", "read-then-update"])
def test_move_all_is_one_statement_where_the_database_returns_rows(db, returning, monkeypatch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ordering, captured = RenewalFactory(ordering=True), RenewalFactory(captured=True)
    if not returning:  # (after the INSERTs above, which need RETURNING on PostgreSQL)
        monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)

    with CaptureQueriesContext(connection) as queries:
        moved = states.move_all(Renewal.objects.all(), RenewalState.ORDERED, RENEWAL_MOVES)

    assert moved == [ordering.pk] and len(queries) == (1 if returning else 2)
    assert Renewal.objects.get(pk=captured.pk).state == RenewalState.CAPTURED
