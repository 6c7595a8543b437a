"""DigiCert ACME subscriptions: one service per operation; vendor calls run as core Operations.

Face side (order, cancel, stop/resume renewal, SANs, credentials, sync, drift) checks the actor and
the rule, writes the contract and records an operation; the handlers below perform the vendor call
in a task and record its outcome. Every ACME call uses the customer's subaccount key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from core import audit, clock, operations
from core.actor import Actor
from core.error_codes import CoreErrorCode
from core.errors import RuleViolation, ValidationFailed
from core.models import Operation, OperationState
from partner import billing_model
from partner import signals as partner_signals
from partner.access import Can, require
from partner.models import Customer, Subaccount, SubaccountState, Vendor
from subscriptions import not_billed, selectors, signals
from subscriptions.acme_clients import client_configs
from subscriptions.acme_rules import clean_organization, clean_sans, end_options, renewal_source
from subscriptions.error_codes import SubscriptionErrorCode
from subscriptions.models import LIVE_STATES, AcmeContract, AcmeProduct, ContractState
from vendors.digicert import AcmeContract as VendorContract
from vendors.digicert import DigiCertClient

DRIFT_FIELDS = ("auto_renew", "sans", "state", "valid_till")
# DigiCert's clock and ours may differ a little: how far back a lost contract may have been created.
LOOKUP_CLOCK_SKEW = timedelta(minutes=10)
PUSHABLE_FIELDS = ("auto_renew", "sans")


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
        operations.start(actor, contract, CreateContract.kind, partner_id=contract.partner_id)
        if reason:
            not_billed.started(actor, contract, reason)
    return contract


def cancel_acme_contract(actor: Actor, contract: AcmeContract) -> AcmeContract:
    """Cancel within 30 days of creation; afterwards refused before any vendor call (stop renewal instead)."""
    _require_manage(actor, contract)
    with transaction.atomic():
        contract = _lock(contract)
        _require_live(contract)
        _require_cancel_window(contract)
        return _change_state(
            actor,
            contract,
            ContractState.CANCEL_PENDING,
            CancelContract.kind,
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
    return _change_sans(actor, contract, AddSans.kind, new)


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
    return _change_sans(actor, contract, RemoveSans.kind, gone)


def regenerate_credentials(
    actor: Actor, contract: AcmeContract, *, revoke_existing: bool = True
) -> AcmeContract:
    """New EAB credentials; `revoke_existing=False` keeps the old ones valid for a zero-downtime switch."""
    _require_manage(actor, contract)
    with transaction.atomic():
        contract = _lock(contract)
        _require_live(contract)
        audit.record(
            actor,
            "acme.credentials_regeneration_requested",
            contract,
            partner_id=contract.partner_id,
            changes={"revoke_existing": [None, revoke_existing]},
        )
        operations.start(
            actor,
            contract,
            RegenerateCredentials.kind,
            partner_id=contract.partner_id,
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
    if not contract.vendor_id:
        raise RuleViolation(
            "The contract does not exist at DigiCert yet.", code=SubscriptionErrorCode.NOT_AT_VENDOR
        )
    with transaction.atomic():
        operations.start(actor, contract, SyncContract.kind, partner_id=contract.partner_id)
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
        audit.record(
            actor,
            "acme.drift_push_requested",
            contract,
            partner_id=contract.partner_id,
            changes={field: [contract.drift[field]["vendor"], contract.drift[field]["ours"]]},
        )
        operations.start(
            actor, contract, PushContract.kind, partner_id=contract.partner_id, params={"field": field}
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
        operations.start(actor, subaccount, ReadAccountSettings.kind, partner_id=subaccount.partner_id)
    return subaccount


def set_account_auto_renew(actor: Actor, subaccount: Subaccount, value: bool | None) -> Subaccount:
    """Change the subaccount's auto_renew_subscription setting (None puts back the vendor default)."""
    _require_digicert_subaccount(actor, subaccount)
    with transaction.atomic():
        audit.record(
            actor,
            "digicert.account_setting_requested",
            subaccount,
            partner_id=subaccount.partner_id,
            changes={"auto_renew_setting": [subaccount.auto_renew_setting, value]},
        )
        operations.start(
            actor,
            subaccount,
            SetAccountAutoRenew.kind,
            partner_id=subaccount.partner_id,
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
            operations.start(Actor.system(), contract, SyncContract.kind, partner_id=contract.partner_id)
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


def _require_live(contract: AcmeContract) -> None:
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


def _require_cancel_window(contract: AcmeContract) -> None:
    """DigiCert accepts a cancellation only within 30 days of creation: refuse before calling it."""
    closes = contract.cancel_window_closes_at
    if closes is None or clock.now() > closes:
        until = f" (it closed on {closes:%Y-%m-%d})" if closes else ""
        raise RuleViolation(
            f"Cancellation is only possible within 30 days of creation{until}. Stop the renewal "
            f"instead: the contract then stays active until {_date(contract.valid_till)} and ends.",
            code=CoreErrorCode.CANCEL_WINDOW_CLOSED,
        )


def _change_state(actor, contract, state, kind, *, params=None) -> AcmeContract:
    before = audit.snapshot(contract)
    contract.state = state
    contract.save(update_fields=["state", "updated_at"])
    audit.record(
        actor, f"acme.{kind.split('.')[1]}_requested", contract, partner_id=contract.partner_id, before=before
    )
    operations.start(actor, contract, kind, partner_id=contract.partner_id, params=params)
    return contract


def _set_auto_renew(actor: Actor, contract: AcmeContract, value: bool) -> AcmeContract:
    _require_manage(actor, contract)
    with transaction.atomic():
        contract = _lock(contract)
        _require_live(contract)
        if contract.auto_renew is value:
            state = "on" if value else "already stopped"
            raise RuleViolation(
                f"Renewal is {state} for this contract.", code=SubscriptionErrorCode.RENEWAL_UNCHANGED
            )
        if contract.valid_till and clock.now() >= contract.valid_till:
            raise RuleViolation(
                f"The term ended on {_date(contract.valid_till)}.", code=SubscriptionErrorCode.TERM_ENDED
            )
        audit.record(
            actor,
            "acme.renewal_change_requested",
            contract,
            partner_id=contract.partner_id,
            changes={"auto_renew": [contract.auto_renew, value]},
        )
        operations.start(
            actor, contract, SetAutoRenew.kind, partner_id=contract.partner_id, params={"auto_renew": value}
        )
    return contract


def _change_sans(actor, contract, kind, sans) -> AcmeContract:
    _require_manage(actor, contract)
    with transaction.atomic():
        contract = _lock(contract)
        _require_live(contract)
        audit.record(
            actor,
            f"acme.{kind.split('.')[1]}_requested",
            contract,
            partner_id=contract.partner_id,
            changes={"sans": [None, sans]},
        )
        operations.start(actor, contract, kind, partner_id=contract.partner_id, params={"sans": sans})
    return contract


def _date(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d}" if value else "the end of its term"


def _vendor_state(vendor: VendorContract, now: datetime) -> str:
    if vendor.date_canceled:
        return ContractState.CANCELLED
    if vendor.valid_till and vendor.valid_till < now and not vendor.auto_renew:
        return ContractState.EXPIRED
    return ContractState.ACTIVE


def _vendor_view(vendor: VendorContract) -> dict:
    return {
        "auto_renew": vendor.auto_renew,
        "sans": sorted(vendor.sans),
        "valid_till": vendor.valid_till.isoformat() if vendor.valid_till else None,
        "created_at": vendor.created_at.isoformat() if vendor.created_at else None,
        "date_canceled": vendor.date_canceled.isoformat() if vendor.date_canceled else None,
        "product_name_id": vendor.product_name_id,
    }


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


def _accept_vendor_value(contract: AcmeContract, field: str, value) -> None:
    if field == "valid_till":
        contract.valid_till = datetime.fromisoformat(value) if value else None
    elif field == "state":
        contract.state = value
        if value == ContractState.CANCELLED and not contract.cancelled_at:
            contract.cancelled_at = timezone.now()
    else:
        setattr(contract, field, value)


def _subaccount_client(contract: AcmeContract) -> DigiCertClient:
    return DigiCertClient(contract.subaccount.api_key.reveal())


# --- Worker side: operation handlers ------------------------------------------------------------


@operations.register
class CreateContract(operations.OperationHandler):
    """POST /acme with the subaccount key; a retry after a lost answer adopts the contract instead."""

    kind = "acme.create"
    label = "Create ACME contract"

    def perform(self, operation, contract):
        client = _subaccount_client(contract)
        setting = None
        if contract.auto_renew_requested is None:
            current = client.get_account_settings().get("auto_renew_subscription")
            setting = None if current is None or current.is_default else current.value == "1"
        adopted = self._find_lost_contract(contract) if operation.attempts > 1 else None
        if adopted is not None:
            vendor = client.get_acme_contract(adopted)
            credentials = client.regenerate_credentials(adopted, revoke_existing=True)
        else:
            vendor, credentials = client.create_acme_contract(
                product_name_id=contract.product,
                sans=contract.sans,
                auto_renew=contract.auto_renew_requested,
                organization=contract.organization,
            )
        return {
            "vendor_id": vendor.contract_id,
            "view": _vendor_view(vendor),
            "raw": vendor.raw,
            "account_setting": setting,
            "adopted": adopted is not None,
            "directory_url": credentials.directory_url,
            "key_id": credentials.key_id,
            "_hmac_key": credentials.hmac_key,
        }

    def _find_lost_contract(self, contract) -> str | None:
        """An earlier attempt may have created it: find it by account, product and SANs (parent key)."""
        found = DigiCertClient(contract.partner.digicert_api_key.reveal()).find_acme_contract(
            account_id=contract.subaccount.vendor_id,
            product_name_id=contract.product,
            sans=contract.sans,
            created_after=contract.created_at - LOOKUP_CLOCK_SKEW,
        )
        if found is None or AcmeContract.objects.filter(vendor_id=found.contract_id).exists():
            return None
        return found.contract_id

    def succeeded(self, operation, contract, result, actor):
        before = audit.snapshot(contract)
        view = result["view"]
        contract.vendor_id = result["vendor_id"]
        contract.auto_renew, contract.auto_renew_source = (
            view["auto_renew"],
            renewal_source(contract.auto_renew_requested, result["account_setting"])[1],
        )
        contract.directory_url = result["directory_url"]
        contract.eab_key_id = result["key_id"]
        contract.eab_hmac_key = result["_hmac_key"]
        contract.credentials_issued_at = timezone.now()
        contract.term_started_at = datetime.fromisoformat(view["created_at"]) if view["created_at"] else None
        contract.valid_till = datetime.fromisoformat(view["valid_till"]) if view["valid_till"] else None
        contract.vendor_response = result["raw"]
        contract.vendor_view, contract.synced_at = view, timezone.now()
        contract.state = ContractState.ACTIVE  # "renewal stopped" is what a stop-renewal action leads to
        contract.save()
        if result["account_setting"] is not None or contract.auto_renew_requested is None:
            Subaccount.objects.filter(pk=contract.subaccount_id).update(
                auto_renew_setting=result["account_setting"], settings_read_at=timezone.now()
            )
        audit.record(
            actor,
            "acme.created",
            contract,
            partner_id=contract.partner_id,
            before=before,
            note="adopted after a lost answer; credentials regenerated" if result["adopted"] else "",
        )

    def failed(self, operation, contract, actor):
        contract.state = ContractState.FAILED
        contract.save(update_fields=["state", "updated_at"])

    def retrying(self, operation, contract):
        if contract.state == ContractState.FAILED:
            contract.state = ContractState.PENDING
            contract.save(update_fields=["state", "updated_at"])


@operations.register
class CancelContract(operations.OperationHandler):
    """DELETE /acme/{id}; a retry first checks whether the vendor already cancelled it."""

    kind = "acme.cancel"
    label = "Cancel ACME contract"

    def perform(self, operation, contract):
        client = _subaccount_client(contract)
        if operation.attempts > 1:
            current = client.get_acme_contract(contract.vendor_id)
            if current.date_canceled:
                return {"date_canceled": current.date_canceled.isoformat()}
        client.cancel_acme_contract(contract.vendor_id)
        return {"date_canceled": None}

    def succeeded(self, operation, contract, result, actor):
        before = audit.snapshot(contract)
        contract.state = ContractState.CANCELLED
        contract.cancelled_at = timezone.now()
        contract.save()
        audit.record(actor, "acme.cancelled", contract, partner_id=contract.partner_id, before=before)
        signals.service_changed.send(AcmeContract, target=contract, change=signals.CANCELLED, actor=actor)

    def failed(self, operation, contract, actor):
        contract.state = operation.params.get("previous_state", ContractState.ACTIVE)
        contract.save(update_fields=["state", "updated_at"])

    def retrying(self, operation, contract):
        _require_live(contract)
        _require_cancel_window(contract)
        operation.params = {"previous_state": contract.state}
        contract.state = ContractState.CANCEL_PENDING
        contract.save(update_fields=["state", "updated_at"])


@operations.register
class SetAutoRenew(operations.OperationHandler):
    """PATCH {"auto_renew": value} (idempotent)."""

    kind = "acme.set_auto_renew"
    label = "Change renewal"

    def perform(self, operation, contract):
        _subaccount_client(contract).patch_acme_contract(
            contract.vendor_id, auto_renew=operation.params["auto_renew"]
        )
        return {"auto_renew": operation.params["auto_renew"]}

    def succeeded(self, operation, contract, result, actor):
        before = audit.snapshot(contract)
        contract.auto_renew = result["auto_renew"]
        if contract.state in LIVE_STATES:
            contract.state = ContractState.ACTIVE if contract.auto_renew else ContractState.RENEWAL_STOPPED
        contract.save()
        audit.record(
            actor,
            "acme.renewal_resumed" if contract.auto_renew else "acme.renewal_stopped",
            contract,
            partner_id=contract.partner_id,
            before=before,
        )
        change = signals.RENEWAL_RESUMED if contract.auto_renew else signals.RENEWAL_STOPPED
        signals.service_changed.send(AcmeContract, target=contract, change=change, actor=actor)


class _ChangeSans(operations.OperationHandler):
    """Apply a SAN change, then read the contract back so our list is the vendor's."""

    done_action = ""
    adds = True

    def change(self, client, contract, sans):
        (client.add_sans if self.adds else client.remove_sans)(contract.vendor_id, sans)

    def perform(self, operation, contract):
        client = _subaccount_client(contract)
        sans = operation.params["sans"]
        if operation.attempts > 1:  # an earlier attempt may have applied part or all of it
            current = set(client.get_acme_contract(contract.vendor_id).sans)
            sans = [s for s in sans if (s not in current) == self.adds]
        if sans:
            self.change(client, contract, sans)
        return {"sans": list(client.get_acme_contract(contract.vendor_id).sans)}

    def succeeded(self, operation, contract, result, actor):
        before = audit.snapshot(contract)
        contract.sans = result["sans"]
        contract.save()
        audit.record(actor, self.done_action, contract, partner_id=contract.partner_id, before=before)


@operations.register
class AddSans(_ChangeSans):
    kind = "acme.add_sans"
    label = "Add SANs"
    done_action = "acme.sans_added"


@operations.register
class RemoveSans(_ChangeSans):
    kind = "acme.remove_sans"
    label = "Remove SANs"
    done_action = "acme.sans_removed"
    adds = False


@operations.register
class RegenerateCredentials(operations.OperationHandler):
    """POST /acme/{id}/credentials/regenerate; the new HMAC key is stored encrypted, never in the result."""

    kind = "acme.regenerate_credentials"
    label = "Regenerate EAB credentials"

    def perform(self, operation, contract):
        credentials = _subaccount_client(contract).regenerate_credentials(
            contract.vendor_id, revoke_existing=operation.params.get("revoke_existing", True)
        )
        return {
            "directory_url": credentials.directory_url,
            "key_id": credentials.key_id,
            "_hmac_key": credentials.hmac_key,
        }

    def succeeded(self, operation, contract, result, actor):
        before = audit.snapshot(contract)
        contract.directory_url = result["directory_url"] or contract.directory_url
        contract.eab_key_id = result["key_id"]
        contract.eab_hmac_key = result["_hmac_key"]
        contract.credentials_issued_at = timezone.now()
        contract.credentials_revealed_at = None
        contract.save()
        audit.record(
            actor, "acme.credentials_regenerated", contract, partner_id=contract.partner_id, before=before
        )


@operations.register
class SyncContract(operations.OperationHandler):
    """GET /acme/{id}: record the vendor's view and any drift from ours."""

    kind = "acme.sync"
    label = "Sync with DigiCert"

    def perform(self, operation, contract):
        vendor = _subaccount_client(contract).get_acme_contract(contract.vendor_id)
        return {"view": _vendor_view(vendor), "vendor_state": _vendor_state(vendor, clock.now())}

    def succeeded(self, operation, contract, result, actor):
        before = audit.snapshot(contract)
        view = result["view"]
        contract.vendor_view, contract.synced_at = view, timezone.now()
        if view["created_at"]:  # the vendor owns when the term started (and so the cancel window)
            contract.term_started_at = datetime.fromisoformat(view["created_at"])
        if contract.state == ContractState.CANCEL_PENDING:
            contract.drift = {}
        else:
            contract.drift = compute_drift(contract, view, result["vendor_state"])
        contract.save()
        changes = audit.diff(before, audit.snapshot(contract))
        changes.pop("synced_at", None)
        changes.pop("vendor_view", None)
        if changes:
            audit.record(actor, "acme.synced", contract, partner_id=contract.partner_id, changes=changes)


@operations.register
class PushContract(operations.OperationHandler):
    """PATCH our value of a drifted field to the vendor."""

    kind = "acme.push"
    label = "Push our value to DigiCert"

    def perform(self, operation, contract):
        field = operation.params["field"]
        client = _subaccount_client(contract)
        if field == "auto_renew":
            client.patch_acme_contract(contract.vendor_id, auto_renew=contract.auto_renew)
        else:
            current = set(client.get_acme_contract(contract.vendor_id).sans)
            missing, extra = set(contract.sans) - current, current - set(contract.sans)
            if missing:
                client.add_sans(contract.vendor_id, sorted(missing))
            if extra:
                client.remove_sans(contract.vendor_id, sorted(extra))
        vendor = client.get_acme_contract(contract.vendor_id)
        return {"view": _vendor_view(vendor), "vendor_state": _vendor_state(vendor, clock.now())}

    def succeeded(self, operation, contract, result, actor):
        contract.vendor_view, contract.synced_at = result["view"], timezone.now()
        contract.drift = compute_drift(contract, result["view"], result["vendor_state"])
        contract.save()
        audit.record(
            actor,
            "acme.drift_pushed",
            contract,
            partner_id=contract.partner_id,
            changes={operation.params["field"]: ["vendor", "ours"]},
        )


@operations.register
class ReadAccountSettings(operations.OperationHandler):
    """GET /account/settings with the subaccount key."""

    kind = "digicert.read_settings"
    label = "Read DigiCert account settings"

    def perform(self, operation, subaccount):
        setting = (
            DigiCertClient(subaccount.api_key.reveal()).get_account_settings().get("auto_renew_subscription")
        )
        return {"auto_renew": None if setting is None or setting.is_default else setting.value == "1"}

    def succeeded(self, operation, subaccount, result, actor):
        before = audit.snapshot(subaccount)
        subaccount.auto_renew_setting = result["auto_renew"]
        subaccount.settings_read_at = timezone.now()
        subaccount.save()
        changes = audit.diff(before, audit.snapshot(subaccount))
        changes.pop("settings_read_at", None)
        if changes:
            audit.record(
                actor,
                "digicert.account_setting_read",
                subaccount,
                partner_id=subaccount.partner_id,
                changes=changes,
            )


@operations.register
class SetAccountAutoRenew(operations.OperationHandler):
    """PATCH /account/settings auto_renew_subscription ("1"/"0"; "0" is the default, removing the override)."""

    kind = "digicert.set_auto_renew_setting"
    label = "Change DigiCert account auto-renew setting"

    def perform(self, operation, subaccount):
        value = operation.params["value"]
        client = DigiCertClient(subaccount.api_key.reveal())
        client.update_account_setting("auto_renew_subscription", "1" if value else "0")
        setting = client.get_account_settings().get("auto_renew_subscription")
        return {"auto_renew": None if setting is None or setting.is_default else setting.value == "1"}

    def succeeded(self, operation, subaccount, result, actor):
        before = audit.snapshot(subaccount)
        subaccount.auto_renew_setting = result["auto_renew"]
        subaccount.settings_read_at = timezone.now()
        subaccount.save()
        audit.record(
            actor,
            "digicert.account_setting_changed",
            subaccount,
            partner_id=subaccount.partner_id,
            before=before,
        )
