"""Rules both vendors' services share (each vendor's own are in acme/rules.py and cloudflare/rules.py)."""

from __future__ import annotations

from core.errors import RuleViolation
from subscriptions.error_codes import SubscriptionErrorCode


def require_at_vendor(record, what: str, vendor: str) -> None:
    """Rule: a read at the vendor needs the record to exist there (its vendor id); refused before any call."""
    if not record.vendor_id:
        raise RuleViolation(
            f"The {what} does not exist at {vendor} yet.", code=SubscriptionErrorCode.NOT_AT_VENDOR
        )
