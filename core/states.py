"""The one way a stateful model's state moves: by the transition table declared beside the model.

Each stateful model's models.py declares `<MODEL>_MOVES`, a `Moves` table from each state to the
states it may go to next. `move` moves one object (refusing what the table does not allow, and
recording the audit event when an actor is given); `move_all` moves a queryset in one conditional
UPDATE, for moves that race (two workers, a late webhook). Nothing else assigns a state field
(tests/core/test_states.py scans the source for it).

Staying in the current state is not a move: the table never refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from django.db import models
from django.utils import timezone

from core import db
from core.actor import Actor
from core.error_codes import CoreErrorCode
from core.errors import RuleViolation

Moves = Mapping[str, Set[str]]


def sources(moves: Moves, to: str) -> list[str]:
    """The other states from which the table allows a move to `to`."""
    return [state for state, nexts in moves.items() if to in nexts and state != to]


def allows(moves: Moves, current: str, to: str) -> bool:
    """Whether the table allows `current` to become `to`."""
    return current == to or to in moves.get(current, ())


def refuse_unless_allowed(obj: models.Model, to: str, moves: Moves, field: str = "state") -> None:
    """Refuse (RuleViolation `illegal_transition`) a move of `obj`'s state the table does not allow."""
    current = getattr(obj, field)
    if not allows(moves, current, to):
        choices = dict(obj._meta.get_field(field).flatchoices)
        raise RuleViolation(
            f"A {obj._meta.verbose_name} that is {str(choices.get(current, current)).lower()} "
            f"cannot become {str(choices.get(to, to)).lower()}.",
            code=CoreErrorCode.ILLEGAL_TRANSITION,
        )


def move(
    obj: models.Model,
    to: str,
    moves: Moves,
    *,
    field: str = "state",
    save: bool = True,
    actor: Actor | None = None,
    action: str = "",
    note: str = "",
    **fields,
) -> None:
    """Move `obj`'s state to `to` as the table allows, or refuse and change nothing.

    `fields` are other fields that change with the state, set and saved with it. `save=False`
    leaves saving to the caller, who writes the state with the rest of the row in one save (a
    worker's outcome: result, lease, finish time). With `actor`, the move is
    recorded as one audit event (`action`, default "<model>.<state>") with the fields it changed,
    inside the caller's transaction.
    """
    from core import audit  # core.audit imports core.models, which declares its tables with Moves

    refuse_unless_allowed(obj, to, moves, field)
    before = audit.snapshot(obj) if actor is not None else None
    for name, value in {field: to, **fields}.items():
        setattr(obj, name, value)
    if save:
        obj.save(update_fields=[field, *fields, *_auto_now_fields(type(obj))])
    if actor is not None:
        action = action or f"{obj._meta.model_name}.{to}"
        partner_id = getattr(obj, "partner_id", None)
        audit.record(actor, action, obj, partner_id=partner_id, before=before, note=note)


def move_all(queryset: models.QuerySet, to: str, moves: Moves, *, field: str = "state", **fields) -> list:
    """Move every object of `queryset` the table allows to `to` (with `fields`), in one conditional
    UPDATE; the others, and those already there, are left as they are. The UPDATE re-checks the
    state itself, so a row another worker moved meanwhile is not moved back; the pks returned are
    exactly the rows moved (where the database returns rows from an UPDATE; elsewhere those found
    movable just before)."""
    allowed = {f"{field}__in": sources(moves, to)}
    now = timezone.now()
    values = {field: to, **{name: now for name in _auto_now_fields(queryset.model)}, **fields}
    movable = queryset.filter(**allowed)
    if db.returns_rows(movable):
        return [row.pk for row in db.update_returning(movable, [queryset.model._meta.pk.name], **values)]
    moving = list(movable.values_list("pk", flat=True))
    if moving:
        queryset.model.objects.filter(pk__in=moving, **allowed).update(**values)
    return moving


def _auto_now_fields(model: type[models.Model]) -> list[str]:
    # save(update_fields=...) and update() skip auto_now fields unless named.
    return [f.name for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]
