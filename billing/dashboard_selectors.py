"""Read-only billing queries for the reseller dashboard, each scoped to the actor and each a fixed
number of SQL queries whatever the number of rows (see dashboard.registry)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    CharField,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat
from django.db.models.lookups import Contains
from django.urls import reverse

from billing import selectors
from billing.models import (
    RENEWING_STATES,
    BillingSubscription,
    Checkout,
    EventState,
    Notice,
    ProvisioningState,
    Renewal,
    RenewalEngine,
    RenewalState,
    SubscriptionState,
    WebhookEvent,
)
from billing.rules import reminder_dates
from core.actor import Actor
from core.audit import ACTION_LABELS
from core.models import AuditEvent
from partner.dashboard_timeline import TimelineEntry, entry_source

# A plan period normalised to one month (Decimal): year/12, month x1, week x52/12, day x365/12,
# Kept as (periods, months) so the division happens once, exactly where it can.
PER_MONTH = {"year": (1, 12), "month": (1, 1), "week": (52, 12), "day": (365, 12)}
CENT = Decimal("0.01")
RENEWAL_WEEKS = 12

# The renewals page's "state" filter: what the reseller looks for.
STATE_FILTERS = [
    ("", "Any state"),
    ("renews", "Renews automatically"),
    ("ends", "Ends (renewal off)"),
    ("reminder_missing", "Reminder missing"),
    ("payment_failed", "Payment failed"),
    ("digitalriver", "Charged by Digital River itself"),
    ("back_office", "Renewed by the back office"),
]

# Who renews a subscription, in the words every face (admin, API, dashboard) uses.
RENEWED_BY = {
    RenewalEngine.DIGITAL_RIVER: "Digital River's subscription service",
    RenewalEngine.BACK_OFFICE: "the back office",
}
DR_CHARGES_ITSELF = "Digital River charges this itself"
SOURCE_SHOWN = 6


def renewed_by(engine: str) -> str:
    """Who charges a plan's renewals: Digital River's subscription service or the back office."""
    return RENEWED_BY.get(engine, engine)


def mask_source(source_id: str) -> str:
    """A payment source id shown by its last characters only, enough to tell two cards apart."""
    if not source_id:
        return ""
    return source_id if len(source_id) <= SOURCE_SHOWN else f"…{source_id[-SOURCE_SHOWN:]}"


def notice_details(details: dict, currency: str = "") -> list[tuple[str, str, str]]:
    """A notice's details as (label, text, url) lines: amount with currency, the card (and whether
    it expires before the charge), the payment link; other keys as they are."""
    details = details if isinstance(details, dict) else {}
    lines: list[tuple[str, str, str]] = []
    amount = str(details.get("amount") or "")
    if amount and amount != "None":
        lines.append(("Amount", f"{amount} {details.get('currency') or currency}".strip(), ""))
    if details.get("invoice_date"):
        lines.append(("Charged on", str(details["invoice_date"]), ""))
    if details.get("card_last_four") or details.get("card_brand"):
        card = f"{details.get('card_brand') or 'Card'} ending {details.get('card_last_four') or '?'}"
        if details.get("card_expiry"):
            card += f", expires {details['card_expiry']}"
        if details.get("card_expires_first"):
            card += " (expires before the charge)"
        lines.append(("Card", card, ""))
    link = str(details.get("link") or "")
    if link:
        safe = link.startswith(("https://", "http://"))
        lines.append(("Link", link, link if safe else ""))
    known = {"amount", "currency", "invoice_date", "card_brand", "card_last_four", "card_expiry"}
    known |= {"card_expires_first", "link"}
    for key, value in details.items():
        if key not in known and value not in (None, "", [], {}):
            lines.append((key.replace("_", " ").capitalize(), str(value), ""))
    return lines


def monthly_amount(price: Decimal, quantity: int, interval: str, count: int) -> Decimal:
    """What one subscription brings in a month: its period price spread over the period's months."""
    periods, months = PER_MONTH[interval]
    return price * quantity * periods / (months * max(count, 1))


def monthly_recurring_revenue(actor: Actor) -> dict[str, Decimal]:
    """MRR per currency over active billing subscriptions (one query, grouped by plan period)."""
    grouped = (
        selectors.subscriptions_for(actor)
        .filter(state__in=RENEWING_STATES)
        .order_by()
        .values_list("product__currency", "plan__interval", "plan__interval_count")
        .annotate(total=Sum(F("price") * F("quantity")))
    )
    mrr: dict[str, Decimal] = defaultdict(Decimal)
    for currency, interval, count, total in grouped:
        mrr[currency] += monthly_amount(Decimal(total or 0), 1, interval, count)
    return {currency: amount.quantize(CENT) for currency, amount in sorted(mrr.items())}


def active_subscription_counts(actor: Actor) -> dict[str, int]:
    return dict(
        selectors.subscriptions_for(actor)
        .filter(state__in=RENEWING_STATES)
        .order_by()
        .values_list("product__name")
        .annotate(n=Count("id"))
        .values_list("product__name", "n")
    )


def failed_payments(actor: Actor) -> QuerySet[BillingSubscription]:
    """Subscriptions whose payment failed and that are not paid since (invoice open or failed)."""
    return (
        selectors.subscriptions_for(actor)
        .filter(
            payment_failed_at__isnull=False,
            state__in=[SubscriptionState.ACTIVE_PENDING_INVOICE, SubscriptionState.FAILED],
        )
        .order_by("-payment_failed_at", "-id")
    )


def renewals_in(actor: Actor, states) -> QuerySet[Renewal]:
    """Renewal rows (one per subscription and period) in the given states, soonest first."""
    subscriptions = selectors.subscriptions_for(actor).values("pk")
    return (
        Renewal.objects.filter(subscription__in=subscriptions, state__in=states)
        .select_related("subscription__customer", "subscription__product", "checkout")
        .order_by("renewal_date", "id")
    )


def held_renewals(actor: Actor) -> QuerySet[Renewal]:
    """Held renewals of what the back office renews (Digital River's service holds nothing of ours)."""
    return renewals_in(actor, [RenewalState.HELD]).filter(
        subscription__plan__engine=RenewalEngine.BACK_OFFICE
    )


def failed_renewals(actor: Actor) -> QuerySet[Renewal]:
    return renewals_in(actor, [RenewalState.FAILED])


def provisioning_failures(actor: Actor) -> QuerySet[BillingSubscription]:
    """Paid subscriptions whose provisioning failed or was refused (the error is kept, retried)."""
    return (
        selectors.subscriptions_for(actor)
        .filter(provisioning_state__in=[ProvisioningState.PENDING, ProvisioningState.FAILED])
        .exclude(provisioning_error="")
        .order_by("-updated_at", "-id")
    )


@dataclass
class Reminder:
    kind: str
    label: str
    due_on: date
    notice: Notice | None

    @property
    def state(self) -> str:
        if self.notice is None:
            return "missing"
        return "delivered" if self.notice.delivered else "error"


@dataclass
class UpcomingRenewal:
    """One subscription renewing (or ending) in the window, with its reminders for that date."""

    subscription: BillingSubscription
    renewal_on: datetime
    renewal: Renewal | None
    reminders: list[Reminder] = field(default_factory=list)
    other_notices: list[Notice] = field(default_factory=list)

    @property
    def amount(self) -> Decimal:
        return self.subscription.price * self.subscription.quantity

    @property
    def currency(self) -> str:
        return self.subscription.product.currency

    @property
    def run_by_digital_river(self) -> bool:
        """Digital River's subscription service charges it: the back office holds and releases nothing."""
        return self.subscription.run_by_digital_river

    def reminder_missing(self, today: date) -> bool:
        """A required reminder whose day has come and that was not sent (the renewal will be held)."""
        return any(r.notice is None and r.due_on <= today for r in self.reminders)

    @property
    def state(self) -> tuple[str, str]:
        """(code, words) of where the renewal stands."""
        if self.renewal is not None:
            return self.renewal.state, self.renewal.get_state_display()
        if self.run_by_digital_river and self.subscription.auto_renewal:
            if self.subscription.state == SubscriptionState.ACTIVE_PENDING_INVOICE:
                return "payment_failed", "Invoice open (Digital River retries the payment)"
            return "digitalriver", DR_CHARGES_ITSELF
        if self.subscription.state == SubscriptionState.ACTIVE_PENDING_INVOICE:
            return "payment_failed", "Invoice open (payment failed)"
        if not self.subscription.auto_renewal:
            return "ends", "Ends (renewal off)"
        return "scheduled", "Scheduled"


REMINDER_LABELS = {"reminder_30": "30 days", "reminder_7": "7 days", "reminder_1": "1 day"}


def upcoming_renewals(
    actor: Actor, today: date, *, weeks: int = RENEWAL_WEEKS, customer_id: int | None = None, state: str = ""
) -> list[UpcomingRenewal]:
    """Live subscriptions whose period ends from the start of this week for `weeks` weeks, with the
    reminders each renewal needs and the notices sent for it (three queries in all)."""
    start = today - timedelta(days=today.weekday())
    qs = (
        selectors.subscriptions_for(actor)
        .filter(
            state__in=RENEWING_STATES,
            current_period_end_date__date__gte=start,
            current_period_end_date__date__lt=start + timedelta(weeks=weeks),
        )
        .prefetch_related(
            Prefetch("notices", queryset=Notice.objects.order_by("created_at", "id")),
            Prefetch("renewals", queryset=Renewal.objects.order_by("-renewal_date")),
        )
        .order_by("current_period_end_date", "customer__name", "id")
    )
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    if state == "renews":
        qs = qs.filter(auto_renewal=True)
    elif state == "ends":
        qs = qs.filter(auto_renewal=False)
    elif state == "payment_failed":
        qs = qs.filter(payment_failed_at__isnull=False)
    elif state in (RenewalEngine.DIGITAL_RIVER, RenewalEngine.BACK_OFFICE):
        qs = qs.filter(plan__engine=state)
    rows = []
    for sub in qs:
        renewal_on = sub.current_period_end_date
        renewal = next((r for r in sub.renewals.all() if r.renewal_date == renewal_on), None)
        notices = [n for n in sub.notices.all() if n.renewal_date == renewal_on.date()]
        by_kind = {n.kind: n for n in notices}
        # Digital River's service sends its own reminder event (a RENEWAL_REMINDER notice when it
        # comes); the 30/7/1-day reminders are the back office's, for what it renews itself.
        reminders = [
            Reminder(kind, REMINDER_LABELS.get(kind, kind), due_on, by_kind.get(kind))
            for kind, due_on in (
                reminder_dates(renewal_on.date(), sub.plan.interval, sub.plan.interval_count)
                if sub.auto_renewal and not sub.run_by_digital_river
                else []
            )
        ]
        reminder_kinds = {r.kind for r in reminders}
        row = UpcomingRenewal(
            sub, renewal_on, renewal, reminders, [n for n in notices if n.kind not in reminder_kinds]
        )
        if state == "reminder_missing" and not (
            row.reminder_missing(today) or (renewal and renewal.reminder_missing)
        ):
            continue
        rows.append(row)
    return rows


def by_week(rows: list[UpcomingRenewal], today: date, weeks: int = RENEWAL_WEEKS) -> list[dict]:
    """The rows grouped by the week (Monday) of their renewal; every week listed, empty ones too,
    with the amount due per currency."""
    start = today - timedelta(days=today.weekday())
    groups = [
        {"start": start + timedelta(weeks=i), "end": start + timedelta(weeks=i, days=6), "rows": []}
        for i in range(weeks)
    ]
    for row in rows:
        index = (row.renewal_on.date() - start).days // 7
        if 0 <= index < weeks:
            groups[index]["rows"].append(row)
    for group in groups:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for row in group["rows"]:
            if row.subscription.auto_renewal:
                totals[row.currency] += row.amount
        group["totals"] = sorted(totals.items())
    return groups


def month_calendar(rows: list[UpcomingRenewal], month: date) -> list[list[dict]]:
    """One month as weeks of days (Monday first), each day with the renewals falling on it."""
    by_day: dict[date, list[UpcomingRenewal]] = defaultdict(list)
    for row in rows:
        by_day[row.renewal_on.date()].append(row)
    first = month.replace(day=1)
    day = first - timedelta(days=first.weekday())
    weeks = []
    while True:
        week = []
        for _ in range(7):
            week.append({"day": day, "in_month": day.month == first.month, "rows": by_day.get(day, [])})
            day += timedelta(days=1)
        weeks.append(week)
        if day.month != first.month:
            break
    return weeks


def renewal_revenue_by_month(actor: Actor, months: list[date]) -> dict[tuple[date, str], Decimal]:
    """Expected renewal income per (month, currency) over the given months: each live auto-renewing
    subscription renews at the end of every period within the window (one query)."""
    from billing.rules import period_delta

    if not months:
        return {}
    start = months[0]
    last = months[-1]
    end = date(last.year + (last.month == 12), last.month % 12 + 1, 1)
    subs = (
        selectors.subscriptions_for(actor)
        .filter(state__in=RENEWING_STATES, auto_renewal=True, current_period_end_date__isnull=False)
        .values_list(
            "current_period_end_date",
            "price",
            "quantity",
            "product__currency",
            "plan__interval",
            "plan__interval_count",
        )
    )
    totals: dict[tuple[date, str], Decimal] = defaultdict(Decimal)
    for period_end, price, quantity, currency, interval, count in subs:
        step = period_delta(interval, max(count, 1))
        when = period_end.date()
        while when < end:
            if when >= start:
                totals[(when.replace(day=1), currency)] += price * quantity
            when = when + step
    return dict(totals)


def checkouts_of(actor: Actor, customer) -> QuerySet[Checkout]:
    return selectors.checkouts_for(actor).filter(customer=customer).order_by("-created_at", "-id")


def subscriptions_of(actor: Actor, customer) -> QuerySet[BillingSubscription]:
    return (
        selectors.subscriptions_for(actor)
        .filter(customer=customer)
        .select_related("acquisition")
        .order_by("-created_at", "-id")
    )


def agreements(actor: Actor, customer_id: int | None = None):
    """Billing agreements with how many subscriptions charge against each (two queries)."""
    qs = selectors.agreements_for(actor).order_by("-created_at", "-id")
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    return qs


def subscriptions_on_agreements(
    actor: Actor, agreement_ids: list[str]
) -> dict[str, list[BillingSubscription]]:
    found: dict[str, list[BillingSubscription]] = defaultdict(list)
    for sub in (
        selectors.subscriptions_for(actor)
        .filter(billing_agreement_id__in=agreement_ids)
        .order_by("-created_at", "-id")
    ):
        found[sub.billing_agreement_id].append(sub)
    return found


# --- The customer's timeline: notices, Digital River events, refunds (partner.dashboard_timeline) ---

REFUND_ACTIONS = ("billing.refunded", "billing.renewal_refunded")
# Events that touched nothing are left out: unverified bodies (anyone can post one naming a
# customer's ids) and repeats of an event already received.
EVENTS_SHOWN_EXCLUDE = (EventState.REJECTED, EventState.DUPLICATE)
EVENT_TONES = {
    EventState.PROCESSED: "active",
    EventState.FAILED: "failed",
    EventState.RECEIVED: "pending",
    EventState.IGNORED: "cancelled",
}

ACTION_LABELS.update(
    {
        "billing.cancel_requested": "Cancellation with a full refund requested (DigiCert first)",
        "billing.renewal_stopped": "Renewal stopped: runs to the end of the paid period",
        "billing.renewal_resumed": "Renewal resumed",
        "billing.refunded": "Refunded in full at Digital River",
    }
)


def _subscription_url(subscription_id, anchor: str = "") -> str:
    return reverse("dashboard:billing-subscription", args=[subscription_id]) + (
        f"#{anchor}" if anchor else ""
    )


@entry_source()
def notice_entries(actor: Actor, customer, limit: int) -> list[TimelineEntry]:
    """Every notice sent about the customer's subscriptions: its kind, subject, delivered or the error."""
    notices = (
        selectors.notices_for(actor)
        .filter(subscription__customer=customer)
        .order_by("-created_at", "-id")[:limit]
    )
    return [
        TimelineEntry(
            when=n.created_at,
            kind="notice",
            title=n.get_kind_display(),
            subject=n.subscription.product.name,
            lines=tuple(line for line in (f"“{n.subject}”", f"To {n.to}" if n.to else "") if line),
            tone="active" if n.delivered else "failed",
            state="Delivered" if n.delivered else "Not delivered",
            who="E-mail to the customer",
            note="" if n.delivered else (n.error or "Not delivered yet."),
            url=_subscription_url(n.subscription_id, "notices"),
            pk=n.pk,
        )
        for n in notices
    ]


def _quoted(field: str):
    """A JSON string value as it appears in a stored body: the id between double quotes."""
    return Concat(Value('"'), F(field), Value('"'), output_field=TextField())


def webhook_events_of(actor: Actor, customer) -> QuerySet[WebhookEvent]:
    """Verified Digital River events whose body names one of the customer's subscriptions (our
    subscriptionId) or orders, newest first, in one query (the ids are matched in the database)."""
    body = ExpressionWrapper(OuterRef("body"), output_field=TextField())
    subscriptions = (
        selectors.subscriptions_for(actor)
        .filter(customer=customer)
        .filter(Contains(body, _quoted("subscription_id")))
    )
    orders = (
        selectors.checkouts_for(actor)
        .filter(customer=customer)
        .exclude(order_id="")
        .filter(Contains(body, _quoted("order_id")))
    )
    return (
        WebhookEvent.objects.filter(Exists(subscriptions) | Exists(orders))
        .exclude(state__in=EVENTS_SHOWN_EXCLUDE)
        .order_by("-received_at", "-id")
    )


def _event_object(event: WebhookEvent) -> str:
    """What the event is about, e.g. "order 1503548737030" (its data.object, named by its type)."""
    try:
        obj = json.loads(event.body).get("data", {}).get("object", {})
    except (ValueError, AttributeError):
        return ""
    if not isinstance(obj, dict) or not obj.get("id"):
        return ""
    parts = (event.type or "object").split(".")
    return f"{'charge' if 'charge' in parts else parts[0]} {obj['id']}"


@entry_source()
def webhook_entries(actor: Actor, customer, limit: int) -> list[TimelineEntry]:
    """The Digital River events that touched the customer, with how they were processed."""
    entries = []
    for event in webhook_events_of(actor, customer)[:limit]:
        about = _event_object(event)
        entries.append(
            TimelineEntry(
                when=event.received_at,
                kind="webhook",
                title=event.type or "Event",
                subject=f"Digital River {about}" if about else "",
                lines=(f"Event {event.event_id}",) if event.event_id else (),
                tone=EVENT_TONES.get(event.state, "plain"),
                state=event.get_state_display(),
                who="Digital River",
                face="Webhook",
                note=event.error,
                pk=event.pk,
            )
        )
    return entries


@entry_source(claims=REFUND_ACTIONS)
def refund_entries(actor: Actor, customer, limit: int) -> list[TimelineEntry]:
    """Money given back: orders refunded (in full, within DigiCert's 30 days) and renewals refunded
    because they could not be delivered (two queries)."""
    refunded_at = Subquery(
        AuditEvent.objects.filter(
            content_type=ContentType.objects.get_for_model(Checkout),
            object_id=Cast(OuterRef("pk"), CharField()),
            action="billing.refunded",
        )
        .order_by("-created_at", "-id")
        .values("created_at")[:1]
    )
    checkouts = (
        selectors.checkouts_for(actor)
        .filter(customer=customer, refunded_amount__gt=0)
        .annotate(refunded_at=Coalesce(refunded_at, "updated_at"))
        .order_by("-refunded_at", "-id")[:limit]
    )
    entries = [
        TimelineEntry(
            when=c.refunded_at,
            kind="refund",
            title=f"Refunded {c.refunded_amount:,} {c.currency}",
            subject=f"Order {c.order_id}" if c.order_id else str(c),
            lines=(
                f"Captured {c.captured_amount:,} {c.currency}; refunded {c.refunded_amount:,} {c.currency}.",
            ),
            tone="cancelled",
            state="Refunded",
            who="Digital River",
            url=reverse("dashboard:checkout", args=[c.pk]),
            pk=c.pk,
        )
        for c in checkouts
    ]
    renewals = (
        Renewal.objects.filter(
            subscription__in=selectors.subscriptions_for(actor).filter(customer=customer).values("pk"),
            state=RenewalState.REFUNDED,
        )
        .select_related("subscription__product")
        .order_by("-updated_at", "-id")[:limit]
    )
    for r in renewals:
        currency = r.subscription.product.currency
        entries.append(
            TimelineEntry(
                when=r.updated_at,
                kind="refund",
                title=f"Renewal refunded{f' {r.amount:,} {currency}' if r.amount is not None else ''}",
                subject=r.subscription.product.name,
                lines=(
                    f"The renewal of {r.renewal_date:%d %b %Y} could not be delivered"
                    + (f" (invoice {r.invoice_id})." if r.invoice_id else "."),
                ),
                tone="cancelled",
                state="Refunded",
                who="Digital River",
                url=_subscription_url(r.subscription_id),
                pk=r.pk,
            )
        )
    return entries
