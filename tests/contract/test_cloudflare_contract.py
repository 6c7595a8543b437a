"""What the Cloudflare client sends and what the sandbox answers have Cloudflare's published shapes."""

import re
from decimal import Decimal

import pytest

from tests.contract import schemas
from vendors.cloudflare.client import CloudflareClient
from vendors.errors import VendorError

pytestmark = pytest.mark.django_db

SUBSCRIPTION_PATHS = {
    re.compile(r"^/zones/[^/]+/subscription$"): "bill-subs-api_zone_subscription_response_single",
    re.compile(
        r"^/accounts/[^/]+/subscriptions(/[^/]+)?$"
    ): "bill-subs-api_account_subscription_response_single",
}
DELETE_SCHEMA = schemas.response_pointer(
    "/accounts/{account_identifier}/subscriptions/{subscription_identifier}", "delete"
)


def _fails(call, *args, **kwargs) -> VendorError:
    with pytest.raises(VendorError) as caught:
        call(*args, **kwargs)
    return caught.value


@pytest.fixture
def traffic(cloudflare, vendor_sandbox, exchanges):
    """Every subscription endpoint, successes and failures, through the client."""
    account = cloudflare.create_account(name="acme-customer")
    zone = cloudflare.create_zone(name="example.com", account_id=account.id)
    cloudflare.find_zone("example.com", account.id)
    cloudflare.get_zone_subscription(zone.id)  # none yet: a failure envelope
    cloudflare.available_rate_plans(zone.id)
    cloudflare.create_zone_subscription(
        zone.id, rate_plan_id="PARTNERS_BIZ", component_values=[("page_rules", 60)]
    )
    cloudflare.get_zone_subscription(zone.id)
    cloudflare.update_zone_subscription(
        zone.id,
        rate_plan_id="PARTNERS_PRO",
        frequency="yearly",
        component_values=[("page_rules", Decimal(25))],
    )
    cloudflare.update_zone_subscription(zone.id, rate_plan_id="PARTNERS_FREE", frequency="monthly")
    cloudflare.create_zone_subscription(zone.id, rate_plan_id="PARTNERS_PRO", frequency="quarterly")
    balancer = cloudflare.create_account_subscription(account.id, rate_plan_id="PARTNERS_LOAD_BALANCING")
    cloudflare.create_account_subscription(
        account.id, rate_plan_id="TEAMS_STANDARD", frequency="weekly", component_values=[("users", 75)]
    )
    cloudflare.update_account_subscription(
        account.id,
        balancer.id,
        rate_plan_id="PARTNERS_LOAD_BALANCING",
        frequency="monthly",
        component_values=[("endpoints", 5)],
    )
    cloudflare.list_account_subscriptions(account.id)
    cloudflare.delete_account_subscription(account.id, balancer.id)

    failures = [
        _fails(cloudflare.create_zone_subscription, zone.id, rate_plan_id="PARTNERS_BIZ"),  # 1206
        _fails(
            cloudflare.update_zone_subscription, zone.id, rate_plan_id="PARTNERS_ENT", frequency="monthly"
        ),
        _fails(cloudflare.update_zone_subscription, zone.id, rate_plan_id="PARTNERS_PRO", frequency="annual"),
        _fails(
            cloudflare.create_account_subscription,
            account.id,
            rate_plan_id="TEAMS_STANDARD",
            component_values=[("seats", 1)],
        ),
        _fails(cloudflare.delete_account_subscription, account.id, balancer.id),
        _fails(cloudflare.list_account_subscriptions, "0" * 32),
        _fails(cloudflare.available_rate_plans, "0" * 32),
        _fails(CloudflareClient("wrong-token").get_zone_subscription, zone.id),
        _fails(cloudflare._request, "PATCH", f"/zones/{zone.id}/subscription", json={}),
    ]
    vendor_sandbox.add_fault("cloudflare", "rate_limit", path_regex="/subscription", count=1)
    vendor_sandbox.add_fault("cloudflare", "http_500", path_regex="/subscriptions$", count=1)
    failures += [
        _fails(cloudflare.get_zone_subscription, zone.id),
        _fails(cloudflare.list_account_subscriptions, account.id),
    ]
    return failures


def test_traffic_covers_every_subscription_operation_and_failure(traffic, exchanges):
    operations = {(e.method, re.sub(r"[0-9a-f]{32}", "{id}", e.path)) for e in exchanges}

    assert {
        ("POST", "/zones/{id}/subscription"),
        ("GET", "/zones/{id}/subscription"),
        ("PUT", "/zones/{id}/subscription"),
        ("POST", "/accounts/{id}/subscriptions"),
        ("GET", "/accounts/{id}/subscriptions"),
        ("PUT", "/accounts/{id}/subscriptions/{id}"),
        ("DELETE", "/accounts/{id}/subscriptions/{id}"),
        ("GET", "/zones/{id}/available_rate_plans"),
    } <= operations
    assert sorted(error.code for error in traffic) == sorted(
        ["1206", "1225", "1001", "1001", "1005", "1003", "1004", "10000", "7001", "1429", "1500"]
    )


def test_client_request_bodies_validate_against_subscription_v2(traffic, exchanges):
    sent = [
        e
        for e in exchanges
        if e.method in ("POST", "PUT") and any(pattern.match(e.path) for pattern in SUBSCRIPTION_PATHS)
    ]
    # The client passes the caller's frequency through; "annual" (a documented docs mistake) is
    # refused by the schema and the sandbox alike.
    refused = [e.sent for e in sent if e.sent.get("frequency") == "annual"]
    bodies = [e.sent for e in sent if e.sent.get("frequency") != "annual"]

    for body in bodies:
        schemas.validate("cloudflare", "bill-subs-api_subscription-v2", body)
    assert len(refused) == 1
    assert schemas.errors("cloudflare", "bill-subs-api_subscription-v2", refused[0])
    assert len(bodies) == 10
    assert any("component_values" in body for body in bodies)
    assert any("component_values" not in body for body in bodies)


def test_subscription_responses_validate_against_the_response_schemas(traffic, exchanges):
    checked = 0
    for e in exchanges:
        schema = next((name for pattern, name in SUBSCRIPTION_PATHS.items() if pattern.match(e.path)), None)
        if schema is None or not 200 <= e.status < 300:
            continue
        if e.method == "DELETE":
            schemas.validate_at("cloudflare", DELETE_SCHEMA, e.answer)
        elif e.method == "GET" and e.path.endswith("/subscriptions"):
            schemas.validate("cloudflare", "bill-subs-api_account_subscription_response_collection", e.answer)
        else:
            schemas.validate("cloudflare", schema, e.answer)
            # This spec's single `result` is a bare object: hold it to the subscription schema too.
            schemas.validate("cloudflare", "bill-subs-api_subscription", e.answer["result"])
        checked += 1
    assert checked == 10


def test_zone_and_rate_plan_responses_validate(traffic, exchanges):
    pointers = {
        ("POST", "/zones"): schemas.response_pointer("/zones", "post"),
        ("GET", "/zones"): schemas.response_pointer("/zones", "get"),
    }
    checked = []
    for e in exchanges:
        if e.status != 200:
            continue
        if (e.method, e.path) in pointers:
            schemas.validate_at("cloudflare", pointers[(e.method, e.path)], e.answer)
            checked.append((e.method, e.path))
        elif e.path.endswith("/available_rate_plans"):
            schemas.validate("cloudflare", "bill-subs-api_plan_response_collection", e.answer)
            checked.append((e.method, "available_rate_plans"))
    assert sorted(checked) == [("GET", "/zones"), ("GET", "available_rate_plans"), ("POST", "/zones")]


def test_zone_answers_carry_an_opaque_plan_and_validate_as_zones(traffic, exchanges):
    zones = [
        item
        for e in exchanges
        if e.status == 200 and re.fullmatch(r"/zones(/[0-9a-f]{32})?", e.path)
        for item in (e.answer["result"] if isinstance(e.answer["result"], list) else [e.answer["result"]])
    ]
    rate_plans = {
        plan["id"]
        for e in exchanges
        if e.status == 200 and e.path.endswith("/available_rate_plans")
        for plan in e.answer["result"]
    }

    assert len(zones) >= 2 and rate_plans
    for zone in zones:
        schemas.validate("cloudflare", "zones_zone", zone)
        # vendors.md 0.7: the zone's plan id is opaque; rate plan ids appear only in subscriptions.
        assert zone["plan"]["id"] not in rate_plans
        assert {"id", "legacy_id", "name"} <= set(zone["plan"])


def test_available_rate_plans_validate_as_rate_plans(traffic, exchanges):
    answers = [e.answer for e in exchanges if e.status == 200 and e.path.endswith("/available_rate_plans")]

    assert answers
    for answer in answers:
        schemas.validate("cloudflare", "bill-subs-api_plan_response_collection", answer)
        for plan in answer["result"]:
            schemas.validate("cloudflare", "bill-subs-api_schemas-rate-plan", plan)
            assert plan["id"] and plan["components"]


def test_failures_validate_against_the_common_failure_schema(traffic, exchanges):
    failures = [e for e in exchanges if e.status >= 400]

    for e in failures:
        schemas.validate("cloudflare", "bill-subs-api_api-response-common-failure", e.answer)
    assert len(failures) == len(traffic) + 1  # and the zone that had no subscription yet
