"""What the vendor side tells the rest of the product, without importing it (billing and
reconciliation listen), and what it asks billing.

`service_changed(sender=<model class>, target=<object>, change=<one of CHANGES>, actor=<Actor>)` is
sent inside the transaction that records the vendor's confirmation.
"""

from dataclasses import dataclass
from datetime import datetime

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

# `unbilled_service_started(sender=<model class>, target=<object>, reason=<str>, actor=<Actor>)` is
# sent inside the transaction of a direct paid vendor change (an ACME order, a zone upgrade, an
# add-on purchase, a change that costs more) that billing does not make: every paid vendor service
# is billed, or carries an explicit, audited reason why not (domain.md). Reconciliation records the
# reason as a not-billed mark; a receiver that raises a core.errors.DomainError refuses the change.
unbilled_service_started = Signal()


@dataclass(frozen=True)
class BillingTerms:
    """How billing provides a service: the product it is sold as and the end of the paid period."""

    product: str
    period_end: datetime | None


# `billing_terms(sender=<model class>, target=<object>)`: a receiver answers the BillingTerms of a
# service that billing provides, None otherwise (billing answers; subscriptions never imports it).
billing_terms = Signal()


def billing_terms_of(target) -> BillingTerms | None:
    """The terms billing provides `target` on, or None when nothing bills it."""
    answers = billing_terms.send(type(target), target=target)
    return next((terms for _receiver, terms in answers if terms is not None), None)
