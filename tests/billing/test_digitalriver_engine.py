"""Digital River's subscription service renews; the back office listens (managing-a-subscription):
the reminder e-mail names the amount, the date and the card, and warns when the card expires
first; a failed or impossible charge sends a link to replace the card; a renewal of something no
longer provided is refunded in full; and the customer's own link replaces the card on the same
billing agreement."""

from datetime import timedelta

import pytest
from django.core import mail

from billing.models import Notice, NoticeKind, Renewal, RenewalState
from billing.services.payment_methods import customer_link
from core.models import Operation
from tests.sandbox_helpers import (
    advance_vendor_clock_to,
    dr_expire_card,
    dr_fail_charges,
    dr_ledger,
    dr_new_source,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def dr_annual(sell, acme_product, digicert_subaccount):
    return sell(acme_product, "listen.example.com")


def test_the_reminder_event_sends_the_amount_the_date_and_the_card(dr_annual, run_tasks):
    mail.outbox.clear()
    run_tasks(advance_vendor_clock_to, dr_annual.next_reminder_date)
    notice = Notice.objects.get(subscription=dr_annual, kind=NoticeKind.RENEWAL_REMINDER)
    assert notice.delivered and notice.details["amount"].startswith("120")
    assert notice.details["card_brand"] and notice.details["card_last_four"]
    assert notice.details["card_expires_first"] is False
    body = mail.outbox[-1].body
    assert "120" in body and notice.details["card_last_four"] in body and "update your payment" not in body


def test_a_card_expiring_before_the_invoice_date_is_warned_with_a_link(dr_annual, run_tasks):
    dr_expire_card(dr_annual.payment_source_id)
    mail.outbox.clear()
    run_tasks(advance_vendor_clock_to, dr_annual.next_reminder_date)
    notice = Notice.objects.get(subscription=dr_annual, kind=NoticeKind.RENEWAL_REMINDER)
    assert notice.details["card_expires_first"] is True
    assert "/pay/method/" in mail.outbox[-1].body


def test_a_failed_renewal_payment_sends_a_dunning_link_and_charges_nothing(dr_annual, run_tasks):
    dr_fail_charges(dr_annual.payment_source_id)
    mail.outbox.clear()
    run_tasks(advance_vendor_clock_to, dr_annual.next_invoice_date)
    dr_annual.refresh_from_db()
    assert dr_annual.state == "activePendingInvoice" and dr_annual.payment_failed_at
    dunning = Notice.objects.get(subscription=dr_annual, kind=NoticeKind.PAYMENT_FAILED)
    assert dunning.delivered
    assert any("/pay/method/" in m.body for m in mail.outbox)
    assert not Renewal.objects.filter(subscription=dr_annual).exists()
    assert (
        not dr_ledger(kind="capture", subscription_id=dr_annual.subscription_id)
        .exclude(invoice_id="")
        .exists()
    )


def test_an_invalid_source_asks_the_customer_for_another_card(dr_annual, run_tasks):
    dr_expire_card(dr_annual.payment_source_id)
    run_tasks(advance_vendor_clock_to, dr_annual.next_invoice_date)
    notice = Notice.objects.get(subscription=dr_annual, kind=NoticeKind.SOURCE_INVALID)
    assert notice.delivered
    assert not Renewal.objects.filter(subscription=dr_annual).exists()


def test_a_renewal_of_a_contract_that_no_longer_exists_is_refunded_in_full(dr_annual, run_tasks):
    from subscriptions.acme.models import AcmeContract

    AcmeContract.objects.filter(pk=dr_annual.provisioned_id).update(state="cancelled")
    run_tasks(advance_vendor_clock_to, dr_annual.next_invoice_date)
    renewal = Renewal.objects.get(subscription=dr_annual)
    assert renewal.state == RenewalState.REFUNDED and renewal.invoice_id
    refunds = dr_ledger(kind="refund", invoice_id=renewal.invoice_id)
    assert [r.amount for r in refunds] == [renewal.amount]
    assert Notice.objects.filter(subscription=dr_annual, kind=NoticeKind.REFUNDED).exists()
    assert not Notice.objects.filter(subscription=dr_annual, kind=NoticeKind.RENEWED).exists()


def test_the_customers_link_replaces_the_card_on_the_same_agreement(dr_annual, client, run_tasks):
    agreement = dr_annual.billing_agreement_id
    link = customer_link(dr_annual.customer)
    path = link.split("testserver", 1)[1]
    answer = client.get(path)
    assert answer.status_code == 302 and "drop-in/payment-method" in answer["Location"]
    assert "returnUrl=" in answer["Location"]
    source_id = dr_new_source()  # what the Drop-in made
    done = run_tasks(client.get, path + "return/", {"sourceId": source_id})
    assert done.status_code == 200
    dr_annual.refresh_from_db()
    assert dr_annual.payment_source_id == source_id and dr_annual.billing_agreement_id == agreement
    from tests.sandbox_helpers import sandbox_dr_subscriptions

    assert sandbox_dr_subscriptions(pk=dr_annual.subscription_id).get().source_id == source_id


def test_a_forged_payment_method_link_changes_nothing(dr_annual, client):
    before = (dr_annual.payment_source_id, Operation.objects.count())
    answer = client.get("/pay/method/forged-token/return/", {"sourceId": "src-evil"})
    assert answer.status_code == 400
    dr_annual.refresh_from_db()
    assert (dr_annual.payment_source_id, Operation.objects.count()) == before


def test_a_reminder_after_the_last_one_is_not_sent_twice(dr_annual, run_tasks):
    run_tasks(advance_vendor_clock_to, dr_annual.next_reminder_date)
    run_tasks(advance_vendor_clock_to, dr_annual.next_reminder_date + timedelta(days=1))
    assert Notice.objects.filter(subscription=dr_annual, kind=NoticeKind.RENEWAL_REMINDER).count() == 1
