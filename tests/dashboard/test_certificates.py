"""The certificate inventory in the reseller dashboard: the list, the customer and contract pages,
the CSV, "refresh now", certificates expiring within 30 days on the home page, tenant scoping and
constant query counts."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.models import Operation
from subscriptions.acme import certificates
from subscriptions.acme.models import Certificate
from tests.conftest import system_actor
from tests.dashboard.helpers import count_queries
from tests.factories import AcmeContractFactory, CustomerFactory, SubaccountFactory
from tests.sandbox_helpers import advance_vendor_clock

pytestmark = pytest.mark.django_db

LIST = reverse("dashboard:certificates")
CSV = reverse("dashboard:export", args=["certificates"])
HOME = reverse("dashboard:home")


@pytest.fixture
def refreshed(run_tasks, contract):
    """The contract with DigiCert's certificate list read once (one certificate per SAN, 90 days)."""
    run_tasks(certificates.refresh_certificates, system_actor(), contract)
    contract.refresh_from_db()
    assert Certificate.objects.filter(contract=contract).count() == 2
    return contract


def _csv(client, query=""):
    response = client.get(CSV + query)
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode("utf-8-sig")


def _serials(contract):
    return list(Certificate.objects.filter(contract=contract).values_list("serial_number", flat=True))


def test_the_list_shows_every_certificate_with_its_domain_serial_and_expiry(owner_client, refreshed):
    page = owner_client.get(LIST).content.decode()

    for cert in Certificate.objects.filter(contract=refreshed):
        assert cert.domain in page and cert.serial_number in page
        assert f"{cert.expires_at:%-d %b %Y}" in page


def test_the_customer_page_and_the_contract_page_show_the_certificates(owner_client, refreshed):
    customer_page = owner_client.get(reverse("dashboard:customer", args=[refreshed.customer_id])).content
    contract_page = owner_client.get(reverse("dashboard:acme", args=[refreshed.pk])).content
    for serial in _serials(refreshed):
        assert serial.encode() in customer_page and serial.encode() in contract_page
    assert b"Refresh now" in contract_page


def test_the_csv_lists_every_certificate(owner_client, refreshed):
    text = _csv(owner_client)

    assert text.splitlines()[0].startswith("customer,customer_reference,contract,")
    assert all(serial in text for serial in _serials(refreshed))
    assert len(text.splitlines()) == 3


def test_replaced_certificates_are_listed_only_when_asked(owner_client, run_tasks, refreshed):
    old = _serials(refreshed)
    advance_vendor_clock(days=61)
    run_tasks(certificates.refresh_certificates, system_actor(), refreshed)

    assert not any(serial in owner_client.get(LIST).content.decode() for serial in old)
    with_gone = owner_client.get(LIST + "?gone=1").content.decode()
    assert all(serial in with_gone for serial in old) and "no longer listed" in with_gone


def test_refresh_now_reads_digicerts_list(owner_client, contract, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("dashboard:acme-certificates-refresh", args=[contract.pk]))

    assert response.status_code == 302
    assert Operation.objects.get(kind=certificates.RefreshCertificates.kind).state == "succeeded"
    assert Certificate.objects.filter(contract=contract).count() == 2


def test_refresh_now_needs_the_right_to_manage_services(login, partner, contract):
    client = login("viewer", partner)
    response = client.post(reverse("dashboard:acme-certificates-refresh", args=[contract.pk]))

    assert response.status_code == 403
    assert not Operation.objects.filter(kind=certificates.RefreshCertificates.kind).exists()


# --- Expiring within 30 days on the home page ----------------------------------------------------


def test_a_certificate_expiring_within_30_days_is_on_the_home_attention_list(owner_client, refreshed):
    advance_vendor_clock(days=60, hours=-1)  # 30 days and an hour before the 90-day expiry: not yet
    assert b"Certificate expires on" not in owner_client.get(HOME).content

    advance_vendor_clock(hours=2)  # now within 30 days of it

    page = owner_client.get(HOME).content.decode()
    assert page.count("Certificate expires on") == 2
    assert f"{reverse('dashboard:certificates')}?contract={refreshed.pk}" in page


def test_a_certificate_31_days_from_expiry_is_not_on_the_home_attention_list(owner_client, refreshed):
    advance_vendor_clock(days=59)  # 31 days before expiry

    assert b"Certificate expires on" not in owner_client.get(HOME).content
    assert not owner_client.get(LIST + "?expiring=1").context["rows"]


def test_an_expiring_certificate_no_longer_listed_is_not_on_the_home_page(owner_client, refreshed):
    Certificate.objects.update(gone_at=timezone.now())
    advance_vendor_clock(days=75)

    assert b"Certificate expires on" not in owner_client.get(HOME).content


def test_the_expiring_filter_lists_only_certificates_within_the_warning_days(
    owner_client, refreshed, settings
):
    settings.CERTIFICATE_EXPIRY_WARNING_DAYS = 95
    assert len(owner_client.get(LIST + "?expiring=1").context["rows"]) == 2
    settings.CERTIFICATE_EXPIRY_WARNING_DAYS = 30
    assert not owner_client.get(LIST + "?expiring=1").context["rows"]


# --- Scoping --------------------------------------------------------------------------------------


def test_another_partners_member_sees_none_of_the_certificates(stranger_client, refreshed):
    serials = _serials(refreshed)

    assert not stranger_client.get(LIST).context["rows"]
    assert not any(serial in _csv(stranger_client) for serial in serials)
    assert not any(
        serial in _csv(stranger_client, f"?customer={refreshed.customer_id}") for serial in serials
    )
    for query in (f"?customer={refreshed.customer_id}", f"?contract={refreshed.pk}"):
        assert stranger_client.get(LIST + query).status_code == 404
    assert stranger_client.get(reverse("dashboard:customer", args=[refreshed.customer_id])).status_code == 404
    response = stranger_client.post(reverse("dashboard:acme-certificates-refresh", args=[refreshed.pk]))
    assert response.status_code == 404
    assert Operation.objects.filter(kind=certificates.RefreshCertificates.kind).count() == 1
    assert b"Certificate expires on" not in stranger_client.get(HOME).content


def test_a_member_limited_to_some_customers_sees_only_their_certificates(login, partner, refreshed):
    mine = CustomerFactory(partner=partner)
    Certificate.objects.update(expires_at=timezone.now() + timedelta(days=10))  # on the home page too
    other = Certificate.objects.filter(contract=refreshed).first()
    my_contract = AcmeContractFactory(subaccount=SubaccountFactory(customer=mine, active=True), active=True)
    my_cert = Certificate.objects.create(
        partner=partner,
        customer=mine,
        contract=my_contract,
        serial_number="MINE0001",
        domain="mine.example.com",
        expires_at=timezone.now() + timedelta(days=10),
    )
    client = login("technician", partner)
    client.user.membership.customers.set([mine])

    assert [c.pk for c in client.get(LIST).context["rows"]] == [my_cert.pk]
    text = _csv(client)
    assert "MINE0001" in text and other.serial_number not in text
    assert client.get(LIST + f"?customer={refreshed.customer_id}").status_code == 404
    home = client.get(HOME).content.decode()
    assert "mine.example.com" in home and f"{other.domain} ({refreshed.customer.name})" not in home


# --- Query counts ---------------------------------------------------------------------------------


def _grow(partner, customer, contract, n):
    for i in range(n):
        other = CustomerFactory(partner=partner)
        another = AcmeContractFactory(subaccount=SubaccountFactory(customer=other, active=True), active=True)
        for target in (contract, another):
            Certificate.objects.create(
                partner=partner,
                customer=target.customer,
                contract=target,
                serial_number=f"GROW{target.pk}X{i}X{Certificate.objects.count()}",
                domain=f"host{i}.example.com",
                sans=[f"host{i}.example.com"],
                status="issued",
                expires_at=timezone.now() + timedelta(days=5 + i),
            )


@pytest.mark.parametrize("page", ["list", "expiring", "csv", "home", "customer", "contract"])
def test_the_certificate_pages_run_as_many_queries_for_many_rows_as_for_one(owner_client, partner, page):
    customer = CustomerFactory(partner=partner)
    contract = AcmeContractFactory(subaccount=SubaccountFactory(customer=customer, active=True), active=True)
    url = {
        "list": LIST,
        "expiring": LIST + "?expiring=1",
        "csv": CSV,
        "home": HOME,
        "customer": reverse("dashboard:customer", args=[customer.pk]),
        "contract": reverse("dashboard:acme", args=[contract.pk]),
    }[page]
    _grow(partner, customer, contract, 1)
    count_queries(owner_client, url)  # warm caches (content types, sessions)

    few = count_queries(owner_client, url)
    _grow(partner, customer, contract, 6)
    many = count_queries(owner_client, url)

    assert few == many, f"{page}: {few} queries with few rows, {many} with many"


def test_anonymous_visitors_are_sent_to_sign_in(client, refreshed):
    assert client.get(LIST).status_code == 302
    assert client.get(CSV).status_code == 302
