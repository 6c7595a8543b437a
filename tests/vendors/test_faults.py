"""Injected faults: what the client sees, and what the vendor did (or did not do) meanwhile."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from tests.vendors.helpers import new_subaccount
from vendors.errors import VendorError
from vendors.sandbox import services
from vendors.sandbox.cloudflare.models import CloudflareAccount
from vendors.sandbox.digicert.models import DigiCertSubaccount
from vendors.sandbox.state import Fault

pytestmark = pytest.mark.django_db


def _create_fails(client) -> VendorError:
    with pytest.raises(VendorError) as caught:
        new_subaccount(client)
    return caught.value


def test_rate_limit_fault_carries_retry_after(digicert, vendor_sandbox):
    vendor_sandbox.add_fault("digicert", "rate_limit", retry_after=42)

    error = _create_fails(digicert)

    assert (error.status, error.code, error.retryable, error.retry_after) == (
        429,
        "rate_limit_exceeded",
        True,
        42.0,
    )
    assert not DigiCertSubaccount.objects.exists()


def test_rate_limit_fault_without_a_value_still_sends_retry_after(cloudflare, vendor_sandbox):
    vendor_sandbox.add_fault("cloudflare", "rate_limit")

    with pytest.raises(VendorError) as caught:
        cloudflare.create_account(name="acme")

    assert (caught.value.status, caught.value.code, caught.value.retry_after) == (429, "1429", 1.0)


def test_http_500_fault_is_retryable_and_does_nothing(digicert, vendor_sandbox):
    vendor_sandbox.add_fault("digicert", "http_500")

    error = _create_fails(digicert)

    assert (error.status, error.code, error.retryable, error.outcome_unknown) == (
        500,
        "internal_error",
        True,
        False,
    )
    assert not DigiCertSubaccount.objects.exists()


def test_http_fault_may_answer_another_status(cloudflare, vendor_sandbox):
    vendor_sandbox.add_fault("cloudflare", "http_503", status=502, retry_after=5)

    with pytest.raises(VendorError) as caught:
        cloudflare.create_account(name="acme")

    assert (caught.value.status, caught.value.code, caught.value.retry_after) == (502, "1502", 5.0)
    assert caught.value.outcome_unknown  # a gateway error: whether the vendor acted is unknown


def test_timeout_after_fault_commits_the_object(digicert, vendor_sandbox):
    vendor_sandbox.add_fault("digicert", "timeout_after", method="POST")

    error = _create_fails(digicert)

    assert (error.code, error.retryable, error.outcome_unknown) == ("timeout", True, True)
    assert DigiCertSubaccount.objects.get().name == "acme-customer"  # it exists, the answer is lost


def test_timeout_before_fault_does_nothing(digicert, vendor_sandbox):
    vendor_sandbox.add_fault("digicert", "timeout_before")

    error = _create_fails(digicert)

    assert (error.code, error.outcome_unknown) == ("timeout", True)
    assert not DigiCertSubaccount.objects.exists()


def test_drop_after_fault_commits_the_object_and_is_outcome_unknown(cloudflare, vendor_sandbox):
    vendor_sandbox.add_fault("cloudflare", "drop_after")

    with pytest.raises(VendorError) as caught:
        cloudflare.create_account(name="acme")

    assert (caught.value.code, caught.value.outcome_unknown) == ("connection_dropped", True)
    assert CloudflareAccount.objects.count() == 1


def test_drop_before_fault_does_nothing(cloudflare, vendor_sandbox):
    vendor_sandbox.add_fault("cloudflare", "drop_before")

    with pytest.raises(VendorError) as caught:
        cloudflare.create_account(name="acme")

    assert caught.value.outcome_unknown
    assert not CloudflareAccount.objects.exists()


def test_faults_are_logged_with_the_request(digicert, vendor_sandbox):
    vendor_sandbox.add_fault("digicert", "timeout_after", count=1)
    vendor_sandbox.add_fault("digicert", "drop_before", count=1)

    _create_fails(digicert)
    _create_fails(digicert)

    logged = [(r.method, r.path, r.status, r.fault) for r in vendor_sandbox.requests("digicert")]
    assert logged == [
        ("POST", "/account/subaccount", 201, "timeout_after"),
        ("POST", "/account/subaccount", None, "drop_before"),
    ]


def test_fault_rate_and_count(digicert, vendor_sandbox, monkeypatch):
    counted = vendor_sandbox.add_fault("digicert", "http_503", count=2)

    assert _create_fails(digicert).status == 503
    assert _create_fails(digicert).status == 503
    new_subaccount(digicert)  # the count is used up
    counted.refresh_from_db()
    assert (counted.remaining, counted.fired) == (0, 2)

    never = vendor_sandbox.add_fault("digicert", "http_500", rate=0.0)
    new_subaccount(digicert)
    never.refresh_from_db()
    assert never.fired == 0

    half = vendor_sandbox.add_fault("digicert", "http_500", rate=0.5)
    monkeypatch.setattr(services, "roll", lambda: 0.7)
    new_subaccount(digicert)  # 0.7 is not below 0.5: spared
    monkeypatch.setattr(services, "roll", lambda: 0.2)
    assert _create_fails(digicert).status == 500
    half.refresh_from_db()
    assert (half.fired, half.remaining) == (1, None)
    assert DigiCertSubaccount.objects.count() == 3  # only the spared requests created one


def test_fault_matches_vendor_method_and_path(digicert, cloudflare, vendor_sandbox):
    vendor_sandbox.add_fault(
        "digicert", "http_500", method="post", path_regex="^/account/subaccount$", count=1
    )

    cloudflare.find_account("acme")  # another vendor: not matched
    with pytest.raises(VendorError):  # the method and path: matched
        new_subaccount(digicert)
    created = new_subaccount(digicert)  # the fault fired once: spent
    digicert.create_api_key(created.account_id, name="second")  # another path: not matched

    assert Fault.objects.get().fired == 1


def test_invalid_faults_are_refused(db):
    with pytest.raises(ValidationError):
        services.add_fault("digicert", "http_500", path_regex="(")
    with pytest.raises(ValidationError):
        services.add_fault("digicert", "http_500", rate=1.5)
    with pytest.raises(ValidationError):
        services.add_fault("digicert", "meteor_strike")
    with pytest.raises(ValidationError):
        services.add_fault("digicert", "timeout_after", status=502)
    with pytest.raises(ValidationError):
        services.add_fault("digicert", "http_500", count=0)
    assert not Fault.objects.exists()


def test_fault_command_adds_lists_and_clears(capsys):
    call_command(
        "sandbox_fault", "add", "--vendor", "cloudflare", "--kind", "rate_limit", "--method", "post",
        "--path", "^/accounts$", "--retry-after", "30", "--count", "3", "--rate", "0.5",
    )  # fmt: skip
    call_command("sandbox_fault", "add", "--vendor", "digicert", "--kind", "drop_after")
    fault = Fault.objects.get(vendor="cloudflare")
    assert (fault.method, fault.path_regex, fault.retry_after, fault.remaining, fault.rate) == (
        "POST",
        "^/accounts$",
        30.0,
        3,
        0.5,
    )

    capsys.readouterr()
    call_command("sandbox_fault", "list", "--vendor", "cloudflare")
    listed = capsys.readouterr().out
    assert "rate_limit" in listed and "drop_after" not in listed

    call_command("sandbox_fault", "clear", "--vendor", "digicert")
    assert list(Fault.objects.values_list("vendor", flat=True)) == ["cloudflare"]
    call_command("sandbox_fault", "clear")
    assert not Fault.objects.exists()
