"""Reconciliation reads, scoped to the actor: another partner's findings, runs and marks are not found."""

from __future__ import annotations

from functools import partial

from django.db.models import Count, QuerySet

from core import audit
from core.actor import Actor
from partner.selectors import of_customers, partners_for
from reconciliation.models import Finding, FindingKind, FindingState, NotBilled, Run

SIDE_LABELS = {"billing": "Billing", "ours": "Our record", "vendor": "Vendor"}
FIELD_LABELS = {
    "subscription": "Billing subscription",
    "product": "Product",
    "engine": "Renewal engine",
    "state": "State",
    "renews": "Renews",
    "price": "Price",
    "current_period_end": "Current period ends",
    "rate_plan_id": "Rate plan",
    "frequency": "Frequency",
    "component_values": "Components",
    "catalog_price": "Catalog price",
    "contract": "Contract",
    "auto_renew": "Auto-renews",
    "valid_till": "Valid till",
    "sans": "Domain names",
    "zone": "Zone",
    "present": "Present",
    "billed": "Billed",
    "provisioned": "Provisioned",
    "missing": "Unknown to the vendor",
    "id": "Vendor id",
    "current_period_start": "Period starts",
    "current_period_end_date": "Current period ends",
}


def _scoped(actor: Actor, qs: QuerySet) -> QuerySet:
    return of_customers(actor, qs)


def findings_for(actor: Actor) -> QuerySet[Finding]:
    """The findings about the customers the actor may see, with what every list shows (fixed queries)."""
    return _scoped(
        actor,
        Finding.objects.select_related(
            "partner", "customer", "subscription__product", "subscription__plan", "resolved_by", "target_type"
        ).prefetch_related("target"),
    )


def search_findings(
    actor: Actor, *, kind: str = "", state: str = "", customer: str = ""
) -> QuerySet[Finding]:
    """The findings list with its filters (unknown values are ignored)."""
    qs = findings_for(actor)
    if kind in FindingKind.values:
        qs = qs.filter(kind=kind)
    if state in FindingState.values:
        qs = qs.filter(state=state)
    if str(customer).isdigit():
        qs = qs.filter(customer_id=int(customer))
    return qs.order_by("-last_seen_at", "-id")


def open_counts(actor: Actor) -> dict[str, int]:
    """Open findings by kind, in one query."""
    rows = (
        findings_for(actor)
        .filter(state=FindingState.OPEN)
        .order_by()
        .values_list("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    return dict(rows)


def runs_for(actor: Actor) -> QuerySet[Run]:
    """Runs of the partners the actor belongs to (staff: all)."""
    return Run.objects.filter(partner__in=partners_for(actor).values("pk")).select_related(
        "partner", "requested_by"
    )


def latest_run(actor: Actor) -> Run | None:
    return runs_for(actor).order_by("-created_at", "-id").first()


def marks_for(actor: Actor) -> QuerySet[NotBilled]:
    """Not-billed marks of the customers the actor may see, with their target."""
    return _scoped(
        actor,
        NotBilled.objects.select_related(
            "customer", "marked_by", "unmarked_by", "target_type"
        ).prefetch_related("target"),
    )


# An evidence value: a dict as sorted key=value pairs, "none" for an empty one, timestamps to the minute.
_shown = partial(audit.shown, empty="none", pair="{}={}", sort=True, cut=16)


def evidence_table(evidence: dict) -> dict:
    """The evidence as a table every face shows: one column per side, one row per field, the
    differing fields marked."""
    sides = evidence.get("sides") or {}
    names = [name for name in ("billing", "ours", "vendor") if name in sides]
    vendor = evidence.get("vendor") or ""
    columns = [f"{SIDE_LABELS[n]}{f' ({vendor})' if n == 'vendor' and vendor else ''}" for n in names]
    differs = set(evidence.get("differs") or [])
    fields: list[str] = []
    for name in names:
        for field in sides[name] or {}:
            if field not in fields:
                fields.append(field)
    rows = [
        {
            "field": FIELD_LABELS.get(field, field.replace("_", " ").capitalize()),
            "values": [
                _shown((sides[n] or {}).get(field)) if field in (sides[n] or {}) else "" for n in names
            ],
            "differs": field in differs,
        }
        for field in fields
    ]
    return {"rule": evidence.get("rule", ""), "columns": columns, "rows": rows}


def evidence_text(evidence: dict) -> str:
    """The differing fields in one line, for CSV and admin lists."""
    table = evidence_table(evidence)
    parts = [
        f"{row['field']}: "
        + " / ".join(f"{col} {val}" for col, val in zip(table["columns"], row["values"], strict=True) if val)
        for row in table["rows"]
        if row["differs"]
    ]
    return "; ".join(parts)
