"""Support and escalation contacts per partner and per customer: edited where the profile and the
customer are edited (admin, dashboard, API), e-mails validated, audited; shown to staff on the admin
customer page (the customer's, else the partner's) and in the alert mails to ADMINS."""

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from billing.models import BillingSubscription
from billing.services import notices
from billing.services.acquisition import OrderLine
from core.models import AuditEvent
from partner import services
from partner.models import Customer
from tests.conftest import system_actor
from tests.factories import CustomerFactory, MembershipFactory, PartnerFactory, StaffFactory
from tests.sandbox_helpers import inject_fault

pytestmark = pytest.mark.django_db

PARTNER_CONTACTS = {
    "support_contact_name": "Paula Partner",
    "support_contact_email": "support@partner.example.test",
    "support_contact_phone": "+31 20 555 0101",
    "escalation_contact_name": "Eric Escalate",
    "escalation_contact_email": "escalation@partner.example.test",
    "escalation_contact_phone": "+31 20 555 0199",
}


@pytest.fixture
def staff_client(db):
    client = Client()
    client.force_login(StaffFactory())
    return client


@pytest.fixture
def owner_client(owner):
    client = Client()
    client.force_login(owner)
    return client


def _form_data(form) -> dict:
    return {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}


# --- Editing ---------------------------------------------------------------------------------


def test_the_service_edits_and_audits_partner_and_customer_contacts(partner, customer):
    services.update_partner_profile(system_actor(), partner, **PARTNER_CONTACTS)
    services.update_customer(system_actor(), customer, support_contact_email="help@cust.example.test")
    partner.refresh_from_db()
    customer.refresh_from_db()
    assert partner.escalation_contact_phone == "+31 20 555 0199"
    assert customer.support_contact_email == "help@cust.example.test"
    event = AuditEvent.objects.filter(action="partner.updated").latest("id")
    assert event.changes["support_contact_email"] == ["", "support@partner.example.test"]
    assert AuditEvent.objects.filter(action="customer.updated").latest("id").changes["support_contact_email"]


def test_the_dashboard_edits_the_partners_contacts_and_refuses_a_bad_email(owner_client, partner):
    url = reverse("dashboard:organization-edit")
    data = {**_form_data(owner_client.get(url).context["form"]), **PARTNER_CONTACTS}
    data["escalation_contact_email"] = "not-an-email"
    response = owner_client.post(url, data)
    assert response.status_code == 200 and "Enter a valid email address." in response.content.decode()
    partner.refresh_from_db()
    assert partner.support_contact_name == ""

    data["escalation_contact_email"] = PARTNER_CONTACTS["escalation_contact_email"]
    assert owner_client.post(url, data)["Location"] == reverse("dashboard:organization")
    partner.refresh_from_db()
    assert partner.escalation_contact_email == "escalation@partner.example.test"
    assert "Paula Partner" in owner_client.get(reverse("dashboard:organization")).content.decode()


def test_the_dashboard_edits_a_customers_contacts(owner_client, customer):
    url = reverse("dashboard:customer-edit", args=[customer.pk])
    data = _form_data(owner_client.get(url).context["form"])
    bad = owner_client.post(url, {**data, "support_contact_email": "nope"})
    assert "Enter a valid email address." in bad.content.decode()
    owner_client.post(
        url, {**data, "support_contact_name": "Cora", "support_contact_email": "cora@c.example.test"}
    )
    customer.refresh_from_db()
    assert customer.support_contact_name == "Cora" and customer.support_contact_email == "cora@c.example.test"


def test_the_api_edits_contacts_and_refuses_a_bad_email_field_by_field(api, partner, customer):
    client = api.as_user(MembershipFactory(partner=partner, role="owner").user)
    bad = client.patch(f"/api/v1/partners/{partner.pk}/", {"support_contact_email": "x"}, format="json")
    assert bad.status_code == 400 and "support_contact_email" in bad.json()["fields"]
    ok = client.patch(f"/api/v1/partners/{partner.pk}/", PARTNER_CONTACTS, format="json")
    assert ok.status_code == 200 and ok.json()["escalation_contact_name"] == "Eric Escalate"
    ok = client.patch(
        f"/api/v1/customers/{customer.pk}/",
        {"escalation_contact_email": "boss@c.example.test"},
        format="json",
    )
    assert ok.status_code == 200
    customer.refresh_from_db()
    assert customer.escalation_contact_email == "boss@c.example.test"
    bad = client.patch(f"/api/v1/customers/{customer.pk}/", {"escalation_contact_email": "x"}, format="json")
    assert bad.status_code == 400


def test_one_reseller_cannot_see_or_edit_anothers_contacts(api, partner, customer, other_partner):
    services.update_partner_profile(system_actor(), partner, **PARTNER_CONTACTS)
    services.update_customer(system_actor(), customer, support_contact_name="Secret Sam")
    stranger = MembershipFactory(partner=other_partner, role="owner").user
    client = api.as_user(stranger)
    assert client.get(f"/api/v1/partners/{partner.pk}/").status_code == 404
    assert client.get(f"/api/v1/customers/{customer.pk}/").status_code == 404
    edit = client.patch(f"/api/v1/customers/{customer.pk}/", {"support_contact_name": "Me"}, format="json")
    assert edit.status_code == 404
    listed = str(client.get("/api/v1/customers/").json()) + str(client.get("/api/v1/partners/").json())
    assert "Secret Sam" not in listed and "Paula Partner" not in listed
    dashboard = Client()
    dashboard.force_login(stranger)
    assert dashboard.get(reverse("dashboard:customer-edit", args=[customer.pk])).status_code == 404
    assert "Paula Partner" not in dashboard.get(reverse("dashboard:organization")).content.decode()
    customer.refresh_from_db()
    assert customer.support_contact_name == "Secret Sam"


def test_the_admin_edits_partner_and_customer_contacts(staff_client, partner, customer):
    page = staff_client.get(reverse("admin:partner_partner_change", args=[partner.pk]))
    assert "Support and escalation contacts" in page.content.decode()
    url = reverse("admin:partner_customer_change", args=[customer.pk])
    data = {
        "partner": partner.pk,
        "name": customer.name,
        "reference": customer.reference,
        "contact_email": customer.contact_email,
        "support_contact_email": "bad",
        "subaccounts-TOTAL_FORMS": "0",
        "subaccounts-INITIAL_FORMS": "0",
    }
    assert staff_client.post(url, data).status_code == 200  # the form again, with the error
    customer.refresh_from_db()
    assert customer.support_contact_email == ""
    data["support_contact_email"] = "desk@c.example.test"
    assert staff_client.post(url, data).status_code == 302
    customer.refresh_from_db()
    assert customer.support_contact_email == "desk@c.example.test"
    assert AuditEvent.objects.filter(action="customer.updated", face="admin").exists()


# --- Shown to staff ---------------------------------------------------------------------------


def test_the_admin_customer_page_says_who_to_contact_falling_back_to_the_partner(staff_client, partner):
    services.update_partner_profile(system_actor(), partner, **PARTNER_CONTACTS)
    with_none = CustomerFactory(partner=partner)
    with_own = CustomerFactory(partner=partner, escalation_contact_name="Olga Own")

    page = staff_client.get(reverse("admin:partner_customer_change", args=[with_none.pk])).content.decode()
    partner_support = escape("Paula Partner · support@partner.example.test · +31 20 555 0101")
    assert "Who to contact" in page and escape("the customer has none") in page
    assert page.count(partner_support) == 2  # the customer's support falls back to it, then the partner's own

    page = staff_client.get(reverse("admin:partner_customer_change", args=[with_own.pk])).content.decode()
    assert "Olga Own" in page and page.count("Eric Escalate") == 1  # only as the partner's own


def test_the_billing_alert_mail_names_the_contacts(settings, partner, customer, acme_product, checkout):
    settings.ADMINS = [("Support", "support-staff@operator.example.test")]
    services.update_partner_profile(system_actor(), partner, **PARTNER_CONTACTS)
    services.update_customer(system_actor(), customer, support_contact_name="Cora Customer")
    checkout(OrderLine(acme_product, options={"sans": ["example.com"]}))
    mail.outbox.clear()

    notices.alert_staff(BillingSubscription.objects.get(), "Renewal order failed: card declined")

    (sent,) = mail.outbox
    assert sent.to == ["support-staff@operator.example.test"]
    assert "card declined" in sent.body and "Cora Customer" in sent.body and "Eric Escalate" in sent.body


def test_a_vendor_operation_that_fails_for_good_is_mailed_with_the_contacts(
    settings, sandbox, customer, run_tasks
):
    settings.ADMINS = [("Support", "support-staff@operator.example.test")]
    settings.TASK_MAX_ATTEMPTS = 1
    partner = customer.partner
    services.update_partner_profile(system_actor(), partner, auto_renew_default=True, **PARTNER_CONTACTS)
    inject_fault("digicert", "http_500", method="PATCH", path=r"/account/settings$", times=1)
    mail.outbox.clear()

    run_tasks(services.request_subaccount, system_actor(), customer, "digicert")

    (sent,) = [m for m in mail.outbox if "failed" in m.subject]
    assert sent.to == ["support-staff@operator.example.test"]
    assert "Change DigiCert account auto-renew setting" in sent.body
    assert "Paula Partner" in sent.body and "support@partner.example.test" in sent.body
    assert Customer.objects.get(pk=customer.pk).subaccounts.count() == 1


def test_partners_without_contacts_still_get_their_alert(settings, sandbox, run_tasks):
    settings.ADMINS = [("Support", "s@operator.example.test")]
    settings.TASK_MAX_ATTEMPTS = 1
    customer = CustomerFactory(partner=PartnerFactory(auto_renew_default=False))
    inject_fault("digicert", "http_500", method="PATCH", path=r"/account/settings$", times=1)
    run_tasks(services.request_subaccount, system_actor(), customer, "digicert")
    (sent,) = [m for m in mail.outbox if "failed" in m.subject]
    assert "none given" in sent.body
