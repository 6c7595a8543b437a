"""The Digital River client (vendors.digitalriver.client) against canned answers and the sandbox.

These test the back office's client; the emulator's own rules are tested in the other
test_digitalriver_* modules, in Digital River's words, without the client.
"""

import json
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.vendors import dr as fixtures
from tests.vendors.dr import ANNUAL, CUSTOMER_ID, one_off, pay, recurring, session
from tests.vendors.helpers import canned
from vendors.digitalriver import client as digitalriver
from vendors.digitalriver.client import DigitalRiverClient
from vendors.digitalriver.objects import order_from, subscription_from
from vendors.errors import VendorError
from vendors.sandbox.digitalriver.models import DRCheckoutSession, DRCustomer, DRPlan
from vendors.sandbox.state import RequestLogEntry

api = fixtures.api  # the raw API fixture
pytestmark = pytest.mark.django_db


def _refused(call, *args, **kwargs) -> VendorError:
    with pytest.raises(VendorError) as caught:
        call(*args, **kwargs)
    return caught.value


def test_client_sends_the_bearer_key_and_reads_the_error_envelope(dr):
    transport = canned(
        dr,
        status=409,
        body=json.dumps(
            {
                "type": "conflict",
                "errors": [{"code": "plan_limit_reached", "parameter": "planId", "message": "Only one plan"}],
            }
        ),
    )

    error = _refused(dr.get_order, "1")

    assert transport.sent[0].headers["Authorization"] == "Bearer sk_test_sandbox"
    assert (error.status, error.code, error.retryable, error.outcome_unknown) == (
        409,
        "plan_limit_reached",
        False,
        False,
    )
    assert "planId" in error.message and "Only one plan" in error.message


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_timeouts_rate_limits_and_server_errors_are_retryable(dr, status):
    canned(dr, status=status, body='{"type": "x", "errors": [{"code": "busy", "message": "later"}]}')

    error = _refused(dr.get_subscription, "sub-1")

    assert error.retryable and error.code == "busy"


def test_an_answer_that_is_not_the_object_is_an_unknown_outcome(dr):
    canned(dr, status=201, body='{"unexpected": true}')

    error = _refused(dr.create_order, "checkout-1")

    assert (error.code, error.retryable, error.outcome_unknown) == ("invalid_response", True, True)


def test_the_key_never_shows_in_errors(dr):
    canned(
        dr,
        status=400,
        body='{"type": "bad_request", "errors": [{"code": "x", "message": "sk_test_sandbox"}]}',
    )

    error = _refused(dr.get_order, "1")

    assert "sk_test_sandbox" not in error.message and "sk_test_sandbox" not in json.dumps(error.raw)
    assert "sk_test_sandbox" not in repr(dr)


def test_a_client_without_a_key_is_a_configuration_error(settings):
    settings.DIGITALRIVER_API_KEY = ""

    with pytest.raises(ImproperlyConfigured):
        DigitalRiverClient()


def test_a_wrong_key_is_401_unauthorized(vendor_sandbox, db):
    error = _refused(DigitalRiverClient("sk_test_wrong").get_plan, "plan-annual")

    assert (error.status, error.code) == (401, "unauthorized")


def test_the_request_log_never_holds_the_key(dr, vendor_sandbox):
    dr.create_plan(**ANNUAL)

    logged = list(vendor_sandbox.requests("digitalriver").values("method", "path", "status"))

    assert logged == [{"method": "POST", "path": "/plans", "status": 201}]
    assert "sk_test_sandbox" not in json.dumps(list(RequestLogEntry.objects.values()), default=str)


def test_create_plan_with_our_id_and_read_it(dr):
    plan = dr.create_plan(**ANNUAL)

    assert plan.id == "plan-annual" and plan.state == "active"
    assert (plan.interval, plan.interval_count, plan.contract_binding_days) == ("year", 1, 365)
    assert (plan.reminder_offset_days, plan.billing_offset_days, plan.collection_period_days) == (30, 5, 14)
    assert dr.get_plan("plan-annual") == plan
    assert dr.get_plan("plan-nope") is None


def test_the_client_refuses_fixed_fields_before_sending(dr):
    dr.create_plan(**ANNUAL)

    with pytest.raises(TypeError, match="terms"):
        dr.update_plan("plan-annual", terms="other")


def test_ensure_customer_creates_it_once(dr):
    assert dr.ensure_customer(CUSTOMER_ID, email="buyer@example.com", name="Buyer Ltd") == CUSTOMER_ID
    assert dr.ensure_customer(CUSTOMER_ID, email="other@example.com", name="Other") == CUSTOMER_ID

    customer = DRCustomer.objects.get()
    assert (customer.email, customer.metadata) == ("buyer@example.com", {"name": "Buyer Ltd"})


def test_items_are_sent_without_none_values(dr, annual, customer_id):
    item = {
        **recurring(annual),
        "subscriptionInfo": {**recurring(annual)["subscriptionInfo"], "subscriptionId": None},
    }
    item["price"] = Decimal("120.00")

    made = dr.create_checkout_session(customer_id=customer_id, currency="USD", items=[item])

    sent = DRCheckoutSession.objects.get(pk=made.id).request
    assert "subscriptionId" not in sent["items"][0]["subscriptionInfo"]
    assert sent["items"][0]["price"] == 120


def test_an_unknown_charge_type_is_refused_before_sending(dr, customer_id, vendor_sandbox):
    with pytest.raises(ValueError, match="chargeType"):
        dr.create_checkout(
            customer_id=customer_id, currency="USD", items=[one_off()], charge_type="recurring"
        )
    assert not vendor_sandbox.requests("digitalriver").filter(path="/checkouts").exists()


def test_lists_are_read_page_after_page_oldest_first(dr, api, annual, customer_id, monkeypatch):
    pay(session(api, customer_id, [recurring(annual, subscription_id="sub-1"), one_off()])["id"])
    monkeypatch.setattr(digitalriver, "PAGE_SIZE", 2)

    events = dr.list_events()

    assert [e.type for e in events] == [
        "checkout_session.order.created",
        "order.accepted",
        "subscription.created",
    ]
    assert RequestLogEntry.objects.filter(path="/events").count() == 2
    assert [e.type for e in dr.list_events(types=["order.accepted"])] == ["order.accepted"]


def test_find_checkouts_by_upstream_id(dr, customer_id):
    first = dr.create_checkout(
        customer_id=customer_id, currency="USD", items=[one_off()], charge_type="customer_initiated",
        upstream_id="ours-1",
    )  # fmt: skip
    dr.create_checkout(
        customer_id=customer_id, currency="USD", items=[one_off()], charge_type="customer_initiated",
        upstream_id="ours-2",
    )  # fmt: skip

    assert [c.id for c in dr.find_checkouts("ours-1")] == [first.id]
    assert dr.find_checkouts("ours-3") == []


def test_order_and_subscription_are_read_from_webhook_objects():
    order = order_from(
        {
            "id": "1001",
            "state": "accepted",
            "checkoutId": "c-1",
            "upstreamId": "u-1",
            "totalAmount": 170.1,
            "currency": "USD",
            "items": [
                {
                    "skuId": "sku-pro",
                    "quantity": 1,
                    "amount": 120.1,
                    "subscriptionInfo": {
                        "subscriptionId": "s-1",
                        "billingAgreementId": "ba-1",
                        "planId": "p",
                    },
                }
            ],
        }
    )
    reminder = subscription_from(
        {
            "subscription": {"id": "s-1", "state": "active", "nextReminderDate": "2027-01-01T00:00:00Z"},
            "invoice": {},
        }
    )

    assert order.total_amount == Decimal("170.1") and order.items[0].amount == Decimal("120.1")
    assert (order.items[0].subscription_id, order.items[0].billing_agreement_id) == ("s-1", "ba-1")
    assert reminder.id == "s-1" and reminder.next_reminder_date.year == 2027
    with pytest.raises(VendorError):
        order_from({"state": "accepted"})


def test_list_orders_takes_our_names_or_digital_rivers(dr):
    with pytest.raises(TypeError, match="colour"):
        dr.list_orders(colour="blue")

    assert dr.list_orders(checkoutId="nope") == dr.list_orders(checkout_id="nope") == []


def test_a_taken_plan_id_is_409_already_exists_through_the_client(dr):
    dr.create_plan(**ANNUAL)

    error = _refused(dr.create_plan, **{**ANNUAL, "name": "Another"})

    assert (error.status, error.code) == (409, "already_exists")
    assert DRPlan.objects.get().name == "Pro annual"
