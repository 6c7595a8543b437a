"""The billing model has an effect (domain.md: billing centralized at the partner or per subaccount).

Per subaccount, DigiCert bills each subaccount directly: checkouts refuse DigiCert products (billing
the customer too would bill twice), and an ACME contract ordered directly is billed by DigiCert, so
it needs no reason and carries the not-billed mark "Billed per subaccount by DigiCert". Cloudflare
is billed by the back office either way; centralized is unchanged.
"""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from billing.models import BillingSubscription, Checkout, CheckoutItem
from billing.services import acquisition
from billing.services.acquisition import OrderLine
from core.errors import RuleViolation, ValidationFailed
from core.models import Operation
from partner import billing_model
from partner.models import BillingModel
from reconciliation.models import NotBilled
from subscriptions.acme import services as acme
from subscriptions.acme.models import AcmeContract
from tests.conftest import system_actor
from tests.factories import MembershipFactory, PartnerFactory, StaffFactory
from tests.sandbox_helpers import vendor_request_count

pytestmark = pytest.mark.django_db


@pytest.fixture
def per_subaccount(customer):
    """The customer's partner is billed per subaccount by DigiCert (chosen before any subaccount)."""
    partner = customer.partner
    partner.billing_model = BillingModel.PER_SUBACCOUNT
    partner.save()
    return partner


def _written() -> tuple:
    return (
        Checkout.objects.count(),
        CheckoutItem.objects.count(),
        BillingSubscription.objects.count(),
        Operation.objects.count(),
    )


def test_per_subaccount_checkout_refuses_a_digicert_product_and_writes_nothing(
    per_subaccount, acme_product, customer, run_tasks
):
    before, requests = _written(), vendor_request_count()
    with pytest.raises(RuleViolation) as refused:
        run_tasks(
            acquisition.start_checkout,
            system_actor(),
            customer,
            [OrderLine(acme_product, options={"sans": ["example.com"]})],
        )
    assert refused.value.code == billing_model.REFUSED_CODE == "digicert_billed_per_subaccount"
    assert "items[0].product" in refused.value.fields
    assert _written() == before and vendor_request_count() == requests


def test_per_subaccount_checkout_still_sells_cloudflare(per_subaccount, zone_product, checkout, add_zone):
    sold = checkout(OrderLine(zone_product, options={"zone": add_zone().pk}))
    assert sold.items.count() == 1


def test_centralized_checkout_sells_digicert_products_as_before(acme_product, checkout, customer):
    assert customer.partner.billing_model == BillingModel.CENTRALIZED
    sold = checkout(OrderLine(acme_product, options={"sans": ["example.com"]}))
    assert sold.items.get().product == acme_product


def test_per_subaccount_acme_order_needs_no_reason_and_gets_the_not_billed_mark(
    per_subaccount, digicert_subaccount, customer, run_tasks
):
    contract = run_tasks(
        acme.order_acme_contract, system_actor(), customer, product="ssl_dv_rapidssl", sans=["example.com"]
    )
    mark = NotBilled.objects.get(
        target_type=ContentType.objects.get_for_model(AcmeContract), target_id=str(contract.pk)
    )
    assert mark.live and mark.reason == "Billed per subaccount by DigiCert"


def test_centralized_acme_order_still_needs_a_reason(digicert_subaccount, customer):
    with pytest.raises(ValidationFailed) as refused:
        acme.order_acme_contract(system_actor(), customer, product="ssl_dv_rapidssl", sans=["example.com"])
    assert refused.value.code == "not_billed_reason_required"
    assert not AcmeContract.objects.exists()


@pytest.mark.parametrize("model", [BillingModel.CENTRALIZED, BillingModel.PER_SUBACCOUNT])
def test_the_partner_pages_show_what_the_billing_model_changes(model):
    partner = PartnerFactory(billing_model=model)
    owner = MembershipFactory(partner=partner, role="owner").user
    dashboard, admin = Client(), Client()
    dashboard.force_login(owner)
    admin.force_login(StaffFactory())
    pages = [
        dashboard.get(reverse("dashboard:organization")).content.decode(),
        admin.get(reverse("admin:partner_partner_change", args=[partner.pk])).content.decode(),
    ]
    for page in pages:
        assert escape(billing_model.effect(partner)) in page
        assert "DigiCert Partner Account Manager" in page
