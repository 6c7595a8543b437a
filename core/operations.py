"""Vendor operations: a service records one `Operation`, a task performs it through its handler.

A handler splits the work in two so no database lock is held during HTTP: `perform` calls the
vendor (outside any transaction) and returns a JSON-safe result; `succeeded` / `failed` write the
outcome on the target in one transaction with its audit event. Registering a kind:

    @register
    class CancelContract(OperationHandler):
        kind = "acme.cancel"
        ...
"""

from __future__ import annotations

import logging

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models.functions import Cast
from django.utils import timezone

from core import audit
from core.actor import Actor
from core.errors import RuleViolation
from core.models import Operation, OperationState
from core.tasks import claim, enqueue_on_commit, lease_deadline, release_after_failure

logger = logging.getLogger(__name__)

RUN_TASK = "core.tasks.run_operation_task"
_HANDLERS: dict[str, type[OperationHandler]] = {}


class OperationHandler:
    """How one kind of vendor operation is performed and how its outcome is recorded."""

    kind = ""
    label = ""

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


def register(handler: type[OperationHandler]) -> type[OperationHandler]:
    _HANDLERS[handler.kind] = handler
    return handler


def handler_for(kind: str) -> OperationHandler:
    return _HANDLERS[kind]()


def pending_for(target: models.Model):
    return Operation.objects.filter(
        content_type=ContentType.objects.get_for_model(target),
        object_id=str(target.pk),
        state=OperationState.PENDING,
    )


def start(
    actor: Actor,
    target: models.Model,
    kind: str,
    *,
    partner_id: int | None,
    params: dict | None = None,
    exclusive: bool = True,
) -> Operation:
    """Record an operation on `target` and queue it on commit; call inside the service's transaction.

    With `exclusive`, a second operation while one is pending on the same object is refused:
    vendor calls on one object run one at a time, in the order they were asked for.
    """
    if exclusive:
        current = pending_for(target).first()
        if current is not None:
            raise RuleViolation(
                f"{current.label} is still in progress for {target}; wait for it to finish or fail.",
                code="operation_in_progress",
            )
    operation = Operation.objects.create(
        kind=kind,
        partner_id=partner_id,
        content_type=ContentType.objects.get_for_model(target),
        object_id=str(target.pk),
        params=params or {},
        requested_by=actor.user,
        face=actor.face,
        next_attempt_at=lease_deadline(),
    )
    enqueue_on_commit(RUN_TASK, operation.pk)
    return operation


def retry(actor: Actor, operation: Operation) -> Operation:
    """Queue a failed operation again (the caller has checked the actor's right on its target)."""
    with transaction.atomic():
        operation = Operation.objects.select_for_update().get(pk=operation.pk)
        if operation.state != OperationState.FAILED:
            raise RuleViolation("Only a failed operation can be retried.", code="not_retryable")
        if pending_for(operation.target).exclude(pk=operation.pk).exists():
            raise RuleViolation(
                "Another operation is in progress on this object.", code="operation_in_progress"
            )
        target = type(operation.target).objects.select_for_update().get(pk=operation.object_id)
        handler_for(operation.kind).retrying(operation, target)
        operation.state = OperationState.PENDING
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
    return operation


def run(operation_id: int) -> None:
    """Task side: perform one operation at most once at a time, record success or failure."""
    from vendors.errors import VendorError

    operation = claim(Operation, operation_id, states=[OperationState.PENDING])
    if operation is None:
        return
    handler = handler_for(operation.kind)
    actor = Actor.system()
    try:
        result = handler.perform(operation, operation.target)
    except VendorError as error:
        _record_failure(operation.pk, handler, error, actor)
        return
    with transaction.atomic():
        operation = Operation.objects.select_for_update().get(pk=operation.pk)
        target = type(operation.target).objects.select_for_update().get(pk=operation.object_id)
        handler.succeeded(operation, target, result, actor)
        operation.state = OperationState.SUCCEEDED
        # Keys starting with "_" carry secrets to succeeded() and are never stored.
        operation.result = {k: v for k, v in result.items() if not k.startswith("_")}
        operation.finished_at = timezone.now()
        operation.claimed_until = operation.next_attempt_at = None
        operation.save()


def _record_failure(operation_id: int, handler: OperationHandler, error, actor: Actor) -> None:
    with transaction.atomic():
        operation = Operation.objects.select_for_update().get(pk=operation_id)
        will_retry = release_after_failure(
            operation,
            code=error.code or "vendor_error",
            message=error.message,
            retryable=error.retryable,
            retry_after=error.retry_after,
            failed_state=OperationState.FAILED,
            retry_state=OperationState.PENDING,
        )
        target = type(operation.target).objects.select_for_update().get(pk=operation.object_id)
        if not will_retry:
            operation.finished_at = timezone.now()
            handler.failed(operation, target, actor)
        operation.save()
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


def latest_by_target(objects) -> dict:
    """The newest operation of each object, in one query (for lists that show progress)."""
    objects = list(objects)
    if not objects:
        return {}
    content_type = ContentType.objects.get_for_model(objects[0])
    latest: dict = {}
    for operation in Operation.objects.filter(
        content_type=content_type, object_id__in=[str(o.pk) for o in objects]
    ).order_by("object_id", "-created_at", "-id"):
        latest.setdefault(operation.object_id, operation)
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
    return on_objects(objects).filter(state=OperationState.FAILED).exclude(models.Exists(newer))


def struggling(objects: models.QuerySet) -> models.QuerySet[Operation]:
    """Pending operations that failed at least once (retrying with backoff) or that nobody picked up
    in time (stuck: their lease or next attempt is past; wall-clock time, not the business clock)."""
    return on_objects(objects).filter(
        models.Q(last_error_code__gt="") | models.Q(next_attempt_at__lt=timezone.now()),
        state=OperationState.PENDING,
    )
