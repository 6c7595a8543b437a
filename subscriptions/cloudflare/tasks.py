"""django-q2 entry points for Cloudflare (config/schedules.py runs them)."""

from subscriptions.cloudflare import services


def sync_cloudflare_task() -> int:
    """Scheduled: queue a sync of every live Cloudflare zone and of every account with add-ons."""
    return services.queue_scheduled_syncs()
