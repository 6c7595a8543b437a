"""Reconciliation: billing compared with the vendors (domain.md, "Billing follows the service").

- `NotBilled`: a paid vendor service that is deliberately not billed, with the reason, who and when.
- `Run`: one comparison of a partner's billing with DigiCert, Cloudflare and Digital River.
- `Finding`: one difference a run found; seen again, it is the same row (its `key`).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from core.actor import Face
from core.states import Moves


class NotBilled(models.Model):
    """A paid vendor service (ACME contract, zone plan, add-on) that is not billed, on purpose."""

    partner = models.ForeignKey("partner.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("partner.Customer", on_delete=models.PROTECT, related_name="+")
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    target_id = models.CharField(max_length=64)
    target = GenericForeignKey("target_type", "target_id")
    reason = models.TextField(help_text="Why the service is not billed (shown to staff and the reseller).")
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    marked_at = models.DateTimeField(default=timezone.now)
    unmarked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    unmarked_at = models.DateTimeField(null=True, blank=True, help_text="Billed again from then on.")

    class Meta:
        verbose_name = "not-billed mark"
        ordering = ["-marked_at", "-id"]
        indexes = [models.Index(fields=["-marked_at", "-id"], name="not_billed_marked")]
        constraints = [
            models.UniqueConstraint(
                fields=["target_type", "target_id"],
                condition=models.Q(unmarked_at__isnull=True),
                name="one_live_not_billed_mark_per_target",
            )
        ]

    def __str__(self) -> str:
        return f"Not billed: {self.target or self.target_id}"

    @property
    def live(self) -> bool:
        return self.unmarked_at is None


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    FINISHED = "finished", "Finished"
    FAILED = "failed", "Failed"


# Where a run's state may go next: a worker claims a queued run once; it finishes, or fails.
RUN_MOVES: Moves = {
    RunState.QUEUED: {RunState.RUNNING},
    RunState.RUNNING: {RunState.FINISHED, RunState.FAILED},
    RunState.FINISHED: set(),
    RunState.FAILED: set(),
}


class Run(models.Model):
    """One reconciliation of a partner: when, by whom, what it read, what it found, which reads failed."""

    # What the admin and the API show of a run (besides its errors), in this order.
    SHOWN_FIELDS = (
        "partner",
        "state",
        "requested_by",
        "face",
        "created_at",
        "started_at",
        "finished_at",
        "checked",
        "counts",
        "new_count",
        "reopened_count",
        "cleared_count",
    )

    partner = models.ForeignKey("partner.Partner", on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=12, choices=RunState.choices, default=RunState.QUEUED, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    face = models.CharField(max_length=16, choices=Face.choices, default=Face.TASK)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    checked = models.JSONField(default=dict, blank=True, help_text="What was compared: {what: count}.")
    counts = models.JSONField(default=dict, blank=True, help_text="Differences found: {kind: count}.")
    new_count = models.PositiveIntegerField("new", default=0)
    reopened_count = models.PositiveIntegerField("reopened", default=0)
    cleared_count = models.PositiveIntegerField(
        "cleared", default=0, help_text="Open findings no longer found."
    )
    errors = models.JSONField(
        default=list, blank=True, help_text="Vendor reads that failed: [{vendor, object, code, message}]."
    )

    class Meta:
        verbose_name = "reconciliation run"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Reconciliation #{self.pk} of {self.partner} ({self.get_state_display().lower()})"

    @property
    def found(self) -> int:
        return sum(self.counts.values()) if isinstance(self.counts, dict) else 0


class FindingKind(models.TextChoices):
    BILLED_NOT_PROVIDED = "billed_not_provided", "Billed but not provided"
    PROVIDED_NOT_BILLED = "provided_not_billed", "Provided but not billed"
    PRICE_MISMATCH = "price_mismatch", "Price mismatch"
    PLAN_MISMATCH = "plan_mismatch", "Plan mismatch"
    STATE_MISMATCH = "state_mismatch", "States disagree"


class FindingState(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


class Resolution(models.TextChoices):
    ADOPTED_VENDOR = "adopted_vendor", "Adopted the vendor's state"
    PUSHED_OURS = "pushed_ours", "Pushed ours to the vendor"
    ENDED_BILLING = "ended_billing", "Ended billing"
    BILLED = "billed", "Billed (checkout started)"
    MARKED_NOT_BILLED = "marked_not_billed", "Marked not billed"
    DISMISSED = "dismissed", "Dismissed"
    CLEARED = "cleared", "No longer found"


# Where a finding's state may go next (core.states.move is the only code that changes it).
FINDING_MOVES: Moves = {
    FindingState.OPEN: frozenset({FindingState.RESOLVED, FindingState.DISMISSED}),
    # A resolved difference found again is open again; a dismissed one stays dismissed.
    FindingState.RESOLVED: frozenset({FindingState.OPEN}),
    FindingState.DISMISSED: frozenset(),
}


class Finding(models.Model):
    """One difference between billing and a vendor, as a run found it, with its evidence and outcome."""

    partner = models.ForeignKey("partner.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("partner.Customer", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=24, choices=FindingKind.choices, db_index=True)
    rule = models.CharField(max_length=48, db_index=True, help_text="The comparison that found it.")
    key = models.CharField(
        max_length=200, unique=True, help_text="Kind and objects: seen again, the same row."
    )
    subscription = models.ForeignKey(
        "billing.BillingSubscription", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    target_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    target_id = models.CharField(max_length=64, blank=True)
    target = GenericForeignKey("target_type", "target_id")
    vendor_ref = models.CharField(
        max_length=64, blank=True, help_text="The vendor's id of something we hold no record of."
    )
    summary = models.CharField(max_length=300)
    evidence = models.JSONField(
        default=dict, blank=True, help_text="Both sides' values, as the run read them."
    )
    state = models.CharField(
        max_length=12, choices=FindingState.choices, default=FindingState.OPEN, db_index=True
    )
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    first_run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    times_seen = models.PositiveIntegerField(default=1)
    resolution = models.CharField(max_length=20, choices=Resolution.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "reconciliation finding"
        ordering = ["-last_seen_at", "-id"]
        indexes = [models.Index(fields=["partner", "state", "kind"], name="finding_partner_state")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary}"[:200]
