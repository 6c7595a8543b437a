"""What the reconciliation brings to the reseller dashboard (see dashboard.registry): its page in the
navigation, the open findings on the home "needs attention" list, and the findings CSV."""

from __future__ import annotations

from django.urls import reverse

from core.audit import ACTION_LABELS
from dashboard.registry import Attention, CsvExport, NavItem, registry
from partner.access import Can
from reconciliation import selectors
from reconciliation.models import FindingKind

registry.add_nav(NavItem("Reconciliation", "dashboard:reconciliation", order=35, icon="shield"))


@registry.attention_source
def reconciliation_attention(actor, now) -> list[Attention]:
    """Open findings of the last reconciliation runs, counted by kind, in one item (one query)."""
    counts = selectors.open_counts(actor)
    total = sum(counts.values())
    if not total:
        return []
    labels = dict(FindingKind.choices)
    detail = ", ".join(
        f"{counts[kind]} {labels[kind].lower()}" for kind in FindingKind.values if counts.get(kind)
    )
    billed_wrong = counts.get(FindingKind.BILLED_NOT_PROVIDED, 0) + counts.get(FindingKind.PRICE_MISMATCH, 0)
    return [
        Attention(
            "danger" if billed_wrong else "warning",
            f"Billing and vendors disagree: {total} open finding{'s' if total != 1 else ''}",
            f"The reconciliation found: {detail}.",
            reverse("dashboard:reconciliation") + "?state=open",
            "Review",
            category="billing",
        )
    ]


def finding_rows(actor, params) -> list[list]:
    """The findings list as CSV rows, with its filters."""
    rows = selectors.search_findings(
        actor,
        kind=params.get("kind", ""),
        state=params.get("state", ""),
        customer=params.get("customer", ""),
    )
    for finding in rows:
        yield [
            finding.pk,
            finding.get_kind_display(),
            finding.get_state_display(),
            finding.customer.name,
            finding.summary,
            finding.subscription.subscription_id if finding.subscription_id else "",
            str(finding.target) if finding.target is not None else finding.vendor_ref,
            selectors.evidence_text(finding.evidence),
            finding.first_seen_at.isoformat(),
            finding.last_seen_at.isoformat(),
            finding.times_seen,
            finding.get_resolution_display() if finding.resolution else "",
            finding.resolved_by.get_username() if finding.resolved_by_id else "",
            finding.resolved_at.isoformat() if finding.resolved_at else "",
            finding.resolution_note,
        ]


registry.add_export(
    CsvExport(
        "reconciliation",
        "Reconciliation findings",
        [
            "id",
            "kind",
            "state",
            "customer",
            "summary",
            "billing_subscription",
            "vendor_object",
            "differences",
            "first_seen",
            "last_seen",
            "times_seen",
            "resolution",
            "resolved_by",
            "resolved_at",
            "note",
        ],
        finding_rows,
        order=60,
        capability=Can.VIEW,
    )
)

ACTION_LABELS.update(
    {
        "reconciliation.run_requested": "Reconciliation requested",
        "reconciliation.run_finished": "Reconciliation finished",
        "reconciliation.marked_not_billed": "Marked not billed",
        "reconciliation.unmarked": "Not-billed mark taken back",
        "reconciliation.billing_linked": "Billing linked to the existing service",
        "reconciliation.adopted_vendor": "Finding settled: vendor's state adopted",
        "reconciliation.pushed_ours": "Finding settled: ours pushed to the vendor",
        "reconciliation.ended_billing": "Finding settled: billing ended",
        "reconciliation.billed": "Finding settled: checkout started",
        "reconciliation.dismissed": "Finding dismissed",
        "reconciliation.finding_reopened": "Finding found again",
        "reconciliation.finding_cleared": "Finding no longer found",
    }
)
