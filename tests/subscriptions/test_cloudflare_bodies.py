"""What the Cloudflare services send (through the client) and get back has Cloudflare's published shapes."""

import json
import re
from urllib.parse import urlsplit

import pytest

from subscriptions.cloudflare import services as cloudflare
from tests.conftest import system_actor
from tests.contract import schemas
from vendors.sandbox.testing import SandboxTransport

pytestmark = pytest.mark.django_db

BASE = "/sandbox/cloudflare/client/v4"
ZONE_SUBSCRIPTION = re.compile(r"^/zones/[^/]+/subscription$")
ACCOUNT_SUBSCRIPTIONS = re.compile(r"^/accounts/[^/]+/subscriptions(/[^/]+)?$")
ZONES_POST = "#/paths/~1zones/post/requestBody/content/application~1json/schema"


@pytest.fixture
def sent(monkeypatch):
    """Every Cloudflare request the services make: (method, path, body, status, answer)."""
    captured = []
    send = SandboxTransport.send

    def recording(transport, request, *args, **kwargs):
        response = send(transport, request, *args, **kwargs)
        path = urlsplit(request.url).path
        if path.startswith(BASE):
            captured.append(
                (
                    request.method,
                    path.removeprefix(BASE),
                    json.loads(request.body) if request.body else None,
                    response.status_code,
                    json.loads(response.content) if response.content else None,
                )
            )
        return response

    monkeypatch.setattr(SandboxTransport, "send", recording)
    return captured


@pytest.fixture
def every_operation(sent, zone, customer, cloudflare_account, run_cloudflare):
    """Each Cloudflare operation of the back office once, with and without components."""
    zone = run_cloudflare(
        cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_BIZ", component_values={"page_rules": 60}
    )
    zone = run_cloudflare(
        cloudflare.change_zone_components, zone, component_values={"dedicated_certificates": 1}
    )
    zone = run_cloudflare(
        cloudflare.downgrade_zone_plan, zone, rate_plan_id="PARTNERS_PRO", frequency="yearly"
    )
    run_cloudflare(cloudflare.sync_zone, zone)
    plain = run_cloudflare(cloudflare.add_addon, customer, rate_plan_id="PARTNERS_LOAD_BALANCING")
    run_cloudflare(
        cloudflare.add_addon, customer, rate_plan_id="TEAMS_STANDARD", component_values={"users": 60}
    )
    run_cloudflare(cloudflare.change_addon, plain, component_values={"endpoints": 4})
    run_cloudflare(cloudflare.cancel_addon, plain)
    run_cloudflare(cloudflare.sync_addons, cloudflare_account)
    return sent


def _subscription_bodies(exchanges):
    return [
        (method, path, body)
        for method, path, body, _, _ in exchanges
        if method in ("POST", "PUT") and (ZONE_SUBSCRIPTION.match(path) or ACCOUNT_SUBSCRIPTIONS.match(path))
    ]


def test_subscription_bodies_validate_against_subscription_v2(every_operation):
    bodies = _subscription_bodies(every_operation)
    assert [(m, "zone" if ZONE_SUBSCRIPTION.match(p) else "account") for m, p, _ in bodies] == [
        ("POST", "zone"),
        ("PUT", "zone"),
        ("PUT", "zone"),
        ("POST", "account"),
        ("POST", "account"),
        ("PUT", "account"),
    ]
    for _, _, body in bodies:
        schemas.validate("cloudflare", "bill-subs-api_subscription-v2", body)
        assert body["frequency"] in ("weekly", "monthly", "quarterly", "yearly")


def test_components_are_sent_only_when_asked_for_and_a_change_sends_the_whole_set(every_operation):
    bodies = [body for _, _, body in _subscription_bodies(every_operation)]
    assert bodies[0]["component_values"] == [{"name": "page_rules", "value": 60}]
    assert bodies[1]["component_values"] == [
        {"name": "dedicated_certificates", "value": 1},
        {"name": "page_rules", "value": 60},
    ]
    assert "component_values" not in bodies[2]  # a new plan starts from its defaults
    assert "component_values" not in bodies[3]  # an add-on left alone takes the purchase's defaults
    assert bodies[4]["component_values"] == [{"name": "users", "value": 60}]


def test_add_zone_sends_a_valid_zones_post(sent, cloudflare_account, customer, catalog, run_tasks):
    run_tasks(cloudflare.add_zone, system_actor(), customer, name="new.example")
    (body,) = [body for method, path, body, _, _ in sent if (method, path) == ("POST", "/zones")]
    schemas.validate_at("cloudflare", ZONES_POST, body)
    assert body == {"name": "new.example", "account": {"id": cloudflare_account.vendor_id}, "type": "full"}


def test_answers_the_services_read_have_cloudflares_shapes(every_operation):
    checked = 0
    for method, path, _, status, answer in every_operation:
        if not 200 <= status < 300:
            continue
        if ZONE_SUBSCRIPTION.match(path):
            schemas.validate("cloudflare", "bill-subs-api_zone_subscription_response_single", answer)
        elif method == "GET" and ACCOUNT_SUBSCRIPTIONS.match(path) and path.endswith("/subscriptions"):
            schemas.validate("cloudflare", "bill-subs-api_account_subscription_response_collection", answer)
        elif method in ("POST", "PUT") and ACCOUNT_SUBSCRIPTIONS.match(path):
            schemas.validate("cloudflare", "bill-subs-api_account_subscription_response_single", answer)
        else:
            continue
        checked += 1
    assert checked >= 8
