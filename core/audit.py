"""Writing the audit trail. Services call `record` inside their transaction; secrets never enter it."""

from __future__ import annotations

import json
from functools import partial

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models.functions import Cast

from core.actor import Actor
from core.fields import EncryptedSecretField
from core.models import AuditEvent

SECRET_PLACEHOLDER = "[secret]"

# A person's words for each audit action, filled by the apps at start-up (their dashboard.py).
ACTION_LABELS: dict[str, str] = {}


def snapshot(obj: models.Model, fields: list[str] | None = None) -> dict:
    """The JSON-safe values of a model's concrete fields; a secret field only says whether it is set."""
    values = {}
    for field in obj._meta.concrete_fields:
        if fields is not None and field.name not in fields:
            continue
        value = getattr(obj, field.attname)
        if isinstance(field, EncryptedSecretField):
            value = SECRET_PLACEHOLDER if value else None
        values[field.name] = value
    return json.loads(json.dumps(values, cls=DjangoJSONEncoder))


def diff(before: dict, after: dict) -> dict:
    """Only the changed fields, as {field: [before, after]}."""
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value or (value == SECRET_PLACEHOLDER and name in before)
    }


def event(
    actor: Actor,
    action: str,
    obj: models.Model,
    *,
    partner_id: int | None,
    before: dict | None = None,
    after: dict | None = None,
    changes: dict | None = None,
    note: str = "",
) -> AuditEvent:
    """One audit event for `obj`, not saved yet: `record` saves one, `record_many` saves several."""
    if changes is None:
        changes = diff(before or {}, after if after is not None else snapshot(obj))
    return AuditEvent(
        actor=actor.user,
        actor_label=actor.label,
        face=actor.face,
        partner_id=partner_id,
        # Cached per process by ContentType's manager: no query after the first of each model.
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
        object_repr=str(obj)[:200],
        action=action,
        changes=changes,
        note=note,
    )


def record(actor: Actor, action: str, obj: models.Model, **details) -> AuditEvent:
    """Write one audit event for `obj` (`details` as `event` takes them: partner_id, before, after,
    changes, note); call it inside the service's transaction."""
    [recorded] = record_many([event(actor, action, obj, **details)])
    return recorded


def record_many(events: list[AuditEvent]) -> list[AuditEvent]:
    """Write the audit events built by `event` in one INSERT (a batch of changes made at once, e.g.
    a renewal run); call it inside the service's transaction."""
    return AuditEvent.objects.bulk_create(events) if events else []


def events_for(obj: models.Model):
    """The audit trail of one object, newest first."""
    return AuditEvent.objects.filter(
        content_type=ContentType.objects.get_for_model(obj, for_concrete_model=False),
        object_id=str(obj.pk),
    ).select_related("actor")


def events_for_many(querysets) -> models.QuerySet[AuditEvent]:
    """The audit trail of every object of several querysets (of any models), newest first, in one query."""
    condition = models.Q(pk__in=[])
    for qs in querysets:
        content_type = ContentType.objects.get_for_model(qs.model, for_concrete_model=False)
        ids = qs.order_by().annotate(_audit_id=Cast("pk", models.CharField())).values("_audit_id")
        condition |= models.Q(content_type=content_type, object_id__in=ids)
    return AuditEvent.objects.filter(condition).select_related("actor")


def field_labels(model: type[models.Model] | None) -> dict[str, str]:
    """Each field's verbose name by field name, to show an audit event's changes in words."""
    if model is None:
        return {}
    return {f.name: str(f.verbose_name) for f in model._meta.get_fields() if hasattr(f, "verbose_name")}


def change_lines(event: AuditEvent) -> list[str]:
    """An audit event's changes for support staff: every field, one "field: before → after" line each."""
    model = ContentType.objects.get_for_id(event.content_type_id).model_class()  # cached: no query
    labels = field_labels(model)
    # In the model's field order: PostgreSQL's jsonb keeps its own key order, SQLite the written one.
    order = {name: index for index, name in enumerate(labels)}
    changes = dict(sorted((event.changes or {}).items(), key=lambda item: order.get(item[0], len(order))))
    return lines_of_changes(changes, labels, full=True)


# Fields of an audit event's changes that say nothing to a reseller (bookkeeping of retries, syncs).
QUIET_FIELDS = {
    "id",
    "partner",
    "customer",
    "subaccount",
    "reference",
    "drift",
    "updated_at",
    "created_at",
    "claimed_until",
    "next_attempt_at",
    "last_attempt_at",
    "attempts",
    "vendor_response",
    "vendor_view",
    "synced_at",
    "settings_read_at",
}


def action_label(action: str) -> str:
    """A person's words for an audit action: the registered label, else the code made readable."""
    if action in ACTION_LABELS:
        return ACTION_LABELS[action]
    subject, _, verb = action.partition(".")
    return f"{subject.replace('_', ' ').capitalize()} {verb.replace('_', ' ')}".strip()


def shown(value, *, empty: str = "—", pair: str = "{}: {}", sort: bool = False, cut: int = 19) -> str:
    """A stored value as a person reads it: blank as a dash, yes/no, a list or dict joined (`empty`
    when it has nothing, a dict's items as `pair`, sorted by key with `sort`), an ISO timestamp to
    its first `cut` characters with a space for the T."""
    if value is None or value == "":
        return "—"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, list | dict):
        again = partial(shown, empty=empty, pair=pair, sort=sort, cut=cut)
        if isinstance(value, list):
            return ", ".join(again(v) for v in value) or empty
        items = sorted(value.items()) if sort else value.items()
        return ", ".join(pair.format(k, again(v)) for k, v in items) or empty
    text = str(value)
    return (
        text[:cut].replace("T", " ") if len(text) >= 19 and text[4:5] == "-" and text[10:11] == "T" else text
    )


def lines_of_changes(changes: dict, labels: dict[str, str] | None = None, *, full: bool = False) -> list[str]:
    """An audit event's changes as short "field: before → after" lines, one per field, named by
    `labels` (else the code name in words); bookkeeping and a new object's values left out unless
    `full` (support staff see every field)."""
    lines = []
    pairs = [v for v in (changes or {}).values() if isinstance(v, list | tuple) and len(v) == 2]
    if not full and len(pairs) > 4 and all(before is None for before, _ in pairs):
        return []  # a whole new object: the action says it all
    for name, values in (changes or {}).items():
        quiet = name == "updated_at" if full else name in QUIET_FIELDS  # the event has its own time
        if quiet or not isinstance(values, list | tuple) or len(values) != 2:
            continue
        before, after = values
        if before == after:
            continue  # e.g. a secret re-encrypted: "[secret] → [secret]" tells nothing
        label = (labels or {}).get(name) or name.replace("_", " ")
        lines.append(
            f"{label}: {shown(after)}" if before is None else f"{label}: {shown(before)} → {shown(after)}"
        )
    return lines
