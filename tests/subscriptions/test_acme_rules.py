"""DigiCert ACME rules from domain.md, through the services and the sandbox."""

import pytest

from core.actor import Actor, Face
from core.errors import PermissionDenied, RuleViolation, ValidationFailed
from core.models import AuditEvent, Operation
from subscriptions.acme import services as acme
from subscriptions.acme.models import AcmeContract, ContractState
from subscriptions.acme.rules import end_options, renewal_source
from tests.conftest import system_actor
from tests.factories import CustomerFactory, MembershipFactory
from tests.sandbox_helpers import (
    advance_vendor_clock,
    inject_fault,
    sandbox_acme_contracts,
    sandbox_hmac_is_active,
    vendor_request_count,
)
from vendors.digicert.client import DigiCertClient
from vendors.errors import VendorError

pytestmark = pytest.mark.django_db


def _snapshot(contract):
    contract.refresh_from_db()
    return (
        AcmeContract.objects.filter(pk=contract.pk).values().get(),
        AuditEvent.objects.count(),
        Operation.objects.count(),
        vendor_request_count(),
    )


def _refused_and_unchanged(contract, action, *args, code):
    """`action` on the contract is refused with `code`: the contract, the audit trail, the operations
    and the vendor stay as they were. The refusal, for its message."""
    before = _snapshot(contract)
    with pytest.raises(RuleViolation) as refused:
        action(system_actor(), contract, *args)
    assert refused.value.code == code
    assert _snapshot(contract) == before
    return refused.value


# --- Step 1-2: subaccount key, auto_renew resolution --------------------------------------------


@pytest.mark.parametrize(
    "requested,setting,expected,source",
    [
        (True, None, True, "order"),
        (False, None, False, "order"),
        (True, False, True, "order"),
        (False, True, False, "order"),
        (None, True, True, "account_setting"),
        (None, False, False, "account_setting"),
        (None, None, False, "default"),
    ],
)
def test_auto_renew_resolution_table(requested, setting, expected, source):
    assert renewal_source(requested, setting) == (expected, source)


@pytest.mark.parametrize(
    "requested,setting,expected,source",
    [
        (False, "1", False, "order"),
        (None, "1", True, "account_setting"),
        (None, None, False, "default"),
        (True, None, True, "order"),
    ],
)
def test_auto_renew_resolution_at_the_vendor_is_recorded_with_its_source(
    order, digicert_subaccount, requested, setting, expected, source
):
    if setting is not None:
        DigiCertClient(digicert_subaccount.api_key.reveal()).update_account_setting(
            "auto_renew_subscription", setting
        )
    contract = order(auto_renew=requested)
    assert contract.state == ContractState.ACTIVE
    assert contract.auto_renew is expected and contract.auto_renew_source == source
    assert sandbox_acme_contracts(pk=int(contract.vendor_id)).get().auto_renew is expected


def test_acme_calls_use_the_subaccount_key_and_the_partner_key_is_refused(order, customer):
    contract = order()
    assert contract.state == ContractState.ACTIVE and contract.vendor_id
    with pytest.raises(VendorError) as refused:
        DigiCertClient(customer.partner.digicert_api_key.reveal()).get_acme_contract(contract.vendor_id)
    assert refused.value.status == 403


def test_order_is_refused_without_an_active_digicert_subaccount(sandbox, customer):
    before = (AcmeContract.objects.count(), vendor_request_count())
    with pytest.raises(RuleViolation) as refused:
        acme.order_acme_contract(system_actor(), customer, product="ssl_dv_rapidssl", sans=["a.example.com"])
    assert refused.value.code == "subaccount_not_active"
    assert (AcmeContract.objects.count(), vendor_request_count()) == before


def test_ov_and_ev_products_need_the_organization(digicert_subaccount, customer):
    with pytest.raises(ValidationFailed) as refused:
        acme.order_acme_contract(system_actor(), customer, product="ssl_basic", sans=["a.example.com"])
    assert refused.value.code == "organization_required" and "organization" in refused.value.fields
    assert not AcmeContract.objects.exists()


@pytest.mark.parametrize("sans", [[], ["not a domain"], ["*.*.example.com"], ["exa_mple.com"]])
def test_invalid_domain_names_are_refused_with_a_field_error(digicert_subaccount, customer, sans):
    with pytest.raises(ValidationFailed) as refused:
        acme.order_acme_contract(system_actor(), customer, product="ssl_dv_rapidssl", sans=sans)
    assert "sans" in refused.value.fields
    assert not AcmeContract.objects.exists()


def test_only_roles_managing_services_may_order(digicert_subaccount, customer):
    viewer = MembershipFactory(partner=customer.partner, role="billing").user
    with pytest.raises(PermissionDenied):
        acme.order_acme_contract(
            Actor(viewer, Face.DASHBOARD), customer, product="ssl_dv_rapidssl", sans=["a.io"]
        )
    assert not AcmeContract.objects.exists()


# --- Step 3: credentials ------------------------------------------------------------------------


def test_the_create_answer_gives_directory_url_and_eab_pair_with_the_hmac_encrypted(order):
    contract = order()
    assert contract.directory_url.endswith("/directory") and contract.eab_key_id
    hmac_key = contract.eab_hmac_key.reveal()
    assert sandbox_hmac_is_active(contract.vendor_id, hmac_key)
    assert hmac_key not in str(contract.vendor_response)
    assert hmac_key not in str(list(Operation.objects.values_list("params", "result")))
    assert hmac_key not in str(list(AuditEvent.objects.values_list("changes", "note")))


def test_credentials_are_revealed_once_with_client_configuration_and_audited(order):
    contract = order()
    revealed = acme.reveal_credentials(Actor(None, Face.API), contract)
    hmac_key = contract.eab_hmac_key.reveal()
    assert revealed.hmac_key == hmac_key
    configs = {c["client"]: c["text"] for c in revealed.configs}
    assert set(configs) == {"certbot", "acme.sh", "cert-manager", "Caddy"}
    assert f"--eab-hmac-key {hmac_key}" in configs["certbot"] and contract.directory_url in configs["certbot"]
    assert "externalAccountBinding" in configs["cert-manager"] and "acme_eab" in configs["Caddy"]
    assert AuditEvent.objects.filter(action="acme.credentials_revealed", object_id=str(contract.pk)).exists()
    with pytest.raises(RuleViolation) as again:
        acme.reveal_credentials(system_actor(), contract)
    assert again.value.code == "credentials_already_revealed"


def test_reveal_needs_the_reveal_right(order, customer):
    contract = order()
    billing = MembershipFactory(partner=customer.partner, role="billing").user
    with pytest.raises(PermissionDenied):
        acme.reveal_credentials(Actor(billing, Face.DASHBOARD), contract)
    contract.refresh_from_db()
    assert contract.credentials_revealed_at is None


@pytest.mark.parametrize("revoke", [True, False])
def test_regenerate_credentials_with_or_without_revoking_the_old(order, run_tasks, revoke):
    contract = order()
    old = contract.eab_hmac_key.reveal()
    acme.reveal_credentials(system_actor(), contract)
    run_tasks(acme.regenerate_credentials, system_actor(), contract, revoke_existing=revoke)
    contract.refresh_from_db()
    new = contract.eab_hmac_key.reveal()
    assert new != old and sandbox_hmac_is_active(contract.vendor_id, new)
    assert sandbox_hmac_is_active(contract.vendor_id, old) is (not revoke)
    assert contract.credentials_revealed_at is None  # the new pair may be shown once


# --- Step 4: cancel or stop renewal -------------------------------------------------------------


def test_cancel_on_day_29_succeeds(order, run_tasks):
    contract = order(auto_renew=True)
    advance_vendor_clock(days=29)
    run_tasks(acme.cancel_acme_contract, system_actor(), contract)
    contract.refresh_from_db()
    assert contract.state == ContractState.CANCELLED and contract.cancelled_at
    assert sandbox_acme_contracts(pk=int(contract.vendor_id)).get().date_canceled is not None


def test_cancel_on_day_31_is_refused_changes_nothing_and_makes_no_vendor_call(order):
    contract = order(auto_renew=True)
    advance_vendor_clock(days=31)
    refused = _refused_and_unchanged(contract, acme.cancel_acme_contract, code="cancel_window_closed")
    closed = contract.cancel_window_closes_at.strftime("%Y-%m-%d")
    assert closed in refused.message and "Stop the renewal" in refused.message


def test_stop_renewal_on_day_31_keeps_the_contract_active_until_valid_till(order, run_tasks):
    contract = order(auto_renew=True)
    valid_till = contract.valid_till
    advance_vendor_clock(days=31)
    run_tasks(acme.stop_renewal, system_actor(), contract)
    contract.refresh_from_db()
    assert contract.state == ContractState.RENEWAL_STOPPED and contract.auto_renew is False
    assert contract.valid_till == valid_till
    at_vendor = sandbox_acme_contracts(pk=int(contract.vendor_id)).get()
    assert at_vendor.auto_renew is False and at_vendor.date_canceled is None
    options = acme.options_today(contract)
    assert [o.action for o in options] == ["resume_renewal"] and options[0].until == valid_till


def test_resume_renewal_while_the_term_runs(order, run_tasks):
    contract = order(auto_renew=False)
    run_tasks(acme.resume_renewal, system_actor(), contract)
    contract.refresh_from_db()
    assert contract.auto_renew is True and contract.state == ContractState.ACTIVE


def test_resume_renewal_after_the_term_ended_is_refused(order):
    contract = order(auto_renew=False)
    advance_vendor_clock(days=400)
    _refused_and_unchanged(contract, acme.resume_renewal, code="term_ended")


def test_cancellation_is_irreversible(order, run_tasks):
    contract = order(auto_renew=True)
    run_tasks(acme.cancel_acme_contract, system_actor(), contract)
    contract.refresh_from_db()
    for action in (acme.stop_renewal, acme.resume_renewal, acme.cancel_acme_contract):
        _refused_and_unchanged(contract, action, code="contract_cancelled")


def test_end_options_say_which_action_applies_today_and_until_when(order):
    contract = order(auto_renew=True)
    today = end_options(contract, contract.term_started_at)
    assert [o.action for o in today] == ["cancel", "stop_renewal"]
    assert today[0].until == contract.cancel_window_closes_at and today[1].until == contract.valid_till
    from datetime import timedelta

    later = end_options(contract, contract.term_started_at + timedelta(days=31))
    assert [o.action for o in later] == ["stop_renewal"]


# --- SANs ---------------------------------------------------------------------------------------


def test_add_and_remove_sans(order, run_tasks):
    contract = order()
    run_tasks(acme.add_sans, system_actor(), contract, ["api.example.com"])
    contract.refresh_from_db()
    assert "api.example.com" in contract.sans
    run_tasks(acme.remove_sans, system_actor(), contract, ["www.example.com"])
    contract.refresh_from_db()
    assert sorted(contract.sans) == ["api.example.com", "example.com"]
    assert sorted(sandbox_acme_contracts(pk=int(contract.vendor_id)).get().sans) == sorted(contract.sans)


def test_sans_changes_are_refused_on_a_cancelled_contract(order, run_tasks):
    contract = order()
    run_tasks(acme.cancel_acme_contract, system_actor(), contract)
    contract.refresh_from_db()
    _refused_and_unchanged(contract, acme.remove_sans, ["www.example.com"], code="contract_cancelled")


def test_the_last_san_cannot_be_removed(order):
    contract = order(sans=["only.example.com"])
    with pytest.raises(ValidationFailed) as refused:
        acme.remove_sans(system_actor(), contract, ["only.example.com"])
    assert refused.value.code == "last_san"


# --- Sync and drift -----------------------------------------------------------------------------


def test_sync_shows_drift_and_accepting_the_vendor_value_settles_it(order, run_tasks, digicert_subaccount):
    contract = order(auto_renew=True)
    DigiCertClient(digicert_subaccount.api_key.reveal()).patch_acme_contract(
        contract.vendor_id, auto_renew=False
    )
    run_tasks(acme.sync_acme_contract, system_actor(), contract)
    contract.refresh_from_db()
    assert contract.drift["auto_renew"] == {"ours": True, "vendor": False}
    assert "state" not in contract.drift  # still live on both sides
    acme.resolve_drift(system_actor(), contract, "auto_renew", keep="vendor")
    contract.refresh_from_db()
    assert contract.auto_renew is False and "auto_renew" not in contract.drift


def test_pushing_our_value_writes_it_at_the_vendor(order, run_tasks, digicert_subaccount):
    contract = order()
    client = DigiCertClient(digicert_subaccount.api_key.reveal())
    client.add_sans(contract.vendor_id, ["extra.example.com"])
    run_tasks(acme.sync_acme_contract, system_actor(), contract)
    contract.refresh_from_db()
    assert "sans" in contract.drift
    run_tasks(acme.resolve_drift, system_actor(), contract, "sans", keep="ours")
    contract.refresh_from_db()
    assert "sans" not in contract.drift
    assert "extra.example.com" not in client.get_acme_contract(contract.vendor_id).sans


def test_vendor_owned_fields_cannot_be_pushed(order, run_tasks, digicert_subaccount):
    contract = order()
    AcmeContract.objects.filter(pk=contract.pk).update(drift={"valid_till": {"ours": None, "vendor": "x"}})
    contract.refresh_from_db()
    with pytest.raises(RuleViolation) as refused:
        acme.resolve_drift(system_actor(), contract, "valid_till", keep="ours")
    assert refused.value.code == "cannot_push_field"


def test_scheduled_sync_queues_every_live_contract(order, run_tasks):
    contract = order()
    from subscriptions.acme.tasks import sync_acme_contracts_task

    assert run_tasks(sync_acme_contracts_task) == 1
    contract.refresh_from_db()
    assert contract.synced_at is not None and contract.drift == {}


def test_account_setting_can_be_read_and_changed(digicert_subaccount, run_tasks):
    run_tasks(acme.set_account_auto_renew, system_actor(), digicert_subaccount, True)
    digicert_subaccount.refresh_from_db()
    assert digicert_subaccount.auto_renew_setting is True
    run_tasks(acme.set_account_auto_renew, system_actor(), digicert_subaccount, False)
    run_tasks(acme.read_account_settings, system_actor(), digicert_subaccount)
    digicert_subaccount.refresh_from_db()
    assert digicert_subaccount.auto_renew_setting is None  # "0" is the default: the override is gone


# --- Faults at each step ------------------------------------------------------------------------


def test_create_whose_answer_was_lost_adopts_the_contract_exactly_once(
    order, sweep_later, digicert_subaccount
):
    inject_fault("digicert", "timeout_after", path=r"/acme$")
    contract = order()
    assert contract.state == ContractState.PENDING and sandbox_acme_contracts().count() == 1
    sweep_later(4000)
    contract.refresh_from_db()
    assert contract.state == ContractState.ACTIVE and sandbox_acme_contracts().count() == 1
    assert contract.vendor_id == str(sandbox_acme_contracts().get().pk)
    assert sandbox_hmac_is_active(contract.vendor_id, contract.eab_hmac_key.reveal())


def test_create_that_keeps_failing_ends_failed_and_retry_creates_one(order, sweep_later, settings, run_tasks):
    settings.TASK_MAX_ATTEMPTS = 2
    inject_fault("digicert", "http_503", path=r"/acme$", times=2)
    contract = order()
    sweep_later(4000)
    contract.refresh_from_db()
    assert contract.state == ContractState.FAILED
    run_tasks(acme.retry_last_operation, system_actor(), contract)
    contract.refresh_from_db()
    assert contract.state == ContractState.ACTIVE and sandbox_acme_contracts().count() == 1


def test_cancel_whose_answer_was_lost_ends_cancelled(order, run_tasks, sweep_later):
    contract = order()
    inject_fault("digicert", "drop_after", method="DELETE", path=r"/acme/\d+$")
    run_tasks(acme.cancel_acme_contract, system_actor(), contract)
    contract.refresh_from_db()
    assert contract.state == ContractState.CANCEL_PENDING
    assert sandbox_acme_contracts().get().date_canceled is not None  # the vendor did cancel it
    sweep_later(4000)
    contract.refresh_from_db()
    assert contract.state == ContractState.CANCELLED


def test_stop_renewal_survives_a_failed_patch_without_losing_the_change(order, run_tasks, sweep_later):
    contract = order(auto_renew=True)
    inject_fault("digicert", "http_500", method="PATCH", path=r"/acme/\d+$")
    run_tasks(acme.stop_renewal, system_actor(), contract)
    contract.refresh_from_db()
    assert contract.auto_renew is True  # not yet: the vendor has not confirmed
    sweep_later(4000)
    contract.refresh_from_db()
    assert contract.auto_renew is False and contract.state == ContractState.RENEWAL_STOPPED


def test_regenerate_whose_answer_was_lost_is_retried_and_the_new_key_works(order, run_tasks, sweep_later):
    contract = order()
    inject_fault("digicert", "timeout_after", method="POST", path=r"/credentials/regenerate$")
    run_tasks(acme.regenerate_credentials, system_actor(), contract)
    sweep_later(4000)
    contract.refresh_from_db()
    assert sandbox_hmac_is_active(contract.vendor_id, contract.eab_hmac_key.reveal())
    assert sandbox_acme_contracts().count() == 1


def test_a_second_action_waits_for_the_one_in_flight(order):
    contract = order(auto_renew=True)
    acme.stop_renewal(system_actor(), contract)  # queued, not run
    with pytest.raises(RuleViolation) as refused:
        acme.add_sans(system_actor(), contract, ["b.example.com"])
    assert refused.value.code == "operation_in_progress"


def test_another_partners_member_cannot_touch_a_contract(order, other_partner):
    from core.errors import NotFound

    contract = order()
    stranger = MembershipFactory(partner=other_partner, role="owner").user
    with pytest.raises(NotFound):
        acme.cancel_acme_contract(Actor(stranger, Face.API), contract)
    with pytest.raises(NotFound):
        acme.reveal_credentials(Actor(stranger, Face.API), contract)


def test_limited_member_cannot_order_for_other_customers(digicert_subaccount, customer):
    from core.errors import NotFound

    membership = MembershipFactory(partner=customer.partner, role="technician")
    membership.customers.set([CustomerFactory(partner=customer.partner)])
    with pytest.raises(NotFound):
        acme.order_acme_contract(
            Actor(membership.user, Face.DASHBOARD),
            customer,
            product="ssl_dv_rapidssl",
            sans=["a.example.com"],
        )


def test_hmac_key_never_reaches_logs_or_task_arguments(order, run_tasks, caplog, monkeypatch):
    import logging

    from core import tasks

    queued = []
    real = tasks.async_task
    monkeypatch.setattr(
        tasks, "async_task", lambda func, *a, **kw: (queued.append((func, a, kw)), real(func, *a, **kw))
    )
    caplog.set_level(logging.DEBUG)
    contract = order()
    run_tasks(acme.regenerate_credentials, system_actor(), contract)
    contract.refresh_from_db()
    revealed = acme.reveal_credentials(system_actor(), contract)
    assert revealed.hmac_key not in caplog.text
    assert all(args == (args[0],) and isinstance(args[0], int) for _, args, _ in queued)


@pytest.mark.parametrize(
    "organization,field",
    [
        ({"name": "x" * 1_000_000}, "organization.name"),  # a 1 MB name never reaches DigiCert
        ({"name": "Initech", "country": "5"}, "organization.country"),
        ({"name": "Initech", "country": "ZZ"}, "organization.country"),
        ({"name": "Initech", "shoe_size": 44}, "organization.shoe_size"),
        (
            {"name": "Initech", "technical_contact": {"email": "a@b.c", "pin": "1234"}},
            "organization.technical_contact",
        ),
        ({"city": "Austin"}, "organization.name"),
    ],
)
def test_an_organization_out_of_bounds_is_a_field_error_before_any_vendor_call(
    digicert_subaccount, customer, organization, field
):
    before = (AcmeContract.objects.count(), vendor_request_count())
    with pytest.raises(ValidationFailed) as refused:
        acme.order_acme_contract(
            system_actor(),
            customer,
            product="ssl_basic",
            sans=["a.example.com"],
            organization=organization,
            not_billed_reason="tests",
        )
    assert field in refused.value.fields
    assert (AcmeContract.objects.count(), vendor_request_count()) == before


def test_an_organization_within_bounds_is_kept_with_its_country_upper_cased(digicert_subaccount, customer):
    contract = acme.order_acme_contract(
        system_actor(),
        customer,
        product="ssl_basic",
        sans=["a.example.com"],
        organization={
            "name": " Initech ",
            "country": "us",
            "organization_contact": {"email": "p@initech.example"},
        },
        not_billed_reason="tests",
    )
    assert contract.organization == {
        "name": "Initech",
        "country": "US",
        "organization_contact": {"email": "p@initech.example"},
    }
