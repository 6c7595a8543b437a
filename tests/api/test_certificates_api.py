"""The certificate inventory over the API: the read-only list with its filters, the contract's
refresh action, tenant scoping, and a constant number of queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.models import Operation
from subscriptions.acme import certificates
from subscriptions.acme.models import Certificate
from tests.conftest import system_actor
from tests.factories import (
    AcmeContractFactory,
    CustomerFactory,
    MembershipFactory,
    PartnerFactory,
    SubaccountFactory,
)
from tests.sandbox_helpers import advance_vendor_clock
from tests.subscriptions.conftest import digicert_subaccount, order  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.django_db

LIST = "/api/v1/certificates/"
REFRESH = certificates.RefreshCertificates.kind


def _as(api, partner, role, **membership):
    membership = MembershipFactory(partner=partner, role=role, **membership)
    return api.as_user(membership.user), membership


@pytest.fixture
def contract(order):  # noqa: F811
    return order(auto_renew=True)


@pytest.fixture
def refreshed(run_tasks, contract):
    run_tasks(certificates.refresh_certificates, system_actor(), contract)
    return contract


def _serials(response):
    assert response.status_code == 200, response.content
    return {row["serial_number"] for row in response.json()["results"]}


def test_the_list_shows_each_certificate_with_domain_sans_serial_status_and_expiry(api, partner, refreshed):
    client, _ = _as(api, partner, "viewer")

    rows = client.get(LIST).json()["results"]

    assert {row["domain"] for row in rows} == {"example.com", "www.example.com"}
    for row in rows:
        assert row["sans"] == [row["domain"]] and row["status"] == "issued" and row["gone"] is False
        assert row["contract"] == refreshed.pk and row["customer"] == refreshed.customer_id
        assert row["expires_at"] and len(row["serial_number"]) == 32


def test_the_list_filters_by_customer_contract_expiry_and_gone(api, partner, run_tasks, refreshed, settings):
    client, _ = _as(api, partner, "viewer")
    first = _serials(client.get(LIST))
    assert _serials(client.get(LIST, {"contract": refreshed.pk})) == first
    assert _serials(client.get(LIST, {"customer": refreshed.customer_id})) == first
    assert _serials(client.get(LIST, {"customer": CustomerFactory(partner=partner).pk})) == set()
    assert _serials(client.get(LIST, {"expiring": "true"})) == set()
    settings.CERTIFICATE_EXPIRY_WARNING_DAYS = 95
    assert _serials(client.get(LIST, {"expiring": "true"})) == first
    assert _serials(client.get(LIST, {"expiring": "false"})) == set()

    advance_vendor_clock(days=61)  # replaced by the ACME client at day 60
    run_tasks(certificates.refresh_certificates, system_actor(), refreshed)

    assert not _serials(client.get(LIST)) & first
    assert first < _serials(client.get(LIST, {"include_gone": "true"}))


def test_refresh_on_the_contract_answers_202_and_reads_digicerts_list(
    api, partner, contract, django_capture_on_commit_callbacks
):
    client, _ = _as(api, partner, "technician")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/v1/acme-contracts/{contract.pk}/certificates/refresh/")

    assert response.status_code == 202
    assert response.json()["last_operation"]["kind"] == REFRESH
    assert Certificate.objects.filter(contract=contract).count() == 2
    assert client.get(f"/api/v1/acme-contracts/{contract.pk}/").json()["certificates_synced_at"]


def test_refresh_needs_the_right_to_manage_services(api, partner, contract):
    client, _ = _as(api, partner, "viewer")

    response = client.post(f"/api/v1/acme-contracts/{contract.pk}/certificates/refresh/")

    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert not Operation.objects.filter(kind=REFRESH).exists()


def test_anonymous_gets_401(api, refreshed):
    assert api.get(LIST).status_code == 401
    assert api.post(f"/api/v1/acme-contracts/{refreshed.pk}/certificates/refresh/").status_code == 401


def test_another_partners_user_sees_no_certificate_and_cannot_refresh(api, refreshed):
    client, _ = _as(api, PartnerFactory(), "owner")
    cert = Certificate.objects.filter(contract=refreshed).first()

    assert _serials(client.get(LIST)) == set()
    assert _serials(client.get(LIST, {"customer": refreshed.customer_id, "include_gone": "true"})) == set()
    assert _serials(client.get(LIST, {"contract": refreshed.pk})) == set()
    response = client.get(f"{LIST}{cert.pk}/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = client.post(f"/api/v1/acme-contracts/{refreshed.pk}/certificates/refresh/")
    assert response.status_code == 404
    assert Operation.objects.filter(kind=REFRESH).count() == 1


def test_a_member_limited_to_customers_sees_only_theirs(api, partner, refreshed):
    mine = CustomerFactory(partner=partner)
    my_contract = AcmeContractFactory(subaccount=SubaccountFactory(customer=mine, active=True), active=True)
    Certificate.objects.create(
        partner=partner, customer=mine, contract=my_contract, serial_number="MINE0001", domain="mine.example"
    )
    client, membership = _as(api, partner, "viewer")
    membership.customers.set([mine])

    assert _serials(client.get(LIST)) == {"MINE0001"}
    cert = Certificate.objects.filter(contract=refreshed).first()
    assert client.get(f"{LIST}{cert.pk}/").status_code == 404


def test_the_list_runs_as_many_queries_for_many_certificates_as_for_one(api, partner):
    client, _ = _as(api, partner, "viewer")

    def grow(n):
        for _ in range(n):
            contract = AcmeContractFactory(
                subaccount=SubaccountFactory(customer=CustomerFactory(partner=partner), active=True),
                active=True,
            )
            Certificate.objects.create(
                partner=partner,
                customer=contract.customer,
                contract=contract,
                serial_number=f"S{contract.pk}",
                domain=contract.sans[0],
                expires_at=timezone.now() + timedelta(days=40),
            )

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(LIST).status_code == 200
        return len(queries)

    grow(1)
    count()
    few = count()
    grow(6)
    assert count() == few
