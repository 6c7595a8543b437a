"""DigiCert ACME rules that need no database: SAN syntax, renewal decision, which action applies
today, what may change a live contract, the cancel window, and what drift is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from core import clock
from core.error_codes import CoreErrorCode
from core.errors import RuleViolation, ValidationFailed
from core.validation import check_country
from subscriptions.acme.models import LIVE_STATES, AcmeContract, AutoRenewSource, ContractState
from subscriptions.error_codes import SubscriptionErrorCode

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
SAN_RE = re.compile(rf"^(\*\.)?({_LABEL}\.)+[a-z]{{2,63}}$")
MAX_SANS = 250


# The OV/EV organization DigiCert documents (vendors.md 1.1), each text bounded before any call:
# X.509's upper bounds where the field ends up in a certificate (RFC 5280: O 64, L and ST 128).
ORGANIZATION_FIELDS = {
    "name": 64,
    "assumed_name": 64,
    "address": 128,
    "address2": 128,
    "city": 128,
    "state": 128,
    "zip": 40,
    "telephone": 32,
}
CONTACT_FIELDS = {"first_name": 64, "last_name": 64, "email": 254, "telephone": 32, "job_title": 64}
CONTACTS = ("organization_contact", "technical_contact")


def clean_organization(organization, *, field: str = "organization") -> dict | None:
    """The OV/EV organization: only its documented fields, each text bounded, an ISO country."""
    if not organization:
        return None
    if not isinstance(organization, dict):
        raise ValidationFailed("The organization is an object.", fields={field: "An object."})
    unknown = sorted(set(organization) - set(ORGANIZATION_FIELDS) - set(CONTACTS) - {"country"})
    if unknown:
        raise ValidationFailed(
            f"Unknown organization fields: {', '.join(unknown)}.",
            fields={f"{field}.{name}": "Not a field of the organization." for name in unknown},
        )
    cleaned = _bounded_texts(organization, ORGANIZATION_FIELDS, field)
    if not cleaned.get("name"):
        raise ValidationFailed("The organization needs its name.", fields={f"{field}.name": "Required."})
    if "country" in organization:
        cleaned["country"] = check_country(organization["country"], field=f"{field}.country")
    for contact in CONTACTS:
        if organization.get(contact) is not None:
            value = organization[contact]
            if not isinstance(value, dict) or set(value) - set(CONTACT_FIELDS):
                raise ValidationFailed(
                    f"The {contact.replace('_', ' ')} takes {', '.join(CONTACT_FIELDS)}.",
                    fields={f"{field}.{contact}": f"An object of {', '.join(CONTACT_FIELDS)}."},
                )
            cleaned[contact] = _bounded_texts(value, CONTACT_FIELDS, f"{field}.{contact}")
    return cleaned


def _bounded_texts(values: dict, bounds: dict[str, int], field: str) -> dict:
    cleaned, errors = {}, {}
    for name, limit in bounds.items():
        if values.get(name) in (None, ""):
            continue
        value = values[name]
        if not isinstance(value, str):
            errors[f"{field}.{name}"] = "Text."
        elif len(value.strip()) > limit:
            errors[f"{field}.{name}"] = f"At most {limit} characters."
        else:
            cleaned[name] = value.strip()
    if errors:
        raise ValidationFailed("Some organization fields are invalid.", fields=errors)
    return cleaned


def clean_sans(sans, *, field: str = "sans") -> list[str]:
    """Lower-case, de-duplicated domain names; a wildcard only as the leftmost label."""
    if isinstance(sans, str):
        sans = [s for s in re.split(r"[\s,]+", sans) if s]
    cleaned = list(dict.fromkeys(s.strip().lower().rstrip(".") for s in sans or [] if s and s.strip()))
    if not cleaned:
        raise ValidationFailed("Give at least one domain name.", fields={field: "At least one domain name."})
    bad = [s for s in cleaned if len(s) > 253 or not SAN_RE.match(s)]
    if bad:
        raise ValidationFailed(
            f"Not valid domain names: {', '.join(bad)}.", fields={field: f"Invalid: {', '.join(bad)}."}
        )
    if len(cleaned) > MAX_SANS:
        raise ValidationFailed(f"At most {MAX_SANS} domain names.", fields={field: f"At most {MAX_SANS}."})
    return cleaned


def renewal_source(requested: bool | None, account_setting: bool | None) -> tuple[bool, str]:
    """DigiCert's auto_renew resolution: the order's value wins, else the account setting, else off."""
    if requested is not None:
        return requested, AutoRenewSource.ORDER
    if account_setting is not None:
        return account_setting, AutoRenewSource.ACCOUNT_SETTING
    return False, AutoRenewSource.DEFAULT


@dataclass(frozen=True)
class EndOption:
    """How a contract can be ended today: `cancel`, `stop_renewal`, `resume_renewal`, or none."""

    action: str
    until: datetime | None
    message: str


def end_options(contract, now: datetime) -> list[EndOption]:
    """Which of cancel / stop renewal / resume renewal applies today, and until when."""
    if contract.state not in (ContractState.ACTIVE, ContractState.RENEWAL_STOPPED):
        return []
    options = []
    closes = contract.cancel_window_closes_at
    if closes and now <= closes:
        options.append(
            EndOption(
                "cancel",
                closes,
                f"Cancel is available until {closes:%Y-%m-%d %H:%M:%S} UTC (30 days after creation); "
                "cancellation is irreversible and refunds eligible SANs.",
            )
        )
    term_runs = contract.valid_till is None or now < contract.valid_till
    if contract.auto_renew and term_runs:
        options.append(
            EndOption(
                "stop_renewal",
                contract.valid_till,
                f"Stop renewal: the contract stays active until {contract.valid_till:%Y-%m-%d} and then ends."
                if contract.valid_till
                else "Stop renewal.",
            )
        )
    if not contract.auto_renew and term_runs:
        options.append(
            EndOption(
                "resume_renewal",
                contract.valid_till,
                f"Resume renewal: possible until the term ends on {contract.valid_till:%Y-%m-%d}."
                if contract.valid_till
                else "Resume renewal.",
            )
        )
    return options


def require_live(contract: AcmeContract) -> None:
    """Only a live contract (active, or running out its term) can be changed; a cancelled one never."""
    if contract.state == ContractState.CANCELLED:
        raise RuleViolation(
            "This contract is cancelled; cancellation is irreversible.",
            code=SubscriptionErrorCode.CONTRACT_CANCELLED,
        )
    if contract.state not in LIVE_STATES:
        raise RuleViolation(
            f"This contract is {contract.get_state_display().lower()}; only an active contract can be changed.",
            code=SubscriptionErrorCode.CONTRACT_NOT_ACTIVE,
        )


def require_cancel_window(contract: AcmeContract) -> None:
    """DigiCert accepts a cancellation only within 30 days of creation: refuse before calling it."""
    closes = contract.cancel_window_closes_at
    if closes is None or clock.now() > closes:
        until = f" (it closed on {closes:%Y-%m-%d})" if closes else ""
        raise RuleViolation(
            f"Cancellation is only possible within 30 days of creation{until}. Stop the renewal "
            f"instead: the contract then stays active until {term_end_label(contract.valid_till)} and ends.",
            code=CoreErrorCode.CANCEL_WINDOW_CLOSED,
        )


def term_end_label(value: datetime | None) -> str:
    """When a contract's term ends, in a refusal's words."""
    return f"{value:%Y-%m-%d}" if value else "the end of its term"


DRIFT_FIELDS = ("auto_renew", "sans", "state", "valid_till")  # what a sync compares with DigiCert
PUSHABLE_FIELDS = ("auto_renew", "sans")  # what our side may send back to DigiCert (resolve drift)


def compute_drift(contract: AcmeContract, view: dict, vendor_state: str) -> dict:
    """Fields where our record and the vendor's disagree, as {field: {"ours", "vendor"}}."""
    ours = {
        "auto_renew": contract.auto_renew,
        "sans": sorted(contract.sans),
        # Whether renewal is on is the auto_renew field's business; the state compares liveness.
        "state": ContractState.ACTIVE if contract.state in LIVE_STATES else contract.state,
        "valid_till": contract.valid_till.isoformat() if contract.valid_till else None,
    }
    theirs = {
        "auto_renew": view["auto_renew"],
        "sans": view["sans"],
        "state": vendor_state,
        "valid_till": view["valid_till"],
    }
    return {f: {"ours": ours[f], "vendor": theirs[f]} for f in DRIFT_FIELDS if ours[f] != theirs[f]}
