"""What the DigiCert emulator holds: subaccounts, their account settings, ACME contracts."""

from __future__ import annotations

from dateutil.relativedelta import relativedelta
from django.db import models
from django.db.models import Q

from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.state import VendorKey


class DigiCertSubaccount(models.Model):
    """A DigiCert subaccount. Names are not unique, as at the vendor."""

    id = models.AutoField(primary_key=True)
    name = models.CharField(max_length=255)
    emergency_contact_emails = models.JSONField(default=list, blank=True)
    parent_key = models.ForeignKey(VendorKey, on_delete=models.PROTECT, related_name="subaccounts")
    created_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        verbose_name = "DigiCert subaccount"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} (#{self.id})"


class DigiCertAccountSetting(models.Model):
    """An account setting changed from its system default; no row means the default applies.

    The owner is a subaccount, or the parent account, which the sandbox knows only by its
    partner key (there is no parent-account table).
    """

    partner_key = models.ForeignKey(
        VendorKey, null=True, blank=True, on_delete=models.CASCADE, related_name="digicert_settings"
    )
    subaccount = models.ForeignKey(
        DigiCertSubaccount, null=True, blank=True, on_delete=models.CASCADE, related_name="settings"
    )
    name = models.CharField(max_length=64)
    value = models.CharField(max_length=64)
    updated_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        verbose_name = "DigiCert account setting"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(partner_key__isnull=False, subaccount__isnull=True)
                | Q(partner_key__isnull=True, subaccount__isnull=False),
                name="sandbox_setting_one_owner",
            ),
            models.UniqueConstraint(fields=["partner_key", "name"], name="sandbox_setting_unique_parent"),
            models.UniqueConstraint(fields=["subaccount", "name"], name="sandbox_setting_unique_sub"),
        ]

    def __str__(self) -> str:
        return f"{self.name}={self.value} ({self.subaccount or self.partner_key})"


class AcmeContract(models.Model):
    """A DigiCert ACME contract of a subaccount; one year of coverage from its creation."""

    id = models.AutoField(primary_key=True)
    subaccount = models.ForeignKey(
        DigiCertSubaccount, on_delete=models.PROTECT, related_name="acme_contracts"
    )
    product_name_id = models.CharField(max_length=64)
    sans = models.JSONField(default=list, blank=True)
    organization = models.JSONField(null=True, blank=True)
    verified_contacts = models.JSONField(null=True, blank=True)
    auto_renew = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=sandbox_now)
    valid_till = models.DateTimeField(blank=True)
    date_canceled = models.DateTimeField(null=True, blank=True)
    # What the contract covered when it was cancelled: cancellation releases its SANs.
    released_sans = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "DigiCert ACME contract"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"ACME #{self.id} {self.product_name_id} ({self.subaccount})"

    def save(self, *args, **kwargs):
        if self.valid_till is None:
            self.valid_till = self.created_at + relativedelta(years=1)
        super().save(*args, **kwargs)


class AcmeCredential(models.Model):
    """An EAB credential of a contract: the key id, and the HMAC key as a digest and a hint only."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REVOKED = "revoked", "Revoked"

    id = models.AutoField(primary_key=True)
    contract = models.ForeignKey(AcmeContract, on_delete=models.CASCADE, related_name="credentials")
    kid = models.CharField("key id", max_length=64, unique=True)
    hmac_digest = models.CharField("HMAC key SHA-256 digest", max_length=64)
    hmac_hint = models.CharField("HMAC key hint", max_length=8)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    created_at = models.DateTimeField(default=sandbox_now)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "DigiCert ACME credential"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"EAB {self.kid_hint}... ({self.status})"

    @property
    def kid_hint(self) -> str:
        return self.kid[:4]
