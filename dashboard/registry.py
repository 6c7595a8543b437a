"""The reseller dashboard's shared kernel: how each app adds its parts, and small view helpers.

Each app describes what it brings to the dashboard in its own `dashboard.py` (found at start-up,
like `admin.py`): navigation entries, home figures, "needs attention" items, home charts, sections
of the customer page, sources of the customer timeline and CSV exports. The pages that gather
them (home, customer detail, exports) know no app; a new app plugs in without touching them.

Every contribution is a function of the acting user that runs a fixed number of queries,
whatever the number of rows, so the pages stay constant in queries as data grows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.utils.module_loading import autodiscover_modules

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


def autodiscover() -> None:
    """Import every installed app's `dashboard` module so it can register its parts."""
    autodiscover_modules("dashboard")


def attention_items(actor, now) -> list[Attention]:
    """Every app's attention items, the most urgent first, then the soonest."""
    items = [item for source in registry.attention for item in source(actor, now)]
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(items, key=lambda i: (SEVERITY_ORDER.get(i.severity, 9), i.when or far))
