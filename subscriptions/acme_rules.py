"""DigiCert ACME rules that need no database: SAN syntax, renewal decision, which action applies today."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from core.errors import ValidationFailed
from subscriptions.models import AutoRenewSource, ContractState

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
SAN_RE = re.compile(rf"^(\*\.)?({_LABEL}\.)+[a-z]{{2,63}}$")
MAX_SANS = 250


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
                f"Cancel is available until {closes:%Y-%m-%d %H:%M} UTC (30 days after creation); "
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
