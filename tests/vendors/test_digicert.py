"""DigiCert Partner API: the client against the sandbox, and the sandbox's own rules."""

import json

import pytest

from tests.vendors.helpers import OTHER_PARTNER_KEY, canned, new_subaccount
from vendors.digicert import DigiCertClient
from vendors.errors import VendorError
from vendors.sandbox.models import DigiCertSubaccount, KeyRole, VendorKey
from vendors.sandbox.services import key_digest

pytestmark = pytest.mark.django_db


def test_create_subaccount_returns_the_new_key_once(digicert):
    created = new_subaccount(digicert, "acme-customer")

    subaccount = DigiCertSubaccount.objects.get()
    assert created.account_id == str(subaccount.id)
    assert created.name == "acme-customer"
    assert subaccount.emergency_contact_emails == ["ops@example.com"]
    key = VendorKey.objects.get(role=KeyRole.SUBACCOUNT)
    assert (key.subaccount, key.label, key.digest) == (
        subaccount,
        "acme-customer-key",
        key_digest(created.api_key),
    )


def test_create_subaccount_response_key_is_not_kept_in_raw(digicert):
    created = new_subaccount(digicert)

    assert created.api_key
    assert created.api_key not in json.dumps(created.raw)
    assert created.raw["api_key"] == {
        "id": created.raw["api_key"]["id"],
        "name": "acme-customer-key",
        "status": "active",
    }
    assert created.api_key not in repr(created)


def test_unknown_key_is_rejected_with_invalid_api_key(digicert):
    stranger = DigiCertClient("not-a-registered-key")

    with pytest.raises(VendorError) as caught:
        new_subaccount(stranger)

    assert (caught.value.status, caught.value.code, caught.value.retryable) == (401, "invalid_api_key", False)
    assert not DigiCertSubaccount.objects.exists()


def test_subaccount_key_is_refused_on_partner_endpoint(digicert):
    subaccount_key = new_subaccount(digicert).api_key
    as_subaccount = DigiCertClient(subaccount_key)

    with pytest.raises(VendorError) as caught:
        new_subaccount(as_subaccount, "grandchild")
    with pytest.raises(VendorError) as listing:
        as_subaccount.find_subaccount("acme-customer")

    assert (caught.value.status, caught.value.code) == (403, "access_denied")
    assert listing.value.code == "access_denied"
    assert DigiCertSubaccount.objects.count() == 1


def test_missing_name_is_refused_as_invalid_request(digicert):
    with pytest.raises(VendorError) as caught:
        new_subaccount(digicert, name="  ")

    assert (caught.value.status, caught.value.code, caught.value.retryable) == (400, "invalid_request", False)
    assert not DigiCertSubaccount.objects.exists()
    assert not VendorKey.objects.filter(role=KeyRole.SUBACCOUNT).exists()


def test_malformed_emergency_contacts_are_refused(digicert):
    with pytest.raises(VendorError) as caught:
        digicert.create_subaccount(name="acme", api_key_name="k", emergency_contact_emails=["nobody"])

    assert caught.value.code == "invalid_request"
    assert not DigiCertSubaccount.objects.exists()


def test_duplicate_names_are_allowed(digicert):
    first = new_subaccount(digicert, "twin")
    second = new_subaccount(digicert, "twin")

    assert first.account_id != second.account_id
    assert DigiCertSubaccount.objects.filter(name="twin").count() == 2


def test_find_subaccount_returns_the_oldest_match_without_a_key(digicert):
    oldest = new_subaccount(digicert, "twin")
    new_subaccount(digicert, "twin")
    new_subaccount(digicert, "twin-brother")

    found = digicert.find_subaccount("twin")

    assert (found.account_id, found.name, found.api_key) == (oldest.account_id, "twin", None)


def test_find_subaccount_is_none_when_absent(digicert):
    new_subaccount(digicert, "someone-else")

    assert digicert.find_subaccount("acme-customer") is None


def test_find_subaccount_sees_only_the_partners_own_subaccounts(digicert, vendor_sandbox):
    other = DigiCertClient(vendor_sandbox.register_key("digicert", OTHER_PARTNER_KEY))
    new_subaccount(other, "acme-customer")

    assert digicert.find_subaccount("acme-customer") is None


def test_create_api_key_mints_a_working_subaccount_key(digicert):
    created = new_subaccount(digicert)

    key = digicert.create_api_key(created.account_id, name="replacement")

    assert key != created.api_key
    stored = VendorKey.objects.get(digest=key_digest(key))
    assert (stored.role, stored.subaccount_id, stored.label) == (
        KeyRole.SUBACCOUNT,
        int(created.account_id),
        "replacement",
    )


def test_create_api_key_for_another_partners_subaccount_is_not_found(digicert, vendor_sandbox):
    other = DigiCertClient(vendor_sandbox.register_key("digicert", OTHER_PARTNER_KEY))
    theirs = new_subaccount(other)

    with pytest.raises(VendorError) as caught:
        digicert.create_api_key(theirs.account_id, name="stolen")

    assert (caught.value.status, caught.value.code) == (404, "resource_not_found")
    assert VendorKey.objects.filter(role=KeyRole.SUBACCOUNT).count() == 1


def test_create_api_key_for_an_unknown_subaccount_is_not_found(digicert):
    with pytest.raises(VendorError) as caught:
        digicert.create_api_key("999999", name="nothing")

    assert caught.value.code == "resource_not_found"


def test_create_api_key_needs_the_partner_key(digicert):
    created = new_subaccount(digicert)

    with pytest.raises(VendorError) as caught:
        DigiCertClient(created.api_key).create_api_key(created.account_id, name="self-service")

    assert caught.value.code == "access_denied"


def test_unknown_endpoint_answers_resource_not_found(digicert):
    with pytest.raises(VendorError) as caught:
        digicert._request("GET", "/no/such/thing")

    assert (caught.value.status, caught.value.code) == (404, "resource_not_found")


@pytest.mark.parametrize(
    "body",
    [
        {"id": 77, "name": "acme", "api_key": "plain-string-key"},
        {"account_id": "77", "api_key": {"key": "plain-string-key"}},
    ],
)
def test_create_subaccount_response_is_parsed_defensively(body):
    client = DigiCertClient("partner")
    canned(client, status=201, body=json.dumps(body))

    created = client.create_subaccount(name="acme", api_key_name="k", emergency_contact_emails=[])

    assert (created.account_id, created.name, created.api_key) == ("77", "acme", "plain-string-key")
    assert "plain-string-key" not in json.dumps(created.raw)


def test_create_subaccount_without_an_id_is_an_unknown_outcome_that_keeps_no_body():
    client = DigiCertClient("partner")
    canned(client, status=201, body=json.dumps({"subaccount": {"api_key": "secret-key"}}))

    with pytest.raises(VendorError) as caught:
        client.create_subaccount(name="acme", api_key_name="k", emergency_contact_emails=[])

    assert (caught.value.code, caught.value.outcome_unknown, caught.value.raw) == (
        "invalid_response",
        True,
        None,
    )
    assert "secret-key" not in str(caught.value)
