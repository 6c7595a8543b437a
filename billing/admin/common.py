"""What every billing admin page shares: the service form template and the state badges."""

from __future__ import annotations

from core.admin_tools import (
    state_badge,
)

SERVICE_FORM_TEMPLATE = "admin/service_form.html"
BILLING_BADGES = {
    "draft": "pending",
    "activePendingInvoice": "unknown",
    "lapsed": "failed",
    "ended": "cancelled",
    "ordered": "pending",
    "paid": "active",
    "open": "pending",
    "held": "unknown",
    "due": "pending",
    "ordering": "pending",
    "captured": "active",
    "processed": "active",
    "rejected": "failed",
    "ignored": "cancelled",
    "duplicate": "cancelled",
    "received": "pending",
    "done": "active",
    "awaiting_payment": "pending",
    "not_needed": "cancelled",
    "awaiting_customer": "pending",
    "refunded": "cancelled",
}


def badge(value: str, label: str) -> str:
    return state_badge(BILLING_BADGES.get(value, value), label)
