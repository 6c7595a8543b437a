"""Batched writes of the kernel: audit.record_many and operations.start_many (one INSERT for many,
sharing the single versions' code), and core.db.update_returning (claim()'s UPDATE that reads the
row back in the same statement, or an update and a read where the database cannot)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core import audit, operations, tasks
from core.actor import Actor
from core.error_codes import CoreErrorCode
from core.errors import RuleViolation
from core.models import AuditEvent, Operation, OperationState
from tests.factories import OperationFactory, SubaccountFactory

pytestmark = pytest.mark.django_db

KIND = "tests.batched"


@operations.register
class Batched(operations.OperationHandler):
    kind = KIND
    label = "Batched test call"


def test_record_many_writes_each_event_in_one_insert_as_record_would():
    subaccounts = SubaccountFactory.create_batch(3)
    actor = Actor.system()
    events = [
        audit.event(actor, "tests.touched", s, partner_id=s.customer.partner_id, changes={"n": [None, i]})
        for i, s in enumerate(subaccounts)
    ]

    with CaptureQueriesContext(connection) as queries:
        recorded = audit.record_many(events)

    assert len(queries) == 1
    assert all(event.pk for event in recorded)
    single = audit.record(actor, "tests.touched", subaccounts[0], partner_id=None, changes={"n": [None, 0]})
    stored = AuditEvent.objects.filter(action="tests.touched").order_by("id")
    assert [(e.object_id, e.changes) for e in stored] == [
        *[(str(s.pk), {"n": [None, i]}) for i, s in enumerate(subaccounts)],
        (str(subaccounts[0].pk), {"n": [None, 0]}),
    ]
    assert {e.content_type_id for e in stored} == {single.content_type_id}
    assert audit.record_many([]) == []


def test_start_many_records_one_pending_operation_each_in_one_insert(django_capture_on_commit_callbacks):
    subaccounts = SubaccountFactory.create_batch(3)

    with django_capture_on_commit_callbacks() as callbacks, CaptureQueriesContext(connection) as queries:
        started = operations.start_many(
            Actor.system(), [(s, s.customer.partner_id) for s in subaccounts], KIND, exclusive=False
        )

    assert len(queries) == 1  # no lookup of pending operations, one INSERT
    assert [op.object_id for op in started] == [str(s.pk) for s in subaccounts]
    assert all(op.state == OperationState.PENDING and op.next_attempt_at for op in started)
    assert len(callbacks) == 3  # each queued on commit


def test_start_many_refuses_all_when_one_target_has_a_pending_operation_and_records_nothing():
    free, busy = SubaccountFactory.create_batch(2)
    OperationFactory(target=busy, kind=KIND)

    with pytest.raises(RuleViolation) as refused:
        operations.start_many(Actor.system(), [(free, None), (busy, None)], KIND)

    assert refused.value.code == CoreErrorCode.OPERATION_IN_PROGRESS
    assert str(busy) in refused.value.message
    assert Operation.objects.count() == 1


def test_start_is_start_many_of_one_and_still_refuses_a_second_pending_operation():
    subaccount = SubaccountFactory()
    operation = operations.start(Actor.system(), subaccount, KIND, partner_id=None, params={"a": 1})

    assert (operation.kind, operation.params, operation.object_id) == (KIND, {"a": 1}, str(subaccount.pk))
    with pytest.raises(RuleViolation):
        operations.start(Actor.system(), subaccount, KIND, partner_id=None)


@pytest.mark.parametrize("returning", [True, False], ids=["update-returning", "update-then-read"])
def test_claim_takes_the_lease_once_and_returns_the_row_as_updated(returning, monkeypatch):
    operation = OperationFactory(target=SubaccountFactory(), kind=KIND, params={"x": [1, 2]})
    if not returning:  # (after the INSERT above, which needs RETURNING on PostgreSQL)
        monkeypatch.setattr(connection.features, "can_return_columns_from_insert", False)

    with CaptureQueriesContext(connection) as queries:
        claimed = tasks.claim(Operation, operation.pk, states=[OperationState.PENDING])

    assert len(queries) == (1 if returning else 2)
    stored = Operation.objects.get(pk=operation.pk)
    assert claimed is not None and claimed.pk == operation.pk
    for field in Operation._meta.concrete_fields:  # read back with each field's own type
        assert getattr(claimed, field.attname) == getattr(stored, field.attname), field.name
    assert claimed.attempts == operation.attempts + 1 and claimed.claimed_until is not None
    assert tasks.claim(Operation, operation.pk, states=[OperationState.PENDING]) is None  # leased


TAKEN_OVER = "tests.taken_over"


@operations.register
class TakenOverMidCall(operations.OperationHandler):
    """Its vendor call outlives the lease: another worker claims the operation meanwhile."""

    kind = TAKEN_OVER
    label = "Slow test call"

    def perform(self, operation, target):
        Operation.objects.filter(pk=operation.pk).update(
            claimed_until=operation.claimed_until + timedelta(hours=1)
        )
        return {"done": True}

    def succeeded(self, operation, target, result, actor):
        audit.record(actor, "tests.recorded", target, partner_id=operation.partner_id, changes={})


def test_an_outcome_is_recorded_only_by_the_worker_whose_lease_it_is():
    subaccount = SubaccountFactory()
    operation = OperationFactory(target=subaccount, kind=TAKEN_OVER)
    events = AuditEvent.objects.count()

    operations.run(operation.pk)

    operation.refresh_from_db()
    assert operation.state == OperationState.PENDING  # the other worker's, to record
    assert operation.result == {} and operation.finished_at is None
    assert AuditEvent.objects.count() == events  # what succeeded() wrote was rolled back


def test_an_outcome_is_recorded_while_the_lease_holds(monkeypatch):
    subaccount = SubaccountFactory()
    operation = OperationFactory(target=subaccount, kind=KIND)
    monkeypatch.setattr(Batched, "perform", lambda self, op, target: {"done": True})
    operations.run(operation.pk)
    operation.refresh_from_db()
    assert operation.state == OperationState.SUCCEEDED and operation.result == {"done": True}
    assert operation.claimed_until is None
