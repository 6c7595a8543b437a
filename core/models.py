"""Shared kernel tables: the audit trail, hashed API tokens, and the retry state of vendor calls."""

from __future__ import annotations

import hashlib
import hmac
import secrets as pysecrets

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from core.actor import Face
from core.states import Moves


class AuditEvent(models.Model):
    """One change made through a service: who, through which face, on what, before and after."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    face = models.CharField(max_length=16, choices=Face.choices)
    # A plain id, not a foreign key: the kernel knows no business models, and the trail must
    # outlive the partner it describes.
    partner_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    action = models.CharField(max_length=64, db_index=True)
    changes = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.object_repr}"


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """An API token: only a SHA-256 digest is stored; the key is shown once, at creation."""

    PREFIX = "pbo"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    key_id = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.PREFIX}_{self.key_id}_…)"

    @staticmethod
    def hash_secret(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    @classmethod
    def generate(cls) -> tuple[str, str, str]:
        """A new (full key, key id, digest of the secret part)."""
        key_id = pysecrets.token_hex(6)
        secret = pysecrets.token_urlsafe(32)
        return f"{cls.PREFIX}_{key_id}_{secret}", key_id, cls.hash_secret(secret)

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.digest, self.hash_secret(secret))

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())


class VendorOperation(models.Model):
    """Retry state of a row whose vendor call runs in a task (attempts, lease, backoff, last error).

    `next_attempt_at` is when the sweeper should (re)queue the row if nothing else handled it;
    `claimed_until` is the lease of the worker currently calling the vendor.
    """

    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=100, blank=True)
    last_error_message = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(
        null=True, blank=True, help_text="Backoff (and the vendor's Retry-After): no attempt before this."
    )
    outcome_unknown = models.BooleanField(
        default=False,
        help_text="An attempt got no usable answer after the request was sent: the vendor may have done it.",
    )

    class Meta:
        abstract = True

    @property
    def last_error(self) -> str:
        if not self.last_error_code:
            return ""
        return f"{self.last_error_code}: {self.last_error_message}"


class OperationState(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    # Out of attempts after an answer was lost: it may exist at the vendor. The sweeper (and staff,
    # "Resolve now") ask the vendor again until its answer says which; never shown as failed.
    UNKNOWN = "unknown", "Unknown outcome"


# Where an operation's state may go next. A vendor call's attempt ends pending (retried), failed,
# unknown (its answer lost) or succeeded; an unknown one is asked again (or resumed by staff) and a
# failed one retried by staff. A change settles with its steps: back to pending when a failed step is
# retried. A success is final.
OPERATION_MOVES: Moves = {
    OperationState.PENDING: {OperationState.SUCCEEDED, OperationState.FAILED, OperationState.UNKNOWN},
    OperationState.UNKNOWN: {OperationState.PENDING, OperationState.SUCCEEDED, OperationState.FAILED},
    OperationState.FAILED: {OperationState.PENDING},
    OperationState.SUCCEEDED: set(),
}


class Operation(VendorOperation):
    """One vendor call requested by a service: what, on which object, its progress and outcome.

    The handler registered for `kind` (core.operations) performs it in a task; params never
    hold a secret. A multi-step change across vendor and biller is an operation too (`is_change`):
    it calls nothing itself, its steps are the operations under it (`parent`), and `result` keeps
    what happened outside any vendor call and what was undone when a step failed for good.
    """

    kind = models.CharField(max_length=64, db_index=True)
    is_change = models.BooleanField(default=False, help_text="A multi-step change; its steps are under it.")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="steps",
        help_text="The multi-step change this operation is a step of.",
    )
    is_undo = models.BooleanField(
        default=False, help_text="A step that undoes an earlier one after a later step failed for good."
    )
    partner_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    object_id = models.CharField(max_length=64)
    target = GenericForeignKey("content_type", "object_id")
    params = models.JSONField(default=dict, blank=True)
    state = models.CharField(
        max_length=16, choices=OperationState.choices, default=OperationState.PENDING, db_index=True
    )
    result = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    face = models.CharField(max_length=16, choices=Face.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "-created_at"])]
        permissions = [("retry_operation", "Can retry failed vendor operations")]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_state_display().lower()})"

    @property
    def label(self) -> str:
        from core.operations import handler_for

        return handler_for(self.kind).label
