"""Reads shared by ACME and Cloudflare: a target's operations, scoped to the actor through the
partner selectors."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

from core.actor import Actor
from core.models import Operation, OperationState
from partner.selectors import of_customers


def operations_of(obj) -> QuerySet[Operation]:
    """Vendor operations on one object, newest first."""
    return Operation.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).select_related("requested_by")


def with_pending_operation(model) -> set[str]:
    """Primary keys (as text, like Operation.object_id) of the model's objects with an operation in flight.

    Compared in Python on purpose: PostgreSQL will not compare the text object_id with an integer key.
    """
    return set(
        Operation.objects.filter(
            content_type=ContentType.objects.get_for_model(model), state=OperationState.PENDING
        ).values_list("object_id", flat=True)
    )


def of_visible_customers(actor: Actor, manager) -> QuerySet:
    """Objects of the customers the actor may see, with their partner, customer and subaccount."""
    return of_customers(actor, manager.select_related("partner", "customer", "subaccount"))
