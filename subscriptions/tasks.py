"""django-q2 entry points of the subscriptions app."""

from subscriptions.services import acme


def sync_acme_contracts_task() -> int:
    """Scheduled: queue a sync of every live ACME contract."""
    return acme.queue_scheduled_syncs()
