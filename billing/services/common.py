"""Small pieces every billing service shares."""

from __future__ import annotations

from billing.models import CHECKOUT_MOVES, CheckoutState
from core import operations, states
from core.actor import Actor
from partner.access import Can, require
from partner.models import Customer


def dr_customer_id(customer: Customer) -> str:
    """The customer's id at Digital River: stable, readable, unique across partners."""
    return f"{customer.partner.slug}-{customer.reference}"


def require_billing(actor: Actor, customer: Customer) -> None:
    require(actor, Can.MANAGE_BILLING, partner=customer.partner, customer=customer)


NEW_AGREEMENT_CHANGE = "change.new_agreement"


def change_of(subscription):
    """The new-agreement change in progress that sells `subscription`, if any: the steps that follow
    (activation, provisioning, fulfilment) join it (billing.services.changes.NewAgreementChange)."""
    from core.models import Operation, OperationState

    return (
        Operation.objects.filter(
            kind=NEW_AGREEMENT_CHANGE,
            is_change=True,
            state=OperationState.PENDING,
            params__new=subscription.pk,
        )
        .order_by("-id")
        .first()
    )


class ShowsCheckoutState(operations.OperationHandler):
    """Rule: a checkout whose Digital River call gave up shows failed, and pending again once retried."""

    def failed(self, operation, checkout, actor):
        states.move(checkout, CheckoutState.FAILED, CHECKOUT_MOVES)

    def retrying(self, operation, checkout):
        states.move(checkout, CheckoutState.PENDING, CHECKOUT_MOVES)
