"""Reads of subscriptions, scoped to the actor through the partner selectors."""

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from core.actor import Actor
from core.models import Operation
from partner.selectors import customers_for
from subscriptions.models import AcmeContract


def acme_contracts_for(actor: Actor) -> QuerySet[AcmeContract]:
    """The ACME contracts of the customers the actor may see."""
    qs = AcmeContract.objects.select_related("partner", "customer", "subaccount")
    if actor.is_system or actor.is_staff:
        return qs
    return qs.filter(customer__in=customers_for(actor).values("pk"))


def operations_of(obj) -> QuerySet[Operation]:
    """Vendor operations on one object, newest first."""
    return Operation.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).select_related("requested_by")
