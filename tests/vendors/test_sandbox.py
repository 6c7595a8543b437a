"""The sandbox itself: credentials, request log, clock, admin, and where it refuses to run."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.vendors.helpers import PARTNER_KEY, TENANT_TOKEN, new_subaccount
from vendors.digicert.client import DigiCertClient
from vendors.errors import VendorError
from vendors.sandbox.clock import advance_clock, sandbox_now
from vendors.sandbox.cloudflare.models import CloudflareAccount
from vendors.sandbox.digicert.models import DigiCertSubaccount
from vendors.sandbox.services import key_digest
from vendors.sandbox.state import Clock, Fault, KeyRole, RequestLogEntry, VendorKey

pytestmark = pytest.mark.django_db


# --- Credentials -------------------------------------------------------------------------------


def test_register_key_is_idempotent_and_stores_only_a_digest(capsys):
    for _ in range(2):
        call_command("sandbox_register_key", vendor="digicert", key=PARTNER_KEY, label="demo")

    key = VendorKey.objects.get()
    assert (key.vendor, key.role, key.label, key.digest) == (
        "digicert",
        KeyRole.PARTNER,
        "demo",
        key_digest(PARTNER_KEY),
    )
    assert PARTNER_KEY not in capsys.readouterr().out


def test_register_token_with_its_unit_and_update_the_unit():
    call_command("sandbox_register_key", "--vendor", "cloudflare", "--key", TENANT_TOKEN, "--unit-id", "u-1")
    call_command("sandbox_register_key", "--vendor", "cloudflare", "--key", TENANT_TOKEN, "--unit-id", "u-2")

    key = VendorKey.objects.get()
    assert (key.role, key.unit_id) == (KeyRole.TENANT_TOKEN, "u-2")


def test_unit_id_is_refused_for_digicert_keys():
    with pytest.raises(CommandError, match="unit id"):
        call_command("sandbox_register_key", vendor="digicert", key=PARTNER_KEY, unit_id="u-1")

    assert not VendorKey.objects.exists()


def test_a_subaccount_key_cannot_be_registered_as_a_partner_key(digicert):
    subaccount_key = new_subaccount(digicert).api_key

    with pytest.raises(CommandError, match="subaccount key"):
        call_command("sandbox_register_key", vendor="digicert", key=subaccount_key)

    assert VendorKey.objects.get(digest=key_digest(subaccount_key)).role == KeyRole.SUBACCOUNT


# --- Request log -------------------------------------------------------------------------------


def test_every_request_is_logged_refusals_included(digicert, cloudflare, vendor_sandbox):
    new_subaccount(digicert)
    with pytest.raises(VendorError):
        cloudflare.create_account(name="")

    logged = [(r.vendor, r.method, r.path, r.status) for r in vendor_sandbox.requests()]
    assert logged == [
        ("digicert", "POST", "/account/subaccount", 201),
        ("cloudflare", "POST", "/accounts", 400),
    ]


def test_no_request_means_no_log(vendor_sandbox, partner_key):
    assert not vendor_sandbox.requests().exists()


def test_sandbox_request_log_never_stores_keys(digicert, cloudflare, vendor_sandbox):
    created = new_subaccount(digicert)
    extra_key = digicert.create_api_key(created.account_id, name="second")
    cloudflare.create_account(name="acme", business_email="ops@example.com")
    cloudflare.find_account("acme")
    vendor_sandbox.add_fault("digicert", "drop_after")
    with pytest.raises(VendorError):
        new_subaccount(digicert)

    secrets = [PARTNER_KEY, TENANT_TOKEN, created.api_key, extra_key]
    stored = []
    for model in (RequestLogEntry, VendorKey, DigiCertSubaccount, CloudflareAccount, Fault, Clock):
        stored += [str(row) for row in model.objects.values()]
    everything = "\n".join(stored)
    assert RequestLogEntry.objects.count() == 5
    for secret in secrets:
        assert secret not in everything


# --- Clock -------------------------------------------------------------------------------------


def test_clock_advance(capsys):
    before = timezone.now()

    call_command("sandbox_clock", "advance", "--days", "30", "--hours", "2")
    call_command("sandbox_clock", "advance", "--days", "1")

    offset = sandbox_now() - timezone.now()
    assert timedelta(days=31, hours=2) - timedelta(seconds=5) < offset <= timedelta(days=31, hours=2)
    assert sandbox_now() > before + timedelta(days=31)
    assert "offset 31 days, 2:00:00" in capsys.readouterr().out


def test_clock_show_and_reset(capsys):
    advance_clock(timedelta(days=3))

    call_command("sandbox_clock", "show")
    assert "offset 3 days" in capsys.readouterr().out
    call_command("sandbox_clock", "reset")
    assert abs(sandbox_now() - timezone.now()) < timedelta(seconds=1)


def test_clock_never_moves_backwards():
    with pytest.raises(CommandError):
        call_command("sandbox_clock", "advance", "--days", "-1")
    with pytest.raises(ValueError):
        advance_clock(timedelta(hours=-1))

    assert abs(sandbox_now() - timezone.now()) < timedelta(seconds=1)


def test_vendor_objects_are_stamped_with_the_sandbox_clock(digicert, cloudflare):
    advance_clock(timedelta(days=40))

    new_subaccount(digicert)
    cloudflare.create_account(name="acme")

    later = timezone.now() + timedelta(days=39)
    assert DigiCertSubaccount.objects.get().created_at > later
    assert CloudflareAccount.objects.get().created_at > later


# --- Where it runs -----------------------------------------------------------------------------


def test_sandbox_refuses_to_run_without_sandbox_enabled(settings):
    settings.SANDBOX_ENABLED = False

    with pytest.raises(ImproperlyConfigured, match="SANDBOX_ENABLED"):
        apps.get_app_config("sandbox").ready()


def test_sandbox_refuses_to_run_under_production_settings(settings):
    settings.SETTINGS_MODULE = "config.settings.production"

    with pytest.raises(ImproperlyConfigured, match="production"):
        apps.get_app_config("sandbox").ready()


# --- Admin -------------------------------------------------------------------------------------


SANDBOX_TABLES = [
    "vendorkey",
    "digicertsubaccount",
    "digicertaccountsetting",
    "acmecontract",
    "acmecredential",
    "cloudflareaccount",
    "cloudflarezone",
    "cloudflaresubscription",
    "requestlogentry",
    "fault",
    "clock",
]


def _fill_sandbox(digicert, cloudflare):
    """One of everything; returns the secrets that must never show."""
    subaccount = new_subaccount(digicert)
    acme = DigiCertClient(subaccount.api_key)
    acme.update_account_setting("auto_renew_subscription", "1")
    _, eab = acme.create_acme_contract(
        product_name_id="ssl_dv_rapidssl", sans=["example.com"], auto_renew=None
    )
    account = cloudflare.create_account(name="acme")
    zone = cloudflare.create_zone(name="example.com", account_id=account.id)
    cloudflare.create_zone_subscription(zone.id, rate_plan_id="PARTNERS_PRO")
    cloudflare.create_account_subscription(account.id, rate_plan_id="TEAMS_STANDARD")
    return [PARTNER_KEY, TENANT_TOKEN, subaccount.api_key, eab.hmac_key]


@pytest.mark.parametrize("model", SANDBOX_TABLES)
def test_admin_lists_every_sandbox_table(admin_client, digicert, cloudflare, model):
    secrets = _fill_sandbox(digicert, cloudflare)

    answer = admin_client.get(f"/admin/sandbox/{model}/")

    assert answer.status_code == 200
    for secret in secrets:
        assert secret not in answer.content.decode()


@pytest.mark.parametrize(
    "model", ["acmecontract", "acmecredential", "digicertaccountsetting", "cloudflarezone", "vendorkey"]
)
def test_admin_change_pages_show_no_secret(admin_client, digicert, cloudflare, model):
    secrets = _fill_sandbox(digicert, cloudflare)
    obj = apps.get_model("sandbox", model).objects.order_by("pk").last()

    page = admin_client.get(f"/admin/sandbox/{model}/{obj.pk}/change/")

    assert page.status_code == 200
    for secret in secrets:
        assert secret not in page.content.decode()


def test_admin_index_has_a_sandbox_vendors_section(admin_client):
    assert "Sandbox vendors" in admin_client.get("/admin/").content.decode()


def test_admin_registers_a_key_from_its_plaintext_once(admin_client):
    answer = admin_client.post(
        "/admin/sandbox/vendorkey/add/",
        {"vendor": "cloudflare", "key": TENANT_TOKEN, "label": "admin", "unit_id": "u-9"},
    )

    assert answer.status_code == 302
    key = VendorKey.objects.get()
    assert (key.role, key.digest, key.unit_id) == (KeyRole.TENANT_TOKEN, key_digest(TENANT_TOKEN), "u-9")
    page = admin_client.get(f"/admin/sandbox/vendorkey/{key.pk}/change/").content.decode()
    assert TENANT_TOKEN not in page


def test_admin_clock_actions_move_the_clock(admin_client):
    admin_client.get("/admin/sandbox/clock/")  # the first visit creates the clock's row

    admin_client.post(
        "/admin/sandbox/clock/",
        {"action": "advance_thirty_one_days", "_selected_action": [Clock.SINGLETON]},
    )
    assert sandbox_now() - timezone.now() > timedelta(days=30, hours=23)

    admin_client.post("/admin/sandbox/clock/", {"action": "reset", "_selected_action": [Clock.SINGLETON]})
    assert abs(sandbox_now() - timezone.now()) < timedelta(seconds=1)
