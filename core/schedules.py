"""Keeps django-q2's Schedule table in line with config.schedules after every migrate."""

from django_q.models import Schedule


def ensure_schedules(**kwargs):
    """Create or update each schedule in config.schedules.SCHEDULES (idempotent)."""
    from config.schedules import SCHEDULES

    for name, func, minutes in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": minutes,
                "repeats": -1,
            },
        )
