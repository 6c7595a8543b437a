"""Irreversible, bulk and money-moving admin actions go through core.admin_confirm's page: it says
what will happen per row, nothing changes before Confirm, and each row reports its own result."""

from __future__ import annotations

import pytest
from django.urls import reverse

from billing.models import BillingSubscription, Renewal, RenewalState
from billing.services.acquisition import OrderLine
from billing.tasks import send_reminders_task
from core.models import AuditEvent
from tests.factories import StaffFactory
from tests.sandbox_helpers import advance_vendor_clock_to

pytestmark = pytest.mark.django_db

RUN_RENEWALS = reverse("admin:billing_run_renewals")
SEND_REMINDERS = reverse("admin:billing_send_reminders")
SUBSCRIPTIONS = reverse("admin:billing_billingsubscription_changelist")


@pytest.fixture
def due(checkout, pay, external_acme_product, digicert_subaccount, run_tasks):
    """A subscription the back office renews, its reminder sent in time, and its invoice date come."""
    pay(checkout(OrderLine(external_acme_product, options={"sans": ["due.example.com"]})))
    subscription = BillingSubscription.objects.get()
    run_tasks(advance_vendor_clock_to, subscription.current_period_end_date.replace(hour=0) - _days(30))
    run_tasks(send_reminders_task)
    run_tasks(advance_vendor_clock_to, subscription.next_invoice_date)
    return subscription


def _days(n):
    from datetime import timedelta

    return timedelta(days=n)


def test_run_renewals_needs_no_selection_and_lists_what_the_run_will_do(client, superuser, due):
    client.force_login(superuser)
    listing = client.get(SUBSCRIPTIONS).content.decode()
    assert RUN_RENEWALS in listing and SEND_REMINDERS in listing  # changelist buttons, no ticking

    page = client.get(RUN_RENEWALS).content.decode()

    assert str(due) in page and "Ordered on the saved payment source." in page
    assert 'name="_confirm"' in page and "No, take me back" in page
    assert not Renewal.objects.exists()  # shown, nothing done


def test_run_renewals_on_confirm_orders_each_due_renewal_once_as_the_staff_member(
    client, superuser, due, run_tasks
):
    client.force_login(superuser)
    done = run_tasks(client.post, RUN_RENEWALS, {"_confirm": "1"}, follow=True).content.decode()

    assert "1 renewal(s) ordered" in done
    renewal = Renewal.objects.get(subscription=due)
    assert renewal.state != RenewalState.HELD
    ordered = AuditEvent.objects.get(action="billing.renewal_ordered")
    assert ordered.actor_id == superuser.pk  # the run is recorded as theirs, not the system's
    again = run_tasks(client.post, RUN_RENEWALS, {"_confirm": "1"}, follow=True).content.decode()
    assert "0 renewal(s) ordered" in again and Renewal.objects.count() == 1


def test_run_renewals_shows_a_held_renewal_as_held_before_anything_happens(client, superuser, due):
    BillingSubscription.objects.filter(pk=due.pk).update(payment_source_id="")
    client.force_login(superuser)
    page = client.get(RUN_RENEWALS).content.decode()
    assert "Held: no saved payment source" in page
    assert not Renewal.objects.exists()


def test_the_all_due_pages_refuse_staff_without_the_run_permission(client, due):
    client.force_login(StaffFactory(permissions=["view_billingsubscription"]))
    assert RUN_RENEWALS not in client.get(SUBSCRIPTIONS).content.decode()
    assert client.post(RUN_RENEWALS, {"_confirm": "1"}).status_code == 403
    assert client.post(SEND_REMINDERS, {"_confirm": "1"}).status_code == 403
    assert not Renewal.objects.exists()


def test_release_shows_each_row_then_refuses_without_a_reason_and_changes_nothing(
    client, superuser, due, run_tasks
):
    BillingSubscription.objects.filter(pk=due.pk).update(payment_source_id="")
    client.force_login(superuser)
    run_tasks(client.post, RUN_RENEWALS, {"_confirm": "1"})
    renewal = Renewal.objects.get(subscription=due)
    assert renewal.state == RenewalState.HELD
    renewals_page = reverse("admin:billing_renewal_changelist")

    page = client.post(renewals_page, {"action": "release", "_selected_action": [renewal.pk]})
    assert b"What will happen" in page.content and b"recorded as a breach" in page.content
    refused = client.post(
        renewals_page, {"action": "release", "_selected_action": [renewal.pk], "_confirm": "1", "reason": ""}
    )

    assert b"Give the reason." in refused.content
    renewal.refresh_from_db()
    assert renewal.state == RenewalState.HELD
    assert not AuditEvent.objects.filter(action="billing.reminder_rule_breached").exists()


def test_send_reminders_lists_the_reminders_due_and_sends_each_once_on_confirm(
    client, superuser, checkout, pay, external_acme_product, digicert_subaccount, run_tasks
):
    from billing.models import Notice, NoticeKind

    pay(checkout(OrderLine(external_acme_product, options={"sans": ["remind.example.com"]})))
    subscription = BillingSubscription.objects.get()
    run_tasks(advance_vendor_clock_to, subscription.current_period_end_date - _days(29))
    client.force_login(superuser)

    page = client.get(SEND_REMINDERS).content.decode()
    assert str(subscription) in page and NoticeKind.REMINDER_30.label in page
    assert not Notice.objects.filter(kind=NoticeKind.REMINDER_30).exists()  # shown, nothing sent

    done = run_tasks(client.post, SEND_REMINDERS, {"_confirm": "1"}, follow=True).content.decode()
    assert "1 reminder(s) sent." in done
    assert Notice.objects.filter(kind=NoticeKind.REMINDER_30).count() == 1
    assert "Nothing to do." in client.get(SEND_REMINDERS).content.decode()  # sent once, not listed again
