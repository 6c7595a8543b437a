"""The partner's auto-renew default becomes the DigiCert account setting auto_renew_subscription of
each subaccount created from then on: one PATCH /account/settings with the new subaccount's key, once;
none when the default is unset. A failing setting call is retried as its own operation and never
loses the subaccount or creates a second one."""

import pytest
from django.test import Client
from django.urls import reverse

from core.models import Operation, OperationState
from partner import services
from partner.models import Subaccount, SubaccountState
from subscriptions.acme import handlers as acme
from tests.conftest import system_actor
from tests.factories import StaffFactory
from tests.sandbox_helpers import inject_fault, sandbox_account_count
from vendors.digicert import DigiCertClient
from vendors.sandbox.models import RequestLogEntry
from vendors.sandbox.views.digicert import setting_override

pytestmark = pytest.mark.django_db
SETTINGS_PATH = r"/account/settings$"


def _patches() -> int:
    return RequestLogEntry.objects.filter(vendor="digicert", method="PATCH", path="/account/settings").count()


def _create(customer, run_tasks) -> Subaccount:
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "digicert")
    subaccount.refresh_from_db()
    return subaccount


def _setting_at_vendor(subaccount):
    """What the sandbox holds for the subaccount (None: no override, DigiCert's default "0")."""
    from vendors.sandbox.models import DigiCertSubaccount

    return setting_override(
        "auto_renew_subscription", subaccount=DigiCertSubaccount.objects.get(pk=int(subaccount.vendor_id))
    )


@pytest.mark.parametrize("default, sent, recorded", [(True, "1", True), (False, "0", None)])
def test_a_new_subaccount_gets_the_partners_default_once(
    sandbox, customer, run_tasks, default, sent, recorded
):
    customer.partner.auto_renew_default = default
    customer.partner.save()

    subaccount = _create(customer, run_tasks)

    assert subaccount.state == SubaccountState.ACTIVE
    assert _patches() == 1
    setting = DigiCertClient(subaccount.api_key.reveal()).get_account_settings()["auto_renew_subscription"]
    assert setting.value == sent
    # "0" is DigiCert's default: setting it removes the override, and the subaccount records that.
    assert _setting_at_vendor(subaccount) == (sent if sent == "1" else None)
    assert subaccount.auto_renew_setting is recorded and subaccount.settings_read_at
    operation = Operation.objects.get(kind=acme.SetAccountAutoRenew.kind)
    assert operation.state == OperationState.SUCCEEDED and operation.object_id == str(subaccount.pk)


def test_no_default_sends_no_setting(sandbox, customer, run_tasks):
    assert customer.partner.auto_renew_default is None
    subaccount = _create(customer, run_tasks)
    assert subaccount.state == SubaccountState.ACTIVE
    assert _patches() == 0 and _setting_at_vendor(subaccount) is None
    assert not Operation.objects.filter(kind=acme.SetAccountAutoRenew.kind).exists()


def test_a_failing_setting_call_keeps_the_one_subaccount_and_is_retried(
    sandbox, customer, run_tasks, settings, django_capture_on_commit_callbacks
):
    settings.TASK_MAX_ATTEMPTS = 1
    customer.partner.auto_renew_default = True
    customer.partner.save()
    inject_fault("digicert", "http_500", method="PATCH", path=SETTINGS_PATH, times=1)

    subaccount = _create(customer, run_tasks)

    assert subaccount.state == SubaccountState.ACTIVE and subaccount.vendor_id
    assert sandbox_account_count("digicert", subaccount.name) == 1
    failed = Operation.objects.get(kind=acme.SetAccountAutoRenew.kind)
    assert failed.state == OperationState.FAILED
    assert _setting_at_vendor(subaccount) is None

    staff = StaffFactory()
    admin = Client()
    admin.force_login(staff)
    page = admin.get(reverse("admin:partner_subaccount_change", args=[subaccount.pk])).content.decode()
    assert "Change DigiCert account auto-renew setting failed" in page
    with django_capture_on_commit_callbacks(execute=True):  # staff retry: the setting call only
        admin.post(reverse("admin:partner_subaccount_retry_operation", args=[subaccount.pk]))

    subaccount.refresh_from_db()
    assert _setting_at_vendor(subaccount) == "1" and subaccount.auto_renew_setting is True
    assert sandbox_account_count("digicert", subaccount.name) == 1
    assert Subaccount.objects.filter(customer=customer).count() == 1


def test_a_subaccount_linked_after_a_lost_answer_gets_the_default_too(sandbox, customer, run_tasks):
    customer.partner.auto_renew_default = True
    customer.partner.save()
    inject_fault("digicert", "timeout_after", times=1)
    subaccount = _create(customer, run_tasks)
    assert subaccount.state == SubaccountState.UNKNOWN
    from vendors.sandbox.models import DigiCertSubaccount

    found = DigiCertSubaccount.objects.get(name=subaccount.name)
    subaccount = run_tasks(services.link_digicert_subaccount, system_actor(), subaccount, str(found.pk))
    subaccount.refresh_from_db()

    assert subaccount.state == SubaccountState.ACTIVE
    assert _patches() == 1 and _setting_at_vendor(subaccount) == "1"
    assert sandbox_account_count("digicert", subaccount.name) == 1


def test_the_forms_say_the_default_applies_to_subaccounts_created_from_now_on(partner, owner):
    dashboard, admin = Client(), Client()
    dashboard.force_login(owner)
    admin.force_login(StaffFactory())
    for page in (
        dashboard.get(reverse("dashboard:organization-edit")).content.decode(),
        admin.get(reverse("admin:partner_partner_change", args=[partner.pk])).content.decode(),
    ):
        assert "each DigiCert subaccount created from now on" in page
