"""DigiCert ACME operation handlers: the worker side of acme/services.py, one per vendor call,
each recording the outcome on the contract.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from core import audit, clock, operations, states
from partner.models import Subaccount
from subscriptions import signals
from subscriptions.acme.models import CONTRACT_MOVES, LIVE_STATES, AcmeContract, ContractState
from subscriptions.acme.rules import (
    compute_drift,
    renewal_source,
    require_cancel_window,
    require_live,
)
from vendors.digicert.client import AcmeContract as VendorContract
from vendors.digicert.client import DigiCertClient

# DigiCert's clock and ours may differ a little: how far back a lost contract may have been created.
LOOKUP_CLOCK_SKEW = timedelta(minutes=10)


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


def _subaccount_client(contract: AcmeContract) -> DigiCertClient:
    return DigiCertClient(contract.subaccount.api_key.reveal())


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
        # "renewal stopped" is what a stop-renewal action leads to
        states.move(contract, ContractState.ACTIVE, CONTRACT_MOVES, save=False)
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
        states.move(contract, ContractState.FAILED, CONTRACT_MOVES)

    def retrying(self, operation, contract):
        if contract.state == ContractState.FAILED:
            states.move(contract, ContractState.PENDING, CONTRACT_MOVES)


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
        states.move(contract, ContractState.CANCELLED, CONTRACT_MOVES, save=False)
        contract.cancelled_at = timezone.now()
        contract.save()
        audit.record(actor, "acme.cancelled", contract, partner_id=contract.partner_id, before=before)
        signals.service_changed.send(AcmeContract, target=contract, change=signals.CANCELLED, actor=actor)

    def failed(self, operation, contract, actor):
        states.move(contract, operation.params.get("previous_state", ContractState.ACTIVE), CONTRACT_MOVES)

    def retrying(self, operation, contract):
        require_live(contract)
        require_cancel_window(contract)
        operation.params = {"previous_state": contract.state}
        states.move(contract, ContractState.CANCEL_PENDING, CONTRACT_MOVES)


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
            renewing = ContractState.ACTIVE if contract.auto_renew else ContractState.RENEWAL_STOPPED
            states.move(contract, renewing, CONTRACT_MOVES, save=False)
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
