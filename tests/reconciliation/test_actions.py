"""The actions on a finding: each resolves it and does what it says (through the sandbox), refuses
what does not apply, and a refusal changes nothing; not-billed marks need a reason and the right."""

import pytest

from billing.models import BillingSubscription, Checkout, CheckoutState, Provisions, SubscriptionState
from core.actor import Actor, Face
from core.errors import NotFound, PermissionDenied, RuleViolation, ValidationFailed
from core.models import AuditEvent
from reconciliation import actions, services
from reconciliation.models import Finding, NotBilled
from subscriptions.acme import services as acme
from subscriptions.acme.models import AcmeContract
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.models import CloudflareAddon
from tests.conftest import system_actor
from tests.factories import CLOUDFLARE_TOKEN, MembershipFactory
from tests.reconciliation.helpers import found
from tests.sandbox_helpers import (
    sandbox_account_subscriptions,
    sandbox_acme_contracts,
    sandbox_dr_subscriptions,
    sandbox_zone_subscriptions,
    sandbox_zones,
    vendor_request_count,
)
from vendors.cloudflare.client import CloudflareClient

pytestmark = pytest.mark.django_db

BIZ = "PARTNERS_BIZ"
LB = "PARTNERS_LOAD_BALANCING"


@pytest.fixture
def finding_of(reconcile, partner):
    """Run a reconciliation and return the open finding the rule found."""

    def get(rule: str) -> Finding:
        reconcile()
        return Finding.objects.get(partner=partner, rule=rule, state="open")

    return get


@pytest.fixture
def act(run_tasks):
    """Take an action as the system (tasks it queues run inline) and return the finding reloaded."""

    def do(action, finding, *args, actor=None, **kwargs) -> Finding:
        run_tasks(action, actor or system_actor(), finding, *args, **kwargs)
        finding.refresh_from_db()
        return finding

    return do


@pytest.fixture
def biz_product(product_for):
    return product_for(Provisions.ZONE_PLAN, rate_plan_id=BIZ, frequency="monthly")


@pytest.fixture
def changed_behind_our_back(paid_zone, product_for, bill):
    """The paid zone, billed on BIZ with its 60 page rules, then moved to PRO at Cloudflare directly."""
    bill(paid_zone, product_for(Provisions.ZONE_PLAN, rate_plan_id=BIZ, component_values={"page_rules": 60}))
    CloudflareClient(CLOUDFLARE_TOKEN).update_zone_subscription(
        paid_zone.vendor_id, rate_plan_id="PARTNERS_PRO", frequency="monthly"
    )
    return paid_zone


def _member(partner, role) -> Actor:
    return Actor(MembershipFactory(partner=partner, role=role).user, Face.DASHBOARD)


def _unchanged(finding, before_audit, before_requests):
    finding.refresh_from_db()
    assert finding.state == "open" and finding.resolution == ""
    assert AuditEvent.objects.count() == before_audit
    assert vendor_request_count() == before_requests


def _refused_and_unchanged(action, finding, code):
    """The system's `action` on the open finding is refused with `code`; nothing is audited or sent."""
    before = (AuditEvent.objects.count(), vendor_request_count())
    with pytest.raises(RuleViolation) as refused:
        action(system_actor(), finding)
    assert refused.value.code == code
    _unchanged(finding, *before)


# --- Push ours: the vendor side follows billing ----------------------------------------------------


def test_pushing_ours_on_an_unbilled_acme_contract_stops_its_renewal_at_digicert(
    contract, finding_of, act, reconcile, partner
):
    finding = act(actions.push_ours, finding_of("provided_not_billed"))
    assert finding.state == "resolved" and finding.resolution == "pushed_ours"
    assert sandbox_acme_contracts(pk=int(contract.vendor_id)).get().auto_renew is False
    contract.refresh_from_db()
    assert contract.state == "renewal_stopped"
    reconcile()
    assert found(partner) == []


def test_pushing_ours_on_an_unbilled_zone_returns_it_to_the_free_plan(paid_zone, finding_of, act):
    act(actions.push_ours, finding_of("provided_not_billed"))
    assert sandbox_zones(pk=paid_zone.vendor_id).get().plan_id == "PARTNERS_FREE"
    paid_zone.refresh_from_db()
    assert paid_zone.rate_plan_id == "PARTNERS_FREE"


def test_pushing_ours_on_an_unbilled_add_on_cancels_it_at_cloudflare(addon, finding_of, act):
    act(actions.push_ours, finding_of("provided_not_billed"))
    assert sandbox_account_subscriptions(pk=addon.vendor_id).get().state == "Cancelled"


def test_pushing_ours_on_a_price_mismatch_gives_the_zone_the_billed_components(
    paid_zone, biz_product, bill, finding_of, act, reconcile, partner
):
    bill(paid_zone, biz_product)  # billed with the plan's 50 page rules; it has 60
    finding = act(actions.push_ours, finding_of("price_mismatch"))
    assert finding.resolution == "pushed_ours"
    assert sandbox_zone_subscriptions(zone_id=paid_zone.vendor_id).get().component_values["page_rules"] == 50
    reconcile()
    assert found(partner) == []


def test_pushing_ours_on_a_plan_mismatch_gives_the_zone_the_billed_plan(
    add_zone, biz_product, bill, run_cloudflare, finding_of, act, reconcile, partner
):
    pro = run_cloudflare(cloudflare.upgrade_zone_plan, add_zone("pro.example"), rate_plan_id="PARTNERS_PRO")
    bill(pro, biz_product)
    act(actions.push_ours, finding_of("plan_mismatch"))
    assert sandbox_zones(pk=pro.vendor_id).get().plan_id == BIZ
    reconcile()
    assert found(partner) == []


def test_pushing_ours_on_a_billed_zone_back_on_free_upgrades_it_again(
    zone, biz_product, bill, finding_of, act
):
    bill(zone, biz_product)
    act(actions.push_ours, finding_of("billed_not_provided"))
    assert sandbox_zones(pk=zone.vendor_id).get().plan_id == BIZ


def test_pushing_ours_on_a_renewal_mismatch_stops_the_contract_renewing_as_billing_does(
    contract, acme_bo_product, bill, finding_of, act
):
    bill(contract, acme_bo_product, ends_at_period_end=True)
    act(actions.push_ours, finding_of("acme_renewal_mismatch"))
    assert sandbox_acme_contracts(pk=int(contract.vendor_id)).get().auto_renew is False


def test_pushing_ours_to_cloudflare_over_its_own_record_is_refused_and_changes_nothing(
    changed_behind_our_back, finding_of
):
    finding = finding_of("vendor_state_mismatch")
    _refused_and_unchanged(actions.push_ours, finding, "action_not_applicable")


# --- Adopt the vendor's state ---------------------------------------------------------------------


def test_adopting_cloudflares_state_of_a_zone_changed_behind_our_back_syncs_it(
    changed_behind_our_back, finding_of, act, reconcile, partner
):
    paid_zone = changed_behind_our_back
    finding = act(actions.adopt_vendor, finding_of("vendor_state_mismatch"))
    assert finding.resolution == "adopted_vendor"
    paid_zone.refresh_from_db()
    assert paid_zone.rate_plan_id == "PARTNERS_PRO"
    reconcile()  # our record now agrees with Cloudflare; billing still charges BIZ
    assert found(partner) == [("plan_mismatch", "plan_mismatch")]


def test_adopting_an_add_on_bought_outside_the_back_office_imports_it(
    cloudflare_account, catalog, finding_of, act, reconcile, partner
):
    CloudflareClient(CLOUDFLARE_TOKEN).create_account_subscription(
        cloudflare_account.vendor_id, rate_plan_id="TEAMS_STANDARD"
    )
    act(actions.adopt_vendor, finding_of("unknown_addon"))
    assert CloudflareAddon.objects.get().rate_plan_id == "TEAMS_STANDARD"
    reconcile()
    assert found(partner) == [("provided_not_billed", "provided_not_billed")]


def test_adopting_digicerts_values_needs_the_contract_synced_then_accepts_them(
    contract, acme_bo_product, bill, finding_of, act, run_tasks
):
    from vendors.sandbox.digicert.models import AcmeContract as SandboxContract

    bill(contract, acme_bo_product)
    SandboxContract.objects.filter(pk=int(contract.vendor_id)).update(auto_renew=False)
    finding = finding_of("vendor_state_mismatch")
    _refused_and_unchanged(actions.adopt_vendor, finding, "drift_not_recorded")
    run_tasks(acme.sync_acme_contract, system_actor(), contract)
    finding = act(actions.adopt_vendor, finding)
    contract.refresh_from_db()
    assert finding.resolution == "adopted_vendor" and contract.auto_renew is False


def test_adopting_the_contracts_renewal_makes_billing_stop_renewing_too(
    order, acme_bo_product, bill, finding_of, act
):
    subscription = bill(order(auto_renew=False), acme_bo_product)
    act(actions.adopt_vendor, finding_of("acme_renewal_mismatch"))
    subscription.refresh_from_db()
    assert subscription.ends_at_period_end


def test_adopting_the_contracts_renewal_makes_stopped_billing_renew_again(
    contract, acme_bo_product, bill, finding_of, act, reconcile, partner
):
    subscription = bill(contract, acme_bo_product, ends_at_period_end=True)
    act(actions.adopt_vendor, finding_of("acme_renewal_mismatch"))
    subscription.refresh_from_db()
    assert not subscription.ends_at_period_end
    reconcile()
    assert found(partner) == []


def test_adopting_digital_rivers_state_applies_it_to_billing_and_the_vendor_side_follows(
    checkout, pay, acme_product, digicert_subaccount, finding_of, act, reconcile, partner
):
    from billing.services.acquisition import OrderLine

    pay(checkout(OrderLine(acme_product, options={"sans": ["sold.example.com"]})))
    subscription = BillingSubscription.objects.get()
    sandbox_dr_subscriptions(pk=subscription.subscription_id).update(state="lapsed")
    finding = act(actions.adopt_vendor, finding_of("digital_river_state_mismatch"))
    subscription.refresh_from_db()
    assert finding.resolution == "adopted_vendor"
    assert subscription.state == SubscriptionState.LAPSED and subscription.ended_at
    contract = AcmeContract.objects.get()
    assert sandbox_acme_contracts(pk=int(contract.vendor_id)).get().auto_renew is False  # billing ended
    reconcile()
    assert found(partner) == []


# --- End billing, bill it, mark not billed, dismiss -------------------------------------------------


def test_ending_billing_stops_the_subscription_renewing(
    zone, biz_product, bill, finding_of, act, reconcile, partner
):
    subscription = bill(zone, biz_product)
    finding = act(actions.end_billing, finding_of("billed_not_provided"))
    subscription.refresh_from_db()
    assert finding.resolution == "ended_billing" and subscription.ends_at_period_end
    assert "billing ends on" in finding.resolution_note
    reconcile()
    assert found(partner) == []
    finding.refresh_from_db()
    assert finding.state == "resolved" and finding.resolution == "ended_billing"


def test_billing_it_starts_a_checkout_that_once_paid_bills_the_existing_contract(
    contract, acme_bo_product, finding_of, act, pay, reconcile, partner
):
    finding = act(actions.bill, finding_of("provided_not_billed"))
    assert finding.resolution == "billed"
    checkout = Checkout.objects.get()
    assert checkout.state == CheckoutState.OPEN and checkout.payment_link
    subscription = checkout.items.get().subscription
    assert subscription.provisioned == contract and subscription.product == acme_bo_product
    reconcile()  # waiting for the customer's payment: not reported again
    assert found(partner) == []
    pay(checkout)
    subscription.refresh_from_db()
    checkout.refresh_from_db()
    assert subscription.state == SubscriptionState.ACTIVE and subscription.provisioned == contract
    assert AcmeContract.objects.count() == 1 and sandbox_acme_contracts().count() == 1  # nothing new made
    assert checkout.captured_amount == acme_bo_product.price  # delivered, so captured
    reconcile()
    assert found(partner) == []


def test_billing_it_without_a_product_that_provisions_it_is_refused_and_changes_nothing(contract, finding_of):
    finding = finding_of("provided_not_billed")
    _refused_and_unchanged(actions.bill, finding, "no_matching_product")
    assert not Checkout.objects.exists()


def test_marking_not_billed_needs_a_reason_and_a_blank_one_writes_nothing(
    contract, finding_of, act, reconcile, partner
):
    finding = finding_of("provided_not_billed")
    before = (AuditEvent.objects.count(), vendor_request_count())
    with pytest.raises(ValidationFailed) as refused:
        actions.mark_finding_not_billed(system_actor(), finding, "   ")
    assert refused.value.code == "reason_required" and "reason" in refused.value.fields
    _unchanged(finding, *before)
    assert not NotBilled.objects.exists()
    finding = act(actions.mark_finding_not_billed, finding, "Our own website's certificate.")
    mark = NotBilled.objects.get()
    assert mark.target == contract and mark.reason == "Our own website's certificate."
    assert finding.resolution == "marked_not_billed"
    assert (
        AuditEvent.objects.filter(action="reconciliation.marked_not_billed").count() == 2
    )  # mark and finding
    reconcile()
    assert found(partner) == []


def test_dismissing_needs_a_reason_and_a_dismissed_finding_stays_dismissed(
    contract, finding_of, act, reconcile
):
    finding = finding_of("provided_not_billed")
    with pytest.raises(ValidationFailed):
        actions.dismiss(system_actor(), finding, "")
    finding = act(actions.dismiss, finding, "Known: billed by the partner directly.")
    assert (
        finding.state == "dismissed" and finding.resolution_note == "Known: billed by the partner directly."
    )
    reconcile()
    finding.refresh_from_db()
    assert finding.state == "dismissed" and finding.times_seen == 2


# --- Refusals -----------------------------------------------------------------------------------


def test_an_action_that_does_not_apply_is_refused_and_changes_nothing(contract, finding_of):
    finding = finding_of("provided_not_billed")
    before = (AuditEvent.objects.count(), vendor_request_count())
    for action in (actions.end_billing, actions.adopt_vendor):
        with pytest.raises(RuleViolation) as refused:
            action(system_actor(), finding)
        assert refused.value.code == "action_not_applicable"
    _unchanged(finding, *before)


def test_an_action_on_a_settled_finding_is_refused(contract, finding_of, act):
    finding = act(actions.dismiss, finding_of("provided_not_billed"), "Known.")
    with pytest.raises(RuleViolation) as refused:
        actions.push_ours(system_actor(), finding)
    assert refused.value.code == "finding_not_open"
    assert sandbox_acme_contracts(pk=int(contract.vendor_id)).get().auto_renew is True


def test_a_role_without_the_billing_right_may_not_act(contract, finding_of, partner):
    finding = finding_of("provided_not_billed")
    before = (AuditEvent.objects.count(), vendor_request_count())
    for role in ("viewer", "technician"):
        with pytest.raises(PermissionDenied):
            actions.dismiss(_member(partner, role), finding, "Known.")
    _unchanged(finding, *before)


def test_pushing_to_digicert_also_needs_the_services_right(contract, finding_of, partner):
    """The billing role may end billing but not change a contract: the ACME service refuses it."""
    finding = finding_of("provided_not_billed")
    before = (AuditEvent.objects.count(), vendor_request_count())
    with pytest.raises(PermissionDenied):
        actions.push_ours(_member(partner, "billing"), finding)
    _unchanged(finding, *before)


def test_another_partners_member_finds_no_finding(contract, finding_of, other_partner):
    finding = finding_of("provided_not_billed")
    with pytest.raises(NotFound):
        actions.dismiss(_member(other_partner, "owner"), finding, "Known.")


# --- Not-billed marks ---------------------------------------------------------------------------


def test_a_service_that_billing_provides_cannot_be_marked_not_billed(contract, acme_bo_product, bill):
    bill(contract, acme_bo_product)
    with pytest.raises(RuleViolation) as refused:
        services.mark_not_billed(system_actor(), contract, "Free.")
    assert refused.value.code == "already_billed" and not NotBilled.objects.exists()


def test_only_a_vendor_service_can_be_marked_and_only_once(contract, customer):
    with pytest.raises(ValidationFailed):
        services.mark_not_billed(system_actor(), customer, "Free.")
    services.mark_not_billed(system_actor(), contract, "Free.")
    with pytest.raises(RuleViolation) as refused:
        services.mark_not_billed(system_actor(), contract, "Again.")
    assert refused.value.code == "already_marked" and NotBilled.objects.count() == 1


def test_a_mark_is_taken_back_once_audited(contract, partner):
    mark = services.mark_not_billed(_member(partner, "billing"), contract, "Free for a month.")
    assert mark.marked_by is not None
    services.unmark(_member(partner, "billing"), mark)
    mark.refresh_from_db()
    assert not mark.live and mark.unmarked_by is not None
    assert AuditEvent.objects.filter(action="reconciliation.unmarked").count() == 1
    with pytest.raises(RuleViolation):
        services.unmark(system_actor(), mark)
    with pytest.raises(PermissionDenied):
        services.mark_not_billed(_member(partner, "viewer"), contract, "Free.")
