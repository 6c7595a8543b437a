"""Reads, scoped to the actor: the one place tenant scoping is applied."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from core.actor import Actor
from core.errors import NotFound
from partner.access import allowed_customer_ids, membership_of
from partner.models import Customer, Partner, Subaccount


def partners_for(actor: Actor) -> QuerySet[Partner]:
    """Staff see every partner; a member sees their own; anyone else sees none."""
    if actor.is_system or actor.is_staff:
        return Partner.objects.all()
    membership = membership_of(actor)
    if membership is None:
        return Partner.objects.none()
    return Partner.objects.filter(pk=membership.partner_id)


def customers_for(actor: Actor) -> QuerySet[Customer]:
    """The customers the actor may see (a limited member: only theirs)."""
    qs = Customer.objects.select_related("partner")
    if actor.is_system or actor.is_staff:
        return qs
    membership = membership_of(actor)
    if membership is None:
        return qs.none()
    qs = qs.filter(partner_id=membership.partner_id)
    allowed = allowed_customer_ids(membership)
    return qs if allowed is None else qs.filter(pk__in=allowed)


def customers_with_counts(actor: Actor) -> QuerySet[Customer]:
    return customers_for(actor).annotate(
        subaccount_count=Count("subaccounts", distinct=True),
        active_subaccount_count=Count("subaccounts", filter=Q(subaccounts__state="active"), distinct=True),
    )


def subaccounts_for(actor: Actor) -> QuerySet[Subaccount]:
    """The subaccounts of the customers the actor may see."""
    qs = Subaccount.objects.select_related("customer", "partner")
    if actor.is_system or actor.is_staff:
        return qs
    return qs.filter(customer__in=customers_for(actor).values("pk"))


def get_or_404(qs: QuerySet, **lookup):
    """One object from an already scoped queryset, or NotFound (also for other partners' objects)."""
    obj = qs.filter(**lookup).first()
    if obj is None:
        raise NotFound("Not found.")
    return obj
