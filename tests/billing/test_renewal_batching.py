"""The renewal run is batched (billing.services.renewals.run_renewals): its queries follow the
batches, not the renewals due; each renewal taken gets exactly one checkout, item, audit event and
operation; a held one is still held and staff alerted; a renewal of the period another run wrote
first is never ordered twice. And the vendor task that performs a renewal reads its checkout's
items once, whatever their number.

Rows are written directly (tests.factories); the run's vendor calls are not made here (nothing
runs on commit inside a test's transaction), except in the last tests, which perform them
against the in-process sandbox.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import (
    BillingSubscription,
    Checkout,
    CheckoutItem,
    CheckoutKind,
    CheckoutState,
    Renewal,
    RenewalEngine,
    RenewalState,
)
from billing.services import renewals
from core.models import AuditEvent, Operation, OperationState
from tests.factories import BillingSubscriptionFactory, CustomerFactory, PlanFactory, ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def product():
    """A monthly back-office product (no 30-day reminder needed, so nothing is held for it)."""
    customer = CustomerFactory()
    plan = PlanFactory(interval="month", engine=RenewalEngine.BACK_OFFICE, terms="Renews monthly.")
    return ProductFactory(partner=customer.partner, plan=plan, sku_id="batch-monthly", price="20.00")


def _due(product, count, *, source=True, customer=None):
    """`count` subscriptions due an hour ago, each its own renewal checkout (its own acquisition)."""
    customer = customer or product.partner.customers.first() or CustomerFactory(partner=product.partner)
    when = timezone.now() - timedelta(hours=1)
    return [
        BillingSubscriptionFactory(
            customer=customer,
            product=product,
            payment_source_id=f"src-{i}" if source else "",
            current_period_end_date=when,
            next_invoice_date=when,
        )
        for i in range(count)
    ]


def _queries_of_a_run() -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        taken = renewals.run_renewals()
    return taken, len(queries)


# SQLite takes at most 999 parameters a statement, so Django splits an INSERT of more than 39
# checkouts (25 columns) in two; PostgreSQL does not. 35 due stay within one statement on both.
MANY = 35


def test_the_run_makes_as_many_queries_for_35_due_renewals_as_for_5(product):
    _due(product, 1)
    renewals.run_renewals()  # warm-up: content types and other per-process caches
    _due(product, 5)
    few = _queries_of_a_run()
    _due(product, MANY)
    many = _queries_of_a_run()

    assert (few[0], many[0]) == (5, MANY)
    assert few[1] == many[1]


def test_held_renewals_cost_no_query_of_their_own_beyond_their_alert(product, monkeypatch):
    """Staff alerts stay one each (rare, and their e-mail reads the customer's contacts), but a held
    renewal adds no query to the run itself."""
    alerts = []
    monkeypatch.setattr(renewals.notices, "alert_staff", lambda subscription, text: alerts.append(text))
    _due(product, 1)
    renewals.run_renewals()
    _due(product, 3)
    _due(product, 2, source=False)  # held: no saved payment source
    with_held = _queries_of_a_run()
    _due(product, 3)
    without = _queries_of_a_run()

    assert (with_held[0], without[0]) == (3, 3)
    assert with_held[1] == without[1]
    assert len(alerts) == 2


def test_each_renewal_taken_has_one_checkout_one_item_one_audit_event_and_one_operation(product):
    due = _due(product, 12)

    assert renewals.run_renewals() == 12

    checkout_type = ContentType.objects.get_for_model(Checkout)
    for subscription in due:
        renewal = Renewal.objects.get(subscription=subscription)
        assert renewal.state == RenewalState.ORDERING
        assert renewal.renewal_date == subscription.current_period_end_date
        assert renewal.attempted_at is not None and renewal.amount == Decimal(subscription.price)
        checkout = renewal.checkout
        assert checkout.kind == CheckoutKind.RENEWAL and checkout.total == Decimal(subscription.price)
        assert (checkout.billing_agreement_id, checkout.source_id) == (
            subscription.billing_agreement_id,
            subscription.payment_source_id,
        )
        [item] = CheckoutItem.objects.filter(checkout=checkout)
        assert (item.subscription_id, item.product_id, item.price) == (
            subscription.pk,
            product.pk,
            Decimal(subscription.price),
        )
        [event] = AuditEvent.objects.filter(content_type=checkout_type, object_id=str(checkout.pk))
        assert event.action == "billing.renewal_ordered" and event.partner_id == checkout.partner_id
        assert event.changes == {"subscriptions": [None, [str(subscription.subscription_id)]]}
        [operation] = Operation.objects.filter(content_type=checkout_type, object_id=str(checkout.pk))
        assert (operation.kind, operation.state) == (renewals.OrderRenewal.kind, OperationState.PENDING)
        assert operation.partner_id == checkout.partner_id and operation.next_attempt_at is not None
    assert Checkout.objects.filter(kind=CheckoutKind.RENEWAL).count() == 12
    assert len(set(Checkout.objects.values_list("reference", flat=True))) == Checkout.objects.count()


def test_a_manual_renewal_in_the_batch_opens_a_checkout_the_customer_pays(product):
    from billing.services.acquisition import OpenCheckout

    [auto] = _due(product, 1)
    [manual] = _due(product, 1)
    BillingSubscription.objects.filter(pk=manual.pk).update(auto_renewal=False)

    assert renewals.run_renewals() == 2

    kinds = {
        r.subscription_id: (r.state, Operation.objects.get(object_id=str(r.checkout_id)).kind)
        for r in Renewal.objects.all()
    }
    assert kinds == {
        auto.pk: (RenewalState.ORDERING, renewals.OrderRenewal.kind),
        manual.pk: (RenewalState.AWAITING_CUSTOMER, OpenCheckout.kind),
    }


def test_held_renewals_are_still_held_and_staff_alerted(product, caplog):
    ordered = _due(product, 2)
    held = _due(product, 2, source=False)

    assert renewals.run_renewals() == 2

    for subscription in held:
        renewal = Renewal.objects.get(subscription=subscription)
        assert renewal.state == RenewalState.HELD and renewal.reminder_missing and renewal.checkout is None
    assert {r.subscription_id for r in Renewal.objects.filter(state=RenewalState.ORDERING)} == {
        s.pk for s in ordered
    }
    alerts = [r.getMessage() for r in caplog.records if r.name == "billing.services.notices"]
    assert len(alerts) == 2 and all("is held: no saved payment source" in a for a in alerts)
    assert not Operation.objects.filter(object_id__in=[str(s.pk) for s in held]).exists()


def test_more_due_than_one_batch_are_all_taken_batch_after_batch(product, monkeypatch):
    monkeypatch.setattr(renewals, "BATCH", 10)
    _due(product, 25)

    assert renewals.run_renewals() == 25
    assert Renewal.objects.filter(state=RenewalState.ORDERING).count() == 25
    assert Checkout.objects.filter(kind=CheckoutKind.RENEWAL).count() == 25
    assert renewals.run_renewals() == 0


def test_a_renewal_another_run_wrote_first_is_not_ordered_again(product, monkeypatch):
    """The race SKIP LOCKED leaves open (another run committed the period's renewal between our due
    query and our lock), and SQLite's lack of row locks: the INSERT skips the row, and only the
    renewals this run wrote are ordered."""
    theirs, *ours = _due(product, 3)
    taken_first = Renewal.objects.create(
        subscription=theirs,
        renewal_date=theirs.current_period_end_date,
        state=RenewalState.DUE,
        created_at=timezone.now() - timedelta(seconds=1),
    )
    due = BillingSubscription.objects.filter(pk__in=[theirs.pk, *(s.pk for s in ours)])
    monkeypatch.setattr(renewals, "due_subscriptions", lambda now: due)  # as if read before it

    assert renewals.run_renewals() == 2

    taken_first.refresh_from_db()
    assert taken_first.state == RenewalState.DUE and taken_first.checkout is None
    assert Renewal.objects.filter(subscription=theirs).count() == 1
    assert {r.subscription_id for r in Renewal.objects.filter(state=RenewalState.ORDERING)} == {
        s.pk for s in ours
    }
    assert Checkout.objects.filter(kind=CheckoutKind.RENEWAL).count() == 2


def test_a_declined_renewal_is_ordered_again_through_the_same_path(product):
    [subscription] = _due(product, 1)
    renewals.run_renewals()
    renewal = Renewal.objects.get()
    renewals.move_renewal(renewal, RenewalState.FAILED)
    renewal.attempted_at = timezone.now() - timedelta(days=2)  # declined two days ago
    renewal.save(update_fields=["state", "attempted_at", "updated_at"])

    assert renewals.retry_declined_renewals(timezone.now()) == 1

    renewal.refresh_from_db()
    assert renewal.state == RenewalState.ORDERING
    assert Checkout.objects.filter(kind=CheckoutKind.RENEWAL, items__subscription=subscription).count() == 2
    assert Operation.objects.filter(kind=renewals.OrderRenewal.kind).count() == 2


# --- Performing a renewal: the vendor task ------------------------------------------------------------


def _payers_at_the_sandbox(subscriptions, agreement="ba-batch"):
    """What Digital River knows of these subscriptions: their customer, its saved card, one agreement."""
    from billing.services.common import dr_customer_id
    from vendors.sandbox.digitalriver.models import DRBillingAgreement, DRCustomer, DRSource

    customer = subscriptions[0].customer
    dr_customer = DRCustomer.objects.create(id=dr_customer_id(customer), email="batch@example.com")
    source = DRSource.objects.create(customer=dr_customer, credit_card={"brand": "Visa"})
    DRBillingAgreement.objects.create(
        id=agreement,
        customer=dr_customer,
        source_id=source.id,
        subscription_ids=[str(s.subscription_id) for s in subscriptions],
    )
    BillingSubscription.objects.filter(pk__in=[s.pk for s in subscriptions]).update(
        billing_agreement_id=agreement, payment_source_id=source.id
    )


def _queries_performing_one_renewal(items: int, product, monkeypatch, on_commit, during=None) -> int:
    """Our queries (not the sandbox's) while the vendor task orders one renewal of `items` items;
    `during(checkout_pk)` runs inside the order's call (a webhook landing first)."""
    from core import operations, tasks
    from vendors import http as vendor_http

    customer = CustomerFactory(partner=product.partner)
    subscriptions = _due(product, items, customer=customer)
    BillingSubscription.objects.filter(pk__in=[s.pk for s in subscriptions]).update(
        acquisition=subscriptions[0].acquisition  # one acquisition: one renewal checkout
    )
    _payers_at_the_sandbox(subscriptions, agreement=f"ba-batch-{customer.pk}")
    queued = []
    monkeypatch.setattr(tasks, "async_task", lambda func, *args, **kwargs: queued.append((func, args)))
    with on_commit(execute=True):
        assert renewals.run_renewals() == items
    [operation_id] = [args[0] for func, args in queued if func == operations.RUN_TASK]
    inside = []
    real_request = vendor_http.VendorHTTP._request

    def counted(self, *args, **kwargs):
        before = len(connection.queries)
        try:
            answer = real_request(self, *args, **kwargs)
            if during is not None and len(inside) == 1:  # the second call: the order
                during(Operation.objects.get(pk=operation_id).object_id)
            return answer
        finally:
            inside.append(len(connection.queries) - before)

    monkeypatch.setattr(vendor_http.VendorHTTP, "_request", counted)
    with CaptureQueriesContext(connection) as queries:
        operations.run(operation_id)
    assert Operation.objects.get(pk=operation_id).state == OperationState.SUCCEEDED
    assert len(inside) == 2  # create the checkout, create the order
    assert Renewal.objects.filter(subscription__in=subscriptions, state=RenewalState.ORDERED).count() == items
    return len(queries) - sum(inside)


def test_performing_a_renewal_makes_as_many_queries_for_three_items_as_for_one(
    sandbox, product, monkeypatch, django_capture_on_commit_callbacks
):
    one = _queries_performing_one_renewal(1, product, monkeypatch, django_capture_on_commit_callbacks)
    three = _queries_performing_one_renewal(3, product, monkeypatch, django_capture_on_commit_callbacks)

    assert one == three
    assert one == 10  # claim, read; BEGIN, locked read, 5 writes, COMMIT (see bench/run.py)


@pytest.mark.parametrize("moved_to", [CheckoutState.FAILED, CheckoutState.PAID])
def test_performing_a_renewal_leaves_alone_a_checkout_the_webhook_moved_during_the_call(
    sandbox, product, monkeypatch, django_capture_on_commit_callbacks, moved_to
):
    def webhook_first(checkout_pk):
        Checkout.objects.filter(pk=checkout_pk).update(state=moved_to)

    queries = _queries_performing_one_renewal(
        1, product, monkeypatch, django_capture_on_commit_callbacks, during=webhook_first
    )

    checkout = Checkout.objects.get(kind=CheckoutKind.RENEWAL, customer__partner=product.partner)
    assert checkout.state == moved_to  # the locked read sees the move; ordered is not taken from there
    assert checkout.order_id and checkout.order_state  # the order is recorded all the same
    assert checkout.items.get().order_item_id
    assert queries == 10  # the same statements as when nothing moved it
