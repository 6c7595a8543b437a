"""Cloudflare rules of subscriptions.cloudflare.rules, pinned where `make mutate` found changes no
test noticed: prices per frequency, catalog refusals as a partner reads them, the direction of a
zone change at equal prices, what a change sends, and when a billed change takes effect."""

from datetime import datetime
from decimal import Decimal

import pytest

from core.errors import RuleViolation, ValidationFailed
from subscriptions.cloudflare import rules
from subscriptions.signals import BillingTerms

PAGE_RULES = rules.ComponentTerms("page_rules", 50, 100, Decimal(5))
CERTS = rules.ComponentTerms("dedicated_certificates", 0, 5, Decimal(10))
BIZ = rules.PlanTerms(
    "PARTNERS_BIZ", "Business", "zone", Decimal(200), "USD", ("monthly", "yearly"), (PAGE_RULES, CERTS)
)
MID = rules.PlanTerms("PARTNERS_MID", "Mid", "zone", Decimal(220), "USD", ("monthly", "yearly"))
PRO = rules.PlanTerms("PARTNERS_PRO", "Pro", "zone", Decimal(20), "USD", ("monthly", "yearly"))
PRO_EU = rules.PlanTerms("PARTNERS_PRO_EU", "Pro (EU)", "zone", Decimal(20), "USD", ("monthly",))
FREE = rules.PlanTerms("PARTNERS_FREE", "Free", "zone", Decimal(0), "USD", ("monthly",))
RETIRED = rules.PlanTerms("PARTNERS_OLD", "Old", "zone", Decimal(50), "USD", ("monthly",), active=False)
USERS = rules.ComponentTerms("users", 50, 500, Decimal(7))
SEATS = rules.PlanTerms(
    "TEAMS_STANDARD",
    "Zero Trust",
    "account",
    Decimal(350),
    "EUR",
    ("weekly", "monthly", "quarterly", "yearly"),
    (USERS,),
)
LB = rules.PlanTerms(
    "PARTNERS_LOAD_BALANCING",
    "Load balancing",
    "account",
    Decimal(5),
    "USD",
    ("monthly", "yearly"),
    (rules.ComponentTerms("endpoints", 2, 10, Decimal(5)),),
)
CATALOG = rules.Catalog(
    "Reseller", {p.rate_plan_id: p for p in (BIZ, MID, PRO, PRO_EU, FREE, RETIRED, SEATS, LB)}
)
EMPTY = rules.Catalog("Newcomer")
ON_FREE = rules.Current("PARTNERS_FREE", "", {}, subscribed=False)


def _on(plan: str, frequency: str = "monthly", **values) -> rules.Current:
    return rules.Current(plan, frequency, values, subscribed=True)


def _refusal(error_class, call, *args, **kwargs):
    with pytest.raises(error_class) as refusal:
        call(*args, **kwargs)
    return refusal.value


def _price(amount, currency="USD", frequency="monthly") -> rules.Price:
    return rules.Price(Decimal(amount), currency, frequency)


# --- Prices -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "frequency,amount",
    [("weekly", "155.08"), ("monthly", "672.00"), ("quarterly", "2016.00"), ("yearly", "8064.00")],
)
def test_a_period_costs_the_monthly_price_times_the_months_it_is_worth(frequency, amount):
    """Money per period: weekly is 12/52 of a month, quarterly 3 months, yearly 12 (plus extra units)."""
    price = SEATS.price(frequency, {"users": 96})  # 350 + 46 x 7 = 672 a month
    assert (price.amount, price.currency, price.frequency) == (Decimal(amount), "EUR", frequency)


@pytest.mark.parametrize(
    "amount,frequency,per_month",
    [
        ("155.08", "weekly", "672.01"),
        ("672.00", "monthly", "672.00"),
        ("2016.00", "quarterly", "672.00"),
        ("8064", "yearly", "672.00"),
    ],
)
def test_the_monthly_equivalent_of_a_price_divides_by_the_months_of_its_period(amount, frequency, per_month):
    """Prices compare per month whatever their frequency (the preview's monthly difference)."""
    assert _price(amount, "EUR", frequency).per_month == Decimal(per_month)


def test_prices_are_rounded_half_up_to_the_cent():
    """Money is Decimal to the cent, a half cent rounded up."""
    assert _price("1.005").per_month == Decimal("1.01")
    half_cent = rules.PlanTerms("X", "X", "zone", Decimal("0.125"), "USD", ("monthly",))
    assert half_cent.price("monthly", {}).amount == Decimal("0.13")


def test_units_at_the_default_are_included_and_each_unit_above_costs_its_unit_price():
    """Component pricing: units included up to the default, the unit price for each one above, no credit below."""
    assert BIZ.price("monthly", {"page_rules": 50}).amount == Decimal("200.00")
    assert BIZ.price("monthly", {"page_rules": 51}).amount == Decimal("205.00")
    assert BIZ.price("monthly", {"page_rules": 51, "dedicated_certificates": 2}).amount == Decimal("225.00")
    assert BIZ.price("monthly", {"page_rules": 0}).amount == Decimal("200.00")
    assert PRO.price("monthly", {}).amount == Decimal("20.00")


def test_a_price_reads_as_amount_currency_and_frequency_and_survives_json():
    """The preview's price (amount, currency, frequency) is what the operation carries and shows."""
    price = _price("250.00", "EUR", "yearly")
    assert str(price) == "250.00 EUR yearly"
    assert price.as_dict() == {"amount": "250.00", "currency": "EUR", "frequency": "yearly"}
    assert rules.Price.from_dict(price.as_dict()) == price
    assert rules.Price.from_dict(None) is None and rules.Price.from_dict({}) is None


def test_every_component_of_a_plan_counts_with_the_units_given_or_its_default():
    """Components left out take the plan's defaults; only the plan's own components count."""
    assert BIZ.full_values({"page_rules": "60", "seats": 3}) == {
        "page_rules": 60,
        "dedicated_certificates": 0,
    }
    assert BIZ.component("page_rules") == PAGE_RULES and BIZ.component("seats") is None
    assert str(PAGE_RULES) == "page_rules (default 50, at most 100)"


# --- The catalog --------------------------------------------------------------------------------


def test_a_partner_sells_only_the_active_plans_of_the_scope_asked():
    """The catalog of allowed rate plans per partner: zone plans and add-ons apart, inactive ones not sold."""
    assert [p.rate_plan_id for p in CATALOG.sellable("zone")] == [
        "PARTNERS_BIZ",
        "PARTNERS_MID",
        "PARTNERS_PRO",
        "PARTNERS_PRO_EU",
        "PARTNERS_FREE",
    ]
    assert [p.rate_plan_id for p in CATALOG.sellable("account")] == [
        "TEAMS_STANDARD",
        "PARTNERS_LOAD_BALANCING",
    ]


def test_a_catalog_plan_of_the_scope_is_accepted_as_it_is():
    """The plan must be an active catalog plan of this scope."""
    assert rules.check_plan(CATALOG, "PARTNERS_PRO", "zone") is PRO
    assert rules.check_plan(CATALOG, "TEAMS_STANDARD", "account") is SEATS


@pytest.mark.parametrize("rate_plan_id", ["PARTNERS_ENT", "PARTNERS_OLD", "TEAMS_STANDARD"])
def test_a_plan_outside_the_active_zone_catalog_is_refused_listing_what_it_allows(rate_plan_id):
    """Plans outside the partner's catalog are refused as plan_not_in_catalog, naming the allowed ones."""
    refusal = _refusal(RuleViolation, rules.check_plan, CATALOG, rate_plan_id, "zone")
    allowed = "PARTNERS_BIZ, PARTNERS_MID, PARTNERS_PRO, PARTNERS_PRO_EU, PARTNERS_FREE"
    assert refusal.code == "plan_not_in_catalog"
    assert refusal.fields == {"rate_plan_id": [f"One of: {allowed}."]}
    assert refusal.message == (
        f"{rate_plan_id} is not in Reseller's Cloudflare catalog of zone plans; it allows: {allowed}."
    )


def test_a_partner_without_add_ons_is_told_support_adds_them():
    """A partner with no catalog plan of a scope is told so, and who adds them."""
    refusal = _refusal(RuleViolation, rules.check_plan, EMPTY, "", "account")
    assert refusal.fields == {"rate_plan_id": ["One of: none."]}
    assert refusal.message == (
        "That plan is not in Newcomer's Cloudflare catalog of account add-ons; "
        "it has no account add-ons yet (support staff add them in the admin)."
    )


def test_a_frequency_the_plan_is_sold_with_is_accepted():
    """A Cloudflare frequency that the catalog allows for this plan."""
    assert rules.check_frequency(SEATS, "quarterly") == "quarterly"


def test_a_word_that_is_not_a_cloudflare_frequency_is_refused_listing_cloudflares_and_the_plans():
    """Frequencies are Cloudflare's (weekly, monthly, quarterly, yearly): "annual" is refused on the field."""
    refusal = _refusal(ValidationFailed, rules.check_frequency, PRO, "annual")
    assert refusal.code == "invalid_frequency"
    assert refusal.fields == {"frequency": ["One of: monthly, yearly."]}
    assert (
        refusal.message
        == "'annual' is not a Cloudflare frequency; use one of weekly, monthly, quarterly, yearly."
    )


@pytest.mark.parametrize(
    "plan,frequency,sold",
    [(FREE, "yearly", "monthly"), (PRO, "weekly", "monthly or yearly")],
)
def test_a_frequency_the_plan_is_not_sold_with_is_refused_saying_how_it_is_sold(plan, frequency, sold):
    """The catalog's frequencies per plan: another one is frequency_not_allowed on the field."""
    refusal = _refusal(ValidationFailed, rules.check_frequency, plan, frequency)
    assert refusal.code == "frequency_not_allowed"
    assert refusal.message == f"{plan.rate_plan_id} is sold {sold} only, not {frequency}."
    assert refusal.fields == {"frequency": [f"One of: {', '.join(plan.frequencies)}."]}


def test_a_plan_sold_at_three_frequencies_lists_them_with_a_final_or():
    """The refusal names every frequency the plan is sold with."""
    plan = rules.PlanTerms("P", "P", "zone", Decimal(1), "USD", ("weekly", "monthly", "yearly"))
    refusal = _refusal(ValidationFailed, rules.check_frequency, plan, "quarterly")
    assert refusal.message == "P is sold weekly, monthly or yearly only, not quarterly."


def test_components_within_the_plans_limits_are_accepted_from_0_up_to_the_maximum():
    """Whole units from 0 up to each component's maximum."""
    values = {"page_rules": 100, "dedicated_certificates": 0}
    checked = rules.check_components(BIZ, values)
    assert checked == values and checked is not values
    assert rules.check_components(BIZ, None) == {}


def test_components_outside_the_plan_are_refused_by_name_with_the_plans_components():
    """Only the plan's catalog components: others are component_not_allowed, naming what it allows."""
    refusal = _refusal(RuleViolation, rules.check_components, BIZ, {"seats": 1, "apps": 2, "page_rules": 60})
    allowed = "page_rules (default 50, at most 100); dedicated_certificates (default 0, at most 5)"
    assert refusal.code == "component_not_allowed"
    assert refusal.message == f"PARTNERS_BIZ cannot be sold with apps, seats; its components are: {allowed}."
    assert refusal.fields == {"component_values": [f"Allowed: {allowed}."]}
    bare = _refusal(RuleViolation, rules.check_components, PRO, {"seats": 1})
    assert bare.fields == {"component_values": ["Allowed: none."]}


@pytest.mark.parametrize("value", [-1, 1.0, "3", True, None])
def test_component_values_are_whole_units_0_or_more(value):
    """Component values are whole units, 0 or more: invalid_component_value on component_values."""
    refusal = _refusal(ValidationFailed, rules.check_components, BIZ, {"page_rules": value})
    assert refusal.code == "invalid_component_value"
    assert refusal.fields == {"component_values": ["Whole units, 0 or more."]}
    assert refusal.message == "Component values are whole units, 0 or more (page_rules)."
    both = _refusal(
        ValidationFailed, rules.check_components, BIZ, {"page_rules": value, "dedicated_certificates": -2}
    )
    assert both.message == "Component values are whole units, 0 or more (dedicated_certificates, page_rules)."


def test_components_above_their_maximum_are_refused_naming_what_was_asked_and_the_limits():
    """A component above its maximum is component_above_maximum, naming the units asked."""
    refusal = _refusal(
        RuleViolation, rules.check_components, BIZ, {"page_rules": 101, "dedicated_certificates": 6}
    )
    allowed = "page_rules (default 50, at most 100); dedicated_certificates (default 0, at most 5)"
    assert refusal.code == "component_above_maximum"
    assert refusal.message == (
        f"dedicated_certificates 6, page_rules 101 is above what PARTNERS_BIZ allows; its components are: {allowed}."
    )
    assert refusal.fields == {"component_values": [f"Allowed: {allowed}."]}


# --- What the customer pays now -----------------------------------------------------------------


def test_a_zone_without_a_subscription_pays_nothing_in_the_plans_currency():
    """A customer's zone starts on PARTNERS_FREE, without a subscription: it costs nothing."""
    assert rules.current_price(CATALOG, ON_FREE, "EUR") == _price("0.00", "EUR", "monthly")


def test_a_subscription_pays_its_catalog_price_at_its_frequency():
    """What the customer pays now, from the catalog, at the frequency it has (monthly when unknown)."""
    assert rules.current_price(CATALOG, _on("PARTNERS_BIZ", "yearly", page_rules=60), "USD") == _price(
        "3000.00", "USD", "yearly"
    )
    assert rules.current_price(CATALOG, _on("PARTNERS_PRO", ""), "USD") == _price("20.00", "USD", "monthly")


def test_a_plan_outside_the_catalog_pays_cloudflares_own_price_or_nothing_known():
    """Cloudflare's own price for a plan outside the catalog; without one, nothing known to pay."""
    vendor = _price("5000.00", "USD", "yearly")
    ent = rules.Current("PARTNERS_ENT", "yearly", {}, subscribed=True, vendor_price=vendor)
    assert rules.current_price(CATALOG, ent, "USD") == vendor
    unknown = rules.Current("PARTNERS_ENT", "", {}, subscribed=True)
    assert rules.current_price(CATALOG, unknown, "EUR") == _price("0.00", "EUR", "monthly")


# --- Zone changes -------------------------------------------------------------------------------


def test_an_upgrade_sends_the_plan_frequency_and_components_and_previews_both_prices():
    """Upgrade from PARTNERS_FREE: the subscription with rate_plan, component_values and frequency."""
    planned = rules.zone_change(
        CATALOG,
        ON_FREE,
        "upgrade",
        rate_plan_id="PARTNERS_BIZ",
        frequency="yearly",
        component_values={"page_rules": 60},
    )
    assert planned == rules.PlannedChange(
        action="upgrade",
        rate_plan_id="PARTNERS_BIZ",
        frequency="yearly",
        component_values={"page_rules": 60},
        current=_price("0.00", "USD", "monthly"),
        new=_price("3000.00", "USD", "yearly"),
        from_rate_plan_id="PARTNERS_FREE",
        from_frequency="",
    )


def test_an_upgrade_to_a_plan_costing_the_same_is_allowed_and_a_downgrade_to_it_refused():
    """Upgrade to a plan costing no less; downgrade only to a cheaper one."""
    on_pro = _on("PARTNERS_PRO")
    assert rules.zone_change(CATALOG, on_pro, "upgrade", rate_plan_id="PARTNERS_PRO_EU").action == "upgrade"
    refusal = _refusal(
        RuleViolation, rules.zone_change, CATALOG, on_pro, "downgrade", rate_plan_id="PARTNERS_PRO_EU"
    )
    assert refusal.code == "not_a_downgrade"
    assert refusal.message == "PARTNERS_PRO_EU does not cost less than PARTNERS_PRO; upgrade instead."


def test_the_direction_of_a_change_compares_the_plans_own_prices_not_the_extra_units():
    """Up or down is the plan's own monthly price: extra units on the current plan do not count."""
    on_biz = _on("PARTNERS_BIZ", page_rules=60)  # 250 a month, on a 200 plan
    assert (
        rules.zone_change(CATALOG, on_biz, "upgrade", rate_plan_id="PARTNERS_MID").rate_plan_id
        == "PARTNERS_MID"
    )
    refusal = _refusal(
        RuleViolation, rules.zone_change, CATALOG, on_biz, "downgrade", rate_plan_id="PARTNERS_MID"
    )
    assert refusal.code == "not_a_downgrade"


def test_a_plan_outside_the_catalog_is_compared_by_what_cloudflare_charges_for_it():
    """A zone on a plan outside the catalog: its price per month (Cloudflare's) tells up from down."""
    ent = rules.Current(
        "PARTNERS_ENT", "yearly", {}, subscribed=True, vendor_price=_price("3000.00", "USD", "yearly")
    )
    refusal = _refusal(RuleViolation, rules.zone_change, CATALOG, ent, "upgrade", rate_plan_id="PARTNERS_MID")
    assert refusal.code == "not_an_upgrade"
    assert refusal.message == "PARTNERS_MID costs less than PARTNERS_ENT; downgrade instead."
    down = rules.zone_change(CATALOG, ent, "downgrade", rate_plan_id="PARTNERS_MID")
    assert down.current == _price("3000.00", "USD", "yearly") and down.new == _price(
        "2640.00", "USD", "yearly"
    )


def test_a_downgrade_without_a_plan_goes_to_partners_free():
    """Downgrade to a cheaper plan, by default the free one (the zone returns to PARTNERS_FREE)."""
    planned = rules.zone_change(CATALOG, _on("PARTNERS_PRO", "yearly"), "downgrade", frequency="monthly")
    assert (planned.action, planned.rate_plan_id, planned.frequency) == (
        "downgrade",
        "PARTNERS_FREE",
        "monthly",
    )
    assert (planned.from_rate_plan_id, planned.from_frequency) == ("PARTNERS_PRO", "yearly")
    assert planned.new == _price("0.00") and planned.current == _price("240.00", "USD", "yearly")
    assert rules.zone_change(CATALOG, _on("PARTNERS_PRO"), "downgrade").rate_plan_id == "PARTNERS_FREE"


def test_an_upgrade_without_a_plan_is_refused_as_not_in_the_catalog():
    """The plan must be an active catalog plan: an upgrade naming none is refused, saying "That plan"."""
    refusal = _refusal(RuleViolation, rules.zone_change, CATALOG, ON_FREE, "upgrade")
    assert refusal.code == "plan_not_in_catalog" and refusal.message.startswith("That plan is not in")


@pytest.mark.parametrize("action,code", [("upgrade", "not_an_upgrade"), ("downgrade", "not_a_downgrade")])
def test_moving_to_the_plan_the_zone_is_on_is_refused_with_change_its_components(action, code):
    """Upgrade and downgrade change the plan: the same plan is a component change instead."""
    refusal = _refusal(
        RuleViolation, rules.zone_change, CATALOG, _on("PARTNERS_PRO"), action, rate_plan_id="PARTNERS_PRO"
    )
    assert refusal.code == code
    assert refusal.message == "The zone is already on PARTNERS_PRO; change its components instead."


def test_a_component_change_needs_a_subscription():
    """A free zone without a subscription is upgraded first, its components not changed."""
    refusal = _refusal(
        RuleViolation, rules.zone_change, CATALOG, ON_FREE, "change", component_values={"page_rules": 3}
    )
    assert refusal.code == "no_subscription"
    assert refusal.message == "The zone has no subscription yet (it is on PARTNERS_FREE); upgrade it first."


def test_a_component_change_keeps_the_plan_its_other_units_and_the_frequency():
    """Change components: the same plan keeps the units it has unless told otherwise."""
    on_biz = _on("PARTNERS_BIZ", "yearly", page_rules=60, dedicated_certificates=1, retired_component=4)
    planned = rules.zone_change(CATALOG, on_biz, "change", component_values={"dedicated_certificates": 2})
    assert planned.component_values == {"page_rules": 60, "dedicated_certificates": 2}
    assert (planned.rate_plan_id, planned.frequency, planned.from_frequency) == (
        "PARTNERS_BIZ",
        "yearly",
        "yearly",
    )
    assert planned.current == _price("3120.00", "USD", "yearly") and planned.new == _price(
        "3240.00", "USD", "yearly"
    )


def test_a_subscription_of_unknown_frequency_changes_at_monthly():
    """Frequency renewal cadence defaults to monthly when the current one is not known."""
    planned = rules.zone_change(
        CATALOG, _on("PARTNERS_BIZ", ""), "change", component_values={"page_rules": 60}
    )
    assert planned.frequency == "monthly"


def test_a_zone_without_a_subscription_is_upgraded_monthly_whatever_it_had_before():
    """Frequency defaults to monthly for a new subscription."""
    was_yearly = rules.Current("PARTNERS_FREE", "yearly", {}, subscribed=False)
    assert (
        rules.zone_change(CATALOG, was_yearly, "upgrade", rate_plan_id="PARTNERS_PRO").frequency == "monthly"
    )


def test_a_change_to_the_same_plan_frequency_and_units_is_refused_as_nothing_to_change():
    """Nothing changed is refused (nothing_to_change), saying what the subscription already is."""
    on_biz = _on("PARTNERS_BIZ", page_rules=60)
    refusal = _refusal(
        RuleViolation,
        rules.zone_change,
        CATALOG,
        on_biz,
        "change",
        component_values={"dedicated_certificates": 0},
    )
    assert refusal.code == "nothing_to_change"
    assert (
        refusal.message
        == "Nothing to change: it is already PARTNERS_BIZ, monthly, page_rules 60, dedicated_certificates 0."
    )
    on_pro = _on("PARTNERS_PRO")
    plain = _refusal(RuleViolation, rules.zone_change, CATALOG, on_pro, "change", frequency="monthly")
    assert plain.message == "Nothing to change: it is already PARTNERS_PRO, monthly."


def test_a_frequency_change_alone_is_a_change():
    """A change of billing cycle is a change even with the same units."""
    planned = rules.zone_change(CATALOG, _on("PARTNERS_BIZ", page_rules=60), "change", frequency="yearly")
    assert (planned.action, planned.frequency, planned.new) == (
        "change",
        "yearly",
        _price("3000.00", "USD", "yearly"),
    )


# --- Add-ons ------------------------------------------------------------------------------------


def test_an_add_on_purchase_sends_only_the_components_asked_and_prices_the_defaults():
    """Account add-ons: when component values are left out the defaults of the purchase apply."""
    planned = rules.addon_purchase(
        CATALOG, rate_plan_id="TEAMS_STANDARD", frequency="yearly", component_values={"users": 60}
    )
    assert planned == rules.PlannedChange(
        action="purchase",
        rate_plan_id="TEAMS_STANDARD",
        frequency="yearly",
        component_values={"users": 60},
        current=None,
        new=_price("5040.00", "EUR", "yearly"),
    )
    assert rules.addon_purchase(CATALOG, rate_plan_id="PARTNERS_LOAD_BALANCING").frequency == "monthly"


def test_an_add_on_change_keeps_its_frequency_and_other_units():
    """New components or frequency for an add-on within its catalog plan; the rest kept."""
    current = _on("TEAMS_STANDARD", "yearly", users=60)
    planned = rules.addon_change(CATALOG, current, component_values={"users": 70})
    assert planned == rules.PlannedChange(
        action="change",
        rate_plan_id="TEAMS_STANDARD",
        frequency="yearly",
        component_values={"users": 70},
        current=_price("5040.00", "EUR", "yearly"),
        new=_price("5880.00", "EUR", "yearly"),
        from_rate_plan_id="TEAMS_STANDARD",
        from_frequency="yearly",
    )
    unknown_frequency = rules.addon_change(
        CATALOG, _on("TEAMS_STANDARD", "", users=60), component_values={"users": 61}
    )
    assert unknown_frequency.frequency == "monthly"


def test_an_add_on_change_with_nothing_different_is_refused_saying_what_it_is():
    """Nothing changed is refused (nothing_to_change)."""
    refusal = _refusal(
        RuleViolation, rules.addon_change, CATALOG, _on("TEAMS_STANDARD", users=60), frequency="monthly"
    )
    assert refusal.code == "nothing_to_change"
    assert refusal.message == "Nothing to change: it is already TEAMS_STANDARD, monthly, users 60."


def test_cancelling_an_add_on_previews_what_it_costs_now_and_nothing_after():
    """Ending an add-on: it costs nothing from then on."""
    planned = rules.addon_cancel(CATALOG, _on("TEAMS_STANDARD", "quarterly", users=50))
    assert planned == rules.PlannedChange(
        action="cancel",
        rate_plan_id="TEAMS_STANDARD",
        frequency="quarterly",
        component_values=None,
        current=_price("1050.00", "EUR", "quarterly"),
        new=None,
        from_rate_plan_id="TEAMS_STANDARD",
        from_frequency="quarterly",
    )


def test_cancelling_an_add_on_outside_the_catalog_previews_no_known_price_in_dollars():
    """An add-on bought elsewhere (imported by sync) can be cancelled; without a price it shows 0.00 USD."""
    planned = rules.addon_cancel(CATALOG, _on("PARTNERS_WORKERS_BASIC"))
    assert (planned.action, planned.current, planned.new) == ("cancel", _price("0.00"), None)


# --- What a change costs, and who bills it -------------------------------------------------------


def _planned(action, current=None, new=None, billed=False):
    return rules.PlannedChange(action, "P", "monthly", None, current, new, billed=billed)


@pytest.mark.parametrize(
    "action,current,new,more",
    [
        ("upgrade", _price("20"), _price("10"), True),
        ("purchase", None, _price("5"), True),
        ("change", _price("20"), _price("21"), True),
        ("change", _price("20"), _price("20"), False),
        ("change", _price("20"), _price("19"), False),
        ("change", _price("20"), _price("20", "EUR"), True),
        ("downgrade", _price("20"), _price("30"), False),
        ("cancel", _price("20"), None, False),
    ],
)
def test_a_change_costs_more_when_it_is_an_upgrade_a_purchase_or_dearer_a_month(action, current, new, more):
    """Every paid vendor service is billed or has a reason: what costs more is what needs one."""
    assert _planned(action, current, new).costs_more is more
    assert _planned(action, current, new).needs_not_billed_reason is more
    assert _planned(action, current, new, billed=True).needs_not_billed_reason is False


def test_the_monthly_difference_compares_per_month_in_one_currency_only():
    """The preview's monthly difference: new minus current per month, none across currencies."""
    assert _planned("change", _price("240", frequency="yearly"), _price("30")).monthly_difference == Decimal(
        "10.00"
    )
    assert _planned("purchase", None, _price("30")).monthly_difference == Decimal("30.00")
    assert _planned("cancel", _price("30"), None).monthly_difference == Decimal("-30.00")
    assert _planned("change", _price("30"), _price("30", "EUR")).monthly_difference is None


def test_a_planned_change_is_carried_as_json_with_its_preview():
    """What was previewed is what is sent: the operation carries the change and both prices."""
    planned = rules.zone_change(CATALOG, _on("PARTNERS_PRO"), "upgrade", rate_plan_id="PARTNERS_BIZ")
    assert planned.as_params() == {
        "action": "upgrade",
        "rate_plan_id": "PARTNERS_BIZ",
        "frequency": "monthly",
        "component_values": {},
        "preview": {
            "current": {"amount": "20.00", "currency": "USD", "frequency": "monthly"},
            "new": {"amount": "200.00", "currency": "USD", "frequency": "monthly"},
            "from_rate_plan_id": "PARTNERS_PRO",
            "from_frequency": "monthly",
        },
    }
    cancel = rules.addon_cancel(CATALOG, _on("PARTNERS_LOAD_BALANCING", endpoints=2)).as_params()
    assert cancel["preview"]["new"] is None and cancel["component_values"] is None
    assert (
        rules.addon_purchase(CATALOG, rate_plan_id="PARTNERS_LOAD_BALANCING").as_params()["preview"][
            "current"
        ]
        is None
    )


TERMS = BillingTerms(product="Zone Business (annual)", period_end=datetime(2027, 5, 31, 12, 0))


def test_a_change_nothing_bills_is_left_as_it_is():
    """Made directly, a change that billing does not provide is not billed."""
    planned = _planned("upgrade", _price("0"), _price("20"))
    assert rules.with_billing_terms(planned, None) is planned


@pytest.mark.parametrize(
    "action,current,new",
    [
        ("downgrade", _price("20"), _price("30")),
        ("cancel", _price("20"), None),
        ("cancel", _price("0"), None),
        ("change", _price("20"), _price("19.99")),
    ],
)
def test_a_cheaper_billed_change_takes_effect_at_the_end_of_the_paid_period(action, current, new):
    """Billing follows the service: a cheaper change applies at the end of the paid period."""
    billed = rules.with_billing_terms(_planned(action, current, new), TERMS)
    assert billed.billed is True and billed.action == action and billed.new == new
    assert billed.takes_effect == (
        "Billed through Zone Business (annual): this change takes effect at the end of the paid period "
        "(2027-05-31), with the new price from then."
    )
    assert billed.needs_not_billed_reason is False


def test_a_cheaper_billed_change_without_a_known_period_end_names_no_date():
    """The end of the paid period is named only when billing knows it."""
    billed = rules.with_billing_terms(
        _planned("downgrade", _price("20"), _price("0")), BillingTerms("Pro", None)
    )
    assert billed.takes_effect == (
        "Billed through Pro: this change takes effect at the end of the paid period, with the new price from then."
    )


@pytest.mark.parametrize(
    "action,current,new",
    [
        ("upgrade", _price("20"), _price("200")),
        ("change", _price("20"), _price("20")),
        ("change", _price("20"), _price("20.50")),
        ("change", _price("20"), _price("10", "EUR")),
    ],
)
def test_a_billed_change_that_does_not_cost_less_waits_for_the_customers_payment(action, current, new):
    """A new agreement means a new customer-initiated checkout: the change applies once paid."""
    billed = rules.with_billing_terms(_planned(action, current, new), TERMS)
    assert billed.billed is True and billed.needs_not_billed_reason is False
    assert billed.takes_effect == (
        "Billed through Zone Business (annual): this change needs the customer's payment in a new checkout "
        "and takes effect at Cloudflare once paid."
    )


# --- Cloudflare's refusals ----------------------------------------------------------------------


def _explain(code, attempts=1, what="the upgrade to PARTNERS_ENT"):
    return rules.explain_refusal(
        code, "Not entitled", what=what, plan="PARTNERS_ENT", partner="Reseller", attempts=attempts
    )


def test_a_plan_outside_the_entitlement_says_to_ask_cloudflare_or_take_it_out_of_the_catalog():
    """Which plans a partner may sell depends on its reseller agreement: error 1225 says what to do."""
    assert _explain("1225") == (
        "Cloudflare refused the upgrade to PARTNERS_ENT: PARTNERS_ENT is not in Reseller's Cloudflare "
        "entitlement (error 1225: Not entitled). Ask Cloudflare to add it to the reseller agreement, or "
        "take it out of the catalog."
    )


def test_a_plan_missing_from_the_zones_available_plans_was_not_sent_and_changed_nothing():
    """Refused before the change is sent: the message says nothing was changed, as a sentence."""
    assert _explain("rate_plan_not_available") == (
        "The upgrade to PARTNERS_ENT was not sent to Cloudflare: Not entitled. It is not in Reseller's "
        "Cloudflare entitlement for this zone; ask Cloudflare to add it to the reseller agreement, or take "
        "it out of the catalog. Nothing was changed."
    )


def test_another_refusal_names_the_attempts_only_when_it_was_retried():
    """Every vendor call can be retried: the refusal says how many attempts were made."""
    assert (
        _explain("1004")
        == "Cloudflare did not accept the upgrade to PARTNERS_ENT (1004: Not entitled). Nothing was changed here."
    )
    assert _explain("1004", attempts=2) == (
        "Cloudflare did not accept the upgrade to PARTNERS_ENT after 2 attempts (1004: Not entitled). "
        "Nothing was changed here."
    )
