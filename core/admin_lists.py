"""Admin changelists whose cost follows the page, not the table: shared by every admin of a big table.

A stock changelist costs what its table costs: it COUNTs every row twice (the page count and the
"N total"), its date hierarchy reads every row's date, and a foreign-key filter lists every partner.
`BigTableAdmin` keeps each of these to index reads:
- the paginator takes PostgreSQL's estimate (pg_class.reltuples) for an unfiltered list of a big
  table, and counts exactly once a filter or search narrows it (or on another database);
- no "N total" beside a filtered count (`show_full_result_count = False`);
- the date hierarchy finds which years, months or days hold rows with one query of indexed probes
  (at most 31 `LIMIT 1` range reads) instead of truncating every row's date;
- the search reads each field apart (an index each) and unites the keys (`searched`), by one rule
  per kind of field: an identifier (written `^field`: ids, references, order numbers) matches
  its exact value or its start (a prefix b-tree), a text field (names, domains, subjects)
  anywhere (a trigram index); the search box's help says which is which (`search_help`);
- a filter by a column's values (country, action, kind...) reads them by a loose index scan
  (`IndexedValuesFilter`) instead of `SELECT DISTINCT` over the table;
- `PartnerFilter` (and `related_input_filter` for another foreign key) narrows by id or slug typed
  in, instead of listing every partner in the sidebar.
"""

from __future__ import annotations

import calendar
import datetime

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections, models
from django.db.models.constants import LOOKUP_SEP
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.text import smart_split

# Below this many rows (as estimated) a table is counted exactly: the count is cheap and exact.
ESTIMATE_FROM = 50_000
# A search matching up to this many rows is read once into keys; a wider one stays a subquery.
SEARCH_KEYS = 5_000


def table_count(queryset) -> int | None:
    """The rows of the queryset's table when it reads all of them: PostgreSQL's estimate past
    ESTIMATE_FROM rows, an exact count below (one query either way); None for a narrowed queryset."""
    query = queryset.query
    connection = connections[queryset.db]
    if connection.vendor != "postgresql" or query.where or query.distinct or query.combinator:
        return None
    if query.low_mark or query.high_mark:
        return None
    table = connection.ops.quote_name(queryset.model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            # The table's name is the model's own (quoted), never a request's input.
            f"SELECT CASE WHEN reltuples >= %s THEN reltuples::bigint ELSE (SELECT COUNT(*) FROM {table}) END "  # noqa: S608
            "FROM pg_class WHERE oid = %s::regclass",
            [ESTIMATE_FROM, queryset.model._meta.db_table],
        )
        row = cursor.fetchone()
    return row[0] if row else None


class EstimatedCountPaginator(Paginator):
    """A paginator that takes the table's estimate for an unfiltered big table, an exact count otherwise."""

    @cached_property
    def count(self) -> int:
        rows = table_count(self.object_list)
        return rows if rows is not None else super().count


class ProbedDatesQuerySet(models.QuerySet):
    """`dates()` / `datetimes()` for the admin's date hierarchy, by range probes on the field's index.

    Each candidate year (between the first and last date), month or day becomes one `LIMIT 1` read
    of its range; the candidates are one UNION ALL query. Same answer as truncating every row."""

    def datetimes(self, field_name, kind, order="ASC", tzinfo=None):
        return self._probed(field_name, kind, order, aware=True)

    def dates(self, field_name, kind, order="ASC"):
        return self._probed(field_name, kind, order, aware=False)

    def _probed(self, field_name, kind, order, *, aware):
        compound_slices = connections[self.db].features.supports_slicing_ordering_in_compound
        if kind not in ("year", "month", "day") or not compound_slices:  # SQLite: Django's own
            return (
                super().datetimes(field_name, kind, order)
                if aware
                else super().dates(field_name, kind, order)
            )
        base = self.order_by()
        bounds = base.aggregate(first=models.Min(field_name), last=models.Max(field_name))
        if bounds["first"] is None:
            return []
        first, last = bounds["first"], bounds["last"]
        if aware:
            first, last = timezone.localtime(first), timezone.localtime(last)
        starts = _candidate_starts(first.date() if aware else first, last.date() if aware else last, kind)
        ranges = [(start, _next(start, kind)) for start in starts]
        if aware:
            ranges = [(_aware(a), _aware(b)) for a, b in ranges]
        # Ordered by the field, each probe is an index read even when its range is empty.
        probes = [
            base.filter(**{f"{field_name}__gte": a, f"{field_name}__lt": b})
            .order_by(field_name)
            .annotate(probe=models.Value(i))
            .values_list("probe", flat=True)[:1]
            for i, (a, b) in enumerate(ranges)
        ]
        found = set(probes[0].union(*probes[1:], all=True)) if len(probes) > 1 else set(probes[0])
        result = [ranges[i][0] for i in sorted(found)]
        return result[::-1] if order == "DESC" else result


def _aware(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime(day.year, day.month, day.day))


def _next(start: datetime.date, kind: str) -> datetime.date:
    if kind == "year":
        return start.replace(year=start.year + 1)
    if kind == "month":
        return (start.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return start + datetime.timedelta(days=1)


def _candidate_starts(first: datetime.date, last: datetime.date, kind: str) -> list[datetime.date]:
    """The years, months (of `first`'s year) or days (of `first`'s month) the hierarchy may show.

    The hierarchy asks for months and days only inside a year or month it already narrowed to, so
    a level has at most 31 candidates, whatever the size of the table."""
    if kind == "year":
        return [datetime.date(y, 1, 1) for y in range(first.year, last.year + 1)]
    if kind == "month":
        lo = first.month if first.year == last.year else 1
        hi = last.month if first.year == last.year else 12
        return [datetime.date(first.year, m, 1) for m in range(lo, hi + 1)]
    days = calendar.monthrange(first.year, first.month)[1]
    lo = first.day if (first.year, first.month) == (last.year, last.month) else 1
    hi = last.day if (first.year, first.month) == (last.year, last.month) else days
    return [datetime.date(first.year, first.month, d) for d in range(lo, hi + 1)]


def related_input_filter(field_name: str, title: str, *, slug_field: str | None = None):
    """A sidebar filter on a foreign key: a box for the id (or slug) instead of a link per row."""

    class RelatedInputFilter(admin.SimpleListFilter):
        template = "admin/input_filter.html"
        parameter_name = field_name

        def lookups(self, request, model_admin):
            return ()  # typed in, never listed

        def has_output(self):
            return True

        def choices(self, changelist):
            # The "All" link keeps every other parameter; the form re-sends them as hidden fields.
            yield {
                "selected": self.value() is None,
                "query_string": changelist.get_query_string(remove=[self.parameter_name]),
                "display": "All",
                "value": self.value() or "",
                "parameter_name": self.parameter_name,
                "hidden": [
                    (k, v) for k, v in changelist.get_filters_params().items() if k != self.parameter_name
                ],
            }

        def queryset(self, request, queryset):
            value = (self.value() or "").strip()
            if not value:
                return queryset
            if value.isdigit():
                return queryset.filter(**{f"{field_name}_id": int(value)})
            if slug_field:
                return queryset.filter(**{f"{field_name}__{slug_field}": value})
            return queryset.none()

    RelatedInputFilter.title = title
    RelatedInputFilter.__name__ = f"{field_name.title()}InputFilter"
    return RelatedInputFilter


PartnerFilter = related_input_filter("partner", "partner (id or slug)", slug_field="slug")


def distinct_values(model, field) -> list:
    """The field's distinct values by a loose index scan: one index probe per value, not a row read each."""
    connection = connections[model._default_manager.db]
    table, column = connection.ops.quote_name(model._meta.db_table), connection.ops.quote_name(field.column)
    # The names are the model's own (quoted), never a request's input.
    sql = (
        f"WITH RECURSIVE v(x) AS (SELECT MIN({column}) FROM {table} UNION ALL "  # noqa: S608
        f"SELECT (SELECT MIN({column}) FROM {table} WHERE {column} > v.x) FROM v WHERE v.x IS NOT NULL) "
        "SELECT x FROM v WHERE x IS NOT NULL"
    )
    if field.null:
        sql += f" UNION ALL (SELECT NULL FROM {table} WHERE {column} IS NULL LIMIT 1)"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


class IndexedValuesFilter(admin.AllValuesFieldListFilter):
    """Django's filter by the values a column holds, read by `distinct_values` on PostgreSQL."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        if connections[model._default_manager.db].vendor == "postgresql" and LOOKUP_SEP not in field_path:
            self.lookup_choices = distinct_values(model, field)


def _values_filter(model, name):
    """`name` of an indexed plain column listed by its values (no choices, no relation): the indexed filter."""
    if not isinstance(name, str) or LOOKUP_SEP in name:
        return name
    field = model._meta.get_field(name)
    plain = not (
        field.is_relation or field.choices or isinstance(field, (models.BooleanField, models.DateField))
    )
    return (name, IndexedValuesFilter) if plain and _leads_an_index(model, field) else name


def _leads_an_index(model, field) -> bool:
    """Whether an index starts with the field (what a loose index scan reads)."""
    if field.db_index or field.unique:
        return True
    return any(index.fields and index.fields[0].lstrip("-") == field.name for index in model._meta.indexes)


# Django's istartswith (`^field`): an identifier's exact value, or its start, never a middle part.
IDENTIFIER = "^"


def _field_label(search_field: str) -> str:
    return search_field.removeprefix(IDENTIFIER).replace(LOOKUP_SEP, " ").replace("_", " ")


def search_help(search_fields) -> str:
    """The search box's help: which fields match by exact value or start (identifiers), which anywhere."""
    identifiers = [_field_label(f) for f in search_fields if f.startswith(IDENTIFIER)]
    text = [_field_label(f) for f in search_fields if not f.startswith(IDENTIFIER)]
    parts = []
    if identifiers:
        parts.append(f"Exact value or its start: {', '.join(identifiers)}.")
    if text:
        parts.append(f"Any part of: {', '.join(text)}.")
    return " ".join(parts)


class BigTableAdmin(admin.ModelAdmin):
    """A changelist that reads one page of a big table: estimated count, probed dates, no full count."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False

    @property
    def search_help_text(self) -> str | None:
        """Staff read how each searched field matches (an admin's own text, when set, wins)."""
        return search_help(self.search_fields) or None

    def get_list_filter(self, request):
        return [_values_filter(self.model, name) for name in super().get_list_filter(request)]

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip() or not self.get_search_fields(request):
            return super().get_search_results(request, queryset, search_term)
        if connections[queryset.db].vendor != "postgresql":
            return super().get_search_results(request, queryset, search_term)
        return searched(self, request, queryset, search_term), False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not isinstance(queryset, ProbedDatesQuerySet):
            queryset = queryset._chain()
            queryset.__class__ = _probed_class(type(queryset))
        return queryset


_PROBED: dict[type, type] = {}


def _probed_class(queryset_class: type) -> type:
    """The queryset class with probed dates mixed in (one per class, made once)."""
    if queryset_class not in _PROBED:
        name = f"Probed{queryset_class.__name__}"
        _PROBED[queryset_class] = type(name, (ProbedDatesQuerySet, queryset_class), {})
    return _PROBED[queryset_class]


class _OneFieldSearch:
    """Stands for a model admin whose search has one field: Django's own search, one field at a time."""

    def __init__(self, model_admin, field):
        self.opts, self.field = model_admin.opts, field

    def get_search_fields(self, request):
        return [self.field]


def search_branches(model_admin, request, bit: str) -> list:
    """One term's read per search field, each by that field's own rule: the keys it matches."""
    base = model_admin.model._default_manager.order_by()
    return [
        admin.ModelAdmin.get_search_results(_OneFieldSearch(model_admin, field), request, base, bit)[0]
        .order_by()
        .values_list("pk", flat=True)
        for field in model_admin.get_search_fields(request)
    ]


def searched(model_admin, request, queryset, search_term):
    """The admin's search as one indexed read per term and field, their primary keys united.

    Django's search ORs every field in one WHERE: across a join (`customer__name`) that defeats
    every index, so a big table is read whole. Each field alone is an index read (the trigram or
    prefix indexes of the migrations, core.trigram, or the join's foreign key), and the rows are
    those whose key any field matched, for every term, as Django's search finds them."""
    for bit in smart_split(search_term):
        branches = search_branches(model_admin, request, bit)
        matched = branches[0].union(*branches[1:])
        # Read once: the page, its count and the date hierarchy then look rows up by key.
        keys = list(matched[: SEARCH_KEYS + 1])
        queryset = queryset.filter(pk__in=keys if len(keys) <= SEARCH_KEYS else matched)
    return queryset


def count_of(model, field: str):
    """How many `model` rows point at each row through `field`: a correlated count per listed row.

    `annotate(n=Count("related"))` groups the whole joined table before the page is cut (every
    partner's customers to list 100 partners); this counts only the rows of the page."""
    rows = model._default_manager.filter(**{field: models.OuterRef("pk")}).order_by()
    counted = rows.values(field).annotate(n=models.Count("pk")).values("n")
    return Coalesce(models.Subquery(counted, output_field=models.IntegerField()), 0)
