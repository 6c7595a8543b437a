"""A zone's rate plan comes from its subscription only; the zone's own plan object is opaque and kept raw."""

import pytest

from core.models import Operation
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.models import FREE_ZONE_PLAN
from tests.conftest import system_actor
from tests.factories import CLOUDFLARE_TOKEN
from tests.sandbox_helpers import sandbox_zone_subscriptions, set_cloudflare_entitlements
from tests.subscriptions.conftest import upgraded_to_biz
from vendors.cloudflare import CloudflareClient
from vendors.sandbox.cloudflare_catalog import PLANS, ZONE_PLANS
from vendors.sandbox.models import RequestLogEntry

pytestmark = pytest.mark.django_db

FREE_ZONE_PLAN_ID = "0feeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
# What a refused change must leave as it was on our zone.
PLAN_FIELDS = (
    "rate_plan_id",
    "frequency",
    "component_values",
    "price",
    "currency",
    "vendor_state",
    "subscription_id",
    "zone_plan",
    "current_period_start",
    "current_period_end",
)


def _client() -> CloudflareClient:
    return CloudflareClient(CLOUDFLARE_TOKEN)


def _plan_fields(zone) -> dict:
    zone.refresh_from_db()
    return {name: getattr(zone, name) for name in PLAN_FIELDS}


def _subscription_writes() -> int:
    return RequestLogEntry.objects.filter(
        vendor="cloudflare", method__in=["POST", "PUT"], path__endswith="/subscription"
    ).count()


# --- Create, adopt, sync ------------------------------------------------------------------------


def test_a_new_zone_is_on_the_free_plan_and_keeps_its_opaque_plan_raw(zone):
    assert (zone.rate_plan_id, zone.subscription_id) == (FREE_ZONE_PLAN, "")
    assert zone.zone_plan["id"] == FREE_ZONE_PLAN_ID != FREE_ZONE_PLAN
    assert (zone.zone_plan["legacy_id"], zone.zone_plan["name"]) == ("free", "Free Website")


def test_a_zone_adopted_on_create_takes_the_rate_plan_of_its_subscription(
    customer, cloudflare_account, catalog, run_tasks
):
    client = _client()
    existing = client.create_zone(name="adopted.example", account_id=cloudflare_account.vendor_id)
    client.create_zone_subscription(existing.id, rate_plan_id="PARTNERS_BIZ")

    zone = run_tasks(cloudflare.add_zone, system_actor(), customer, name="adopted.example")
    zone.refresh_from_db()

    assert (zone.vendor_id, zone.state, zone.rate_plan_id) == (existing.id, "active", "PARTNERS_BIZ")
    assert zone.subscription_id and zone.vendor_state == "Paid"
    assert zone.zone_plan["legacy_id"] == "business"
    assert zone.zone_plan["id"] == ZONE_PLANS["PARTNERS_BIZ"].id not in PLANS


def test_sync_maps_the_zone_from_its_subscription_not_from_its_plan_id(paid_zone, run_cloudflare):
    _client().update_zone_subscription(paid_zone.vendor_id, rate_plan_id="PARTNERS_PRO", frequency="yearly")

    zone = run_cloudflare(cloudflare.sync_zone, paid_zone)

    assert (zone.rate_plan_id, zone.frequency) == ("PARTNERS_PRO", "yearly")
    assert (zone.zone_plan["id"], zone.zone_plan["legacy_id"]) == (ZONE_PLANS["PARTNERS_PRO"].id, "pro")


def test_a_zone_without_subscription_1207_syncs_to_the_free_plan(zone, run_cloudflare):
    # Ours says PRO (a stale record): Cloudflare answers 404 code 1207, so the zone is free.
    zone.rate_plan_id, zone.frequency, zone.zone_plan = "PARTNERS_PRO", "monthly", {}
    zone.save()
    assert _client().get_zone_subscription(zone.vendor_id) is None

    zone = run_cloudflare(cloudflare.sync_zone, zone)

    assert (zone.rate_plan_id, zone.frequency, zone.subscription_id) == (FREE_ZONE_PLAN, "", "")
    assert zone.zone_plan["id"] == FREE_ZONE_PLAN_ID


# --- Preview, upgrade, downgrade ----------------------------------------------------------------


def test_preview_of_an_upgrade_starts_from_the_free_plan_of_a_zone_with_an_opaque_plan(zone):
    planned = cloudflare.preview_zone_change(system_actor(), zone, "upgrade", rate_plan_id="PARTNERS_PRO")

    assert (planned.from_rate_plan_id, planned.rate_plan_id) == (FREE_ZONE_PLAN, "PARTNERS_PRO")
    assert planned.current is None or planned.current.amount == 0
    assert planned.new.amount == 20


def test_upgrade_takes_the_subscriptions_rate_plan_and_refreshes_the_zone_plan(zone, run_cloudflare):
    zone = run_cloudflare(cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_PRO")

    assert (zone.rate_plan_id, zone.vendor_state) == ("PARTNERS_PRO", "Paid")
    assert (zone.zone_plan["legacy_id"], zone.zone_plan["is_subscribed"]) == ("pro", True)


def test_downgrade_of_a_paid_zone_returns_it_to_the_free_plan(paid_zone, run_cloudflare):
    preview = cloudflare.preview_zone_change(system_actor(), paid_zone, "downgrade")
    assert (preview.from_rate_plan_id, preview.rate_plan_id) == ("PARTNERS_BIZ", FREE_ZONE_PLAN)

    zone = run_cloudflare(cloudflare.downgrade_zone_plan, paid_zone)

    assert (zone.rate_plan_id, zone.vendor_state) == (FREE_ZONE_PLAN, "Provisioned")
    assert (zone.zone_plan["id"], zone.zone_plan["legacy_id"]) == (FREE_ZONE_PLAN_ID, "free")


# --- Available rate plans -----------------------------------------------------------------------


def test_available_rate_plans_are_the_zone_plans_the_token_may_sell(zone):
    set_cloudflare_entitlements(["PARTNERS_FREE", "PARTNERS_BIZ", "PARTNERS_LOAD_BALANCING"])

    offered = _client().available_rate_plans(zone.vendor_id)

    assert [plan["id"] for plan in offered] == ["PARTNERS_FREE", "PARTNERS_BIZ"]
    assert {"id", "name", "currency", "frequency", "components"} <= set(offered[0])


def test_an_upgrade_to_a_plan_the_zone_cannot_take_is_refused_before_any_change(zone, run_cloudflare):
    set_cloudflare_entitlements(["PARTNERS_FREE", "PARTNERS_BIZ"])
    before, writes = _plan_fields(zone), _subscription_writes()

    zone = run_cloudflare(cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_PRO")

    operation = Operation.objects.get(kind="cloudflare.change_zone_plan")
    assert (operation.state, operation.attempts, operation.last_error_code) == (
        "failed",
        1,
        "rate_plan_not_available",
    )
    assert _plan_fields(zone) == before
    assert _subscription_writes() == writes and not sandbox_zone_subscriptions().exists()
    assert zone.refusal_code == "rate_plan_not_available"
    assert "PARTNERS_PRO is not among" in zone.refusal_message
    assert "PARTNERS_FREE, PARTNERS_BIZ" in zone.refusal_message


def test_a_downgrade_to_a_plan_the_zone_cannot_take_leaves_the_paid_plan(zone, run_cloudflare):
    paid = upgraded_to_biz(run_cloudflare, zone)
    set_cloudflare_entitlements(["PARTNERS_FREE", "PARTNERS_BIZ"])
    before, writes = _plan_fields(paid), _subscription_writes()

    paid = run_cloudflare(cloudflare.downgrade_zone_plan, paid, rate_plan_id="PARTNERS_PRO")

    assert _plan_fields(paid) == before and paid.rate_plan_id == "PARTNERS_BIZ"
    assert _subscription_writes() == writes
    assert sandbox_zone_subscriptions().get().rate_plan_id == "PARTNERS_BIZ"
    assert paid.refusal_code == "rate_plan_not_available"


def test_the_plan_becomes_available_and_the_retry_applies_it(zone, run_cloudflare, run_tasks):
    set_cloudflare_entitlements(["PARTNERS_FREE", "PARTNERS_BIZ"])
    zone = run_cloudflare(cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_PRO")
    set_cloudflare_entitlements(["PARTNERS_FREE", "PARTNERS_PRO", "PARTNERS_BIZ"])

    run_tasks(cloudflare.retry_failed_operation, system_actor(), zone)
    zone.refresh_from_db()

    assert (zone.rate_plan_id, zone.refusal_code, zone.zone_plan["legacy_id"]) == ("PARTNERS_PRO", "", "pro")


# --- Drift (the reconciliation read) ------------------------------------------------------------


def test_drift_compares_the_subscriptions_rate_plan_never_the_zones_plan_id(paid_zone):
    from reconciliation.reading import read_partner

    _client().update_zone_subscription(paid_zone.vendor_id, rate_plan_id="PARTNERS_PRO", frequency="monthly")

    service = next(s for s in read_partner(paid_zone.partner).services.values() if s.obj.pk == paid_zone.pk)

    assert (service.ours["rate_plan_id"], service.vendor["rate_plan_id"]) == ("PARTNERS_BIZ", "PARTNERS_PRO")
    assert "rate_plan_id" in service.differs


def test_a_free_zone_without_subscription_shows_no_drift(add_zone):
    from reconciliation.reading import read_partner

    zone = add_zone("free.example")

    service = next(s for s in read_partner(zone.partner).services.values() if s.obj.pk == zone.pk)

    assert service.vendor["rate_plan_id"] == FREE_ZONE_PLAN and service.differs == []
