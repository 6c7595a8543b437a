"""Billing agreement after a change: the change flows use the one decision (same or new agreement)."""

import pytest

from billing.models import BillingAgreement, BillingSubscription, Checkout
from billing.rules import Change
from billing.services.changes import change_subscription
from core.errors import ValidationFailed
from subscriptions.acme.models import AcmeContract
from tests.billing.conftest import _product
from tests.conftest import system_actor
from tests.sandbox_helpers import sandbox_checkout_session, sandbox_dr_subscriptions

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(sell, acme_product, digicert_subaccount):
    return sell(acme_product, "change.example.com")


@pytest.mark.parametrize("change", [Change.PAYMENT_METHOD, Change.METERED, Change.TRIAL_CONVERSION])
def test_a_change_within_the_agreed_terms_keeps_the_billing_agreement(live, change):
    checkouts = Checkout.objects.count()
    outcome = change_subscription(system_actor(), live, change)
    assert outcome.agreement == "same" and outcome.checkout is None
    assert Checkout.objects.count() == checkouts


def test_a_quantity_change_takes_a_new_agreement_through_a_customer_initiated_checkout(live, run_tasks, pay):
    outcome = run_tasks(change_subscription, system_actor(), live, Change.QUANTITY, quantity=3)
    assert outcome.agreement == "new"
    checkout = outcome.checkout
    checkout.refresh_from_db()
    assert sandbox_checkout_session(checkout.session_id)["chargeType"] == "customer_initiated"
    pay(checkout)
    new = BillingSubscription.objects.get(pk=outcome.subscription.pk)
    live.refresh_from_db()
    assert new.state == "active" and new.quantity == 3 and new.replaces == live
    assert new.billing_agreement_id and new.billing_agreement_id != live.billing_agreement_id
    assert live.state == "cancelled"
    assert sandbox_dr_subscriptions(pk=live.subscription_id).get().state == "cancelled"
    assert BillingAgreement.objects.get(agreement_id=live.billing_agreement_id).superseded_at is not None
    contract = AcmeContract.objects.get()  # the contract goes on: no second one
    assert new.provisioned == contract and contract.auto_renew is True


def test_an_upgrade_needs_a_higher_priced_product(live, customer, annual_plan):
    cheaper = _product(customer, annual_plan, "acme-lite", "Lite", price="60.00", provisions="acme_contract")
    checkouts = Checkout.objects.count()
    with pytest.raises(ValidationFailed):
        change_subscription(system_actor(), live, Change.UPGRADE, product=cheaper)
    assert Checkout.objects.count() == checkouts


def test_an_upgrade_starts_a_new_checkout_for_the_new_product(live, customer, annual_plan, run_tasks):
    better = _product(customer, annual_plan, "acme-plus", "Plus", price="240.00", provisions="acme_contract")
    outcome = run_tasks(change_subscription, system_actor(), live, Change.UPGRADE, product=better)
    assert outcome.agreement == "new" and outcome.subscription.product == better
    assert outcome.subscription.replaces == live and live.state == "active"  # until the new one is paid


def test_the_api_change_needs_the_billing_role_and_answers_with_the_agreement_decision(api, live, run_tasks):
    from tests.factories import MembershipFactory, PartnerFactory

    url = f"/api/v1/billing/subscriptions/{live.pk}/change/"
    assert api.post(url, {"change": "quantity", "quantity": 2}, format="json").status_code == 401
    stranger = api.as_user(MembershipFactory(partner=PartnerFactory(), role="owner").user)
    assert stranger.post(url, {"change": "quantity", "quantity": 2}, format="json").status_code == 404
    viewer = api.as_user(MembershipFactory(partner=live.partner, role="viewer").user)
    assert viewer.post(url, {"change": "quantity", "quantity": 2}, format="json").status_code == 403
    billing = api.as_user(MembershipFactory(partner=live.partner, role="billing").user)
    same = billing.post(url, {"change": "payment_method"}, format="json")
    assert same.status_code == 200 and same.json()["agreement"] == "same"
    new = billing.post(url, {"change": "quantity", "quantity": 2}, format="json")
    assert new.status_code == 202 and new.json()["agreement"] == "new"
    assert new.json()["checkout"]["charge_type"] == "customer_initiated"
