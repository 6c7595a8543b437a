"""Defect 10 (issue 11): CSV exports wrote `=HYPERLINK(...)`, `+`, `-`, `@` cells unescaped.

Every export goes through core.csv_export: a cell a spreadsheet would read as a formula is
prefixed with a single quote (OWASP); numbers, and text that is a plain number, stay as they are.
"""

import csv
import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from billing.models import RenewalEngine
from core import dashboard as dash
from core.csv_export import FORMULA_TRIGGERS, SafeWriter, csv_lines, safe_cell
from subscriptions.acme.models import Certificate
from tests import factories as bf
from tests.factories import CustomerFactory, MembershipFactory
from tests.reconciliation.factories import contract_row, finding_for, zone_row

EVIL = '=HYPERLINK("http://x")'

# Each registered export and the header of its customer-name column.
CUSTOMER_COLUMN = {
    "customers": "name",
    "subscriptions": "customer",
    "cloudflare": "customer",
    "renewals": "customer",
    "reconciliation": "customer",
    "certificates": "customer",
}


# --- The rule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [EVIL, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1", "-", "+", "=", "@"],
)
def test_a_formula_like_text_cell_is_prefixed_with_a_single_quote(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["-10.00", "+3", "-.5", "12", "0.25", "-7"])
def test_a_text_cell_that_is_a_plain_number_stays_a_number(value):
    assert safe_cell(value) == value


@pytest.mark.parametrize("value", [Decimal("-10.00"), -3, -0.5, 0, True])
def test_numbers_are_written_as_they_are(value):
    assert safe_cell(value) is value


def test_ordinary_text_and_empty_cells_are_unchanged():
    assert [safe_cell(v) for v in ["Globex", "a=b", " =1", "", None, "2026-11-22"]] == [
        "Globex",
        "a=b",
        " =1",
        "",
        "",
        "2026-11-22",
    ]


def test_the_writer_neutralises_every_cell_and_keeps_negative_amounts_numeric():
    line = SafeWriter().writerow([EVIL, Decimal("-10.00"), "-10.00", "@x", None])

    assert line == '"\'=HYPERLINK(""http://x"")",-10.00,-10.00,\'@x,\r\n'
    assert list(csv.reader(io.StringIO(line))) == [["'" + EVIL, "-10.00", "-10.00", "'@x", ""]]


def test_csv_lines_starts_with_a_bom_and_neutralises_the_header_too():
    lines = list(csv_lines(["name", "=bad"], [["-1", "x"]]))
    assert lines == ["\ufeffname,'=bad\r\n", "-1,x\r\n"]


# --- Every export of the dashboard -------------------------------------------------------------------


@pytest.fixture
def owner_client(partner):
    client = Client()
    client.force_login(MembershipFactory(role="owner", partner=partner).user)
    return client


@pytest.fixture
def evil(partner):
    """A customer named like a formula with a row in every export; the money is negative."""
    customer = CustomerFactory(partner=partner, name=EVIL, reference="evil", contact_name="@admin")
    contract = contract_row(customer)
    zone_row(customer, price=Decimal("-10.00"), currency="USD", refusal_message="-1+1")
    plan = bf.plan("year", plan_id="annual", engine=RenewalEngine.BACK_OFFICE)
    bf.subscription(customer, bf.product(partner, plan, price="-10.00", name="+Refund credit"))
    finding_for(contract, summary="=cmd|' /C calc'!A0", resolution_note="@note")
    Certificate.objects.create(
        partner=partner, customer=customer, contract=contract, serial_number="=1+1", domain="evil.example"
    )
    return customer


def _export(client, key) -> tuple[str, list[dict]]:
    response = client.get(reverse("dashboard:export", args=[key]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return text, list(csv.DictReader(io.StringIO(text)))


def _is_plain_number(cell: str) -> bool:
    return safe_cell(cell) == cell


def test_every_registered_export_is_covered_here():
    assert set(CUSTOMER_COLUMN) == set(dash.registry.exports)


@pytest.mark.django_db
@pytest.mark.parametrize("key", sorted(CUSTOMER_COLUMN))
def test_each_export_neutralises_a_formula_in_the_customer_name(owner_client, evil, key):
    text, rows = _export(owner_client, key)

    assert rows, f"the {key} export has no row for the test customer"
    assert {row[CUSTOMER_COLUMN[key]] for row in rows} == {"'" + EVIL}
    assert EVIL not in text.replace("'" + EVIL.replace('"', '""'), "")  # only ever the quoted form
    for row in rows:
        for column, cell in row.items():
            assert not (cell.startswith(FORMULA_TRIGGERS) and not _is_plain_number(cell)), (key, column, cell)


@pytest.mark.django_db
def test_the_other_text_fields_are_neutralised_too(owner_client, evil):
    (customer,) = _export(owner_client, "customers")[1]
    (zone,) = _export(owner_client, "cloudflare")[1]
    (renewal,) = _export(owner_client, "renewals")[1]
    (finding,) = _export(owner_client, "reconciliation")[1]

    assert customer["contact_name"] == "'@admin"
    assert zone["refusal"] == "'-1+1"
    assert renewal["product"] == "'+Refund credit"
    assert finding["summary"] == "'=cmd|' /C calc'!A0" and finding["note"] == "'@note"


@pytest.mark.django_db
def test_a_negative_amount_stays_numeric(owner_client, evil):
    renewals_text, (renewal,) = _export(owner_client, "renewals")
    cloudflare_text, (zone,) = _export(owner_client, "cloudflare")

    assert renewal["amount"] == "-10.00" and Decimal(renewal["amount"]) == Decimal("-10.00")
    assert zone["price_per_period"] == "-10.00"
    assert ",-10.00," in renewals_text and ",-10.00," in cloudflare_text  # unquoted, no apostrophe
