"""Vendor operations: a service records one `Operation`, a task performs it through its handler.

A handler splits the work in two so no database lock is held during HTTP: `perform` calls the
vendor (outside any transaction) and returns a JSON-safe result; `succeeded` / `failed` write the
outcome on the target in one transaction with its audit event. Registering a kind:

    @register
    class CancelContract(OperationHandler):
        kind = "acme.cancel"
        ...

A multi-step change across vendor and biller (domain.md: "one recorded operation") is an operation
with `is_change`, handled by a `ChangeHandler`. Every operation started inside `change(...)`, and
every follow-up a step's outcome starts, becomes one of its steps; when a step fails for good the
change's handler says what is undone (and starts the undoing steps). The change is pending while a
step is pending or the handler waits for something else (a payment), then succeeded or failed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models.functions import Cast, RowNumber
from django.utils import timezone

from core import audit, signals, states
from core.actor import Actor
from core.error_codes import CoreErrorCode
from core.errors import RuleViolation
from core.models import OPERATION_MOVES, Operation, OperationState
from core.tasks import claim, enqueue_on_commit, lease_deadline, release_after_failure, unknown_resolved

logger = logging.getLogger(__name__)

RUN_TASK = "core.tasks.run_operation_task"
_HANDLERS: dict[str, type[OperationHandler]] = {}
# The change new operations join as steps, and the step whose outcome is being recorded.
_joining: ContextVar[int | None] = ContextVar("operations_joining", default=None)
_recording: ContextVar[Operation | None] = ContextVar("operations_recording", default=None)


class OperationHandler:
    """How one kind of vendor operation is performed and how its outcome is recorded."""

    kind = ""
    label = ""
    # Relations read with the target (select_related), for perform() and for the outcome's locked
    # read: what the handler reads of them costs no query of its own.
    related: tuple[str, ...] = ()

    def load(self, model: type[models.Model], pk: str):
        """The target as perform() reads it, with `related` (override to read more in one query)."""
        return model._default_manager.select_related(*self.related).get(pk=pk)

    def perform(self, operation: Operation, target) -> dict:
        """Call the vendor; raise VendorError on failure. Runs outside any transaction.

        The JSON-safe result is stored on the operation, except keys starting with "_" (secrets).
        """
        raise TypeError(f"{type(self).__name__} must define perform()")

    def succeeded(self, operation: Operation, target, result: dict, actor: Actor) -> None:
        """Record the vendor's answer on the target (inside the outcome transaction)."""

    def failed(self, operation: Operation, target, actor: Actor) -> None:
        """The operation gave up: put the target back in a state that tells the truth."""

    def retrying(self, operation: Operation, target) -> None:
        """A failed operation is queued again: show the target as in progress once more."""

    def attempt_failed(self, operation: Operation, target, error) -> None:
        """An attempt failed and the operation tries again later (or, its answer lost, asks again)."""

    def awaiting(self, operation: Operation, target, why: str, actor: Actor) -> None:
        """perform() raised AwaitingDecision: show the target as waiting for staff's decision."""


class AwaitingDecision(Exception):
    """Raised by perform() when no attempt may run until staff decide (a lost answer the vendor
    documents no read for): the operation waits, unknown, with no next attempt, until `resume`."""


class ChangeHandler(OperationHandler):
    """How a multi-step change reacts to its steps; it makes no vendor call of its own."""

    def perform(self, operation, target):
        raise TypeError("A change has no vendor call of its own: its steps do the work.")

    def step_succeeded(self, change: Operation, step: Operation, actor: Actor) -> None:
        """A step is done: start the next one if the change needs more than the step's own outcome."""

    def step_failed(self, change: Operation, step: Operation, actor: Actor) -> str:
        """A step failed for good: undo what can be undone (`start(..., undo=True)`), say what."""
        return "Nothing to undo."

    def waiting_for(self, change: Operation) -> str:
        """What the change still waits for outside its steps (e.g. the customer's payment), or ""."""
        return ""


def register(handler: type[OperationHandler]) -> type[OperationHandler]:
    _HANDLERS[handler.kind] = handler
    return handler


def handler_for(kind: str) -> OperationHandler:
    return _HANDLERS[kind]()


def pending_for(target: models.Model):
    """The vendor calls pending on `target` (a change in progress is not one: its steps are)."""
    return _pending_on([target])


def _pending_on(targets: list[models.Model]):
    """The vendor calls pending on any of `targets` (objects of one model), in one query."""
    return Operation.objects.filter(
        content_type=ContentType.objects.get_for_model(targets[0]),
        object_id__in=[str(target.pk) for target in targets],
        state=OperationState.PENDING,
        is_change=False,
    )


def open_change(target: models.Model, kind: str) -> Operation | None:
    """The change of `kind` still in progress on `target`, if any."""
    return (
        Operation.objects.filter(
            content_type=ContentType.objects.get_for_model(target),
            object_id=str(target.pk),
            kind=kind,
            is_change=True,
            state=OperationState.PENDING,
        )
        .order_by("-created_at", "-id")
        .first()
    )


@contextmanager
def joining(change: Operation | None) -> Iterator[None]:
    """Operations started inside become steps of `change` (nothing changes when it is None)."""
    token = _joining.set(change.pk if change is not None else _joining.get())
    try:
        yield
    finally:
        _joining.reset(token)


def _requested(kind: str, target: models.Model, actor: Actor, *, partner_id: int | None, params) -> dict:
    """The fields of a new operation record: what it does, on what, asked by whom."""
    return {
        "kind": kind,
        "partner_id": partner_id,
        "content_type": ContentType.objects.get_for_model(target),
        "object_id": str(target.pk),
        "params": params or {},
        "requested_by": actor.user,
        "face": actor.face,
    }


@contextmanager
def change(
    actor: Actor, target: models.Model, kind: str, *, partner_id: int | None, params: dict | None = None
) -> Iterator[Operation]:
    """Record a multi-step change on `target`; the operations started inside are its steps.

    Inside another change (or inside the outcome of one of its steps) this is that change. Inside
    the outcome of an operation that belongs to no change yet, the new change takes that operation
    as its first step: a change begun on the vendor's side continues as one record.
    """
    current = _joining.get()
    if current is not None:
        yield Operation.objects.get(pk=current)
        return
    recording = _recording.get()
    with transaction.atomic():  # a refused change leaves no record
        record = Operation.objects.create(
            is_change=True, **_requested(kind, target, actor, partner_id=partner_id, params=params)
        )
        if recording is not None:
            recording.parent = record
            Operation.objects.filter(pk=recording.pk).update(parent=record)
        with joining(record):
            yield record
        settle(record.pk, actor)


def log_step(text: str) -> None:
    """Record a step done outside any vendor call (ours alone) on the change being recorded, if any."""
    change_id = _joining.get()
    if change_id is None:
        return
    with transaction.atomic():
        record = Operation.objects.select_for_update().get(pk=change_id)
        record.result = {
            **record.result,
            "log": [*record.result.get("log", []), {"at": _now(), "text": text}],
        }
        record.save(update_fields=["result"])


def _now() -> str:
    return timezone.now().isoformat(timespec="seconds")


def settle(change_id: int, actor: Actor, *, failed_step: Operation | None = None) -> Operation:
    """Bring a change's state in line with its steps; a step failed for good is undone first."""
    with transaction.atomic():
        return _settle(change_id, actor, failed_step)


def _settle(change_id: int, actor: Actor, failed_step: Operation | None) -> Operation:
    record = Operation.objects.select_for_update().get(pk=change_id)
    handler = handler_for(record.kind)
    if failed_step is not None:
        with joining(record):
            undone = handler.step_failed(record, failed_step, actor)
        record.result = {
            **record.result,
            "failed_step": failed_step.label,
            "undone": undone,
        }
        audit.record(
            actor,
            "operation.change_step_failed",
            record.target,
            partner_id=record.partner_id,
            changes={},
            note=f"{record.label}: {failed_step.label} failed for good. {undone}",
        )
    steps = record.steps.all()
    if steps.filter(state__in=[OperationState.PENDING, OperationState.UNKNOWN]).exists() or (
        "failed_step" not in record.result and handler.waiting_for(record)
    ):
        states.move(record, OperationState.PENDING, OPERATION_MOVES, save=False)
        record.finished_at = None
    else:
        outcome = OperationState.FAILED if "failed_step" in record.result else OperationState.SUCCEEDED
        states.move(record, outcome, OPERATION_MOVES, save=False)
        record.finished_at = record.finished_at or timezone.now()
    record.save()
    return record


@contextmanager
def _outcome_of(operation: Operation) -> Iterator[None]:
    """While a step's outcome is recorded, what it starts joins its change."""
    recording = _recording.set(operation)
    token = _joining.set(operation.parent_id)
    try:
        yield
    finally:
        _joining.reset(token)
        _recording.reset(recording)


def start(
    actor: Actor,
    target: models.Model,
    kind: str,
    *,
    partner_id: int | None,
    params: dict | None = None,
    exclusive: bool = True,
    undo: bool = False,
) -> Operation:
    """Record an operation on `target` and queue it on commit; call inside the service's transaction.

    With `exclusive`, a second operation while one is pending on the same object is refused:
    vendor calls on one object run one at a time, in the order they were asked for. Inside a
    change it is one of the change's steps (`undo`: one that undoes an earlier step).
    """
    [operation] = start_many(
        actor, [(target, partner_id)], kind, params=params, exclusive=exclusive, undo=undo
    )
    return operation


def start_many(
    actor: Actor,
    targets: list[tuple[models.Model, int | None]],
    kind: str,
    *,
    params: dict | None = None,
    exclusive: bool = True,
    undo: bool = False,
) -> list[Operation]:
    """`start` for several objects of one model at once, each given with its partner id: one
    operation each, recorded in one INSERT and each queued on commit (a batch of renewals).

    With `exclusive`, one query finds whether any target already has a pending operation, and then
    nothing is recorded; a caller whose targets were created in its own transaction passes
    `exclusive=False` (nothing can be pending on an object nobody else has seen yet).
    """
    if not targets:
        return []
    if exclusive:
        current = _pending_on([target for target, _ in targets]).first()
        if current is not None:
            busy = next(target for target, _ in targets if str(target.pk) == current.object_id)
            raise RuleViolation(
                f"{current.label} is still in progress for {busy}; wait for it to finish or fail.",
                code=CoreErrorCode.OPERATION_IN_PROGRESS,
            )
    deadline, parent_id = lease_deadline(), _joining.get()
    operations = Operation.objects.bulk_create(
        [
            Operation(
                **_requested(kind, target, actor, partner_id=partner_id, params=params),
                next_attempt_at=deadline,
                parent_id=parent_id,
                is_undo=undo,
            )
            for target, partner_id in targets
        ]
    )
    for operation in operations:
        enqueue_on_commit(RUN_TASK, operation.pk)
    return operations


def retry(actor: Actor, operation: Operation) -> Operation:
    """Queue a failed operation again (the caller has checked the actor's right on its target)."""
    with transaction.atomic():
        operation = Operation.objects.select_for_update().get(pk=operation.pk)
        if operation.is_change:
            raise RuleViolation(
                "A change is retried through its failed step.", code=CoreErrorCode.RETRY_THE_FAILED_STEP
            )
        if operation.state != OperationState.FAILED:
            raise RuleViolation("Only a failed operation can be retried.", code=CoreErrorCode.NOT_RETRYABLE)
        if operation.parent_id and operation.parent.steps.filter(is_undo=True).exists():
            raise RuleViolation(
                "This step's change was undone after it failed; start the change again instead.",
                code=CoreErrorCode.CHANGE_UNDONE,
            )
        if pending_for(operation.target).exclude(pk=operation.pk).exists():
            raise RuleViolation(
                "Another operation is in progress on this object.", code=CoreErrorCode.OPERATION_IN_PROGRESS
            )
        target = _locked_target(operation)
        handler_for(operation.kind).retrying(operation, target)
        states.move(operation, OperationState.PENDING, OPERATION_MOVES, save=False)
        operation.claimed_until = None
        operation.next_attempt_at = lease_deadline()
        operation.finished_at = None
        operation.save()
        audit.record(
            actor,
            "operation.retried",
            target,
            partner_id=operation.partner_id,
            changes={"operation": [operation.kind, operation.kind]},
            note=operation.last_error,
        )
        enqueue_on_commit(RUN_TASK, operation.pk)
        if operation.parent_id:  # the change is in progress again, its failure no longer stands
            record = Operation.objects.select_for_update().get(pk=operation.parent_id)
            for key in ("failed_step", "undone"):
                record.result.pop(key, None)
            record.save(update_fields=["result"])
            settle(record.pk, actor)
    return operation


def resolve_now(actor: Actor, operation: Operation) -> Operation:
    """Staff ask the vendor now what became of an operation whose outcome is unknown (the same
    read-first attempt the sweeper makes later): its answer settles it, one way or the other."""
    with transaction.atomic():
        operation = Operation.objects.select_for_update().get(pk=operation.pk)
        if operation.state != OperationState.UNKNOWN:
            raise RuleViolation(
                "Only an operation with an unknown outcome is resolved.", code=CoreErrorCode.NOT_UNKNOWN
            )
        operation.not_before = operation.next_attempt_at = None
        operation.save(update_fields=["not_before", "next_attempt_at"])
        audit.record(
            actor,
            "operation.resolve_requested",
            operation.target,
            partner_id=operation.partner_id,
            changes={},
            note=operation.label,
        )
        enqueue_on_commit(RUN_TASK, operation.pk)
    return operation


def _target_model(operation: Operation) -> type[models.Model]:
    # ContentType's manager caches by id: no query (operation.target would be one each time).
    return ContentType.objects.get_for_id(operation.content_type_id).model_class()


def _locked_target(operation: Operation, handler: OperationHandler | None = None):
    """The operation's target, locked for the outcome (with the handler's related rows, not locked)."""
    model = _target_model(operation)
    related = handler.related if handler is not None else ()
    return (
        model._default_manager.select_for_update(of=("self",))
        .select_related(*related)
        .get(pk=operation.object_id)
    )


def run(operation_id: int) -> None:
    """Task side: perform one operation at most once at a time, record success or failure."""
    from vendors.errors import VendorError

    operation = claim(Operation, operation_id, states=[OperationState.PENDING, OperationState.UNKNOWN])
    if operation is None:
        return
    handler = handler_for(operation.kind)
    actor = Actor.system()
    lease = operation.claimed_until  # this worker's: the outcome is recorded only while it holds
    try:
        result = handler.perform(operation, handler.load(_target_model(operation), operation.object_id))
    except VendorError as error:
        _record_failure(operation.pk, handler, error, actor)
        return
    except AwaitingDecision as waiting:
        _await_decision(operation.pk, handler, str(waiting), actor)
        return
    try:
        with transaction.atomic():
            _record_success(operation, handler, result, actor, lease)
    except LeaseLost:
        logger.warning(
            "operation %s (%s): the lease ran out during the vendor call and another worker took it "
            "over; that worker records the outcome",
            operation.pk,
            operation.kind,
        )


class LeaseLost(Exception):
    """The worker's lease on an operation ran out during its vendor call and another took it over."""


def _record_success(
    operation: Operation, handler: OperationHandler, result: dict, actor: Actor, lease
) -> None:
    """Record a vendor call's success, inside the caller's transaction; LeaseLost (rolling it back)
    when the operation is no longer this worker's."""
    # The operation is not read again: the save below is conditional on the lease claim() took,
    # so a worker that took over after the lease ran out keeps the outcome (the rollback undoes
    # what succeeded() wrote). Its target is read, locked: a webhook may have changed it during
    # the vendor call.
    target = _locked_target(operation, handler)
    with _outcome_of(operation):
        handler.succeeded(operation, target, result, actor)
    states.move(operation, OperationState.SUCCEEDED, OPERATION_MOVES, save=False)
    unknown_resolved(operation)
    # Keys starting with "_" carry secrets (or rows already read) to succeeded() and are never stored.
    operation.result = {k: v for k, v in result.items() if not k.startswith("_")}
    operation.finished_at = timezone.now()
    operation.claimed_until = operation.next_attempt_at = None
    fields = [field for field in Operation._meta.concrete_fields if not field.primary_key]
    saved = Operation.objects.filter(pk=operation.pk, claimed_until=lease).update(
        **{field.attname: getattr(operation, field.attname) for field in fields}
    )
    if not saved:
        raise LeaseLost(operation.pk)
    if operation.parent_id:
        record = Operation.objects.get(pk=operation.parent_id)
        with _outcome_of(operation):
            handler_for(record.kind).step_succeeded(record, operation, actor)
        settle(record.pk, actor)


def _record_failure(operation_id: int, handler: OperationHandler, error, actor: Actor) -> None:
    with transaction.atomic():
        operation = Operation.objects.select_for_update().get(pk=operation_id)
        will_retry = release_after_failure(
            operation,
            code=error.code or "vendor_error",
            message=error.message,
            retryable=error.retryable,
            retry_after=error.retry_after,
            moves=OPERATION_MOVES,
            failed_state=OperationState.FAILED,
            retry_state=OperationState.PENDING,
            outcome_unknown=error.outcome_unknown,
            unknown_state=OperationState.UNKNOWN,
        )
        if not will_retry and operation.state == OperationState.UNKNOWN:
            operation.save()
            target = _locked_target(operation, handler)
            handler.attempt_failed(operation, target, error)
            audit.record(
                actor,
                "operation.outcome_unknown",
                target,
                partner_id=operation.partner_id,
                changes={},
                note=f"{handler.label}: out of attempts after a lost answer; asking the vendor again "
                f"from {operation.not_before:%Y-%m-%d %H:%M:%S} UTC",
            )
            return
        target = _locked_target(operation, handler)
        if not will_retry:
            operation.finished_at = timezone.now()
            with _outcome_of(operation):
                handler.failed(operation, target, actor)
        else:
            handler.attempt_failed(operation, target, error)
        operation.save()
        if not will_retry and operation.parent_id:
            settle(operation.parent_id, actor, failed_step=operation)
        if not will_retry:  # staff hear of it (core.signals: apps add who to contact)
            transaction.on_commit(
                lambda: signals.operation_gave_up.send(Operation, operation=operation, target=target)
            )
        audit.record(
            actor,
            "operation.failed" if not will_retry else "operation.attempt_failed",
            target,
            partner_id=operation.partner_id,
            changes={},
            note=f"{handler.label}: {error}",
        )
    logger.warning(
        "operation %s (%s) attempt %s failed: %s", operation_id, operation.kind, operation.attempts, error
    )


def _await_decision(operation_id: int, handler: OperationHandler, why: str, actor: Actor) -> None:
    with transaction.atomic():
        operation = Operation.objects.select_for_update().get(pk=operation_id)
        states.move(operation, OperationState.UNKNOWN, OPERATION_MOVES, save=False)
        operation.outcome_unknown = True
        # No next attempt: neither the sweeper nor a duplicate delivery runs it before `resume`.
        operation.claimed_until = operation.next_attempt_at = operation.not_before = None
        operation.save()
        target = _locked_target(operation, handler)
        handler.awaiting(operation, target, why, actor)
    logger.warning("operation %s (%s) waits for staff: %s", operation_id, operation.kind, why)


def awaiting_decision(operation: Operation | None) -> bool:
    """The operation waits for staff's decision (AwaitingDecision), not for the sweeper."""
    return (
        operation is not None
        and operation.state == OperationState.UNKNOWN
        and operation.next_attempt_at is None
    )


def resume(operation: Operation) -> Operation:
    """Staff decided what became of a waiting operation: its next attempt runs now, with its outcome
    known again (call inside the service's transaction, after checking the actor's right)."""
    operation = Operation.objects.select_for_update().get(pk=operation.pk)
    if not awaiting_decision(operation):
        raise RuleViolation(
            "This operation does not wait for a decision.", code=CoreErrorCode.NOT_AWAITING_DECISION
        )
    states.move(operation, OperationState.PENDING, OPERATION_MOVES, save=False)
    unknown_resolved(operation)
    operation.claimed_until = None
    operation.next_attempt_at = lease_deadline()
    operation.save()
    enqueue_on_commit(RUN_TASK, operation.pk)
    return operation


def describe_steps(change: Operation) -> list[str]:
    """A multi-step change, step by step: each vendor call with its outcome, what we did alone, and
    what was undone when a step failed for good."""
    lines = [
        f"{'Undo: ' if step.is_undo else ''}{step.label}: {step.get_state_display().lower()}"
        f"{f' ({step.last_error})' if step.state == OperationState.FAILED and step.last_error else ''}"
        for step in sorted(change.steps.all(), key=lambda s: (s.created_at, s.pk))
    ]
    lines += [entry["text"] for entry in change.result.get("log", [])]
    if change.result.get("undone"):
        lines.append(f"{change.result['failed_step']} failed for good. {change.result['undone']}")
    waiting = handler_for(change.kind).waiting_for(change) if change.state == OperationState.PENDING else ""
    if waiting:
        lines.append(f"Waiting for {waiting}.")
    return lines


def latest_by_target(objects, only: tuple[str, ...] = ()) -> dict:
    """The newest operation of each object, in one query (for lists that show progress); `only`: the
    fields the caller shows, so a list does not decode every operation's params and result."""
    objects = list(objects)
    if not objects:
        return {}
    content_type = ContentType.objects.get_for_model(objects[0])
    # Only the newest row per object leaves the database (a window, not every operation on file).
    newest_first = models.Window(
        RowNumber(),
        partition_by=[models.F("object_id")],
        order_by=[models.F("created_at").desc(), models.F("id").desc()],
    )
    newest = (
        Operation.objects.filter(content_type=content_type, object_id__in=[str(o.pk) for o in objects])
        .annotate(_newest=newest_first)
        .filter(_newest=1)
    )
    if only:
        newest = newest.only("object_id", *only)
    latest = {operation.object_id: operation for operation in newest}
    return {o.pk: latest.get(str(o.pk)) for o in objects}


def on_objects(objects: models.QuerySet) -> models.QuerySet[Operation]:
    """The operations on the objects of a queryset (scoped by the caller), in one query."""
    content_type = ContentType.objects.get_for_model(objects.model)
    ids = objects.order_by().annotate(_op_id=Cast("pk", models.CharField())).values("_op_id")
    return Operation.objects.filter(content_type=content_type, object_id__in=ids)


def unresolved_failures(objects: models.QuerySet) -> models.QuerySet[Operation]:
    """Failed operations that are still the newest on their object: nothing since has fixed them."""
    newer = Operation.objects.filter(
        content_type=models.OuterRef("content_type"),
        object_id=models.OuterRef("object_id"),
        created_at__gt=models.OuterRef("created_at"),
    )
    return (
        on_objects(objects)
        .filter(state=OperationState.FAILED, is_change=False)
        .exclude(models.Exists(newer.filter(is_change=False)))
    )


def struggling(objects: models.QuerySet) -> models.QuerySet[Operation]:
    """Pending operations that failed at least once (retrying with backoff), whose outcome is unknown
    (being asked again), or that nobody picked up in time (stuck: their lease or next attempt is past; wall-clock time, not the business clock)."""
    return on_objects(objects).filter(
        models.Q(last_error_code__gt="") | models.Q(next_attempt_at__lt=timezone.now()),
        state__in=[OperationState.PENDING, OperationState.UNKNOWN],
        is_change=False,
    )
