"""Cloudflare zones, zone plans and account add-ons, with each partner's catalog."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from core.fields import money_field
from core.states import Moves

FREE_ZONE_PLAN = "PARTNERS_FREE"


class PlanScope(models.TextChoices):
    ZONE = "zone", "Zone plan"
    ACCOUNT = "account", "Account add-on"


class Frequency(models.TextChoices):
    """Cloudflare's renewal cadences (subscription-v2 `frequency`); "annual" is not one of them."""

    WEEKLY = "weekly", "Weekly"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"
    YEARLY = "yearly", "Yearly"


class VendorState(models.TextChoices):
    """Cloudflare's own subscription `state`, kept as Cloudflare says it."""

    TRIAL = "Trial"
    PROVISIONED = "Provisioned"
    PAID = "Paid"
    AWAITING_PAYMENT = "AwaitingPayment"
    CANCELLED = "Cancelled"
    FAILED = "Failed"
    EXPIRED = "Expired"


def _default_frequencies() -> list[str]:
    return [Frequency.MONTHLY]


class CatalogPlan(models.Model):
    """A rate plan a partner may sell under its Cloudflare reseller agreement: a zone plan or an add-on."""

    partner = models.ForeignKey(
        "partner.Partner", on_delete=models.PROTECT, related_name="cloudflare_catalog"
    )
    rate_plan_id = models.CharField(
        "rate plan", max_length=64, help_text="Cloudflare's id, e.g. PARTNERS_BIZ or PARTNERS_LOAD_BALANCING."
    )
    name = models.CharField(max_length=200)
    scope = models.CharField(max_length=10, choices=PlanScope.choices)
    monthly_price = money_field(
        help_text="Price of one month of the plan with its components at their defaults."
    )
    currency = models.CharField(max_length=3, default="USD")
    frequencies = models.JSONField(
        default=_default_frequencies, help_text="The renewal cadences this plan may be sold with."
    )
    active = models.BooleanField(default=True, help_text="Only active plans may be sold.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "Cloudflare catalog plan"
        ordering = ["partner", "scope", "monthly_price", "rate_plan_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "rate_plan_id"], name="catalog_plan_unique_per_partner"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rate_plan_id} ({self.partner})"

    def clean(self):
        errors = {}
        frequencies = self.frequencies if isinstance(self.frequencies, list) else []
        if not frequencies or any(f not in Frequency.values for f in frequencies):
            errors["frequencies"] = f"Choose one or more of {', '.join(Frequency.values)}."
        if not (len(self.currency or "") == 3 and self.currency.isalpha() and self.currency.isupper()):
            errors["currency"] = "An ISO 4217 code such as USD."
        if errors:
            raise ValidationError(errors)


class CatalogComponent(models.Model):
    """A component a catalog plan may be sold with (page rules, seats...): included units, limit, price."""

    plan = models.ForeignKey(CatalogPlan, on_delete=models.CASCADE, related_name="components")
    name = models.CharField(max_length=64, help_text="Cloudflare's component name, e.g. page_rules.")
    default = models.PositiveIntegerField(help_text="Units included in the plan's price.")
    maximum = models.PositiveIntegerField(help_text="The most units a customer may have.")
    unit_price = money_field(
        help_text="Monthly price of each unit above the default, in the plan's currency."
    )

    class Meta:
        verbose_name = "component"
        ordering = ["plan", "name"]
        constraints = [models.UniqueConstraint(fields=["plan", "name"], name="catalog_component_unique")]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if self.default is not None and self.maximum is not None and self.maximum < self.default:
            raise ValidationError({"maximum": "The maximum cannot be below the default."})


class CloudflarePlanRecord(models.Model):
    """What a customer has on one Cloudflare subscription, as Cloudflare last confirmed it.

    A requested change lives in its operation's params until Cloudflare confirms it; a refusal
    leaves these fields as they were and says why in `refusal_*`.
    """

    partner = models.ForeignKey("partner.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("partner.Customer", on_delete=models.PROTECT, related_name="+")
    subaccount = models.ForeignKey(
        "partner.Subaccount",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The customer's Cloudflare account.",
    )
    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rate_plan_id = models.CharField("rate plan", max_length=64, blank=True, db_index=True)
    frequency = models.CharField(max_length=16, choices=Frequency.choices, blank=True)
    component_values = models.JSONField(default=dict, blank=True, help_text="{component: units}.")
    price = money_field(null=True, blank=True, help_text="What Cloudflare bills per period.")
    currency = models.CharField(max_length=3, blank=True)
    vendor_state = models.CharField(
        "Cloudflare state", max_length=32, choices=VendorState.choices, blank=True
    )
    current_period_start = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(null=True, blank=True)
    vendor_view = models.JSONField(
        default=dict, blank=True, help_text="Cloudflare's answer at the last call."
    )
    synced_at = models.DateTimeField(null=True, blank=True)
    refusal_code = models.CharField(max_length=100, blank=True)
    refusal_message = models.TextField(blank=True, help_text="Why the last requested change did not happen.")
    refused_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class ZoneState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    FAILED = "failed", "Failed"


# Where a zone's state may go next: its create operation activates it, or fails and is retried.
ZONE_MOVES: Moves = {
    ZoneState.PENDING: {ZoneState.ACTIVE, ZoneState.FAILED},
    ZoneState.FAILED: {ZoneState.PENDING},
    ZoneState.ACTIVE: set(),
}


class CloudflareZone(CloudflarePlanRecord):
    """A customer's zone in its Cloudflare account; it starts on PARTNERS_FREE, its plan is the zone subscription."""

    name = models.CharField(max_length=253)
    state = models.CharField(
        max_length=16, choices=ZoneState.choices, default=ZoneState.PENDING, db_index=True
    )
    vendor_id = models.CharField("zone id", max_length=32, blank=True)
    zone_plan = models.JSONField(
        default=dict,
        blank=True,
        help_text="The zone's own plan object, raw (its id is opaque); the rate plan comes from the subscription.",
    )
    zone_status = models.CharField(max_length=32, blank=True, help_text="Cloudflare's zone status.")
    subscription_id = models.CharField(
        max_length=32, blank=True, help_text="Empty while the zone has no subscription (free)."
    )

    class Meta:
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="cloudflare_zone_created"),
        ]
        verbose_name = "Cloudflare zone"
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["subaccount", "name"], name="cloudflare_zone_unique")]
        permissions = [("manage_cloudflare", "Can run Cloudflare zone and add-on operations")]

    def __str__(self) -> str:
        return self.name


class AddonState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    CANCEL_PENDING = "cancel_pending", "Cancel pending"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


LIVE_ADDON_STATES = (AddonState.PENDING, AddonState.ACTIVE, AddonState.CANCEL_PENDING)

# Where an add-on's state may go next: its create activates it (or fails and is retried; a sync
# links one whose answer was lost); a cancel is pending until Cloudflare confirms it (or a sync
# finds it gone), and a failed cancel, or a confirmed change, makes it active again.
ADDON_MOVES: Moves = {
    AddonState.PENDING: {AddonState.ACTIVE, AddonState.FAILED},
    AddonState.FAILED: {AddonState.PENDING, AddonState.ACTIVE},
    AddonState.ACTIVE: {AddonState.CANCEL_PENDING, AddonState.CANCELLED},
    AddonState.CANCEL_PENDING: {AddonState.ACTIVE, AddonState.CANCELLED},
    AddonState.CANCELLED: set(),
}


class CloudflareAddon(CloudflarePlanRecord):
    """An account-level add-on (Cloudflare account subscription) of a customer."""

    state = models.CharField(
        max_length=16, choices=AddonState.choices, default=AddonState.PENDING, db_index=True
    )
    vendor_id = models.CharField("subscription id", max_length=32, blank=True, db_index=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="cloudflare_addon_created"),
        ]
        verbose_name = "Cloudflare add-on"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.rate_plan_id} for {self.customer}" if self.customer_id else self.rate_plan_id
