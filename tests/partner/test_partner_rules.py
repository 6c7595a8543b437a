"""Partner account rules from domain.md: onboarding checklist, naming convention, billing model."""

import pytest

from core.errors import NotFound, PermissionDenied, RuleViolation, ValidationFailed
from core.models import AuditEvent
from partner import services
from partner.models import Partner, Subaccount
from partner.onboarding import missing_onboarding_items, onboarding_checklist
from tests.conftest import system_actor
from tests.factories import CustomerFactory, MembershipFactory, PartnerFactory, SubaccountFactory
from tests.sandbox_helpers import vendor_request_count

pytestmark = pytest.mark.django_db


def _state(partner):
    """Everything a refused subaccount request could have touched."""
    return (
        Subaccount.objects.count(),
        AuditEvent.objects.count(),
        vendor_request_count(),
        Partner.objects.filter(pk=partner.pk).values().get(),
    )


def test_onboarding_checklist_names_each_missing_item():
    partner = PartnerFactory(not_onboarded=True)
    missing = {item.key for item in missing_onboarding_items(partner)}
    assert missing == {
        "legal_name",
        "verification_contact",
        "customers",
        "naming_convention",
        "billing_model",
    }
    CustomerFactory(partner=partner)
    assert "customers" not in {item.key for item in missing_onboarding_items(partner)}


def test_onboarding_checklist_is_complete_for_an_onboarded_partner_with_customers(customer):
    assert all(item.done for item in onboarding_checklist(customer.partner))


def test_subaccount_refused_while_onboarding_incomplete(sandbox):
    partner = PartnerFactory(not_onboarded=True)
    customer = CustomerFactory(partner=partner)
    before = _state(partner)
    with pytest.raises(RuleViolation) as refused:
        services.request_subaccount(system_actor(), customer, "digicert", "anything")
    assert refused.value.code == "onboarding_incomplete"
    assert "Legal organization name" in refused.value.message and "Billing model" in refused.value.message
    assert _state(partner) == before


def test_subaccount_refused_before_the_billing_model_is_decided(sandbox, customer):
    partner = customer.partner
    Partner.objects.filter(pk=partner.pk).update(billing_model="")
    partner.refresh_from_db()
    before = _state(partner)
    with pytest.raises(RuleViolation) as refused:
        services.request_subaccount(system_actor(), customer, "digicert")
    assert refused.value.code == "onboarding_incomplete" and "Billing model" in refused.value.message
    assert _state(partner) == before


def test_subaccount_name_breaking_the_naming_convention_is_refused(sandbox, customer):
    partner = customer.partner
    before = _state(partner)
    with pytest.raises(ValidationFailed) as refused:
        services.request_subaccount(system_actor(), customer, "digicert", "Some Random Name")
    assert refused.value.code == "naming_convention_violated"
    assert f"{partner.slug}-{customer.reference}" in refused.value.message
    assert "name" in refused.value.fields
    assert _state(partner) == before


def test_default_subaccount_name_follows_the_naming_convention(sandbox, customer):
    subaccount = services.request_subaccount(system_actor(), customer, "digicert")
    assert subaccount.name == f"{customer.partner.slug}-{customer.reference}"
    assert customer.partner.naming_regex().match(subaccount.name)


def test_naming_convention_is_fixed_once_a_subaccount_exists(customer):
    SubaccountFactory(customer=customer)
    partner = customer.partner
    before = Partner.objects.filter(pk=partner.pk).values().get()
    with pytest.raises(RuleViolation) as refused:
        services.update_partner_profile(system_actor(), partner, subaccount_naming_pattern="x-{customer}")
    assert refused.value.code == "naming_convention_locked"
    assert Partner.objects.filter(pk=partner.pk).values().get() == before


def test_naming_convention_can_change_before_any_subaccount(customer):
    partner = services.update_partner_profile(
        system_actor(), customer.partner, subaccount_naming_pattern="x-{customer}"
    )
    assert partner.subaccount_naming_pattern == "x-{customer}"
    assert AuditEvent.objects.filter(action="partner.updated", object_id=str(partner.pk)).exists()


def test_naming_convention_must_contain_the_customer_token(partner):
    with pytest.raises(ValidationFailed) as refused:
        services.update_partner_profile(
            system_actor(), partner, subaccount_naming_pattern="{partner}-{colour}"
        )
    assert refused.value.code == "invalid_naming_pattern"
    partner.refresh_from_db()
    assert partner.subaccount_naming_pattern == "{partner}-{customer}"


def test_billing_model_is_fixed_once_a_subaccount_exists(customer):
    SubaccountFactory(customer=customer)
    with pytest.raises(RuleViolation) as refused:
        services.update_partner_profile(system_actor(), customer.partner, billing_model="per_subaccount")
    assert refused.value.code == "billing_model_locked"
    customer.partner.refresh_from_db()
    assert customer.partner.billing_model == "centralized"


def test_billing_model_must_be_centralized_or_per_subaccount(partner):
    with pytest.raises(ValidationFailed) as refused:
        services.update_partner_profile(system_actor(), partner, billing_model="monthly")
    assert "billing_model" in refused.value.fields


def test_one_subaccount_per_customer_and_vendor(sandbox, customer):
    services.request_subaccount(system_actor(), customer, "digicert")
    with pytest.raises(RuleViolation) as refused:
        services.request_subaccount(system_actor(), customer, "digicert")
    assert refused.value.code == "subaccount_exists"
    assert Subaccount.objects.filter(customer=customer).count() == 1


def test_subaccount_refused_without_vendor_credentials(sandbox):
    partner = PartnerFactory(without_credentials=True)
    customer = CustomerFactory(partner=partner)
    before = _state(partner)
    with pytest.raises(RuleViolation) as refused:
        services.request_subaccount(system_actor(), customer, "cloudflare")
    assert refused.value.code == "vendor_credentials_missing"
    assert _state(partner) == before


def test_customer_reference_is_fixed_once_it_names_a_subaccount(customer):
    SubaccountFactory(customer=customer)
    with pytest.raises(RuleViolation) as refused:
        services.update_customer(system_actor(), customer, reference="renamed")
    assert refused.value.code == "customer_reference_locked"


def test_customer_with_subaccounts_cannot_be_deleted(customer):
    SubaccountFactory(customer=customer)
    with pytest.raises(RuleViolation):
        services.delete_customer(system_actor(), customer)
    assert customer.__class__.objects.filter(pk=customer.pk).exists()


# --- roles --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role,allowed",
    [
        ("owner", True),
        ("admin", True),
        ("technician", True),
        ("billing", False),
        ("viewer", False),
    ],
)
def test_only_roles_that_manage_subaccounts_may_request_one(sandbox, customer, role, allowed):
    from core.actor import Actor, Face

    user = MembershipFactory(partner=customer.partner, role=role).user
    actor = Actor(user, Face.DASHBOARD)
    if allowed:
        assert services.request_subaccount(actor, customer, "digicert").pk
    else:
        with pytest.raises(PermissionDenied):
            services.request_subaccount(actor, customer, "digicert")
        assert not Subaccount.objects.exists()


def test_another_partners_member_gets_not_found(sandbox, customer, other_partner):
    from core.actor import Actor, Face

    stranger = MembershipFactory(partner=other_partner, role="owner").user
    with pytest.raises(NotFound):
        services.request_subaccount(Actor(stranger, Face.API), customer, "digicert")
    assert not Subaccount.objects.exists()


def test_member_limited_to_some_customers_cannot_reach_the_others(sandbox, customer):
    from core.actor import Actor, Face

    mine = CustomerFactory(partner=customer.partner)
    membership = MembershipFactory(partner=customer.partner, role="technician")
    membership.customers.set([mine])
    actor = Actor(membership.user, Face.DASHBOARD)
    with pytest.raises(NotFound):
        services.request_subaccount(actor, customer, "digicert")
    assert services.request_subaccount(actor, mine, "digicert").customer == mine
