"""Billing reads, scoped to the actor through the partner selectors."""

from django.db.models import QuerySet

from billing.models import BillingAgreement, BillingSubscription, Checkout, Notice, Plan, Product
from core.actor import Actor
from partner.selectors import of_customers, partners_for


def _scoped(actor: Actor, qs: QuerySet, customer_path: str = "customer") -> QuerySet:
    return of_customers(actor, qs, customer_path)


def plans_for(actor: Actor) -> QuerySet[Plan]:
    """Plans are the operator's; every signed-in reseller may read them."""
    return Plan.objects.all()


def products_for(actor: Actor) -> QuerySet[Product]:
    return Product.objects.filter(partner__in=partners_for(actor).values("pk")).select_related(
        "plan", "partner"
    )


def checkouts_for(actor: Actor) -> QuerySet[Checkout]:
    return _scoped(actor, Checkout.objects.select_related("customer", "partner"))


def subscriptions_for(actor: Actor) -> QuerySet[BillingSubscription]:
    return _scoped(
        actor, BillingSubscription.objects.select_related("customer", "partner", "product", "plan")
    )


def agreements_for(actor: Actor) -> QuerySet[BillingAgreement]:
    return _scoped(actor, BillingAgreement.objects.select_related("customer"))


def notices_for(actor: Actor) -> QuerySet[Notice]:
    return _scoped(
        actor,
        Notice.objects.select_related("subscription__product", "subscription__customer"),
        "subscription__customer",
    )
