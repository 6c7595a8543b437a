"""The ACME admin's forms and confirmed actions: what each does to one contract, or the service's refusal."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms

from core.admin_confirm import ConfirmRow
from core.errors import DomainError, RuleViolation
from partner.models import Customer, SubaccountState, Vendor
from subscriptions.acme import certificates
from subscriptions.acme import services as acme
from subscriptions.acme.forms import RENEWAL_CHOICES, OrderForm
from subscriptions.acme.models import AcmeContract, AcmeProduct
from subscriptions.acme.rules import require_cancel_window, require_live


class AdminOrderForm(OrderForm):
    """The dashboard's order form for support: any product, and the customer, offered only where
    a contract can live (an active DigiCert subaccount, as the ordering service requires)."""

    customer = forms.ModelChoiceField(
        queryset=Customer.objects.none(),
        help_text="Customers with an active DigiCert subaccount: a contract lives in it and uses its key.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        customer = self.fields["customer"]
        customer.queryset = (
            Customer.objects.filter(
                subaccounts__vendor=Vendor.DIGICERT, subaccounts__state=SubaccountState.ACTIVE
            )
            .select_related("partner")
            .order_by("partner__name", "name")
            .distinct()
        )
        customer.label_from_instance = lambda c: f"{c.name} ({c.partner.name})"
        self.fields["product"].choices = AcmeProduct.choices
        self.fields["renewal"].choices = RENEWAL_CHOICES  # the customer's account setting is not known here
        self.order_fields(["customer"])


class SansForm(forms.Form):
    sans = forms.CharField(label="Domain names")


# The contract page's buttons that run at once (url action: service call, success message);
# cancel and regenerate-with-revoke go through the confirmation page (CONFIRMED_ACTIONS).
CONTRACT_ACTIONS = {
    "stop_renewal": (acme.stop_renewal, "Stopping renewal at DigiCert."),
    "resume_renewal": (acme.resume_renewal, "Resuming renewal at DigiCert."),
    "regenerate_keep": (
        lambda actor, c: acme.regenerate_credentials(actor, c, revoke_existing=False),
        "New credentials requested; the old ones stay valid.",
    ),
    "sync": (acme.sync_acme_contract, "Sync with DigiCert queued."),
    "retry": (acme.retry_last_operation, "The failed operation is queued again."),
    "refresh_certificates": (
        certificates.refresh_certificates,
        "Reading the certificate list from DigiCert.",
    ),
}


def _cancel_change(contract: AcmeContract) -> str:
    """Cancel as the service decides it, by its own rules: live, inside DigiCert's 30 days."""
    require_live(contract)
    require_cancel_window(contract)
    return (
        "Cancelled at DigiCert for good: the directory URL stops issuing, its "
        f"{len(contract.sans)} domain name(s) ({', '.join(contract.sans)}) are released and each "
        "eligible SAN is refunded."
    )


def _stop_renewal_change(contract: AcmeContract) -> str:
    """Stop renewal where it applies today (acme.options_today); else what does (the service's
    exact refusal comes on Confirm)."""
    require_live(contract)
    options = acme.options_today(contract)
    option = next((o for o in options if o.action == "stop_renewal"), None)
    if option is None:
        raise RuleViolation(
            "Does not apply today. " + (" ".join(o.message for o in options) or "The term has ended.")
        )
    return option.message


def _regenerate_change(contract: AcmeContract) -> str:
    """Regenerating with revoke: a live contract (the service's rule); the old pair stops at once."""
    require_live(contract)
    return (
        "New EAB credentials from DigiCert, to reveal once; the current ones are revoked at once: "
        "ACME clients still using them fail until they are given the new pair."
    )


@dataclass(frozen=True)
class ConfirmedAction:
    """An irreversible or bulk ACME operation: the service, the words of its confirmation page,
    and what it will do to one contract (raising the service's refusal when it will not)."""

    service: Callable  # (actor, contract)
    title: str
    intro: str
    confirm: str
    change: Callable[[AcmeContract], str]
    done: str
    danger: bool = False

    def row(self, contract: AcmeContract) -> ConfirmRow:
        closes = contract.cancel_window_closes_at
        cells = (contract.customer, f"{closes:%Y-%m-%d %H:%M:%S}" if closes else "")
        try:
            return ConfirmRow(contract, change=self.change(contract), cells=cells)
        except DomainError as error:
            return ConfirmRow(contract, refusal=f"{error.message} [{error.code}]", cells=cells)


CANCEL = ConfirmedAction(
    acme.cancel_acme_contract,
    "Cancel ACME contracts",
    "This cannot be undone. DigiCert accepts a cancellation only within 30 days of the contract's "
    "creation; past that, stop the renewal instead.",
    "Yes, cancel at DigiCert",
    _cancel_change,
    "cancellation sent to DigiCert; it is irreversible.",
    danger=True,
)
STOP_RENEWAL = ConfirmedAction(
    acme.stop_renewal,
    "Stop renewal",
    "DigiCert stops renewing each contract: it stays active until the end of its term, then ends. "
    "Renewal can be resumed while the term runs.",
    "Stop renewal",
    _stop_renewal_change,
    "stopping renewal at DigiCert.",
)
REGENERATE = ConfirmedAction(
    acme.regenerate_credentials,
    "Regenerate credentials",
    "The current EAB credentials are revoked: an ACME client still configured with them can no longer "
    "order certificates. To switch without downtime, regenerate and keep the old ones instead.",
    "Regenerate and revoke",
    _regenerate_change,
    "new credentials requested; the old ones are revoked.",
    danger=True,
)
# The contract page's buttons that go through the confirmation page first.
CONFIRMED_ACTIONS = {"cancel": CANCEL, "regenerate": REGENERATE}
