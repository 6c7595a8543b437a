"""Faults at Cloudflare during zone creation, upgrade, change, add-on purchase and cancel: each ends in a
correct state without a second object at the vendor; 429 and 5xx are retried with backoff and Retry-After."""

import pytest

from core.errors import RuleViolation
from core.models import Operation
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.models import AddonState, CloudflareAddon, ZoneState
from tests.conftest import system_actor
from tests.sandbox_helpers import (
    inject_fault,
    sandbox_account_subscriptions,
    sandbox_zone_subscriptions,
    sandbox_zones,
)

pytestmark = pytest.mark.django_db

ZONES = r"^/zones$"
ZONE_SUBSCRIPTION = r"^/zones/[^/]+/subscription$"
ADDONS = r"^/accounts/[^/]+/subscriptions$"
ADDON = r"^/accounts/[^/]+/subscriptions/[^/]+$"


def _operation(kind):
    return Operation.objects.get(kind=kind)


def test_zone_create_whose_answer_was_lost_finds_the_zone_exactly_once(
    cloudflare_account, catalog, customer, run_tasks, sweep_later
):
    inject_fault("cloudflare", "timeout_after", path=ZONES)
    zone = run_tasks(cloudflare.add_zone, system_actor(), customer, name="lost.example")
    zone.refresh_from_db()
    assert zone.state == ZoneState.PENDING and sandbox_zones(name="lost.example").count() == 1
    sweep_later(4000)
    zone.refresh_from_db()
    assert zone.state == ZoneState.ACTIVE and zone.vendor_id == sandbox_zones(name="lost.example").get().pk
    assert sandbox_zones(name="lost.example").count() == 1


def test_upgrade_whose_answer_was_lost_ends_upgraded_without_a_second_subscription(
    zone, run_cloudflare, sweep_later
):
    inject_fault("cloudflare", "timeout_after", method="POST", path=ZONE_SUBSCRIPTION)
    zone = run_cloudflare(cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_BIZ")
    assert zone.rate_plan_id == "PARTNERS_FREE"  # not confirmed yet
    assert sandbox_zone_subscriptions().count() == 1  # but Cloudflare did it
    sweep_later(4000)
    zone.refresh_from_db()
    assert zone.rate_plan_id == "PARTNERS_BIZ" and zone.vendor_state == "Paid"
    assert sandbox_zone_subscriptions().count() == 1
    operation = _operation("cloudflare.change_zone_plan")
    assert operation.state == "succeeded" and operation.result["adopted"] is True


def test_upgrade_that_never_reached_cloudflare_is_sent_again(zone, run_cloudflare, sweep_later):
    inject_fault("cloudflare", "timeout_before", method="POST", path=ZONE_SUBSCRIPTION)
    run_cloudflare(cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_PRO")
    assert not sandbox_zone_subscriptions().exists()
    sweep_later(4000)
    zone.refresh_from_db()
    assert zone.rate_plan_id == "PARTNERS_PRO" and sandbox_zone_subscriptions().count() == 1


def test_change_whose_answer_was_dropped_ends_changed(paid_zone, run_cloudflare, sweep_later):
    inject_fault("cloudflare", "drop_after", method="PUT", path=ZONE_SUBSCRIPTION)
    zone = run_cloudflare(cloudflare.change_zone_components, paid_zone, component_values={"page_rules": 80})
    assert zone.component_values["page_rules"] == 60
    sweep_later(4000)
    zone.refresh_from_db()
    assert zone.component_values["page_rules"] == 80 and sandbox_zone_subscriptions().count() == 1


def test_change_refused_after_every_retry_leaves_the_record_as_it_was_and_says_why(
    paid_zone, run_cloudflare, sweep_later, settings
):
    settings.TASK_MAX_ATTEMPTS = 2
    before = (paid_zone.rate_plan_id, paid_zone.component_values, paid_zone.price, paid_zone.vendor_state)
    inject_fault("cloudflare", "http_503", method="PUT", path=ZONE_SUBSCRIPTION, times=2)
    run_cloudflare(cloudflare.downgrade_zone_plan, paid_zone, rate_plan_id="PARTNERS_PRO")
    sweep_later(4000)
    zone = paid_zone
    zone.refresh_from_db()
    assert (zone.rate_plan_id, zone.component_values, zone.price, zone.vendor_state) == before
    assert zone.refusal_code and "the downgrade to PARTNERS_PRO after 2 attempts" in zone.refusal_message
    assert sandbox_zone_subscriptions().get().rate_plan_id == "PARTNERS_BIZ"


def test_rate_limit_retry_after_delays_the_retry_of_an_upgrade(zone, run_cloudflare, settings, sweep_later):
    settings.TASK_BACKOFF_BASE_SECONDS = 5
    inject_fault("cloudflare", "rate_limit", method="POST", path=ZONE_SUBSCRIPTION, retry_after=90)
    run_cloudflare(cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_PRO")
    operation = _operation("cloudflare.change_zone_plan")
    assert operation.state == "pending" and operation.attempts == 1
    assert (operation.next_attempt_at - operation.last_error_at).total_seconds() == pytest.approx(90, abs=1)
    sweep_later(60)  # the backoff alone (5 s) would have retried by now; Retry-After says wait
    operation.refresh_from_db()
    assert operation.attempts == 1
    sweep_later(31)
    zone.refresh_from_db()
    assert zone.rate_plan_id == "PARTNERS_PRO" and _operation("cloudflare.change_zone_plan").attempts == 2


def test_server_errors_are_retried_with_growing_backoff(zone, run_cloudflare, sweep_later):
    inject_fault("cloudflare", "http_500", method="POST", path=ZONE_SUBSCRIPTION, times=2)
    run_cloudflare(cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_PRO")
    delays = []
    for _ in range(2):
        operation = _operation("cloudflare.change_zone_plan")
        delays.append((operation.next_attempt_at - operation.last_error_at).total_seconds())
        sweep_later(4000)
    zone.refresh_from_db()
    assert delays[1] == pytest.approx(delays[0] * 2, abs=1)
    assert zone.rate_plan_id == "PARTNERS_PRO" and sandbox_zone_subscriptions().count() == 1


def test_add_on_create_whose_answer_was_lost_adopts_it_exactly_once(
    customer, cloudflare_account, catalog, run_cloudflare, sweep_later
):
    inject_fault("cloudflare", "timeout_after", method="POST", path=ADDONS)
    addon = run_cloudflare(cloudflare.add_addon, customer, rate_plan_id="TEAMS_STANDARD")
    assert addon.state == AddonState.PENDING and sandbox_account_subscriptions().count() == 1
    sweep_later(4000)
    addon.refresh_from_db()
    assert addon.state == AddonState.ACTIVE and sandbox_account_subscriptions().count() == 1
    assert addon.vendor_id == sandbox_account_subscriptions().get().pk


def test_add_on_create_lost_then_synced_is_linked_not_bought_twice(
    customer, cloudflare_account, catalog, run_cloudflare, sweep_later
):
    inject_fault("cloudflare", "drop_after", method="POST", path=ADDONS)
    addon = run_cloudflare(cloudflare.add_addon, customer, rate_plan_id="TEAMS_STANDARD")
    run_cloudflare(cloudflare.sync_addons, cloudflare_account)  # before the create is retried
    addon.refresh_from_db()
    assert addon.state == AddonState.ACTIVE and CloudflareAddon.objects.count() == 1
    sweep_later(4000)
    addon.refresh_from_db()
    assert addon.state == AddonState.ACTIVE and sandbox_account_subscriptions().count() == 1
    assert _operation("cloudflare.create_addon").state == "succeeded"


def test_add_on_create_failed_for_good_is_retried_from_the_admin_without_a_duplicate(
    customer, cloudflare_account, catalog, run_cloudflare, run_tasks, sweep_later, settings
):
    settings.TASK_MAX_ATTEMPTS = 2
    inject_fault("cloudflare", "http_503", method="POST", path=ADDONS, times=2)
    addon = run_cloudflare(cloudflare.add_addon, customer, rate_plan_id="PARTNERS_LOAD_BALANCING")
    sweep_later(4000)
    addon.refresh_from_db()
    assert addon.state == AddonState.FAILED and addon.refusal_message
    run_tasks(cloudflare.retry_failed_operation, system_actor(), addon)
    addon.refresh_from_db()
    assert addon.state == AddonState.ACTIVE and addon.refusal_message == ""
    assert sandbox_account_subscriptions().count() == 1


def test_cancel_whose_answer_was_lost_ends_cancelled(addon, run_cloudflare, sweep_later):
    inject_fault("cloudflare", "drop_after", method="DELETE", path=ADDON)
    addon = run_cloudflare(cloudflare.cancel_addon, addon)
    assert addon.state == AddonState.CANCEL_PENDING
    assert sandbox_account_subscriptions(pk=addon.vendor_id).get().cancelled_at is not None
    sweep_later(4000)
    addon.refresh_from_db()
    assert addon.state == AddonState.CANCELLED
    assert sandbox_account_subscriptions().count() == 1


def test_cancel_refused_for_good_puts_the_add_on_back_and_says_why(
    addon, run_cloudflare, sweep_later, settings
):
    settings.TASK_MAX_ATTEMPTS = 1
    inject_fault("cloudflare", "http_500", method="DELETE", path=ADDON)
    addon = run_cloudflare(cloudflare.cancel_addon, addon)
    assert addon.state == AddonState.ACTIVE and "the cancellation" in addon.refusal_message
    assert sandbox_account_subscriptions(pk=addon.vendor_id).get().cancelled_at is None


def test_a_failed_change_superseded_by_a_later_one_is_not_retried(zone, run_cloudflare, settings):
    settings.TASK_MAX_ATTEMPTS = 1
    inject_fault("cloudflare", "http_500", method="POST", path=ZONE_SUBSCRIPTION)
    zone = run_cloudflare(cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_BIZ")
    run_cloudflare(cloudflare.sync_zone, zone)  # a sync in between does not supersede it
    assert cloudflare.failed_operation_of(system_actor(), zone).params["rate_plan_id"] == "PARTNERS_BIZ"
    zone = run_cloudflare(cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_PRO")
    with pytest.raises(RuleViolation) as refused:
        cloudflare.retry_failed_operation(system_actor(), zone)
    assert refused.value.code == "not_retryable" and "Change zone plan came after" in refused.value.message
    zone.refresh_from_db()
    assert zone.rate_plan_id == "PARTNERS_PRO"
