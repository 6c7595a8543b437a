"""DigiCert ACME contracts and account settings: the sandbox's rules, through the client."""

import json
from datetime import UTC, timedelta

import pytest

from tests.vendors.helpers import OTHER_PARTNER_KEY, PARTNER_KEY, new_subaccount
from vendors.digicert.client import DigiCertClient
from vendors.errors import VendorError
from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.digicert.models import AcmeContract, AcmeCredential, DigiCertAccountSetting
from vendors.sandbox.services import key_digest
from vendors.sandbox.state import RequestLogEntry

pytestmark = pytest.mark.django_db

DV = {"product_name_id": "ssl_dv_rapidssl", "sans": ["example.com", "www.example.com"]}
ORGANIZATION = {
    "name": "Example Ltd",
    "address": "1 Main St",
    "city": "Springfield",
    "country": "us",
    "telephone": "+1 555 0100",
}
CONTACTS = [{"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}]


@pytest.fixture
def subaccount(digicert):
    return new_subaccount(digicert)


@pytest.fixture
def acme(subaccount):
    """A client with the subaccount's key, as every ACME call must use."""
    return DigiCertClient(subaccount.api_key)


def _create(acme, **overrides):
    return acme.create_acme_contract(**{"auto_renew": True, **DV, **overrides})


def _refused(call, *args, **kwargs) -> VendorError:
    with pytest.raises(VendorError) as caught:
        call(*args, **kwargs)
    return caught.value


# --- Key scopes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.create_acme_contract(auto_renew=True, **DV),
        lambda c: c.get_acme_contract("1"),
        lambda c: c.patch_acme_contract("1", auto_renew=False),
        lambda c: c.cancel_acme_contract("1"),
        lambda c: c.add_sans("1", ["a.example.com"]),
        lambda c: c.list_credentials("1"),
        lambda c: c.regenerate_credentials("1"),
        lambda c: c.list_certificates("1"),
    ],
)
def test_partner_key_is_refused_on_acme_endpoints_with_403(digicert, acme, call):
    _create(acme)

    error = _refused(call, digicert)

    assert (error.status, error.code, error.message) == (
        403,
        "access_denied",
        "ACME contract endpoints require a subaccount API key.",
    )
    assert AcmeContract.objects.count() == 1


def test_unknown_key_is_refused_on_acme_endpoints_with_401(partner_key):
    error = _refused(DigiCertClient("not-a-key").create_acme_contract, auto_renew=True, **DV)

    assert (error.status, error.code) == (401, "invalid_api_key")


def test_another_subaccounts_contract_is_not_found(digicert, acme, vendor_sandbox):
    contract, _ = _create(acme)
    neighbour = DigiCertClient(new_subaccount(digicert, "neighbour").api_key)
    stranger = DigiCertClient(
        new_subaccount(DigiCertClient(vendor_sandbox.register_key("digicert", OTHER_PARTNER_KEY))).api_key
    )

    for client in (neighbour, stranger):
        error = _refused(client.get_acme_contract, contract.contract_id)
        assert (error.status, error.code) == (404, "resource_not_found")
        assert _refused(client.cancel_acme_contract, contract.contract_id).status == 404
    assert AcmeContract.objects.get().date_canceled is None


def test_reporting_needs_the_partner_key(acme):
    error = _refused(acme.reporting)

    assert (error.status, error.code) == (403, "access_denied")


def test_reporting_lists_only_subaccounts_with_contracts(digicert, acme, subaccount, vendor_sandbox):
    new_subaccount(digicert, "no-contracts")
    first, _ = _create(acme)
    second, _ = _create(acme, sans=["other.example.com"], auto_renew=False)
    other = DigiCertClient(vendor_sandbox.register_key("digicert", OTHER_PARTNER_KEY))
    _create(DigiCertClient(new_subaccount(other, "theirs").api_key))

    report = digicert.reporting()

    assert [account["account_id"] for account in report] == [int(subaccount.account_id)]
    assert [c["acme_contract_id"] for c in report[0]["acme"]] == [
        int(first.contract_id),
        int(second.contract_id),
    ]
    assert report[0]["acme"][1]["sans"] == ["other.example.com"]


# --- Products, SANs, organization --------------------------------------------------------------


def test_dv_contract_needs_no_organization(acme, subaccount):
    contract, eab = _create(acme)

    assert (contract.product_name_id, contract.sans, contract.organization) == (
        "ssl_dv_rapidssl",
        ("example.com", "www.example.com"),
        None,
    )
    assert contract.account_id == subaccount.account_id
    assert contract.valid_till == contract.created_at.replace(year=contract.created_at.year + 1)
    assert eab.directory_url == f"http://testserver/sandbox/digicert/acme/{contract.contract_id}/directory"
    assert eab.key_id and eab.hmac_key and eab.credential_id


def test_unknown_product_is_refused_with_400(acme):
    error = _refused(_create, acme, product_name_id="ssl_plus")

    assert (error.status, error.code) == (400, "invalid_request")
    assert "ssl_dv_rapidssl" in error.message
    assert not AcmeContract.objects.exists()


@pytest.mark.parametrize("product", ["ssl_basic", "ssl_ev_basic"])
def test_ov_and_ev_require_organization(acme, product):
    error = _refused(_create, acme, product_name_id=product, verified_contacts=CONTACTS)

    assert (error.status, error.code) == (400, "invalid_request")
    assert "organization is required" in error.message
    assert not AcmeContract.objects.exists()


def test_ev_requires_verified_contacts(acme):
    error = _refused(_create, acme, product_name_id="ssl_ev_basic", organization=ORGANIZATION)
    contract, _ = _create(
        acme, product_name_id="ssl_ev_basic", organization=ORGANIZATION, verified_contacts=CONTACTS
    )

    assert "verified_contacts is required" in error.message
    assert contract.organization == ORGANIZATION
    assert contract.raw["is_organization_validated"] is True


def test_ov_contract_with_organization_is_created(acme):
    contract, _ = _create(acme, product_name_id="ssl_basic", organization=ORGANIZATION)

    assert (contract.product_name_id, contract.organization) == ("ssl_basic", ORGANIZATION)


@pytest.mark.parametrize("sans", [[], ["not a domain"], "example.com"])
def test_empty_or_malformed_sans_are_refused(acme, sans):
    error = _refused(_create, acme, sans=sans)

    assert (error.status, error.code) == (400, "invalid_request")
    assert not AcmeContract.objects.exists()


def test_add_and_remove_sans(acme):
    contract, _ = _create(acme)

    acme.add_sans(contract.contract_id, ["api.example.com", "example.com"])
    added = acme.get_acme_contract(contract.contract_id).sans
    acme.remove_sans(contract.contract_id, ["www.example.com"])

    assert added == ("example.com", "www.example.com", "api.example.com")
    assert acme.get_acme_contract(contract.contract_id).sans == ("example.com", "api.example.com")


def test_remove_sans_not_on_the_contract_or_all_of_them_is_refused(acme):
    contract, _ = _create(acme)

    missing = _refused(acme.remove_sans, contract.contract_id, ["nope.example.com"])
    everything = _refused(acme.remove_sans, contract.contract_id, list(DV["sans"]))

    assert (missing.status, everything.status) == (400, 400)
    assert acme.get_acme_contract(contract.contract_id).sans == tuple(DV["sans"])


# --- auto_renew ---------------------------------------------------------------------------------


def test_auto_renew_left_out_uses_account_setting(acme):
    acme.update_account_setting("auto_renew_subscription", "1")

    contract, _ = _create(acme, auto_renew=None)

    assert contract.auto_renew is True


def test_auto_renew_left_out_without_setting_is_false(acme):
    contract, _ = _create(acme, auto_renew=None)

    assert contract.auto_renew is False


def test_explicit_auto_renew_wins_over_account_setting(acme):
    acme.update_account_setting("auto_renew_subscription", "1")

    contract, _ = _create(acme, auto_renew=False)

    assert contract.auto_renew is False


def test_parent_account_setting_does_not_decide_for_the_subaccount(digicert, acme):
    digicert.update_account_setting("auto_renew_subscription", "1")

    contract, _ = _create(acme, auto_renew=None)

    assert contract.auto_renew is False
    assert digicert.get_account_settings()["auto_renew_subscription"].value == "1"
    assert acme.get_account_settings()["auto_renew_subscription"].is_default is True


def test_put_without_auto_renew_resets_it_to_false(acme):
    contract, _ = _create(acme, auto_renew=True)

    acme.replace_acme_contract(
        contract.contract_id, product_name_id="ssl_dv_rapidssl", sans=["example.com"], auto_renew=None
    )

    replaced = acme.get_acme_contract(contract.contract_id)
    assert (replaced.auto_renew, replaced.sans) == (False, ("example.com",))


def test_put_for_ov_must_resend_organization(acme):
    contract, _ = _create(acme, product_name_id="ssl_basic", organization=ORGANIZATION)

    error = _refused(
        acme.replace_acme_contract,
        contract.contract_id,
        product_name_id="ssl_basic",
        sans=["example.com"],
        auto_renew=True,
    )
    acme.replace_acme_contract(
        contract.contract_id,
        product_name_id="ssl_basic",
        sans=["example.com"],
        auto_renew=True,
        organization=ORGANIZATION,
    )

    assert "organization is required" in error.message
    assert acme.get_acme_contract(contract.contract_id).sans == ("example.com",)


def test_patch_changes_only_the_given_fields(acme):
    contract, _ = _create(acme, auto_renew=True)

    acme.patch_acme_contract(contract.contract_id, auto_renew=False)

    patched = acme.get_acme_contract(contract.contract_id)
    assert (patched.auto_renew, patched.sans, patched.product_name_id) == (
        False,
        contract.sans,
        "ssl_dv_rapidssl",
    )


def test_patch_refuses_fields_it_cannot_change(acme):
    contract, _ = _create(acme)

    error = _refused(acme._request, "PATCH", f"/acme/{contract.contract_id}", json={"product_name_id": "x"})

    assert (error.status, error.code) == (400, "invalid_request")
    assert "product_name_id" in error.message


def test_patch_needs_a_field(acme):
    with pytest.raises(ValueError):
        acme.patch_acme_contract("1")


# --- Account settings ---------------------------------------------------------------------------


def test_unset_setting_reads_the_system_default(acme):
    setting = acme.get_account_settings()["auto_renew_subscription"]

    assert (setting.value, setting.is_default) == ("0", True)


def test_setting_an_override_reads_is_default_false(acme):
    acme.update_account_setting("auto_renew_subscription", "1")

    setting = acme.get_account_settings()["auto_renew_subscription"]

    assert (setting.value, setting.is_default) == ("1", False)


def test_setting_back_to_default_reads_is_default_true(acme):
    acme.update_account_setting("auto_renew_subscription", "1")

    acme.update_account_setting("auto_renew_subscription", "0")

    setting = acme.get_account_settings()["auto_renew_subscription"]
    assert (setting.value, setting.is_default) == ("0", True)
    assert not DigiCertAccountSetting.objects.exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [("auto_renew", "1"), ("auto_renew_subscription", "yes"), ("auto_renew_subscription", 1)],
)
def test_unknown_setting_or_bad_value_is_refused_with_400(acme, name, value):
    error = _refused(acme._request, "PATCH", "/account/settings", json={"name": name, "value": value})

    assert (error.status, error.code) == (400, "invalid_request")
    assert not DigiCertAccountSetting.objects.exists()


# --- Cancellation -------------------------------------------------------------------------------


def test_delete_on_day_29_succeeds(acme, vendor_sandbox):
    contract, _ = _create(acme)
    vendor_sandbox.advance_clock(days=29)

    acme.cancel_acme_contract(contract.contract_id)

    cancelled = acme.get_acme_contract(contract.contract_id)
    assert cancelled.date_canceled is not None
    assert cancelled.date_canceled - contract.created_at >= timedelta(days=29)
    assert vendor_sandbox.requests("digicert").filter(method="DELETE").get().status == 204


def test_delete_on_day_31_is_refused_with_400(acme, vendor_sandbox):
    contract, _ = _create(acme)
    vendor_sandbox.advance_clock(days=31)

    error = _refused(acme.cancel_acme_contract, contract.contract_id)

    assert (error.status, error.code, error.retryable) == (400, "invalid_request", False)
    assert "only available within 30 days" in error.message
    assert acme.get_acme_contract(contract.contract_id).date_canceled is None
    # Stopping renewal is what remains after day 30.
    acme.patch_acme_contract(contract.contract_id, auto_renew=False)
    assert acme.get_acme_contract(contract.contract_id).auto_renew is False


def test_cancellation_is_irreversible(acme, client):
    contract, eab = _create(acme)
    acme.cancel_acme_contract(contract.contract_id)
    cid = contract.contract_id

    refusals = [
        _refused(acme.cancel_acme_contract, cid),
        _refused(
            acme.replace_acme_contract,
            cid,
            product_name_id="ssl_dv_rapidssl",
            sans=["a.example.com"],
            auto_renew=True,
        ),
        _refused(acme.patch_acme_contract, cid, auto_renew=True),
        _refused(acme.add_sans, cid, ["a.example.com"]),
        _refused(acme.regenerate_credentials, cid),
    ]

    assert {(e.status, e.code) for e in refusals} == {(400, "invalid_request")}
    assert all("is canceled" in e.message for e in refusals)
    stored = AcmeContract.objects.get()
    assert (stored.sans, stored.released_sans) == ([], list(DV["sans"]))
    assert {c.status for c in acme.list_credentials(cid)} == {"revoked"}
    assert acme.list_certificates(cid) == []
    assert client.get(eab.directory_url).status_code == 404


def test_remove_sans_fails_on_cancelled_contract(acme):
    contract, _ = _create(acme)
    acme.cancel_acme_contract(contract.contract_id)

    error = _refused(acme.remove_sans, contract.contract_id, ["example.com"])

    assert (error.status, error.code) == (400, "invalid_request")
    assert "is canceled" in error.message


# --- Credentials --------------------------------------------------------------------------------


def test_regenerate_revokes_existing_credentials_by_default(acme):
    contract, first = _create(acme)

    second = acme.regenerate_credentials(contract.contract_id)

    listed = acme.list_credentials(contract.contract_id)
    assert [(c.credential_id, c.status) for c in listed] == [
        (first.credential_id, "revoked"),
        (second.credential_id, "active"),
    ]
    assert second.key_id != first.key_id and second.hmac_key != first.hmac_key
    assert second.directory_url == first.directory_url


def test_regenerate_with_revoke_false_keeps_old_credentials_active(acme):
    contract, first = _create(acme)

    second = acme.regenerate_credentials(contract.contract_id, revoke_existing=False)

    statuses = {c.credential_id: c.status for c in acme.list_credentials(contract.contract_id)}
    assert statuses == {first.credential_id: "active", second.credential_id: "active"}


def test_credentials_list_shows_hints_not_keys(acme):
    contract, eab = _create(acme)

    (listed,) = acme.list_credentials(contract.contract_id)

    assert (listed.credential_id, listed.kid_hint, listed.status) == (
        eab.credential_id,
        eab.key_id[:4],
        "active",
    )
    assert listed.created_at.tzinfo == UTC
    assert abs(listed.created_at - contract.created_at) < timedelta(seconds=2)


# --- Renewal ------------------------------------------------------------------------------------


def test_auto_renewing_contract_extends_valid_till_when_clock_passes_it(acme, vendor_sandbox):
    contract, _ = _create(acme, auto_renew=True)
    vendor_sandbox.advance_clock(days=366)

    renewed = acme.get_acme_contract(contract.contract_id)

    assert renewed.valid_till == contract.valid_till.replace(year=contract.valid_till.year + 1)
    assert renewed.valid_till > sandbox_now()


def test_contract_without_auto_renew_expires_when_clock_passes_it(acme, vendor_sandbox):
    contract, _ = _create(acme, auto_renew=False)
    vendor_sandbox.advance_clock(days=366)

    expired = acme.get_acme_contract(contract.contract_id)

    assert expired.valid_till == contract.valid_till < sandbox_now()


def test_reporting_applies_renewal_too(digicert, acme, vendor_sandbox):
    contract, _ = _create(acme, auto_renew=True)
    vendor_sandbox.advance_clock(days=400)

    (account,) = digicert.reporting()

    assert account["acme"][0]["valid_till"] > contract.valid_till.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- Directory, certificates --------------------------------------------------------------------


def test_directory_url_serves_an_rfc8555_directory_requiring_eab(acme, client):
    _, eab = _create(acme)

    answer = client.get(eab.directory_url)

    directory = answer.json()
    assert answer.status_code == 200
    assert {"newNonce", "newAccount", "newOrder"} <= set(directory)
    assert directory["meta"] == {"externalAccountRequired": True}
    assert directory["newAccount"].startswith(eab.directory_url.removesuffix("directory"))


def test_certificates_one_issued_per_san(acme):
    contract, _ = _create(acme)

    listed = acme.list_certificates(contract.contract_id)

    assert [(c["domain"], c["status"]) for c in listed] == [
        ("example.com", "issued"),
        ("www.example.com", "issued"),
    ]
    assert all(c["serial_number"] and c["expiration_date"] for c in listed)


# --- Secrets, faults, request log ---------------------------------------------------------------


def test_hmac_key_never_in_raw_or_request_log(digicert, acme, subaccount, vendor_sandbox):
    contract, eab = _create(acme)
    rotated = acme.regenerate_credentials(contract.contract_id, revoke_existing=False)
    digicert.reporting()
    acme.list_credentials(contract.contract_id)

    hmac_keys = [eab.hmac_key, rotated.hmac_key]
    assert eab.hmac_key not in json.dumps(contract.raw)
    assert "hmac_key" not in json.dumps(contract.raw)
    assert contract.raw["eab_set"] == {"credential_id": int(eab.credential_id), "key_id": eab.key_id}
    assert eab.hmac_key not in repr(eab) and eab.hmac_key not in repr(contract)
    stored = "\n".join(
        str(row)
        for model in (RequestLogEntry, AcmeContract, AcmeCredential)
        for row in model.objects.values()
    )
    for secret in [*hmac_keys, subaccount.api_key, PARTNER_KEY]:
        assert secret not in stored
    assert AcmeCredential.objects.filter(hmac_digest=key_digest(eab.hmac_key)).exists()
    assert [r.path for r in vendor_sandbox.requests("digicert")][-4:] == [
        "/acme",
        f"/acme/{contract.contract_id}/credentials/regenerate",
        "/account/reporting",
        f"/acme/{contract.contract_id}/credentials",
    ]


def test_http_fault_on_create_creates_nothing(acme, vendor_sandbox):
    vendor_sandbox.add_fault("digicert", "http_503", method="POST", path_regex="^/acme$", count=1)

    error = _refused(_create, acme)

    assert (error.status, error.retryable, error.outcome_unknown) == (503, True, False)
    assert not AcmeContract.objects.exists()


def test_create_lost_after_commit_is_found_through_reporting(digicert, acme, subaccount, vendor_sandbox):
    started = sandbox_now() - timedelta(seconds=1)
    vendor_sandbox.add_fault("digicert", "drop_after", method="POST", path_regex="^/acme$", count=1)

    error = _refused(_create, acme, sans=["www.example.com", "example.com"])
    found = digicert.find_acme_contract(
        account_id=subaccount.account_id,
        product_name_id="ssl_dv_rapidssl",
        sans=["example.com", "www.example.com"],
        created_after=started,
    )

    assert (error.code, error.outcome_unknown) == ("connection_dropped", True)
    assert found.contract_id == str(AcmeContract.objects.get().id)
    assert (
        digicert.find_acme_contract(
            account_id=subaccount.account_id,
            product_name_id="ssl_basic",
            sans=["example.com", "www.example.com"],
            created_after=started,
        )
        is None
    )
    # The HMAC of the lost answer is gone: new credentials are the way back.
    assert acme.regenerate_credentials(found.contract_id).hmac_key
