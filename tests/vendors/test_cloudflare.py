"""Cloudflare v4 tenant accounts: the client against the sandbox, and the sandbox's own rules."""

import json

import pytest

from tests.vendors.helpers import TENANT_TOKEN, UNIT_ID, CannedTransport, canned
from vendors.cloudflare.client import CloudflareClient
from vendors.errors import VendorError
from vendors.sandbox.cloudflare.models import CloudflareAccount
from vendors.sandbox.state import VendorKey

pytestmark = pytest.mark.django_db

CF = "/sandbox/cloudflare/client/v4"


def test_create_account_is_made_under_the_tokens_unit(cloudflare):
    account = cloudflare.create_account(name="acme-customer", business_email="ops@example.com")

    stored = CloudflareAccount.objects.get()
    assert (account.id, account.name) == (stored.id, "acme-customer")
    assert len(account.id) == 32 and int(account.id, 16) >= 0
    assert (stored.unit_id, stored.type, stored.kyc) == (
        UNIT_ID,
        "standard",
        {"business_email": "ops@example.com"},
    )
    assert account.raw["settings"] == {"enforce_twofactor": False}


def test_create_account_with_the_tokens_own_unit_is_accepted(cloudflare):
    cloudflare.create_account(name="acme", unit_id=UNIT_ID, account_type="enterprise")

    assert CloudflareAccount.objects.get().type == "enterprise"


def test_unit_the_token_does_not_administer_is_refused(cloudflare):
    with pytest.raises(VendorError) as caught:
        cloudflare.create_account(name="acme", unit_id="someone-elses-unit")

    assert (caught.value.status, caught.value.code, caught.value.retryable) == (403, "1002", False)
    assert not CloudflareAccount.objects.exists()


def test_token_without_a_unit_may_name_one(vendor_sandbox):
    client = CloudflareClient(vendor_sandbox.register_key("cloudflare", "token-without-unit"))

    client.create_account(name="acme", unit_id="any-unit")

    assert CloudflareAccount.objects.get().unit_id == "any-unit"


def test_bad_token_is_refused_with_authentication_error(cloudflare):
    with pytest.raises(VendorError) as caught:
        CloudflareClient("wrong-token").create_account(name="acme")

    assert (caught.value.status, caught.value.code, caught.value.message) == (
        403,
        "10000",
        "Authentication error",
    )
    assert not CloudflareAccount.objects.exists()


def test_missing_token_is_refused_with_authentication_error(client, tenant_token):
    answer = client.get(f"{CF}/accounts")

    assert answer.status_code == 403
    assert answer.json()["errors"] == [{"code": 10000, "message": "Authentication error"}]


def test_missing_name_is_refused_as_invalid_request(cloudflare):
    with pytest.raises(VendorError) as caught:
        cloudflare.create_account(name="")

    assert (caught.value.status, caught.value.code) == (400, "1001")
    assert not CloudflareAccount.objects.exists()


def test_cloudflare_failure_envelope_has_integer_codes(client, tenant_token):
    auth = {"Authorization": f"Bearer {TENANT_TOKEN}"}
    failures = [
        client.post(f"{CF}/accounts", data={}, content_type="application/json", headers=auth),
        client.post(
            f"{CF}/accounts",
            data={"name": "x", "unit": {"id": "nope"}},
            content_type="application/json",
            headers=auth,
        ),
        client.get(f"{CF}/accounts/{'0' * 32}", headers=auth),
        client.delete(f"{CF}/accounts", headers=auth),
        client.get(f"{CF}/no/such/route", headers=auth),
        client.get(f"{CF}/accounts", headers={"Authorization": "Bearer nope"}),
    ]

    for answer in failures:
        body = answer.json()
        assert set(body) == {"success", "errors", "messages", "result"}
        assert body["success"] is False and body["result"] is None and body["messages"] == []
        assert body["errors"] and all(
            isinstance(e["code"], int) and e["code"] >= 1000 for e in body["errors"]
        )
    assert [a.status_code for a in failures] == [400, 403, 404, 405, 404, 403]
    assert failures[4].json()["errors"][0] == {"code": 7003, "message": "No route for the URI"}


def test_success_envelope_of_a_listing_has_result_info(client, cloudflare):
    cloudflare.create_account(name="acme")

    body = client.get(f"{CF}/accounts?per_page=5", headers={"Authorization": f"Bearer {TENANT_TOKEN}"}).json()

    assert (body["success"], body["errors"], body["messages"]) == (True, [], [])
    assert body["result_info"] == {"page": 1, "per_page": 5, "count": 1, "total_count": 1, "total_pages": 1}


def test_duplicate_names_are_allowed(cloudflare):
    first = cloudflare.create_account(name="twin")
    second = cloudflare.create_account(name="twin")

    assert first.id != second.id
    assert CloudflareAccount.objects.filter(name="twin").count() == 2


def test_find_account_walks_every_page_and_returns_the_oldest(cloudflare, vendor_sandbox):
    owner = VendorKey.objects.get()
    for _ in range(60):
        CloudflareAccount.objects.create(name="crowd", unit_id=UNIT_ID, owner_key=owner)
    oldest = CloudflareAccount.objects.order_by("created_at", "id").first()

    found = cloudflare.find_account("crowd")

    assert found.id == oldest.id
    assert [(r.method, r.path) for r in vendor_sandbox.requests("cloudflare")] == [("GET", "/accounts")] * 2


def test_find_account_keeps_reading_until_the_last_page():
    """The vendor's name filter may be looser than ours: an exact match on page 2 is still found."""
    client = CloudflareClient("token")
    pages = {
        1: [{"id": f"{n:032x}", "name": "crowd-other"} for n in range(50)],
        2: [{"id": "f" * 32, "name": "crowd", "created_on": "2026-01-01T00:00:00Z"}],
    }
    transport = canned(client, body="{}")

    def send(request, **kwargs):
        page = int(request.url.split("page=")[1].split("&")[0])
        info = {"page": page, "per_page": 50, "count": len(pages[page]), "total_count": 51, "total_pages": 2}
        transport.body = json.dumps(
            {"success": True, "errors": [], "messages": [], "result": pages[page], "result_info": info}
        )
        return CannedTransport.send(transport, request, **kwargs)

    transport.send = send

    assert client.find_account("crowd").id == "f" * 32
    assert len(transport.sent) == 2


def test_find_account_is_none_when_absent(cloudflare):
    cloudflare.create_account(name="someone-else")

    assert cloudflare.find_account("acme") is None


def test_find_account_ignores_other_units(cloudflare, vendor_sandbox):
    other = CloudflareClient(vendor_sandbox.register_key("cloudflare", "other-token", unit_id="unit-b"))
    other.create_account(name="acme")

    assert cloudflare.find_account("acme") is None


def test_get_account_reads_one_visible_account(cloudflare):
    created = cloudflare.create_account(name="acme")

    assert cloudflare.get_account(created.id).name == "acme"


def test_a_2xx_with_success_false_is_still_an_error():
    client = CloudflareClient("token")
    envelope = {
        "success": False,
        "errors": [{"code": 1225, "message": "No access"}],
        "messages": [],
        "result": None,
    }
    canned(client, status=200, body=json.dumps(envelope))

    with pytest.raises(VendorError) as caught:
        client.create_account(name="acme")

    assert (caught.value.code, caught.value.message, caught.value.status) == ("1225", "No access", 200)


# --- Zone plans (vendors.md 0.7) ------------------------------------------------------------------

REAL_FREE_ZONE = {
    "id": "a" * 32,
    "name": "example.com",
    "status": "active",
    "account": {"id": "b" * 32, "name": "acme"},
    "plan": {"id": "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee", "legacy_id": "free", "name": "Free Website"},
}


def test_a_zone_carries_its_plan_object_raw_and_no_rate_plan_id():
    client = CloudflareClient("token")
    envelope = {"success": True, "errors": [], "messages": [], "result": REAL_FREE_ZONE}
    canned(client, status=200, body=json.dumps(envelope))

    zone = client.get_zone("a" * 32)

    assert zone.plan == REAL_FREE_ZONE["plan"]
    assert not hasattr(zone, "plan_id")


def test_available_rate_plans_returns_each_plan_raw():
    client = CloudflareClient("token")
    plans = [
        {"id": "PARTNERS_FREE", "name": "Free", "currency": "USD", "frequency": "monthly", "components": []},
        {"name": "no id: skipped"},
    ]
    transport = canned(
        client, status=200, body=json.dumps({"success": True, "errors": [], "messages": [], "result": plans})
    )

    assert client.available_rate_plans("a" * 32) == plans[:1]
    assert transport.sent[0].method == "GET"
    assert transport.sent[0].url.endswith(f"/zones/{'a' * 32}/available_rate_plans")


def test_available_rate_plans_without_a_list_is_unreadable():
    client = CloudflareClient("token")
    canned(client, status=200, body=json.dumps({"success": True, "errors": [], "messages": [], "result": {}}))

    with pytest.raises(VendorError) as caught:
        client.available_rate_plans("a" * 32)
    assert caught.value.code == "invalid_response"
