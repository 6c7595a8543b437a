"""No input of any shape produces a 500 or reaches a vendor unchecked (issue 11, defect 12): one
JSON parser with a depth and size bound, and every number and list bounded before any call."""

import json

import pytest

from billing.models import BillingSubscription, Checkout
from billing.services.acquisition import OrderLine
from core.models import AuditEvent
from tests.factories import MembershipFactory
from tests.sandbox_helpers import vendor_request_count

pytestmark = pytest.mark.django_db
URL = "/api/v1/billing/checkouts/"


@pytest.fixture
def biller(api, checkout, pay, acme_product, digicert_subaccount):
    pay(checkout(OrderLine(acme_product, options={"sans": ["bounds.example.com"]})))
    sold = BillingSubscription.objects.get()
    client = api.as_user(MembershipFactory(partner=sold.partner, role="billing").user)
    client.sold = sold
    return client


def _nothing_written():
    return (Checkout.objects.count(), AuditEvent.objects.count(), vendor_request_count())


def test_a_json_body_nested_5000_levels_deep_is_a_400_not_a_500(biller):
    before = _nothing_written()
    body = "[" * 5000 + "]" * 5000
    response = biller.post(URL, body, content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "body_too_deep"
    assert _nothing_written() == before


def test_a_json_body_nested_just_past_the_limit_is_refused_and_at_the_limit_parsed(biller, settings):
    settings.API_JSON_MAX_DEPTH = 5
    deep = {"customer": biller.sold.customer_id, "items": [{"options": {"a": {"b": {"c": 1}}}}]}
    assert (
        biller.post(URL, json.dumps(deep), content_type="application/json").json()["code"] == "body_too_deep"
    )
    shallow = {"customer": biller.sold.customer_id, "items": [{"options": {"a": 1}}]}
    answer = biller.post(URL, json.dumps(shallow), content_type="application/json").json()
    assert answer["code"] == "invalid" and "items.0.product" in str(answer["fields"])  # parsed, then checked


def test_a_json_body_with_too_many_values_is_refused(biller, settings):
    settings.API_JSON_MAX_ITEMS = 100
    body = {"customer": biller.sold.customer_id, "items": [{"product": 1}] * 60}
    response = biller.post(URL, body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "body_too_large"


def test_a_body_that_is_not_json_is_a_400(biller):
    response = biller.post(URL, "{not json", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


@pytest.mark.parametrize("quantity", [2**31, 0, -1, 10_001])
def test_a_checkout_quantity_out_of_bounds_is_a_field_error_before_any_vendor_call(
    biller, acme_product, quantity
):
    before = _nothing_written()
    body = {
        "customer": biller.sold.customer_id,
        "items": [{"product": acme_product.pk, "quantity": quantity}],
    }
    response = biller.post(URL, body, format="json")
    assert response.status_code == 400 and "items.0.quantity" in str(response.json()["fields"])
    assert _nothing_written() == before


def test_a_2000_item_checkout_is_refused_before_any_vendor_call(biller, acme_product):
    before = _nothing_written()
    items = [{"product": acme_product.pk} for _ in range(2000)]
    response = biller.post(URL, {"customer": biller.sold.customer_id, "items": items}, format="json")
    assert response.status_code == 400 and "items" in response.json()["fields"]
    assert _nothing_written() == before


def test_a_fractional_customer_id_is_not_read_as_another(biller, acme_product):
    before = _nothing_written()
    body = {"customer": biller.sold.customer_id + 0.5, "items": [{"product": acme_product.pk}]}
    response = biller.post(URL, body, format="json")
    assert response.status_code == 400 and "customer" in response.json()["fields"]
    assert _nothing_written() == before


def test_the_service_bounds_hold_whatever_the_face(checkout, acme_product, settings, digicert_subaccount):
    from core.errors import ValidationFailed

    settings.BILLING_MAX_QUANTITY = 3
    with pytest.raises(ValidationFailed) as refused:
        checkout(OrderLine(acme_product, quantity=4, options={"sans": ["x.example.com"]}))
    assert "items[0].quantity" in refused.value.fields
    assert not Checkout.objects.exists()
