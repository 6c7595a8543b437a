"""Payment sources: made by the customer's pages, saved to customers, attached to checkouts.

The rules of Digital River's "Managing sources" page:
- only a reusable source may be saved to a customer (409 nonreusable_source), and only a
  chargeable one (409 source_not_chargeable on sourceId); the first source saved becomes the
  customer's defaultSourceId;
- removing a source from its customer (DELETE /customers/{id}/sources/{id}, 204) cancels it:
  saving it again is 409 source_not_chargeable, attaching it to a checkout 409
  source_status_invalid_for_session;
- a checkout holds one primary source; attaching another replaces it; a checkout already made
  into an order cannot change (409 session_update_not_allowed);
- a source saved to one customer cannot be charged in another customer's checkout: POST /orders
  answers 409 source_in_use;
- a single-use (non-reusable) source is consumed by its first charge.

Cards run to the end of their expiration month; one that ran out cannot be charged.

Sandbox choices where Digital River is SILENT: saving a source that is saved to another customer
is 409 source_in_use (the message Digital River gives at order time); an unknown source is
404 not_found on the path, 400 invalid_parameter in a body; the sandbox's card sources are
reusable from the start (Digital River's Drop-in makes single-use sources that saving flips to
reusable: what merchant-initiated charges need, saved to the customer, is enforced either way);
when the default source is removed, the newest other saved source becomes the default.
"""

from __future__ import annotations

from datetime import datetime

from dateutil.relativedelta import relativedelta

from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.digitalriver.errors import DRError, conflict, invalid, not_found
from vendors.sandbox.digitalriver.models import DRCheckout, DRCustomer, DROrder, DRSource

DEFAULT_BRAND = "Visa"
DEFAULT_LAST_FOUR = "1111"
DEFAULT_YEARS_VALID = 3
BRANDS = ("Visa", "MasterCard", "American Express", "Discover", "JCB", "Diners Club")


def default_card(now: datetime | None = None) -> dict:
    """The card the pay pages offer: Visa 1111, expiring in three years (sandbox time)."""
    expires = (now or sandbox_now()) + relativedelta(years=DEFAULT_YEARS_VALID)
    return {
        "brand": DEFAULT_BRAND,
        "lastFourDigits": DEFAULT_LAST_FOUR,
        "expirationMonth": expires.month,
        "expirationYear": expires.year,
    }


def read_card(brand, last_four, month, year) -> dict:
    """A card from a form (strings or numbers); ValueError with a message for the customer."""
    brand = (brand or "").strip() or DEFAULT_BRAND
    last_four = (str(last_four or "")).strip() or DEFAULT_LAST_FOUR
    if len(last_four) != 4 or not last_four.isdigit():
        raise ValueError("The last four digits are four digits.")
    try:
        month, year = int(month), int(year)
    except (TypeError, ValueError):
        raise ValueError("The expiry is a month (1-12) and a four-digit year.") from None
    if not (1 <= month <= 12 and 1000 <= year <= 9999):
        raise ValueError("The expiry is a month (1-12) and a four-digit year.")
    return {"brand": brand, "lastFourDigits": last_four, "expirationMonth": month, "expirationYear": year}


def create_source(card: dict | None = None, *, reusable: bool = True, customer: DRCustomer | None = None):
    """A new chargeable creditCard source (saved to `customer` when given)."""
    now = sandbox_now()
    source = DRSource.objects.create(
        credit_card=card or default_card(now), reusable=reusable, created_at=now, updated_at=now
    )
    if customer is not None:
        save_to_customer(customer, source)
    return source


def expired(source: DRSource, when: datetime | None = None) -> bool:
    """Whether the card can no longer be charged at `when` (it runs to the end of its month)."""
    return card_expired(source.credit_card or {}, when)


def card_expired(card: dict, when: datetime | None = None) -> bool:
    month, year = card.get("expirationMonth"), card.get("expirationYear")
    if not (month and year):
        return False
    when = when or sandbox_now()
    return (int(year), int(month)) < (when.year, when.month)


def find(source_id: str, *, parameter: str | None = None) -> DRSource:
    """The source, or 404 on a path (`parameter` None) / 400 invalid_parameter in a body."""
    source = DRSource.objects.select_related("customer").filter(pk=str(source_id)).first()
    if source is None:
        if parameter:
            raise invalid(parameter, f"Source {source_id} not found.")
        raise not_found("Source", source_id, "sourceId")
    return source


def check_savable(source: DRSource, customer_id: str) -> None:
    """Refuse a source the customer cannot keep: single-use, not chargeable, or another customer's."""
    if not source.reusable:
        raise conflict("nonreusable_source", "Only a reusable source may be attached to a customer.")
    if source.state != DRSource.State.CHARGEABLE:
        raise conflict("source_not_chargeable", f"Source '{source.pk}' is not chargeable.", "sourceId")
    if source.customer_id and source.customer_id != customer_id:
        raise conflict(
            "source_in_use", f"Source '{source.pk}' is attached to a different customer.", "sourceId"
        )


def save_to_customer(customer: DRCustomer, source: DRSource) -> DRSource:
    """POST /customers/{id}/sources/{sourceId}; again for the same customer: no change."""
    check_savable(source, customer.pk)
    now = sandbox_now()
    if source.customer_id != customer.pk:
        source.customer, source.updated_at = customer, now
        source.save(update_fields=["customer", "updated_at"])
    if customer.default_source_id is None:
        customer.default_source, customer.updated_at = source, now
        customer.save(update_fields=["default_source", "updated_at"])
    return source


def remove_from_customer(customer: DRCustomer, source: DRSource) -> None:
    """DELETE /customers/{id}/sources/{sourceId}: the source is cancelled for good."""
    if source.customer_id != customer.pk:
        raise not_found("Source", f"{source.pk} of customer {customer.pk}", "sourceId")
    now = sandbox_now()
    source.state, source.updated_at = DRSource.State.CANCELLED, now
    source.save(update_fields=["state", "updated_at"])
    if customer.default_source_id == source.pk:
        customer.default_source = (
            customer.sources.filter(state=DRSource.State.CHARGEABLE).exclude(pk=source.pk).first()
        )
        customer.updated_at = now
        customer.save(update_fields=["default_source", "updated_at"])


def attach_to_checkout(checkout: DRCheckout, source: DRSource) -> DRCheckout:
    """The checkout's primary source (replacing any): POST /checkouts/{id}/sources/{sourceId}."""
    if DROrder.objects.filter(checkout=checkout).exists():
        raise conflict(
            "session_update_not_allowed", "Updating source is not allowed for the current session state."
        )
    check_attachable(source)
    checkout.source, checkout.updated_at = source, sandbox_now()
    checkout.save(update_fields=["source", "updated_at"])
    return checkout


def check_attachable(source: DRSource) -> None:
    if source.state != DRSource.State.CHARGEABLE:
        raise conflict("source_status_invalid_for_session", "The source status is invalid for this session.")


def detach_from_checkout(checkout: DRCheckout, source: DRSource) -> None:
    """DELETE /checkouts/{id}/sources/{sourceId}; a single-use source is cancelled by it."""
    if checkout.source_id != source.pk:
        raise not_found("Source", f"{source.pk} of checkout {checkout.pk}", "sourceId")
    if DROrder.objects.filter(checkout=checkout).exists():
        raise conflict(
            "session_update_not_allowed", "Updating source is not allowed for the current session state."
        )
    checkout.source, checkout.updated_at = None, sandbox_now()
    checkout.save(update_fields=["source", "updated_at"])
    if not source.reusable:
        source.state = DRSource.State.CANCELLED
        source.save(update_fields=["state"])


# --- Sandbox controls ------------------------------------------------------------------------------


def fail_charges(source: DRSource, times: int = 1, stage: str = DRSource.Stage.AUTHORIZATION) -> DRSource:
    """Sandbox control: the source's next `times` charges fail at authorization or capture.

    Authorization: POST /orders (and the pay page) answer 409 failed-request, and an invoice
    charge of the subscription service is declined. Capture: the order is made, the capture of
    its fulfilment fails (order.charge.capture.failed); an invoice charge is declined too.
    `times` 0 clears the control.
    """
    if times < 0:
        raise ValueError("times must be 0 or more.")
    if stage not in DRSource.Stage.values:
        raise ValueError("stage is authorization or capture.")
    source.failing_charges, source.failing_stage, source.updated_at = times, stage, sandbox_now()
    source.save(update_fields=["failing_charges", "failing_stage", "updated_at"])
    return source


def expire_card(source: DRSource, when: datetime | None = None) -> DRSource:
    """Sandbox control: the card's expiry moves to the month before `when` (default: now)."""
    if source.type != "creditCard":
        raise DRError(409, "invalid_request", f"Source {source.pk} is not a card.", "sourceId")
    past = (when or sandbox_now()) - relativedelta(months=1)
    source.credit_card = {
        **(source.credit_card or {}),
        "expirationMonth": past.month,
        "expirationYear": past.year,
    }
    source.updated_at = sandbox_now()
    source.save(update_fields=["credit_card", "updated_at"])
    return source


def take_failure(source: DRSource, stage: str) -> bool:
    """Whether this charge attempt of the source fails at `stage`; a failure uses one up."""
    if not source.failing_charges or source.failing_stage != stage:
        return False
    source.failing_charges -= 1
    source.save(update_fields=["failing_charges"])
    return True
