"""Billing API (permission matrix, 202 checkout, scoping, constant queries) and admin pages."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import BillingSubscription, Checkout, Product
from billing.services.acquisition import OrderLine
from core.models import AuditEvent
from tests.factories import MembershipFactory, PartnerFactory
from tests.sandbox_helpers import vendor_request_count

pytestmark = pytest.mark.django_db


def _as(api, partner, role):
    return api.as_user(MembershipFactory(partner=partner, role=role).user)


@pytest.fixture
def sold(checkout, pay, acme_product, digicert_subaccount):
    pay(checkout(OrderLine(acme_product, options={"sans": ["api.example.com"]})))
    return BillingSubscription.objects.get()


DETAIL = [
    "/api/v1/billing/subscriptions/{s}/",
    "/api/v1/billing/checkouts/{c}/",
    "/api/v1/billing/products/{p}/",
]
LISTS = [
    "/api/v1/billing/subscriptions/",
    "/api/v1/billing/checkouts/",
    "/api/v1/billing/products/",
    "/api/v1/billing/agreements/",
    "/api/v1/billing/notices/",
    "/api/v1/billing/plans/",
]


def _url(template, sold):
    return template.format(s=sold.pk, c=sold.acquisition_id, p=sold.product_id)


@pytest.mark.parametrize("template", DETAIL)
def test_detail_endpoints_matrix(api, sold, template):
    url = _url(template, sold)
    assert api.get(url).status_code == 401
    assert _as(api, PartnerFactory(), "owner").get(url).status_code == 404
    assert _as(api, sold.partner, "viewer").get(url).status_code == 200


@pytest.mark.parametrize("url", LISTS)
def test_lists_are_scoped_and_constant_in_queries(api, sold, url):
    assert api.get(url).status_code == 401
    stranger = _as(api, PartnerFactory(), "owner").get(url).json()["results"]
    if not url.endswith("plans/"):
        assert stranger == []
    client = _as(api, sold.partner, "viewer")
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    assert len(queries) < 12


def test_starting_a_checkout_needs_the_billing_role(api, sold, acme_product):
    body = {
        "customer": sold.customer_id,
        "items": [{"product": acme_product.pk, "options": {"sans": ["b.example"]}}],
    }
    technician = _as(api, sold.partner, "technician")
    before = (Checkout.objects.count(), AuditEvent.objects.count(), vendor_request_count())
    response = technician.post("/api/v1/billing/checkouts/", body, format="json")
    assert response.status_code == 403
    assert (Checkout.objects.count(), AuditEvent.objects.count(), vendor_request_count()) == before
    assert (
        _as(api, PartnerFactory(), "owner")
        .post("/api/v1/billing/checkouts/", body, format="json")
        .status_code
        == 404
    )


def test_a_billing_member_starts_a_checkout_and_gets_a_payment_link(
    api, sold, acme_product, django_capture_on_commit_callbacks
):
    body = {
        "customer": sold.customer_id,
        "items": [{"product": acme_product.pk, "options": {"sans": ["b.example"]}}],
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = _as(api, sold.partner, "billing").post("/api/v1/billing/checkouts/", body, format="json")
    assert response.status_code == 202 and response.json()["state"] == "pending"
    detail = (
        _as(api, sold.partner, "billing").get(f"/api/v1/billing/checkouts/{response.json()['id']}/").json()
    )
    assert detail["state"] == "open" and "/sandbox/digitalriver/pay/" in detail["payment_link"]


def test_two_plans_in_one_api_checkout_is_409_plan_limit_reached(api, sold, acme_product, support_product):
    body = {
        "customer": sold.customer_id,
        "items": [
            {"product": acme_product.pk, "options": {"sans": ["b.example"]}},
            {"product": support_product.pk},
        ],
    }
    response = _as(api, sold.partner, "owner").post("/api/v1/billing/checkouts/", body, format="json")
    assert response.status_code == 409 and response.json()["code"] == "plan_limit_reached"


def test_a_product_needs_the_billing_role_to_change(api, sold):
    product = Product.objects.get()
    assert (
        _as(api, sold.partner, "viewer")
        .patch(f"/api/v1/billing/products/{product.pk}/", {"price": "1.00"}, format="json")
        .status_code
        == 403
    )
    response = _as(api, sold.partner, "billing").patch(
        f"/api/v1/billing/products/{product.pk}/", {"price": "130.00"}, format="json"
    )
    assert response.status_code == 200 and response.json()["price"] == "130.00"


@pytest.mark.parametrize(
    "model",
    [
        "plan",
        "product",
        "checkout",
        "billingsubscription",
        "renewal",
        "notice",
        "billingagreement",
        "webhookevent",
    ],
)
def test_admin_pages_render(client, superuser, sold, model):
    client.force_login(superuser)
    assert client.get(reverse(f"admin:billing_{model}_changelist")).status_code == 200


def test_admin_subscription_page_shows_dates_agreement_and_provisioning(client, superuser, sold):
    client.force_login(superuser)
    html = client.get(reverse("admin:billing_billingsubscription_change", args=[sold.pk])).content.decode()
    assert sold.billing_agreement_id in html and "Provisioned" in html


def test_staff_start_a_checkout_in_the_admin_and_see_the_payment_link(
    client, superuser, acme_product, setup_fee, customer, django_capture_on_commit_callbacks
):
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:billing_checkout_add"),
            {
                "customer": customer.pk,
                "product": acme_product.pk,
                "quantity": 1,
                "extra": setup_fee.pk,
                "sans": "shop.example.com",
                "zone": "",
            },
        )
    checkout = Checkout.objects.get()
    assert response.status_code == 302 and checkout.state == "open" and checkout.items.count() == 2
    page = client.get(reverse("admin:billing_checkout_change", args=[checkout.pk])).content.decode()
    assert checkout.payment_link in page


def test_admin_checkout_refusal_is_shown_and_nothing_is_written(client, superuser, acme_product, customer):
    client.force_login(superuser)
    response = client.post(
        reverse("admin:billing_checkout_add"),
        {
            "customer": customer.pk,
            "product": acme_product.pk,
            "quantity": 1,
            "sans": "not a domain",
            "zone": "",
        },
    )
    assert response.status_code == 200 and "not a domain" in response.content.decode()
    assert not Checkout.objects.exists()
