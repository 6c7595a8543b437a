"""Cloudflare rules from domain.md and issue 4, through the services and the sandbox."""

from decimal import Decimal

import pytest

from core.actor import Actor, Face
from core.errors import NotFound, PermissionDenied, RuleViolation, ValidationFailed
from core.models import AuditEvent, Operation
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.models import AddonState, CloudflareAddon, CloudflareZone, ZoneState
from subscriptions.cloudflare.rules import (
    Catalog,
    ComponentTerms,
    Current,
    PlanTerms,
    addon_purchase,
    zone_change,
)
from tests.conftest import system_actor
from tests.factories import CustomerFactory, MembershipFactory, PartnerFactory
from tests.sandbox_helpers import (
    sandbox_account_subscriptions,
    sandbox_zone_subscriptions,
    sandbox_zones,
    set_cloudflare_entitlements,
    vendor_request_count,
)
from tests.subscriptions.conftest import NOT_BILLED_REASON
from vendors.cloudflare import CloudflareClient

pytestmark = pytest.mark.django_db


def _snapshot():
    """Everything a refusal must leave as it was, including the sandbox's request log."""
    return (
        list(CloudflareZone.objects.order_by("pk").values()),
        list(CloudflareAddon.objects.order_by("pk").values()),
        AuditEvent.objects.count(),
        Operation.objects.count(),
        vendor_request_count(),
    )


def _refused(error_class, call, *args, **kwargs):
    before = _snapshot()
    with pytest.raises(error_class) as refused:
        call(*args, **kwargs)
    assert _snapshot() == before, "a refusal changed something or called the vendor"
    return refused.value


def _upgrade_refused(zone, error_class, **request):
    return _refused(error_class, cloudflare.upgrade_zone_plan, system_actor(), zone, **request)


def _change_refused(zone, error_class, **request):
    return _refused(error_class, cloudflare.change_zone_components, system_actor(), zone, **request)


def _client(partner):
    return CloudflareClient(partner.cloudflare_api_token.reveal())


# --- Pure rules: catalog, direction and price -----------------------------------------------------

BIZ = PlanTerms(
    "PARTNERS_BIZ",
    "Business",
    "zone",
    Decimal(200),
    "USD",
    ("monthly", "yearly"),
    (ComponentTerms("page_rules", 50, 100, Decimal(5)),),
)
PRO = PlanTerms("PARTNERS_PRO", "Pro", "zone", Decimal(20), "USD", ("monthly", "yearly"))
FREE = PlanTerms("PARTNERS_FREE", "Free", "zone", Decimal(0), "USD", ("monthly",))
SEATS = PlanTerms(
    "TEAMS_STANDARD",
    "Zero Trust",
    "account",
    Decimal(350),
    "USD",
    ("monthly",),
    (ComponentTerms("users", 50, 500, Decimal(7)),),
)
CATALOG = Catalog("Reseller", {p.rate_plan_id: p for p in (BIZ, PRO, FREE, SEATS)})
ON_FREE = Current("PARTNERS_FREE", "", {}, subscribed=False)


def test_price_is_the_plan_plus_units_above_the_default_per_period():
    assert BIZ.price("monthly", {"page_rules": 60}).amount == Decimal("250.00")
    assert BIZ.price("yearly", {"page_rules": 60}).amount == Decimal("3000.00")
    assert BIZ.price("monthly", {"page_rules": 10}).amount == Decimal("200.00")  # no credit below
    assert BIZ.price("weekly", {}).amount == Decimal("46.15")  # 200 x 12 / 52


def test_preview_shows_current_and_new_price_per_period_and_the_monthly_difference():
    planned = zone_change(
        CATALOG, ON_FREE, "upgrade", rate_plan_id="PARTNERS_BIZ", component_values={"page_rules": 60}
    )
    assert (str(planned.current), str(planned.new)) == ("0.00 USD monthly", "250.00 USD monthly")
    assert planned.monthly_difference == Decimal("250.00")
    on_biz = Current("PARTNERS_BIZ", "yearly", {"page_rules": 60}, subscribed=True)
    down = zone_change(CATALOG, on_biz, "downgrade", rate_plan_id="PARTNERS_PRO")
    assert (str(down.current), str(down.new)) == ("3000.00 USD yearly", "240.00 USD yearly")
    assert down.monthly_difference == Decimal("-230.00")


def test_frequency_defaults_to_monthly_and_a_change_keeps_the_current_one():
    assert zone_change(CATALOG, ON_FREE, "upgrade", rate_plan_id="PARTNERS_PRO").frequency == "monthly"
    on_biz = Current("PARTNERS_BIZ", "yearly", {"page_rules": 60}, subscribed=True)
    change = zone_change(CATALOG, on_biz, "change", component_values={"page_rules": 70})
    assert (change.frequency, change.component_values) == ("yearly", {"page_rules": 70})


def test_a_new_plan_starts_from_its_defaults_and_the_same_plan_keeps_its_units():
    on_biz = Current("PARTNERS_BIZ", "monthly", {"page_rules": 60}, subscribed=True)
    assert zone_change(CATALOG, on_biz, "downgrade", rate_plan_id="PARTNERS_PRO").component_values == {}
    frequency_only = zone_change(CATALOG, on_biz, "change", frequency="yearly")
    assert frequency_only.component_values == {"page_rules": 60}


def test_add_on_components_left_out_are_not_sent_and_priced_at_their_defaults():
    planned = addon_purchase(CATALOG, rate_plan_id="TEAMS_STANDARD")
    assert planned.component_values is None and planned.new.amount == Decimal("350.00")
    assert planned.current is None


# --- Zones ----------------------------------------------------------------------------------------


def test_a_new_zone_starts_on_partners_free_without_a_subscription(zone):
    assert zone.state == ZoneState.ACTIVE and zone.vendor_id and zone.zone_status == "active"
    assert (zone.rate_plan_id, zone.subscription_id, zone.price, zone.vendor_state) == (
        "PARTNERS_FREE",
        "",
        None,
        "",
    )
    at_vendor = sandbox_zones(pk=zone.vendor_id).get()
    assert at_vendor.account_id == zone.subaccount.vendor_id and at_vendor.plan_id == "PARTNERS_FREE"
    assert not sandbox_zone_subscriptions().exists()
    assert AuditEvent.objects.filter(action="cloudflare.zone_created", object_id=str(zone.pk)).exists()


def test_add_zone_is_refused_without_an_active_cloudflare_account(sandbox, customer, catalog):
    error = _refused(RuleViolation, cloudflare.add_zone, system_actor(), customer, name="example.com")
    assert error.code == "subaccount_not_active"


@pytest.mark.parametrize("name", ["", "not a domain", "*.example.com", "exa_mple.com"])
def test_invalid_zone_names_are_refused_with_a_field_error(cloudflare_account, customer, name):
    error = _refused(ValidationFailed, cloudflare.add_zone, system_actor(), customer, name=name)
    assert "name" in error.fields


def test_the_same_zone_twice_is_refused(zone, customer):
    error = _refused(RuleViolation, cloudflare.add_zone, system_actor(), customer, name="Example.COM.")
    assert error.code == "zone_exists"


def test_zone_already_in_the_customers_account_is_adopted(cloudflare_account, customer, add_zone, partner):
    _client(partner).create_zone(name="legacy.example", account_id=cloudflare_account.vendor_id)
    zone = add_zone("legacy.example")
    assert zone.state == ZoneState.ACTIVE and sandbox_zones(name="legacy.example").count() == 1
    assert AuditEvent.objects.filter(action="cloudflare.zone_created", note__startswith="adopted").exists()


# --- Zone subscription: upgrade, change, downgrade, sync -----------------------------------------


def test_upgrade_from_partners_free_creates_the_zone_subscription_with_its_components(zone, run_cloudflare):
    preview = cloudflare.preview_zone_change(
        system_actor(), zone, "upgrade", rate_plan_id="PARTNERS_BIZ", component_values={"page_rules": 60}
    )
    zone = run_cloudflare(
        cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_BIZ", component_values={"page_rules": 60}
    )
    assert (zone.rate_plan_id, zone.frequency, zone.vendor_state) == ("PARTNERS_BIZ", "monthly", "Paid")
    assert zone.component_values == {"page_rules": 60, "dedicated_certificates": 0}
    assert (zone.price, zone.currency) == (preview.new.amount, "USD") == (Decimal("250.00"), "USD")
    assert zone.current_period_start < zone.current_period_end and zone.subscription_id
    at_vendor = sandbox_zone_subscriptions().get()
    assert (at_vendor.id, at_vendor.rate_plan_id) == (zone.subscription_id, "PARTNERS_BIZ")
    assert sandbox_zones(pk=zone.vendor_id).get().plan_id == "PARTNERS_BIZ"


def test_requested_change_is_applied_only_when_cloudflare_confirms(zone):
    cloudflare.upgrade_zone_plan(  # queued, not run
        system_actor(), zone, rate_plan_id="PARTNERS_PRO", not_billed_reason=NOT_BILLED_REASON
    )
    zone.refresh_from_db()
    assert (zone.rate_plan_id, zone.subscription_id, zone.price) == ("PARTNERS_FREE", "", None)
    operation = Operation.objects.get(kind="cloudflare.change_zone_plan")
    assert operation.params["rate_plan_id"] == "PARTNERS_PRO" and operation.params["method"] == "POST"
    assert cloudflare.pending_change(operation)["preview"]["new"] == {
        "amount": "20.00",
        "currency": "USD",
        "frequency": "monthly",
    }


def test_a_second_change_waits_for_the_one_in_flight(zone):
    cloudflare.upgrade_zone_plan(
        system_actor(), zone, rate_plan_id="PARTNERS_PRO", not_billed_reason=NOT_BILLED_REASON
    )
    error = _upgrade_refused(
        zone, RuleViolation, rate_plan_id="PARTNERS_BIZ", not_billed_reason=NOT_BILLED_REASON
    )
    assert error.code == "operation_in_progress"


def test_change_components_puts_the_whole_set_and_keeps_the_plan(paid_zone, run_cloudflare):
    zone = run_cloudflare(
        cloudflare.change_zone_components, paid_zone, component_values={"dedicated_certificates": 2}
    )
    assert zone.rate_plan_id == "PARTNERS_BIZ"
    assert zone.component_values == {"page_rules": 60, "dedicated_certificates": 2}  # page rules kept
    assert zone.price == Decimal("270.00")
    assert sandbox_zone_subscriptions().count() == 1


def test_frequency_change_starts_a_new_period_at_the_new_price(paid_zone, run_cloudflare):
    zone = run_cloudflare(cloudflare.change_zone_components, paid_zone, frequency="yearly")
    assert (zone.frequency, zone.price) == ("yearly", Decimal("3000.00"))
    assert (zone.current_period_end - zone.current_period_start).days >= 365


def test_downgrade_to_partners_free_keeps_the_subscription_provisioned_at_no_cost(paid_zone, run_cloudflare):
    zone = run_cloudflare(cloudflare.downgrade_zone_plan, paid_zone)
    assert (zone.rate_plan_id, zone.vendor_state, zone.price) == (
        "PARTNERS_FREE",
        "Provisioned",
        Decimal("0.00"),
    )
    assert sandbox_zone_subscriptions().count() == 1
    assert AuditEvent.objects.filter(action="cloudflare.zone_downgraded").exists()
    # Back on the free plan, an upgrade changes the existing subscription rather than adding one.
    zone = run_cloudflare(cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_PRO")
    assert zone.rate_plan_id == "PARTNERS_PRO" and sandbox_zone_subscriptions().count() == 1


def test_sync_takes_cloudflares_view_and_audits_the_difference(paid_zone, run_cloudflare, partner):
    _client(partner).update_zone_subscription(
        paid_zone.vendor_id, rate_plan_id="PARTNERS_PRO", frequency="monthly"
    )
    zone = run_cloudflare(cloudflare.sync_zone, paid_zone)
    assert (zone.rate_plan_id, zone.price) == ("PARTNERS_PRO", Decimal("20.00"))
    synced = AuditEvent.objects.get(action="cloudflare.zone_synced")
    assert synced.changes["rate_plan_id"] == ["PARTNERS_BIZ", "PARTNERS_PRO"]
    run_cloudflare(cloudflare.sync_zone, zone)
    assert AuditEvent.objects.filter(action="cloudflare.zone_synced").count() == 1  # nothing new


# --- Refusals before any vendor call ----------------------------------------------------------------


def test_plan_outside_the_catalog_is_refused_naming_the_allowed_plans(zone):
    error = _upgrade_refused(
        zone,
        RuleViolation,
        rate_plan_id="PARTNERS_WORKERS_BASIC",
    )
    assert error.code == "plan_not_in_catalog" and "rate_plan_id" in error.fields
    assert "PARTNERS_PRO, PARTNERS_BIZ, PARTNERS_ENT" in error.message


def test_inactive_catalog_plan_is_not_sold(zone, catalog):
    catalog[2].active = False  # PARTNERS_BIZ
    catalog[2].save()
    error = _upgrade_refused(zone, RuleViolation, rate_plan_id="PARTNERS_BIZ")
    assert error.code == "plan_not_in_catalog" and "PARTNERS_BIZ" not in error.fields["rate_plan_id"][0]


def test_an_add_on_is_not_a_zone_plan_and_a_zone_plan_is_not_an_add_on(zone, customer):
    error = _upgrade_refused(zone, RuleViolation, rate_plan_id="TEAMS_STANDARD")
    assert error.code == "plan_not_in_catalog"
    error = _refused(
        RuleViolation, cloudflare.add_addon, system_actor(), customer, rate_plan_id="PARTNERS_BIZ"
    )
    assert error.code == "plan_not_in_catalog" and "PARTNERS_LOAD_BALANCING, TEAMS_STANDARD" in error.message


def test_a_partner_without_a_catalog_is_told_so(zone, catalog):
    for plan in catalog:
        plan.components.all().delete()
        plan.delete()
    error = _upgrade_refused(zone, RuleViolation, rate_plan_id="PARTNERS_PRO")
    assert error.code == "plan_not_in_catalog" and "no zone plans yet" in error.message


def test_component_outside_the_plan_is_refused_naming_the_allowed_components(zone):
    error = _upgrade_refused(
        zone,
        RuleViolation,
        rate_plan_id="PARTNERS_BIZ",
        component_values={"seats": 3},
    )
    assert error.code == "component_not_allowed"
    assert "page_rules (default 50, at most 100)" in error.message and "seats" in error.message


def test_component_above_its_maximum_is_refused_naming_the_limits(zone):
    error = _upgrade_refused(
        zone,
        RuleViolation,
        rate_plan_id="PARTNERS_BIZ",
        component_values={"page_rules": 150},
    )
    assert error.code == "component_above_maximum" and "at most 100" in error.message
    assert "component_values" in error.fields


@pytest.mark.parametrize("value", [-1, 2.5, "10", True])
def test_component_values_are_whole_units(zone, value):
    error = _upgrade_refused(
        zone,
        ValidationFailed,
        rate_plan_id="PARTNERS_BIZ",
        component_values={"page_rules": value},
    )
    assert error.code == "invalid_component_value"


def test_frequency_the_plan_is_not_sold_with_is_a_field_error(zone):
    error = _upgrade_refused(
        zone,
        ValidationFailed,
        rate_plan_id="PARTNERS_PRO",
        frequency="quarterly",
    )
    assert error.code == "frequency_not_allowed" and error.fields == {
        "frequency": ["One of: monthly, yearly."]
    }


def test_annual_is_not_a_cloudflare_frequency(zone):
    error = _upgrade_refused(
        zone,
        ValidationFailed,
        rate_plan_id="PARTNERS_PRO",
        frequency="annual",
    )
    assert error.code == "invalid_frequency" and "yearly" in error.message


def test_upgrade_to_a_cheaper_plan_is_refused_and_downgrade_offered(paid_zone):
    error = _upgrade_refused(paid_zone, RuleViolation, rate_plan_id="PARTNERS_PRO")
    assert error.code == "not_an_upgrade" and "downgrade instead" in error.message


def test_upgrade_to_the_plan_it_has_is_refused(paid_zone):
    error = _upgrade_refused(paid_zone, RuleViolation, rate_plan_id="PARTNERS_BIZ")
    assert error.code == "not_an_upgrade" and "change its components" in error.message


def test_downgrade_to_a_dearer_plan_is_refused(paid_zone, zone):
    error = _refused(
        RuleViolation, cloudflare.downgrade_zone_plan, system_actor(), paid_zone, rate_plan_id="PARTNERS_ENT"
    )
    assert error.code == "not_a_downgrade"


def test_a_free_zone_has_nothing_to_downgrade(zone):
    error = _refused(RuleViolation, cloudflare.downgrade_zone_plan, system_actor(), zone)
    assert error.code == "not_a_downgrade"


def test_change_with_nothing_different_is_refused(paid_zone):
    error = _change_refused(
        paid_zone,
        RuleViolation,
        component_values={"page_rules": 60},
        frequency="monthly",
    )
    assert error.code == "nothing_to_change" and "page_rules 60" in error.message


def test_components_of_a_free_zone_without_subscription_are_refused(zone):
    error = _change_refused(
        zone,
        RuleViolation,
        component_values={"page_rules": 3},
    )
    assert error.code == "no_subscription" and "upgrade it first" in error.message


def test_a_zone_not_yet_at_cloudflare_cannot_change_plan(cloudflare_account, customer, catalog):
    zone = cloudflare.add_zone(system_actor(), customer, name="later.example")  # queued, not run
    error = _upgrade_refused(zone, RuleViolation, rate_plan_id="PARTNERS_PRO")
    assert error.code == "zone_not_active"


def test_preview_checks_the_same_rules_as_the_change(zone):
    error = _refused(
        RuleViolation,
        cloudflare.preview_zone_change,
        system_actor(),
        zone,
        "upgrade",
        rate_plan_id="PARTNERS_WORKERS_BASIC",
    )
    assert error.code == "plan_not_in_catalog"


# --- Cloudflare's entitlement (the zone's available rate plans; error 1225 for add-ons) ----------


def test_plan_outside_the_partners_entitlement_is_refused_once_and_says_why_on_the_zone(zone, run_cloudflare):
    zone = run_cloudflare(cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_ENT")
    operation = Operation.objects.get(kind="cloudflare.change_zone_plan")
    assert operation.state == "failed" and operation.attempts == 1  # a refusal is not retried
    assert (zone.rate_plan_id, zone.subscription_id, zone.price) == ("PARTNERS_FREE", "", None)
    # Not in the zone's available rate plans: refused before the change is sent.
    assert zone.refusal_code == "rate_plan_not_available"
    assert (
        "PARTNERS_ENT is not among" in zone.refusal_message
        and "Cloudflare entitlement" in zone.refusal_message
    )
    assert not sandbox_zone_subscriptions().exists()


def test_retry_after_the_entitlement_is_granted_applies_the_change(zone, run_cloudflare, run_tasks):
    zone = run_cloudflare(cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_ENT")
    set_cloudflare_entitlements(["PARTNERS_FREE", "PARTNERS_ENT", "PARTNERS_LOAD_BALANCING"])
    run_tasks(cloudflare.retry_failed_operation, system_actor(), zone)
    zone.refresh_from_db()
    assert zone.rate_plan_id == "PARTNERS_ENT" and zone.refusal_code == "" and zone.refusal_message == ""


def test_add_on_outside_the_entitlement_fails_and_says_why(
    customer, cloudflare_account, catalog, run_cloudflare
):
    set_cloudflare_entitlements(["PARTNERS_FREE", "PARTNERS_LOAD_BALANCING"])
    addon = run_cloudflare(cloudflare.add_addon, customer, rate_plan_id="TEAMS_STANDARD")
    assert addon.state == AddonState.FAILED and addon.refusal_code == "1225"
    assert "TEAMS_STANDARD is not in" in addon.refusal_message
    assert not sandbox_account_subscriptions().exists()


# --- Account add-ons ----------------------------------------------------------------------------


def test_add_on_components_left_out_take_the_add_ons_defaults(addon):
    assert addon.state == AddonState.ACTIVE and addon.vendor_id
    assert (addon.rate_plan_id, addon.frequency, addon.vendor_state) == (
        "PARTNERS_LOAD_BALANCING",
        "monthly",
        "Paid",
    )
    assert addon.component_values == {"endpoints": 2} and addon.price == Decimal("5.00")
    assert sandbox_account_subscriptions(pk=addon.vendor_id).get().component_values == {"endpoints": 2}


def test_add_on_with_components_and_frequency(customer, cloudflare_account, catalog, run_cloudflare):
    preview = cloudflare.preview_addon_purchase(
        system_actor(),
        customer,
        rate_plan_id="TEAMS_STANDARD",
        frequency="yearly",
        component_values={"users": 60},
    )
    addon = run_cloudflare(
        cloudflare.add_addon,
        customer,
        rate_plan_id="TEAMS_STANDARD",
        frequency="yearly",
        component_values={"users": 60},
    )
    assert addon.component_values == {"users": 60} and addon.frequency == "yearly"
    assert addon.price == preview.new.amount == Decimal("5040.00")


def test_add_on_outside_the_catalog_is_refused(customer, cloudflare_account, catalog):
    error = _refused(
        RuleViolation, cloudflare.add_addon, system_actor(), customer, rate_plan_id="PARTNERS_WORKERS_BASIC"
    )
    assert error.code == "plan_not_in_catalog"


def test_add_on_component_above_its_maximum_is_refused(customer, cloudflare_account, catalog):
    error = _refused(
        RuleViolation,
        cloudflare.add_addon,
        system_actor(),
        customer,
        rate_plan_id="TEAMS_STANDARD",
        component_values={"users": 501},
    )
    assert error.code == "component_above_maximum"


def test_a_second_live_add_on_of_the_same_plan_is_refused(addon, customer):
    error = _refused(
        RuleViolation, cloudflare.add_addon, system_actor(), customer, rate_plan_id="PARTNERS_LOAD_BALANCING"
    )
    assert error.code == "addon_exists"


def test_change_add_on_puts_new_components(addon, run_cloudflare):
    addon = run_cloudflare(cloudflare.change_addon, addon, component_values={"endpoints": 6})
    assert addon.component_values == {"endpoints": 6} and addon.price == Decimal("25.00")
    assert sandbox_account_subscriptions(pk=addon.vendor_id).get().component_values == {"endpoints": 6}


def test_change_add_on_with_nothing_different_is_refused(addon):
    error = _refused(
        RuleViolation, cloudflare.change_addon, system_actor(), addon, component_values={"endpoints": 2}
    )
    assert error.code == "nothing_to_change"


def test_cancel_add_on_ends_it_at_cloudflare(addon, run_cloudflare):
    preview = cloudflare.preview_addon_change(system_actor(), addon, "cancel")
    assert (str(preview.current), preview.new) == ("5.00 USD monthly", None)
    addon = run_cloudflare(cloudflare.cancel_addon, addon)
    assert (addon.state, addon.vendor_state) == (AddonState.CANCELLED, "Cancelled") and addon.cancelled_at
    assert sandbox_account_subscriptions(pk=addon.vendor_id).get().cancelled_at is not None


def test_a_cancelled_add_on_cannot_be_changed_or_cancelled_again(addon, run_cloudflare):
    addon = run_cloudflare(cloudflare.cancel_addon, addon)
    for call, kwargs in (
        (cloudflare.cancel_addon, {}),
        (cloudflare.change_addon, {"component_values": {"endpoints": 3}}),
    ):
        assert _refused(RuleViolation, call, system_actor(), addon, **kwargs).code == "addon_cancelled"


def test_a_cancelled_add_on_can_be_bought_again(addon, run_cloudflare, customer):
    run_cloudflare(cloudflare.cancel_addon, addon)
    again = run_cloudflare(cloudflare.add_addon, customer, rate_plan_id="PARTNERS_LOAD_BALANCING")
    assert again.state == AddonState.ACTIVE and again.vendor_id != addon.vendor_id


def test_sync_lists_the_accounts_add_ons_cancels_gone_ones_and_imports_unknown_ones(
    addon, run_cloudflare, cloudflare_account, partner
):
    client = _client(partner)
    client.delete_account_subscription(cloudflare_account.vendor_id, addon.vendor_id)
    bought_elsewhere = client.create_account_subscription(
        cloudflare_account.vendor_id, rate_plan_id="PARTNERS_WORKERS_BASIC"
    )
    run_cloudflare(cloudflare.sync_addons, cloudflare_account)
    addon.refresh_from_db()
    assert addon.state == AddonState.CANCELLED and addon.vendor_state == "Cancelled"
    imported = CloudflareAddon.objects.get(vendor_id=bought_elsewhere.id)
    assert (imported.state, imported.rate_plan_id, imported.price) == (
        "active",
        "PARTNERS_WORKERS_BASIC",
        Decimal("5.00"),
    )
    assert AuditEvent.objects.filter(action="cloudflare.addon_imported", object_id=str(imported.pk)).exists()
    run_cloudflare(cloudflare.sync_addons, cloudflare_account)
    assert CloudflareAddon.objects.count() == 2  # a second sync imports nothing again


# --- Who may ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "billing"])
def test_roles_without_the_cloudflare_right_cannot_change_plans(zone, role):
    user = MembershipFactory(partner=zone.partner, role=role).user
    _refused(
        PermissionDenied,
        cloudflare.upgrade_zone_plan,
        Actor(user, Face.API),
        zone,
        rate_plan_id="PARTNERS_PRO",
    )


def test_technicians_manage_cloudflare_and_viewers_may_preview(zone, run_cloudflare):
    viewer = MembershipFactory(partner=zone.partner, role="viewer").user
    assert cloudflare.preview_zone_change(
        Actor(viewer, Face.API), zone, "upgrade", rate_plan_id="PARTNERS_PRO"
    )
    technician = MembershipFactory(partner=zone.partner, role="technician").user
    zone = run_cloudflare(
        cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_PRO", actor=Actor(technician, Face.API)
    )
    assert zone.rate_plan_id == "PARTNERS_PRO"


def test_another_partners_member_finds_nothing(zone, addon):
    stranger = Actor(MembershipFactory(partner=PartnerFactory(), role="owner").user, Face.API)
    _refused(NotFound, cloudflare.preview_zone_change, stranger, zone, "upgrade", rate_plan_id="PARTNERS_PRO")
    _refused(NotFound, cloudflare.cancel_addon, stranger, addon)


def test_a_member_limited_to_other_customers_finds_nothing(zone):
    membership = MembershipFactory(partner=zone.partner, role="technician")
    membership.customers.set([CustomerFactory(partner=zone.partner)])
    _refused(NotFound, cloudflare.sync_zone, Actor(membership.user, Face.API), zone)


def test_staff_need_the_manage_cloudflare_permission(zone):
    from tests.factories import StaffFactory

    staff = StaffFactory(permissions=["view_cloudflarezone"])
    _refused(PermissionDenied, cloudflare.sync_zone, Actor(staff, Face.ADMIN), zone)


def test_scheduled_sync_reads_every_live_zone_and_account_with_add_ons_and_rolls_the_period(
    paid_zone, addon, zone, run_tasks
):
    from subscriptions.cloudflare.tasks import sync_cloudflare_task
    from tests.sandbox_helpers import advance_vendor_clock

    period_end = paid_zone.current_period_end
    advance_vendor_clock(days=40)
    assert run_tasks(sync_cloudflare_task) == 2  # the zone (upgraded in place) and the account
    paid_zone.refresh_from_db()
    assert paid_zone.current_period_start >= period_end and paid_zone.current_period_end > period_end
    assert Operation.objects.filter(kind="cloudflare.sync_addons", state="succeeded").exists()


def test_scheduled_sync_leaves_objects_with_an_operation_in_flight(paid_zone, run_tasks):
    from subscriptions.cloudflare.tasks import sync_cloudflare_task

    cloudflare.downgrade_zone_plan(system_actor(), paid_zone)  # queued, not run
    assert run_tasks(sync_cloudflare_task) == 0


def test_catalog_is_edited_by_staff_only_and_checked_like_the_admin_form(partner, staff):
    from subscriptions.cloudflare.models import CatalogComponent, CatalogPlan

    plan = CatalogPlan(
        partner=partner, rate_plan_id="PARTNERS_PRO", name="Pro", scope="zone", monthly_price=20
    )
    owner = MembershipFactory(partner=partner, role="owner").user
    with pytest.raises(PermissionDenied):
        cloudflare.save_catalog_plan(Actor(owner, Face.API), plan)
    bad = CatalogComponent(name="page_rules", default=20, maximum=5, unit_price=5)
    with pytest.raises(ValidationFailed) as refused:
        cloudflare.save_catalog_plan(Actor(staff, Face.ADMIN), plan, components=[bad])
    assert "maximum" in refused.value.fields
    assert not CatalogPlan.objects.exists() and not AuditEvent.objects.exists()
    plan.frequencies = ["annual"]
    with pytest.raises(ValidationFailed) as refused:
        cloudflare.save_catalog_plan(Actor(staff, Face.ADMIN), plan)
    assert "frequencies" in refused.value.fields
