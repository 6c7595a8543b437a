"""DigiCert ACME contracts: one service per operation (order, cancel, stop or resume renewal,
SANs, credentials, sync, drift). Each checks the actor and the rule, writes the contract and records
an operation; acme/handlers.py performs the vendor call in a task. Every ACME call uses the
customer's subaccount key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core import audit, clock, operations, states
from core.actor import Actor
from core.error_codes import CoreErrorCode
from core.errors import RuleViolation, ValidationFailed
from core.models import Operation, OperationState
from partner import billing_model
from partner import signals as partner_signals
from partner.access import Can, require
from partner.models import Customer, Subaccount, SubaccountState, Vendor
from subscriptions import not_billed, selectors
from subscriptions.acme import handlers
from subscriptions.acme.clients import client_configs
from subscriptions.acme.models import CONTRACT_MOVES, LIVE_STATES, AcmeContract, AcmeProduct, ContractState
from subscriptions.acme.rules import (
    PUSHABLE_FIELDS,
    clean_organization,
    clean_sans,
    end_options,
    require_cancel_window,
    require_live,
    term_end_label,
)
from subscriptions.error_codes import SubscriptionErrorCode
from subscriptions.rules import require_at_vendor

# --- Face side ----------------------------------------------------------------------------------


def order_acme_contract(
    actor: Actor,
    customer: Customer,
    *,
    product: str,
    sans,
    auto_renew: bool | None = None,
    organization: dict | None = None,
    billed: bool = False,
    not_billed_reason: str = "",
) -> AcmeContract:
    """Order an ACME contract in the customer's DigiCert subaccount (created at the vendor in a task).

    Billing's own order (`billed=True`) is what a checkout sold; any other is a paid service that
    nothing bills, so it needs `not_billed_reason` (see subscriptions.not_billed), unless DigiCert
    bills the partner's subaccounts itself (billing model per subaccount: that is the reason).
    """
    require(actor, Can.MANAGE_SERVICES, partner=customer.partner, customer=customer)
    if product not in AcmeProduct.values:
        raise ValidationFailed(
            f"Unknown product {product!r}; choose one of {', '.join(AcmeProduct.values)}.",
            code=SubscriptionErrorCode.UNKNOWN_PRODUCT,
            fields={"product": f"One of {AcmeProduct.values}."},
        )
    sans = clean_sans(sans)
    organization = clean_organization(organization)
    if AcmeProduct.needs_organization(product) and not organization:
        raise ValidationFailed(
            f"{AcmeProduct(product).label} certificates are organization-validated: give the organization.",
            code=SubscriptionErrorCode.ORGANIZATION_REQUIRED,
            fields={"organization": "Required for OV and EV products."},
        )
    subaccount = Subaccount.objects.filter(customer=customer, vendor=Vendor.DIGICERT).first()
    if subaccount is None or subaccount.state != SubaccountState.ACTIVE:
        raise RuleViolation(
            f"{customer} has no active DigiCert subaccount yet; create it first (ACME contracts live "
            "in the customer's own subaccount and use its key).",
            code=SubscriptionErrorCode.SUBACCOUNT_NOT_ACTIVE,
        )
    if billed:
        reason = ""
    elif billing_model.digicert_bills_subaccounts(customer.partner):
        reason = billing_model.NOT_BILLED_REASON
    else:
        reason = not_billed.required_reason(not_billed_reason, "Ordering an ACME contract")
    with transaction.atomic():
        contract = AcmeContract.objects.create(
            partner=customer.partner,
            customer=customer,
            subaccount=subaccount,
            product=product,
            sans=sans,
            organization=organization or None,
            auto_renew_requested=auto_renew,
        )
        audit.record(actor, "acme.ordered", contract, partner_id=contract.partner_id)
        operations.start(actor, contract, handlers.CreateContract.kind, partner_id=contract.partner_id)
        if reason:
            not_billed.started(actor, contract, reason)
    return contract


def cancel_acme_contract(actor: Actor, contract: AcmeContract) -> AcmeContract:
    """Cancel within 30 days of creation; afterwards refused before any vendor call (stop renewal instead)."""
    _require_manage(actor, contract)
    with transaction.atomic():
        contract = _lock(contract)
        require_live(contract)
        require_cancel_window(contract)
        return _change_state(
            actor,
            contract,
            ContractState.CANCEL_PENDING,
            handlers.CancelContract.kind,
            params={"previous_state": contract.state},
        )


def stop_renewal(actor: Actor, contract: AcmeContract) -> AcmeContract:
    """Stop renewal (PATCH auto_renew false): the contract stays active until valid_till."""
    return _set_auto_renew(actor, contract, False)


def resume_renewal(actor: Actor, contract: AcmeContract) -> AcmeContract:
    """Resume renewal (PATCH auto_renew true) while the current term still runs."""
    return _set_auto_renew(actor, contract, True)


def add_sans(actor: Actor, contract: AcmeContract, sans) -> AcmeContract:
    """Add domain names to a contract (refused once it is cancelled)."""
    new = [s for s in clean_sans(sans) if s not in contract.sans]
    if not new:
        raise ValidationFailed(
            "Those domain names are already on the contract.", fields={"sans": "Nothing new."}
        )
    return _change_sans(actor, contract, handlers.AddSans.kind, new)


def remove_sans(actor: Actor, contract: AcmeContract, sans) -> AcmeContract:
    """Remove domain names from a contract; at least one must remain (refused once cancelled)."""
    gone = [s for s in clean_sans(sans) if s in contract.sans]
    if not gone:
        raise ValidationFailed(
            "None of those domain names is on the contract.", fields={"sans": "Not on it."}
        )
    if len(gone) == len(contract.sans):
        raise ValidationFailed(
            "A contract keeps at least one domain name.",
            code=SubscriptionErrorCode.LAST_SAN,
            fields={"sans": "Keep at least one."},
        )
    return _change_sans(actor, contract, handlers.RemoveSans.kind, gone)


def regenerate_credentials(
    actor: Actor, contract: AcmeContract, *, revoke_existing: bool = True
) -> AcmeContract:
    """New EAB credentials; `revoke_existing=False` keeps the old ones valid for a zero-downtime switch."""
    _require_manage(actor, contract)
    with transaction.atomic():
        contract = _lock(contract)
        require_live(contract)
        _request(
            actor,
            contract,
            "acme.credentials_regeneration_requested",
            handlers.RegenerateCredentials.kind,
            changes={"revoke_existing": [None, revoke_existing]},
            params={"revoke_existing": revoke_existing},
        )
    return contract


@dataclass(frozen=True)
class RevealedCredentials:
    directory_url: str
    key_id: str
    hmac_key: str
    configs: list[dict]


def reveal_credentials(actor: Actor, contract: AcmeContract) -> RevealedCredentials:
    """Show the EAB HMAC key in full, once (audited); afterwards only regeneration shows a new one."""
    require(actor, Can.REVEAL_SECRETS, partner=contract.partner, customer=contract.customer)
    with transaction.atomic():
        contract = _lock(contract)
        if not contract.eab_hmac_key:
            raise RuleViolation(
                "This contract has no credentials yet.", code=SubscriptionErrorCode.CREDENTIALS_NOT_READY
            )
        if contract.credentials_revealed_at:
            raise RuleViolation(
                f"These credentials were already shown on {contract.credentials_revealed_at:%Y-%m-%d %H:%M:%S} UTC "
                "and are never shown twice. Regenerate credentials to get a new pair.",
                code=SubscriptionErrorCode.CREDENTIALS_ALREADY_REVEALED,
            )
        contract.credentials_revealed_at = timezone.now()
        contract.save(update_fields=["credentials_revealed_at", "updated_at"])
        audit.record(
            actor,
            "acme.credentials_revealed",
            contract,
            partner_id=contract.partner_id,
            changes={"credentials_revealed_at": [None, contract.credentials_revealed_at.isoformat()]},
        )
    hmac_key = contract.eab_hmac_key.reveal()
    return RevealedCredentials(
        directory_url=contract.directory_url,
        key_id=contract.eab_key_id,
        hmac_key=hmac_key,
        configs=client_configs(
            directory_url=contract.directory_url,
            key_id=contract.eab_key_id,
            hmac_key=hmac_key,
            sans=contract.sans,
            email=contract.customer.contact_email,
        ),
    )


def sync_acme_contract(actor: Actor, contract: AcmeContract) -> AcmeContract:
    """Read the vendor's view (GET /acme/{id}) and record any drift from ours."""
    _require_manage(actor, contract)
    require_at_vendor(contract, "contract", "DigiCert")
    with transaction.atomic():
        operations.start(actor, contract, handlers.SyncContract.kind, partner_id=contract.partner_id)
    return contract


def resolve_drift(actor: Actor, contract: AcmeContract, field: str, *, keep: str) -> AcmeContract:
    """Settle one drifted field: `keep="vendor"` accepts the vendor's value, `keep="ours"` pushes ours."""
    _require_manage(actor, contract)
    if keep not in ("vendor", "ours"):
        raise ValidationFailed("Keep either 'vendor' or 'ours'.", fields={"keep": "vendor or ours"})
    with transaction.atomic():
        contract = _lock(contract)
        if field not in contract.drift:
            raise RuleViolation(f"There is no drift on {field}.", code=SubscriptionErrorCode.NO_DRIFT)
        if keep == "vendor":
            before = audit.snapshot(contract)
            _accept_vendor_value(contract, field, contract.drift[field]["vendor"])
            contract.drift = {k: v for k, v in contract.drift.items() if k != field}
            contract.save()
            audit.record(
                actor,
                "acme.drift_accepted",
                contract,
                partner_id=contract.partner_id,
                before=before,
                note=f"accepted DigiCert's {field}",
            )
            return contract
        if field not in PUSHABLE_FIELDS:
            raise RuleViolation(
                f"The vendor owns {field}; it cannot be pushed. Accept the vendor's value instead.",
                code=SubscriptionErrorCode.CANNOT_PUSH_FIELD,
            )
        _request(
            actor,
            contract,
            "acme.drift_push_requested",
            handlers.PushContract.kind,
            changes={field: [contract.drift[field]["vendor"], contract.drift[field]["ours"]]},
            params={"field": field},
        )
    return contract


def retry_last_operation(actor: Actor, contract: AcmeContract) -> Operation:
    """Retry the contract's most recent failed vendor operation."""
    _require_manage(actor, contract)
    failed = (
        Operation.objects.filter(
            object_id=str(contract.pk), content_type__model="acmecontract", state=OperationState.FAILED
        )
        .order_by("-created_at")
        .first()
    )
    if failed is None:
        raise RuleViolation(
            "Nothing to retry: no operation of this contract failed.", code=CoreErrorCode.NOT_RETRYABLE
        )
    return operations.retry(actor, failed)


def read_account_settings(actor: Actor, subaccount: Subaccount) -> Subaccount:
    """Refresh a DigiCert subaccount's auto_renew_subscription setting (GET /account/settings)."""
    _require_digicert_subaccount(actor, subaccount)
    with transaction.atomic():
        operations.start(
            actor, subaccount, handlers.ReadAccountSettings.kind, partner_id=subaccount.partner_id
        )
    return subaccount


def set_account_auto_renew(actor: Actor, subaccount: Subaccount, value: bool | None) -> Subaccount:
    """Change the subaccount's auto_renew_subscription setting (None puts back the vendor default)."""
    _require_digicert_subaccount(actor, subaccount)
    with transaction.atomic():
        _request(
            actor,
            subaccount,
            "digicert.account_setting_requested",
            handlers.SetAccountAutoRenew.kind,
            changes={"auto_renew_setting": [subaccount.auto_renew_setting, value]},
            params={"value": value},
        )
    return subaccount


def apply_auto_renew_default(sender, subaccount: Subaccount, actor: Actor, **kwargs) -> None:
    """A new DigiCert subaccount takes the partner's auto-renew default as its account setting
    (through set_account_auto_renew: one operation, retried on failure, never a second subaccount)."""
    default = subaccount.partner.auto_renew_default
    if subaccount.vendor != Vendor.DIGICERT or default is None:
        return
    set_account_auto_renew(actor, subaccount, default)


# Connected here, where the handler lives (imported at start-up by SubscriptionsConfig.ready):
# partner never imports subscriptions, it only says a subaccount is ready.
partner_signals.subaccount_activated.connect(apply_auto_renew_default, dispatch_uid="acme-auto-renew-default")


def queue_scheduled_syncs() -> int:
    """Scheduled: sync every live contract that has no operation in flight."""
    busy = selectors.with_pending_operation(AcmeContract)
    contracts = AcmeContract.objects.filter(state__in=[*LIVE_STATES, ContractState.CANCEL_PENDING]).exclude(
        vendor_id=""
    )
    # Materialised first: enqueueing through the ORM broker must not interleave with an open cursor.
    due = [contract for contract in contracts if str(contract.pk) not in busy]
    for contract in due:
        with transaction.atomic():
            operations.start(
                Actor.system(), contract, handlers.SyncContract.kind, partner_id=contract.partner_id
            )
    return len(due)


def options_today(contract: AcmeContract) -> list:
    """What ending options apply to the contract today (for every face that offers them)."""
    return end_options(contract, clock.now())


# --- helpers ------------------------------------------------------------------------------------


def _require_manage(actor: Actor, contract: AcmeContract) -> None:
    require(actor, Can.MANAGE_SERVICES, partner=contract.partner, customer=contract.customer)


def _require_digicert_subaccount(actor: Actor, subaccount: Subaccount) -> None:
    require(actor, Can.MANAGE_SERVICES, partner=subaccount.partner, customer=subaccount.customer)
    if subaccount.vendor != Vendor.DIGICERT or subaccount.state != SubaccountState.ACTIVE:
        raise RuleViolation(
            "Account settings exist for active DigiCert subaccounts only.",
            code=SubscriptionErrorCode.SUBACCOUNT_NOT_ACTIVE,
        )


def _lock(contract: AcmeContract) -> AcmeContract:
    return (
        AcmeContract.objects.select_for_update()
        .select_related("partner", "customer", "subaccount")
        .get(pk=contract.pk)
    )


def _change_state(actor, contract, state, kind, *, params=None) -> AcmeContract:
    states.move(contract, state, CONTRACT_MOVES, actor=actor, action=f"acme.{kind.split('.')[1]}_requested")
    operations.start(actor, contract, kind, partner_id=contract.partner_id, params=params)
    return contract


def _request(actor: Actor, target, action: str, kind: str, *, changes: dict, params: dict) -> None:
    """Rule: a vendor change is audited as asked for (what would change) when its operation is queued."""
    audit.record(actor, action, target, partner_id=target.partner_id, changes=changes)
    operations.start(actor, target, kind, partner_id=target.partner_id, params=params)


def _set_auto_renew(actor: Actor, contract: AcmeContract, value: bool) -> AcmeContract:
    _require_manage(actor, contract)
    with transaction.atomic():
        contract = _lock(contract)
        require_live(contract)
        if contract.auto_renew is value:
            state = "on" if value else "already stopped"
            raise RuleViolation(
                f"Renewal is {state} for this contract.", code=SubscriptionErrorCode.RENEWAL_UNCHANGED
            )
        if contract.valid_till and clock.now() >= contract.valid_till:
            raise RuleViolation(
                f"The term ended on {term_end_label(contract.valid_till)}.",
                code=SubscriptionErrorCode.TERM_ENDED,
            )
        _request(
            actor,
            contract,
            "acme.renewal_change_requested",
            handlers.SetAutoRenew.kind,
            changes={"auto_renew": [contract.auto_renew, value]},
            params={"auto_renew": value},
        )
    return contract


def _change_sans(actor, contract, kind, sans) -> AcmeContract:
    _require_manage(actor, contract)
    with transaction.atomic():
        contract = _lock(contract)
        require_live(contract)
        _request(
            actor,
            contract,
            f"acme.{kind.split('.')[1]}_requested",
            kind,
            changes={"sans": [None, sans]},
            params={"sans": sans},
        )
    return contract


def _accept_vendor_value(contract: AcmeContract, field: str, value) -> None:
    if field == "valid_till":
        contract.valid_till = datetime.fromisoformat(value) if value else None
    elif field == "state":
        states.move(contract, value, CONTRACT_MOVES, save=False)
        if value == ContractState.CANCELLED and not contract.cancelled_at:
            contract.cancelled_at = timezone.now()
    else:
        setattr(contract, field, value)
