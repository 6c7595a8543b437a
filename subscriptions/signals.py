"""What the vendor side tells the rest of the product, without importing it (billing listens).

`service_changed(sender=<model class>, target=<object>, change=<one of CHANGES>, actor=<Actor>)` is
sent inside the transaction that records the vendor's confirmation.
"""

from django.dispatch import Signal

CANCELLED = "cancelled"  # ended at the vendor now (an ACME cancel inside DigiCert's 30 days)
RENEWAL_STOPPED = "renewal_stopped"  # runs to the end of its term, then ends
RENEWAL_RESUMED = "renewal_resumed"
CHANGES = (CANCELLED, RENEWAL_STOPPED, RENEWAL_RESUMED)

service_changed = Signal()

# `change_requested(sender=<model class>, target=<object>, action=<str>, planned=<PlannedChange>,
# actor=<Actor>)` is sent before a zone plan change is recorded; a receiver refuses it by raising a
# core.errors.DomainError (billing refuses direct changes of a service it bills: they go through
# billing, by the agreement rule). Billing's own changes pass `billed=True` and skip it.
change_requested = Signal()
