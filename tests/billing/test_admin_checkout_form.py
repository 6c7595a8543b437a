"""The admin starts a checkout with the dashboard's own form: the customer first (only those whose
partner sells something), then that partner's products and that customer's zones."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.models import Checkout
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

ADD = reverse("admin:billing_checkout_add")


def test_the_customer_comes_first_and_only_customers_of_partners_selling_something_are_offered(
    client, superuser, customer, external_acme_product, other_partner
):
    stranded = CustomerFactory(partner=other_partner, name="Nothing To Sell Ltd")
    client.force_login(superuser)
    page = client.get(ADD).content.decode()
    assert customer.name in page and stranded.name not in page
    assert "Create at vendor" not in page and "The subaccount is created" not in page
    assert "Whom is the checkout for?" in page


def test_the_form_offers_the_partner_products_only(
    client, superuser, customer, external_acme_product, other_partner
):
    theirs = CustomerFactory(partner=other_partner)
    from tests.billing.conftest import _support_product

    foreign = _support_product(theirs, external_acme_product.plan, "foreign-sku", "Foreign support")
    client.force_login(superuser)
    page = client.get(ADD, {"customer": customer.pk}).content.decode()
    assert external_acme_product.name in page and foreign.name not in page


def test_a_refused_checkout_shows_the_error_on_its_field_and_writes_nothing(
    client, superuser, customer, external_acme_product
):
    client.force_login(superuser)
    refused = client.post(
        f"{ADD}?customer={customer.pk}",
        {"product": external_acme_product.pk, "quantity": 1, "sans": "not a domain!"},
    )
    assert refused.status_code == 200
    assert refused.context["form"].errors.get("sans")
    assert not Checkout.objects.exists()


def test_a_valid_checkout_starts_and_the_page_follows_it(
    client, superuser, customer, external_acme_product, run_tasks
):
    client.force_login(superuser)
    started = run_tasks(
        client.post,
        f"{ADD}?customer={customer.pk}",
        {"product": external_acme_product.pk, "quantity": 1, "sans": "shop.example.com"},
    )
    checkout = Checkout.objects.get()
    assert started.status_code == 302 and started.url == reverse(
        "admin:billing_checkout_change", args=[checkout.pk]
    )
    assert checkout.customer == customer and checkout.items.get().product == external_acme_product
