"""The sandbox's own state: vendor credentials (hashed), vendor objects, request log, faults, clock."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from vendors.sandbox.clock import sandbox_now


class Vendor(models.TextChoices):
    DIGICERT = "digicert", "DigiCert"
    CLOUDFLARE = "cloudflare", "Cloudflare"


class KeyRole(models.TextChoices):
    PARTNER = "partner", "DigiCert partner (parent) key"
    SUBACCOUNT = "subaccount", "DigiCert subaccount key"
    TENANT_TOKEN = "tenant_token", "Cloudflare tenant API token"


class VendorKey(models.Model):
    """A credential the emulated vendor accepts; only its SHA-256 digest is stored."""

    vendor = models.CharField(max_length=16, choices=Vendor.choices)
    role = models.CharField(max_length=16, choices=KeyRole.choices)
    digest = models.CharField("SHA-256 digest", max_length=64)
    label = models.CharField(max_length=200, blank=True)
    # Cloudflare: the tenant unit the token administers (blank: not limited to a unit).
    unit_id = models.CharField("unit id", max_length=64, blank=True)
    # Cloudflare: the rate plan ids the token may buy; None means the sandbox's default set
    # (vendors.sandbox.cloudflare_catalog.DEFAULT_ENTITLEMENTS).
    entitlements = models.JSONField(
        null=True, blank=True, help_text="Cloudflare only: rate plan ids; blank for the default set."
    )
    # DigiCert subaccount keys belong to their subaccount.
    subaccount = models.ForeignKey(
        "DigiCertSubaccount", null=True, blank=True, on_delete=models.CASCADE, related_name="keys"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "vendor key"
        ordering = ["vendor", "id"]
        constraints = [models.UniqueConstraint(fields=["vendor", "digest"], name="sandbox_key_unique_digest")]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.label or self.digest[:12]}"


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


def new_cloudflare_account_id() -> str:
    return uuid.uuid4().hex


class CloudflareAccount(models.Model):
    """A Cloudflare account under a tenant. Names are not unique, as at the vendor."""

    class Type(models.TextChoices):
        STANDARD = "standard", "Standard"
        ENTERPRISE = "enterprise", "Enterprise"

    id = models.CharField(primary_key=True, max_length=32, default=new_cloudflare_account_id)
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.STANDARD)
    unit_id = models.CharField("unit id", max_length=64, blank=True)
    owner_key = models.ForeignKey(VendorKey, on_delete=models.PROTECT, related_name="accounts")
    # Optional KYC fields as sent (business_name, business_email...).
    kyc = models.JSONField("KYC fields", default=dict, blank=True)
    created_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        verbose_name = "Cloudflare account"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class CloudflareZone(models.Model):
    """A zone under a customer account; it starts on the free zone plan."""

    class Type(models.TextChoices):
        FULL = "full", "Full"
        PARTIAL = "partial", "Partial"
        SECONDARY = "secondary", "Secondary"

    id = models.CharField(primary_key=True, max_length=32, default=new_cloudflare_account_id)
    name = models.CharField(max_length=253)
    account = models.ForeignKey(CloudflareAccount, on_delete=models.PROTECT, related_name="zones")
    type = models.CharField(max_length=16, choices=Type.choices, default=Type.FULL)
    status = models.CharField(max_length=16, default="active")
    # The zone's current plan; its subscription, if any, moves it.
    plan_id = models.CharField("plan", max_length=64, default="PARTNERS_FREE")
    created_at = models.DateTimeField(default=sandbox_now)
    modified_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        verbose_name = "Cloudflare zone"
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="sandbox_zone_unique_name")]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class CloudflareSubscription(models.Model):
    """A zone subscription (with `zone`) or an account add-on subscription (without)."""

    class State(models.TextChoices):
        TRIAL = "Trial"
        PROVISIONED = "Provisioned"
        PAID = "Paid"
        AWAITING_PAYMENT = "AwaitingPayment"
        CANCELLED = "Cancelled"
        FAILED = "Failed"
        EXPIRED = "Expired"

    id = models.CharField(primary_key=True, max_length=32, default=new_cloudflare_account_id)
    account = models.ForeignKey(CloudflareAccount, on_delete=models.PROTECT, related_name="subscriptions")
    zone = models.OneToOneField(
        CloudflareZone, null=True, blank=True, on_delete=models.PROTECT, related_name="subscription"
    )
    rate_plan_id = models.CharField("rate plan", max_length=64)
    frequency = models.CharField(max_length=16, default="monthly")
    # {component name: units}, every component of the plan.
    component_values = models.JSONField(default=dict, blank=True)
    price = models.DecimalField(max_digits=12, decimal_places=2, help_text="USD per period.")
    state = models.CharField(max_length=16, choices=State.choices)
    current_period_start = models.DateTimeField()
    current_period_end = models.DateTimeField()
    created_at = models.DateTimeField(default=sandbox_now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Cloudflare subscription"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.rate_plan_id} {self.frequency} ({self.zone or self.account})"


class RequestLogEntry(models.Model):
    """One request the sandbox received. Never a header or a body: they carry keys."""

    vendor = models.CharField(max_length=16, choices=Vendor.choices)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500, help_text="Relative to the vendor's base URL.")
    # None when a fault cut the request off before any answer was made.
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    fault = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "request"
        verbose_name_plural = "request log"
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.vendor} {self.method} {self.path} -> {self.status or '-'}"


class FaultKind(models.TextChoices):
    HTTP_500 = "http_500", "HTTP 500"
    HTTP_503 = "http_503", "HTTP 503"
    RATE_LIMIT = "rate_limit", "429 with Retry-After"
    TIMEOUT_BEFORE = "timeout_before", "Timeout, nothing done"
    TIMEOUT_AFTER = "timeout_after", "Timeout after the work is committed"
    DROP_BEFORE = "drop_before", "Connection dropped, nothing done"
    DROP_AFTER = "drop_after", "Connection dropped after the work is committed"


class Fault(models.Model):
    """A failure to inject into matching requests, `remaining` times (None: always), at `rate`."""

    HTTP_STATUS = {FaultKind.HTTP_500: 500, FaultKind.HTTP_503: 503, FaultKind.RATE_LIMIT: 429}

    vendor = models.CharField(max_length=16, choices=Vendor.choices)
    method = models.CharField(max_length=10, default="*", help_text="GET, POST... or * for any.")
    path_regex = models.CharField(
        max_length=200,
        blank=True,
        help_text="Searched in the path relative to the vendor's base URL, e.g. ^/accounts$. "
        "Blank matches every path.",
    )
    kind = models.CharField(max_length=16, choices=FaultKind.choices)
    status = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(400), MaxValueValidator(599)],
        help_text="HTTP faults only: overrides the kind's status (e.g. 502).",
    )
    retry_after = models.FloatField(
        "Retry-After seconds", null=True, blank=True, validators=[MinValueValidator(0)]
    )
    remaining = models.PositiveIntegerField(
        null=True, blank=True, help_text="How many more times to fire; blank for unlimited."
    )
    rate = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Probability (0..1) that a matching request is hit.",
    )
    fired = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rate__gte=0) & models.Q(rate__lte=1), name="sandbox_fault_rate_0_1"
            )
        ]

    def __str__(self) -> str:
        return f"{self.vendor} {self.method} {self.path_regex or '*'}: {self.kind}"

    def clean(self):
        self.method = (self.method or "*").upper()
        try:
            re.compile(self.path_regex)
        except re.error as exc:
            raise ValidationError({"path_regex": f"Not a regular expression: {exc}"}) from exc
        if self.status and self.kind not in self.HTTP_STATUS:
            raise ValidationError(
                {"status": "Only HTTP faults (http_500, http_503, rate_limit) have a status."}
            )

    @property
    def http_status(self) -> int | None:
        """The status an HTTP fault answers with; None for timeouts and drops."""
        if self.kind not in self.HTTP_STATUS:
            return None
        return self.status or self.HTTP_STATUS[self.kind]

    @property
    def interruption(self) -> str | None:
        """'timeout' or 'drop' for the faults that cut the answer off."""
        return self.kind.split("_")[0] if self.kind.startswith(("timeout_", "drop_")) else None

    @property
    def after_work(self) -> bool:
        """Whether the request is processed (and committed) before the fault strikes."""
        return self.kind.endswith("_after")


class Clock(models.Model):
    """The sandbox clock's offset from real time; a single row."""

    SINGLETON = 1

    offset_seconds = models.FloatField(
        default=0, validators=[MinValueValidator(0)], help_text="Seconds ahead of real time."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "clock"
        verbose_name_plural = "clock"

    def __str__(self) -> str:
        return f"Sandbox clock ({self.offset_display})"

    @property
    def offset(self) -> timedelta:
        return timedelta(seconds=self.offset_seconds)

    @property
    def offset_display(self) -> str:
        if not self.offset_seconds:
            return "real time"
        days, rest = divmod(int(self.offset_seconds), 86400)
        return f"+{days}d {rest // 3600}h {rest % 3600 // 60}m"

    @property
    def now(self):
        return timezone.now() + self.offset
