"""Reads, scoped to the actor: the one place tenant scoping is applied."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import CharField, Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Cast

from core import audit, operations
from core.actor import Actor
from core.errors import NotFound
from core.models import ApiToken, AuditEvent, Operation
from partner.access import allowed_customer_ids, membership_of
from partner.models import (
    CREATE_SUBACCOUNT,
    Customer,
    Membership,
    Partner,
    Subaccount,
    SubaccountState,
    Vendor,
)


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


def of_customers(actor: Actor, qs: QuerySet, customer_path: str = "customer") -> QuerySet:
    """The rows of `qs` about the customers the actor may see (staff and the system: all of them).

    A row with its own partner is also narrowed to the member's partner (the partner of each of its
    customers): PostgreSQL then reads that partner's rows by index, not every row of the table."""
    if actor.is_system or actor.is_staff:
        return qs
    scoped = qs.filter(**{f"{customer_path}__in": customers_for(actor).values("pk")})
    membership = membership_of(actor)
    if membership is not None and customer_path == "customer" and _has_partner(qs.model):
        scoped = scoped.filter(partner_id=membership.partner_id)
    return scoped


def _has_partner(model) -> bool:
    return any(f.name == "partner" and f.is_relation for f in model._meta.concrete_fields)


def customers_with_counts(actor: Actor) -> QuerySet[Customer]:
    return customers_for(actor).annotate(
        subaccount_count=Count("subaccounts", distinct=True),
        active_subaccount_count=Count("subaccounts", filter=Q(subaccounts__state="active"), distinct=True),
    )


def subaccounts_for(actor: Actor) -> QuerySet[Subaccount]:
    """The subaccounts of the customers the actor may see."""
    return of_customers(actor, Subaccount.objects.select_related("customer", "partner"))


def get_or_404(qs: QuerySet, **lookup):
    """One object from an already scoped queryset, or NotFound (also for other partners' objects)."""
    obj = qs.filter(**lookup).first()
    if obj is None:
        raise NotFound("Not found.")
    return obj


def members_for(actor: Actor, partner: Partner) -> QuerySet[Membership]:
    """The members of a partner the actor belongs to (staff: any), with their customer limits."""
    if not partners_for(actor).filter(pk=partner.pk).exists():
        return Membership.objects.none()
    return (
        Membership.objects.filter(partner=partner)
        .select_related("user")
        .prefetch_related(Prefetch("customers", queryset=Customer.objects.order_by("name")))
        .order_by("user__first_name", "user__last_name", "user__email")
    )


def api_tokens_of(actor: Actor) -> QuerySet[ApiToken]:
    """The acting user's own API tokens, newest first (nobody lists anyone else's here)."""
    if actor.user is None or not actor.user.is_authenticated:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user=actor.user).order_by("-created_at", "-id")


def activity_for(actor: Actor, customers: QuerySet[Customer], sources: Iterable = ()) -> QuerySet[AuditEvent]:
    """Every recorded change to these customers and what they own (their subaccounts, and each
    `source(customers)` queryset: contracts, zones...), newest first, within the actor's scope."""
    customers = customers_for(actor).filter(pk__in=customers.values("pk"))
    owned = [Subaccount.objects.filter(customer__in=customers), *(source(customers) for source in sources)]
    return audit.events_for_many([customers, *owned])


def search_customers(actor: Actor, *, q: str = "", status: str = "") -> QuerySet[Customer]:
    """The customer list: text search on name, reference and contact; filters on subaccounts."""
    qs = customers_for(actor)
    if q:
        qs = qs.filter(
            Q(name__icontains=q)
            | Q(reference__icontains=q)
            | Q(contact_name__icontains=q)
            | Q(contact_email__icontains=q)
        )
    own = Subaccount.objects.filter(customer=OuterRef("pk"))
    if status == "attention":
        qs = qs.filter(Exists(own.filter(state__in=[SubaccountState.FAILED, SubaccountState.UNKNOWN])))
    elif status == "no_subaccount":
        qs = qs.exclude(Exists(own))
    elif status in Vendor.values:
        qs = qs.filter(Exists(own.filter(vendor=status)))
    return qs


def subaccounts_needing_attention(actor: Actor) -> QuerySet[Subaccount]:
    """Subaccounts that failed, whose outcome is unknown, that are retrying after an error, or that
    nobody picked up in time (wall-clock lease past)."""
    own = subaccounts_for(actor)
    # Retrying and stuck are read from the create operation (core.operations.struggling).
    struggling = operations.struggling(own.filter(state=SubaccountState.PENDING)).filter(
        kind=CREATE_SUBACCOUNT
    )
    return own.annotate(_op_id=Cast("pk", CharField())).filter(
        Q(state__in=[SubaccountState.FAILED, SubaccountState.UNKNOWN])
        | Q(state=SubaccountState.PENDING, _op_id__in=struggling.values("object_id"))
    )


# The create operation's fields lists show on each subaccount, annotated as provisioning_<name>.
PROVISIONING_FIELDS = {
    "attempts": "attempts",
    "next_attempt_at": "next_attempt_at",
    "error_code": "last_error_code",
    "error_message": "last_error_message",
    "error_at": "last_error_at",
}


def with_provisioning(subaccounts: QuerySet[Subaccount]) -> QuerySet[Subaccount]:
    """Subaccounts with their newest create operation's progress and last error, in the same query
    (`provisioning_attempts`, `provisioning_error_code`, ... see PROVISIONING_FIELDS)."""
    newest = Operation.objects.filter(
        # By name, not ContentType.get_for_model: its first, cached lookup would be a query of its own.
        content_type__app_label=Subaccount._meta.app_label,
        content_type__model=Subaccount._meta.model_name,
        object_id=Cast(OuterRef("pk"), CharField()),
        kind=CREATE_SUBACCOUNT,
    ).order_by("-created_at", "-id")
    return subaccounts.annotate(
        **{
            f"provisioning_{name}": Subquery(newest.values(field)[:1])
            for name, field in PROVISIONING_FIELDS.items()
        }
    )


def customers_without_subaccounts(actor: Actor) -> QuerySet[Customer]:
    """Customers that have no vendor subaccount yet: onboarding not started for them."""
    return customers_for(actor).filter(subaccounts__isnull=True)


def subaccount_ready(subaccount: Subaccount | None) -> bool:
    """Whether services can be ordered under a customer's subaccount: it exists and is active at the vendor."""
    return subaccount is not None and subaccount.state == SubaccountState.ACTIVE
