"""django-q2 entry points of the reconciliation. Arguments are primary keys only."""

from reconciliation import runs, services


def run_task(run_id: int) -> None:
    """Perform one queued reconciliation run (read-only at every vendor)."""
    runs.perform(run_id)


def reconcile_every_partner_task() -> int:
    """Scheduled, daily: queue a reconciliation of every partner."""
    return services.run_every_partner()
