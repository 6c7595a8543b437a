"""ACME contracts in the admin: list and detail, actions through the services, reveal once, permissions."""

import pytest
from django.urls import reverse

from core.models import AuditEvent
from subscriptions.acme.models import AcmeContract, ContractState
from tests.conftest import retry_failed
from tests.factories import StaffFactory
from tests.sandbox_helpers import advance_vendor_clock, vendor_request_count

pytestmark = pytest.mark.django_db


def _do(client, contract, action, capture):
    with capture(execute=True):
        return client.post(
            reverse("admin:subscriptions_acmecontract_do", args=[contract.pk, action]),
            {"_confirm": "Confirm"},  # past the confirmation page, where the action has one
            follow=True,
        )


def test_list_and_detail_render_with_state_term_renewal_and_masked_key(staff_client, order):
    contract = order(auto_renew=True)
    hmac_key = contract.eab_hmac_key.reveal()
    listing = staff_client.get(reverse("admin:subscriptions_acmecontract_changelist")).content.decode()
    detail = staff_client.get(
        reverse("admin:subscriptions_acmecontract_change", args=[contract.pk])
    ).content.decode()
    assert "Active" in listing and hmac_key not in listing
    assert hmac_key not in detail and hmac_key[-4:] in detail
    assert "decided by: Set on the order" in detail and "Cancel is available until" in detail


def test_order_from_the_admin_goes_active(
    staff_client, customer, digicert_subaccount, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:subscriptions_acmecontract_add"),
            {
                "customer": customer.pk,
                "product": "ssl_dv_rapidssl",
                "sans": "shop.example.com\nwww.shop.example.com",
                "renewal": "account",
                "not_billed_reason": "A free year for a charity",
            },
        )
    assert response.status_code == 302
    contract = AcmeContract.objects.get()
    assert contract.state == ContractState.ACTIVE and contract.auto_renew_source == "default"
    from reconciliation.models import NotBilled

    assert NotBilled.objects.get(target_id=str(contract.pk)).reason == "A free year for a charity"


def test_order_refusal_shows_a_form_error(staff_client, customer, digicert_subaccount):
    response = staff_client.post(
        reverse("admin:subscriptions_acmecontract_add"),
        {
            "customer": customer.pk,
            "product": "ssl_basic",
            "sans": "a.example.com",
            "renewal": "account",
            "not_billed_reason": "A free year for a charity",
        },
    )
    assert response.status_code == 200 and "organization_required" in response.content.decode()
    assert not AcmeContract.objects.exists()


def test_cancel_past_day_30_shows_the_refusal_and_stop_renewal_works(
    staff_client, order, django_capture_on_commit_callbacks
):
    contract = order(auto_renew=True)
    advance_vendor_clock(days=31)
    calls = vendor_request_count()
    response = _do(staff_client, contract, "cancel", django_capture_on_commit_callbacks)
    messages = [str(m) for m in response.context["messages"]]
    assert any("cancel_window_closed" in m and "Stop the renewal" in m for m in messages)
    assert vendor_request_count() == calls
    _do(staff_client, contract, "stop_renewal", django_capture_on_commit_callbacks)
    contract.refresh_from_db()
    assert contract.state == ContractState.RENEWAL_STOPPED


def test_reveal_page_shows_credentials_and_certbot_once(staff_client, order):
    contract = order()
    url = reverse("admin:subscriptions_acmecontract_reveal", args=[contract.pk])
    confirm = staff_client.get(url).content.decode()
    hmac_key = contract.eab_hmac_key.reveal()
    assert hmac_key not in confirm
    shown = staff_client.post(url).content.decode()
    assert hmac_key in shown and "certbot certonly" in shown
    assert AuditEvent.objects.filter(action="acme.credentials_revealed", face="admin").exists()
    second = staff_client.post(url, follow=True)
    assert hmac_key not in second.content.decode()
    assert any("credentials_already_revealed" in str(m) for m in second.context["messages"])


def test_staff_without_the_manage_permission_cannot_run_actions(
    client, order, django_capture_on_commit_callbacks
):
    contract = order(auto_renew=True)
    client.force_login(StaffFactory(permissions=["view_acmecontract"]))
    _do(client, contract, "stop_renewal", django_capture_on_commit_callbacks)
    contract.refresh_from_db()
    assert contract.auto_renew is True and contract.state == ContractState.ACTIVE


def test_staff_without_the_reveal_permission_cannot_reveal(client, order):
    contract = order()
    client.force_login(StaffFactory(permissions=["view_acmecontract"]))
    response = client.post(
        reverse("admin:subscriptions_acmecontract_reveal", args=[contract.pk]), follow=True
    )
    assert contract.eab_hmac_key.reveal() not in response.content.decode()
    contract.refresh_from_db()
    assert contract.credentials_revealed_at is None


def test_drift_accept_from_the_admin(staff_client, order, run_tasks, digicert_subaccount):
    from subscriptions.acme import services as acme
    from tests.conftest import system_actor
    from vendors.digicert.client import DigiCertClient

    contract = order(auto_renew=True)
    DigiCertClient(digicert_subaccount.api_key.reveal()).patch_acme_contract(
        contract.vendor_id, auto_renew=False
    )
    run_tasks(acme.sync_acme_contract, system_actor(), contract)
    url = reverse("admin:subscriptions_acmecontract_drift", args=[contract.pk])
    assert "auto_renew" in staff_client.get(url + "?field=auto_renew&keep=vendor").content.decode()
    staff_client.post(url + "?field=auto_renew&keep=vendor")
    contract.refresh_from_db()
    assert contract.auto_renew is False and contract.drift == {}


def test_operations_admin_lists_failed_operations_and_retries_them(
    staff_client, order, settings, sweep_later, django_capture_on_commit_callbacks
):
    from core.models import Operation
    from tests.sandbox_helpers import inject_fault

    settings.TASK_MAX_ATTEMPTS = 1
    contract = order(auto_renew=True)
    inject_fault("digicert", "http_500", method="PATCH", path=r"/acme/\d+$")
    _do(staff_client, contract, "stop_renewal", django_capture_on_commit_callbacks)
    failed = Operation.objects.get(kind="acme.set_auto_renew")
    assert failed.state == "failed"
    listing = staff_client.get(reverse("admin:core_operation_changelist") + "?state=failed").content.decode()
    assert "acme.set_auto_renew" in listing and failed.last_error_code in listing
    with django_capture_on_commit_callbacks(execute=True):
        retry_failed(staff_client, "admin:core_operation_changelist", failed)
    contract.refresh_from_db()
    assert contract.state == ContractState.RENEWAL_STOPPED
