"""Digital River rules of billing.rules, pinned where `make mutate` found changes no test noticed:
the item a refusal names, the checkout item bodies, term lengths at 30 days, renewal grouping."""

from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from billing import rules
from core.errors import RuleViolation, ValidationFailed

DR_PLAN = dict(plan_id="plan_a", terms="Annual terms")


def _line(**overrides) -> rules.Line:
    values = {"sku_id": "sku", "price": Decimal("10.00"), "quantity": 1, **DR_PLAN}
    return rules.Line(**{**values, **overrides})


def _external(**overrides) -> rules.Line:
    return _line(**{"plan_id": None, "external": True, "subscription_id": "sub_1", **overrides})


ONE_OFF = rules.Line(sku_id="setup", price=Decimal("25.00"), quantity=1)


def _refusal(error_class, lines):
    with pytest.raises(error_class) as refusal:
        rules.check_acquisition(lines)
    return refusal.value


# --- Terms and reminders ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "interval,count,end",
    [
        (rules.Interval.YEAR, 1, datetime(2028, 3, 1)),
        (rules.Interval.MONTH, 1, datetime(2027, 4, 1)),
        (rules.Interval.WEEK, 2, datetime(2027, 3, 15)),
        (rules.Interval.DAY, 3, datetime(2027, 3, 4)),
    ],
)
def test_a_billing_period_ends_after_its_calendar_interval(interval, count, end):
    """Digital River bills calendar months and years: one period of a plan ends that long after it starts."""
    assert rules.period_end(datetime(2027, 3, 1), interval, count) == end


def test_a_monthly_period_ends_on_the_same_day_of_the_next_month_or_its_last_day():
    """Calendar months: a period from 31 January ends on the last day of February."""
    assert rules.period_end(datetime(2027, 1, 31), rules.Interval.MONTH, 1) == datetime(2027, 2, 28)
    assert rules.period_end(datetime(2027, 1, 31), "month", 2) == datetime(2027, 3, 31)


@pytest.mark.parametrize(
    "interval,count,longer",
    [
        ("day", 30, False),
        ("day", 31, True),
        ("week", 4, False),
        ("week", 5, True),
        ("month", 1, False),
        ("month", 2, True),
        ("year", 1, True),
    ],
)
def test_reminders_are_required_only_for_terms_over_30_days(interval, count, longer):
    """Reminders are ours for terms over 30 days: exactly 30 days is not over 30."""
    assert rules.term_longer_than_30_days(interval, count) is longer
    assert bool(rules.reminder_dates(date(2027, 6, 30), interval, count)) is longer


def test_a_31_day_term_gets_its_reminders_30_7_and_1_days_before_renewal():
    """Reminders: 30 days before the renewal date, then 7 and 1."""
    assert rules.reminder_dates(date(2027, 3, 31), "day", 31) == [
        ("reminder_30", date(2027, 3, 1)),
        ("reminder_7", date(2027, 3, 24)),
        ("reminder_1", date(2027, 3, 30)),
    ]


def test_a_free_trials_end_is_announced_a_week_before_it_converts_to_paid():
    """Free trials convert to paid after a reminder that says when and how much."""
    assert rules.trial_reminder_date(date(2027, 3, 10)) == date(2027, 3, 3)
    assert rules.trial_reminder_date(date(2027, 3, 1)) == date(2027, 2, 22)


# --- Acquisition: what is a subscription item ----------------------------------------------------


def test_an_item_is_recurring_when_it_has_a_plan_or_is_an_external_subscription():
    """Each recurring item carries a plan (Digital River's engine) or is ours (external)."""
    assert _line().recurring is True
    assert _external().recurring is True
    assert ONE_OFF.recurring is False


def test_a_plan_item_with_default_flags_is_a_valid_paid_acquisition():
    """autoRenewal true or left out, no free trial on a paid item: accepted as it is."""
    line = rules.Line(sku_id="sku", price=Decimal("10.00"), quantity=1, plan_id="plan_a", terms="t")
    rules.check_acquisition([line])
    item = rules.acquisition_item(line)
    assert item["subscriptionInfo"]["planId"] == "plan_a"
    assert item["subscriptionInfo"]["freeTrial"] is False


def test_one_off_items_may_be_mixed_in_even_at_no_cost():
    """One-off items may be mixed in: the free-trial check applies to subscription items only."""
    free_one_off = rules.Line(sku_id="gift", price=Decimal("0"), quantity=1)
    rules.check_acquisition([_line(), ONE_OFF, free_one_off])
    rules.check_acquisition([free_one_off])


# --- Acquisition: refusals -----------------------------------------------------------------------


def test_mixing_renewal_engines_in_one_checkout_is_refused_on_items():
    """A subscription is run by exactly one engine: one checkout never mixes the two."""
    refusal = _refusal(RuleViolation, [_line(), _external()])
    assert refusal.code == "engine_mixed"
    assert refusal.fields == {"items": ["Plans of both renewal engines."]}
    assert refusal.message == (
        "A checkout sells subscriptions of one renewal engine: Digital River's subscription "
        "service or the back office. Sell the others in a separate checkout."
    )


def test_a_checkout_of_one_engine_is_not_refused_as_mixed():
    """One engine per checkout: several items of the same engine (and one-offs) are fine."""
    rules.check_acquisition([_line(), _line(sku_id="sku2"), ONE_OFF])
    rules.check_acquisition([_external(), _external(subscription_id="sub_2"), ONE_OFF])


def test_missing_terms_are_refused_on_the_item_that_lacks_them():
    """Missing terms: 400 missing_parameter, on that item's subscriptionInfo.terms."""
    refusal = _refusal(ValidationFailed, [ONE_OFF, _line(terms=None)])
    assert refusal.code == "missing_parameter"
    assert refusal.fields == {"items[1].subscriptionInfo.terms": ["Required."]}
    assert refusal.message == "Item 2: the plan's terms must be sent; fetch the plan plan_a first."


def test_auto_renewal_false_is_refused_on_the_item_that_sends_it():
    """autoRenewal false on an acquisition: 400 invalid_request, on that item's autoRenewal."""
    refusal = _refusal(ValidationFailed, [ONE_OFF, _line(auto_renewal=False)])
    assert refusal.code == "invalid_request"
    assert refusal.fields == {"items[1].subscriptionInfo.autoRenewal": ["Must be true."]}
    assert refusal.message == "Item 2: autoRenewal must be true or left out on an acquisition."


def test_auto_renewal_left_out_is_accepted_and_sent_as_true():
    """autoRenewal true or left out: left out (None) is accepted, and the item says true."""
    line = _line(auto_renewal=None)
    rules.check_acquisition([line])
    assert rules.acquisition_item(line)["subscriptionInfo"]["autoRenewal"] is True


def test_two_plans_in_one_checkout_is_a_plan_limit_reached_conflict_on_plan_id():
    """Several recurring items must share one planId: otherwise 409 plan_limit_reached on planId."""
    refusal = _refusal(RuleViolation, [_line(), _line(plan_id="plan_b")])
    assert (refusal.code, refusal.http_status, list(refusal.fields)) == (
        "plan_limit_reached",
        409,
        ["planId"],
    )
    assert refusal.fields == {"planId": ["All subscription items must share one plan."]}
    assert refusal.message == (
        "Only one unique subscription plan can be supported in a checkout: sell the other plan in a "
        "separate checkout."
    )
    rules.check_acquisition([_line(), _line(sku_id="sku2")])  # one plan, two items


def test_external_subscriptions_of_several_plans_share_a_checkout():
    """Back-office subscriptions send no planId, so Digital River's one-plan limit does not apply."""
    rules.check_acquisition([_external(plan_id="ours_a"), _external(plan_id="ours_b", subscription_id="s2")])


def test_free_trial_and_price_must_agree_on_the_whole_item():
    """Free trial: price 0 with freeTrial true; a mismatch is 400 invalid_parameter on items."""
    rules.check_acquisition([_line(price=Decimal("0"), free_trial=True)])
    refusal = _refusal(ValidationFailed, [ONE_OFF, _line(price=Decimal("1"), free_trial=True)])
    assert refusal.code == "invalid_parameter"
    assert refusal.fields == {"items": ["Item 2: free trial and price disagree."]}
    assert refusal.message == "The value of the Free Trial flag is not consistent with the item price."
    assert _refusal(ValidationFailed, [_line(price=Decimal("0"))]).code == "invalid_parameter"


# --- Checkout bodies -----------------------------------------------------------------------------


def test_a_digital_river_plan_item_carries_its_plan_and_terms_and_auto_renewal_true():
    """Digital River's engine: subscriptionInfo with planId, the plan's terms, autoRenewal true."""
    line = _line(price=Decimal("12.50"), quantity=3, subscription_id="sub_9", auto_renewal=None)
    assert rules.acquisition_item(line) == {
        "skuId": "sku",
        "price": 12.5,
        "quantity": 3,
        "subscriptionInfo": {
            "planId": "plan_a",
            "terms": "Annual terms",
            "autoRenewal": True,
            "freeTrial": False,
            "subscriptionId": "sub_9",
        },
    }


def test_an_external_subscription_item_carries_no_plan_id_but_our_subscription_id():
    """External subscription: terms, our own subscriptionId, freeTrial where it applies, no planId."""
    line = _external(plan_id="ours", price=Decimal("0"), free_trial=True)
    assert rules.acquisition_item(line) == {
        "skuId": "sku",
        "price": 0.0,
        "quantity": 1,
        "subscriptionInfo": {
            "planId": None,
            "terms": "Annual terms",
            "autoRenewal": True,
            "freeTrial": True,
            "subscriptionId": "sub_1",
        },
    }


def test_a_one_off_item_has_no_subscription_info():
    """One-off items are mixed in as plain items."""
    assert rules.acquisition_item(ONE_OFF) == {"skuId": "setup", "price": 25.0, "quantity": 1}


@pytest.mark.parametrize("auto", [True, False])
def test_a_renewal_item_names_the_subscription_and_its_agreement_and_sends_no_terms(auto):
    """Renewal checkout item: subscriptionId, the same billingAgreementId, autoRenewal; no terms."""
    item = rules.renewal_item(
        sku_id="sku",
        price=Decimal("99.90"),
        quantity=2,
        subscription_id="sub_1",
        billing_agreement_id="ba_1",
        auto=auto,
    )
    assert item == {
        "skuId": "sku",
        "price": 99.9,
        "quantity": 2,
        "subscriptionInfo": {"subscriptionId": "sub_1", "billingAgreementId": "ba_1", "autoRenewal": auto},
    }


def test_auto_renewals_are_merchant_initiated_and_manual_ones_customer_initiated():
    """Renewal checkout: merchant_initiated; manual renewals: customer_initiated (paid by link)."""
    assert rules.renewal_charge_type(True) == "merchant_initiated"
    assert rules.renewal_charge_type(False) == "customer_initiated"


# --- Renewal grouping ----------------------------------------------------------------------------


def _subscription(**overrides):
    values = {
        "acquisition_id": 1,
        "terms": "Annual terms",
        "payment_source_id": "src_1",
        "auto_renewal": True,
    }
    values.update(overrides)
    return SimpleNamespace(
        acquisition_id=values["acquisition_id"],
        plan=SimpleNamespace(terms=values["terms"]),
        payment_source_id=values["payment_source_id"],
        auto_renewal=values["auto_renewal"],
    )


def test_items_of_one_acquisition_with_the_same_terms_renew_in_one_checkout():
    """Items of one acquisition with the same terms (one source, one mode) renew together."""
    assert rules.renewal_group_key(_subscription()) == rules.renewal_group_key(_subscription())


@pytest.mark.parametrize(
    "difference",
    [
        {"acquisition_id": 2},
        {"terms": "Monthly terms"},
        {"payment_source_id": "src_2"},
        {"auto_renewal": False},
    ],
)
def test_a_different_acquisition_terms_source_or_renewal_mode_renews_apart(difference):
    """Different terms, one checkout each; one payment source and one charge type per checkout."""
    assert rules.renewal_group_key(_subscription()) != rules.renewal_group_key(_subscription(**difference))


# --- Billing agreement after a change ------------------------------------------------------------


@pytest.mark.parametrize(
    "change,new",
    [
        ("payment_method", False),
        ("metered", False),
        ("trial_conversion", False),
        ("upgrade", True),
        ("cycle", True),
        ("quantity", True),
        ("added_subscription", True),
    ],
)
def test_same_or_new_billing_agreement_for_each_change_as_the_api_names_it(change, new):
    """Same agreement for payment method, metered, trial conversion; new outside the agreed terms."""
    assert rules.needs_new_agreement(change) is new


def test_an_unknown_change_is_refused_on_the_change_field_listing_the_known_ones():
    """Bad input is refused with a field-level error that says what is accepted."""
    with pytest.raises(ValidationFailed) as refusal:
        rules.needs_new_agreement("downgrade")
    assert list(refusal.value.fields) == ["change"]
    assert "payment_method" in refusal.value.fields["change"][0]
    assert refusal.value.message == "Unknown change 'downgrade'."
