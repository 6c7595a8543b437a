"""`sandbox_dr fail-payment|expire-card|lapse --subscription` takes the id the admin and the dashboard
show (the back office's), as well as Digital River's own, and says so when neither matches."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from billing.models import BillingSubscription
from billing.services.acquisition import OrderLine
from tests.factories import CustomerFactory
from vendors.sandbox.digitalriver.models import DRSource

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscription(checkout, acme_product, pay, digicert_subaccount) -> BillingSubscription:
    pay(checkout(OrderLine(acme_product, options={"sans": ["ids.example.com"]})))
    return BillingSubscription.objects.get()


def fail_payment(subscription_id) -> str:
    out = io.StringIO()
    call_command("sandbox_dr", "fail-payment", subscription=str(subscription_id), stdout=out)
    return out.getvalue()


def test_the_back_office_id_names_the_subscriptions_source(subscription):
    out = fail_payment(subscription.pk)

    assert subscription.payment_source_id in out
    assert DRSource.objects.get(pk=subscription.payment_source_id).failing_charges == 1


def test_digital_rivers_id_still_works(subscription):
    fail_payment(subscription.subscription_id)

    assert DRSource.objects.get(pk=subscription.payment_source_id).failing_charges == 1


def test_an_id_matching_neither_is_a_clear_error(subscription):
    with pytest.raises(
        CommandError,
        match=r"No Digital River subscription .*, and no billing subscription of the back office",
    ):
        fail_payment(subscription.pk + 100)
    with pytest.raises(CommandError, match="No Digital River subscription no-such-subscription"):
        fail_payment("no-such-subscription")
    assert DRSource.objects.get(pk=subscription.payment_source_id).failing_charges == 0


def test_a_back_office_subscription_not_at_digital_river_says_so(subscription, acme_product):
    draft = BillingSubscription.objects.create(
        partner=subscription.partner,
        customer=CustomerFactory(partner=subscription.partner),
        product=acme_product,
        plan=subscription.plan,
        acquisition=subscription.acquisition,
        price=subscription.price,
    )

    with pytest.raises(CommandError, match=f"Subscription {draft.pk} has no sourceId"):
        fail_payment(draft.pk)
    with pytest.raises(
        CommandError, match=f"Billing subscription {draft.pk} has no subscription at Digital River"
    ):
        call_command("sandbox_dr", "lapse", subscription=str(draft.pk), stdout=io.StringIO())


def test_one_the_back_office_renews_names_its_saved_source(
    checkout, external_acme_product, pay, digicert_subaccount
):
    """An external subscription has no subscription at Digital River: its renewals use the saved source."""
    pay(checkout(OrderLine(external_acme_product, options={"sans": ["ours.example.com"]})))
    ours = BillingSubscription.objects.get()

    fail_payment(ours.pk)

    assert DRSource.objects.get(pk=ours.payment_source_id).failing_charges == 1
    with pytest.raises(CommandError, match="the back office renews it"):
        call_command("sandbox_dr", "lapse", subscription=str(ours.pk), stdout=io.StringIO())
