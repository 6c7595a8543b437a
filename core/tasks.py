"""Task helpers: queue on commit, claim a row with a lease, record retry state, sweep due rows."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django_q.tasks import async_task

from core import db, states
from core.states import Moves

logger = logging.getLogger(__name__)


def enqueue_on_commit(func: str, *args, **kwargs) -> None:
    """Queue a django-q2 task once the current transaction commits (never for a rolled-back write).

    Only primary keys and plain values go in: never a secret.
    """
    transaction.on_commit(lambda: async_task(func, *args, group=func.rsplit(".", 1)[0], **kwargs))


def backoff_seconds(attempts: int, retry_after: float | None = None) -> int:
    """Exponential backoff after `attempts` tries, never sooner than the vendor's Retry-After."""
    delay = settings.TASK_BACKOFF_BASE_SECONDS * 2 ** max(attempts - 1, 0)
    delay = min(delay, settings.TASK_BACKOFF_MAX_SECONDS)
    if retry_after:
        delay = max(delay, int(retry_after + 0.999))
    return int(delay)


def lease_deadline():
    """When a row just queued (or leased) counts as stuck if nobody has reported back."""
    return timezone.now() + timedelta(seconds=settings.TASK_LEASE_SECONDS)


def claim(model: type[models.Model], pk, *, states: list[str]):
    """Take the lease on a row for one vendor call, or return None if it is done or already leased.

    A single conditional UPDATE, so two workers can never both call the vendor for one row.
    """
    now = timezone.now()
    lease = timedelta(seconds=settings.TASK_LEASE_SECONDS)
    claimable = (
        model.objects.filter(pk=pk, state__in=states)
        .filter(models.Q(claimed_until__isnull=True) | models.Q(claimed_until__lt=now))
        # Backoff and Retry-After hold on every path into the task (sweeper, retry, a duplicate
        # delivery): a row asked to wait is not called early.
        .filter(models.Q(not_before__isnull=True) | models.Q(not_before__lte=now))
    )
    values = dict(
        # A lease taken over from a worker that died mid-call: that attempt's outcome is unknown.
        outcome_unknown=models.Case(
            models.When(claimed_until__isnull=False, then=models.Value(True)),
            default=models.F("outcome_unknown"),
        ),
        claimed_until=now + lease,
        next_attempt_at=now + lease,  # if this worker dies, the sweeper retries after the lease
        attempts=models.F("attempts") + 1,
        last_attempt_at=now,
    )
    if not db.returns_rows(claimable):
        return model._default_manager.get(pk=pk) if claimable.update(**values) else None
    [claimed] = db.update_returning(claimable, **values) or [None]
    return claimed


def release_after_failure(
    row,
    *,
    code: str,
    message: str,
    retryable: bool,
    retry_after: float | None,
    moves: Moves,
    failed_state: str,
    retry_state: str,
    outcome_unknown: bool = False,
    unknown_state: str | None = None,
) -> bool:
    """Record a failed attempt; schedule a retry with backoff or give up. True if it will be retried.

    Once an attempt's answer was lost (`outcome_unknown`), running out of attempts is not a failure:
    the row goes to `unknown_state`, and the sweeper asks the vendor again every
    TASK_RESOLVE_SECONDS until an answer says whether it happened."""
    now = timezone.now()
    # A definite refusal (not worth retrying, answer received) settles an earlier doubt: retries
    # read first, so it came after the vendor said the thing does not exist.
    row.outcome_unknown = outcome_unknown or (row.outcome_unknown and retryable)
    will_retry = retryable and row.attempts < settings.TASK_MAX_ATTEMPTS
    row.last_error_code = code[:100]
    row.last_error_message = message
    row.last_error_at = now
    row.claimed_until = None
    if will_retry:
        states.move(row, retry_state, moves, save=False)
        row.not_before = now + timedelta(seconds=backoff_seconds(row.attempts, retry_after))
    elif row.outcome_unknown and unknown_state:
        states.move(row, unknown_state, moves, save=False)
        row.not_before = now + timedelta(seconds=max(settings.TASK_RESOLVE_SECONDS, retry_after or 0))
    else:
        states.move(row, failed_state, moves, save=False)
        row.not_before = None
    row.next_attempt_at = row.not_before
    return will_retry


def unknown_resolved(row) -> None:
    """A definite answer came: the row's outcome is known again (call before saving a success)."""
    row.outcome_unknown = False
    row.not_before = None


@dataclass(frozen=True)
class Sweepable:
    """A model whose rows in `states` are re-queued to `task` when their next attempt is due."""

    model: str
    states: tuple[str, ...]
    task: str


SWEEPABLE: list[Sweepable] = []


def register_sweepable(model: str, states: tuple[str, ...], task: str) -> None:
    """Called from an app's ready(): let the sweeper re-queue due or stuck rows of this model."""
    entry = Sweepable(model, states, task)
    if entry not in SWEEPABLE:
        SWEEPABLE.append(entry)


def sweep_due_operations(limit: int = 500) -> int:
    """Scheduled task: re-queue every row whose next attempt is due (failed earlier, or stuck)."""
    from django.apps import apps

    now = timezone.now()
    queued = 0
    for entry in SWEEPABLE:
        model = apps.get_model(entry.model)
        due = (
            model.objects.filter(state__in=entry.states, next_attempt_at__lte=now)
            .filter(models.Q(claimed_until__isnull=True) | models.Q(claimed_until__lt=now))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:limit]
        )
        for pk in due:
            async_task(entry.task, pk, group=entry.task.rsplit(".", 1)[0])
            queued += 1
    if queued:
        logger.info("sweeper re-queued %s vendor operation(s)", queued)
    return queued


def run_operation_task(operation_id: int) -> None:
    """Perform one recorded vendor operation (safe to run twice)."""
    from core import operations

    operations.run(operation_id)
