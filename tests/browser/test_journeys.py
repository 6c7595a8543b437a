"""What a reseller does in the dashboard, in a real browser, each journey ending on a screenshot."""

import re

import pytest
from playwright.sync_api import expect

from core.actor import Actor, Face
from partner import services as partner_services
from subscriptions.acme import services as acme
from subscriptions.acme.models import AcmeContract
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.models import CloudflareZone
from tests.factories import CustomerFactory, MembershipFactory, PartnerFactory
from tests.sandbox_helpers import advance_vendor_clock

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _system():
    return Actor.system(Face.TASK)


def _digicert_customer(partner, name="Globex Corporation", reference="globex"):
    """A customer with an active DigiCert subaccount, created at the sandbox over HTTP."""
    customer = CustomerFactory(partner=partner, name=name, reference=reference)
    subaccount = partner_services.request_subaccount(_system(), customer, "digicert")
    subaccount.refresh_from_db()
    assert subaccount.state == "active", subaccount.provisioning.last_error
    return customer


def _umbrella_zone(partner):
    """Umbrella Health's zone on the Free plan, in its Cloudflare account created at the sandbox over HTTP."""
    customer = CustomerFactory(partner=partner, name="Umbrella Health", reference="umbrella")
    account = partner_services.request_subaccount(_system(), customer, "cloudflare")
    account.refresh_from_db()
    assert account.state == "active", account.provisioning.last_error
    return cloudflare.add_zone(_system(), customer, name="umbrella-health.example")


def _contract(customer, **kwargs):
    kwargs.setdefault("product", "ssl_dv_rapidssl")
    kwargs.setdefault("sans", ["shop.globex.example", "www.globex.example"])
    kwargs.setdefault("auto_renew", True)
    kwargs.setdefault("not_billed_reason", "Test: made directly at the vendor, not sold through billing.")
    contract = acme.order_acme_contract(_system(), customer, **kwargs)
    contract.refresh_from_db()
    assert contract.state == "active"
    return contract


def test_sign_in_and_add_a_customer(page, reseller, sign_in, shot, vendors_over_http):
    page.goto(f"{vendors_over_http}/customers/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/customers/"))
    shot("01-sign-in")

    sign_in(reseller, "/customers/")
    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    page.get_by_role("link", name="Add a customer").first.click()
    page.get_by_label("Name", exact=True).fill("Initech")
    page.get_by_label("Reference", exact=True).fill("initech")
    page.get_by_label("Contact e-mail").fill("ops@initech.example")
    page.get_by_role("button", name="Add the customer").click()

    expect(page.get_by_role("heading", name="Initech")).to_be_visible()
    expect(page.get_by_text("Initech added. Next: create its vendor subaccounts.")).to_be_visible()
    expect(page.get_by_text("Customer added")).to_be_visible()  # the history, through the dashboard
    shot("02-customer-added")


def test_order_an_acme_subscription_and_watch_it_go_active(page, reseller, sign_in, shot, held_worker):
    customer = CustomerFactory(
        partner=reseller.membership.partner, name="Globex Corporation", reference="globex"
    )
    sign_in(reseller, f"/customers/{customer.pk}/")

    page.get_by_role("link", name="DigiCert subaccount").click()
    page.get_by_role("button", name="Create the subaccount").click()
    expect(page.get_by_text("Creating at DigiCert…")).to_be_visible()
    assert held_worker.run() == 1
    expect(page.locator("#subaccounts").get_by_text("Active", exact=True)).to_be_visible()

    page.get_by_role("link", name="Order ACME").click()
    page.get_by_label("Domain names").fill("shop.globex.example\nwww.globex.example")
    page.get_by_label("Renew automatically at the end of each term").check()
    page.get_by_label("Not billed because").fill("A free year for the partner's own shop")
    page.get_by_role("button", name="Order at DigiCert").click()

    expect(page.get_by_text("Create ACME contract…")).to_be_visible()
    expect(page.locator(".page-header .badge")).to_have_text("Pending")
    shot("03-acme-order-pending")
    assert held_worker.run() == 1  # the worker calls DigiCert; the page's htmx poll notices

    expect(page.locator(".page-header .badge")).to_have_text("Active", timeout=20_000)
    expect(page.get_by_role("button", name="Reveal once")).to_be_visible()
    expect(page.get_by_text("Cancel is available until")).to_be_visible()
    shot("04-acme-active")
    assert AcmeContract.objects.get().state == "active"


def test_reveal_credentials_once_then_masked(page, reseller, sign_in, shot):
    contract = _contract(_digicert_customer(reseller.membership.partner))
    hmac_key = contract.eab_hmac_key.reveal()
    sign_in(reseller, f"/acme/{contract.pk}/")

    expect(page.get_by_test_id("masked-hmac")).to_have_text(contract.eab_hmac_key.masked)
    page.get_by_role("button", name="Reveal once").click()

    expect(page.get_by_test_id("hmac-key")).to_have_text(hmac_key)
    expect(page.get_by_text("This page will not show the HMAC key again.")).to_be_visible()
    expect(page.get_by_text("certbot", exact=True)).to_be_visible()
    shot("05-credentials-revealed")

    page.get_by_role("link", name="I have copied them").click()
    expect(page.get_by_test_id("masked-hmac")).to_have_text(contract.eab_hmac_key.masked)
    expect(page.get_by_text("Shown once on")).to_be_visible()
    expect(page.get_by_role("button", name="Reveal once")).to_have_count(0)
    assert hmac_key not in page.content()
    shot("06-credentials-masked")


def test_stop_a_renewal_past_day_30(page, reseller, sign_in, shot):
    contract = _contract(_digicert_customer(reseller.membership.partner))
    advance_vendor_clock(days=31)
    sign_in(reseller, f"/acme/{contract.pk}/")

    expect(page.get_by_text("Cancellation closed on")).to_be_visible()
    expect(page.get_by_text("Cancel is available")).to_have_count(0)
    page.goto(page.url.split("/acme/")[0] + f"/acme/{contract.pk}/cancel/")
    expect(page.get_by_text("Cancellation is no longer possible: it closed on")).to_be_visible()

    page.get_by_role("link", name="Stop renewal…").click()
    expect(page.get_by_text("the contract stays active until")).to_be_visible()
    page.get_by_role("button", name="Stop renewal").click()

    expect(page.get_by_text("Stopping renewal at DigiCert.")).to_be_visible()
    expect(page.locator(".page-header .badge")).to_have_text("Renewal stopped")
    expect(page.get_by_text("Resume renewal: possible until the term ends")).to_be_visible()
    shot("07-renewal-stopped")
    contract.refresh_from_db()
    assert contract.state == "renewal_stopped" and contract.auto_renew is False


def test_a_reseller_cannot_open_another_partners_customer(page, reseller, sign_in, shot, vendors_over_http):
    other = CustomerFactory(partner=PartnerFactory(name="Contoso Reseller"), name="Secret Customer")
    sign_in(reseller)

    response = page.goto(f"{vendors_over_http}/customers/{other.pk}/")

    assert response.status == 404
    expect(page.get_by_text("not one of your customers")).to_be_visible()
    assert "Secret Customer" not in page.content()
    page.goto(f"{vendors_over_http}/customers/")
    expect(page.get_by_text("Secret Customer")).to_have_count(0)
    shot("08-other-partner-not-found")


def test_upgrade_a_zone_plan_after_the_price_preview(page, reseller, catalog, sign_in, shot):
    partner = reseller.membership.partner
    zone = _umbrella_zone(partner)
    sign_in(reseller, f"/zones/{zone.pk}/")

    expect(page.get_by_text("Free", exact=True).first).to_be_visible()
    page.get_by_role("link", name="Upgrade…").click()
    page.get_by_label(re.compile(r"^Partners Pro \(PARTNERS_PRO\)")).check()
    page.get_by_label("Page rules").fill("25")
    page.get_by_role("button", name="Preview the price").click()

    expect(page.get_by_test_id("price-now")).to_have_text("0.00 USD")
    expect(page.get_by_test_id("price-after")).to_have_text("45.00 USD")
    expect(page.get_by_text("+45.00 USD a month")).to_be_visible()
    shot("09-zone-price-preview")
    assert CloudflareZone.objects.get().rate_plan_id == "PARTNERS_FREE"  # nothing sent yet

    page.get_by_label("Not billed because").fill("The partner's own site")
    page.get_by_role("button", name="Upgrade", exact=True).click()

    expect(
        page.get_by_text("Upgrade the plan of umbrella-health.example: sent to Cloudflare.")
    ).to_be_visible()
    expect(page.locator("#plan").get_by_text("45.00 USD a month")).to_be_visible()
    shot("10-zone-upgraded")
    zone.refresh_from_db()
    assert zone.rate_plan_id == "PARTNERS_PRO" and zone.component_values["page_rules"] == 25


def test_the_menu_works_on_a_phone(page, reseller, sign_in, shot, vendors_over_http):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(reseller)

    menu = page.get_by_role("navigation", name="Main")
    expect(menu).to_be_hidden()
    page.get_by_text("Menu").click()
    menu.get_by_role("link", name="Customers").click()

    expect(page.get_by_role("heading", name="Customers", exact=True)).to_be_visible()
    shot("11-phone-customers")


def test_the_owner_invites_a_member_who_sets_a_password(page, reseller, sign_in, shot, vendors_over_http):
    from django.core import mail

    sign_in(reseller, "/team/invite/")
    page.get_by_label("E-mail", exact=True).fill("tom@northwind.example")
    page.get_by_label("First name").fill("Tom")
    page.get_by_label(re.compile(r"^Technician")).check()
    page.get_by_role("button", name="Send the invitation").click()
    expect(page.get_by_text("Invitation sent to tom@northwind.example")).to_be_visible()
    expect(page.get_by_text("Invited", exact=True)).to_be_visible()
    shot("12-team-invited")

    link = re.search(r"(http://\S+/accounts/reset/\S+)", mail.outbox[-1].body).group(1)
    page.get_by_role("button", name="Sign out").click()
    page.goto(link)
    page.get_by_label("New password", exact=True).fill("Welcome-2-Northwind!")
    page.get_by_label("New password confirmation").fill("Welcome-2-Northwind!")
    page.get_by_role("button", name="Save the password").click()
    page.get_by_role("link", name="Go to the dashboard").click()
    expect(page.get_by_role("heading", name="Hello, Tom")).to_be_visible()
    assert MembershipFactory._meta.model.objects.get(user__email="tom@northwind.example").role == "technician"
