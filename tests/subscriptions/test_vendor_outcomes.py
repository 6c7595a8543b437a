"""The truth about vendor outcomes under faults (issue 11): an answer that was lost is an unknown
outcome until the vendor's answer says otherwise, never "failed"; backoff and Retry-After hold on
every path into a task; a late answer never takes a state back."""

import pytest

from core import operations
from core.models import AuditEvent, Operation, OperationState
from partner import services
from partner.models import SubaccountState
from subscriptions.cloudflare.models import CloudflareZone
from tests.conftest import system_actor
from tests.sandbox_helpers import (
    inject_fault,
    sandbox_account_count,
    sandbox_account_key_works,
    vendor_request_count,
)

pytestmark = pytest.mark.django_db


def test_a_lost_answer_then_failures_until_the_last_attempt_ends_unknown_and_is_adopted_exactly_once(
    sandbox, customer, run_tasks, settings, sweep_later
):
    settings.TASK_MAX_ATTEMPTS = 3
    inject_fault("cloudflare", "timeout_after", times=1)  # created at Cloudflare, the answer lost
    inject_fault("cloudflare", "http_500", method="GET", path=r"/accounts$", times=2)  # lookups fail
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "cloudflare")
    for _ in range(2):
        sweep_later(4000)  # every retry until the last attempt

    subaccount.refresh_from_db()
    assert subaccount.provisioning.attempts == 3
    assert subaccount.state == SubaccountState.UNKNOWN  # not failed: it may exist (it does)
    assert sandbox_account_count("cloudflare", subaccount.name) == 1
    assert subaccount.provisioning.next_attempt_at is not None  # the sweeper will ask again

    sweep_later(settings.TASK_RESOLVE_SECONDS + 1)

    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.ACTIVE and not subaccount.provisioning.outcome_unknown
    assert sandbox_account_count("cloudflare", subaccount.name) == 1  # adopted, not created twice


def test_a_digicert_subaccount_linked_after_a_lost_answer_gets_its_own_key_and_staff_the_lost_ones_name(
    sandbox, customer, run_tasks, caplog
):
    from vendors.sandbox.models import DigiCertSubaccount

    inject_fault("digicert", "timeout_after", times=1)
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "digicert")
    found = DigiCertSubaccount.objects.get(name=subaccount.name)  # what staff find in CertCentral
    run_tasks(services.link_digicert_subaccount, system_actor(), subaccount, str(found.pk))

    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.ACTIVE and subaccount.vendor_id == str(found.pk)
    assert sandbox_account_key_works(subaccount.vendor_id, subaccount.api_key.reveal())
    activated = AuditEvent.objects.get(action="subaccount.activated")
    assert f"{subaccount.name}-backoffice'" in activated.note  # staff are told which key to revoke
    assert "revoke its unused key" in caplog.text


def test_a_definite_refusal_after_a_lost_answer_is_a_failure(
    sandbox, customer, run_tasks, settings, sweep_later
):
    settings.TASK_MAX_ATTEMPTS = 3
    inject_fault("cloudflare", "drop_before", times=1)  # nothing done, but we cannot know that
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "cloudflare")
    subaccount.refresh_from_db()
    assert subaccount.provisioning.outcome_unknown
    customer.partner.cloudflare_api_token = "revoked-token-0000000000000000"
    customer.partner.save()
    sweep_later(4000)  # the vendor answers now, definitely: the token is refused

    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.FAILED and not subaccount.provisioning.outcome_unknown


@pytest.fixture
def zone_with_lost_answer(sandbox, cloudflare_account, catalog, run_tasks, settings, sweep_later, customer):
    from subscriptions.cloudflare import services as cloudflare

    settings.TASK_MAX_ATTEMPTS = 3
    inject_fault("cloudflare", "drop_after", path=r"/zones$", times=1)
    inject_fault("cloudflare", "http_503", method="GET", path=r"/zones$", times=2)
    zone = run_tasks(cloudflare.add_zone, system_actor(), customer, name="lost.example.com")
    for _ in range(2):
        sweep_later(4000)
    return CloudflareZone.objects.get(pk=zone.pk)


def test_an_operation_out_of_attempts_after_a_lost_answer_is_unknown_then_resolved_by_the_sweeper(
    zone_with_lost_answer, settings, sweep_later
):
    zone = zone_with_lost_answer
    operation = Operation.objects.get(kind="cloudflare.create_zone")
    assert operation.state == OperationState.UNKNOWN and operation.attempts == 3
    assert zone.state != "failed"  # the dashboard does not say failed while it exists

    sweep_later(settings.TASK_RESOLVE_SECONDS + 1)

    operation.refresh_from_db()
    zone.refresh_from_db()
    assert operation.state == OperationState.SUCCEEDED and zone.state == "active"
    from tests.sandbox_helpers import sandbox_zones

    assert sandbox_zones(name="lost.example.com").count() == 1


def test_staff_ask_the_vendor_now_about_an_unknown_outcome(zone_with_lost_answer, run_tasks):
    from core.errors import RuleViolation

    operation = Operation.objects.get(kind="cloudflare.create_zone")
    run_tasks(operations.resolve_now, system_actor(), operation)
    operation.refresh_from_db()
    assert operation.state == OperationState.SUCCEEDED
    assert AuditEvent.objects.filter(action="operation.resolve_requested").count() == 1
    with pytest.raises(RuleViolation) as refused:
        operations.resolve_now(system_actor(), operation)
    assert refused.value.code == "not_unknown"


def test_retry_after_holds_even_when_the_task_is_delivered_early(
    sandbox, customer, run_tasks, settings, sweep_later
):
    from core.tasks import run_operation_task

    inject_fault("cloudflare", "rate_limit", retry_after=600, times=1)
    subaccount = run_tasks(services.request_subaccount, system_actor(), customer, "cloudflare")
    calls = vendor_request_count()

    run_tasks(run_operation_task, subaccount.provisioning.pk)  # a duplicate delivery, 0 s later
    sweep_later(300)  # and the sweeper half way

    subaccount.refresh_from_db()
    assert vendor_request_count() == calls and subaccount.provisioning.attempts == 1
    sweep_later(301)
    subaccount.refresh_from_db()
    assert subaccount.state == SubaccountState.ACTIVE and subaccount.provisioning.attempts == 2
