"""Renewal grouping (billing.rules.renewal_group_key, billing.services.renewals._groups), as a
composite rule: several subscriptions due at once land in exactly the right renewal checkouts.

Items of one acquisition with the same terms, the same saved payment source and the same renewal
mode renew in one checkout; anything that differs in one of those renews apart, so a checkout
never mixes two acquisitions (two billing agreements), two plans' terms, two sources, or an
automatic charge with a renewal the customer pays by link.

Rows are written directly (tests.factories) and the run's vendor calls are not made (nothing runs
on commit here): what is checked is the checkouts the run builds, item by item.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.models import Checkout, CheckoutKind, RenewalEngine, RenewalState
from billing.services import renewals
from tests.factories import (
    BillingAgreementFactory,
    BillingSubscriptionFactory,
    CheckoutFactory,
    CheckoutItemFactory,
    CustomerFactory,
    PlanFactory,
    ProductFactory,
)

pytestmark = pytest.mark.django_db


def _monthly(terms):
    """A monthly back-office plan (no 30-day reminder needed, so nothing is held)."""
    return PlanFactory(
        interval="month", engine=RenewalEngine.BACK_OFFICE, terms=terms, name=f"Monthly {terms[:12]}"
    )


def _acquisition(customer, agreement):
    BillingAgreementFactory(agreement_id=agreement, customer=customer)
    return CheckoutFactory(customer=customer, paid=True, billing_agreement_id=agreement)


def _due(acquisition, product, *, source="src-card-1", auto=True, due=True, price=None):
    """A subscription of `acquisition` (its agreement), due now unless `due=False`."""
    when = timezone.now() - timedelta(hours=1) if due else timezone.now() + timedelta(days=10)
    sub = BillingSubscriptionFactory(
        customer=acquisition.customer,
        product=product,
        acquisition=acquisition,
        billing_agreement_id=acquisition.billing_agreement_id,
        payment_source_id=source,  # a manual renewal may have a saved card too: the mode still parts them
        auto_renewal=auto,
        price=Decimal(price or product.price),
        current_period_end_date=when,
    )
    CheckoutItemFactory(checkout=acquisition, product=product, price=sub.price, subscription=sub)
    return sub


@pytest.fixture
def due_mix():
    """One customer with subscriptions due now from two acquisitions (two agreements):

    acquisition 1 (agreement ba-first): a1, a2 on plan A, b1 on plan B, a3 on plan A charged on
    another card, m1 on plan A renewed by hand (the customer pays, same card on file), later1 on plan A not due yet;
    acquisition 2 (agreement ba-second): a4 on plan A, the same card as a1.
    """
    customer = CustomerFactory()
    partner = customer.partner
    plan_a = _monthly("Plan A: renews every month until cancelled.")
    plan_b = _monthly("Plan B: renews every month, 12 months minimum.")
    zone_a = ProductFactory(partner=partner, plan=plan_a, sku_id="zone-a", price="20.00")
    zone_b = ProductFactory(partner=partner, plan=plan_b, sku_id="zone-b", price="200.00")
    first = _acquisition(customer, "ba-first")
    second = _acquisition(customer, "ba-second")
    subs = {
        "a1": _due(first, zone_a),
        "a2": _due(first, zone_a, price="25.00"),
        "b1": _due(first, zone_b),
        "a3": _due(first, zone_a, source="src-card-2"),
        "m1": _due(first, zone_a, auto=False),
        "later1": _due(first, zone_a, due=False),
        "a4": _due(second, zone_a),
    }
    return subs


def _renewal_checkouts():
    """{frozenset of subscription names' ids: checkout} for every renewal checkout built."""
    return {
        frozenset(item.subscription_id for item in checkout.items.all()): checkout
        for checkout in Checkout.objects.filter(kind=CheckoutKind.RENEWAL).prefetch_related("items")
    }


def test_due_subscriptions_land_in_exactly_the_right_renewal_checkouts(due_mix):
    s = due_mix
    taken = renewals.run_renewals()

    assert taken == 6  # every due one, not the one due later
    built = _renewal_checkouts()
    expected = {
        frozenset({s["a1"].pk, s["a2"].pk}),  # one acquisition, same terms, card, mode: together
        frozenset({s["b1"].pk}),  # other terms
        frozenset({s["a3"].pk}),  # other card
        frozenset({s["m1"].pk}),  # the customer pays this one by link
        frozenset({s["a4"].pk}),  # other acquisition, other agreement
    }
    assert set(built) == expected
    assert Checkout.objects.filter(kind=CheckoutKind.RENEWAL).count() == 5
    assert sorted(c.items.count() for c in built.values()) == [1, 1, 1, 1, 2]
    assert not s["later1"].renewals.exists()


def test_each_renewal_checkout_is_on_its_items_agreement_source_and_total(due_mix):
    s = due_mix
    renewals.run_renewals()
    built = _renewal_checkouts()

    together = built[frozenset({s["a1"].pk, s["a2"].pk})]
    assert together.billing_agreement_id == "ba-first" and together.source_id == "src-card-1"
    assert together.total == Decimal("45.00")  # 20 + 25: each item at its own price
    assert together.charge_type == "merchant_initiated"
    assert built[frozenset({s["a4"].pk})].billing_agreement_id == "ba-second"
    assert built[frozenset({s["a3"].pk})].source_id == "src-card-2"
    manual = built[frozenset({s["m1"].pk})]
    assert manual.charge_type == "customer_initiated" and manual.source_id == ""
    assert built[frozenset({s["b1"].pk})].total == Decimal("200.00")

    for checkout in built.values():
        items = renewals.renewal_items(checkout)
        # every item carries its own subscription's agreement, the one the checkout is on
        assert {i["subscriptionInfo"]["billingAgreementId"] for i in items} == {checkout.billing_agreement_id}
        subscriptions = [i.subscription for i in checkout.items.all()]
        assert len({sub.acquisition_id for sub in subscriptions}) == 1
        assert len({sub.plan.terms for sub in subscriptions}) == 1
        assert len({sub.payment_source_id for sub in subscriptions}) == 1


def test_every_taken_renewal_points_at_the_checkout_holding_its_item(due_mix):
    renewals.run_renewals()
    for name, sub in due_mix.items():
        if name == "later1":
            continue
        renewal = sub.renewals.get()
        assert renewal.checkout.items.filter(subscription=sub).count() == 1
        expected = RenewalState.AWAITING_CUSTOMER if name == "m1" else RenewalState.ORDERING
        assert renewal.state == expected


def test_a_second_run_builds_no_more_checkouts(due_mix):
    renewals.run_renewals()
    assert renewals.run_renewals() == 0
    assert Checkout.objects.filter(kind=CheckoutKind.RENEWAL).count() == 5
