"""What support staff do in the admin, in a real browser: find a customer, cancel a fresh ACME
contract through its confirmation page, upgrade a zone through the price preview."""

import re

import pytest
from playwright.sync_api import expect

from subscriptions.acme.models import AcmeContract, ContractState
from subscriptions.cloudflare.models import CloudflareZone
from tests.browser.test_journeys import _contract, _digicert_customer, _umbrella_zone
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


@pytest.fixture
def support(vendors_over_http):
    return UserFactory(is_staff=True, is_superuser=True, username="support-desk")


def test_support_finds_a_customer_and_cancels_a_fresh_contract_through_its_confirmation_page(
    page, partner, support, admin_sign_in, shot
):
    customer = _digicert_customer(partner)
    contract = _contract(customer)
    admin_sign_in(support, "/admin/partner/customer/")

    page.locator("#searchbar").fill("Globex")
    page.locator("#searchbar").press("Enter")
    page.get_by_role("link", name="Globex Corporation").click()
    expect(page.get_by_role("heading", name=re.compile("Globex Corporation"))).to_be_visible()
    shot("admin-01-customer-found")

    page.goto(page.url.split("/admin/")[0] + f"/admin/subscriptions/acmecontract/{contract.pk}/change/")
    page.get_by_role("button", name="Cancel contract").click()
    expect(page.get_by_text("Cancelled at DigiCert for good")).to_be_visible()
    shot("admin-02-cancel-confirmation")
    contract.refresh_from_db()
    assert contract.state == ContractState.ACTIVE  # the page asked; nothing happened yet

    page.get_by_role("button", name=re.compile("cancel at DigiCert", re.I)).click()
    expect(page.get_by_text("cancellation sent to DigiCert")).to_be_visible()
    shot("admin-03-cancelled")
    assert AcmeContract.objects.get(pk=contract.pk).state == ContractState.CANCELLED


def test_support_upgrades_a_zone_through_the_price_preview(
    page, partner, catalog, support, admin_sign_in, shot
):
    zone = _umbrella_zone(partner)
    admin_sign_in(support, f"/admin/subscriptions/cloudflarezone/{zone.pk}/change/")

    page.get_by_role("button", name="Upgrade zone plan").click()
    page.get_by_label(re.compile(r"PARTNERS_PRO")).check()
    page.get_by_role("button", name="Preview price").click()
    expect(page.locator("#confirm-rows")).to_contain_text("umbrella-health.example")
    shot("admin-04-zone-price-preview")
    assert CloudflareZone.objects.get(pk=zone.pk).rate_plan_id == "PARTNERS_FREE"  # nothing sent yet

    page.get_by_label(re.compile("Not billed", re.I)).fill("The partner's own site")  # no billing sells it
    page.get_by_role("button", name="Upgrade at Cloudflare").click()
    expect(
        page.get_by_text(re.compile("umbrella-health.example: upgrade sent to Cloudflare", re.I))
    ).to_be_visible()
    shot("admin-05-zone-upgraded")
    assert CloudflareZone.objects.get(pk=zone.pk).rate_plan_id == "PARTNERS_PRO"
