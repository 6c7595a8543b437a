"""django-q2 entry points of the subscriptions app."""

from subscriptions.services import acme, certificates, cloudflare


def sync_acme_contracts_task() -> int:
    """Scheduled: queue a sync of every live ACME contract."""
    return acme.queue_scheduled_syncs()


def sync_cloudflare_task() -> int:
    """Scheduled: queue a sync of every live Cloudflare zone and of every account with add-ons."""
    return cloudflare.queue_scheduled_syncs()


def refresh_certificates_task() -> int:
    """Scheduled: queue a certificate-list refresh of every live ACME contract."""
    return certificates.queue_scheduled_refreshes()
