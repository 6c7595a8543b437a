"""`manage.py vendor_check`: green on the sandbox, red with a wrong key, and never a write call."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from tests.factories import DIGICERT_PARTNER_KEY, PartnerFactory
from tests.sandbox_helpers import vendor_request_count
from vendors.digicert.client import DigiCertClient
from vendors.sandbox.digitalriver import views as dr_sandbox
from vendors.sandbox.state import RequestLogEntry

CHECKS = ("reachable", "authenticated", "right key type", "API version", "clock skew")
BAD_DIGICERT_KEY = "dc-wrong-key-not-registered-9f3a"
BAD_CLOUDFLARE_TOKEN = "cf-wrong-token-not-registered-7c1e"
BAD_DR_KEY = "sk_test_wrong_key_5d2b"


def run(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("vendor_check", *args, stdout=out, stderr=io.StringIO())
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


def row(output: str, vendor: str, check: str, subject: str = "") -> str:
    lines = [
        line
        for line in output.splitlines()
        if line.startswith(vendor + " ") and f"  {check}  " in line and subject in line
    ]
    assert len(lines) == 1, f"expected one {vendor} {check!r} row in:\n{output}"
    return lines[0]


@pytest.fixture
def onboarded(sandbox):
    return PartnerFactory(slug="northwind")


@pytest.fixture
def dr_expects_its_own_key(sandbox, settings):
    """The Digital River sandbox keeps the key it was set up with while ours is changed."""
    expected, authorize = settings.DIGITALRIVER_API_KEY, dr_sandbox._authorize

    def authorize_with_its_key(request):
        with override_settings(DIGITALRIVER_API_KEY=expected):
            authorize(request)

    sandbox.setattr(dr_sandbox, "_authorize", authorize_with_its_key)


def test_green_against_the_sandbox(onboarded):
    code, output = run()

    assert code == 0, output
    for vendor in ("digicert", "cloudflare", "digitalriver"):
        for check in CHECKS:
            assert "  ok  " in row(output, vendor, check), output
    assert "parent (partner) key" in row(output, "digicert", "right key type")
    assert "v1" in row(output, "digicert", "API version")
    assert "v4" in row(output, "cloudflare", "API version")
    assert "2021-12-13" in row(output, "digitalriver", "API version")
    assert "test mode" in row(output, "digitalriver", "right key type")
    webhook = row(output, "digitalriver", "webhook registered")
    assert "  ok  " in webhook and "http://testserver/webhooks/digitalriver/" in webhook
    assert "northwind" in row(output, "digicert", "authenticated")
    assert "All vendor checks passed." in output


def test_prints_the_assumption_markers_and_where_it_checked(onboarded):
    _, output = run()

    assert "checked against the embedded sandbox, not the real vendor" in output
    assert "assumption  vendors/digicert/client.py:" in output
    assert "assumption  vendors/cloudflare/client.py:" in output


def test_only_the_named_partner(sandbox):
    PartnerFactory(slug="first")
    PartnerFactory(slug="second")

    code, output = run("--partner", "second")

    assert code == 0, output
    assert "second" in row(output, "digicert", "authenticated")
    assert "first (" not in output


def test_unknown_partner_is_refused(sandbox):
    with pytest.raises(CommandError, match="No partner with slug nobody"):
        call_command("vendor_check", "--partner", "nobody", stdout=io.StringIO())


def test_not_onboarded_partners_are_left_out_and_none_fails(sandbox):
    PartnerFactory(slug="halfway", not_onboarded=True)

    code, output = run()

    assert code == 1
    assert "no onboarded partner" in row(output, "digicert", "partner keys")
    assert "halfway" not in output


@pytest.mark.parametrize(
    ("field", "bad", "vendor", "reason", "other"),
    [
        ("digicert_api_key", BAD_DIGICERT_KEY, "digicert", "invalid_api_key", "cloudflare"),
        ("cloudflare_api_token", BAD_CLOUDFLARE_TOKEN, "cloudflare", "10000", "digicert"),
    ],
)
def test_a_bad_partner_key_fails_naming_the_reason(sandbox, field, bad, vendor, reason, other):
    PartnerFactory(slug="northwind", **{field: bad})

    code, output = run()

    assert code == 1
    failing = row(output, vendor, "authenticated")
    assert "FAIL" in failing and f"authentication failed: {reason}" in failing
    assert "  ok  " in row(output, vendor, "reachable")
    assert "skipped" in row(output, vendor, "right key type")
    assert "  ok  " in row(output, other, "authenticated")
    assert bad not in output
    assert f"...{bad[-4:]}" in failing


def test_a_subaccount_key_is_the_wrong_key_type(sandbox):
    created = DigiCertClient(DIGICERT_PARTNER_KEY).create_subaccount(
        name="northwind-check", api_key_name="check", emergency_contact_emails=["ops@example.test"]
    )
    PartnerFactory(slug="northwind", digicert_api_key=created.api_key)

    code, output = run()

    assert code == 1
    assert "  ok  " in row(output, "digicert", "authenticated")
    failing = row(output, "digicert", "right key type")
    assert "FAIL" in failing and "wrong key type" in failing and "access_denied" in failing
    assert created.api_key not in output


def test_bad_digitalriver_key_fails_naming_the_reason(onboarded, dr_expects_its_own_key, settings):
    settings.DIGITALRIVER_API_KEY = BAD_DR_KEY

    code, output = run()

    assert code == 1
    failing = row(output, "digitalriver", "authenticated")
    assert "FAIL" in failing and "authentication failed: unauthorized" in failing
    assert "skipped" in row(output, "digitalriver", "webhook registered")
    assert BAD_DR_KEY not in output


def test_a_public_digitalriver_key_is_the_wrong_key_type(onboarded, settings):
    settings.DIGITALRIVER_API_KEY = "pk_test_public_key_1234"
    # The sandbox accepts whatever key is configured: the prefix alone says it is the wrong kind.

    code, output = run()

    assert code == 1
    assert "public key (pk_)" in row(output, "digitalriver", "right key type")
    assert "pk_test_public_key_1234" not in output


def test_webhook_elsewhere_is_not_registered(onboarded, settings):
    settings.SANDBOX_DR_WEBHOOK_URL = "https://elsewhere.example/hooks/dr/"

    code, output = run()

    assert code == 1
    failing = row(output, "digitalriver", "webhook registered")
    assert "not registered" in failing and "https://elsewhere.example/hooks/dr/" in failing


def test_no_digitalriver_key_is_not_configured(onboarded, settings):
    settings.DIGITALRIVER_API_KEY = ""

    code, output = run()

    assert code == 1
    assert "not configured" in row(output, "digitalriver", "reachable")


def test_makes_no_write_call(onboarded):
    before = vendor_request_count()

    code, output = run()

    assert code == 0, output
    made = RequestLogEntry.objects.order_by("id")[before:]
    assert made, "the check made no vendor call at all"
    assert {entry.method for entry in made} == {"GET"}
    assert {entry.vendor for entry in made} == {"digicert", "cloudflare", "digitalriver"}


def test_no_write_call_when_keys_are_wrong(sandbox, dr_expects_its_own_key, settings):
    PartnerFactory(digicert_api_key=BAD_DIGICERT_KEY, cloudflare_api_token=BAD_CLOUDFLARE_TOKEN)
    settings.DIGITALRIVER_API_KEY = BAD_DR_KEY
    before = vendor_request_count()

    code, _ = run()

    assert code == 1
    assert {entry.method for entry in RequestLogEntry.objects.order_by("id")[before:]} == {"GET"}


def test_the_sandbox_webhook_list_has_digital_rivers_shape(sandbox):
    from tests.contract import schemas
    from vendors.digitalriver.client import DigitalRiverClient

    webhooks = DigitalRiverClient().list_webhooks()

    assert [w["address"] for w in webhooks] == ["http://testserver/webhooks/digitalriver/"]
    schemas.validate_at("digitalriver", schemas.response_pointer("/webhooks", "get"), webhooks)
