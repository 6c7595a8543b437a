"""The reminder-compliance gate (back-office engine, domain.md): the proof of the 30-day reminder is
its delivery at least 30 days before the renewal date. An undelivered reminder is retried and
staff alerted; without proof the renewal is held, and the ways out are explicit: send it now and
move the renewal 30 days, renew manually, or release anyway with a reason (a recorded breach)."""

from datetime import timedelta

import pytest
from django.core.mail.backends.base import BaseEmailBackend

from billing.models import BillingSubscription, CheckoutKind, Notice, NoticeKind, Renewal, RenewalState
from billing.services import renewals
from billing.services.acquisition import OrderLine
from billing.tasks import fulfil_ready_orders_task, run_renewals_task, send_reminders_task
from core.errors import ValidationFailed
from core.models import AuditEvent
from tests.conftest import system_actor
from tests.sandbox_helpers import advance_vendor_clock_to, dr_captures_by_subscription, vendor_request_count

pytestmark = pytest.mark.django_db


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, messages):
        if not self.fail_silently:
            raise ConnectionRefusedError("the mail server refused the connection")
        return 0


@pytest.fixture
def annual(checkout, pay, external_acme_product, digicert_subaccount):
    pay(checkout(OrderLine(external_acme_product, options={"sans": ["gate.example.com"]})))
    return BillingSubscription.objects.get()


def _at(when, run_tasks):
    run_tasks(advance_vendor_clock_to, when)
    run_tasks(send_reminders_task)


def _renew(subscription, run_tasks):
    _at(subscription.next_invoice_date, run_tasks)
    run_tasks(run_renewals_task)
    run_tasks(fulfil_ready_orders_task)
    return Renewal.objects.filter(subscription=subscription).order_by("-renewal_date").first()


def test_an_undelivered_reminder_is_retried_alerts_staff_and_is_no_proof(annual, run_tasks, settings, caplog):
    end = annual.current_period_end_date
    with _backend(settings, RefusingBackend):
        _at(end - timedelta(days=30), run_tasks)
    notice = Notice.objects.get(subscription=annual, kind=NoticeKind.REMINDER_30)
    assert not notice.delivered and notice.flagged_at and notice.attempts == 1
    assert "could not be delivered" in caplog.text  # the staff alert
    _at(end - timedelta(days=20), run_tasks)  # retried, delivered now: 20 days before is too late
    notice.refresh_from_db()
    assert notice.delivered and notice.attempts >= 2
    renewal = _renew(annual, run_tasks)
    assert renewal.state == RenewalState.HELD and "delivered late" in _alert_reason(annual)


def test_a_30_day_reminder_sent_10_days_before_does_not_count(annual, run_tasks):
    end = annual.current_period_end_date
    _at(end - timedelta(days=10), run_tasks)
    assert Notice.objects.get(subscription=annual, kind=NoticeKind.REMINDER_30).delivered
    calls = vendor_request_count()
    renewal = _renew(annual, run_tasks)
    assert renewal.state == RenewalState.HELD and renewal.checkout is None
    assert vendor_request_count() == calls  # nothing charged


def test_a_held_renewal_is_moved_30_days_with_the_reminder_sent_now_and_then_renews(annual, run_tasks):
    renewal = _renew(annual, run_tasks)  # no reminder at all
    assert renewal.state == RenewalState.HELD
    run_tasks(renewals.postpone_held_renewal, system_actor(), renewal)
    renewal.refresh_from_db()
    annual.refresh_from_db()
    assert renewal.state == RenewalState.POSTPONED
    moved_by = annual.current_period_end_date - renewal.renewal_date
    assert timedelta(days=30) <= moved_by < timedelta(days=30, hours=2)  # 30 days from today
    reminder = Notice.objects.get(
        subscription=annual, kind=NoticeKind.REMINDER_30, renewal_date=annual.current_period_end_date.date()
    )
    assert reminder.delivered
    moved = _renew(annual, run_tasks)
    assert moved.state == RenewalState.CAPTURED and moved.renewal_date == annual.current_period_end_date
    assert len(dr_captures_by_subscription()[annual.subscription_id]) == 2


def test_a_held_renewal_can_be_renewed_manually_by_the_customer(annual, run_tasks, pay):
    renewal = _renew(annual, run_tasks)
    run_tasks(renewals.renew_held_manually, system_actor(), renewal)
    renewal.refresh_from_db()
    assert renewal.state == RenewalState.AWAITING_CUSTOMER
    assert (
        renewal.checkout.kind == CheckoutKind.RENEWAL and renewal.checkout.charge_type == "customer_initiated"
    )
    assert renewal.checkout.payment_link
    pay(renewal.checkout)
    renewal.refresh_from_db()
    assert renewal.state == RenewalState.CAPTURED


def billing_alerts(caplog, text):
    return [r for r in caplog.records if r.name == "billing.services.notices" and text in r.getMessage()]


def test_a_manual_renewal_left_unpaid_past_the_collection_period_ends_billing_and_the_service(
    annual, run_tasks, caplog
):
    from billing.models import SubscriptionState

    renewal = _renew(annual, run_tasks)
    run_tasks(renewals.renew_held_manually, system_actor(), renewal)
    renewal.refresh_from_db()
    days = annual.plan.collection_period_days
    _at(renewal.renewal_date + timedelta(days=days - 1), run_tasks)
    run_tasks(run_renewals_task)
    annual.refresh_from_db()
    assert annual.state == SubscriptionState.ACTIVE  # still inside the collection period

    _at(renewal.renewal_date + timedelta(days=days, hours=1), run_tasks)
    run_tasks(run_renewals_task)
    annual.refresh_from_db()
    renewal.refresh_from_db()
    assert renewal.state == RenewalState.FAILED and annual.state == SubscriptionState.FAILED
    assert billing_alerts(caplog, "Stopping the ACME renewal")  # the vendor side is told to follow
    assert len(dr_captures_by_subscription()[annual.subscription_id]) == 1  # only the acquisition


def test_releasing_a_held_renewal_needs_a_reason_and_is_audited_as_a_breach(annual, run_tasks):
    renewal = _renew(annual, run_tasks)
    before = (AuditEvent.objects.count(), vendor_request_count())
    with pytest.raises(ValidationFailed) as refused:
        renewals.release_held_renewal(system_actor(), renewal, reason=" ")
    assert refused.value.code == "reason_required" and "reason" in refused.value.fields
    assert (AuditEvent.objects.count(), vendor_request_count()) == before
    renewal.refresh_from_db()
    assert renewal.state == RenewalState.HELD
    run_tasks(renewals.release_held_renewal, system_actor(), renewal, reason="Customer confirmed by phone")
    renewal.refresh_from_db()
    assert renewal.state == RenewalState.CAPTURED
    breach = AuditEvent.objects.get(action="billing.reminder_rule_breached")
    assert "Customer confirmed by phone" in breach.note


def test_an_undelivered_renewal_notice_is_retried_and_flagged(annual, run_tasks, settings):
    end = annual.current_period_end_date
    for days in (30, 7, 1):
        _at(end - timedelta(days=days), run_tasks)
    with _backend(settings, RefusingBackend):
        renewal = _renew(annual, run_tasks)
    assert renewal.state == RenewalState.CAPTURED
    notice = Notice.objects.get(subscription=annual, kind=NoticeKind.RENEWED)
    assert not notice.delivered and notice.flagged_at
    run_tasks(send_reminders_task)
    notice.refresh_from_db()
    assert notice.delivered and notice.sent_at - renewal.renewal_date < timedelta(hours=24)


class _backend:
    """Swap the e-mail backend for a block."""

    def __init__(self, settings, backend):
        self.settings, self.backend = settings, backend

    def __enter__(self):
        self.previous = self.settings.EMAIL_BACKEND
        self.settings.EMAIL_BACKEND = f"{__name__}.{self.backend.__name__}"

    def __exit__(self, *exc):
        self.settings.EMAIL_BACKEND = self.previous


def _alert_reason(subscription) -> str:
    """What the held renewal told staff (the audit of the hold is the alert in the log)."""
    return renewals._hold_reason(subscription, renewals._reminded([subscription]))


ADMIN_RENEWALS = "/admin/billing/renewal/"


def test_support_staff_bring_a_held_renewal_back_from_the_admin(annual, run_tasks, client, superuser):
    renewal = _renew(annual, run_tasks)
    client.force_login(superuser)
    asked = client.post(ADMIN_RENEWALS, {"action": "release", "_selected_action": [renewal.pk]})
    assert asked.status_code == 200 and b"breach of the rule" in asked.content
    no_reason = client.post(
        ADMIN_RENEWALS, {"action": "release", "_selected_action": [renewal.pk], "_confirm": "1", "reason": ""}
    )
    assert b"Give the reason." in no_reason.content
    renewal.refresh_from_db()
    assert renewal.state == RenewalState.HELD and not AuditEvent.objects.filter(
        action="billing.reminder_rule_breached"
    )
    done = run_tasks(
        client.post,
        ADMIN_RENEWALS,
        {"action": "postpone", "_selected_action": [renewal.pk]},
        follow=True,
    )
    assert b"moved 30 days" in done.content
    renewal.refresh_from_db()
    assert renewal.state == RenewalState.POSTPONED


def test_a_late_order_answer_never_takes_a_captured_renewal_back_nor_tells_the_customer_twice(
    annual, run_tasks
):
    """Answers arrive out of order (the capture event before the order's own answer, read again
    after it was lost): a renewal's state moves only forward (billing.models.RENEWAL_MOVES)."""
    _at(annual.current_period_end_date - timedelta(days=30), run_tasks)  # the reminder, in time
    renewal = _renew(annual, run_tasks)
    assert renewal.state == RenewalState.CAPTURED
    notices_before = list(annual.notices.values_list("kind", flat=True))
    checkout = renewal.checkout

    assert renewals.move_renewals(checkout.renewals.all(), RenewalState.ORDERED) == []  # the late answer
    renewals.renewal_payment_failed(checkout, system_actor(), reason="lost answer, out of attempts")
    assert renewals.renewal_captured(checkout, system_actor()) == []  # the capture event again

    renewal.refresh_from_db()
    assert renewal.state == RenewalState.CAPTURED
    assert list(annual.notices.values_list("kind", flat=True)) == notices_before  # nobody told twice
    assert len(dr_captures_by_subscription()[annual.subscription_id]) == 2
