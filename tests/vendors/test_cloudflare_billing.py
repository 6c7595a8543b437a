"""Cloudflare zones, zone and account subscriptions, entitlements: the sandbox's rules, through the client."""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from django.core.management import CommandError, call_command

from tests.vendors.helpers import TENANT_TOKEN, canned
from vendors.cloudflare.client import CloudflareClient, ComponentValue
from vendors.errors import VendorError
from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.cloudflare.catalog import DEFAULT_ENTITLEMENTS, PLANS, ZONE_PLANS
from vendors.sandbox.cloudflare.models import CloudflareSubscription, CloudflareZone
from vendors.sandbox.state import VendorKey

pytestmark = pytest.mark.django_db

FREE_PLAN_ID = "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

CF = "/sandbox/cloudflare/client/v4"
NO_ACCESS = (
    "Your account does not have access to this product. Contact billing@cloudflare.com for assistance."
)


@pytest.fixture
def account(cloudflare):
    return cloudflare.create_account(name="acme-customer")


@pytest.fixture
def zone(cloudflare, account):
    return cloudflare.create_zone(name="example.com", account_id=account.id)


def _refused(call, *args, **kwargs) -> VendorError:
    with pytest.raises(VendorError) as caught:
        call(*args, **kwargs)
    return caught.value


def _components(subscription) -> dict:
    return {c.name: c.value for c in subscription.component_values}


# --- Zones --------------------------------------------------------------------------------------


def test_create_zone_starts_on_partners_free(cloudflare, account):
    zone = cloudflare.create_zone(name="Example.COM", account_id=account.id)

    assert (zone.name, zone.account_id, zone.status) == ("example.com", account.id, "active")
    # The zone's own plan is opaque, as on a real zone: no rate plan id in it.
    assert (zone.plan["id"], zone.plan["legacy_id"], zone.plan["name"]) == (
        FREE_PLAN_ID,
        "free",
        "Free Website",
    )
    assert len(zone.id) == 32
    assert cloudflare.get_zone(zone.id) == zone


def test_find_zone_by_name_and_account(cloudflare, account, zone):
    other = cloudflare.create_account(name="other")
    cloudflare.create_zone(name="example.com", account_id=other.id)

    assert cloudflare.find_zone("example.com", account.id).id == zone.id
    assert cloudflare.find_zone("example.org", account.id) is None


def test_zone_of_an_account_the_token_does_not_see_is_not_found(vendor_sandbox, zone):
    stranger = CloudflareClient(vendor_sandbox.register_key("cloudflare", "other-token", unit_id="unit-b"))

    error = _refused(stranger.get_zone, zone.id)

    assert (error.status, error.code) == (404, "1004")
    assert stranger.find_zone("example.com", zone.account_id) is None
    assert _refused(stranger.create_zone_subscription, zone.id, rate_plan_id="PARTNERS_PRO").status == 404


def test_create_zone_in_an_unknown_account_is_not_found(cloudflare):
    error = _refused(cloudflare.create_zone, name="example.com", account_id="0" * 32)

    assert (error.status, error.code) == (404, "1003")
    assert not CloudflareZone.objects.exists()


def test_duplicate_zone_name_in_an_account_is_refused(cloudflare, account, zone):
    error = _refused(cloudflare.create_zone, name="example.com", account_id=account.id)

    assert (error.status, error.code) == (400, "1061")
    assert CloudflareZone.objects.count() == 1


@pytest.mark.parametrize("name", ["", "localhost", "exa mple.com", "-bad.example.com"])
def test_invalid_zone_names_are_refused(cloudflare, account, name):
    error = _refused(cloudflare.create_zone, name=name, account_id=account.id)

    assert (error.status, error.code) == (400, "1001")


# --- Zone subscriptions -------------------------------------------------------------------------


def test_free_zone_has_no_subscription_until_one_is_created(cloudflare, zone, client):
    answer = client.get(
        f"{CF}/zones/{zone.id}/subscription", headers={"Authorization": f"Bearer {TENANT_TOKEN}"}
    )

    assert cloudflare.get_zone_subscription(zone.id) is None
    assert answer.status_code == 404
    assert answer.json()["errors"] == [{"code": 1207, "message": "No subscription for this zone."}]


def test_create_zone_subscription_upgrades_the_zone(cloudflare, zone):
    before = sandbox_now()

    created = cloudflare.create_zone_subscription(zone.id, rate_plan_id="PARTNERS_BIZ")

    assert (created.rate_plan_id, created.frequency, created.state, created.price, created.currency) == (
        "PARTNERS_BIZ",
        "monthly",
        "Paid",
        Decimal(200),
        "USD",
    )
    assert created.zone_id == zone.id
    assert created.rate_plan["public_name"] == "Business Plan"
    assert before - timedelta(seconds=1) <= created.current_period_start <= sandbox_now()
    assert created.current_period_end == created.current_period_start + relativedelta(months=1)
    assert _components(created) == {"page_rules": Decimal(50), "dedicated_certificates": Decimal(0)}
    plan = cloudflare.get_zone(zone.id).plan
    assert (plan["legacy_id"], plan["is_subscribed"]) == ("business", True)
    assert plan["id"] == ZONE_PLANS["PARTNERS_BIZ"].id != "PARTNERS_BIZ"
    assert cloudflare.get_zone_subscription(zone.id) == created


def test_components_above_the_default_are_priced_per_unit(cloudflare, zone):
    created = cloudflare.create_zone_subscription(
        zone.id,
        rate_plan_id="PARTNERS_BIZ",
        component_values=[("page_rules", 60), ("dedicated_certificates", 1)],
    )

    assert created.price == Decimal(200 + 10 * 5 + 1 * 10)
    assert ComponentValue("page_rules", Decimal(60), Decimal(50), Decimal(5)) in created.component_values


def test_components_below_the_default_earn_no_credit(cloudflare, zone):
    created = cloudflare.create_zone_subscription(
        zone.id, rate_plan_id="PARTNERS_PRO", component_values=[("page_rules", 1)]
    )

    assert created.price == Decimal(20)


@pytest.mark.parametrize(
    ("frequency", "price", "length"),
    [
        ("weekly", Decimal("4.62"), relativedelta(weeks=1)),
        ("monthly", Decimal(20), relativedelta(months=1)),
        ("quarterly", Decimal(60), relativedelta(months=3)),
        ("yearly", Decimal(240), relativedelta(years=1)),
    ],
)
def test_frequency_sets_the_price_and_the_period(cloudflare, zone, frequency, price, length):
    created = cloudflare.create_zone_subscription(zone.id, rate_plan_id="PARTNERS_PRO", frequency=frequency)

    assert (created.frequency, created.price) == (frequency, price)
    assert created.current_period_end == created.current_period_start + length


@pytest.mark.parametrize("frequency", ["annual", "daily", ""])
def test_frequency_outside_the_enum_is_refused_with_400(cloudflare, zone, frequency):
    error = _refused(
        cloudflare.create_zone_subscription, zone.id, rate_plan_id="PARTNERS_PRO", frequency=frequency
    )

    assert (error.status, error.code) == (400, "1001")
    assert "weekly, monthly, quarterly, yearly" in error.message
    assert not CloudflareSubscription.objects.exists()


def test_second_post_on_a_paid_zone_is_refused_with_400(cloudflare, zone):
    cloudflare.create_zone_subscription(zone.id, rate_plan_id="PARTNERS_PRO")

    error = _refused(cloudflare.create_zone_subscription, zone.id, rate_plan_id="PARTNERS_BIZ")

    assert (error.status, error.code, error.retryable) == (400, "1206", False)
    assert cloudflare.get_zone_subscription(zone.id).rate_plan_id == "PARTNERS_PRO"


def test_put_changes_components_and_keeps_the_period(cloudflare, zone, vendor_sandbox):
    created = cloudflare.create_zone_subscription(zone.id, rate_plan_id="PARTNERS_BIZ")
    vendor_sandbox.advance_clock(days=3)

    changed = cloudflare.update_zone_subscription(
        zone.id, rate_plan_id="PARTNERS_BIZ", frequency="monthly", component_values=[("page_rules", 70)]
    )

    assert (changed.id, changed.price) == (created.id, Decimal(300))
    assert _components(changed)["page_rules"] == Decimal(70)
    assert changed.current_period_start == created.current_period_start


def test_put_without_components_keeps_them_on_the_same_plan(cloudflare, zone):
    cloudflare.create_zone_subscription(
        zone.id, rate_plan_id="PARTNERS_BIZ", component_values=[("page_rules", 60)]
    )

    changed = cloudflare.update_zone_subscription(zone.id, rate_plan_id="PARTNERS_BIZ", frequency="yearly")

    assert _components(changed)["page_rules"] == Decimal(60)
    assert changed.price == Decimal(250 * 12)


def test_downgrade_to_partners_free_is_allowed_and_the_zone_can_be_upgraded_again(cloudflare, zone):
    created = cloudflare.create_zone_subscription(zone.id, rate_plan_id="PARTNERS_PRO")

    downgraded = cloudflare.update_zone_subscription(
        zone.id, rate_plan_id="PARTNERS_FREE", frequency="monthly"
    )
    upgraded = cloudflare.create_zone_subscription(zone.id, rate_plan_id="PARTNERS_BIZ")

    assert (downgraded.rate_plan_id, downgraded.state, downgraded.price) == (
        "PARTNERS_FREE",
        "Provisioned",
        0,
    )
    assert _components(downgraded)["page_rules"] == Decimal(3)
    assert (upgraded.id, upgraded.state) == (created.id, "Paid")
    assert cloudflare.get_zone(zone.id).plan["legacy_id"] == "business"


def test_put_on_a_zone_without_subscription_is_not_found(cloudflare, zone):
    error = _refused(
        cloudflare.update_zone_subscription, zone.id, rate_plan_id="PARTNERS_PRO", frequency="monthly"
    )

    assert (error.status, error.code) == (404, "1207")


def test_plan_outside_entitlements_fails_with_code_1225(cloudflare, zone):
    error = _refused(cloudflare.create_zone_subscription, zone.id, rate_plan_id="PARTNERS_ENT")

    assert (error.status, error.code, error.message, error.retryable) == (400, "1225", NO_ACCESS, False)
    assert not CloudflareSubscription.objects.exists()
    assert cloudflare.get_zone(zone.id).plan["id"] == FREE_PLAN_ID


def test_unknown_plan_fails_with_code_1225(cloudflare, zone):
    assert _refused(cloudflare.create_zone_subscription, zone.id, rate_plan_id="PARTNERS_GOLD").code == "1225"


def test_account_add_on_is_not_a_zone_plan(cloudflare, zone):
    error = _refused(cloudflare.create_zone_subscription, zone.id, rate_plan_id="TEAMS_STANDARD")

    assert (error.status, error.code) == (400, "1001")
    assert error.message == "TEAMS_STANDARD is an account add-on, not a zone plan."


@pytest.mark.parametrize(
    "components",
    [
        [("endpoints", 3)],
        [("page_rules", -1)],
        [("page_rules", Decimal("2.5"))],
        [("page_rules", 5), ("page_rules", 6)],
    ],
)
def test_unknown_or_malformed_components_are_refused(cloudflare, zone, components):
    error = _refused(
        cloudflare.create_zone_subscription, zone.id, rate_plan_id="PARTNERS_PRO", component_values=components
    )

    assert (error.status, error.code) == (400, "1001")
    assert not CloudflareSubscription.objects.exists()


def test_unknown_component_names_the_plans_components(cloudflare, zone):
    error = _refused(
        cloudflare.create_zone_subscription,
        zone.id,
        rate_plan_id="PARTNERS_PRO",
        component_values=[("seats", 1)],
    )

    assert (
        error.message
        == "seats is not a component of PARTNERS_PRO (it has: page_rules, dedicated_certificates)."
    )


def test_period_rolls_over_when_the_clock_passes_its_end(cloudflare, zone, vendor_sandbox):
    created = cloudflare.create_zone_subscription(zone.id, rate_plan_id="PARTNERS_PRO", frequency="weekly")
    vendor_sandbox.advance_clock(days=15)

    renewed = cloudflare.get_zone_subscription(zone.id)

    assert renewed.current_period_start == created.current_period_start + relativedelta(weeks=2)
    assert renewed.current_period_end == created.current_period_start + relativedelta(weeks=3)
    assert renewed.state == "Paid"


def test_every_zone_rate_plan_has_an_opaque_zone_plan():
    zone_rate_plans = {plan.id for plan in PLANS.values() if plan.scope == "zone"}

    assert set(ZONE_PLANS) == zone_rate_plans
    assert all(len(p.id) == 32 and p.id not in PLANS for p in ZONE_PLANS.values())
    assert [p.legacy_id for p in ZONE_PLANS.values()] == ["free", "pro", "business", "enterprise"]


def test_available_rate_plans_lists_the_entitled_zone_plans(cloudflare, zone):
    plans = cloudflare.available_rate_plans(zone.id)

    assert [plan["id"] for plan in plans] == ["PARTNERS_FREE", "PARTNERS_PRO", "PARTNERS_BIZ"]
    assert plans[1]["components"][0] == {"name": "page_rules", "default": 20, "unit_price": 5}


# --- Entitlements -------------------------------------------------------------------------------


def test_default_entitlements_are_every_plan_but_partners_ent():
    assert "PARTNERS_ENT" not in DEFAULT_ENTITLEMENTS
    assert {"PARTNERS_BIZ", "PARTNERS_LOAD_BALANCING", "TEAMS_STANDARD", "PARTNERS_WORKERS_BASIC"} <= set(
        DEFAULT_ENTITLEMENTS
    )


def test_register_key_with_entitlements(capsys, vendor_sandbox):
    call_command(
        "sandbox_register_key",
        "--vendor",
        "cloudflare",
        "--key",
        "ent-token",
        "--entitlements",
        "PARTNERS_ENT,PARTNERS_PRO",
    )
    client = CloudflareClient("ent-token")
    zone = client.create_zone(name="example.com", account_id=client.create_account(name="acme").id)

    created = client.create_zone_subscription(zone.id, rate_plan_id="PARTNERS_ENT")

    assert created.price == Decimal(5000)
    assert _refused(client.create_zone_subscription, zone.id, rate_plan_id="PARTNERS_BIZ").code == "1206"
    assert [p["id"] for p in client.available_rate_plans(zone.id)] == ["PARTNERS_PRO", "PARTNERS_ENT"]
    output = capsys.readouterr().out
    assert "May buy: PARTNERS_ENT, PARTNERS_PRO" in output and "ent-token" not in output


def test_entitlements_command_sets_adds_removes_and_resets(capsys, tenant_token):
    call_command("sandbox_entitlements", "--key", tenant_token, "--set", "PARTNERS_PRO")
    assert VendorKey.objects.get().entitlements == ["PARTNERS_PRO"]
    call_command(
        "sandbox_entitlements",
        "--key",
        tenant_token,
        "--add",
        "PARTNERS_ENT,TEAMS_STANDARD",
        "--remove",
        "PARTNERS_PRO",
    )
    assert VendorKey.objects.get().entitlements == ["PARTNERS_ENT", "TEAMS_STANDARD"]
    call_command("sandbox_entitlements", "--key", tenant_token, "--default")
    assert VendorKey.objects.get().entitlements is None
    call_command("sandbox_entitlements", "--key", tenant_token)

    output = capsys.readouterr().out
    assert output.splitlines()[-1].endswith(f"may buy: {', '.join(DEFAULT_ENTITLEMENTS)} (default set)")
    assert tenant_token not in output


def test_entitlements_removed_from_a_token_fail_with_1225(cloudflare, zone, tenant_token):
    call_command("sandbox_entitlements", "--key", tenant_token, "--remove", "PARTNERS_PRO")

    assert _refused(cloudflare.create_zone_subscription, zone.id, rate_plan_id="PARTNERS_PRO").code == "1225"


@pytest.mark.parametrize(
    "arguments",
    [
        ["--key", "unknown-token"],
        ["--key", TENANT_TOKEN, "--add", "PARTNERS_GOLD"],
        ["--key", TENANT_TOKEN, "--set", "PARTNERS_PRO", "--default"],
    ],
)
def test_entitlements_command_refuses_what_it_cannot_do(tenant_token, arguments):
    with pytest.raises(CommandError):
        call_command("sandbox_entitlements", *arguments)

    assert VendorKey.objects.get().entitlements is None


def test_entitlements_are_for_cloudflare_tokens_only(partner_key):
    with pytest.raises(CommandError, match="Only Cloudflare"):
        call_command(
            "sandbox_register_key", "--vendor", "digicert", "--key", "other", "--entitlements", "PARTNERS_PRO"
        )
    with pytest.raises(CommandError, match="No Cloudflare token"):
        call_command("sandbox_entitlements", "--key", partner_key, "--add", "PARTNERS_PRO")


def test_admin_edits_a_tokens_entitlements(admin_client, tenant_token):
    key = VendorKey.objects.get()
    page = admin_client.get(f"/admin/sandbox/vendorkey/{key.pk}/change/").content.decode()

    answer = admin_client.post(
        f"/admin/sandbox/vendorkey/{key.pk}/change/",
        {"label": "tests", "unit_id": key.unit_id, "entitlements": ["PARTNERS_PRO", "PARTNERS_ENT"]},
    )

    assert 'value="PARTNERS_BIZ"' in page and "checked" in page
    assert answer.status_code == 302
    assert VendorKey.objects.get().entitlements == ["PARTNERS_PRO", "PARTNERS_ENT"]


def test_admin_change_form_of_a_digicert_key_has_no_entitlements(admin_client, partner_key):
    key = VendorKey.objects.get()

    answer = admin_client.post(
        f"/admin/sandbox/vendorkey/{key.pk}/change/", {"label": "renamed", "unit_id": ""}
    )

    assert answer.status_code == 302
    assert (VendorKey.objects.get().label, VendorKey.objects.get().entitlements) == ("renamed", None)


# --- Account subscriptions ----------------------------------------------------------------------


def test_account_subscription_without_components_gets_the_defaults(cloudflare, account):
    created = cloudflare.create_account_subscription(account.id, rate_plan_id="PARTNERS_LOAD_BALANCING")

    assert (created.rate_plan_id, created.state, created.price, created.zone_id) == (
        "PARTNERS_LOAD_BALANCING",
        "Paid",
        Decimal(5),
        None,
    )
    assert _components(created) == {"endpoints": Decimal(2)}
    assert created.rate_plan["scope"] == "account"


def test_account_subscription_with_extra_seats(cloudflare, account):
    created = cloudflare.create_account_subscription(
        account.id, rate_plan_id="TEAMS_STANDARD", frequency="yearly", component_values=[("users", 60)]
    )

    assert created.price == Decimal((350 + 10 * 7) * 12)


def test_list_account_subscriptions_walks_every_page(cloudflare, account, vendor_sandbox):
    created = [
        cloudflare.create_account_subscription(account.id, rate_plan_id="PARTNERS_WORKERS_BASIC")
        for _ in range(3)
    ]
    model = CloudflareSubscription.objects.get(pk=created[0].id)
    for _ in range(50):
        model.pk = None
        model.id = CloudflareSubscription._meta.get_field("id").default()
        model.save(force_insert=True)

    listed = cloudflare.list_account_subscriptions(account.id)

    assert len(listed) == 53
    assert {s.id for s in created} <= {s.id for s in listed}
    assert (
        vendor_sandbox.requests("cloudflare").filter(path=f"/accounts/{account.id}/subscriptions").count()
        == 5
    )


def test_update_account_subscription(cloudflare, account):
    created = cloudflare.create_account_subscription(account.id, rate_plan_id="PARTNERS_LOAD_BALANCING")

    changed = cloudflare.update_account_subscription(
        account.id,
        created.id,
        rate_plan_id="PARTNERS_LOAD_BALANCING",
        frequency="monthly",
        component_values=[("endpoints", 4)],
    )

    assert (changed.id, changed.price) == (created.id, Decimal(15))
    assert cloudflare.list_account_subscriptions(account.id) == [changed]


def test_delete_account_subscription_returns_its_id_and_unlists_it(cloudflare, account):
    created = cloudflare.create_account_subscription(account.id, rate_plan_id="PARTNERS_LOAD_BALANCING")

    deleted = cloudflare.delete_account_subscription(account.id, created.id)

    assert deleted == created.id
    assert cloudflare.list_account_subscriptions(account.id) == []
    stored = CloudflareSubscription.objects.get()
    assert (stored.state, stored.cancelled_at is not None) == ("Cancelled", True)


def test_cancelled_account_subscription_cannot_be_changed_or_deleted_again(cloudflare, account):
    created = cloudflare.create_account_subscription(account.id, rate_plan_id="PARTNERS_LOAD_BALANCING")
    cloudflare.delete_account_subscription(account.id, created.id)

    again = _refused(cloudflare.delete_account_subscription, account.id, created.id)
    change = _refused(
        cloudflare.update_account_subscription,
        account.id,
        created.id,
        rate_plan_id="PARTNERS_LOAD_BALANCING",
        frequency="monthly",
    )

    assert {(e.status, e.code) for e in (again, change)} == {(404, "1005")}


def test_zone_plan_is_not_an_account_add_on(cloudflare, account):
    error = _refused(cloudflare.create_account_subscription, account.id, rate_plan_id="PARTNERS_PRO")

    assert (error.code, error.message) == ("1001", "PARTNERS_PRO is a zone plan, not an account add-on.")


def test_zone_subscriptions_are_not_account_subscriptions(cloudflare, account, zone):
    zone_subscription = cloudflare.create_zone_subscription(zone.id, rate_plan_id="PARTNERS_PRO")

    assert cloudflare.list_account_subscriptions(account.id) == []
    error = _refused(cloudflare.delete_account_subscription, account.id, zone_subscription.id)
    assert error.code == "1005"


def test_account_the_token_does_not_see_is_not_found(vendor_sandbox, account):
    stranger = CloudflareClient(vendor_sandbox.register_key("cloudflare", "other-token", unit_id="unit-b"))

    error = _refused(stranger.create_account_subscription, account.id, rate_plan_id="PARTNERS_LOAD_BALANCING")

    assert (error.status, error.code) == (404, "1003")
    assert not CloudflareSubscription.objects.exists()


# --- Faults, request log -------------------------------------------------------------------------


def test_rate_limit_on_a_subscription_call_honours_retry_after(cloudflare, zone, vendor_sandbox):
    vendor_sandbox.add_fault(
        "cloudflare", "rate_limit", method="POST", path_regex="/subscription$", retry_after=30
    )

    error = _refused(cloudflare.create_zone_subscription, zone.id, rate_plan_id="PARTNERS_PRO")

    assert (error.status, error.retryable, error.retry_after) == (429, True, 30.0)
    assert not CloudflareSubscription.objects.exists()


def test_timeout_after_commit_leaves_the_subscription_to_be_read_back(cloudflare, zone, vendor_sandbox):
    vendor_sandbox.add_fault(
        "cloudflare", "timeout_after", method="POST", path_regex="/subscription$", count=1
    )

    error = _refused(cloudflare.create_zone_subscription, zone.id, rate_plan_id="PARTNERS_PRO")

    assert (error.code, error.outcome_unknown) == ("timeout", True)
    assert cloudflare.get_zone_subscription(zone.id).rate_plan_id == "PARTNERS_PRO"
    assert [(r.method, r.path, r.status, r.fault) for r in vendor_sandbox.requests("cloudflare")][-2:] == [
        ("POST", f"/zones/{zone.id}/subscription", 200, "timeout_after"),
        ("GET", f"/zones/{zone.id}/subscription", 200, ""),
    ]


# --- Client parsing (shapes the sandbox never sends) --------------------------------------------


def test_request_body_sends_component_values_only_when_given():
    client = CloudflareClient("token")
    answer = {
        "success": True,
        "errors": [],
        "messages": [],
        "result": {"id": "s1", "rate_plan": {"id": "PARTNERS_BIZ"}},
    }
    transport = canned(client, body=json.dumps(answer))

    client.create_zone_subscription("z1", rate_plan_id="PARTNERS_BIZ")
    client.update_zone_subscription(
        "z1",
        rate_plan_id="PARTNERS_BIZ",
        frequency="yearly",
        component_values=[("page_rules", Decimal("50")), ("x", 2)],
    )

    assert [json.loads(request.body) for request in transport.sent] == [
        {"rate_plan": {"id": "PARTNERS_BIZ"}, "frequency": "monthly"},
        {
            "rate_plan": {"id": "PARTNERS_BIZ"},
            "frequency": "yearly",
            "component_values": [{"name": "page_rules", "value": 50}, {"name": "x", "value": 2}],
        },
    ]


def test_money_and_values_are_read_as_decimals():
    client = CloudflareClient("token")
    result = {
        "id": "s1",
        "rate_plan": {"id": "PARTNERS_PRO", "currency": "USD"},
        "component_values": [{"name": "page_rules", "value": 25, "default": 20, "price": 0.1}],
        "price": 20.1,
        "frequency": "monthly",
        "state": "Paid",
        "current_period_end": "2026-02-01T00:00:00Z",
    }
    canned(client, body=json.dumps({"success": True, "errors": [], "messages": [], "result": result}))

    subscription = client.get_zone_subscription("z1")

    assert (subscription.price, subscription.currency, subscription.zone_id) == (Decimal("20.1"), "USD", None)
    assert subscription.component_values == (
        ComponentValue("page_rules", Decimal(25), Decimal(20), Decimal("0.1")),
    )
    assert subscription.current_period_end.isoformat() == "2026-02-01T00:00:00+00:00"
    assert subscription.current_period_start is None


def test_an_empty_zone_subscription_result_means_none():
    client = CloudflareClient("token")
    canned(client, body=json.dumps({"success": True, "errors": [], "messages": [], "result": None}))

    assert client.get_zone_subscription("z1") is None


def test_a_missing_zone_is_an_error_not_an_empty_subscription(cloudflare):
    error = _refused(cloudflare.get_zone_subscription, "0" * 32)

    assert (error.status, error.code) == (404, "1004")


def test_delete_reads_the_subscription_id_and_sends_an_empty_json_body():
    client = CloudflareClient("token")
    transport = canned(
        client,
        body=json.dumps({"success": True, "errors": [], "messages": [], "result": {"subscription_id": "s9"}}),
    )

    assert client.delete_account_subscription("a1", "s9") == "s9"
    assert (transport.sent[0].method, transport.sent[0].body) == ("DELETE", b"{}")
