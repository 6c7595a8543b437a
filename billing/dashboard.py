"""What the billing app brings to the reseller dashboard (see dashboard.registry): the Billing pages;
monthly recurring revenue, failed payments, held renewals and provisioning failures to look at,
the renewal revenue chart; the billing block of the customer page, its timeline and the renewals
CSV."""

from __future__ import annotations

from django.urls import reverse

from billing import dashboard_selectors as reads
from billing.models import BillingSubscription, Checkout
from core import clock, operations
from core.audit import ACTION_LABELS
from dashboard.registry import (
    Attention,
    BarChart,
    CsvExport,
    CustomerSection,
    Figure,
    NavItem,
    Series,
    registry,
)
from partner.access import Can

SHOWN_PER_KIND = 5
HELD_DETAIL = (
    "The renewal of {date:%d %b %Y} is not charged: the 30-day reminder was not sent. "
    "Support sends it, then releases the renewal."
)
FAILED_DETAIL = "The renewal of {date:%d %b %Y} could not be charged on the billing agreement."

registry.add_nav(NavItem("Billing", "dashboard:renewals", order=30, icon="refresh"))


def _money(amounts: dict) -> str:
    return " + ".join(f"{amount:,} {currency}" for currency, amount in sorted(amounts.items()))


def _subscription_url(subscription_id) -> str:
    return reverse("dashboard:billing-subscription", args=[subscription_id])


@registry.figure(order=40)
def billing_figures(actor, now) -> list[Figure]:
    """Monthly recurring revenue per currency over active billing subscriptions."""
    mrr = reads.monthly_recurring_revenue(actor)
    counts = reads.active_subscription_counts(actor)
    total = sum(counts.values())
    return [
        Figure(
            "Monthly recurring revenue",
            _money(mrr) if mrr else "0",
            f"{total} active billing subscription{'s' if total != 1 else ''}",
            reverse("dashboard:renewals"),
            breakdown=tuple(sorted(counts.items())),
        )
    ]


@registry.attention_source
def billing_attention(actor, now) -> list[Attention]:
    """Failed payments, held renewals (reminder missing) and provisioning failures, with their error."""
    items: list[Attention] = []
    for sub in reads.failed_payments(actor)[:SHOWN_PER_KIND]:
        items.append(
            Attention(
                "danger",
                f"Payment failed: {sub.product.name} ({sub.customer.name})",
                f"Digital River could not charge on {sub.payment_failed_at:%d %b %Y}; "
                f"the subscription is {sub.get_state_display().lower()}.",
                _subscription_url(sub.pk),
                when=sub.payment_failed_at,
                category="billing",
            )
        )
    renewals = [
        *((r, "Renewal held", HELD_DETAIL) for r in reads.held_renewals(actor)[:SHOWN_PER_KIND]),
        *(
            (r, "Renewal payment failed", FAILED_DETAIL)
            for r in reads.failed_renewals(actor)[:SHOWN_PER_KIND]
        ),
    ]
    for renewal, title, detail in renewals:
        sub = renewal.subscription
        items.append(
            Attention(
                "danger",
                f"{title}: {sub.product.name} ({sub.customer.name})",
                detail.format(date=renewal.renewal_date),
                _subscription_url(sub.pk),
                when=renewal.renewal_date,
                category="billing",
            )
        )
    for sub in reads.provisioning_failures(actor)[:SHOWN_PER_KIND]:
        items.append(
            Attention(
                "danger",
                f"Provisioning failed: {sub.product.name} ({sub.customer.name})",
                f"Paid, but not provisioned yet: {sub.provisioning_error} It is retried.",
                _subscription_url(sub.pk),
                when=sub.updated_at,
                category="billing",
            )
        )
    return items


@registry.chart(order=20)
def renewal_revenue_chart(actor, months) -> BarChart:
    """Expected renewal income per month over the next 12 months, one series per currency."""
    totals = reads.renewal_revenue_by_month(actor, months)
    currencies = sorted({currency for _, currency in totals}) or ["USD"]
    tones = ["primary", "success", "muted", "warning"]
    return BarChart(
        "Billing renewals, next 12 months",
        months,
        [
            Series(currency, [totals.get((m, currency), 0) for m in months], tones[i % len(tones)])
            for i, currency in enumerate(currencies)
        ],
        unit=" / ".join(currencies),
        note="What auto-renewing Digital River subscriptions charge on their agreement, by month.",
    )


def billing_section(actor, customer) -> dict:
    """The customer page's billing block: subscriptions, their next renewal and provisioning; checkouts."""
    subscriptions = list(reads.subscriptions_of(actor, customer)[:50])
    checkouts = list(reads.checkouts_of(actor, customer)[:10])
    latest = operations.latest_by_target(checkouts)
    return {
        "subscriptions": subscriptions,
        "checkouts": [(c, latest.get(c.pk)) for c in checkouts],
        "now": clock.now(),
    }


registry.add_customer_section(
    CustomerSection("billing", "Billing", "dashboard/billing/_customer.html", billing_section, 40)
)


@registry.timeline_source
def billing_subscription_timeline(customers):
    return BillingSubscription.objects.filter(customer__in=customers)


@registry.timeline_source
def checkout_timeline(customers):
    return Checkout.objects.filter(customer__in=customers)


@registry.customer_summary
def billing_summary(actor, customer_ids) -> dict[int, list[str]]:
    from django.db.models import Count

    from billing.models import RENEWING_STATES
    from billing.selectors import subscriptions_for

    counts = (
        subscriptions_for(actor)
        .filter(customer_id__in=customer_ids, state__in=RENEWING_STATES)
        .order_by()
        .values_list("customer_id")
        .annotate(n=Count("id"))
    )
    return {cid: [f"{n} billed"] for cid, n in counts}


def renewal_rows(actor, params) -> list[list]:
    """One row per renewal in the next 12 weeks (with the renewals page's filters)."""
    today = clock.now().date()
    customer = params.get("customer", "")
    rows = reads.upcoming_renewals(
        actor,
        today,
        customer_id=int(customer) if customer.isdigit() else None,
        state=params.get("state", ""),
    )
    out = []
    for row in rows:
        sub = row.subscription
        out.append(
            [
                row.renewal_on.strftime("%Y-%m-%d"),
                sub.customer.name,
                sub.customer.reference,
                sub.product.name,
                sub.product.sku_id,
                sub.quantity,
                row.amount,
                row.currency,
                "yes" if sub.auto_renewal else "no",
                sub.billing_agreement_id,
                row.state[1],
                " ".join(
                    f"{r.kind}={r.notice.sent_at.strftime('%Y-%m-%d') if r.notice and r.notice.sent_at else r.state}"
                    for r in row.reminders
                ),
                "yes" if row.reminder_missing(today) else "no",
                sub.subscription_id,
                sub.plan.engine,
            ]
        )
    return out


registry.add_export(
    CsvExport(
        "renewals",
        "Renewals (next 12 weeks)",
        [
            "renewal_date",
            "customer",
            "customer_reference",
            "product",
            "sku",
            "quantity",
            "amount",
            "currency",
            "auto_renewal",
            "billing_agreement",
            "state",
            "reminders",
            "reminder_missing",
            "subscription_id",
            "renewed_by",
        ],
        renewal_rows,
        order=40,
        capability=Can.VIEW,
    )
)

ACTION_LABELS.update(
    {
        "billing.checkout_started": "Digital River checkout started",
        "billing.checkout_opened": "Checkout opened: payment link ready",
        "billing.order_accepted": "Digital River order accepted",
        "billing.subscription_activated": "Billing subscription activated",
        "billing.subscription_changed": "Billing subscription changed",
        "billing.provisioned": "Provisioned after payment",
        "billing.provisioning_failed": "Provisioning failed",
        "billing.renewal_ordered": "Renewal ordered",
        "billing.renewal_order_created": "Renewal order accepted",
        "billing.renewal_released": "Held renewal released",
        "billing.renewed": "Renewed",
        "billing.renewal_refunded": "Renewal refunded (not delivered)",
        "billing.order_fulfilled": "Fulfilment reported to Digital River",
        "billing.payment_captured": "Payment captured",
        "billing.payment_cancelled": "Payment cancelled (not delivered, not charged)",
        "billing.payment_method_change_requested": "Payment method change requested",
        "billing.payment_method_changed": "Payment method changed (same billing agreement)",
    }
)
