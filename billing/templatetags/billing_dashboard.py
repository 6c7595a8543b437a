"""Template filters of the dashboard's billing pages: billing states in the dashboard's badge tones."""

from django import template

register = template.Library()

TONES = {
    # subscriptions
    "active": "active",
    "activeFree": "active",
    "activePendingInvoice": "failed",
    "draft": "pending",
    "failed": "failed",
    "lapsed": "failed",
    "cancelled": "cancelled",
    "ended": "cancelled",
    # checkouts
    "pending": "pending",
    "open": "pending",
    "ordered": "active",
    "paid": "active",
    # renewals
    "scheduled": "plain",
    "ends": "renewal_stopped",
    "due": "pending",
    "held": "failed",
    "ordering": "pending",
    "captured": "active",
    "payment_failed": "failed",
    # provisioning and notices
    "awaiting_payment": "pending",
    "done": "active",
    "not_needed": "plain",
    "delivered": "active",
    "error": "failed",
    "missing": "unknown",
    "upcoming": "plain",
}


@register.filter
def tone(state) -> str:
    """A billing state as one of the dashboard's badge tones."""
    return TONES.get(str(state), "plain")
