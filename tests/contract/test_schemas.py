"""The schema helper itself: the OpenAPI rewrites, the documented quirks, and that it does reject."""

import jsonschema
import pytest

from tests.contract import schemas

SUBSCRIPTION = {
    "id": "506e3185e9c882d175a2d0cb0093d9f2",
    "rate_plan": {"id": "PARTNERS_BIZ"},
    "frequency": "monthly",
    "price": 200,
    "state": "Paid",
}


def test_nullable_becomes_a_null_type_and_joins_the_enum():
    assert schemas.relax({"type": "string", "nullable": True}) == {"type": ["string", "null"]}
    assert schemas.relax({"type": "object", "enum": [None], "nullable": True}) == {
        "type": ["object", "null"],
        "enum": [None],
    }
    assert schemas.relax({"type": "string", "enum": ["a"], "nullable": True})["enum"] == ["a", None]
    assert schemas.relax({"allOf": [{"$ref": "#/x"}], "nullable": True}) == {
        "anyOf": [{"type": "null"}, {"allOf": [{"$ref": "#/x"}]}]
    }


def test_min_length_on_a_list_also_means_min_items():
    assert schemas.relax({"allOf": [{"type": "array"}], "minLength": 1})["minItems"] == 1
    assert "minItems" not in schemas.relax({"type": "string", "minLength": 1})


def test_required_names_without_a_property_are_dropped():
    relaxed = schemas.relax({"properties": {"a": {}}, "required": ["a", "b"]})

    assert relaxed["required"] == ["a"]


def test_a_valid_subscription_passes_and_bad_ones_are_rejected():
    schemas.validate("cloudflare", "bill-subs-api_subscription-v2", SUBSCRIPTION)

    with pytest.raises(jsonschema.ValidationError, match="annual"):
        schemas.validate(
            "cloudflare", "bill-subs-api_subscription-v2", {**SUBSCRIPTION, "frequency": "annual"}
        )
    assert schemas.errors("cloudflare", "bill-subs-api_subscription-v2", {**SUBSCRIPTION, "state": "Active"})
    assert schemas.errors("cloudflare", "bill-subs-api_subscription-v2", {**SUBSCRIPTION, "price": "200"})


def test_cloudflare_failure_needs_at_least_one_error_with_an_integer_code():
    envelope = {"success": False, "errors": [{"code": 1225, "message": "no"}], "messages": [], "result": None}
    schemas.validate("cloudflare", "bill-subs-api_api-response-common-failure", envelope)

    assert schemas.errors(
        "cloudflare", "bill-subs-api_api-response-common-failure", {**envelope, "errors": []}
    )
    assert schemas.errors(
        "cloudflare",
        "bill-subs-api_api-response-common-failure",
        {**envelope, "errors": [{"code": "1225", "message": "no"}]},
    )


def test_digitalriver_activate_and_cancel_bodies_fit_the_update_request():
    for body in ({"state": "active"}, {"state": "cancelled"}):
        schemas.validate("digitalriver", "UpdateSubscriptionRequest", body)


def test_digitalriver_subscription_state_allows_lapsed():
    subscription = {"id": "sub_1", "planId": "plan-annual", "currency": "USD", "state": "lapsed"}

    schemas.validate("digitalriver", "Subscription", subscription)
    assert schemas.errors("digitalriver", "Subscription", {**subscription, "state": "paused"})


def test_digitalriver_event_does_not_require_fields_it_does_not_define():
    required = schemas.raw_schema("digitalriver", "Event")["required"]

    assert "pendingWebhooks" not in required and "digitalriverVersion" not in required
    assert {"id", "type", "data"} <= set(required)


def test_digitalriver_nullable_fields_accept_null():
    schemas.validate("digitalriver", "UpdateSubscriptionRequest", {"state": "active", "locale": None})


def test_digitalriver_plan_update_requires_nothing():
    schemas.validate("digitalriver", "UpdatePlanRequest", {"reminderOffsetDays": -1})
