"""The reseller dashboard's shared kernel: how each app adds its parts, and small view helpers.

Each app describes what it brings to the dashboard in its own `dashboard.py` (found at start-up,
like `admin.py`): navigation entries, home figures, "needs attention" items, home charts, sections
of the customer page, sources of the customer timeline and CSV exports. The pages that gather
them (home, customer detail, exports) know no app; a new app plugs in without touching them.

Every contribution is a function of the acting user that runs a fixed number of queries,
whatever the number of rows, so the pages stay constant in queries as data grows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.utils.module_loading import autodiscover_modules

from core.csv_export import csv_lines
from core.errors import DomainError

SEVERITY_ORDER = {"danger": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class NavItem:
    """A link in the dashboard's navigation; shown when the member has `capability` (or always)."""

    label: str
    url_name: str
    order: int = 100
    capability: str | None = None
    icon: str = ""


@dataclass(frozen=True)
class Figure:
    """One key figure on the home page, e.g. "Active ACME subscriptions: 12"."""

    label: str
    value: int | Decimal | str
    detail: str = ""
    url: str = ""
    breakdown: tuple[tuple[str, int | Decimal | str], ...] = ()


@dataclass(frozen=True)
class Attention:
    """One thing the reseller should look at: what, why, where to act, and how urgent."""

    severity: str  # danger | warning | info
    title: str
    detail: str
    url: str
    action: str = "Open"
    when: datetime | None = None
    category: str = ""


@dataclass(frozen=True)
class Series:
    label: str
    values: list[int | Decimal]
    tone: str = "primary"  # a CSS tone: primary, muted, warning, danger, success


@dataclass(frozen=True)
class BarChart:
    """Month buckets with one or more stacked series, drawn server-side as SVG."""

    title: str
    months: list[date]
    series: list[Series]
    unit: str = ""
    note: str = ""


@dataclass(frozen=True)
class CustomerSection:
    """A block of the customer page: its template and the context built for one customer."""

    key: str
    title: str
    template: str
    context: Callable  # (actor, customer) -> dict
    order: int = 100


@dataclass(frozen=True)
class CsvExport:
    """A CSV download: header row and the rows the actor may see."""

    key: str
    label: str
    header: list[str]
    rows: Callable  # (actor) -> Iterable[list]
    order: int = 100
    capability: str | None = None


@dataclass
class Registry:
    """What the apps contribute to the dashboard (filled once at start-up)."""

    nav: list[NavItem] = field(default_factory=list)
    figures: list[tuple[int, Callable]] = field(default_factory=list)
    attention: list[Callable] = field(default_factory=list)
    charts: list[tuple[int, Callable]] = field(default_factory=list)
    customer_sections: list[CustomerSection] = field(default_factory=list)
    timeline_sources: list[Callable] = field(default_factory=list)
    customer_summaries: list[Callable] = field(default_factory=list)
    exports: dict[str, CsvExport] = field(default_factory=dict)
    action_labels: dict[str, str] = field(default_factory=dict)

    def add_nav(self, item: NavItem) -> None:
        self.nav = sorted(
            [n for n in self.nav if n.url_name != item.url_name] + [item], key=lambda n: n.order
        )

    def figure(self, order: int = 100):
        """Decorate `(actor, now) -> list[Figure]`: figures for the home page."""

        def decorate(func):
            self.figures = sorted([*self.figures, (order, func)], key=lambda pair: pair[0])
            return func

        return decorate

    def attention_source(self, func):
        """Decorate `(actor, now) -> list[Attention]`: items for the home "needs attention" list."""
        self.attention.append(func)
        return func

    def chart(self, order: int = 100):
        """Decorate `(actor, months: list[date]) -> BarChart`: a chart on the home page."""

        def decorate(func):
            self.charts = sorted([*self.charts, (order, func)], key=lambda pair: pair[0])
            return func

        return decorate

    def add_customer_section(self, section: CustomerSection) -> None:
        others = [s for s in self.customer_sections if s.key != section.key]
        self.customer_sections = sorted([*others, section], key=lambda s: s.order)

    def timeline_source(self, func):
        """Decorate `(customer) -> QuerySet`: objects whose audit events join the customer's timeline."""
        self.timeline_sources.append(func)
        return func

    def customer_summary(self, func):
        """Decorate `(actor, customers) -> {customer_id: [str]}`: short facts for the customer list."""
        self.customer_summaries.append(func)
        return func

    def add_export(self, export: CsvExport) -> None:
        self.exports[export.key] = export


registry = Registry()

# Fields of an audit event's changes that say nothing to a reseller (bookkeeping of retries, syncs).
QUIET_FIELDS = {
    "id",
    "partner",
    "customer",
    "subaccount",
    "reference",
    "drift",
    "updated_at",
    "created_at",
    "claimed_until",
    "next_attempt_at",
    "last_attempt_at",
    "attempts",
    "vendor_response",
    "vendor_view",
    "synced_at",
    "settings_read_at",
}


def action_label(action: str) -> str:
    """A person's words for an audit action: the registered label, else the code made readable."""
    if action in registry.action_labels:
        return registry.action_labels[action]
    subject, _, verb = action.partition(".")
    return f"{subject.replace('_', ' ').capitalize()} {verb.replace('_', ' ')}".strip()


def _shown(value) -> str:
    if value is None or value == "":
        return "—"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value) or "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_shown(v)}" for k, v in value.items()) or "—"
    text = str(value)
    return (
        text[:19].replace("T", " ") if len(text) >= 19 and text[4:5] == "-" and text[10:11] == "T" else text
    )


def change_lines(changes: dict, labels: dict[str, str] | None = None, *, full: bool = False) -> list[str]:
    """An audit event's changes as short "field: before → after" lines, one per field, named by
    `labels` (else the code name in words); bookkeeping and a new object's values left out unless
    `full` (support staff see every field)."""
    lines = []
    pairs = [v for v in (changes or {}).values() if isinstance(v, list | tuple) and len(v) == 2]
    if not full and len(pairs) > 4 and all(before is None for before, _ in pairs):
        return []  # a whole new object: the action says it all
    for name, values in (changes or {}).items():
        quiet = name == "updated_at" if full else name in QUIET_FIELDS  # the event has its own time
        if quiet or not isinstance(values, list | tuple) or len(values) != 2:
            continue
        before, after = values
        if before == after:
            continue  # e.g. a secret re-encrypted: "[secret] → [secret]" tells nothing
        label = (labels or {}).get(name) or name.replace("_", " ")
        lines.append(
            f"{label}: {_shown(after)}" if before is None else f"{label}: {_shown(before)} → {_shown(after)}"
        )
    return lines


def autodiscover() -> None:
    """Import every installed app's `dashboard` module so it can register its parts."""
    autodiscover_modules("dashboard")


# --- Helpers for dashboard views ----------------------------------------------------------------


def attention_items(actor, now) -> list[Attention]:
    """Every app's attention items, the most urgent first, then the soonest."""
    items = [item for source in registry.attention for item in source(actor, now)]
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(items, key=lambda i: (SEVERITY_ORDER.get(i.severity, 9), i.when or far))


def show_domain_error(
    form, error: DomainError, field_for: Callable[[str], str | None] | None = None, *, with_code: bool = False
) -> None:
    """A refusal of a service becomes the form's errors: its message on top, field errors in place
    (errors about fields the form does not show, or about the whole object, join the message).
    `field_for` names the form field of a service field where their names differ; support staff
    see the refusal's code too (`with_code`)."""
    form.add_error(None, f"{error.message} [{error.code}]" if with_code else error.message)
    for name, errors in error.fields.items():
        field = field_for(name) if field_for else name
        for text in [errors] if isinstance(errors, str) else errors:
            if field in form.fields and not form.fields[field].disabled:
                form.add_error(field, text)
            elif text != error.message:
                form.add_error(None, text)


def flash_domain_error(request, error: DomainError) -> None:
    messages.error(request, error.message)


def csv_response(filename: str, header: list[str], rows: Iterable[list]) -> StreamingHttpResponse:
    """Stream a CSV download (UTF-8 with BOM so spreadsheets read accents right; formula-like
    cells neutralised by core.csv_export)."""
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def month_starts(today: date, count: int = 12) -> list[date]:
    """The first day of this month and of the `count - 1` months after it."""
    months, year, month = [], today.year, today.month
    for _ in range(count):
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _nice_step(raw: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at least `raw` (chart gridlines)."""
    magnitude = 1.0
    while magnitude * 10 <= raw:
        magnitude *= 10
    while magnitude > raw and magnitude > 1:
        magnitude /= 10
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude


def chart_geometry(chart: BarChart, *, width: int = 480, height: int = 250) -> dict:
    """Everything the SVG template needs: stacked bars, gridlines and labels, computed server-side."""
    left, right, top, bottom = 30, 4, 10, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    count = len(chart.months)
    totals = [sum(series.values[i] for series in chart.series) for i in range(count)]
    peak = float(max(totals, default=0))
    step = _nice_step(max(peak / 4, 1))
    ceiling = step * max(1, -(-peak // step))
    slot = plot_w / max(count, 1)
    bar_w = slot * 0.62

    def y_of(value: float) -> float:
        return top + plot_h - plot_h * value / ceiling

    bars = []
    for i, month in enumerate(chart.months):
        x, base, segments = left + slot * i + (slot - bar_w) / 2, 0.0, []
        for series in chart.series:
            value = float(series.values[i])
            if value:
                y = y_of(base + value)
                segments.append(
                    {
                        "y": round(y, 1),
                        "h": round(y_of(base) - y, 1),
                        "tone": series.tone,
                        "label": series.label,
                        "value": series.values[i],
                    }
                )
            base += value
        bars.append(
            {
                "x": round(x, 1),
                "w": round(bar_w, 1),
                "cx": round(x + bar_w / 2, 1),
                "month": month,
                "label": month.strftime("%b"),
                "year": month.year if (i == 0 or month.month == 1) else None,
                "total": totals[i],
                "segments": segments,
            }
        )
    ticks = []
    value = 0.0
    while value <= ceiling + 1e-9:
        ticks.append({"y": round(y_of(value), 1), "label": f"{value:g}"})
        value += step
    return {
        "chart": chart,
        "width": width,
        "height": height,
        "left": left,
        "right": width - right,
        "baseline": round(top + plot_h, 1),
        "label_y": height - 8,
        "bars": bars,
        "ticks": ticks,
        "empty": peak == 0,
        "rows": [
            {"month": month, "values": [series.values[i] for series in chart.series], "total": totals[i]}
            for i, month in enumerate(chart.months)
        ],
    }
