"""Subaccounts are created at the vendor in a task, retried with backoff, and exactly once."""

import itertools

import pytest

from core.models import AuditEvent
from partner import services
from partner.models import SubaccountState
from tests.conftest import system_actor
from tests.factories import CustomerFactory
from tests.sandbox_helpers import (
    cloudflare_account_unit,
    inject_fault,
    register_cloudflare_unit,
    sandbox_account_count,
    sandbox_account_key_works,
    vendor_request_count,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("vendor", ["digicert", "cloudflare"])
def test_subaccount_goes_from_pending_to_active_through_the_sandbox(sandbox, customer, run_tasks, vendor):
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, vendor)
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.ACTIVE
    assert subaccount.vendor_id and subaccount.provisioning.attempts == 1 and subaccount.activated_at
    assert sandbox_account_count(vendor, subaccount.name) == 1
    actions = list(AuditEvent.objects.filter(object_id=str(subaccount.pk)).values_list("action", flat=True))
    assert actions == ["subaccount.activated", "subaccount.requested"]


def test_digicert_subaccount_key_is_stored_encrypted_and_works_at_the_vendor(sandbox, customer, run_tasks):
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "digicert")
    subaccount.refresh_from_db()
    key = subaccount.api_key.reveal()
    assert sandbox_account_key_works(subaccount.vendor_id, key)
    assert key not in str(subaccount.vendor_response)
    assert key not in str(list(AuditEvent.objects.values_list("changes", flat=True)))


def test_cloudflare_account_is_created_in_the_partners_tenant_unit(sandbox, customer, run_tasks):
    customer.partner.cloudflare_unit_id = "unit-42"
    customer.partner.save()
    register_cloudflare_unit("unit-42")
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "cloudflare")
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.ACTIVE
    assert cloudflare_account_unit(subaccount.vendor_id) == "unit-42"


def test_vendor_5xx_is_recorded_and_retried_with_backoff(sandbox, customer, run_tasks, settings, sweep_later):
    inject_fault("digicert", "http_503", times=1)
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "digicert")
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.PENDING
    assert subaccount.provisioning.last_error_code and "503" in subaccount.provisioning.last_error
    delay = (subaccount.provisioning.next_attempt_at - subaccount.provisioning.last_error_at).total_seconds()
    assert delay == pytest.approx(settings.TASK_BACKOFF_BASE_SECONDS, abs=1)
    sweep_later(delay - 5)  # not due yet: nothing happens
    subaccount.refresh_from_db()
    assert subaccount.provisioning.attempts == 1
    sweep_later(delay + 1)
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.ACTIVE and subaccount.provisioning.attempts == 2
    assert sandbox_account_count("digicert", subaccount.name) == 1


def test_rate_limit_retry_after_delays_the_retry(sandbox, customer, run_tasks, settings, sweep_later):
    settings.TASK_BACKOFF_BASE_SECONDS = 5
    inject_fault("cloudflare", "rate_limit", retry_after=90, times=1)
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "cloudflare")
    subaccount.refresh_from_db()
    delay = (subaccount.provisioning.next_attempt_at - subaccount.provisioning.last_error_at).total_seconds()
    assert delay == pytest.approx(90, abs=1)
    sweep_later(60)
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.PENDING and subaccount.provisioning.attempts == 1
    sweep_later(91)
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.ACTIVE


def test_backoff_grows_until_the_last_attempt_then_fails_and_staff_retry(
    sandbox, customer, run_tasks, settings, staff, sweep_later
):
    from core.actor import Actor, Face

    settings.TASK_MAX_ATTEMPTS = 3
    inject_fault("digicert", "http_500", times=3)
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "digicert")
    delays = []
    for _ in range(2):
        subaccount.refresh_from_db()
        delays.append(
            (subaccount.provisioning.next_attempt_at - subaccount.provisioning.last_error_at).total_seconds()
        )
        sweep_later(4000)
    subaccount.refresh_from_db()
    assert delays[1] == pytest.approx(delays[0] * 2, abs=1)
    assert subaccount.state == SubaccountState.FAILED and subaccount.provisioning.attempts == 3
    assert subaccount.provisioning.next_attempt_at is None
    sweep_later(10_000)  # a failed row is not swept again
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.FAILED
    run_tasks(services.retry_subaccount, Actor(staff, Face.ADMIN), subaccount)
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.ACTIVE
    assert sandbox_account_count("digicert", subaccount.name) == 1


def test_a_refused_request_is_not_retried(sandbox, customer, run_tasks):
    customer.partner.digicert_api_key = "not-a-registered-key-000000"
    customer.partner.save()
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "digicert")
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.FAILED and subaccount.provisioning.attempts == 1
    assert subaccount.provisioning.last_error_code == "invalid_api_key"


def test_retry_is_refused_unless_failed(sandbox, customer, run_tasks):
    from core.errors import RuleViolation

    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "digicert")
    before = vendor_request_count()
    with pytest.raises(RuleViolation) as refused:
        services.retry_subaccount(system_actor(), subaccount)
    assert refused.value.code == "not_retryable" and vendor_request_count() == before


def staff_decide(subaccount):
    """What staff do for a DigiCert subaccount whose create answer was lost: look in CertCentral
    (here: the sandbox's own table), then link the id found there or confirm a fresh create."""
    from vendors.sandbox.digicert.models import DigiCertSubaccount

    found = DigiCertSubaccount.objects.filter(name=subaccount.name).first()
    if found:
        return services.link_digicert_subaccount(system_actor(), subaccount, str(found.pk))
    return services.confirm_fresh_create(system_actor(), subaccount)


@pytest.mark.parametrize("fault", ["timeout_after", "drop_after"])
def test_cloudflare_created_it_but_the_answer_was_lost_is_reconciled_exactly_once(
    sandbox, customer, run_tasks, fault, sweep_later
):
    inject_fault("cloudflare", fault, times=1)
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "cloudflare")
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.UNKNOWN
    assert sandbox_account_count("cloudflare", subaccount.name) == 1  # it does exist at the vendor
    sweep_later(4000)
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.ACTIVE
    assert sandbox_account_count("cloudflare", subaccount.name) == 1


@pytest.mark.parametrize("fault", ["timeout_after", "drop_after"])
def test_a_lost_digicert_answer_waits_for_staff_and_nothing_is_created_blindly(
    sandbox, customer, run_tasks, fault, sweep_later
):
    inject_fault("digicert", fault, times=1)
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "digicert")
    calls = vendor_request_count()
    sweep_later(100_000)  # nothing the sweeper could do: DigiCert documents no read that decides
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.UNKNOWN and subaccount.provisioning.next_attempt_at is None
    assert vendor_request_count() == calls
    assert AuditEvent.objects.filter(action="subaccount.awaiting_decision").exists()

    run_tasks(staff_decide, subaccount)

    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.ACTIVE
    assert sandbox_account_count("digicert", subaccount.name) == 1
    assert sandbox_account_key_works(subaccount.vendor_id, subaccount.api_key.reveal())


def test_a_lost_digicert_answer_that_created_nothing_is_created_once_when_staff_confirm(
    sandbox, customer, run_tasks
):
    inject_fault("digicert", "timeout_before", times=1)
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "digicert")
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.UNKNOWN
    assert sandbox_account_count("digicert", subaccount.name) == 0
    run_tasks(services.confirm_fresh_create, system_actor(), subaccount)
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.ACTIVE
    assert sandbox_account_count("digicert", subaccount.name) == 1


def test_linking_refuses_a_subaccount_that_is_not_waiting_and_a_bad_id(sandbox, customer, run_tasks):
    from core.errors import RuleViolation, ValidationFailed

    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "digicert")
    with pytest.raises(RuleViolation) as refused:
        services.link_digicert_subaccount(system_actor(), subaccount, "12")
    assert refused.value.code == "not_awaiting_decision"
    with pytest.raises(ValidationFailed):
        services.link_digicert_subaccount(system_actor(), subaccount, "twelve")


def test_worker_killed_mid_call_is_swept_after_its_lease_and_created_once(
    sandbox, customer, run_tasks, settings, sweep_later
):
    from core.models import Operation
    from core.tasks import claim

    subaccount = services.request_subaccount(system_actor(), customer, "digicert")  # task never ran
    # A worker claims it, reaches the vendor, and dies before recording anything.
    claim(Operation, subaccount.provisioning.pk, states=["pending"])
    from vendors.digicert.client import DigiCertClient

    DigiCertClient(customer.partner.digicert_api_key.reveal()).create_subaccount(
        name=subaccount.name, api_key_name="lost", emergency_contact_emails=[]
    )
    sweep_later(settings.TASK_LEASE_SECONDS // 2)  # lease still held: nobody touches it
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.PENDING and subaccount.provisioning.attempts == 1
    sweep_later(settings.TASK_LEASE_SECONDS + 1)  # the dead worker's attempt: outcome unknown
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.UNKNOWN and subaccount.provisioning.outcome_unknown
    assert sandbox_account_count("digicert", subaccount.name) == 1  # nothing created blindly
    run_tasks(staff_decide, subaccount)
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.ACTIVE
    assert sandbox_account_count("digicert", subaccount.name) == 1


FAULTS = [
    "http_500",
    "http_503",
    "rate_limit",
    "timeout_before",
    "timeout_after",
    "drop_before",
    "drop_after",
]


@pytest.mark.parametrize("sequence", list(itertools.product(FAULTS, repeat=2)))
def test_any_sequence_of_two_faults_ends_with_exactly_one_subaccount(
    sandbox, run_tasks, settings, sequence, sweep_later
):
    settings.TASK_MAX_ATTEMPTS = 4
    customer = CustomerFactory()
    for vendor in ("digicert", "cloudflare"):
        for kind in sequence:
            inject_fault(vendor, kind, method="*", path=r"/accounts?$|/account/subaccount|/api-key/")
        subaccount = run_tasks(services.request_subaccount, system_actor(), customer, vendor)
        for _ in range(4):
            sweep_later(4000)
        subaccount.refresh_from_db()
        for _ in range(2):  # each lost DigiCert answer: staff look and decide
            if subaccount.state == SubaccountState.UNKNOWN and vendor == "digicert":
                run_tasks(staff_decide, subaccount)
                for _ in range(4):
                    sweep_later(4000)
                subaccount.refresh_from_db()
        assert subaccount.state == SubaccountState.ACTIVE, subaccount.provisioning.last_error
        assert sandbox_account_count(vendor, subaccount.name) == 1


def test_staff_decide_on_the_admin_page_of_a_subaccount_whose_answer_was_lost(
    sandbox, customer, run_tasks, superuser
):
    from django.test import Client
    from django.urls import reverse

    from vendors.sandbox.digicert.models import DigiCertSubaccount

    inject_fault("digicert", "timeout_after", times=1)
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "digicert")
    client = Client()
    client.force_login(superuser)
    page = client.get(reverse("admin:partner_subaccount_change", args=[subaccount.pk])).content.decode()
    assert "Outcome unknown: DigiCert may have created it" in page and 'http-equiv="refresh"' not in page

    bad = client.post(
        reverse("admin:partner_subaccount_link", args=[subaccount.pk]), {"account_id": "x"}, follow=True
    )
    assert "numeric id" in bad.content.decode()
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.UNKNOWN  # nothing changed

    found = DigiCertSubaccount.objects.get(name=subaccount.name)
    run_tasks(
        client.post, reverse("admin:partner_subaccount_link", args=[subaccount.pk]), {"account_id": found.pk}
    )
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.ACTIVE and subaccount.vendor_id == str(found.pk)
    assert AuditEvent.objects.filter(action="subaccount.linked", actor=superuser).exists()
