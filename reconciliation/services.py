"""Reconciliation services: not-billed marks and runs (the actions on a finding: `actions`).

Every write needs the billing right (`Can.MANAGE_BILLING`; staff: its Django permission) and is
audited; the mark of a direct paid vendor change is recorded with the right to manage that service
(`note_not_billed`, on `subscriptions.signals.unbilled_service_started`).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from billing.services import cancellation
from core import audit
from core.actor import Actor, Face
from core.error_codes import CoreErrorCode
from core.errors import RuleViolation, ValidationFailed
from core.tasks import enqueue_on_commit
from partner.access import Can, require
from partner.models import Partner
from reconciliation import rules
from reconciliation.error_codes import ReconciliationErrorCode
from reconciliation.models import (
    NotBilled,
    Run,
    RunState,
)

RUN_TASK = "reconciliation.tasks.run_task"
# A run reads every service of a partner: it may take longer than a single vendor call.
RUN_TIMEOUT_SECONDS = 600
# A run still "queued" or "running" after this long is taken for dead: a new one may start.
STALE_RUN = timedelta(hours=1)


# --- Not-billed marks -----------------------------------------------------------------------------


def reason_given(reason: str | None) -> str:
    cleaned = " ".join((reason or "").split())
    if not cleaned:
        raise ValidationFailed(
            "Say why: the reason is recorded and shown with the mark.",
            code=CoreErrorCode.REASON_REQUIRED,
            fields={"reason": "Required."},
        )
    return cleaned


# The right to manage each kind of service: whoever makes a paid change to it directly has it anyway.
SERVICE_RIGHTS = {"acme": Can.MANAGE_SERVICES, "zone": Can.MANAGE_CLOUDFLARE, "addon": Can.MANAGE_CLOUDFLARE}


def unbilled_service_started(sender, target, reason: str, actor: Actor, **kwargs) -> None:
    """subscriptions.signals.unbilled_service_started: a direct paid vendor change, on any face,
    keeps the reason it is not billed (inside the change's transaction: a refusal undoes it)."""
    note_not_billed(actor, target, reason)


def note_not_billed(actor: Actor, target, reason: str) -> NotBilled:
    """A paid vendor change made with no billing change: the service keeps the reason it is not
    billed, as a not-billed mark with the right to manage that service (the person making the
    change needs it anyway). A service already marked keeps its mark; the new reason is audited."""
    live = NotBilled.objects.filter(
        target_type=ContentType.objects.get_for_model(target),
        target_id=str(target.pk),
        unmarked_at__isnull=True,
    ).first()
    right = SERVICE_RIGHTS.get(rules.service_kind(target), Can.MANAGE_BILLING)
    if live is None:
        return mark_not_billed(actor, target, reason, right=right)
    require(actor, right, partner=target.partner, customer=target.customer)
    audit.record(
        actor,
        "reconciliation.not_billed_reason_given",
        live,
        partner_id=live.partner_id,
        changes={},
        note=reason_given(reason),
    )
    return live


def mark_not_billed(actor: Actor, target, reason: str, *, right: Can = Can.MANAGE_BILLING) -> NotBilled:
    """Mark a paid vendor service (ACME contract, zone, add-on) as deliberately not billed, with a
    reason (required), audited; refused for what a live billing subscription already provides.

    Marking an existing service takes the billing right; a direct paid change records its mark
    with the right to manage that service (`note_not_billed`)."""
    if rules.service_kind(target) == "":
        raise ValidationFailed(
            "Only an ACME contract, a Cloudflare zone or a Cloudflare add-on can be marked not billed.",
            code=ReconciliationErrorCode.NOT_A_SERVICE,
            fields={"target": "An ACME contract, zone or add-on."},
        )
    require(actor, right, partner=target.partner, customer=target.customer)
    reason = reason_given(reason)
    billed = cancellation.billed_subscription_of(target)
    if billed is not None:
        raise RuleViolation(
            f"{target} is billed ({billed}); end that billing instead of marking it not billed.",
            code=ReconciliationErrorCode.ALREADY_BILLED,
        )
    content_type = ContentType.objects.get_for_model(target)
    with transaction.atomic():
        live = NotBilled.objects.select_for_update().filter(
            target_type=content_type, target_id=str(target.pk), unmarked_at__isnull=True
        )
        if live.exists():
            raise RuleViolation(
                f"{target} is already marked not billed.", code=ReconciliationErrorCode.ALREADY_MARKED
            )
        mark = NotBilled.objects.create(
            partner=target.partner,
            customer=target.customer,
            target_type=content_type,
            target_id=str(target.pk),
            reason=reason,
            marked_by=actor.user,
        )
        audit.record(
            actor,
            "reconciliation.marked_not_billed",
            mark,
            partner_id=mark.partner_id,
            changes={"target": [None, str(target)], "reason": [None, reason]},
        )
    return mark


def unmark(actor: Actor, mark: NotBilled) -> NotBilled:
    """Take a not-billed mark back (audited): the next run reports the service again if nothing bills it."""
    require(actor, Can.MANAGE_BILLING, partner=mark.partner, customer=mark.customer)
    with transaction.atomic():
        mark = NotBilled.objects.select_for_update().get(pk=mark.pk)
        if not mark.live:
            raise RuleViolation("This mark was already taken back.", code=ReconciliationErrorCode.NOT_MARKED)
        mark.unmarked_at, mark.unmarked_by = timezone.now(), actor.user
        mark.save()
        audit.record(
            actor,
            "reconciliation.unmarked",
            mark,
            partner_id=mark.partner_id,
            changes={"unmarked_at": [None, mark.unmarked_at.isoformat()]},
            note=mark.reason,
        )
    return mark


# --- Runs -----------------------------------------------------------------------------------------


def request_run(actor: Actor, partner: Partner) -> Run:
    """Queue a reconciliation of the partner (read-only at every vendor); one at a time per partner."""
    require(actor, Can.MANAGE_BILLING, partner=partner)
    with transaction.atomic():
        Partner.objects.select_for_update().filter(pk=partner.pk).first()
        busy = Run.objects.filter(
            partner=partner,
            state__in=[RunState.QUEUED, RunState.RUNNING],
            created_at__gte=timezone.now() - STALE_RUN,
        ).first()
        if busy is not None:
            raise RuleViolation(
                f"A reconciliation of {partner} is already {busy.get_state_display().lower()} "
                f"(#{busy.pk}); its findings appear when it finishes.",
                code=ReconciliationErrorCode.RUN_IN_PROGRESS,
            )
        run = Run.objects.create(partner=partner, requested_by=actor.user, face=actor.face)
        audit.record(actor, "reconciliation.run_requested", run, partner_id=partner.pk, changes={})
        enqueue_on_commit(RUN_TASK, run.pk, timeout=RUN_TIMEOUT_SECONDS)
    return run


def run_every_partner() -> int:
    """Scheduled (daily): queue a reconciliation of every partner that has customers."""
    queued = 0
    for partner in Partner.objects.filter(customers__isnull=False).distinct().order_by("pk"):
        try:
            request_run(Actor.system(Face.TASK), partner)
        except RuleViolation:
            continue  # one is already on its way
        queued += 1
    return queued
