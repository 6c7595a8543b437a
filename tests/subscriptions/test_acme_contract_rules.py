"""The ACME rules about one contract that need no database: only a live contract can change, a
cancellation only inside DigiCert's 30 days, and drift is every compared field that differs."""

from datetime import UTC, datetime, timedelta

import pytest

from core import clock
from core.errors import RuleViolation
from subscriptions.acme import rules
from subscriptions.acme.models import AcmeContract, ContractState

STARTED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
TERM_ENDS = datetime(2027, 3, 1, 12, 0, 0, tzinfo=UTC)


def _contract(**fields) -> AcmeContract:
    values = dict(state=ContractState.ACTIVE, sans=["b.example", "a.example"], auto_renew=True)
    values.update(term_started_at=STARTED, valid_till=TERM_ENDS)
    values.update(fields)
    return AcmeContract(**values)


def _refused(call, *args) -> RuleViolation:
    with pytest.raises(RuleViolation) as refusal:
        call(*args)
    return refusal.value


@pytest.mark.parametrize("state", [ContractState.ACTIVE, ContractState.RENEWAL_STOPPED])
def test_a_live_contract_can_be_changed(state):
    assert rules.require_live(_contract(state=state)) is None


def test_a_cancelled_contract_is_refused_as_irreversible():
    refusal = _refused(rules.require_live, _contract(state=ContractState.CANCELLED))
    assert refusal.code == "contract_cancelled"
    assert refusal.message == "This contract is cancelled; cancellation is irreversible."


@pytest.mark.parametrize(
    "state",
    [ContractState.PENDING, ContractState.CANCEL_PENDING, ContractState.EXPIRED, ContractState.FAILED],
)
def test_a_contract_that_is_not_live_is_refused_naming_its_state(state):
    refusal = _refused(rules.require_live, _contract(state=state))
    assert refusal.code == "contract_not_active"
    assert refusal.message == (
        f"This contract is {state.label.lower()}; only an active contract can be changed."
    )


def test_a_cancellation_is_allowed_until_the_thirtieth_day_included(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: STARTED + timedelta(days=30))
    assert rules.require_cancel_window(_contract()) is None


def test_a_cancellation_after_thirty_days_is_refused_with_the_day_it_closed(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: STARTED + timedelta(days=30, seconds=1))
    refusal = _refused(rules.require_cancel_window, _contract())
    assert refusal.code == "cancel_window_closed"
    assert refusal.message == (
        "Cancellation is only possible within 30 days of creation (it closed on 2026-03-31). Stop the "
        "renewal instead: the contract then stays active until 2027-03-01 and ends."
    )


def test_a_contract_without_a_term_start_cannot_be_cancelled(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: STARTED)
    refusal = _refused(rules.require_cancel_window, _contract(term_started_at=None, valid_till=None))
    assert refusal.code == "cancel_window_closed"
    assert refusal.message == (
        "Cancellation is only possible within 30 days of creation. Stop the renewal instead: the "
        "contract then stays active until the end of its term and ends."
    )


def _view(contract: AcmeContract, **changes) -> dict:
    view = dict(auto_renew=contract.auto_renew, sans=sorted(contract.sans), valid_till=TERM_ENDS.isoformat())
    view.update(changes)
    return view


def test_no_drift_when_digicert_agrees_whatever_the_order_of_the_sans():
    contract = _contract()
    assert rules.compute_drift(contract, _view(contract), ContractState.ACTIVE) == {}


def test_a_stopped_renewal_is_live_for_drift_its_renewal_is_auto_renews_business():
    contract = _contract(state=ContractState.RENEWAL_STOPPED, auto_renew=False)
    assert rules.compute_drift(contract, _view(contract), ContractState.ACTIVE) == {}


def test_drift_names_every_field_that_differs_with_both_values():
    contract = _contract()
    view = _view(contract, auto_renew=False, sans=["a.example"], valid_till="2028-03-01T12:00:00+00:00")
    assert rules.compute_drift(contract, view, ContractState.CANCELLED) == {
        "auto_renew": {"ours": True, "vendor": False},
        "sans": {"ours": ["a.example", "b.example"], "vendor": ["a.example"]},
        "state": {"ours": ContractState.ACTIVE, "vendor": ContractState.CANCELLED},
        "valid_till": {"ours": TERM_ENDS.isoformat(), "vendor": "2028-03-01T12:00:00+00:00"},
    }


def test_a_contract_that_is_not_live_compares_its_own_state_and_no_term_as_none():
    contract = _contract(state=ContractState.EXPIRED, valid_till=None)
    view = _view(contract, valid_till=None)
    assert rules.compute_drift(contract, view, ContractState.EXPIRED) == {}
    assert rules.compute_drift(contract, view, ContractState.ACTIVE) == {
        "state": {"ours": ContractState.EXPIRED, "vendor": ContractState.ACTIVE}
    }


def test_only_renewal_and_sans_may_be_pushed_back_to_digicert():
    assert rules.PUSHABLE_FIELDS == ("auto_renew", "sans")
    assert set(rules.PUSHABLE_FIELDS) < set(rules.DRIFT_FIELDS)


def test_blank_entries_in_a_san_list_are_ignored_not_refused():
    """A form or script that sends an empty or whitespace-only SAN beside real ones orders the real ones."""
    assert rules.clean_sans(["a.example", "   ", "", "A.Example."]) == ["a.example"]
