"""Starting a Digital River checkout from the dashboard: the form, Digital River's refusals as
form errors with nothing created, the checkout page following it live, then paid and provisioned."""

# ruff: noqa: F811  (the billing tests' fixtures, imported below, are the tests' arguments)

from decimal import Decimal

import pytest
from django.urls import reverse

from billing.models import BillingSubscription, Checkout, CheckoutState
from billing.services import catalog
from core.models import Operation
from tests.billing.conftest import (  # noqa: F401  (the billing tests' fixtures, shared)
    _product,
    _zone_product,
    acme_product,
    annual_plan,
    checkout,
    make_plan,
    monthly_plan,
    pay,
    setup_fee,
    support_product,
)
from tests.conftest import system_actor
from tests.factories import CustomerFactory, operation_on

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def start_url(customer):
    return reverse("dashboard:checkout-start", args=[customer.pk])


def _post(run_tasks, client, url, data):
    return run_tasks(client.post, url, data)


def test_anonymous_is_sent_to_sign_in(client, start_url):
    response = client.get(start_url)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("role", ["viewer", "technician"])
def test_roles_without_the_billing_right_are_refused_and_nothing_starts(
    login, partner, start_url, acme_product, role
):
    client = login(role, partner)
    assert client.get(start_url).status_code == 403
    response = client.post(start_url, {"product": acme_product.pk, "quantity": 1, "sans": "a.example.com"})
    assert response.status_code == 403
    assert not Checkout.objects.exists()


def test_another_partners_customer_is_not_found(stranger_client, start_url, acme_product):
    assert stranger_client.get(start_url).status_code == 404
    response = stranger_client.post(
        start_url, {"product": acme_product.pk, "quantity": 1, "sans": "a.example.com"}
    )
    assert response.status_code == 404
    assert not Checkout.objects.exists()


@pytest.mark.parametrize("role", ["owner", "admin", "billing"])
def test_roles_with_the_billing_right_see_the_form_with_the_partners_products(
    login, partner, start_url, acme_product, setup_fee, role
):
    other = catalog.create_product(
        system_actor(), CustomerFactory().partner, sku_id="theirs", name="Not ours", price=Decimal("1.00")
    )
    body = login(role, partner).get(start_url).content.decode()
    assert "ACME DV annual" in body and "Setup fee" in body
    assert other.name not in body
    assert 'for="id_sans"' in body and 'for="id_zone"' in body  # labelled fields


def test_a_checkout_starts_opens_and_shows_the_payment_link(
    run_tasks, biller, start_url, acme_product, setup_fee
):
    response = _post(
        run_tasks,
        biller,
        start_url,
        {
            "product": acme_product.pk,
            "quantity": 1,
            "sans": "shop.example.com",
            "extra": setup_fee.pk,
            "extra_quantity": 1,
        },
    )
    checkout = Checkout.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "dashboard:checkout", args=[checkout.pk]
    )
    assert checkout.state == CheckoutState.OPEN and checkout.payment_link
    assert checkout.total == Decimal("170.00")
    subscription = BillingSubscription.objects.get()
    assert subscription.provision_options == {"sans": ["shop.example.com"]}
    body = biller.get(response["Location"]).content.decode()
    assert "Send this link to the customer" in body and checkout.payment_link in body
    assert "Setup fee" in body and "ACME DV annual" in body and "Awaiting payment" in body


def test_once_paid_the_page_shows_the_order_and_the_subscription(
    run_tasks,
    biller,
    start_url,
    support_product,
    pay,
):
    _post(run_tasks, biller, start_url, {"product": support_product.pk, "quantity": 2})
    checkout = pay(Checkout.objects.get())
    body = biller.get(reverse("dashboard:checkout", args=[checkout.pk])).content.decode()
    assert checkout.order_id and checkout.order_id in body
    subscription = BillingSubscription.objects.get()
    assert subscription.get_state_display() in body
    assert subscription.get_provisioning_state_display() in body


def _refused(run_tasks, client, url, data, message):
    response = _post(run_tasks, client, url, data)
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body, body
    assert not Checkout.objects.exists() and not BillingSubscription.objects.exists()
    assert not Operation.objects.filter(kind="dr.open_checkout").exists()
    return response


def test_two_plans_in_one_checkout_are_refused_with_plan_limit_reached(
    run_tasks, biller, start_url, acme_product, support_product
):
    response = _refused(
        run_tasks,
        biller,
        start_url,
        {"product": acme_product.pk, "quantity": 1, "sans": "a.example.com", "extra": support_product.pk},
        "Only one unique subscription plan can be supported in a checkout",
    )
    assert response.context["form"].non_field_errors()


def test_an_acme_product_without_domains_is_refused_on_the_field(run_tasks, biller, start_url, acme_product):
    response = _refused(
        run_tasks,
        biller,
        start_url,
        {"product": acme_product.pk, "quantity": 1},
        "Give at least one domain name.",
    )
    assert response.context["form"].errors["sans"]


def test_a_zone_plan_needs_one_of_the_customers_zones(run_tasks, biller, start_url, customer, monthly_plan):
    zone_plan = _zone_product(customer, monthly_plan, "zone-pro", "Zone Pro", "25.00", "PARTNERS_PRO")
    response = _refused(
        run_tasks,
        biller,
        start_url,
        {"product": zone_plan.pk, "quantity": 1},
        "Pick one of the customer&#x27;s zones",
    )
    assert response.context["form"].errors["zone"]


def test_a_free_trial_inconsistent_with_the_price_is_refused(
    run_tasks, biller, start_url, customer, annual_plan
):
    trial = _product(customer, annual_plan, "trial", "Trial", price="5.00", free_trial=True)
    _refused(
        run_tasks,
        biller,
        start_url,
        {"product": trial.pk, "quantity": 1},
        "The value of the Free Trial flag is not consistent with the item price.",
    )


def test_an_inactive_or_foreign_product_cannot_be_chosen(run_tasks, biller, start_url, setup_fee):
    setup_fee.active = False
    setup_fee.save()
    _refused(run_tasks, biller, start_url, {"product": setup_fee.pk, "quantity": 1}, "Select a valid choice.")


def test_a_quantity_below_one_is_refused(run_tasks, biller, start_url, setup_fee):
    response = _refused(
        run_tasks, biller, start_url, {"product": setup_fee.pk, "quantity": 0}, "greater than or equal to 1"
    )
    assert response.context["form"].errors["quantity"]


# --- Live progress and retry -----------------------------------------------------------------------


@pytest.fixture
def pending_checkout(customer, setup_fee):
    checkout = Checkout.objects.create(partner=customer.partner, customer=customer, currency="USD", total=50)
    return checkout


def test_the_progress_part_polls_while_opening(biller, pending_checkout):
    operation_on(pending_checkout, kind="dr.open_checkout")
    url = reverse("dashboard:checkout-progress", args=[pending_checkout.pk])
    response = biller.get(url, **HX)
    assert response.status_code == 200 and 'hx-trigger="every 2s"' in response.content.decode()
    assert "HX-Refresh" not in response
    assert biller.get(url).status_code == 302  # without htmx: the page itself
    page = biller.get(reverse("dashboard:checkout", args=[pending_checkout.pk])).content.decode()
    assert 'http-equiv="refresh"' in page  # without JavaScript the page reloads itself


def test_a_failed_opening_is_retried_by_the_billing_role_only(login, partner, biller, pending_checkout):
    pending_checkout.state = CheckoutState.FAILED
    pending_checkout.save()
    operation = operation_on(
        pending_checkout,
        kind="dr.open_checkout",
        state="failed",
        last_error_code="http_503",
        last_error_message="Down",
    )
    url = reverse("dashboard:checkout-retry", args=[pending_checkout.pk])
    assert login("viewer", partner).post(url).status_code == 403
    operation.refresh_from_db()
    assert operation.state == "failed"
    page = biller.get(reverse("dashboard:checkout", args=[pending_checkout.pk])).content.decode()
    assert "Down" in page and url in page
    assert biller.post(url).status_code == 302
    operation.refresh_from_db()
    pending_checkout.refresh_from_db()
    assert operation.state == "pending" and pending_checkout.state == CheckoutState.PENDING


def test_retry_with_nothing_failed_is_refused_with_a_message(biller, pending_checkout):
    operation_on(pending_checkout, kind="dr.open_checkout", state="succeeded")
    response = biller.post(reverse("dashboard:checkout-retry", args=[pending_checkout.pk]), follow=True)
    assert "Nothing to retry on this checkout." in response.content.decode()


def test_the_billing_page_picks_the_customer_then_the_form(login, partner, customer, other_partner):
    biller = login("billing", partner)
    response = biller.get(reverse("dashboard:checkout-pick"), {"customer": customer.pk})
    assert response.status_code == 302 and response["Location"] == reverse(
        "dashboard:checkout-start", args=[customer.pk]
    )
    foreign = CustomerFactory(partner=other_partner)
    assert biller.get(reverse("dashboard:checkout-pick"), {"customer": foreign.pk}).status_code == 404
    assert (
        login("viewer", partner)
        .get(reverse("dashboard:checkout-pick"), {"customer": customer.pk})
        .status_code
        == 403
    )


def test_a_refused_provisioning_is_retried_from_the_subscription_page(
    client,
    sandbox,
    customer,
    checkout,
    pay,
    acme_product,
    run_tasks,
    member_factory,
    django_capture_on_commit_callbacks,
):
    from billing.services.acquisition import OrderLine
    from partner import services as partner_services
    from subscriptions.acme.models import AcmeContract

    pay(
        checkout(OrderLine(acme_product, options={"sans": ["retry.example.com"]}))
    )  # no DigiCert subaccount yet
    subscription = BillingSubscription.objects.get()
    assert "subaccount_not_active" in subscription.provisioning_error
    url = reverse("dashboard:billing-subscription-provision", args=[subscription.pk])
    client.force_login(member_factory("viewer"))
    assert client.post(url).status_code == 403
    run_tasks(partner_services.request_subaccount, system_actor(), customer, "digicert")
    client.force_login(member_factory("billing"))
    page = client.get(reverse("dashboard:billing-subscription", args=[subscription.pk])).content.decode()
    assert "Retry provisioning" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert subscription.provisioning_state == "done" and AcmeContract.objects.count() == 1
