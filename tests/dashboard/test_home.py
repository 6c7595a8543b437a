"""The home page: what needs attention first, key figures, the renewals chart, recent activity."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from dashboard import charts
from dashboard import registry as dashboard
from tests.factories import (
    AcmeContractFactory,
    CustomerFactory,
    PartnerFactory,
    SubaccountFactory,
    operation_on,
)

pytestmark = pytest.mark.django_db


def _home(client):
    response = client.get(reverse("dashboard:home"))
    assert response.status_code == 200
    return response


def _titles(response) -> list[str]:
    return [item.title for item in response.context["attention"]]


def test_everything_in_order_says_all_clear(owner_client, customer):
    SubaccountFactory(customer=customer, active=True)

    response = _home(owner_client)

    assert response.context["attention"] == []
    assert "All clear" in response.content.decode()


def test_a_failed_subaccount_comes_first_with_its_error_and_a_retry(owner_client, customer):
    AcmeContractFactory(subaccount__customer=customer, active=True, credentials_revealed_at=timezone.now())
    SubaccountFactory(customer=CustomerFactory(partner=customer.partner), failed=True)

    response = _home(owner_client)

    first = response.context["attention"][0]
    assert first.severity == "danger" and "subaccount failed" in first.title
    assert "Service unavailable" in first.detail and first.action == "Retry"


def test_a_failed_contract_operation_shows_the_vendors_error(owner_client, partner):
    contract = AcmeContractFactory(subaccount__customer__partner=partner, active=True)
    operation_on(
        contract,
        kind="acme.set_auto_renew",
        state="failed",
        last_error_code="http_503",
        last_error_message="down",
    )

    item = next(i for i in _home(owner_client).context["attention"] if "failed" in i.title)

    assert item.title.startswith("Change renewal failed") and "http_503: down" in item.detail
    assert item.url == reverse("dashboard:acme", args=[contract.pk])


def test_a_failure_fixed_by_a_later_operation_is_not_listed(owner_client, partner):
    contract = AcmeContractFactory(subaccount__customer__partner=partner, active=True)
    old = operation_on(contract, kind="acme.sync", state="failed", last_error_code="http_503")
    later = operation_on(contract, kind="acme.sync", state="succeeded")
    type(later).objects.filter(pk=later.pk).update(created_at=old.created_at + timedelta(seconds=5))

    assert not [t for t in _titles(_home(owner_client)) if "failed" in t]


def test_an_operation_that_keeps_failing_is_struggling(owner_client, partner):
    contract = AcmeContractFactory(subaccount__customer__partner=partner, active=True)
    operation_on(
        contract, kind="acme.sync", attempts=2, last_error_code="http_429", last_error_message="slow down"
    )

    item = next(i for i in _home(owner_client).context["attention"] if "struggling" in i.title)

    assert item.severity == "warning" and "Attempt 2 failed (slow down)" in item.detail


def test_drift_with_digicert_is_listed(owner_client, partner):
    AcmeContractFactory(
        subaccount__customer__partner=partner,
        active=True,
        drift={"auto_renew": {"ours": True, "vendor": False}},
    )

    assert any("DigiCert disagrees on auto_renew" in t for t in _titles(_home(owner_client)))


def test_terms_ending_in_the_next_30_days_say_whether_they_renew(owner_client, partner):
    soon = timezone.now() + timedelta(days=10)
    AcmeContractFactory(
        subaccount__customer__partner=partner, active=True, valid_till=soon, sans=["renews.example"]
    )
    AcmeContractFactory(
        subaccount__customer__partner=partner,
        active=True,
        valid_till=soon,
        auto_renew=False,
        state="renewal_stopped",
        sans=["ends.example"],
    )
    AcmeContractFactory(subaccount__customer__partner=partner, active=True, sans=["later.example"])

    titles = _titles(_home(owner_client))

    assert any(t.startswith("Renews on") and "renews.example" in t for t in titles)
    assert any(t.startswith("Ends on") and "ends.example" in t for t in titles)
    assert not any("later.example" in t and ("Renews" in t or "Ends" in t) for t in titles)


def test_credentials_never_revealed_are_a_reminder(owner_client, partner):
    AcmeContractFactory(subaccount__customer__partner=partner, active=True, sans=["new.example"])

    assert any("Credentials not handed over yet: new.example" in t for t in _titles(_home(owner_client)))


def test_a_cancel_window_closing_within_a_week_is_a_last_call(owner_client, partner):
    AcmeContractFactory(
        subaccount__customer__partner=partner,
        active=True,
        term_started_at=timezone.now() - timedelta(days=26),
        sans=["closing.example"],
    )

    assert any(t.startswith("Cancel window closes") for t in _titles(_home(owner_client)))


def test_onboarding_gaps_are_listed(login):
    partner = PartnerFactory(not_onboarded=True, without_credentials=True)
    CustomerFactory(partner=partner, name="Bare Customer")

    titles = _titles(_home(login("owner", partner)))

    assert "Finish onboarding" in titles
    assert "No DigiCert or Cloudflare credentials" in titles
    assert "Customers without a subaccount" in titles


def test_figures_count_customers_subaccounts_and_live_subscriptions_by_product(owner_client, partner):
    customer = CustomerFactory(partner=partner)
    AcmeContractFactory(subaccount__customer=customer, active=True)
    AcmeContractFactory(subaccount__customer__partner=partner, active=True, product="ssl_basic")
    AcmeContractFactory(subaccount__customer__partner=partner, state="cancelled")
    CustomerFactory(partner=partner)

    figures = {f.label: f for f in _home(owner_client).context["figures"]}

    assert figures["Customers"].value == 4 and "1 without a subaccount" in figures["Customers"].detail
    assert figures["Active ACME subscriptions"].value == 2
    assert dict(figures["Active ACME subscriptions"].breakdown) == {"RapidSSL DV": 1, "Basic OV": 1}


def test_the_renewals_chart_counts_terms_by_month_and_renewal(owner_client, partner):
    now = timezone.now()
    in_two_months = (now.replace(day=15) + timedelta(days=62)).replace(day=15)
    AcmeContractFactory(subaccount__customer__partner=partner, active=True, valid_till=in_two_months)
    AcmeContractFactory(
        subaccount__customer__partner=partner, active=True, valid_till=in_two_months, auto_renew=False
    )

    chart = _home(owner_client).context["charts"][0]

    row = next(r for r in chart["rows"] if r["month"] == in_two_months.date().replace(day=1))
    assert row["values"] == [1, 1] and row["total"] == 2
    assert sum(r["total"] for r in chart["rows"]) == 2
    assert len(chart["bars"]) == 12


def test_recent_activity_shows_who_did_what_through_which_face(owner_client, partner):
    from core.actor import Actor, Face
    from partner import services

    services.create_customer(Actor(owner_client.user, Face.DASHBOARD), partner, name="Acme", reference="acme")

    page = _home(owner_client).content.decode()

    assert "Customer added" in page and owner_client.user.username in page and "Dashboard" in page


def test_chart_geometry_scales_bars_to_nice_gridlines():
    months = charts.month_starts(timezone.now().date(), 3)
    chart = dashboard.BarChart(
        "t", months, [dashboard.Series("a", [0, 3, 7]), dashboard.Series("b", [1, 0, 0])]
    )

    g = charts.chart_geometry(chart)

    assert [t["label"] for t in g["ticks"]] == ["0", "2", "4", "6", "8"]
    assert [len(b["segments"]) for b in g["bars"]] == [1, 1, 1]
    assert g["bars"][2]["segments"][0]["h"] > g["bars"][1]["segments"][0]["h"]


def test_month_starts_cross_the_year():
    from datetime import date

    assert charts.month_starts(date(2026, 11, 22), 3) == [
        date(2026, 11, 1),
        date(2026, 12, 1),
        date(2027, 1, 1),
    ]
