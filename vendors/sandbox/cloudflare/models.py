"""What the Cloudflare emulator holds: accounts, zones and their subscriptions."""

from __future__ import annotations

import uuid

from django.db import models

from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.state import VendorKey


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
