"""A cancel retried after DigiCert's 30-day window (domain.md, step 4): cancellation is only
possible within 30 days of creation, and the back office refuses one after day 30 before calling
the vendor, offering "stop renewal" instead. A retry is a new attempt at the cancel, judged on the
day it is made: a cancel that failed retryably on day 29 and is retried on day 31 is refused
(`cancel_window_closed`), changes nothing and makes no vendor call; retried while the window is
still open, it cancels. An automatic retry that only comes due after the window is refused by the
vendor, and the contract is put back as it was (never shown as cancelled)."""

import pytest

from core import operations
from core.errors import RuleViolation
from core.models import AuditEvent, Operation, OperationState
from subscriptions.acme import services as acme
from subscriptions.acme.models import AcmeContract, ContractState
from tests.conftest import system_actor
from tests.sandbox_helpers import (
    advance_vendor_clock,
    inject_fault,
    sandbox_acme_contracts,
    vendor_request_count,
)

pytestmark = pytest.mark.django_db

CONTRACT_PATH = r"/acme/\d+$"


@pytest.fixture
def failed_cancel_on_day_29(order, run_tasks, settings):
    """A contract whose cancel failed on day 29 with a retryable error (HTTP 503), out of attempts:
    the operation failed, the contract is back to active, the vendor never cancelled it."""
    settings.TASK_MAX_ATTEMPTS = 1
    contract = order(auto_renew=True)
    advance_vendor_clock(days=29)
    inject_fault("digicert", "http_503", method="DELETE", path=CONTRACT_PATH)
    run_tasks(acme.cancel_acme_contract, system_actor(), contract)
    contract.refresh_from_db()
    operation = Operation.objects.get(kind="acme.cancel", object_id=str(contract.pk))
    assert operation.state == OperationState.FAILED and operation.last_error_code == "service_unavailable"
    assert contract.state == ContractState.ACTIVE
    assert sandbox_acme_contracts(pk=int(contract.vendor_id)).get().date_canceled is None
    return contract, operation


def _snapshot(contract, operation):
    return (
        AcmeContract.objects.filter(pk=contract.pk).values().get(),
        Operation.objects.filter(pk=operation.pk).values().get(),
        AuditEvent.objects.count(),
        vendor_request_count(),
    )


@pytest.mark.parametrize("how", ["operation", "contract"])
def test_a_cancel_that_failed_on_day_29_retried_on_day_31_is_refused_before_any_vendor_call(
    failed_cancel_on_day_29, run_tasks, how
):
    contract, operation = failed_cancel_on_day_29
    advance_vendor_clock(days=2)  # day 31: the window closed a day ago
    before = _snapshot(contract, operation)
    retry = {
        "operation": lambda: operations.retry(system_actor(), operation),
        "contract": lambda: acme.retry_last_operation(system_actor(), contract),
    }[how]
    with pytest.raises(RuleViolation) as refused:
        run_tasks(retry)
    assert refused.value.code == "cancel_window_closed"
    assert "Stop the renewal" in refused.value.message
    assert contract.cancel_window_closes_at.strftime("%Y-%m-%d") in refused.value.message
    assert _snapshot(contract, operation) == before  # nothing changed, nothing was called
    contract.refresh_from_db()
    assert contract.state == ContractState.ACTIVE and contract.cancelled_at is None
    assert [o.action for o in acme.options_today(contract)] == ["stop_renewal"]


def test_stop_renewal_is_what_remains_after_the_refused_retry(failed_cancel_on_day_29, run_tasks):
    contract, operation = failed_cancel_on_day_29
    advance_vendor_clock(days=2)
    with pytest.raises(RuleViolation):
        run_tasks(operations.retry, system_actor(), operation)
    run_tasks(acme.stop_renewal, system_actor(), contract)
    contract.refresh_from_db()
    assert contract.state == ContractState.RENEWAL_STOPPED and contract.auto_renew is False
    at_vendor = sandbox_acme_contracts(pk=int(contract.vendor_id)).get()
    assert at_vendor.date_canceled is None and at_vendor.auto_renew is False


def test_the_same_retry_while_the_window_is_open_cancels(failed_cancel_on_day_29, run_tasks):
    contract, operation = failed_cancel_on_day_29
    advance_vendor_clock(hours=12)  # still day 29
    run_tasks(operations.retry, system_actor(), operation)
    contract.refresh_from_db()
    operation.refresh_from_db()
    assert operation.state == OperationState.SUCCEEDED
    assert contract.state == ContractState.CANCELLED and contract.cancelled_at
    assert sandbox_acme_contracts(pk=int(contract.vendor_id)).get().date_canceled is not None


def test_a_retry_after_a_renewal_stop_on_day_29_is_refused_on_day_31_and_keeps_the_stop(
    failed_cancel_on_day_29, run_tasks
):
    contract, operation = failed_cancel_on_day_29
    run_tasks(acme.stop_renewal, system_actor(), contract)
    advance_vendor_clock(days=2)
    with pytest.raises(RuleViolation) as refused:
        run_tasks(operations.retry, system_actor(), operation)
    assert refused.value.code == "cancel_window_closed"
    contract.refresh_from_db()
    operation.refresh_from_db()
    assert contract.state == ContractState.RENEWAL_STOPPED and operation.state == OperationState.FAILED


def test_an_automatic_retry_that_comes_due_after_the_window_ends_with_the_contract_as_it_was(
    order, run_tasks, sweep_later, settings
):
    settings.TASK_MAX_ATTEMPTS = 3
    contract = order(auto_renew=True)
    advance_vendor_clock(days=29, hours=23)
    inject_fault("digicert", "http_503", method="DELETE", path=CONTRACT_PATH)
    run_tasks(acme.cancel_acme_contract, system_actor(), contract)
    contract.refresh_from_db()
    assert contract.state == ContractState.CANCEL_PENDING  # a retry is scheduled
    advance_vendor_clock(hours=2)  # the window closes before the retry runs
    sweep_later(4000)
    contract.refresh_from_db()
    operation = Operation.objects.get(kind="acme.cancel", object_id=str(contract.pk))
    assert operation.state == OperationState.FAILED  # DigiCert refused it: not retried again
    assert contract.state == ContractState.ACTIVE and contract.cancelled_at is None
    assert sandbox_acme_contracts(pk=int(contract.vendor_id)).get().date_canceled is None
    with pytest.raises(RuleViolation) as refused:  # and retrying it by hand is refused
        operations.retry(system_actor(), operation)
    assert refused.value.code == "cancel_window_closed"
