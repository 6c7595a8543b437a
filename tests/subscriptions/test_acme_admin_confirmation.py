"""ACME contracts in the admin: every irreversible or bulk operation goes through the one confirmation
page (core.admin_confirm): shown with what will happen per contract, nothing changed before Confirm,
then one result message per contract. And the order form offers only customers that can order."""

import pytest
from django.urls import reverse

from core.models import Operation
from partner.models import SubaccountState, Vendor
from subscriptions.acme.models import AcmeContract, ContractState
from tests.factories import CustomerFactory, SubaccountFactory
from tests.sandbox_helpers import advance_vendor_clock, sandbox_acme_contracts, vendor_request_count

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:subscriptions_acmecontract_changelist"


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def _do_url(contract, action):
    return reverse("admin:subscriptions_acmecontract_do", args=[contract.pk, action])


def _bulk(client, action, contracts, **extra):
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [c.pk for c in contracts], **extra},
        follow=True,
    )


def _state(contract):
    """What must not move before Confirm: ours, our operations, DigiCert's (the sandbox's)."""
    contract.refresh_from_db()
    vendor = sandbox_acme_contracts(id=int(contract.vendor_id)).get()
    return (
        contract.state,
        contract.auto_renew,
        contract.eab_key_id,
        Operation.objects.count(),
        vendor.date_canceled,
        vendor.auto_renew,
        vendor_request_count(),
    )


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def _cancels_at_digicert():
    from vendors.sandbox.models import RequestLogEntry

    return RequestLogEntry.objects.filter(vendor="digicert", method="DELETE").count()


# --- cancel, from the contract's page -------------------------------------------------------------


def test_contract_page_asks_through_the_confirmation_page_not_javascript(staff_client, order):
    contract = order()
    page = staff_client.get(reverse("admin:subscriptions_acmecontract_change", args=[contract.pk]))
    html = page.content.decode()
    assert _do_url(contract, "cancel") in html
    assert "data-confirm" not in html and "confirm(" not in html and "admin_confirm.js" not in html


def test_cancel_page_says_what_happens_and_nothing_changes_until_confirm(staff_client, order):
    contract = order()
    before = _state(contract)
    page = staff_client.post(_do_url(contract, "cancel"))
    html = page.content.decode()
    assert page.status_code == 200 and page.templates[0].name == "admin/confirm_action.html"
    assert "Cancelled at DigiCert for good: the directory URL stops issuing" in html
    assert "example.com, www.example.com" in html and "refunded" in html
    assert 'name="_confirm"' in html and "Yes, cancel at DigiCert" in html
    # Cancelled: staff take the way back, to the contract's own page, instead of confirming.
    back = reverse("admin:subscriptions_acmecontract_change", args=[contract.pk])
    assert f'href="{back}" class="button cancel-link">No, take me back' in html
    assert staff_client.get(back).status_code == 200
    assert _state(contract) == before


def test_cancel_confirmed_cancels_once_at_digicert_with_a_message(
    staff_client, order, django_capture_on_commit_callbacks
):
    contract = order()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(_do_url(contract, "cancel"), {"_confirm": "Yes"}, follow=True)
    contract.refresh_from_db()
    assert contract.state == ContractState.CANCELLED
    assert sandbox_acme_contracts(id=int(contract.vendor_id)).get().date_canceled is not None
    assert _cancels_at_digicert() == 1
    assert f"{contract}: cancellation sent to DigiCert; it is irreversible." in _messages(response)
    assert response.redirect_chain[-1][0] == reverse(
        "admin:subscriptions_acmecontract_change", args=[contract.pk]
    )


def test_cancel_past_day_30_is_refused_on_the_page_with_the_services_rule(staff_client, order):
    contract = order(auto_renew=True)
    advance_vendor_clock(days=31)
    before = _state(contract)
    html = staff_client.post(_do_url(contract, "cancel")).content.decode()
    closes = contract.cancel_window_closes_at
    assert "Not done:" in html and "[cancel_window_closed]" in html
    assert f"it closed on {closes:%Y-%m-%d}" in html and "Stop the renewal instead" in html
    assert 'name="_confirm"' not in html and "It applies to none of these contracts today." in html
    assert _state(contract) == before


# --- bulk cancel and bulk stop renewal ----------------------------------------------------------------


def test_bulk_cancel_lists_each_contract_and_confirm_reports_row_by_row(
    staff_client, order, django_capture_on_commit_callbacks
):
    old = order(sans=["old.example.com"])
    advance_vendor_clock(days=31)
    fresh = order(sans=["fresh.example.com"])
    before_old, before_fresh = _state(old), _state(fresh)

    html = _bulk(staff_client, "cancel_selected", [old, fresh]).content.decode()
    assert "Cancelled at DigiCert for good" in html and "fresh.example.com" in html
    assert "[cancel_window_closed]" in html and f"it closed on {old.cancel_window_closes_at:%Y-%m-%d}" in html
    assert _state(old) == before_old and _state(fresh) == before_fresh

    with django_capture_on_commit_callbacks(execute=True):
        response = _bulk(staff_client, "cancel_selected", [old, fresh], _confirm="Yes")
    messages = _messages(response)
    assert f"{fresh}: cancellation sent to DigiCert; it is irreversible." in messages
    assert any(m.startswith(f"{old}: ") and "[cancel_window_closed]" in m for m in messages)
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert fresh.state == ContractState.CANCELLED and old.state == ContractState.ACTIVE
    assert sandbox_acme_contracts(id=int(old.vendor_id)).get().date_canceled is None
    assert _cancels_at_digicert() == 1


def test_bulk_stop_renewal_asks_first_then_stops(staff_client, order, django_capture_on_commit_callbacks):
    contract = order(auto_renew=True)
    before = _state(contract)
    html = _bulk(staff_client, "stop_renewal_selected", [contract]).content.decode()
    assert "Stop renewal: the contract stays active until" in html and 'name="_confirm"' in html
    assert _state(contract) == before
    with django_capture_on_commit_callbacks(execute=True):
        response = _bulk(staff_client, "stop_renewal_selected", [contract], _confirm="Yes")
    contract.refresh_from_db()
    assert contract.auto_renew is False and contract.state == ContractState.RENEWAL_STOPPED
    assert f"{contract}: stopping renewal at DigiCert." in _messages(response)


# --- regenerate credentials, revoking the current ones -------------------------------------------


def test_regenerate_with_revoke_asks_first_then_regenerates(
    staff_client, order, django_capture_on_commit_callbacks
):
    contract = order()
    before = _state(contract)
    html = staff_client.post(_do_url(contract, "regenerate")).content.decode()
    assert "the current ones are revoked at once" in html and "Regenerate and revoke" in html
    assert _state(contract) == before
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(_do_url(contract, "regenerate"), {"_confirm": "Yes"}, follow=True)
    operation = Operation.objects.filter(kind="acme.regenerate_credentials").get()
    assert operation.params == {"revoke_existing": True}
    contract.refresh_from_db()
    assert contract.eab_key_id != before[2]
    assert f"{contract}: new credentials requested; the old ones are revoked." in _messages(response)


# --- the order form ----------------------------------------------------------------------------------


def test_order_form_offers_only_customers_with_an_active_digicert_subaccount(
    staff_client, customer, digicert_subaccount
):
    pending = SubaccountFactory(customer=CustomerFactory(partner=customer.partner, name="Pending Ltd"))
    cloudflare = SubaccountFactory(
        customer=CustomerFactory(partner=customer.partner, name="Cloudflare Only Ltd"),
        vendor=Vendor.CLOUDFLARE,
        state=SubaccountState.ACTIVE,
    )
    CustomerFactory(partner=customer.partner, name="No Subaccount Ltd")
    form = staff_client.get(reverse("admin:subscriptions_acmecontract_add")).context["form"]
    offered = list(form.fields["customer"].queryset)
    assert offered == [customer]
    html = staff_client.get(reverse("admin:subscriptions_acmecontract_add")).content.decode()
    assert customer.name in html
    for other in (pending.customer, cloudflare.customer):
        assert other.name not in html
    assert "No Subaccount Ltd" not in html
    assert "null" not in html
    assert AcmeContract.objects.count() == 0


# --- the list reads the business clock once, and still shows a closed cancel window ---------------


def test_list_marks_a_closed_cancel_window_by_the_business_clock(staff_client, order):
    contract = order()
    listing = staff_client.get(reverse(CHANGELIST)).content.decode()
    assert f"{contract.cancel_window_closes_at:%Y-%m-%d}" in listing and "(closed)" not in listing
    advance_vendor_clock(days=31)
    assert "(closed)" in staff_client.get(reverse(CHANGELIST)).content.decode()
