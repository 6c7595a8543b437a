"""Reconciliation's error codes: runs, findings and their actions, not-billed marks."""

from django.db import models

from core.error_codes import register


@register
class ReconciliationErrorCode(models.TextChoices):
    """Codes reconciliation's services and actions raise."""

    RUN_IN_PROGRESS = "run_in_progress", "A reconciliation of this partner is already running."
    FINDING_NOT_OPEN = "finding_not_open", "The finding is no longer open."
    ACTION_NOT_APPLICABLE = "action_not_applicable", "The action does not apply to this finding."
    DRIFT_NOT_RECORDED = (
        "drift_not_recorded",
        "DigiCert's values are not recorded yet: sync the contract first.",
    )
    NO_MATCHING_PRODUCT = "no_matching_product", "No active subscription product provisions this service."
    NOT_A_SERVICE = (
        "not_a_service",
        "Only an ACME contract, a Cloudflare zone or add-on can be marked not billed.",
    )
    ALREADY_BILLED = "already_billed", "The service is billed; end that billing instead of marking it."
    ALREADY_MARKED = "already_marked", "The service is already marked not billed."
    NOT_MARKED = "not_marked", "The not-billed mark was already taken back."
