"""A multi-step change across vendor and biller is one recorded operation (domain.md): each step,
its outcome, its retry, and what is undone when a later step fails for good; counted on the
sandbox's ledger."""

import pytest

from billing.models import BillingSubscription, NoticeKind, SubscriptionState
from billing.rules import Change
from billing.services import cancellation, changes
from billing.services.acquisition import OrderLine
from core import operations
from core.models import Operation, OperationState
from subscriptions.acme import services as acme
from subscriptions.acme.models import AcmeContract
from tests.conftest import system_actor
from tests.sandbox_helpers import (
    advance_vendor_clock,
    dr_captures_by_subscription,
    dr_ledger,
    inject_fault,
    sandbox_dr_subscriptions,
    sandbox_zone_subscriptions,
)

pytestmark = pytest.mark.django_db


def _changes():
    return Operation.objects.filter(is_change=True)


def _steps(change):
    return sorted(change.steps.values_list("kind", flat=True))


@pytest.fixture(params=["acme_product", "external_acme_product"])
def sold(request, checkout, pay, digicert_subaccount):
    product = request.getfixturevalue(request.param)
    pay(checkout(OrderLine(product, options={"sans": ["steps.example.com"]})))
    return BillingSubscription.objects.get()


def test_a_cancel_with_refund_is_one_recorded_change_with_each_step_and_its_outcome(sold, run_tasks):
    run_tasks(cancellation.cancel_with_refund, system_actor(), sold)

    change = _changes().get()
    assert change.target == sold and change.kind == cancellation.CancelWithRefund.kind
    assert change.state == OperationState.SUCCEEDED and change.finished_at is not None
    if sold.run_by_digital_river:
        assert _steps(change) == ["acme.cancel", "dr.cancel_subscription", "dr.refund_order"]
    else:  # the back office cancels its own subscription: a step of ours, in the change's log
        assert _steps(change) == ["acme.cancel", "dr.refund_order"]
        assert "ours alone" in change.result["log"][0]["text"]
    assert all(s == OperationState.SUCCEEDED for s in change.steps.values_list("state", flat=True))
    assert [r.amount for r in dr_ledger(kind="refund")] == [sold.price]


def test_a_cancel_begun_on_the_contract_itself_continues_as_one_change(sold, run_tasks):
    run_tasks(acme.cancel_acme_contract, system_actor(), AcmeContract.objects.get())

    change = _changes().get()  # the billing side joined the contract's cancel, not a second record
    assert change.target == sold
    assert "acme.cancel" in _steps(change) and "dr.refund_order" in _steps(change)
    assert change.state == OperationState.SUCCEEDED


def test_a_change_whose_step_fails_for_good_says_so_and_what_is_undone_and_its_retry_completes_it(
    checkout, pay, acme_product, digicert_subaccount, run_tasks, sweep_later
):
    from vendors.sandbox.services import clear_faults

    pay(checkout(OrderLine(acme_product, options={"sans": ["retry.example.com"]})))
    subscription = BillingSubscription.objects.get()
    inject_fault("digitalriver", "http_500", path=r"/subscriptions/[^/]+$", times=50)
    run_tasks(cancellation.cancel_with_refund, system_actor(), subscription)
    for _ in range(8):
        sweep_later(4000)

    change = _changes().get()
    failed = change.steps.get(kind="dr.cancel_subscription")
    assert failed.state == OperationState.FAILED
    assert change.state == OperationState.FAILED
    assert change.result["failed_step"] == failed.label
    assert "DigiCert's cancellation is final" in change.result["undone"]
    assert sandbox_dr_subscriptions(pk=subscription.subscription_id).get().state == "active"

    clear_faults("digitalriver")
    run_tasks(operations.retry, system_actor(), failed)

    change.refresh_from_db()
    assert change.state == OperationState.SUCCEEDED and "failed_step" not in change.result
    assert sandbox_dr_subscriptions(pk=subscription.subscription_id).get().state == "cancelled"
    assert change.steps.count() == 3  # the same step retried: no second cancel, no second refund
    assert dr_ledger(kind="refund").count() == 1


def test_a_change_is_not_retried_itself_and_blocks_no_vendor_call_on_its_object(sold, run_tasks):
    from core.errors import RuleViolation

    run_tasks(cancellation.cancel_with_refund, system_actor(), sold)
    change = _changes().get()
    with pytest.raises(RuleViolation) as refused:
        operations.retry(system_actor(), change)
    assert refused.value.code == "retry_the_failed_step"
    assert not operations.pending_for(sold).filter(is_change=True).exists()


@pytest.fixture
def billed_pro_zone(pro_zone_product, checkout, pay, add_zone):
    zone = add_zone()
    pay(checkout(OrderLine(pro_zone_product, options={"zone": zone.pk})))
    return zone, BillingSubscription.objects.get()


def test_a_zone_upgrade_is_one_change_and_the_old_plan_is_billed_until_cloudflare_has_the_new_one(
    billed_pro_zone, zone_product, pay, run_tasks
):
    zone, old = billed_pro_zone
    outcome = run_tasks(
        changes.change_subscription, system_actor(), old, Change.UPGRADE, product=zone_product
    )
    change = _changes().get()
    assert change.state == OperationState.PENDING  # waits for the customer's payment
    assert operations.handler_for(change.kind).waiting_for(change) == "the customer's payment"

    outcome.checkout.refresh_from_db()  # opened at Digital River by its task
    pay(outcome.checkout)

    change.refresh_from_db()
    old.refresh_from_db()
    new = BillingSubscription.objects.get(pk=change.params["new"])
    assert sandbox_zone_subscriptions(zone__id=zone.vendor_id).get().rate_plan_id == "PARTNERS_BIZ"
    assert "cloudflare.change_zone_plan" in _steps(change) and "dr.fulfil_order" in _steps(change)
    assert change.state == OperationState.SUCCEEDED
    assert old.state == SubscriptionState.CANCELLED and new.state == SubscriptionState.ACTIVE
    assert [amount for _, amount in dr_ledger_captures(outcome.checkout)] == [new.price]


def dr_ledger_captures(checkout):
    return [(e.order_id, e.amount) for e in dr_ledger(kind="capture", order_id=checkout.order_id)]


def test_a_zone_upgrade_cloudflare_refuses_for_good_is_undone_on_billing_and_nothing_is_captured(
    billed_pro_zone, zone_product, pay, run_tasks, sweep_later
):
    zone, old = billed_pro_zone
    outcome = run_tasks(
        changes.change_subscription, system_actor(), old, Change.UPGRADE, product=zone_product
    )
    inject_fault("cloudflare", "http_500", method="PUT", path=r"/zones/[^/]+/subscription$", times=50)
    outcome.checkout.refresh_from_db()  # opened at Digital River by its task
    pay(outcome.checkout)
    for _ in range(8):
        sweep_later(4000)

    change = _changes().get()
    old.refresh_from_db()
    new = BillingSubscription.objects.get(pk=change.params["new"])
    zone.refresh_from_db()
    assert change.state == OperationState.FAILED
    assert "its order item is cancelled (not charged)" in change.result["undone"]
    # Both sides tell the truth: the zone keeps Pro, billed on the old subscription at its price.
    assert sandbox_zone_subscriptions(zone__id=zone.vendor_id).get().rate_plan_id == "PARTNERS_PRO"
    assert zone.rate_plan_id == "PARTNERS_PRO"
    assert old.state == SubscriptionState.ACTIVE and cancellation.billed_subscription_of(zone) == old
    assert new.state in (SubscriptionState.CANCELLED, SubscriptionState.ENDED) and not new.provisioned_id
    assert dr_ledger_captures(outcome.checkout) == []  # the upgrade's order: nothing captured
    outcome.checkout.refresh_from_db()
    assert outcome.checkout.fulfilled_at is not None
    assert outcome.checkout.items.get().cancelled_quantity == 1


def test_a_stopped_digital_river_renewal_runs_to_its_term_and_only_then_says_it_ended(
    checkout, pay, acme_product, digicert_subaccount, run_tasks
):
    from billing.tasks import end_stopped_subscriptions_task

    pay(checkout(OrderLine(acme_product, options={"sans": ["term.example.com"]})))
    subscription = BillingSubscription.objects.get()
    run_tasks(advance_vendor_clock, days=31)
    run_tasks(cancellation.stop_renewal, system_actor(), subscription)

    subscription.refresh_from_db()
    assert sandbox_dr_subscriptions(pk=subscription.subscription_id).get().state == "cancelled"
    assert subscription.state == SubscriptionState.ACTIVE and subscription.ends_at_period_end
    assert subscription.vendor_view["state"] == "cancelled"
    assert not subscription.notices.filter(kind=NoticeKind.ENDED).exists()
    assert subscription.notices.filter(kind=NoticeKind.RENEWAL_STOPPED).exists()

    run_tasks(advance_vendor_clock, days=340)
    run_tasks(end_stopped_subscriptions_task)

    subscription.refresh_from_db()
    assert subscription.state == SubscriptionState.ENDED
    assert subscription.notices.filter(kind=NoticeKind.ENDED).count() == 1
    assert (
        sum(a for _, a in dr_captures_by_subscription()[subscription.subscription_id]) == subscription.price
    )


def test_the_customer_timeline_and_the_admin_show_the_change_with_each_step(sold, run_tasks, superuser):
    from django.test import Client
    from django.urls import reverse

    from tests.factories import MembershipFactory

    run_tasks(cancellation.cancel_with_refund, system_actor(), sold)
    change = _changes().get()
    owner = Client()
    owner.force_login(MembershipFactory(partner=sold.partner, role="owner").user)
    page = owner.get(reverse("dashboard:customer", args=[sold.customer_id])).content.decode()
    assert "Cancel with a full refund" in page
    assert "Cancel ACME contract: succeeded" in page and "Refund at Digital River: succeeded" in page
    assert page.count("Refund at Digital River") == 1  # the step shows inside its change only

    stranger = Client()
    stranger.force_login(MembershipFactory(role="owner").user)  # another partner's owner
    assert stranger.get(reverse("dashboard:customer", args=[sold.customer_id])).status_code == 404

    staff = Client()
    staff.force_login(superuser)
    admin_page = staff.get(reverse("admin:core_operation_change", args=[change.pk])).content.decode()
    assert "Cancel ACME contract: succeeded" in admin_page
    step = change.steps.get(kind="acme.cancel")
    step_page = staff.get(reverse("admin:core_operation_change", args=[step.pk])).content.decode()
    assert "A step of" in step_page
