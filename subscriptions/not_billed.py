"""Every paid vendor service is billed, or carries an explicit, audited reason why not (domain.md).

A direct paid change (an ACME order, a zone upgrade, an add-on purchase, a change that costs more)
that billing does not make (`billed=False`) needs the reason it is not billed: refused without one
before anything is written, and sent with `signals.unbilled_service_started` once the change is
recorded, inside the same transaction (reconciliation keeps it as a not-billed mark, audited).
Every face (admin, dashboard, API) passes what the user typed; none of them decides. An ACME order
of a partner billed per subaccount needs none: DigiCert bills it, and the service gives that reason
(partner.billing_model).
"""

from __future__ import annotations

from core.actor import Actor
from core.errors import ValidationFailed
from subscriptions import signals
from subscriptions.error_codes import SubscriptionErrorCode

FIELD = "not_billed_reason"
CODE = SubscriptionErrorCode.NOT_BILLED_REASON_REQUIRED
LABEL = "Not billed because"
HELP_TEXT = (
    "This is not sold through billing: say why (e.g. free for a partner's own use). "
    "Recorded in the audit log and shown in reconciliation. Not needed for ACME contracts of a "
    "partner billed per subaccount: DigiCert bills those."
)


def required_reason(reason: str | None, what: str) -> str:
    """The reason, cleaned; refused (field error, `not_billed_reason_required`) when blank."""
    cleaned = " ".join((reason or "").split())
    if not cleaned:
        raise ValidationFailed(
            f"{what} is paid at the vendor and billing does not provide it: say why it is not billed "
            "(or sell it through a checkout).",
            code=CODE,
            fields={FIELD: "Required: say why it is not billed."},
        )
    return cleaned


def started(actor: Actor, target, reason: str) -> None:
    """Inside the change's transaction, once recorded: the reason goes with the service."""
    signals.unbilled_service_started.send(type(target), target=target, reason=reason, actor=actor)
