"""The big-table admin pieces (core.admin_lists) answer what Django's own would, by index reads."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory

from core.admin_lists import (
    IDENTIFIER,
    BigTableAdmin,
    ProbedDatesQuerySet,
    _probed_class,
    search_branches,
    search_help,
    searched,
    table_count,
)
from core.models import AuditEvent
from partner.models import Customer
from tests.factories import AuditEventFactory, CustomerFactory, PartnerFactory

pytestmark = pytest.mark.django_db

MOMENTS = [
    datetime(2024, 12, 31, 23, 30, tzinfo=UTC),
    datetime(2025, 1, 1, 0, 30, tzinfo=UTC),
    datetime(2025, 1, 17, 12, 0, tzinfo=UTC),
    datetime(2025, 3, 2, 8, 0, tzinfo=UTC),
    datetime(2026, 7, 4, 8, 0, tzinfo=UTC),
]


def _probed(queryset):
    queryset = queryset._chain()
    queryset.__class__ = _probed_class(type(queryset))
    return queryset


@pytest.mark.parametrize("kind", ["year", "month", "day"])
def test_probed_dates_are_the_dates_django_truncates(kind):
    """The date hierarchy's years, months and days read by range probes are those of every row."""
    partner = PartnerFactory()
    for moment in MOMENTS:
        AuditEventFactory(target=partner, created_at=moment)
    rows = AuditEvent.objects.all()
    if kind != "year":  # the hierarchy asks for months inside a year, days inside a month
        rows = rows.filter(created_at__year=2025)
    if kind == "day":
        rows = rows.filter(created_at__month=1)
    probed = _probed(rows)
    assert isinstance(probed, ProbedDatesQuerySet)
    assert list(probed.datetimes("created_at", kind)) == list(rows.datetimes("created_at", kind))
    assert list(probed.datetimes("created_at", kind, order="DESC")) == list(
        rows.datetimes("created_at", kind, order="DESC")
    )


def test_probed_dates_of_no_rows_are_none():
    assert list(_probed(AuditEvent.objects.none()).datetimes("created_at", "year")) == []
    assert list(_probed(AuditEvent.objects.all()).datetimes("created_at", "year")) == []


def test_the_search_finds_the_rows_django_search_finds():
    """Each field read apart, keys united: the same customers as Django's one OR, for every term."""
    partner = PartnerFactory(name="Acme Resellers")
    CustomerFactory(partner=partner, name="Blue Bird", contact_email="ops@blue.example")
    CustomerFactory(partner=partner, name="Red Fox", contact_email="bird@red.example")
    CustomerFactory(name="Green Bird")
    model_admin = admin.site._registry[Customer]
    request = RequestFactory().get("/")
    for term in ["bird", "acme bird", '"Blue Bird"', "nothing", "bird red"]:
        expected, _ = admin.ModelAdmin.get_search_results(model_admin, request, Customer.objects.all(), term)
        found = searched(model_admin, request, Customer.objects.all(), term)
        assert sorted(found.values_list("pk", flat=True)) == sorted(expected.values_list("pk", flat=True)), (
            term
        )


def test_a_narrowed_list_is_counted_exactly():
    """Only an unfiltered list of a table takes the table's count (estimated when big, on PostgreSQL)."""
    CustomerFactory()
    assert table_count(Customer.objects.filter(name="x")) is None
    count = table_count(Customer.objects.all())
    assert count is None or count == 1  # None off PostgreSQL: the paginator counts


def test_the_paginator_is_exact_below_the_estimate_threshold():
    from core.admin_lists import EstimatedCountPaginator

    CustomerFactory.create_batch(3)
    assert EstimatedCountPaginator(Customer.objects.order_by("pk"), 2).count == 3


def test_moments_are_spread_over_years():  # guards the parametrized test's premise
    assert MOMENTS[-1] - MOMENTS[0] > timedelta(days=365)


def _customer_search(term):
    model_admin = admin.site._registry[Customer]
    found, _ = model_admin.get_search_results(RequestFactory().get("/"), Customer.objects.all(), term)
    return set(found.values_list("name", flat=True))


def test_an_identifier_is_found_by_its_exact_value_or_its_start_never_a_middle_part():
    """Identifier rule (`^reference`): exact value and prefix match, case aside; a middle fragment does not."""
    CustomerFactory(name="Blue Bird", reference="acme-0042", contact_email="it@blue.example")
    assert _customer_search("acme-0042") == {"Blue Bird"}
    assert _customer_search("ACME-00") == {"Blue Bird"}
    assert _customer_search("0042") == set()


def test_a_text_field_is_found_by_any_part():
    """Text rule (`name`): a fragment from the middle of a name matches."""
    CustomerFactory(name="Blue Bird", reference="acme-0042", contact_email="it@blue.example")
    assert _customer_search("ue bi") == {"Blue Bird"}


def test_the_search_help_says_how_each_field_matches():
    assert search_help(["name", "^vendor_id", "customer__name"]) == (
        "Exact value or its start: vendor id. Any part of: name, customer name."
    )
    assert admin.site._registry[Customer].search_help_text == (
        "Exact value or its start: reference. Any part of: name, contact email, partner name."
    )


def _searching_admins():
    return [
        (model, model_admin)
        for model, model_admin in sorted(admin.site._registry.items(), key=lambda kv: kv[0]._meta.label)
        if isinstance(model_admin, BigTableAdmin) and model_admin.search_fields
    ]


# Tables of at most two rows per partner (2,000 at a million subscriptions, the bench's book):
# read whole in about a millisecond, so their searched columns need no index.
SMALL_TABLES = {
    "auth_user",
    "billing_plan",
    "billing_product",
    "core_apitoken",
    "partner_partner",
    "partner_membership",
    "reconciliation_run",
    "subscriptions_catalogplan",
}


def _searched_table(model, field: str) -> str:
    """The table holding the column a search field reads (across its relations)."""
    opts = model._meta
    for part in field.removeprefix(IDENTIFIER).split("__")[:-1]:
        opts = opts.get_field(part).related_model._meta
    return opts.db_table


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans and indexes")
def test_every_admin_search_reads_an_index_per_field():
    """Each field's search (an identifier's prefix, a text's trigram) is an index condition, never a scan."""
    request = RequestFactory().get("/")
    unserved = {}
    # Customers' names also lead a b-tree (the list's order): on an empty table reading all of it
    # looks cheaper than the trigram index, so the customers get rows, their trigrams merged out of
    # the GIN pending list (which the planner costs as read whole), and statistics.
    partner = PartnerFactory()
    Customer.objects.bulk_create(
        Customer(partner=partner, name=f"Customer {n:05d}", reference=f"c{n}") for n in range(5000)
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT gin_clean_pending_list('partner_customer_name_trgm'::regclass)")
        cursor.execute("ANALYZE partner_customer")
        # Empty tables are scanned whatever their indexes: forbid the scan to see which index serves.
        cursor.execute("SET LOCAL enable_seqscan = off")
    for model, model_admin in _searching_admins():
        branches = search_branches(model_admin, request, "acme42")  # trigrams: none in "ab-12"
        for field, branch in zip(model_admin.search_fields, branches, strict=True):
            if _searched_table(model, field) in SMALL_TABLES:
                continue
            plan = branch.explain()
            # The searched expression (UPPER(...)) must be what an index is read by, not a filter.
            if not any("Index Cond" in line and "upper(" in line for line in plan.splitlines()):
                unserved[f"{model._meta.label} {field}"] = plan
    assert not unserved, "\n\n".join(f"{k}:\n{v}" for k, v in unserved.items())
