"""A reconciliation run: compare what was read (`reconciliation.reading`) by the rules
(`reconciliation.rules`) and record the findings.

Nothing at a vendor or in billing changes during a run. A finding seen again is the same row; the
findings that depended on a failed vendor read, or on an object with a vendor operation in flight,
are left as they were (neither cleared nor reopened).
"""

from __future__ import annotations

import logging

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from core import audit, states
from core.actor import Actor, Face
from reconciliation import rules
from reconciliation.models import FINDING_MOVES, RUN_MOVES, Finding, FindingState, Resolution, Run, RunState
from reconciliation.reading import Reading, object_key, read_partner

logger = logging.getLogger(__name__)


# --- Comparing ----------------------------------------------------------------------------------


def compare(reading: Reading) -> list[rules.Mismatch]:
    """Every rule over what was read: billing against the services, the services against billing,
    and our records against the vendors' answers."""
    found: list[rules.Mismatch] = []
    provided: set[tuple[int, str]] = set()
    for subscription in reading.live:
        target = reading.object_of(subscription)
        key = object_key(target)
        if key is not None:
            provided.add(key)
        if (
            subscription.has_replacement
            or subscription.pk in reading.busy_subscriptions
            or key in reading.busy
        ):
            continue  # being replaced or changed: judged once that settles
        kind = rules.service_kind(target)
        if subscription.ends_at_period_end:
            # No further charge: what was paid runs out; only a contract still renewing disagrees.
            mismatch = rules.acme_renewal_mismatch(subscription, target) if kind == "acme" else None
            if mismatch is not None:
                found.append(mismatch)
            continue
        mismatch = rules.billed_not_provided(subscription, target)
        if mismatch is None and target is not None:
            if kind in ("zone", "addon"):
                mismatch = rules.plan_mismatch(subscription, target) or rules.price_mismatch(
                    subscription, target, reading.catalog.plans.get(target.rate_plan_id)
                )
            elif kind == "acme":
                mismatch = rules.acme_renewal_mismatch(subscription, target)
        if mismatch is not None:
            found.append(mismatch)
    for subscription in reading.compared_at_dr:
        view = reading.dr_views.get(subscription.pk)
        if view is not None:
            mismatch = rules.digital_river_state_mismatch(subscription, view)
            if mismatch is not None:
                found.append(mismatch)
    for key, obj in reading.objects.items():
        if key in reading.busy:
            continue
        mismatch = rules.provided_not_billed(
            obj,
            billed=key in provided,
            marked=key in reading.marked,
            billing_pending=key in reading.billing_pending,
        )
        if mismatch is not None:
            found.append(mismatch)
        service = reading.services.get(key)
        if service is not None:
            mismatch = rules.vendor_state_mismatch(service)
            if mismatch is not None:
                found.append(mismatch)
    for account, view in reading.unknown_addons:
        found.append(rules.unknown_addon(account, view))
    return found


# --- Recording ----------------------------------------------------------------------------------


def _unsure(finding: Finding, reading: Reading) -> bool:
    """A finding whose objects could not be read or are being changed is neither cleared nor reopened."""
    target = (finding.target_type_id, finding.target_id) if finding.target_type_id else None
    return (
        finding.subscription_id in reading.unsure_subscriptions
        or finding.subscription_id in reading.busy_subscriptions
        or (target is not None and (target in reading.unsure or target in reading.busy))
    )


def record(run: Run, reading: Reading, found: list[rules.Mismatch]) -> Run:
    """Write the run's findings: new ones, the same row for one seen again (reopened if it had been
    resolved; a dismissed one stays dismissed), and open ones no longer found are cleared."""
    actor, now = Actor.system(Face.TASK), timezone.now()
    by_key: dict[str, rules.Mismatch] = {}
    for mismatch in found:
        by_key.setdefault(mismatch.key, mismatch)
    counts: dict[str, int] = {}
    new = reopened = cleared = 0
    with transaction.atomic():
        existing = {
            finding.key: finding
            for finding in Finding.objects.select_for_update().filter(
                Q(key__in=list(by_key)) | Q(partner=run.partner, state=FindingState.OPEN)
            )
        }
        for key, mismatch in by_key.items():
            counts[mismatch.kind] = counts.get(mismatch.kind, 0) + 1
            finding = existing.get(key)
            if finding is None:
                Finding.objects.create(
                    partner=run.partner,
                    key=key,
                    first_seen_at=now,
                    last_seen_at=now,
                    first_run=run,
                    last_run=run,
                    **_fields(mismatch),
                )
                new += 1
                continue
            was = finding.state
            for name, value in _fields(mismatch).items():
                setattr(finding, name, value)
            finding.last_seen_at, finding.last_run = now, run
            finding.times_seen += 1
            if was == FindingState.RESOLVED:
                resolution = finding.resolution
                states.move(finding, FindingState.OPEN, FINDING_MOVES, save=False)
                finding.resolution, finding.resolution_note = "", ""
                finding.resolved_by, finding.resolved_at = None, None
                reopened += 1
                audit.record(
                    actor,
                    "reconciliation.finding_reopened",
                    finding,
                    partner_id=finding.partner_id,
                    changes={"state": [was, FindingState.OPEN], "resolution": [resolution, ""]},
                    note=f"Found again by run #{run.pk}.",
                )
            finding.save()
        for finding in existing.values():
            if finding.state != FindingState.OPEN or finding.key in by_key or _unsure(finding, reading):
                continue
            states.move(finding, FindingState.RESOLVED, FINDING_MOVES, save=False)
            finding.resolution, finding.resolved_at = Resolution.CLEARED, now
            finding.resolution_note = f"No longer found by run #{run.pk}."
            finding.save()
            cleared += 1
            audit.record(
                actor,
                "reconciliation.finding_cleared",
                finding,
                partner_id=finding.partner_id,
                changes={"state": [FindingState.OPEN, FindingState.RESOLVED]},
                note=finding.resolution_note,
            )
        states.move(run, RunState.FINISHED, RUN_MOVES, save=False)
        run.finished_at = now
        run.checked, run.counts, run.errors = reading.checked, counts, reading.errors
        run.new_count, run.reopened_count, run.cleared_count = new, reopened, cleared
        run.save()
        audit.record(
            actor,
            "reconciliation.run_finished",
            run,
            partner_id=run.partner_id,
            changes={
                "found": [None, sum(counts.values())],
                "new": [None, new],
                "reopened": [None, reopened],
                "cleared": [None, cleared],
                "vendor_errors": [None, len(reading.errors)],
            },
        )
    return run


def _fields(mismatch: rules.Mismatch) -> dict:
    target_type = ContentType.objects.get_for_model(mismatch.target) if mismatch.target is not None else None
    return {
        "customer_id": mismatch.customer_id,
        "kind": mismatch.kind,
        "rule": mismatch.rule,
        "subscription": mismatch.subscription,
        "target_type": target_type,
        "target_id": str(mismatch.target.pk) if mismatch.target is not None else "",
        "vendor_ref": mismatch.vendor_ref,
        "summary": mismatch.summary[:300],
        "evidence": mismatch.evidence,
    }


def perform(run_id: int) -> Run | None:
    """Task side: run one queued reconciliation once; any failure is recorded on the run, never raised."""
    claimed = states.move_all(
        Run.objects.filter(pk=run_id), RunState.RUNNING, RUN_MOVES, started_at=timezone.now()
    )
    if not claimed:
        return None
    run = Run.objects.select_related("partner").get(pk=run_id)
    reading = None
    try:
        reading = read_partner(run.partner)
        return record(run, reading, compare(reading))
    except Exception as error:  # a bug or an unreadable row: the run says so instead of vanishing
        logger.exception("reconciliation run %s failed", run_id)
        errors = [
            *(reading.errors if reading else []),
            {"vendor": "", "object": "", "code": type(error).__name__, "message": str(error)},
        ]
        states.move_all(
            Run.objects.filter(pk=run_id),
            RunState.FAILED,
            RUN_MOVES,
            finished_at=timezone.now(),
            errors=errors,
        )
        run.refresh_from_db()
        return run
