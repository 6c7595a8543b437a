"""The sandbox's own state, shared by the three emulators: vendor keys (hashed), the request
log, injected faults and the sandbox clock."""

from __future__ import annotations

import re
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class Vendor(models.TextChoices):
    DIGICERT = "digicert", "DigiCert"
    CLOUDFLARE = "cloudflare", "Cloudflare"
    DIGITALRIVER = "digitalriver", "Digital River"


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
    # (vendors.sandbox.cloudflare.catalog.DEFAULT_ENTITLEMENTS).
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
