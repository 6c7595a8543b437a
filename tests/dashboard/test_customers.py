"""Customers: list with search, filters and pages; add, edit, delete; the customer page; subaccounts."""

import pytest
from django.urls import reverse

from core.models import AuditEvent
from partner.models import Customer, Subaccount
from tests.factories import AcmeContractFactory, CustomerFactory, PartnerFactory, SubaccountFactory
from tests.sandbox_helpers import vendor_request_count

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def _names(response) -> list[str]:
    return [customer.name for customer, _ in response.context["rows"]]


# --- List -------------------------------------------------------------------------------


def test_search_finds_customers_by_name_reference_or_contact(owner_client, partner):
    CustomerFactory(partner=partner, name="Globex", reference="globex")
    CustomerFactory(partner=partner, name="Initech", reference="initech", contact_email="ops@initech.test")
    url = reverse("dashboard:customers")

    assert _names(owner_client.get(url, {"q": "glob"})) == ["Globex"]
    assert _names(owner_client.get(url, {"q": "ops@initech"})) == ["Initech"]
    assert "No customer matches" in owner_client.get(url, {"q": "zzz"}).content.decode()


def test_filters_pick_customers_by_subaccounts(owner_client, partner):
    bare = CustomerFactory(partner=partner, name="Bare")
    SubaccountFactory(customer=CustomerFactory(partner=partner, name="Broken"), failed=True)
    SubaccountFactory(
        customer=CustomerFactory(partner=partner, name="Cloudy"), vendor="cloudflare", active=True
    )
    url = reverse("dashboard:customers")

    assert _names(owner_client.get(url, {"status": "attention"})) == ["Broken"]
    assert _names(owner_client.get(url, {"status": "no_subaccount"})) == [bare.name]
    assert _names(owner_client.get(url, {"status": "cloudflare"})) == ["Cloudy"]
    assert _names(owner_client.get(url, {"status": "digicert"})) == ["Broken"]


def test_the_list_is_paginated_and_keeps_the_search(owner_client, partner):
    for i in range(30):
        CustomerFactory(partner=partner, name=f"Shop {i:02}")
    url = reverse("dashboard:customers")

    first = owner_client.get(url, {"q": "shop"})
    second = owner_client.get(url, {"q": "shop", "page": 2})

    assert len(_names(first)) == 25 and len(_names(second)) == 5
    assert "q=shop&amp;page=2" in first.content.decode()
    assert owner_client.get(url, {"page": "999"}).status_code == 200


def test_the_list_shows_each_customers_subaccounts_and_subscriptions(owner_client, partner):
    contract = AcmeContractFactory(subaccount__customer__partner=partner, active=True)

    row = dict(owner_client.get(reverse("dashboard:customers")).context["rows"])

    assert row[contract.customer] == ["1 ACME"]


# --- Add, edit, delete --------------------------------------------------------------------


def test_adding_a_customer_records_it_and_opens_its_page(owner_client, partner):
    response = owner_client.post(
        reverse("dashboard:customer-add"),
        {"name": "Acme Corp", "reference": "acme", "contact_email": "it@acme.test", "country": "nl"},
    )

    customer = Customer.objects.get(reference="acme")
    assert response["Location"] == reverse("dashboard:customer", args=[customer.pk])
    assert customer.partner == partner and customer.country == "NL"
    event = AuditEvent.objects.get(action="customer.created")
    assert event.face == "dashboard" and event.actor == owner_client.user


def test_a_reference_already_used_is_refused_with_the_reason(owner_client, customer):
    response = owner_client.post(
        reverse("dashboard:customer-add"), {"name": "Copy", "reference": customer.reference}
    )

    assert response.status_code == 200
    errors = " ".join(response.context["form"].non_field_errors())
    assert "Some fields are invalid." in errors and "already exists" in errors
    assert Customer.objects.count() == 1


def test_a_malformed_reference_is_a_field_error(owner_client, partner):
    response = owner_client.post(reverse("dashboard:customer-add"), {"name": "X", "reference": "Not A Slug"})

    assert response.context["form"].errors["reference"]
    assert not Customer.objects.exists()


def test_editing_a_customer_saves_through_the_service(owner_client, customer):
    response = owner_client.post(
        reverse("dashboard:customer-edit", args=[customer.pk]),
        {"name": "Renamed", "reference": customer.reference, "contact_name": "Ann"},
    )

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.name == "Renamed" and customer.contact_name == "Ann"
    assert AuditEvent.objects.filter(action="customer.updated", face="dashboard").exists()


def test_the_reference_of_a_customer_with_subaccounts_is_locked(owner_client, customer):
    SubaccountFactory(customer=customer, active=True)

    response = owner_client.post(
        reverse("dashboard:customer-edit", args=[customer.pk]), {"name": customer.name, "reference": "other"}
    )

    assert "The reference cannot change: subaccount names were built from it." in response.content.decode()
    customer.refresh_from_db()
    assert customer.reference != "other"


def test_deleting_a_customer_without_subaccounts(owner_client, customer):
    response = owner_client.post(reverse("dashboard:customer-delete", args=[customer.pk]))

    assert response["Location"] == reverse("dashboard:customers")
    assert not Customer.objects.exists()


def test_deleting_a_customer_with_subaccounts_is_refused_with_the_reason(owner_client, customer):
    SubaccountFactory(customer=customer, active=True)

    response = owner_client.post(reverse("dashboard:customer-delete", args=[customer.pk]), follow=True)

    assert "This customer has vendor subaccounts and cannot be deleted." in response.content.decode()
    assert Customer.objects.filter(pk=customer.pk).exists()


# --- The customer page ------------------------------------------------------------------------


def test_the_customer_page_shows_subaccounts_contracts_and_one_history(owner_client, customer, contract):
    page = owner_client.get(reverse("dashboard:customer", args=[customer.pk])).content.decode()

    assert contract.subaccount.name in page and "Active" in page
    assert contract.sans[0] in page and reverse("dashboard:acme", args=[contract.pk]) in page
    for label in ("Subaccount requested", "Subaccount created at the vendor", "ACME subscription ordered"):
        assert label in page
    assert "ACME contract created at DigiCert" in page and "Task" in page


def test_the_history_is_limited_until_asked_for_in_full(owner_client, customer):
    from core.actor import Actor, Face
    from partner import services

    actor = Actor(owner_client.user, Face.DASHBOARD)
    for i in range(30):
        services.update_customer(actor, customer, contact_name=f"Person {i}")
    url = reverse("dashboard:customer", args=[customer.pk])

    assert len(owner_client.get(url).context["timeline"]) == 25
    assert len(owner_client.get(url, {"history": "all"}).context["timeline"]) == 30


def test_the_history_leaves_out_other_customers(owner_client, customer, partner):
    other = CustomerFactory(partner=partner, name="Someone Else")

    page = owner_client.get(reverse("dashboard:customer", args=[customer.pk])).content.decode()

    assert other.name not in page


# --- Subaccounts ------------------------------------------------------------------------------


def test_requesting_a_subaccount_shows_it_pending_with_live_progress(owner_client, customer):
    response = owner_client.post(
        reverse("dashboard:subaccount-add", args=[customer.pk]),
        {"vendor": "digicert", "name": ""},
        follow=True,
    )

    subaccount = Subaccount.objects.get()
    assert (
        subaccount.name == f"{customer.partner.slug}-{customer.reference}" and subaccount.state == "pending"
    )
    page = response.content.decode()
    assert "Creating at DigiCert" in page
    assert (
        reverse("dashboard:subaccount-progress", args=[subaccount.pk]) in page
        and 'hx-trigger="every 2s"' in page
    )


def test_a_subaccount_is_created_at_the_vendor_through_the_sandbox(
    owner_client, customer, sandbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("dashboard:subaccount-add", args=[customer.pk]), {"vendor": "digicert"})

    assert Subaccount.objects.get().state == "active"


def test_a_name_breaking_the_convention_is_refused_with_the_pattern(owner_client, customer):
    before = vendor_request_count()

    response = owner_client.post(
        reverse("dashboard:subaccount-add", args=[customer.pk]), {"vendor": "digicert", "name": "Whatever"}
    )

    form = response.context["form"]
    assert "breaks" in " ".join(form.non_field_errors()) and "{partner}-{customer}" in " ".join(
        form.errors["name"]
    )
    assert not Subaccount.objects.exists() and vendor_request_count() == before


def test_a_subaccount_before_onboarding_is_complete_is_refused(login):
    partner = PartnerFactory(not_onboarded=True)
    customer = CustomerFactory(partner=partner)
    client = login("owner", partner)

    page = client.get(reverse("dashboard:subaccount-add", args=[customer.pk])).content.decode()
    response = client.post(reverse("dashboard:subaccount-add", args=[customer.pk]), {"vendor": "digicert"})

    assert "Onboarding is not finished" in page and "Legal organization name" in page
    assert "has not finished onboarding" in response.content.decode()
    assert not Subaccount.objects.exists()


def test_only_vendors_without_a_subaccount_are_offered(owner_client, customer):
    SubaccountFactory(customer=customer, active=True)

    form = owner_client.get(reverse("dashboard:subaccount-add", args=[customer.pk])).context["form"]

    assert [v for v, _ in form.fields["vendor"].choices] == ["cloudflare"]


def test_retrying_a_failed_subaccount_queues_it_again(owner_client, customer):
    subaccount = SubaccountFactory(customer=customer, failed=True)

    response = owner_client.post(reverse("dashboard:subaccount-retry", args=[subaccount.pk]), follow=True)

    subaccount.refresh_from_db()
    assert subaccount.state == "pending"
    assert "is queued again" in response.content.decode()


def test_retrying_a_subaccount_that_did_not_fail_is_refused_with_the_reason(owner_client, customer):
    subaccount = SubaccountFactory(customer=customer, active=True)

    response = owner_client.post(reverse("dashboard:subaccount-retry", args=[subaccount.pk]), follow=True)

    assert "Only a failed subaccount can be retried; this one is active." in response.content.decode()


def test_the_progress_part_polls_while_pending_and_reloads_the_page_once_settled(owner_client, customer):
    subaccount = SubaccountFactory(customer=customer)
    url = reverse("dashboard:subaccount-progress", args=[subaccount.pk])

    pending = owner_client.get(url, **HX)
    assert 'hx-trigger="every 2s"' in pending.content.decode() and "HX-Refresh" not in pending

    Subaccount.objects.filter(pk=subaccount.pk).update(state="active")
    settled = owner_client.get(url, **HX)
    assert settled["HX-Refresh"] == "true" and "every 2s" not in settled.content.decode()


def test_the_progress_part_without_htmx_goes_back_to_the_customer(owner_client, customer):
    subaccount = SubaccountFactory(customer=customer)

    response = owner_client.get(reverse("dashboard:subaccount-progress", args=[subaccount.pk]))

    assert response["Location"] == reverse("dashboard:customer", args=[customer.pk]) + "#subaccounts"
