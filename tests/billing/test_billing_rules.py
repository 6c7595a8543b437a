"""Digital River rules from domain.md (acquisition, activation, renewals, reminders, agreements)."""

from datetime import timedelta

import pytest

from billing.models import (
    BillingSubscription,
    Checkout,
    CheckoutKind,
    Notice,
    ProvisioningState,
    Renewal,
    RenewalState,
)
from billing.rules import Change, Line, check_acquisition, needs_new_agreement, reminder_dates
from billing.services import acquisition, renewals
from billing.services.acquisition import OrderLine
from core.errors import RuleViolation, ValidationFailed
from core.models import AuditEvent
from subscriptions.acme.models import AcmeContract
from tests.conftest import system_actor
from tests.sandbox_helpers import advance_vendor_clock_to, inject_fault, vendor_request_count

pytestmark = pytest.mark.django_db


def _nothing_changed():
    return (
        Checkout.objects.count(),
        BillingSubscription.objects.count(),
        AuditEvent.objects.count(),
        vendor_request_count(),
    )


# --- Acquisition (003) --------------------------------------------------------------------------


def test_terms_missing_is_refused_with_missing_parameter():
    with pytest.raises(ValidationFailed) as refused:
        check_acquisition([Line(sku_id="a", price=10, quantity=1, plan_id="p", terms="")])
    assert refused.value.code == "missing_parameter"


def test_auto_renewal_false_is_refused_with_invalid_request(customer, acme_product):
    before = _nothing_changed()
    with pytest.raises(ValidationFailed) as refused:
        acquisition.start_checkout(
            system_actor(),
            customer,
            [OrderLine(acme_product, options={"sans": ["a.io"]})],
            auto_renewal=False,
        )
    assert refused.value.code == "invalid_request"
    assert _nothing_changed() == before


def test_several_plans_in_one_checkout_is_a_plan_limit_reached_conflict(
    customer, acme_product, support_product
):
    before = _nothing_changed()
    with pytest.raises(RuleViolation) as refused:
        acquisition.start_checkout(
            system_actor(),
            customer,
            [OrderLine(acme_product, options={"sans": ["a.io"]}), OrderLine(support_product)],
        )
    assert refused.value.code == "plan_limit_reached" and "planId" in refused.value.fields
    assert refused.value.http_status == 409
    assert _nothing_changed() == before


@pytest.mark.parametrize("price,free_trial", [(0, False), (10, True)])
def test_free_trial_flag_inconsistent_with_price_is_invalid_parameter_on_items(price, free_trial):
    with pytest.raises(ValidationFailed) as refused:
        check_acquisition(
            [Line(sku_id="a", price=price, quantity=1, plan_id="p", terms="t", free_trial=free_trial)]
        )
    assert refused.value.code == "invalid_parameter" and "items" in refused.value.fields


def test_subscription_and_one_off_items_mix_and_send_customer_id_and_customer_initiated(
    checkout, acme_product, setup_fee
):
    from tests.sandbox_helpers import sandbox_checkout_session

    result = checkout(OrderLine(acme_product, options={"sans": ["shop.example.com"]}), OrderLine(setup_fee))
    assert result.state == "open" and result.payment_link
    body = sandbox_checkout_session(result.session_id)
    assert body["customerId"] and body["chargeType"] == "customer_initiated"
    recurring = [i for i in body["items"] if i.get("subscriptionInfo")]
    subscription = BillingSubscription.objects.get()
    assert len(recurring) == 1 and len(body["items"]) == 2
    assert recurring[0]["subscriptionInfo"]["subscriptionId"] == subscription.subscription_id
    assert recurring[0]["subscriptionInfo"]["terms"] == acme_product.plan.terms
    assert recurring[0]["subscriptionInfo"]["autoRenewal"] is True


def test_a_retried_checkout_cannot_create_a_second_subscription(checkout, acme_product, pay, sweep_later):
    inject_fault("digitalriver", "timeout_after", path=r"/drop-in/checkout-sessions$")
    result = checkout(OrderLine(acme_product, options={"sans": ["shop.example.com"]}))
    assert result.state == "pending"
    sweep_later(4000)
    result.refresh_from_db()
    pay(result)
    from tests.sandbox_helpers import sandbox_dr_subscriptions

    assert sandbox_dr_subscriptions().count() == 1
    assert sandbox_dr_subscriptions().get().pk == BillingSubscription.objects.get().subscription_id


# --- Payment, activation, provisioning ----------------------------------------------------------


def test_nothing_is_provisioned_before_payment(checkout, acme_product):
    checkout(OrderLine(acme_product, options={"sans": ["shop.example.com"]}))
    subscription = BillingSubscription.objects.get()
    assert (
        subscription.state == "draft"
        and subscription.provisioning_state == ProvisioningState.AWAITING_PAYMENT
    )
    assert subscription.current_period_end_date is None and not AcmeContract.objects.exists()


def test_paid_order_activates_records_dates_and_agreement_and_provisions(
    checkout, acme_product, pay, digicert_subaccount
):
    from tests.sandbox_helpers import sandbox_dr_subscriptions

    paid = pay(checkout(OrderLine(acme_product, options={"sans": ["shop.example.com"]})))
    subscription = BillingSubscription.objects.get()
    assert paid.order_id and paid.billing_agreement_id
    assert subscription.state == "active" and subscription.billing_agreement_id == paid.billing_agreement_id
    assert subscription.current_period_end_date and subscription.next_invoice_date
    assert subscription.contract_binding_until and subscription.next_reminder_date
    # The sandbox answers 409 restricted_update to anything but exactly {"state": "active"}.
    assert sandbox_dr_subscriptions().get().state == "active"
    contract = AcmeContract.objects.get()
    assert subscription.provisioned == contract and contract.state == "active" and contract.auto_renew is True
    assert subscription.provisioning_state == ProvisioningState.DONE


def test_a_provisioning_refusal_is_visible_and_retried(
    checkout, acme_product, pay, sandbox, customer, run_tasks
):
    pay(
        checkout(OrderLine(acme_product, options={"sans": ["shop.example.com"]}))
    )  # no DigiCert subaccount yet
    subscription = BillingSubscription.objects.get()
    assert subscription.provisioning_state == ProvisioningState.PENDING
    assert "subaccount_not_active" in subscription.provisioning_error
    from partner import services as partner_services

    run_tasks(partner_services.request_subaccount, system_actor(), customer, "digicert")
    from billing.tasks import provision_pending_task

    run_tasks(provision_pending_task)
    subscription.refresh_from_db()
    assert subscription.provisioning_state == ProvisioningState.DONE and AcmeContract.objects.count() == 1


# --- Renewals run by the back office (002, external subscriptions) -----------------------------


@pytest.fixture
def active_annual(checkout, external_acme_product, pay, digicert_subaccount):
    """An annual subscription the back office renews (an external subscription at Digital River)."""
    pay(checkout(OrderLine(external_acme_product, options={"sans": ["shop.example.com"]})))
    return BillingSubscription.objects.get()


@pytest.fixture
def dr_annual(sell, acme_product, digicert_subaccount):
    """An annual subscription Digital River's subscription service renews."""
    return sell(acme_product, "dr.example.com")


def test_digital_rivers_engine_subscriptions_are_never_renewed_by_the_back_office(dr_annual, run_tasks):
    from billing.tasks import send_reminders_task
    from tests.sandbox_helpers import dr_captures_by_subscription

    run_tasks(advance_vendor_clock_to, dr_annual.next_invoice_date)  # Digital River's own invoice day
    assert run_tasks(send_reminders_task) == 0  # Digital River's reminder event, not ours
    assert run_tasks(renewals.run_renewals) == 0
    assert not Checkout.objects.filter(kind=CheckoutKind.RENEWAL).exists()
    assert len(dr_captures_by_subscription()[dr_annual.subscription_id]) == 2  # Digital River charged
    assert Renewal.objects.get(subscription=dr_annual).state == RenewalState.CAPTURED


def _to_renewal_of(subscription, run_tasks):
    """Move time to the start of the next billing cycle, sending the reminders on the way."""
    from billing.tasks import send_reminders_task

    for days_before in (30, 7, 1):
        advance_vendor_clock_to(subscription.current_period_end_date - timedelta(days=days_before))
        run_tasks(send_reminders_task)
    advance_vendor_clock_to(subscription.next_invoice_date)


def test_renewal_checkout_is_merchant_initiated_with_subscription_and_agreement_and_no_terms(
    active_annual, run_tasks
):
    from tests.sandbox_helpers import sandbox_dr_checkouts

    _to_renewal_of(active_annual, run_tasks)
    assert run_tasks(renewals.run_renewals) == 1
    renewal = Renewal.objects.get()
    assert renewal.state in (RenewalState.ORDERED, RenewalState.CAPTURED)
    body = sandbox_dr_checkouts(renewal.checkout.checkout_id)
    assert body["chargeType"] == "merchant_initiated"
    # The saved source, attached to the renewal checkout as its primary source.
    assert [src["id"] for src in body["payment"]["sources"]] == [active_annual.payment_source_id]
    info = body["items"][0]["subscriptionInfo"]
    assert info["subscriptionId"] == active_annual.subscription_id
    assert info["billingAgreementId"] == active_annual.billing_agreement_id
    assert info["autoRenewal"] is True and "terms" not in info
    assert renewal.checkout.billing_agreement_id == active_annual.billing_agreement_id


def test_running_renewals_twice_renews_once(active_annual, run_tasks):
    _to_renewal_of(active_annual, run_tasks)
    run_tasks(renewals.run_renewals)
    assert run_tasks(renewals.run_renewals) == 0
    assert Renewal.objects.count() == 1 and Checkout.objects.filter(kind=CheckoutKind.RENEWAL).count() == 1


def test_renewal_notice_follows_capture_within_24_hours(active_annual, run_tasks):
    from django.core import mail

    _to_renewal_of(active_annual, run_tasks)
    mail.outbox.clear()
    run_tasks(renewals.run_renewals)
    notice = Notice.objects.get(kind="renewed")
    renewal = Renewal.objects.get()  # captured on its renewal date (business time)
    assert notice.delivered and notice.sent_at - renewal.renewal_date < timedelta(hours=24)
    assert [m.subject for m in mail.outbox] == [notice.subject]
    assert Renewal.objects.get().state == RenewalState.CAPTURED


def test_a_renewal_whose_30_day_reminder_is_missing_is_held_before_it_is_charged(active_annual, run_tasks):
    advance_vendor_clock_to(active_annual.next_invoice_date)  # no reminder run on the way
    calls = vendor_request_count()
    run_tasks(renewals.run_renewals)
    renewal = Renewal.objects.get()
    assert renewal.state == RenewalState.HELD and renewal.reminder_missing
    assert vendor_request_count() == calls  # nothing charged


@pytest.mark.parametrize(
    "interval,count,expected",
    [
        ("year", 1, ["reminder_30", "reminder_7", "reminder_1"]),
        ("month", 2, ["reminder_30", "reminder_7", "reminder_1"]),
        ("month", 1, []),
        ("week", 1, []),
    ],
)
def test_reminders_30_then_7_and_1_days_before_only_for_terms_over_30_days(interval, count, expected):
    from datetime import date

    dates = reminder_dates(date(2027, 6, 30), interval, count)
    assert [kind for kind, _ in dates] == expected
    if expected:
        assert [d.isoformat() for _, d in dates] == ["2027-05-31", "2027-06-23", "2027-06-29"]


def test_each_reminder_is_sent_once_and_recorded_with_its_outcome(active_annual, run_tasks):
    from django.core import mail

    from billing.tasks import send_reminders_task

    advance_vendor_clock_to(active_annual.current_period_end_date - timedelta(days=30))
    mail.outbox.clear()
    assert run_tasks(send_reminders_task) == 1
    assert run_tasks(send_reminders_task) == 0
    notice = Notice.objects.get(kind="reminder_30")
    assert notice.delivered and len(mail.outbox) == 1 and active_annual.customer.contact_email in notice.to


# --- Failed payments and endings ----------------------------------------------------------------


def test_first_payment_failure_alerts_staff_and_reseller_once(active_annual, run_tasks, settings, customer):
    from django.core import mail

    from tests.factories import MembershipFactory
    from tests.sandbox_helpers import dr_fail_charges

    settings.ADMINS = [("Support", "support@example.test")]
    MembershipFactory(partner=customer.partner, role="billing", user__email="billing@reseller.test")
    dr_fail_charges(active_annual.payment_source_id)  # the bank declines the next charge
    _to_renewal_of(active_annual, run_tasks)
    mail.outbox.clear()
    run_tasks(renewals.run_renewals)
    active_annual.refresh_from_db()
    assert active_annual.payment_failed_at is not None
    to_reseller = [m for m in mail.outbox if "billing@reseller.test" in m.to]
    to_staff = [m for m in mail.outbox if "support@example.test" in m.to]
    assert len(to_reseller) == 1 and "failed" in to_reseller[0].subject.lower()
    assert to_staff, "staff were not alerted"
    assert Notice.objects.filter(kind="payment_failed").count() == 1


def test_a_lapsed_subscription_stops_the_acme_renewal(dr_annual, run_tasks):
    from django.core.management import call_command

    run_tasks(call_command, "sandbox_dr", "lapse", subscription=dr_annual.subscription_id)
    dr_annual.refresh_from_db()
    assert dr_annual.state == "lapsed"
    contract = AcmeContract.objects.get()
    assert contract.auto_renew is False and contract.state == "renewal_stopped"


# --- Billing agreement after a change -----------------------------------------------------------


@pytest.mark.parametrize(
    "change,new",
    [
        (Change.PAYMENT_METHOD, False),
        (Change.METERED, False),
        (Change.TRIAL_CONVERSION, False),
        (Change.UPGRADE, True),
        (Change.CYCLE, True),
        (Change.QUANTITY, True),
        (Change.ADDED_SUBSCRIPTION, True),
    ],
)
def test_same_or_new_billing_agreement_after_each_change(change, new):
    assert needs_new_agreement(change) is new
