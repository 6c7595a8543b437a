"""The big-table admin pieces (core.admin_lists) answer what Django's own would, by index reads."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib import admin
from django.test import RequestFactory

from core.admin_lists import ProbedDatesQuerySet, _probed_class, searched, table_count
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
