"""Reads of ACME contracts and certificates for the reseller dashboard, scoped to the actor."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth

from core import operations
from core.actor import Actor
from core.models import Operation
from subscriptions.acme.models import CANCEL_WINDOW, LIVE_STATES, AcmeContract, Certificate, ContractState
from subscriptions.acme.selectors import acme_contracts_for, certificates_expiring, certificates_for

ENDING_STATES = [*LIVE_STATES, ContractState.CANCEL_PENDING]


def live_contracts_by_product(actor: Actor) -> dict[str, int]:
    """How many live (active or renewal stopped) ACME contracts the actor sees, per product."""
    rows = (
        acme_contracts_for(actor)
        .filter(state__in=LIVE_STATES)
        .order_by()
        .values("product")
        .annotate(n=Count("id"))
    )
    return {row["product"]: row["n"] for row in rows}


def contracts_ending_between(actor: Actor, start: datetime, end: datetime) -> QuerySet[AcmeContract]:
    """Live contracts whose term ends in [start, end): they renew then, or end if renewal is off."""
    return (
        acme_contracts_for(actor)
        .filter(state__in=LIVE_STATES, valid_till__gte=start, valid_till__lt=end)
        .order_by("valid_till", "id")
    )


def contracts_with_drift(actor: Actor) -> QuerySet[AcmeContract]:
    """Contracts whose last sync found our record and DigiCert's disagreeing."""
    return acme_contracts_for(actor).exclude(drift={}).order_by("-synced_at", "-id")


def credentials_not_handed_over(actor: Actor) -> QuerySet[AcmeContract]:
    """Active contracts whose EAB credentials were issued but never revealed to anyone."""
    return acme_contracts_for(actor).filter(
        state__in=LIVE_STATES, credentials_issued_at__isnull=False, credentials_revealed_at__isnull=True
    )


def cancel_windows_closing(actor: Actor, now: datetime, within: timedelta) -> QuerySet[AcmeContract]:
    """Live contracts whose 30-day cancel window closes within `within` from now (last chance)."""
    return (
        acme_contracts_for(actor)
        .filter(
            state__in=LIVE_STATES,
            term_started_at__gt=now - CANCEL_WINDOW,
            term_started_at__lte=now - CANCEL_WINDOW + within,
        )
        .order_by("term_started_at")
    )


def renewals_by_month(actor: Actor, months: list[date]) -> dict[tuple[date, bool], int]:
    """Live contracts whose term ends in each month, split by whether they renew: {(month, renews): n}."""
    if not months:
        return {}
    start = datetime(months[0].year, months[0].month, 1, tzinfo=UTC)
    last = months[-1]
    end = datetime(last.year + (last.month == 12), last.month % 12 + 1, 1, tzinfo=UTC)
    rows = (
        acme_contracts_for(actor)
        .filter(state__in=LIVE_STATES, valid_till__gte=start, valid_till__lt=end)
        .annotate(month=TruncMonth("valid_till"))
        .order_by()
        .values("month", "auto_renew")
        .annotate(n=Count("id"))
    )
    counts: dict[tuple[date, bool], int] = {}
    for row in rows:
        month = row["month"].date() if isinstance(row["month"], datetime) else row["month"]
        key = (month.replace(day=1), bool(row["auto_renew"]))
        counts[key] = counts.get(key, 0) + row["n"]
    return counts


def contract_operations_needing_attention(actor: Actor) -> QuerySet[Operation]:
    """Vendor operations on the actor's contracts that failed for good or keep failing."""
    contracts = acme_contracts_for(actor)
    failing = operations.unresolved_failures(contracts) | operations.struggling(contracts)
    return failing.order_by("-created_at", "-id")


def live_contract_counts(actor: Actor, customer_ids: list[int]) -> dict[int, int]:
    """Live ACME contracts per customer, for a page of the customer list."""
    rows = (
        acme_contracts_for(actor)
        .filter(customer_id__in=customer_ids, state__in=LIVE_STATES)
        .order_by()
        .values("customer_id")
        .annotate(n=Count("id"))
    )
    return {row["customer_id"]: row["n"] for row in rows}


def search_contracts(
    actor: Actor,
    *,
    q: str = "",
    state: str = "",
    product: str = "",
    renewal: str = "",
    ends_before: datetime | None = None,
) -> QuerySet[AcmeContract]:
    """The subscriptions list: text search on domains and customers, filters on state, product,
    renewal and term end."""
    qs = acme_contracts_for(actor)
    if q:
        qs = qs.filter(
            Q(sans__icontains=q.lower())
            | Q(customer__name__icontains=q)
            | Q(customer__reference__icontains=q)
            | Q(vendor_id=q)
        )
    if state:
        qs = qs.filter(state=state)
    if product:
        qs = qs.filter(product=product)
    if renewal == "on":
        qs = qs.filter(auto_renew=True)
    elif renewal == "off":
        qs = qs.filter(auto_renew=False)
    elif renewal == "drift":
        qs = qs.exclude(drift={})
    if ends_before is not None:
        qs = qs.filter(state__in=LIVE_STATES, valid_till__lt=ends_before)
    return qs.order_by("customer__name", "-created_at", "-id")


# --- Certificate inventory ----------------------------------------------------------------------


def search_certificates(
    actor: Actor,
    *,
    now: datetime,
    q: str = "",
    customer: int | None = None,
    contract: int | None = None,
    expiring: bool = False,
    include_gone: bool = False,
) -> QuerySet[Certificate]:
    """The certificates list: search on domain, serial and customer; filters on customer, contract,
    expiring within the warning days, and whether ones DigiCert no longer lists are shown."""
    qs = (
        certificates_expiring(actor, now)
        if expiring
        else certificates_for(actor, include_gone=include_gone).order_by("expires_at", "id")
    )
    if q:
        qs = qs.filter(
            Q(domain__icontains=q)
            | Q(sans__icontains=q.lower())
            | Q(serial_number__iexact=q)
            | Q(customer__name__icontains=q)
            | Q(customer__reference__icontains=q)
        )
    if customer is not None:
        qs = qs.filter(customer_id=customer)
    if contract is not None:
        qs = qs.filter(contract_id=contract)
    return qs


def certificate_counts(actor: Actor, customer_ids: list[int]) -> dict[int, int]:
    """Listed certificates per customer, for a page of the customer list."""
    rows = (
        certificates_for(actor)
        .filter(customer_id__in=customer_ids)
        .order_by()
        .values("customer_id")
        .annotate(n=Count("id"))
    )
    return {row["customer_id"]: row["n"] for row in rows}
