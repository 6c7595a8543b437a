"""DigiCert ACME contracts and the certificates issued under them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import models
from django.utils import timezone

from core.fields import EncryptedSecretField
from core.states import Moves

CANCEL_WINDOW = timedelta(days=30)


class AcmeProduct(models.TextChoices):
    DV_RAPIDSSL = "ssl_dv_rapidssl", "RapidSSL DV"
    OV_BASIC = "ssl_basic", "Basic OV"
    EV_BASIC = "ssl_ev_basic", "Basic EV"

    @classmethod
    def needs_organization(cls, product: str) -> bool:
        return product in (cls.OV_BASIC, cls.EV_BASIC)


class ContractState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    CANCEL_PENDING = "cancel_pending", "Cancel pending"
    CANCELLED = "cancelled", "Cancelled"
    RENEWAL_STOPPED = "renewal_stopped", "Renewal stopped"
    EXPIRED = "expired", "Expired"
    FAILED = "failed", "Failed"


LIVE_STATES = (ContractState.ACTIVE, ContractState.RENEWAL_STOPPED)

# Where an ACME contract's state may go next: its create operation activates it (or fails, and is
# retried); a live one stops or resumes renewal, is cancelled (back to where it was if the cancel
# fails) or, staff accepting DigiCert's view, is cancelled or expired there; an expired one DigiCert
# still shows active again. A cancelled contract stays cancelled.
CONTRACT_MOVES: Moves = {
    ContractState.PENDING: {ContractState.ACTIVE, ContractState.FAILED},
    ContractState.FAILED: {ContractState.PENDING},
    **{
        live: {*LIVE_STATES, ContractState.CANCEL_PENDING, ContractState.CANCELLED, ContractState.EXPIRED}
        for live in LIVE_STATES
    },
    ContractState.CANCEL_PENDING: {*LIVE_STATES, ContractState.CANCELLED},
    ContractState.EXPIRED: {ContractState.ACTIVE, ContractState.CANCELLED},
    ContractState.CANCELLED: set(),
}


class AutoRenewSource(models.TextChoices):
    ORDER = "order", "Set on the order"
    ACCOUNT_SETTING = "account_setting", "Account setting auto_renew_subscription"
    DEFAULT = "default", "Vendor default (off)"


class AcmeContract(models.Model):
    """A customer's ACME subscription at DigiCert, in the customer's own subaccount."""

    partner = models.ForeignKey("partner.Partner", on_delete=models.PROTECT, related_name="acme_contracts")
    customer = models.ForeignKey("partner.Customer", on_delete=models.PROTECT, related_name="acme_contracts")
    subaccount = models.ForeignKey(
        "partner.Subaccount", on_delete=models.PROTECT, related_name="acme_contracts"
    )
    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    product = models.CharField(max_length=32, choices=AcmeProduct.choices)
    sans = models.JSONField(default=list, help_text="Domain names covered by the contract.")
    organization = models.JSONField(null=True, blank=True, help_text="Required for OV and EV products.")
    state = models.CharField(
        max_length=20, choices=ContractState.choices, default=ContractState.PENDING, db_index=True
    )
    vendor_id = models.CharField(max_length=32, blank=True)
    auto_renew_requested = models.BooleanField(
        null=True, blank=True, help_text="What the order asked for (empty: left out)."
    )
    auto_renew = models.BooleanField(null=True, blank=True, help_text="The contract's renewal setting.")
    auto_renew_source = models.CharField(max_length=20, choices=AutoRenewSource.choices, blank=True)
    directory_url = models.URLField(max_length=300, blank=True)
    eab_key_id = models.CharField("EAB key id", max_length=200, blank=True)
    eab_hmac_key = EncryptedSecretField("EAB HMAC key")
    eab_hmac_key_hint = models.CharField(
        "EAB HMAC key, masked",
        max_length=20,
        blank=True,
        editable=False,
        help_text="The key as `core.secrets.mask` shows it, written by save() whenever the key changes, "
        "so lists show the mask without decrypting.",
    )
    credentials_issued_at = models.DateTimeField(null=True, blank=True)
    credentials_revealed_at = models.DateTimeField(null=True, blank=True)
    term_started_at = models.DateTimeField(null=True, blank=True, help_text="The vendor's created_at.")
    valid_till = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    vendor_response = models.JSONField(default=dict, blank=True, help_text="Create answer, secrets removed.")
    vendor_view = models.JSONField(default=dict, blank=True, help_text="The vendor's view at the last sync.")
    synced_at = models.DateTimeField(null=True, blank=True)
    drift = models.JSONField(default=dict, blank=True, help_text="{field: {ours, vendor}} at the last sync.")
    certificates_synced_at = models.DateTimeField(
        null=True, blank=True, help_text="When DigiCert's list of the contract's certificates was last read."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="acme_contract_created"),
        ]
        verbose_name = "ACME contract"
        ordering = ["-created_at", "-id"]
        permissions = [
            ("reveal_credentials", "Can reveal EAB credentials"),
            ("manage_acmecontract", "Can run ACME contract operations at DigiCert"),
        ]

    def __str__(self) -> str:
        first = self.sans[0] if self.sans else "?"
        return f"ACME {self.get_product_display()} {first}"

    def save(self, *args, **kwargs):
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "eab_hmac_key" in update_fields:
            token = self.eab_hmac_key.token if self.eab_hmac_key else ""
            if self.__dict__.get("_hint_token") != token:  # decrypt once per new key, not per save
                self.eab_hmac_key_hint = self.eab_hmac_key.masked if self.eab_hmac_key else ""
                self.__dict__["_hint_token"] = token
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "eab_hmac_key_hint"}
        super().save(*args, **kwargs)

    @property
    def eab_hmac_key_masked(self) -> str:
        """The masked key for display: the stored hint, decrypting only for a row written around save()."""
        if not self.eab_hmac_key:
            return ""
        return self.eab_hmac_key_hint or self.eab_hmac_key.masked

    @property
    def cancel_window_closes_at(self):
        """The moment after which DigiCert no longer accepts a cancellation (30 days after creation)."""
        return self.term_started_at + CANCEL_WINDOW if self.term_started_at else None


class Certificate(models.Model):
    """A certificate DigiCert issued under an ACME contract, as its certificate list last showed it."""

    partner = models.ForeignKey("partner.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("partner.Customer", on_delete=models.PROTECT, related_name="certificates")
    contract = models.ForeignKey(AcmeContract, on_delete=models.CASCADE, related_name="certificates")
    serial_number = models.CharField(max_length=64)
    domain = models.CharField(max_length=253)
    sans = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=32, blank=True, db_index=True, help_text="DigiCert's status, e.g. issued."
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    vendor_view = models.JSONField(default=dict, blank=True, help_text="The vendor's item, as listed.")
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    gone_at = models.DateTimeField(
        null=True, blank=True, help_text="No longer in DigiCert's list (replaced, or the contract ended)."
    )

    class Meta:
        ordering = ["expires_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["contract", "serial_number"], name="certificate_serial_unique")
        ]
        indexes = [
            models.Index(fields=["expires_at", "id"], name="certificate_expiry"),
            models.Index(fields=["partner", "expires_at"], name="certificate_partner_expiry"),
            models.Index(fields=["customer", "expires_at"], name="certificate_customer_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.domain} ({self.serial_number[:12]})"
