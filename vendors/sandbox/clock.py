"""The sandbox clock: real time plus an offset that can only be moved forward (or reset)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone


def clock_offset() -> timedelta:
    """How far the sandbox clock is ahead of real time."""
    from vendors.sandbox.models import Clock

    seconds = Clock.objects.filter(pk=Clock.SINGLETON).values_list("offset_seconds", flat=True)
    return timedelta(seconds=seconds.first() or 0)


def sandbox_now() -> datetime:
    """'Now' as the emulated vendors see it: vendor timestamps and time rules use this."""
    return timezone.now() + clock_offset()


def advance_clock(delta: timedelta) -> datetime:
    """Move the sandbox clock forward by `delta`; returns the new sandbox now."""
    from vendors.sandbox.models import Clock

    if delta < timedelta(0):
        raise ValueError("The sandbox clock only moves forward; reset it to go back to real time.")
    Clock.objects.get_or_create(pk=Clock.SINGLETON)
    Clock.objects.filter(pk=Clock.SINGLETON).update(
        offset_seconds=F("offset_seconds") + delta.total_seconds(), updated_at=timezone.now()
    )
    return sandbox_now()


def reset_clock() -> datetime:
    """Put the sandbox clock back on real time."""
    from vendors.sandbox.models import Clock

    Clock.objects.update_or_create(
        pk=Clock.SINGLETON, defaults={"offset_seconds": 0, "updated_at": timezone.now()}
    )
    return sandbox_now()
