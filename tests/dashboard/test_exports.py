"""CSV exports of customers and subscriptions: the actor's rows only, with the list's filters."""

import csv
import io

import pytest
from django.urls import reverse

from tests.factories import AcmeContractFactory, CustomerFactory, SubaccountFactory

pytestmark = pytest.mark.django_db


def _rows(client, key, **params):
    response = client.get(reverse("dashboard:export", args=[key]), params)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_customers_csv_lists_customers_with_their_subaccounts(owner_client, partner, other_partner):
    customer = CustomerFactory(partner=partner, name="Globex", reference="globex")
    SubaccountFactory(customer=customer, active=True)
    CustomerFactory(partner=other_partner, name="Not ours")

    rows = _rows(owner_client, "customers")

    assert [r["name"] for r in rows] == ["Globex"]
    assert (
        rows[0]["digicert_subaccount"] == f"{partner.slug}-globex" and rows[0]["digicert_state"] == "active"
    )
    assert rows[0]["cloudflare_subaccount"] == ""


def test_customers_csv_follows_the_lists_search(owner_client, partner):
    CustomerFactory(partner=partner, name="Globex")
    CustomerFactory(partner=partner, name="Initech")

    assert [r["name"] for r in _rows(owner_client, "customers", q="init")] == ["Initech"]


def test_subscriptions_csv_has_term_renewal_and_cancel_dates(owner_client, partner):
    contract = AcmeContractFactory(subaccount__customer__partner=partner, active=True)
    AcmeContractFactory(subaccount__customer__partner=partner, state="cancelled")

    rows = _rows(owner_client, "subscriptions", state="active")

    assert len(rows) == 1
    row = rows[0]
    assert (
        row["domains"] == " ".join(contract.sans) and row["state"] == "active" and row["auto_renew"] == "on"
    )
    assert row["valid_till"] == f"{contract.valid_till:%Y-%m-%d}"
    assert row["cancel_until"] == f"{contract.cancel_window_closes_at:%Y-%m-%d}"
    assert "hmac" not in ",".join(row.values()).lower()
