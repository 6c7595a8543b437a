"""The customer page's timeline: one list, newest first, of the customer's changes (audit events),
notices, Digital River events, vendor operations and refunds; scoped to the member's partner and
customer limits, paginated, and constant in queries whatever the number of rows."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from billing.models import EventState, NoticeKind, Renewal, RenewalEngine, RenewalState, WebhookEvent
from core import audit
from core.actor import Actor
from partner import services
from tests import factories as bf
from tests.billing.conftest import (  # noqa: F401  (the billing tests' fixtures, shared)
    checkout,
    external_acme_product,
    external_annual_plan,
    make_plan,
    pay,
)
from tests.factories import CustomerFactory, MembershipFactory, operation_on

pytestmark = pytest.mark.django_db


@pytest.fixture
def sub(customer):
    plan = bf.plan("year", engine=RenewalEngine.BACK_OFFICE)
    return bf.subscription(customer, bf.product(customer.partner, plan, name="ACME DV annual"))


def _page(client, customer, **params):
    response = client.get(reverse("dashboard:customer", args=[customer.pk]), params)
    assert response.status_code == 200
    return response


def _entries(client, customer, kind=None, **params):
    entries = _page(client, customer, **params).context["timeline"]
    return [e for e in entries if kind is None or e.kind == kind]


def _event(body: dict, state=EventState.PROCESSED, **fields) -> WebhookEvent:
    return WebhookEvent.objects.create(
        event_id=fields.pop("event_id", body.get("id")),
        type=body.get("type", ""),
        body=json.dumps(body),
        state=state,
        **fields,
    )


def _dr_event(event_id, kind, object_id, **fields):
    return _event({"id": event_id, "type": kind, "data": {"object": {"id": str(object_id)}}}, **fields)


def test_the_timeline_lists_the_customers_notices_delivered_or_not(owner_client, customer, sub):
    bf.notice(sub, NoticeKind.REMINDER_30)
    bf.notice(sub, NoticeKind.PAYMENT_FAILED, delivered=False, error="550 mailbox unavailable")
    notices = {e.title: e for e in _entries(owner_client, customer, "notice")}
    assert set(notices) == {"Renewal reminder, 30 days before", "Payment failed"}
    assert notices["Renewal reminder, 30 days before"].state == "Delivered"
    failed = notices["Payment failed"]
    assert failed.state == "Not delivered" and failed.note == "550 mailbox unavailable"
    assert "“payment_failed for ACME DV annual”" in failed.lines
    body = _page(owner_client, customer).content.decode()
    assert "550 mailbox unavailable" in body and "Notice" in body


def test_the_timeline_lists_the_digital_river_events_that_touched_the_customer(owner_client, customer, sub):
    acquisition = sub.acquisition
    acquisition.order_id = "ord_77001"
    acquisition.save()
    _dr_event("evt_sub", "subscription.extended", sub.subscription_id)
    _dr_event("evt_order", "order.accepted", "ord_77001")
    _event(
        {
            "id": "evt_charge",
            "type": "order.charge.capture.complete",
            "data": {"object": {"orderId": "ord_77001"}},
        },
        state=EventState.FAILED,
        error="KeyError: 'amount'",
    )
    _dr_event("evt_forged", "order.accepted", "ord_77001", state=EventState.REJECTED)  # unsigned
    other = bf.subscription(CustomerFactory(partner=customer.partner), sub.product)
    _dr_event("evt_other", "subscription.extended", other.subscription_id)
    _dr_event("evt_prefix", "order.accepted", "ord_770012")  # an id that only starts like ours

    events = {e.lines[0]: e for e in _entries(owner_client, customer, "webhook")}

    assert set(events) == {"Event evt_sub", "Event evt_order", "Event evt_charge"}
    assert events["Event evt_sub"].title == "subscription.extended"
    assert (
        events["Event evt_charge"].state == "Failed"
        and events["Event evt_charge"].note == "KeyError: 'amount'"
    )


def test_the_timeline_lists_vendor_operations_with_their_outcome(owner_client, customer, sub):
    operation_on(
        sub, kind="dr.cancel_subscription", state="succeeded", attempts=1, finished_at=timezone.now()
    )
    operation_on(
        sub.acquisition,
        kind="dr.refund_order",
        state="failed",
        attempts=5,
        last_error_code="http_409",
        last_error_message="Order not refundable.",
    )
    operation_on(customer, kind="dr.change_payment_method", attempts=2, last_error_code="http_503")
    other = bf.subscription(CustomerFactory(partner=customer.partner), sub.product)
    operation_on(other, kind="dr.cancel_subscription", state="failed")

    operations = {e.title: e for e in _entries(owner_client, customer, "operation")}

    assert set(operations) == {
        "Cancel Digital River subscription",
        "Refund at Digital River",
        "Change payment method at Digital River",
    }
    cancel = operations["Cancel Digital River subscription"]
    assert cancel.state == "Succeeded" and cancel.lines[0].startswith("Done on")
    refund = operations["Refund at Digital River"]
    assert refund.state == "Failed" and refund.note == "http_409: Order not refundable."
    assert "Gave up after 5 attempts." in refund.lines
    retrying = [e for e in operations.values() if e.state == "Pending"]
    assert len(retrying) == 1 and retrying[0].lines == ("Attempt 2 failed; retrying.",)


def test_the_timeline_lists_refunds_once_with_their_amount(owner_client, customer, sub):
    acquisition = sub.acquisition
    before = audit.snapshot(acquisition)
    acquisition.order_id = "ord_88001"
    acquisition.captured_amount = Decimal("120.00")
    acquisition.refunded_amount = Decimal("120.00")
    acquisition.save()
    audit.record(
        Actor.system(), "billing.refunded", acquisition, partner_id=acquisition.partner_id, before=before
    )
    Renewal.objects.create(
        subscription=sub,
        renewal_date=sub.current_period_end_date,
        state=RenewalState.REFUNDED,
        amount=Decimal("120.00"),
        invoice_id="inv_9",
    )
    entries = _entries(owner_client, customer)

    refunds = [e for e in entries if e.kind == "refund"]
    assert sorted(e.title for e in refunds) == ["Refunded 120.00 USD", "Renewal refunded 120.00 USD"]
    order = next(e for e in refunds if e.subject == "Order ord_88001")
    assert order.lines == ("Captured 120.00 USD; refunded 120.00 USD.",)
    assert not [e for e in entries if e.event and e.event.action == "billing.refunded"]  # not twice


def test_the_timeline_still_lists_every_change_and_is_newest_first(owner_client, customer, sub):
    services.update_customer(Actor(owner_client.user, "dashboard"), customer, contact_name="Ada")
    bf.notice(sub, NoticeKind.REMINDER_30)
    entries = _entries(owner_client, customer)
    assert any(e.kind == "change" and e.title == "Customer edited" for e in entries)
    assert [e.when for e in entries] == sorted((e.when for e in entries), reverse=True)
    assert "contact name" in _page(owner_client, customer).content.decode()


def test_another_partners_customer_is_not_found(stranger_client, customer, sub):
    bf.notice(sub, NoticeKind.REMINDER_30)
    response = stranger_client.get(reverse("dashboard:customer", args=[customer.pk]))
    assert response.status_code == 404 and sub.product.name not in response.content.decode()


def test_a_member_limited_to_other_customers_does_not_see_this_one(login, partner, customer, sub):
    client = login("billing", partner)
    client.user.membership.customers.set([CustomerFactory(partner=partner)])
    assert client.get(reverse("dashboard:customer", args=[customer.pk])).status_code == 404


def test_the_timeline_is_paginated_older_pages_on_request(owner_client, customer, sub):
    for i in range(20):
        bf.notice(sub, NoticeKind.REMINDER_7 if i % 2 else NoticeKind.REMINDER_30)
        sub.current_period_end_date += timedelta(days=1)  # notices are once per kind and date
    for _ in range(20):
        operation_on(sub, kind="dr.cancel_subscription", state="succeeded")
    first = _page(owner_client, customer)
    assert len(first.context["timeline"]) == 25 and first.context["history"].has_older
    assert "?history=2#history" in first.content.decode()
    second = _page(owner_client, customer, history="2")
    assert len(second.context["timeline"]) == 15 and not second.context["history"].has_older
    keys = {(e.kind, e.pk) for e in first.context["timeline"]} | {
        (e.kind, e.pk) for e in second.context["timeline"]
    }
    assert len(keys) == 40
    assert len(_page(owner_client, customer, history="all").context["timeline"]) == 40
    assert len(_page(owner_client, customer, history="nonsense").context["timeline"]) == 25


def _count(client, customer) -> int:
    with CaptureQueriesContext(connection) as queries:
        _page(client, customer)
    return len(queries)


def _one_of_each(customer, sub, n: int):
    acquisition = sub.acquisition
    for i in range(n):
        bf.notice(sub, NoticeKind.RENEWED, delivered=bool(i % 2), error="bounced")
        sub.current_period_end_date += timedelta(days=31)
        _dr_event(f"evt_{acquisition.pk}_{i}", "subscription.extended", sub.subscription_id)
        _dr_event(f"evt_o_{acquisition.pk}_{i}", "order.accepted", acquisition.order_id)
        operation_on(sub, kind="dr.cancel_subscription", state="failed", last_error_code="http_500")
        operation_on(acquisition, kind="dr.refund_order", state="succeeded")
        Renewal.objects.create(
            subscription=sub,
            renewal_date=sub.current_period_end_date,
            state=RenewalState.REFUNDED,
            amount=Decimal("10.00"),
        )


def test_the_customer_page_runs_as_many_queries_for_many_entries_as_for_one(owner_client, customer, sub):
    acquisition = sub.acquisition
    acquisition.order_id, acquisition.refunded_amount = "ord_99001", Decimal("120.00")
    acquisition.save()
    _one_of_each(customer, sub, 1)
    _count(owner_client, customer)  # warm caches (content types, sessions)
    few = _count(owner_client, customer)

    for _ in range(4):
        more = bf.subscription(customer, sub.product)
        more.acquisition.order_id, more.acquisition.refunded_amount = f"ord_{more.pk}", Decimal("1.00")
        more.acquisition.save()
        _one_of_each(customer, more, 3)
    many = _count(owner_client, customer)

    kinds = {e.kind for e in _entries(owner_client, customer, history="all")}
    assert kinds == {"notice", "webhook", "operation", "refund"}
    assert few == many, f"{few} queries with few entries, {many} with many"


# --- Through the sandbox: a contract cancelled with a full refund, as the timeline tells it ------


@pytest.fixture
def cancelled(checkout, pay, external_acme_product, digicert_subaccount, run_tasks):  # noqa: F811
    from billing.models import BillingSubscription
    from billing.services import cancellation
    from billing.services.acquisition import OrderLine

    pay(checkout(OrderLine(external_acme_product, options={"sans": ["timeline.example.com"]})))
    subscription = BillingSubscription.objects.get()
    run_tasks(cancellation.cancel_with_refund, Actor.system(), subscription)
    return subscription


def test_a_cancellation_with_refund_shows_on_the_timeline_end_to_end(owner_client, customer, cancelled):
    entries = _entries(owner_client, customer, history="all")
    kinds = {e.kind for e in entries}
    assert {"change", "notice", "webhook", "operation", "refund"} <= kinds
    titles = {(e.kind, e.title) for e in entries}
    assert ("notice", "Cancelled and refunded in full") in titles
    assert ("refund", "Refunded 120.00 USD") in titles
    # The vendor calls are the steps of one recorded change, shown inside it.
    change = next(e for e in entries if (e.kind, e.title) == ("operation", "Cancel with a full refund"))
    assert "Refund at Digital River: succeeded" in change.lines
    assert ("operation", "Refund at Digital River") not in titles
    assert ("change", "Cancellation with a full refund requested (DigiCert first)") in titles
    assert all(
        e.state in ("Processed", "Ignored (unknown type)", "Received") for e in entries if e.kind == "webhook"
    )


def test_another_member_of_the_partner_sees_the_same_timeline(login, partner, customer, sub):
    bf.notice(sub, NoticeKind.REMINDER_30)
    viewer = login("viewer", partner)
    MembershipFactory(partner=partner)
    assert [e.kind for e in _entries(viewer, customer)] == ["notice"]
