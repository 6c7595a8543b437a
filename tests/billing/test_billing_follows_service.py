"""Billing follows the service, and the service follows billing (domain.md): an ACME contract
cancelled inside DigiCert's 30 days is cancelled at Digital River and refunded in full; a stopped
renewal stops the next charge on both sides; counted on the sandbox's ledger."""

import pytest

from billing.models import BillingSubscription, NoticeKind, SubscriptionState
from billing.services import cancellation
from billing.services.acquisition import OrderLine
from core.errors import RuleViolation
from core.models import AuditEvent
from subscriptions.acme import services as acme
from subscriptions.acme.models import AcmeContract
from tests.billing.conftest import _product
from tests.conftest import system_actor
from tests.sandbox_helpers import (
    advance_vendor_clock,
    dr_captures_by_subscription,
    dr_ledger,
    sandbox_acme_contracts,
    sandbox_dr_subscriptions,
    vendor_request_count,
)

pytestmark = pytest.mark.django_db


def _year(run_tasks):
    from billing.tasks import (
        end_stopped_subscriptions_task,
        fulfil_ready_orders_task,
        run_renewals_task,
        send_reminders_task,
    )

    for _ in range(400):
        run_tasks(advance_vendor_clock, days=1)
        for task in (
            send_reminders_task,
            run_renewals_task,
            fulfil_ready_orders_task,
            end_stopped_subscriptions_task,
        ):
            run_tasks(task)


def _charged(subscription):
    return sum(amount for _, amount in dr_captures_by_subscription().get(subscription.subscription_id, []))


@pytest.mark.slow
def test_an_acme_contract_cancelled_on_day_3_is_cancelled_at_both_vendors_and_refunded_in_full(
    sold, run_tasks
):
    run_tasks(advance_vendor_clock, days=3)
    contract = AcmeContract.objects.get()
    run_tasks(acme.cancel_acme_contract, system_actor(), contract)  # from the contract's own page
    sold.refresh_from_db()
    assert sandbox_acme_contracts(pk=int(contract.vendor_id)).get().date_canceled is not None
    assert sold.state == SubscriptionState.CANCELLED
    if sold.run_by_digital_river:
        assert sandbox_dr_subscriptions(pk=sold.subscription_id).get().state == "cancelled"
    refunds = dr_ledger(kind="refund", order_id=sold.acquisition.order_id)
    assert [r.amount for r in refunds] == [sold.price]
    assert sold.notices.filter(kind=NoticeKind.CANCELLED_REFUNDED, delivered=True).exists()
    _year(run_tasks)
    assert _charged(sold) == sold.price  # the acquisition, refunded; nothing charged later


@pytest.mark.slow
def test_stopping_the_renewal_on_day_31_stops_the_next_charge_and_the_service_runs_to_term_end(
    sold, run_tasks
):
    run_tasks(advance_vendor_clock, days=31)
    with pytest.raises(RuleViolation) as refused:
        cancellation.cancel_with_refund(system_actor(), sold)
    assert refused.value.code == "cancel_window_closed" and "runs until" in refused.value.message
    run_tasks(cancellation.stop_renewal, system_actor(), sold)
    sold.refresh_from_db()
    contract = AcmeContract.objects.get()
    assert sold.ends_at_period_end and not contract.auto_renew and contract.state == "renewal_stopped"
    assert sandbox_acme_contracts(pk=int(contract.vendor_id)).get().auto_renew is False
    _year(run_tasks)
    sold.refresh_from_db()
    assert _charged(sold) == sold.price  # no renewal charge after the paid year
    assert sold.state in (SubscriptionState.ENDED, SubscriptionState.CANCELLED)
    assert not dr_ledger(kind="refund").exists()


def test_the_ending_options_say_which_applies_today_and_until_when(sold, run_tasks):
    options = {o.code: o for o in cancellation.ending_options(sold)}
    assert set(options) == {"cancel_with_refund", "stop_renewal"}
    assert "full refund of 120.00 USD" in options["cancel_with_refund"].explanation
    assert options["stop_renewal"].until == sold.current_period_end_date
    run_tasks(advance_vendor_clock, days=31)
    assert [o.code for o in cancellation.ending_options(sold)] == ["stop_renewal"]


def test_a_refused_cancel_after_day_30_changes_nothing_and_calls_no_vendor(sold, run_tasks):
    run_tasks(advance_vendor_clock, days=31)
    before = (vendor_request_count(), AuditEvent.objects.count(), sold.state)
    with pytest.raises(RuleViolation):
        cancellation.cancel_with_refund(system_actor(), sold)
    sold.refresh_from_db()
    assert (vendor_request_count(), AuditEvent.objects.count(), sold.state) == before


def test_a_back_office_renewal_stopped_can_be_resumed_while_the_period_runs(
    checkout, pay, external_acme_product, digicert_subaccount, run_tasks
):
    pay(checkout(OrderLine(external_acme_product, options={"sans": ["resume.example.com"]})))
    subscription = BillingSubscription.objects.get()
    run_tasks(cancellation.stop_renewal, system_actor(), subscription)
    run_tasks(cancellation.resume_renewal, system_actor(), subscription)
    subscription.refresh_from_db()
    contract = AcmeContract.objects.get()
    assert not subscription.ends_at_period_end and contract.auto_renew


def test_billing_that_ends_returns_the_zone_to_partners_free_at_the_end_of_the_paid_period(
    checkout,
    pay,
    zone_product,
    add_zone,
    run_tasks,
):
    from billing.tasks import cancel_ended_targets_task, end_stopped_subscriptions_task

    zone = add_zone()
    pay(checkout(OrderLine(zone_product, options={"zone": zone.pk})))
    subscription = BillingSubscription.objects.get()
    zone.refresh_from_db()
    assert zone.rate_plan_id == "PARTNERS_BIZ" and subscription.provisioned == zone
    run_tasks(cancellation.stop_renewal, system_actor(), subscription)
    run_tasks(advance_vendor_clock, days=10)
    run_tasks(end_stopped_subscriptions_task)
    run_tasks(cancel_ended_targets_task)
    zone.refresh_from_db()
    assert zone.rate_plan_id == "PARTNERS_BIZ"  # paid until the period ends
    run_tasks(advance_vendor_clock, days=22)
    for task in (end_stopped_subscriptions_task, cancel_ended_targets_task):
        run_tasks(task)
    zone.refresh_from_db()
    subscription.refresh_from_db()
    assert subscription.state == SubscriptionState.ENDED
    assert zone.rate_plan_id == "PARTNERS_FREE"
    assert _charged(subscription) == subscription.price  # the one period it was provided


def test_a_billed_zone_is_not_changed_behind_billing_at_the_vendor(
    checkout, pay, zone_product, add_zone, run_tasks
):
    from subscriptions.cloudflare import services as cloudflare

    zone = add_zone()
    pay(checkout(OrderLine(zone_product, options={"zone": zone.pk})))
    zone.refresh_from_db()
    before = (zone.rate_plan_id, vendor_request_count(), AuditEvent.objects.count())
    with pytest.raises(RuleViolation) as downgrade:
        cloudflare.downgrade_zone_plan(system_actor(), zone)
    assert (
        downgrade.value.code == "change_through_billing"
        and "end of the paid period" in downgrade.value.message
    )
    with pytest.raises(RuleViolation) as upgrade:
        cloudflare.upgrade_zone_plan(system_actor(), zone, rate_plan_id="PARTNERS_ENT")
    assert (
        upgrade.value.code == "change_through_billing"
        and "once the customer has paid" in upgrade.value.message
    )
    zone.refresh_from_db()
    assert (zone.rate_plan_id, vendor_request_count(), AuditEvent.objects.count()) == before


def test_a_downgrade_takes_effect_at_the_end_of_the_paid_period_with_the_lower_price_from_then(
    pro_zone_product,
    checkout,
    pay,
    zone_product,
    add_zone,
    customer,
    run_tasks,
):
    from decimal import Decimal

    from billing.services import changes
    from billing.tasks import fulfil_ready_orders_task, run_renewals_task

    pro = pro_zone_product
    zone = add_zone()
    pay(checkout(OrderLine(zone_product, options={"zone": zone.pk})))
    subscription = BillingSubscription.objects.get()
    run_tasks(changes.schedule_downgrade, system_actor(), subscription, pro)
    run_tasks(advance_vendor_clock, days=10)
    zone.refresh_from_db()
    assert zone.rate_plan_id == "PARTNERS_BIZ"  # what was paid for, until the period ends
    run_tasks(advance_vendor_clock, days=22)
    run_tasks(run_renewals_task)
    run_tasks(fulfil_ready_orders_task)
    zone.refresh_from_db()
    subscription.refresh_from_db()
    assert (
        zone.rate_plan_id == "PARTNERS_PRO"
        and subscription.product == pro
        and not subscription.scheduled_change
    )
    assert [amount for _, amount in dr_captures_by_subscription()[subscription.subscription_id]] == [
        Decimal("250.00"),
        Decimal("100.00"),
    ]


def test_a_billed_add_on_ends_with_its_billing_not_behind_it(
    checkout, pay, customer, external_monthly_plan, cloudflare_account, catalog, run_tasks
):
    from billing.models import Provisions
    from subscriptions.cloudflare import services as cloudflare
    from subscriptions.cloudflare.models import CloudflareAddon

    product = _product(
        customer,
        external_monthly_plan,
        "lb-monthly",
        "Load balancing, monthly",
        price="15.00",
        provisions=Provisions.ADDON,
        provision_params={"rate_plan_id": "PARTNERS_LOAD_BALANCING", "frequency": "monthly"},
    )
    pay(checkout(OrderLine(product)))
    addon = CloudflareAddon.objects.get()
    assert addon.state == "active"
    calls = vendor_request_count()
    with pytest.raises(RuleViolation) as refused:
        cloudflare.cancel_addon(system_actor(), addon)
    assert refused.value.code == "change_through_billing"
    addon.refresh_from_db()
    assert addon.state == "active" and vendor_request_count() == calls


def test_a_cancel_that_fails_for_good_at_digital_river_leaves_both_sides_telling_the_truth(
    checkout, pay, acme_product, digicert_subaccount, run_tasks, sweep_later, caplog
):
    from core.models import OperationState
    from tests.sandbox_helpers import inject_fault

    pay(checkout(OrderLine(acme_product, options={"sans": ["truth.example.com"]})))
    subscription = BillingSubscription.objects.get()
    inject_fault("digitalriver", "http_500", path=r"/subscriptions/[^/]+$", times=50)
    run_tasks(acme.cancel_acme_contract, system_actor(), AcmeContract.objects.get())
    for _ in range(8):
        sweep_later(4000)  # every retry, with backoff, until the last attempt
    subscription.refresh_from_db()
    cancel = subscription_operations(subscription, "dr.cancel_subscription")
    assert cancel.state == OperationState.FAILED
    assert AcmeContract.objects.get().state == "cancelled"  # DigiCert cancelled it
    assert subscription.state == SubscriptionState.ACTIVE  # as Digital River still has it
    assert sandbox_dr_subscriptions(pk=subscription.subscription_id).get().state == "active"
    assert "Cancelling at Digital River failed for good" in caplog.text
    # The refund is its own step and went through: the customer is not out of pocket.
    assert [r.amount for r in dr_ledger(kind="refund", order_id=subscription.acquisition.order_id)] == [
        subscription.price
    ]


def subscription_operations(subscription, kind):
    from django.contrib.contenttypes.models import ContentType

    from core.models import Operation

    return Operation.objects.get(
        content_type=ContentType.objects.get_for_model(subscription),
        object_id=str(subscription.pk),
        kind=kind,
    )


def test_a_billed_zone_upgrade_changes_nothing_at_cloudflare_until_it_is_paid(
    pro_zone_product, checkout, pay, zone_product, add_zone, customer, run_tasks
):

    from billing.rules import Change
    from billing.services import changes
    from tests.sandbox_helpers import sandbox_zone_subscriptions

    pro = pro_zone_product
    zone = add_zone()
    pay(checkout(OrderLine(pro, options={"zone": zone.pk})))
    subscription = BillingSubscription.objects.get()
    outcome = run_tasks(
        changes.change_subscription, system_actor(), subscription, Change.UPGRADE, product=zone_product
    )
    upgrade = outcome.checkout
    upgrade.refresh_from_db()  # opened at Digital River by its task
    assert outcome.agreement == "new" and upgrade.payment_link
    assert sandbox_zone_subscriptions(zone__id=zone.vendor_id).get().rate_plan_id == "PARTNERS_PRO"  # pending
    pay(upgrade)
    zone.refresh_from_db()
    assert sandbox_zone_subscriptions(zone__id=zone.vendor_id).get().rate_plan_id == "PARTNERS_BIZ"
    assert zone.rate_plan_id == "PARTNERS_BIZ"
    subscription.refresh_from_db()
    assert subscription.state == SubscriptionState.CANCELLED  # replaced, on the new agreement
