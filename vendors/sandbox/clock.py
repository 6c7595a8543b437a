"""The sandbox clock: real time plus an offset that can only be moved forward (or reset)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone


def clock_offset() -> timedelta:
    """How far the sandbox clock is ahead of real time."""
    from vendors.sandbox.state import Clock

    seconds = Clock.objects.filter(pk=Clock.SINGLETON).values_list("offset_seconds", flat=True)
    return timedelta(seconds=seconds.first() or 0)


def sandbox_now() -> datetime:
    """'Now' as the emulated vendors see it: vendor timestamps and time rules use this."""
    return timezone.now() + clock_offset()


def advance_clock(delta: timedelta) -> datetime:
    """Move the sandbox clock forward by `delta`; returns the new sandbox now.

    The emulated vendors then act on what the new time makes due (Digital River's reminders and
    failed subscriptions, with their events delivered once this commits).
    """
    from vendors.sandbox.state import Clock

    if delta < timedelta(0):
        raise ValueError("The sandbox clock only moves forward; reset it to go back to real time.")
    with transaction.atomic():
        Clock.objects.get_or_create(pk=Clock.SINGLETON)
        Clock.objects.filter(pk=Clock.SINGLETON).update(
            offset_seconds=F("offset_seconds") + delta.total_seconds(), updated_at=timezone.now()
        )
        now = sandbox_now()
        time_moved(now)
    return now


def time_moved(now: datetime) -> dict[str, int]:
    """Let the emulated vendors act on what is due at `now`; what happened, by kind."""
    from vendors.sandbox.digitalriver.lifecycle import run_due

    return run_due(now)


def reset_clock() -> datetime:
    """Put the sandbox clock back on real time."""
    from vendors.sandbox.state import Clock

    Clock.objects.update_or_create(
        pk=Clock.SINGLETON, defaults={"offset_seconds": 0, "updated_at": timezone.now()}
    )
    return sandbox_now()
