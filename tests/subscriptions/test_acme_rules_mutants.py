"""ACME rules, pinned where `make mutate` found changes no test noticed: the exact refusal a
partner sees (message and field errors), the text bounds at their limit, the term's last instant."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from core.errors import ValidationFailed
from subscriptions.acme.models import ContractState
from subscriptions.acme.rules import CONTACT_FIELDS, MAX_SANS, clean_organization, clean_sans, end_options

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def _refusal(call, *args, **kwargs) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as refusal:
        call(*args, **kwargs)
    return refusal.value


def test_an_organization_that_is_not_an_object_is_refused_on_its_field():
    refusal = _refusal(clean_organization, ["Acme"], field="org")
    assert (refusal.message, refusal.fields) == ("The organization is an object.", {"org": ["An object."]})


def test_an_organization_text_must_be_text_and_is_bounded_at_its_limit():
    assert clean_organization({"name": "x" * 64})["name"] == "x" * 64  # the limit itself is allowed
    too_long = _refusal(clean_organization, {"name": "x" * 65})
    assert too_long.message == "Some organization fields are invalid."
    assert too_long.fields == {"organization.name": ["At most 64 characters."]}
    not_text = _refusal(clean_organization, {"name": "Acme", "city": 5})
    assert not_text.fields == {"organization.city": ["Text."]}


def test_empty_organization_texts_are_left_out_not_kept_blank():
    cleaned = clean_organization({"name": " Acme ", "city": "", "zip": None, "state": "  "})
    assert cleaned == {"name": "Acme", "state": ""}  # blank-but-given text is kept, trimmed


def test_a_contact_with_unknown_fields_is_refused_with_the_fields_it_takes():
    refusal = _refusal(clean_organization, {"name": "Acme", "technical_contact": {"nickname": "x"}})
    takes = ", ".join(CONTACT_FIELDS)
    assert refusal.message == f"The technical contact takes {takes}."
    assert refusal.fields == {"organization.technical_contact": [f"An object of {takes}."]}


def test_the_organization_needs_its_name():
    refusal = _refusal(clean_organization, {"city": "Berlin"})
    assert (refusal.message, refusal.fields) == (
        "The organization needs its name.",
        {"organization.name": ["Required."]},
    )


def test_sans_refusals_say_what_is_wrong_on_the_field():
    empty = _refusal(clean_sans, " , ", field="domains")
    assert (empty.message, empty.fields) == (
        "Give at least one domain name.",
        {"domains": ["At least one domain name."]},
    )
    bad = _refusal(clean_sans, ["ok.example.com", "-bad.example.com"])
    assert bad.message == "Not valid domain names: -bad.example.com."
    assert bad.fields == {"sans": ["Invalid: -bad.example.com."]}


def test_sans_are_bounded_at_max_sans_and_253_characters():
    names = [f"host{i}.example.com" for i in range(MAX_SANS)]
    assert len(clean_sans(names)) == MAX_SANS
    over = _refusal(clean_sans, [*names, "one-more.example.com"])
    assert (over.message, over.fields) == (
        f"At most {MAX_SANS} domain names.",
        {"sans": [f"At most {MAX_SANS}."]},
    )
    longest = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 58]) + ".io"  # 253 characters
    assert len(longest) == 253 and clean_sans([longest]) == [longest]
    assert _refusal(clean_sans, ["e" + longest]).fields == {"sans": [f"Invalid: e{longest}."]}
    too_long = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 59]) + ".io"  # 254, every label valid
    assert len(too_long) == 254
    assert _refusal(clean_sans, [too_long]).fields == {"sans": [f"Invalid: {too_long}."]}


def test_sans_given_as_text_are_split_trimmed_lowered_and_deduplicated():
    assert clean_sans("A.example.com, b.example.com.\n a.example.com") == ["a.example.com", "b.example.com"]


def _contract(**overrides):
    values = {
        "state": ContractState.ACTIVE,
        "cancel_window_closes_at": None,
        "valid_till": NOW + timedelta(days=100),
        "auto_renew": True,
    }
    return SimpleNamespace(**{**values, **overrides})


def test_cancel_is_offered_up_to_the_window_closing_instant_with_the_whole_message():
    contract = _contract(cancel_window_closes_at=NOW)
    (cancel, _stop) = end_options(contract, NOW)
    assert cancel == end_options(contract, NOW)[0]
    assert cancel.action == "cancel" and cancel.until == NOW
    assert cancel.message == (
        "Cancel is available until 2026-03-01 12:00:00 UTC (30 days after creation); "
        "cancellation is irreversible and refunds eligible SANs."
    )
    assert [o.action for o in end_options(contract, NOW + timedelta(seconds=1))] == ["stop_renewal"]


def test_renewal_options_end_at_the_terms_last_instant():
    renewing = _contract(valid_till=NOW)
    assert end_options(renewing, NOW - timedelta(seconds=1))[0].action == "stop_renewal"
    assert end_options(renewing, NOW) == []
    stopped = _contract(valid_till=NOW, auto_renew=False, state=ContractState.RENEWAL_STOPPED)
    assert end_options(stopped, NOW - timedelta(seconds=1))[0].action == "resume_renewal"
    assert end_options(stopped, NOW) == []


def test_renewal_messages_name_the_terms_end_or_say_only_the_action_without_one():
    (stop,) = end_options(_contract(), NOW)
    assert stop.message == "Stop renewal: the contract stays active until 2026-06-09 and then ends."
    assert stop.until == NOW + timedelta(days=100)
    (resume,) = end_options(_contract(auto_renew=False), NOW)
    assert resume.message == "Resume renewal: possible until the term ends on 2026-06-09."
    (open_stop,) = end_options(_contract(valid_till=None), NOW)
    assert (open_stop.until, open_stop.message) == (None, "Stop renewal.")
    (open_resume,) = end_options(_contract(valid_till=None, auto_renew=False), NOW)
    assert (open_resume.until, open_resume.message) == (None, "Resume renewal.")


@pytest.mark.parametrize("state", [s for s in ContractState if s not in ("active", "renewal_stopped")])
def test_no_end_option_outside_an_active_or_renewal_stopped_contract(state):
    assert end_options(_contract(state=state), NOW) == []


def test_unknown_organization_fields_are_each_refused_by_name():
    refusal = _refusal(clean_organization, {"name": "Acme", "vat": "x", "colour": "red"})
    assert refusal.message == "Unknown organization fields: colour, vat."
    assert refusal.fields == {
        "organization.colour": ["Not a field of the organization."],
        "organization.vat": ["Not a field of the organization."],
    }


def test_a_contact_text_error_names_the_contact_field():
    refusal = _refusal(clean_organization, {"name": "Acme", "technical_contact": {"email": 5}}, field="org")
    assert refusal.fields == {"org.technical_contact.email": ["Text."]}
