"""The customer page's timeline: one list, newest first, of everything that happened to a customer
and what it has: audit events (who changed what, through which face), vendor operations and their
outcomes, and whatever the apps add (billing: notices, Digital River events, refunds).

Each source is read in a fixed number of queries and gives at most `limit` entries, newest first;
the merge keeps the newest `limit`. Apps add a source with `@entry_source` (in a module imported at
start-up, e.g. their dashboard reads); an app whose source shows some audit actions in its own words
claims them, so they are not listed twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet, prefetch_related_objects

from core import audit, operations
from core.actor import Actor
from core.models import AuditEvent, Operation, OperationState
from dashboard import registry as dash
from partner import selectors
from partner.models import Customer, Subaccount

PAGE_SIZE = 25
MAX_PAGES = 40  # an older page costs the rows of every newer one; past this, the whole history
WHOLE_HISTORY = PAGE_SIZE * MAX_PAGES

# What each kind of entry is called on the page (and its rank among entries of the same moment).
KINDS = {
    "change": "Change",
    "operation": "Vendor operation",
    "notice": "Notice",
    "webhook": "Digital River event",
    "refund": "Refund",
}
_RANK = {kind: rank for rank, kind in enumerate(KINDS)}


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the customer's timeline.

    `tone` is one of the dashboard's badge tones (active, pending, failed, cancelled, unknown,
    plain); `event` is set for an audit event, which the template shows with its changes.
    """

    when: datetime
    kind: str
    title: str
    subject: str = ""
    lines: tuple[str, ...] = ()
    tone: str = ""
    state: str = ""
    who: str = ""
    face: str = ""
    note: str = ""
    url: str = ""
    pk: int = 0
    event: AuditEvent | None = None

    @property
    def kind_label(self) -> str:
        return KINDS.get(self.kind, self.kind)

    def sort_key(self):
        return (self.when, -_RANK.get(self.kind, 99), self.pk)


_sources: list[Callable] = []
_claimed: set[str] = set()


def entry_source(*, claims: Iterable[str] = ()):
    """Decorate `(actor, customer, limit) -> list[TimelineEntry]` (newest first, at most `limit`, a
    fixed number of queries, scoped to the actor): more entries for the customer's timeline.
    `claims`: audit actions this source shows itself (left out of the audit entries)."""

    def decorate(func):
        if func not in _sources:
            _sources.append(func)
        _claimed.update(claims)
        return func

    return decorate


def owned_by(customers: QuerySet[Customer]) -> list[QuerySet]:
    """The customers and everything they own, as querysets: subaccounts and every app's
    timeline source (contracts, zones, add-ons, billing subscriptions, checkouts...)."""
    return [
        customers,
        Subaccount.objects.filter(customer__in=customers),
        *(source(customers) for source in dash.registry.timeline_sources),
    ]


def operations_on_many(querysets: Iterable[QuerySet]) -> QuerySet[Operation]:
    """The vendor operations on the objects of several querysets (of any models), in one query."""
    combined = None
    for qs in querysets:
        ops = operations.on_objects(qs)
        combined = ops if combined is None else combined | ops
    return combined if combined is not None else Operation.objects.none()


def change_entry(event: AuditEvent) -> TimelineEntry:
    return TimelineEntry(
        when=event.created_at,
        kind="change",
        title=audit.action_label(event.action),
        subject=event.object_repr,
        who=event.actor_label,
        face=event.get_face_display(),
        note=event.note,
        pk=event.pk,
        event=event,
    )


OPERATION_TONES = {
    OperationState.SUCCEEDED: "active",
    OperationState.FAILED: "failed",
    OperationState.PENDING: "pending",
}


def attempt_line(operation: Operation) -> str:
    """One vendor call's outcome: done, given up, retrying or in progress."""
    attempts = f"{operation.attempts} attempt{'s' if operation.attempts != 1 else ''}"
    if operation.state == OperationState.SUCCEEDED:
        when = f" on {operation.finished_at:%d %b %Y, %H:%M:%S}" if operation.finished_at else ""
        return f"Done{when} after {attempts}."
    if operation.state == OperationState.FAILED:
        return f"Gave up after {attempts}."
    if operation.last_error_code:
        return f"Attempt {operation.attempts} failed; retrying."
    return "In progress."


def operation_entry(operation: Operation, names: dict[tuple[int, str], str]) -> TimelineEntry:
    """A vendor operation with its outcome (the vendor's error when it gave up); a multi-step
    change with each of its steps."""
    lines = operations.describe_steps(operation) if operation.is_change else [attempt_line(operation)]
    key = (operation.content_type_id, operation.object_id)
    subject = names.get(key) or f"{operation.content_type.name} #{operation.object_id}"
    requested_by = operation.requested_by
    return TimelineEntry(
        when=operation.created_at,
        kind="operation",
        title=operation.label,
        subject=subject,
        lines=tuple(lines),
        tone=OPERATION_TONES.get(operation.state, "plain"),
        state=operation.get_state_display(),
        who=(requested_by.get_full_name() or requested_by.get_username()) if requested_by else "System",
        face=operation.get_face_display(),
        note=operation.last_error,
        pk=operation.pk,
    )


def customer_timeline(actor: Actor, customer: Customer, *, limit: int = PAGE_SIZE) -> list[TimelineEntry]:
    """The customer's newest `limit` timeline entries of every kind, newest first, within the actor's
    scope (another partner's customer, or one outside a member's limits, has none)."""
    customers = selectors.customers_for(actor).filter(pk=customer.pk)
    events = list(
        selectors.activity_for(actor, customers, dash.registry.timeline_sources)
        .exclude(action__in=sorted(_claimed))
        .order_by("-created_at", "-id")[:limit]
    )
    ops = list(
        operations_on_many(owned_by(customers))
        .filter(parent__isnull=True)  # a change's steps are shown inside it
        .select_related("content_type", "requested_by")
        .order_by("-created_at", "-id")[:limit]
    )
    prefetch_related_objects([o for o in ops if o.is_change], "steps")  # a change shows its steps
    names = {(e.content_type_id, e.object_id): e.object_repr for e in reversed(events)}
    entries = [change_entry(e) for e in events] + [operation_entry(o, names) for o in ops]
    for source in _sources:
        entries.extend(source(actor, customer, limit))
    entries.sort(key=TimelineEntry.sort_key, reverse=True)
    return entries[:limit]


@dataclass(frozen=True)
class TimelinePage:
    entries: list[TimelineEntry]
    number: int  # 0: the whole history
    has_older: bool

    @property
    def has_newer(self) -> bool:
        return self.number > 1


def timeline_page(actor: Actor, customer: Customer, page: str | None) -> TimelinePage:
    """One page of the timeline (`?history=2`, ...), or the whole history (`?history=all`, capped)."""
    if page == "all":
        entries = customer_timeline(actor, customer, limit=WHOLE_HISTORY + 1)
        return TimelinePage(entries[:WHOLE_HISTORY], 0, len(entries) > WHOLE_HISTORY)
    try:
        number = min(max(int(page or 1), 1), MAX_PAGES)
    except ValueError:
        number = 1
    entries = customer_timeline(actor, customer, limit=number * PAGE_SIZE + 1)
    return TimelinePage(
        entries[(number - 1) * PAGE_SIZE : number * PAGE_SIZE], number, len(entries) > number * PAGE_SIZE
    )
