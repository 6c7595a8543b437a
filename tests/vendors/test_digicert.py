"""DigiCert Partner API: the client against the sandbox, and the sandbox's own rules."""

import json

import pytest

from tests.vendors.helpers import OTHER_PARTNER_KEY, canned, new_subaccount
from vendors.digicert.client import DigiCertClient
from vendors.errors import VendorError
from vendors.sandbox.digicert.models import DigiCertSubaccount
from vendors.sandbox.services import key_digest
from vendors.sandbox.state import KeyRole, VendorKey

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

    assert (caught.value.status, caught.value.code) == (403, "access_denied")
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


def test_the_sandbox_serves_no_subaccount_listing_as_the_partner_api_documents_none(digicert):
    """vendors.md section 0, item 8: no documented way to find a subaccount by name."""
    new_subaccount(digicert, "acme-customer")
    with pytest.raises(VendorError) as caught:
        digicert._request("GET", "/account/subaccount", params={"name": "acme-customer"})
    assert caught.value.status == 405


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


# --- ACME client parsing (shapes the sandbox never sends) --------------------------------------

CONTRACT = {
    "acme_contract_id": 12345,
    "account_id": 67890,
    "product_name_id": "ssl_dv_rapidssl",
    "created_at": "2025-01-29T10:30:00Z",
    "sans": ["example.com", "www.example.com", "*.example.com"],
    "valid_till": "2027-01-29T10:30:00Z",
    "organization": None,
    "is_organization_validated": False,
    "auto_renew": False,
    "date_canceled": None,
}


def test_documented_contract_example_is_parsed_to_aware_utc_datetimes():
    from datetime import UTC, datetime

    client = DigiCertClient("subaccount")
    canned(client, body=json.dumps(CONTRACT))

    contract = client.get_acme_contract("12345")

    assert (contract.contract_id, contract.account_id, contract.auto_renew) == ("12345", "67890", False)
    assert contract.sans == ("example.com", "www.example.com", "*.example.com")
    assert contract.created_at == datetime(2025, 1, 29, 10, 30, tzinfo=UTC)
    assert contract.valid_till == datetime(2027, 1, 29, 10, 30, tzinfo=UTC)
    assert (contract.date_canceled, contract.organization) == (None, None)
    assert contract.raw == CONTRACT


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-06-01 14:00:00", (2026, 6, 1, 14, 0)),
        ("2026-06-01T16:00:00+02:00", (2026, 6, 1, 14, 0)),
        ("2026-06-01T14:00:00.5Z", (2026, 6, 1, 14, 0)),
    ],
)
def test_vendor_times_become_aware_utc(value, expected):
    from datetime import UTC

    from vendors.http import parse_time

    parsed = parse_time(value)

    assert parsed.tzinfo == UTC
    assert (parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute) == expected


@pytest.mark.parametrize(
    "eab",
    [
        {
            "acme_directory_url": "https://acme.test/dir",
            "eab_set": {"key_id": "kid-1", "hmac_key": "hmac-secret"},
        },
        {"directory_url": "https://acme.test/dir", "eab_set": {"kid": "kid-1", "hmac": "hmac-secret"}},
        {
            "acme_directory_url": "https://acme.test/dir",
            "eab_set": {"eab_kid": "kid-1", "eab_hmac_key": "hmac-secret"},
        },
        {
            "acme_directory_url": "https://acme.test/dir",
            "ext_act_kid": "kid-1",
            "ext_act_hmac": "hmac-secret",
        },
    ],
)
def test_create_contract_response_is_parsed_defensively(eab):
    client = DigiCertClient("subaccount")
    canned(client, status=201, body=json.dumps({**CONTRACT, **eab, "note": "echo hmac-secret"}))

    contract, credentials = client.create_acme_contract(
        product_name_id="ssl_dv_rapidssl", sans=["example.com"], auto_renew=False
    )

    assert (credentials.directory_url, credentials.key_id, credentials.hmac_key) == (
        "https://acme.test/dir",
        "kid-1",
        "hmac-secret",
    )
    assert contract.contract_id == "12345"
    assert "hmac-secret" not in json.dumps(contract.raw)
    assert "hmac-secret" not in repr(credentials)


def test_create_contract_sends_auto_renew_only_when_given():
    client = DigiCertClient("subaccount")
    answer = {
        **CONTRACT,
        "acme_directory_url": "https://acme.test/dir",
        "eab_set": {"key_id": "k", "hmac_key": "h"},
    }
    transport = canned(client, status=201, body=json.dumps(answer))

    client.create_acme_contract(product_name_id="ssl_dv_rapidssl", sans=["example.com"], auto_renew=None)
    client.create_acme_contract(product_name_id="ssl_dv_rapidssl", sans=["example.com"], auto_renew=False)

    sent = [json.loads(request.body) for request in transport.sent]
    assert sent == [
        {"product_name_id": "ssl_dv_rapidssl", "sans": ["example.com"]},
        {"product_name_id": "ssl_dv_rapidssl", "sans": ["example.com"], "auto_renew": False},
    ]


def test_create_contract_answer_lacking_fields_falls_back_on_the_request():
    client = DigiCertClient("subaccount")
    answer = {
        "acme_contract_id": 9,
        "created_at": "2026-01-01T00:00:00Z",
        "acme_directory_url": "https://acme.test/dir",
        "eab_set": {"key_id": "k", "hmac_key": "h"},
    }
    canned(client, status=201, body=json.dumps(answer))

    contract, _ = client.create_acme_contract(
        product_name_id="ssl_dv_rapidssl", sans=["example.com"], auto_renew=True
    )

    assert (contract.product_name_id, contract.sans, contract.auto_renew) == (
        "ssl_dv_rapidssl",
        ("example.com",),
        True,
    )


def test_create_contract_without_eab_is_an_unknown_outcome_that_leaks_nothing():
    client = DigiCertClient("subaccount")
    canned(client, status=201, body=json.dumps({**CONTRACT, "secret_thing": {"hmac_key": "hmac-secret"}}))

    with pytest.raises(VendorError) as caught:
        client.create_acme_contract(product_name_id="ssl_dv_rapidssl", sans=["example.com"], auto_renew=True)

    assert (caught.value.code, caught.value.outcome_unknown, caught.value.raw) == (
        "invalid_response",
        True,
        None,
    )
    assert "hmac-secret" not in str(caught.value)


def test_account_settings_are_read_from_a_mapping_too():
    client = DigiCertClient("subaccount")
    canned(client, body=json.dumps({"auto_renew_subscription": {"value": 1, "is_default": False}}))

    setting = client.get_account_settings()["auto_renew_subscription"]

    assert (setting.name, setting.value, setting.is_default) == ("auto_renew_subscription", "1", False)


def test_regenerate_sends_revoke_existing_and_reads_the_new_set():
    client = DigiCertClient("subaccount")
    body = {
        "acme_directory_url": "https://acme.test/dir",
        "eab_set": {"credential_id": 7, "kid": "k2", "hmac": "h2"},
    }
    transport = canned(client, body=json.dumps(body))

    credentials = client.regenerate_credentials("12345", revoke_existing=False)

    assert json.loads(transport.sent[0].body) == {"revoke_existing": False}
    assert transport.sent[0].url.endswith("/acme/12345/credentials/regenerate")
    assert (credentials.credential_id, credentials.key_id, credentials.hmac_key) == ("7", "k2", "h2")
