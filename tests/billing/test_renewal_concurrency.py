"""Renewal runs in parallel on PostgreSQL: SKIP LOCKED plus one row per period, so each renewal once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections

from billing.models import BillingSubscription, Checkout, CheckoutKind, Renewal, SubscriptionState
from billing.services import renewals
from core import clock
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _due_subscriptions(count, plan, product):
    customer = product.partner.customers.first() or CustomerFactory(partner=product.partner)
    acquisition = Checkout.objects.create(partner=product.partner, customer=customer, currency="USD")
    end = clock.now() - timedelta(hours=1)
    return [
        BillingSubscription.objects.create(
            partner=product.partner,
            customer=customer,
            product=product,
            plan=plan,
            acquisition=acquisition,
            price=product.price,
            state=SubscriptionState.ACTIVE,
            subscription_id=f"sub-{plan.pk}-{i}",
            billing_agreement_id=f"ba-{plan.pk}-{i}",
            payment_source_id=f"src-{i}",
            current_period_end_date=end,
            next_invoice_date=end,
        )
        for i in range(count)
    ]


def _two_runs_at_once() -> list[int]:
    """Two renewal runs started together on two connections; what each took (an error fails)."""
    barrier = threading.Barrier(2)
    taken, errors = [], []

    def run():
        try:
            barrier.wait()
            taken.append(renewals.run_renewals())
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    return taken


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks with SKIP LOCKED need PostgreSQL")
def test_two_renewal_runs_in_parallel_renew_each_subscription_once(external_support_product, monkeypatch):
    from core import tasks

    monkeypatch.setattr(tasks, "async_task", lambda *a, **k: None)  # the vendor calls are not the point here
    monkeypatch.setattr(renewals, "_hold_reason", lambda subscription, reminded: "")
    _due_subscriptions(40, external_support_product.plan, external_support_product)
    taken = _two_runs_at_once()
    assert sum(taken) == 40 and Renewal.objects.count() == 40
    assert Renewal.objects.values("subscription").distinct().count() == 40
    assert Checkout.objects.filter(kind=CheckoutKind.RENEWAL).count() == 40


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks with SKIP LOCKED need PostgreSQL")
def test_two_parallel_runs_over_several_batches_renew_each_subscription_once(
    external_support_product, monkeypatch
):
    """More due than one batch (10 here): each run goes batch after batch, skipping the rows the other
    holds; every subscription still gets one renewal, one checkout, one item and one operation."""
    from core import tasks
    from core.models import Operation

    monkeypatch.setattr(tasks, "async_task", lambda *a, **k: None)
    monkeypatch.setattr(renewals, "_hold_reason", lambda subscription, reminded: "")
    monkeypatch.setattr(renewals, "BATCH", 10)
    _due_subscriptions(45, external_support_product.plan, external_support_product)
    taken = _two_runs_at_once()
    assert sum(taken) == 45 and Renewal.objects.count() == 45
    assert Renewal.objects.values("subscription").distinct().count() == 45
    renewal_checkouts = Checkout.objects.filter(kind=CheckoutKind.RENEWAL)
    assert renewal_checkouts.count() == 45
    assert all(c.items.count() == 1 and c.renewals.count() == 1 for c in renewal_checkouts)
    assert Operation.objects.filter(kind=renewals.OrderRenewal.kind).count() == 45


def test_a_second_run_finds_nothing_to_renew(external_support_product, monkeypatch):
    from core import tasks

    monkeypatch.setattr(tasks, "async_task", lambda *a, **k: None)
    monkeypatch.setattr(renewals, "_hold_reason", lambda subscription, reminded: "")
    _due_subscriptions(3, external_support_product.plan, external_support_product)
    assert renewals.run_renewals() == 3
    assert renewals.run_renewals() == 0
    assert Renewal.objects.count() == 3


def test_the_renewal_run_never_takes_a_subscription_digital_river_renews(
    support_product, external_support_product, monkeypatch
):
    """Even due on our side, a Digital River-engine subscription gets no renewal order: its
    service charges it (an order of ours would be a second charge)."""
    from core import tasks

    monkeypatch.setattr(tasks, "async_task", lambda *a, **k: None)
    monkeypatch.setattr(renewals, "_hold_reason", lambda subscription, reminded: "")
    [ours] = _due_subscriptions(1, external_support_product.plan, external_support_product)
    [theirs] = _due_subscriptions(1, support_product.plan, support_product)
    assert renewals.run_renewals() == 1
    assert list(Renewal.objects.values_list("subscription", flat=True)) == [ours.pk]
    assert not Checkout.objects.filter(kind=CheckoutKind.RENEWAL, items__subscription=theirs).exists()
