"""One renewal engine per subscription (domain.md "Digital River: two ways to run a subscription"):
Digital River's service charges its own subscriptions and the back office only listens; the back
office renews external subscriptions itself, on the saved source. Money moves only for what was
delivered: every order is fulfilled before it is captured. The sandbox's ledger is what is counted.
"""

from collections import defaultdict
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta

from billing import seeding
from billing.models import (
    BillingSubscription,
    Checkout,
    CheckoutItem,
    CheckoutKind,
    Notice,
    NoticeKind,
    Plan,
    ProvisioningState,
    Renewal,
    RenewalEngine,
    RenewalState,
    SubscriptionState,
)
from billing.rules import Line, check_acquisition
from billing.services import catalog, fulfilment
from billing.services.acquisition import OrderLine
from billing.tasks import fulfil_ready_orders_task, run_renewals_task, send_reminders_task
from core import clock
from core.errors import RuleViolation
from tests.conftest import system_actor
from tests.sandbox_helpers import advance_vendor_clock, dr_captures_by_subscription, dr_ledger

pytestmark = pytest.mark.django_db


def _one_day(run_tasks):
    run_tasks(advance_vendor_clock, days=1)
    run_tasks(send_reminders_task)
    run_tasks(run_renewals_task)
    run_tasks(fulfil_ready_orders_task)


def _simulate(run_tasks, days):
    """Move both clocks a day at a time; what happened each day, by subscription."""
    seen = defaultdict(list)
    for _ in range(days):
        notices_before = set(Notice.objects.values_list("pk", flat=True))
        renewals_before = set(Renewal.objects.values_list("pk", flat=True))
        _one_day(run_tasks)
        today = clock.now().date()
        for notice in Notice.objects.exclude(pk__in=notices_before):
            seen[(notice.subscription_id, notice.kind)].append(today)
        for renewal in Renewal.objects.exclude(pk__in=renewals_before):
            seen[(renewal.subscription_id, "renewal")].append(today)
    return seen


def _captures(subscription) -> int:
    return len(dr_captures_by_subscription().get(subscription.subscription_id, []))


def _money(subscription):
    """What the sandbox captured for the subscription, net of refunds."""
    from django.db.models import Sum

    entries = dr_ledger(subscription_id=subscription.subscription_id)
    captured = entries.filter(kind="capture").aggregate(total=Sum("amount"))["total"] or 0
    refunded = entries.filter(kind="refund").aggregate(total=Sum("amount"))["total"] or 0
    return captured - refunded


@pytest.mark.slow
def test_a_year_and_a_month_on_digital_rivers_engine_one_capture_per_period_and_no_renewal_order(
    sell, acme_product, support_product, digicert_subaccount, run_tasks
):
    annual, monthly = sell(acme_product, "year.example.com"), sell(support_product)
    assert annual.run_by_digital_river and monthly.run_by_digital_river
    start, annual_end = clock.now(), annual.current_period_end_date
    seen = _simulate(run_tasks, 366 + 31)

    # Digital River charged and captured each period once; we never built a renewal order.
    assert _captures(annual) == 2  # the acquisition, then one renewal
    assert _captures(monthly) == 1 + 13
    assert _money(annual) == annual.price * 2 and _money(monthly) == monthly.price * 14
    assert not CheckoutItem.objects.filter(
        checkout__kind=CheckoutKind.RENEWAL, subscription__plan__engine=RenewalEngine.DIGITAL_RIVER
    ).exists()
    assert (
        not dr_ledger(kind="capture", invoice_id="", subscription_id=annual.subscription_id)
        .exclude(order_id=annual.acquisition.order_id)
        .exists()
    )
    # The reminder Digital River asked for, the renewal notice the day it was paid.
    assert seen[(annual.pk, NoticeKind.RENEWAL_REMINDER)] == [(annual_end - timedelta(days=30)).date()]
    assert seen[(annual.pk, NoticeKind.RENEWED)] == [annual_end.date()]
    assert not [k for (pk, k) in seen if pk == annual.pk and k.startswith("reminder_")]  # none of ours
    monthly_days = [(start + relativedelta(months=m)).date() for m in range(1, 14)]
    assert seen[(monthly.pk, NoticeKind.RENEWED)] == monthly_days
    assert set(Renewal.objects.values_list("state", flat=True)) == {RenewalState.CAPTURED}
    annual.refresh_from_db()
    assert annual.current_period_end_date.date() == (start + relativedelta(years=2)).date()


@pytest.mark.slow
def test_a_year_and_a_month_on_the_back_office_engine_one_capture_per_period_on_the_saved_source(
    sell, external_acme_product, external_support_product, digicert_subaccount, run_tasks
):
    annual, monthly = sell(external_acme_product, "bo.example.com"), sell(external_support_product)
    assert not annual.run_by_digital_river and annual.payment_source_id
    start, annual_end = clock.now(), annual.current_period_end_date
    seen = _simulate(run_tasks, 366 + 31)

    assert _captures(annual) == 2
    assert _captures(monthly) == 1 + 13
    # The money captured is the price of what was provided: one period each time.
    assert _money(annual) == annual.price * 2 and _money(monthly) == monthly.price * 14
    assert seen[(annual.pk, NoticeKind.REMINDER_30)] == [(annual_end - timedelta(days=30)).date()]
    assert seen[(annual.pk, NoticeKind.REMINDER_7)] == [(annual_end - timedelta(days=7)).date()]
    assert seen[(annual.pk, NoticeKind.REMINDER_1)] == [(annual_end - timedelta(days=1)).date()]
    assert seen[(annual.pk, "renewal")] == [annual_end.date()]
    assert seen[(annual.pk, NoticeKind.RENEWED)] == [annual_end.date()]
    monthly_days = [(start + relativedelta(months=m)).date() for m in range(1, 14)]
    assert seen[(monthly.pk, "renewal")] == monthly_days
    assert seen[(monthly.pk, NoticeKind.RENEWED)] == monthly_days
    assert not [k for (pk, k) in seen if pk == monthly.pk and k.startswith("reminder")]
    assert set(Renewal.objects.values_list("state", flat=True)) == {RenewalState.CAPTURED}
    # Every renewal checkout was merchant-initiated, on the agreement and with the saved source.
    renewal_checkouts = Checkout.objects.filter(kind=CheckoutKind.RENEWAL)
    assert renewal_checkouts.count() == 1 + 13
    assert set(renewal_checkouts.values_list("charge_type", "source_id", "billing_agreement_id")) <= {
        ("merchant_initiated", s.payment_source_id, s.billing_agreement_id) for s in (annual, monthly)
    }
    assert not renewal_checkouts.filter(fulfilled_at__isnull=True).exists()


def test_an_accepted_order_is_captured_only_after_fulfilment(
    checkout, pay, acme_product, digicert_subaccount, run_tasks, monkeypatch
):
    with monkeypatch.context() as held:
        held.setattr(fulfilment, "fulfil_when_ready", lambda pk: False)  # fulfilment held back
        paid = pay(checkout(OrderLine(acme_product, options={"sans": ["held.example.com"]})))
    assert paid.order_id and paid.state == "ordered"
    assert dr_ledger(kind="authorization", order_id=paid.order_id).count() == 1
    assert not dr_ledger(kind="capture", order_id=paid.order_id).exists()
    run_tasks(fulfil_ready_orders_task)
    paid.refresh_from_db()
    assert paid.fulfilled_at and paid.state == "paid" and paid.captured_amount == paid.total
    assert paid.order_state == "complete"  # Digital River's order.complete, after the capture
    assert dr_ledger(kind="capture", order_id=paid.order_id).count() == 1


def test_a_provisioning_that_fails_for_good_cancels_the_item_and_nothing_is_captured_for_it(
    checkout, pay, acme_product, run_tasks, settings
):
    """No DigiCert subaccount: the ACME contract cannot be ordered, after every retry."""
    settings.BILLING_PROVISION_ATTEMPTS = 2
    paid = pay(checkout(OrderLine(acme_product, options={"sans": ["nowhere.example.com"]})))
    subscription = BillingSubscription.objects.get(acquisition=paid)
    assert subscription.provisioning_state == ProvisioningState.PENDING  # first refusal: retried
    assert not paid.fulfilled_at
    from billing.tasks import provision_pending_task

    run_tasks(provision_pending_task)
    subscription.refresh_from_db()
    paid.refresh_from_db()
    assert subscription.provisioning_state == ProvisioningState.FAILED
    item = paid.items.get()
    assert paid.fulfilled_at and item.cancelled_quantity == 1 and item.fulfilled_quantity == 0
    assert not dr_ledger(kind="capture", order_id=paid.order_id).exists()
    assert dr_ledger(kind="cancel", order_id=paid.order_id).count() == 1
    assert (paid.state, paid.order_state) == ("cancelled", "cancelled")


def test_a_renewal_checkout_always_carries_the_saved_source(
    checkout, pay, external_support_product, run_tasks
):
    pay(checkout(OrderLine(external_support_product)))
    subscription = BillingSubscription.objects.get(product=external_support_product)
    BillingSubscription.objects.filter(pk=subscription.pk).update(payment_source_id="")
    for _ in range(31):
        _one_day(run_tasks)
    renewal = Renewal.objects.get(subscription=subscription)
    assert renewal.state == RenewalState.HELD and renewal.checkout is None  # never sent without one
    assert not Checkout.objects.filter(kind=CheckoutKind.RENEWAL).exists()


def test_two_recurring_items_with_the_same_terms_renew_in_one_checkout(
    checkout, pay, external_support_product, run_tasks
):
    pay(
        checkout(
            OrderLine(external_support_product, quantity=1), OrderLine(external_support_product, quantity=2)
        )
    )
    subscriptions = BillingSubscription.objects.filter(product=external_support_product)
    assert subscriptions.count() == 2 and len({s.subscription_id for s in subscriptions}) == 2
    for _ in range(31):
        _one_day(run_tasks)
    renewal_checkouts = Checkout.objects.filter(kind=CheckoutKind.RENEWAL)
    assert renewal_checkouts.count() == 1 and renewal_checkouts.get().items.count() == 2
    assert all(_captures(s) == 2 for s in subscriptions)


def test_a_checkout_of_both_engines_is_refused_before_any_call():
    lines = [
        Line(sku_id="a", price=10, quantity=1, plan_id="dr", terms="t"),
        Line(sku_id="b", price=10, quantity=1, plan_id="bo", terms="t", external=True),
    ]
    with pytest.raises(RuleViolation) as refused:
        check_acquisition(lines)
    assert refused.value.code == "engine_mixed"


def test_a_plans_engine_cannot_change_once_it_has_subscriptions(checkout, support_product, monthly_plan):
    checkout(OrderLine(support_product))
    before = Plan.objects.filter(pk=monthly_plan.pk).values("engine").get()
    with pytest.raises(RuleViolation) as refused:
        catalog.update_plan(system_actor(), monthly_plan, engine=RenewalEngine.BACK_OFFICE)
    assert refused.value.code == "plan_engine_fixed"
    assert Plan.objects.filter(pk=monthly_plan.pk).values("engine").get() == before


def test_a_manual_renewal_is_paid_through_its_link(checkout, pay, external_support_product, run_tasks):
    pay(checkout(OrderLine(external_support_product)))
    subscription = BillingSubscription.objects.get(product=external_support_product)
    BillingSubscription.objects.filter(pk=subscription.pk).update(auto_renewal=False)
    for _ in range(31):
        _one_day(run_tasks)
    renewal = Renewal.objects.get(subscription=subscription)
    assert renewal.state == RenewalState.AWAITING_CUSTOMER
    manual = renewal.checkout
    assert manual.charge_type == "customer_initiated" and manual.payment_link
    link = Notice.objects.get(subscription=subscription, kind=NoticeKind.MANUAL_RENEWAL)
    assert link.details["link"] == manual.payment_link
    assert _captures(subscription) == 1
    pay(manual)
    renewal.refresh_from_db()
    assert renewal.state == RenewalState.CAPTURED and _captures(subscription) == 2


def test_a_payment_method_change_keeps_the_agreement_on_each_engine(
    checkout, pay, support_product, external_support_product, run_tasks
):
    from billing.services.payment_methods import change_payment_method
    from tests.sandbox_helpers import dr_new_source

    pay(checkout(OrderLine(support_product)))
    pay(checkout(OrderLine(external_support_product)))
    dr_sub = BillingSubscription.objects.get(product=support_product)
    bo_sub = BillingSubscription.objects.get(product=external_support_product)
    agreements = {dr_sub.pk: dr_sub.billing_agreement_id, bo_sub.pk: bo_sub.billing_agreement_id}
    source_id = dr_new_source()  # made by the Drop-in, not yet saved to the customer
    run_tasks(change_payment_method, system_actor(), dr_sub.customer, source_id)
    for subscription in (dr_sub, bo_sub):
        subscription.refresh_from_db()
        assert subscription.payment_source_id == source_id
        assert subscription.billing_agreement_id == agreements[subscription.pk]
    from tests.sandbox_helpers import sandbox_dr_subscriptions

    assert sandbox_dr_subscriptions(pk=dr_sub.subscription_id).get().source_id == source_id
    for _ in range(31):
        _one_day(run_tasks)
    assert dr_ledger(kind="capture", subscription_id=bo_sub.subscription_id, source_id=source_id).count() == 1
    assert dr_ledger(kind="capture", subscription_id=dr_sub.subscription_id, source_id=source_id).count() == 1
    assert SubscriptionState.ACTIVE in {dr_sub.state, bo_sub.state}


TRIAL = dict(
    name="14-day trial",
    terms="Free for 14 days, then the monthly price until cancelled.",
    **seeding.cycle("day", 14, binding=14, reminder=3, collection=7),
)


@pytest.mark.parametrize("engine", [RenewalEngine.DIGITAL_RIVER, RenewalEngine.BACK_OFFICE])
def test_a_free_trial_converts_to_paid_on_the_same_agreement_after_a_reminder(
    engine, make_plan, monthly_plan, external_monthly_plan, customer, checkout, pay, run_tasks
):
    from decimal import Decimal

    paid_plan = monthly_plan if engine == RenewalEngine.DIGITAL_RIVER else external_monthly_plan
    trial_plan = make_plan(**TRIAL, plan_id=f"trial-{engine}", engine=engine)
    product = seeding.ensure_product(
        system_actor(),
        customer.partner,
        sku_id=f"trial-{engine}",
        name="Support with a trial",
        price="10.00",
        plan=paid_plan,
        free_trial=True,
        trial_plan=trial_plan,
    )
    paid = pay(checkout(OrderLine(product)))
    assert paid.total == 0
    subscription = BillingSubscription.objects.get(product=product)
    agreement, trial_end = subscription.billing_agreement_id, subscription.current_period_end_date
    assert subscription.state == SubscriptionState.ACTIVE_FREE and subscription.free_trial
    seen = _simulate(run_tasks, 15)
    subscription.refresh_from_db()
    [reminded_on] = seen[(subscription.pk, NoticeKind.TRIAL_ENDING)]
    assert reminded_on < trial_end.date()
    reminder = Notice.objects.get(subscription=subscription, kind=NoticeKind.TRIAL_ENDING)
    assert reminder.details["amount"].startswith("10")
    assert not [k for (pk, k) in seen if pk == subscription.pk and k.startswith("reminder")]  # no "renews on"
    assert seen[(subscription.pk, NoticeKind.TRIAL_CONVERTED)] == [trial_end.date()]
    assert subscription.state == SubscriptionState.ACTIVE and not subscription.free_trial
    assert subscription.billing_agreement_id == agreement
    paid_captures = dr_ledger(kind="capture", subscription_id=subscription.subscription_id).exclude(amount=0)
    assert [c.amount for c in paid_captures] == [Decimal("10.00")]


def test_billing_run_renews_what_is_due_now(checkout, pay, external_support_product, run_tasks):
    from io import StringIO

    from django.core.management import call_command

    pay(checkout(OrderLine(external_support_product)))
    subscription = BillingSubscription.objects.get()
    run_tasks(advance_vendor_clock, days=31)
    out = StringIO()
    run_tasks(call_command, "billing_run", stdout=out)
    assert "renewals ordered: 1" in out.getvalue()
    assert Renewal.objects.get(subscription=subscription).state == RenewalState.CAPTURED
    assert _captures(subscription) == 2


def test_a_back_office_renewal_of_a_service_that_is_gone_is_cancelled_not_charged(
    checkout, pay, external_acme_product, digicert_subaccount, run_tasks
):
    from subscriptions.acme.models import AcmeContract

    pay(checkout(OrderLine(external_acme_product, options={"sans": ["gone.example.com"]})))
    subscription = BillingSubscription.objects.get()
    AcmeContract.objects.filter(pk=subscription.provisioned_id).update(state="cancelled")
    _simulate(run_tasks, 366)
    renewal = Renewal.objects.get(subscription=subscription)
    assert renewal.state == RenewalState.CANCELLED
    assert renewal.checkout.items.get().cancelled_quantity == 1
    assert _captures(subscription) == 1  # the acquisition only
    assert dr_ledger(kind="cancel", order_id=renewal.checkout.order_id).count() == 1


def test_a_declined_back_office_renewal_is_tried_again_the_next_day_and_charged_once(
    checkout, pay, external_support_product, run_tasks
):
    from tests.sandbox_helpers import dr_fail_charges

    pay(checkout(OrderLine(external_support_product)))
    subscription = BillingSubscription.objects.get()
    dr_fail_charges(subscription.payment_source_id, times=1)
    seen = _simulate(run_tasks, 32)
    renewal = Renewal.objects.get(subscription=subscription)
    assert renewal.state == RenewalState.CAPTURED
    assert len(seen[(subscription.pk, NoticeKind.PAYMENT_FAILED)]) == 1
    assert seen[(subscription.pk, NoticeKind.RENEWED)] == [
        seen[(subscription.pk, NoticeKind.PAYMENT_FAILED)][0] + timedelta(days=1)
    ]
    assert _captures(subscription) == 2  # the acquisition and one renewal, after one decline
    assert Checkout.objects.filter(kind=CheckoutKind.RENEWAL).count() == 2


def test_a_back_office_renewal_still_declined_after_the_collection_period_fails_the_subscription(
    checkout, pay, external_support_product, run_tasks
):
    from tests.sandbox_helpers import dr_fail_charges

    pay(checkout(OrderLine(external_support_product)))
    subscription = BillingSubscription.objects.get()
    dr_fail_charges(subscription.payment_source_id, times=99)
    _simulate(run_tasks, 31 + subscription.plan.collection_period_days + 1)
    subscription.refresh_from_db()
    assert subscription.state == SubscriptionState.FAILED
    assert Notice.objects.filter(subscription=subscription, kind=NoticeKind.ENDED).count() == 1
    assert _captures(subscription) == 1  # never charged for the unpaid period
    attempts = Checkout.objects.filter(kind=CheckoutKind.RENEWAL).count()
    assert attempts == subscription.plan.collection_period_days  # once a day within the period
