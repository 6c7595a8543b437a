"""Charging an order's primary source: what POST /orders checks, and the authorization it makes.

POST /orders only authorises: the order is `accepted` with one charge of its primary source,
`capturable`, nothing captured (capturedAmount 0). Money is captured only by fulfilments
(vendors.sandbox.digitalriver.fulfillments) and, for Digital River's subscription service, by
its own invoices (lifecycle). Before authorising, the checkout's source must:
- exist (409 failed-request, the code Digital River documents for a refused POST /orders, with a
  message naming what is missing: ORDER_REFUSAL_CODE);
- not be saved to another customer (409 source_in_use on sourceId, as documented);
- be chargeable (409 source_not_chargeable: a source removed from its customer, a used single-use
  source);
- for a merchant-initiated checkout, and for the acquisition of an external subscription, be
  reusable and saved to the checkout's customer (409 failed-request, ORDER_REFUSAL_CODE);
- not be an expired card (409 source_expired);
- not be set to fail at authorization (sandbox control: 409 failed-request "Failed to charge
  source.", the documented answer of a declined authorization).
A single-use source is consumed by the charge. An order of 0 has no charge.

SANDBOX CHOICE: Digital River does not document which code a checkout without a (usable) source
gets from POST /orders; the sandbox answers ORDER_REFUSAL_CODE (409 "failed-request"), change it
here if Digital River answers otherwise.
"""

from __future__ import annotations

from decimal import Decimal

from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.digitalriver import ledger
from vendors.sandbox.digitalriver.errors import PaymentDeclined, conflict
from vendors.sandbox.digitalriver.models import DRCharge, DRCheckout, DROrder, DRSource
from vendors.sandbox.digitalriver.sources import expired, take_failure

ORDER_REFUSAL_CODE = "failed-request"
DECLINED_MESSAGE = "Failed to charge source."


def check_source(checkout: DRCheckout, *, needs_saved: str = "") -> DRSource:
    """The checkout's primary source if POST /orders may charge it; DRError (409) otherwise.

    `needs_saved` names why the source must be reusable and saved to the customer ("" when not).
    A source set to fail at authorization is declined (PaymentDeclined: the used-up failure is kept).
    """
    source = checkout.source
    customer_id = checkout.customer_id
    if source is None:
        raise conflict(
            ORDER_REFUSAL_CODE,
            "The checkout has no primary payment source: attach one (sourceId, or "
            "POST /checkouts/{id}/sources/{sourceId}) before creating the order.",
        )
    source = DRSource.objects.select_for_update().get(pk=source.pk)
    if source.customer_id and source.customer_id != customer_id:
        raise conflict(
            "source_in_use", f"Source '{source.pk}' is attached to a different customer.", "sourceId"
        )
    if source.state != DRSource.State.CHARGEABLE:
        raise conflict("source_not_chargeable", f"Source '{source.pk}' is not chargeable.", "sourceId")
    if needs_saved and not (source.reusable and source.customer_id == customer_id):
        missing = "is not reusable" if not source.reusable else f"is not saved to customer {customer_id}"
        raise conflict(
            ORDER_REFUSAL_CODE,
            f"{needs_saved} needs a reusable payment source saved to customer {customer_id}: "
            f"source {source.pk} {missing}.",
        )
    if expired(source):
        card = source.credit_card or {}
        raise conflict(
            "source_expired",
            f"Source '{source.pk}' has expired (card valid through "
            f"{card.get('expirationMonth')}/{card.get('expirationYear')}).",
            "sourceId",
        )
    if take_failure(source, DRSource.Stage.AUTHORIZATION):
        raise PaymentDeclined(409, ORDER_REFUSAL_CODE, DECLINED_MESSAGE)
    return source


def authorize(order: DROrder, source: DRSource) -> DRCharge | None:
    """The order's charge, authorised (capturable) for its total; ledger rows per item."""
    if order.total_amount <= Decimal(0):
        return None
    now = sandbox_now()
    charge = DRCharge.objects.create(
        order=order,
        source=source,
        amount=order.total_amount,
        currency=order.currency,
        type=order.charge_type,
        created_at=now,
        updated_at=now,
    )
    ledger.record(
        ledger.Kind.AUTHORIZATION,
        [(item, item.amount) for item in order.items.all()],
        currency=order.currency,
        customer_id=order.customer_id,
        order_id=order.pk,
        source_id=source.pk,
    )
    if not source.reusable:
        source.state, source.updated_at = DRSource.State.CONSUMED, now
        source.save(update_fields=["state", "updated_at"])
    return charge
