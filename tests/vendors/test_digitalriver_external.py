"""Digital River sandbox: external (third-party coordinated) subscriptions, acquisition and renewal (002)."""

from decimal import Decimal

import pytest
from django.core.management import CommandError

from tests.sandbox_helpers import dr_captures_by_subscription, dr_fail_charges, dr_ledger
from tests.vendors import dr as fixtures
from tests.vendors.dr import (
    EXTERNAL_TERMS,
    checkout,
    external,
    fulfil,
    new_source,
    one_off,
    paid_order,
    pay,
    recurring,
    renewal,
    sandbox_state,
    saved_source,
    session,
)
from vendors.sandbox.digitalriver import checkouts
from vendors.sandbox.digitalriver.models import DRBillingAgreement, DRCheckoutSession, DROrder, DRSubscription

api = fixtures.api  # the raw API fixture
pytestmark = pytest.mark.django_db
ENDPOINTS = pytest.mark.parametrize("endpoint", ["/drop-in/checkout-sessions", "/checkouts"])


def _body(customer_id, items, charge_type="customer_initiated", **fields) -> dict:
    return {"customerId": customer_id, "currency": "USD", "chargeType": charge_type, "items": items, **fields}


def _agreement(order: dict, index: int = 0) -> str:
    return order["items"][index]["subscriptionInfo"]["billingAgreementId"]


@pytest.fixture
def acquired(api, customer_id) -> dict:
    """A paid acquisition of the external subscription ext-1 (120 a year)."""
    return paid_order(api, customer_id, [external("ext-1")], upstreamId="acq-ext-1")


# --- Acquisition ----------------------------------------------------------------------------------------


def test_an_external_acquisition_creates_no_subscription_and_a_billing_agreement(api, customer_id, acquired):
    info = acquired["items"][0]["subscriptionInfo"]

    agreement = DRBillingAgreement.objects.get()
    assert not DRSubscription.objects.exists()
    assert info == {
        "terms": EXTERNAL_TERMS,
        "autoRenewal": True,
        "subscriptionId": "ext-1",
        "billingAgreementId": agreement.pk,
    }
    assert agreement.subscription_ids == ["ext-1"] and agreement.customer_id == customer_id
    assert agreement.source_id == acquired["payment"]["sources"][0]["id"] and not agreement.service
    assert acquired["state"] == "accepted" and acquired["capturedAmount"] == 0


def test_several_external_subscriptions_may_be_acquired_in_one_checkout(api, customer_id):
    order = paid_order(
        api,
        customer_id,
        [
            external("ext-1"),
            external("ext-2", sku="sku-addon", price=10.0),
            external("ext-1", sku="sku-seat", price=5.0),
        ],
    )

    agreements = [_agreement(order, index) for index in range(3)]
    assert agreements[0] == agreements[2] != agreements[1]  # one agreement per subscription
    assert DRBillingAgreement.objects.get(pk=agreements[0]).subscription_ids == ["ext-1"]
    assert DRBillingAgreement.objects.get(pk=agreements[1]).subscription_ids == ["ext-2"]


def test_one_agreement_per_acquisition_order_when_configured(api, customer_id, monkeypatch):
    monkeypatch.setattr(checkouts, "AGREEMENT_PER_SUBSCRIPTION", False)

    order = paid_order(api, customer_id, [external("ext-1"), external("ext-2", sku="sku-addon")])

    assert _agreement(order, 0) == _agreement(order, 1)
    assert DRBillingAgreement.objects.get().subscription_ids == ["ext-1", "ext-2"]


@ENDPOINTS
@pytest.mark.parametrize(
    "change,status,code,parameter",
    [
        ({"autoRenewal": False}, 400, "invalid_request", "autoRenewal"),
        ({"autoRenewal": None}, 400, "missing_parameter", "autoRenewal"),
        ({"terms": None}, 400, "missing_parameter", "terms"),
        ({"subscriptionId": None}, 400, "missing_parameter", "subscriptionId"),
    ],
)
def test_an_external_acquisition_needs_auto_renewal_terms_and_our_subscription_id(
    api, customer_id, endpoint, change, status, code, parameter
):
    item = external("ext-1")
    info = item["subscriptionInfo"]
    for name, value in change.items():
        if value is None:
            del info[name]
        else:
            info[name] = value
    before = sandbox_state()

    answer = api.refused("POST", endpoint, _body(customer_id, [item]))

    assert (answer.status, answer.code, answer.parameter) == (status, code, parameter)
    assert sandbox_state() == before


@ENDPOINTS
def test_mixing_plan_items_and_external_items_is_400_invalid_request(api, annual, customer_id, endpoint):
    before = sandbox_state()

    answer = api.refused("POST", endpoint, _body(customer_id, [recurring(annual), external("ext-1")]))

    assert (answer.status, answer.code) == (400, "invalid_request") and "not both" in answer.message
    assert sandbox_state() == before


def test_mixing_the_two_kinds_can_be_allowed_by_the_module_constant(api, annual, customer_id, monkeypatch):
    monkeypatch.setattr(checkouts, "MIXED_ACQUISITIONS_REFUSED", False)

    assert (
        api.call("POST", "/checkouts", _body(customer_id, [recurring(annual), external("ext-1")])).status
        == 201
    )


def test_plan_limit_reached_is_about_plans_not_external_subscriptions(api, annual, customer_id):
    two_external = api.call("POST", "/checkouts", _body(customer_id, [external("a"), external("b")]))
    two_service = api.refused(
        "POST",
        "/checkouts",
        _body(customer_id, [recurring(annual, subscription_id="a"), recurring(annual, subscription_id="b")]),
    )

    assert two_external.status == 201
    assert (two_service.status, two_service.code) == (409, "plan_limit_reached")


@pytest.mark.parametrize("source", ["none", "not saved"])
def test_an_external_acquisition_order_needs_a_reusable_source_saved_to_the_customer(
    api, customer_id, source
):
    fields = {"sourceId": new_source()} if source == "not saved" else {}
    made = checkout(api, customer_id, [external("ext-1")], **fields)
    before = sandbox_state()

    answer = api.refused("POST", "/orders", {"checkoutId": made["id"]})

    assert (answer.status, answer.code) == (409, "failed-request")
    assert ("external subscription" in answer.message) == (source == "not saved")
    assert sandbox_state() == before


def test_an_external_acquisition_order_with_a_saved_source(api, customer_id):
    made = checkout(api, customer_id, [external("ext-1"), one_off()], sourceId=saved_source(customer_id))

    order = api.post("/orders", {"checkoutId": made["id"]}, status=201)

    assert _agreement(order) and "subscriptionInfo" not in order["items"][1]


# --- Renewal ----------------------------------------------------------------------------------------------


def _renew(api, customer_id, order, *, items=None, source=None, charge_type="merchant_initiated") -> dict:
    source = source or order["payment"]["sources"][0]["id"]
    items = items or [renewal("ext-1", _agreement(order), sku="sku-zone")]
    return checkout(api, customer_id, items, charge_type=charge_type, sourceId=source)


def test_a_merchant_initiated_renewal_keeps_the_billing_agreement_and_is_captured_by_its_fulfilment(
    api, customer_id, acquired
):
    made = _renew(api, customer_id, acquired)

    order = api.post("/orders", {"checkoutId": made["id"]}, status=201)

    assert (
        order["chargeType"] == "merchant_initiated" and "terms" not in order["items"][0]["subscriptionInfo"]
    )
    assert _agreement(order) == _agreement(acquired)
    assert order["payment"]["charges"][0]["type"] == "merchant_initiated"
    assert not dr_ledger(kind="capture").exists()
    fulfil(api, acquired)
    fulfil(api, order)
    assert dr_captures_by_subscription() == {
        "ext-1": [(acquired["id"], Decimal("120.00")), (order["id"], Decimal("120.00"))]
    }
    assert DRBillingAgreement.objects.count() == 1


def test_several_items_of_one_agreement_renew_in_one_checkout(api, customer_id):
    acquired = paid_order(api, customer_id, [external("ext-1"), external("ext-1", sku="sku-seat", price=5.0)])
    agreement = _agreement(acquired)
    items = [
        renewal("ext-1", agreement, sku="sku-zone"),
        renewal("ext-1", agreement, sku="sku-seat", price=5.0),
    ]

    order = api.post(
        "/orders", {"checkoutId": _renew(api, customer_id, acquired, items=items)["id"]}, status=201
    )

    assert {_agreement(order, 0), _agreement(order, 1)} == {agreement}


def test_items_of_several_agreements_renew_in_one_checkout(api, customer_id):
    acquired = paid_order(api, customer_id, [external("ext-1"), external("ext-2", sku="sku-addon")])
    items = [renewal("ext-1", _agreement(acquired, 0)), renewal("ext-2", _agreement(acquired, 1))]

    order = api.post(
        "/orders", {"checkoutId": _renew(api, customer_id, acquired, items=items)["id"]}, status=201
    )

    assert [_agreement(order, 0), _agreement(order, 1)] == [_agreement(acquired, 0), _agreement(acquired, 1)]


@pytest.mark.parametrize(
    "change,code,parameter",
    [
        ({"billingAgreementId": None}, "missing_parameter", "billingAgreementId"),
        ({"subscriptionId": None}, "missing_parameter", "subscriptionId"),
        ({"billingAgreementId": "another-agreement"}, "invalid_parameter", "billingAgreementId"),
        ({"subscriptionId": "ext-other"}, "invalid_parameter", "subscriptionId"),
        ({"autoRenewal": False}, "invalid_request", "autoRenewal"),
        ({"autoRenewal": None}, "missing_parameter", "autoRenewal"),
        ({"planId": "plan-annual"}, "invalid_parameter", "planId"),
    ],
)
def test_a_merchant_initiated_renewal_names_a_covered_subscription_of_the_customers_agreement(
    api, customer_id, acquired, change, code, parameter
):
    item = renewal("ext-1", _agreement(acquired))
    for name, value in change.items():
        if value is None:
            del item["subscriptionInfo"][name]
        else:
            item["subscriptionInfo"][name] = value
    before = sandbox_state()

    answer = api.refused("POST", "/checkouts", _body(customer_id, [item], "merchant_initiated"))

    assert (answer.status, answer.code, answer.parameter) == (400, code, parameter)
    assert sandbox_state() == before


def test_another_customers_agreement_is_refused(api, customer_id, acquired):
    api.post("/customers", {"id": "other-customer"}, status=201)

    answer = api.refused(
        "POST",
        "/checkouts",
        _body("other-customer", [renewal("ext-1", _agreement(acquired))], "merchant_initiated"),
    )

    assert (answer.status, answer.code, answer.parameter) == (400, "invalid_parameter", "billingAgreementId")


@pytest.mark.parametrize("source", ["none", "not saved", "single use", "another customer's"])
def test_a_merchant_initiated_renewal_order_needs_the_customers_saved_reusable_source(
    api, customer_id, acquired, source
):
    api.post("/customers", {"id": "other-customer"}, status=201)
    source_id = {
        "none": None,
        "not saved": new_source(),
        "single use": new_source(reusable=False),
        "another customer's": saved_source("other-customer"),
    }[source]
    fields = {"sourceId": source_id} if source_id else {}
    made = checkout(
        api, customer_id, [renewal("ext-1", _agreement(acquired))], charge_type="merchant_initiated", **fields
    )
    before = sandbox_state()

    answer = api.refused("POST", "/orders", {"checkoutId": made["id"]})

    expected = "source_in_use" if source == "another customer's" else "failed-request"
    assert (answer.status, answer.code) == (409, expected)
    assert sandbox_state() == before


def test_a_renewal_with_another_saved_card_keeps_the_agreement_which_remembers_the_card(
    api, customer_id, acquired
):
    card = saved_source(customer_id, lastFourDigits="4242")

    order = api.post(
        "/orders", {"checkoutId": _renew(api, customer_id, acquired, source=card)["id"]}, status=201
    )

    assert _agreement(order) == _agreement(acquired)
    assert DRBillingAgreement.objects.get().source_id == card


def test_a_declined_merchant_initiated_renewal_is_409_and_makes_nothing(api, customer_id, acquired):
    made = _renew(api, customer_id, acquired)
    dr_fail_charges(acquired["payment"]["sources"][0]["id"])

    answer = api.refused("POST", "/orders", {"checkoutId": made["id"]})

    assert (answer.status, answer.code, answer.message) == (409, "failed-request", "Failed to charge source.")
    assert DROrder.objects.count() == 1 and not dr_ledger().exclude(order_id=acquired["id"]).exists()


def test_a_manual_renewal_is_customer_initiated_through_a_session_and_the_pay_page(
    api, customer_id, acquired, client
):
    made = session(
        api,
        customer_id,
        [renewal("ext-1", _agreement(acquired), auto=False, sku="sku-zone")],
        upstreamId="manual-1",
    )

    paid = client.post(
        f"/sandbox/digitalriver/pay/{made['id']}/",
        {
            "action": "pay",
            "source": "new",
            "last_four": "0005",
            "expiration_month": "1",
            "expiration_year": "2099",
        },
    )

    assert paid.status_code == 302
    order = api.get("/orders", {"upstreamIds": "manual-1"})["data"][0]
    assert order["chargeType"] == "customer_initiated" and _agreement(order) == _agreement(acquired)
    assert order["items"][0]["subscriptionInfo"]["autoRenewal"] is False
    new_card = order["payment"]["sources"][0]
    assert new_card["creditCard"]["lastFourDigits"] == "0005" and new_card["customerId"] == customer_id
    assert DRBillingAgreement.objects.get().source_id == new_card["id"]


def test_a_manual_renewal_declined_by_the_bank_leaves_the_session_open(api, customer_id, acquired):
    card = acquired["payment"]["sources"][0]["id"]
    made = session(api, customer_id, [renewal("ext-1", _agreement(acquired), auto=False)])
    dr_fail_charges(card)

    with pytest.raises(CommandError, match="Failed to charge source"):
        pay(made["id"], source=card)

    assert DRCheckoutSession.objects.get(pk=made["id"]).state == "open" and DROrder.objects.count() == 1
    pay(made["id"], source=card)
    assert DROrder.objects.count() == 2


def test_a_merchant_initiated_renewal_of_a_service_subscription_is_charged_and_shows_the_double_charge(
    api, annual, customer_id
):
    """The real vendor would charge it: the sandbox does, so that a test catches the back office doing it."""
    acquisition = paid_order(api, customer_id, [recurring(annual, subscription_id="sub-1")])
    subscription = api.post("/subscriptions/sub-1", {"state": "active"})
    made = checkout(
        api,
        customer_id,
        [renewal("sub-1", subscription["billingAgreementId"])],
        charge_type="merchant_initiated",
        sourceId=subscription["sourceId"],
    )

    order = api.post("/orders", {"checkoutId": made["id"]}, status=201)
    fulfil(api, acquisition)
    fulfil(api, order)

    assert [key for key, _ in dr_captures_by_subscription()["sub-1"]] == [acquisition["id"], order["id"]]
    assert api.get("/subscriptions/sub-1")["currentPeriodEndDate"] == subscription["currentPeriodEndDate"]
