"""A reconciliation run (domain.md, "Billing follows the service"): every difference between billing
and the vendors is found once, the same row when seen again; a clean data set gives an empty
report; a run changes nothing at any vendor; a vendor error is recorded on the run, not a crash."""

import pytest

from billing.models import BillingSubscription, Provisions
from reconciliation import runs
from reconciliation.models import Finding, NotBilled, Run, RunState
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.models import CloudflareAddon
from tests.factories import CLOUDFLARE_TOKEN
from tests.reconciliation.helpers import found, open_findings
from tests.sandbox_helpers import inject_fault, vendor_request_count
from vendors.cloudflare import CloudflareClient
from vendors.sandbox.models import RequestLogEntry

pytestmark = pytest.mark.django_db

BIZ = "PARTNERS_BIZ"
LB = "PARTNERS_LOAD_BALANCING"


def behind_our_back() -> CloudflareClient:
    """Cloudflare's API as anyone holding the tenant token sees it (not through the back office)."""
    return CloudflareClient(CLOUDFLARE_TOKEN)


@pytest.fixture
def seeded(add_zone, paid_zone, addon, contract, cloudflare_account, product_for, bill, run_cloudflare):
    """One difference of each kind, everything else in order."""
    biz = product_for(Provisions.ZONE_PLAN, rate_plan_id=BIZ, frequency="monthly")
    bill(add_zone("free.example"), biz)  # billed but not provided: the zone is on PARTNERS_FREE
    pro = run_cloudflare(cloudflare.upgrade_zone_plan, add_zone("pro.example"), rate_plan_id="PARTNERS_PRO")
    bill(pro, biz)  # plan mismatch: billed BIZ, the zone is on PRO
    bill(paid_zone, biz)  # price mismatch: billed with 50 page rules (the default), it has 60
    bill(addon, product_for(Provisions.ADDON, rate_plan_id=LB))  # billed as it is...
    behind_our_back().update_account_subscription(  # ...but changed at Cloudflare behind our back
        cloudflare_account.vendor_id,
        addon.vendor_id,
        rate_plan_id=LB,
        frequency="monthly",
        component_values=[("endpoints", 4)],
    )
    return {"contract": contract, "pro": pro, "paid_zone": paid_zone, "addon": addon}  # contract: not billed


def test_a_seeded_set_with_one_difference_of_each_kind_finds_each_exactly_once(seeded, reconcile, partner):
    run = reconcile()
    assert run.state == RunState.FINISHED and run.errors == []
    assert found(partner) == [
        ("billed_not_provided", "billed_not_provided"),
        ("plan_mismatch", "plan_mismatch"),
        ("price_mismatch", "price_mismatch"),
        ("provided_not_billed", "provided_not_billed"),
        ("state_mismatch", "vendor_state_mismatch"),
    ]
    assert run.counts == {
        "billed_not_provided": 1,
        "plan_mismatch": 1,
        "price_mismatch": 1,
        "provided_not_billed": 1,
        "state_mismatch": 1,
    }
    by_kind = {f.kind: f for f in open_findings(partner)}
    assert by_kind["provided_not_billed"].target == seeded["contract"]
    assert by_kind["plan_mismatch"].target == seeded["pro"]
    assert by_kind["state_mismatch"].target == seeded["addon"]
    price = by_kind["price_mismatch"].evidence
    assert price["sides"]["billing"]["component_values"] == {"page_rules": 50, "dedicated_certificates": 0}
    assert price["sides"]["ours"]["component_values"] == {"page_rules": 60, "dedicated_certificates": 0}
    assert price["differs"] == ["component_values"]
    assert by_kind["state_mismatch"].evidence["sides"]["vendor"]["component_values"] == {"endpoints": 4}


def test_a_difference_seen_again_is_the_same_finding(seeded, reconcile, partner):
    reconcile()
    first = {f.key: f.pk for f in Finding.objects.all()}
    second = reconcile()
    assert {f.key: f.pk for f in Finding.objects.all()} == first
    assert set(Finding.objects.values_list("times_seen", flat=True)) == {2}
    assert second.new_count == 0 and second.reopened_count == 0 and second.cleared_count == 0
    assert Finding.objects.filter(last_run=second).count() == 5


def test_a_clean_data_set_gives_an_empty_report(
    add_zone,
    paid_zone,
    addon,
    contract,
    product_for,
    bill,
    acme_bo_product,
    checkout,
    pay,
    acme_product,
    reconcile,
    partner,
):
    bill(contract, acme_bo_product)
    bill(paid_zone, product_for(Provisions.ZONE_PLAN, rate_plan_id=BIZ, component_values={"page_rules": 60}))
    bill(addon, product_for(Provisions.ADDON, rate_plan_id=LB))
    add_zone("free.example")  # free: nothing to bill
    # Sold through Digital River's own subscription service: read back with GET /subscriptions/{id}.
    pay(checkout(_line(acme_product)))
    assert BillingSubscription.objects.filter(plan__engine="digitalriver", state="active").count() == 1
    run = reconcile()
    assert run.errors == []
    assert run.checked["digitalriver_reads"] == 1
    assert found(partner) == []
    assert run.counts == {}


def _line(product):
    from billing.services.acquisition import OrderLine

    return OrderLine(product, options={"sans": ["sold.example.com"]})


def test_a_run_changes_nothing_at_any_vendor(seeded, reconcile):
    before = vendor_request_count()
    reconcile()
    methods = set(RequestLogEntry.objects.order_by("id").values_list("method", flat=True)[before:])
    assert methods == {"GET"}


def test_a_vendor_error_is_recorded_on_the_run_and_what_it_concerns_is_left_as_it_was(
    paid_zone, product_for, bill, reconcile, partner
):
    bill(paid_zone, product_for(Provisions.ZONE_PLAN, rate_plan_id=BIZ, component_values={"page_rules": 60}))
    behind_our_back().update_zone_subscription(
        paid_zone.vendor_id, rate_plan_id="PARTNERS_PRO", frequency="monthly"
    )
    reconcile()
    [finding] = open_findings(partner)
    assert finding.rule == "vendor_state_mismatch"
    inject_fault("cloudflare", "http_500", times=None, method="GET", path=r"/subscription$")
    run = reconcile()
    assert run.state == RunState.FINISHED
    assert [e["vendor"] for e in run.errors] == ["cloudflare"] and run.errors[0]["code"]
    finding.refresh_from_db()
    assert finding.state == "open" and finding.times_seen == 1  # neither cleared nor seen


def test_a_difference_no_longer_found_is_cleared(seeded, reconcile, partner, run_cloudflare):
    reconcile()
    pro = seeded["pro"]
    run_cloudflare(cloudflare.upgrade_zone_plan, pro, rate_plan_id=BIZ, billed=True)  # as billing would
    run = reconcile()
    assert run.cleared_count == 1
    finding = Finding.objects.get(rule="plan_mismatch")
    assert finding.state == "resolved" and finding.resolution == "cleared"


def test_a_service_marked_not_billed_is_not_reported_and_unmarked_it_is_the_same_finding_reopened(
    contract, reconcile, partner
):
    from reconciliation import actions, services
    from tests.conftest import system_actor

    reconcile()
    [finding] = open_findings(partner)
    actions.mark_finding_not_billed(system_actor(), finding, "Our own website's certificate.")
    reconcile()
    assert found(partner) == []
    services.unmark(system_actor(), NotBilled.objects.get())
    run = reconcile()
    finding.refresh_from_db()
    assert run.reopened_count == 1 and finding.state == "open" and finding.times_seen == 2


# --- States that disagree -----------------------------------------------------------------------


def test_billing_that_ends_while_the_acme_contract_still_auto_renews_is_a_state_mismatch(
    contract, acme_bo_product, bill, reconcile, partner
):
    bill(contract, acme_bo_product, ends_at_period_end=True)
    reconcile()
    assert found(partner) == [("state_mismatch", "acme_renewal_mismatch")]


def test_billing_that_renews_while_the_acme_contract_does_not_is_a_state_mismatch(
    order, acme_bo_product, bill, reconcile, partner
):
    bill(order(auto_renew=False), acme_bo_product)
    reconcile()
    assert found(partner) == [("state_mismatch", "acme_renewal_mismatch")]


def test_an_acme_contract_changed_at_digicert_behind_our_back_is_a_state_mismatch(
    contract, acme_bo_product, bill, reconcile, partner
):
    from vendors.sandbox.models import AcmeContract as SandboxContract

    bill(contract, acme_bo_product)
    SandboxContract.objects.filter(pk=int(contract.vendor_id)).update(auto_renew=False)
    reconcile()
    [finding] = open_findings(partner)
    assert finding.rule == "vendor_state_mismatch" and finding.evidence["differs"] == ["auto_renew"]
    assert finding.evidence["sides"]["vendor"]["auto_renew"] is False


def test_an_add_on_bought_at_cloudflare_outside_the_back_office_is_a_state_mismatch(
    cloudflare_account, catalog, reconcile, partner
):
    created = behind_our_back().create_account_subscription(
        cloudflare_account.vendor_id, rate_plan_id="TEAMS_STANDARD"
    )
    reconcile()
    [finding] = open_findings(partner)
    assert finding.rule == "unknown_addon" and finding.vendor_ref == created.id
    assert finding.target == cloudflare_account
    assert not CloudflareAddon.objects.exists()  # a run imports nothing


def test_a_digital_river_subscription_whose_state_differs_at_digital_river_is_a_state_mismatch(
    checkout, pay, acme_product, digicert_subaccount, reconcile, partner
):
    from tests.sandbox_helpers import sandbox_dr_subscriptions

    pay(checkout(_line(acme_product)))
    subscription = BillingSubscription.objects.get()
    sandbox_dr_subscriptions(pk=subscription.subscription_id).update(state="lapsed")
    reconcile()
    [finding] = open_findings(partner)
    assert finding.rule == "digital_river_state_mismatch" and finding.subscription == subscription
    assert finding.evidence["sides"]["vendor"]["state"] == "lapsed"
    assert finding.evidence["differs"] == ["state"]


def test_objects_with_a_vendor_operation_in_flight_are_not_judged(
    zone, product_for, bill, reconcile, partner
):
    from tests.factories import operation_on

    bill(zone, product_for(Provisions.ZONE_PLAN, rate_plan_id=BIZ))
    operation_on(zone, kind="cloudflare.change_zone_plan")
    reconcile()
    assert found(partner) == []


def test_a_failed_run_says_why_instead_of_vanishing(partner, monkeypatch):
    monkeypatch.setattr(runs, "read_partner", lambda p: (_ for _ in ()).throw(RuntimeError("boom")))
    run = Run.objects.create(partner=partner)
    runs.perform(run.pk)
    run.refresh_from_db()
    assert run.state == RunState.FAILED and run.errors[-1]["message"] == "boom"


def test_the_daily_schedule_queues_a_run_of_every_partner_with_customers(customer, other_partner, run_tasks):
    from reconciliation.tasks import reconcile_every_partner_task

    assert run_tasks(reconcile_every_partner_task) == 1
    assert Run.objects.get().partner == customer.partner
