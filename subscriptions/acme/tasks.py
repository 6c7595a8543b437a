"""django-q2 entry points for ACME contracts (config/schedules.py runs them)."""

from subscriptions.acme import certificates, services


def sync_acme_contracts_task() -> int:
    """Scheduled: queue a sync of every live ACME contract."""
    return services.queue_scheduled_syncs()


def refresh_certificates_task() -> int:
    """Scheduled: queue a certificate-list refresh of every live ACME contract."""
    return certificates.queue_scheduled_refreshes()
