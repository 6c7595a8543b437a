"""Billing's error codes: Digital River checkouts, subscriptions, renewals, notices and the catalog."""

from django.db import models

from core.error_codes import register


@register
class BillingErrorCode(models.TextChoices):
    """Codes billing's services and rules raise (some mirror Digital River's own codes)."""

    # Checkout rules (billing/rules.py), named as Digital River names them.
    ENGINE_MIXED = "engine_mixed", "A checkout sells subscriptions of one renewal engine only."
    MISSING_PARAMETER = "missing_parameter", "An item lacks the plan's terms."
    INVALID_REQUEST = "invalid_request", "autoRenewal must be true or left out on an acquisition."
    PLAN_LIMIT_REACHED = "plan_limit_reached", "A checkout holds one subscription plan only."
    INVALID_PARAMETER = "invalid_parameter", "The Free Trial flag is not consistent with the item price."
    # Catalog.
    PLAN_FIELDS_FIXED = (
        "plan_fields_fixed",
        "A plan's terms and billing cycle cannot change; create a new plan.",
    )
    PLAN_ENGINE_FIXED = "plan_engine_fixed", "The plan has subscriptions: its renewal engine cannot change."
    # Subscriptions, changes and endings.
    SUBSCRIPTION_NOT_ACTIVE = "subscription_not_active", "Only a live subscription can change."
    NO_DOWNGRADE_SCHEDULED = "no_downgrade_scheduled", "No downgrade is scheduled."
    NOT_LIVE = "not_live", "The subscription is not live."
    NOT_AVAILABLE_TODAY = "not_available_today", "The requested ending is not one of today's options."
    CHANGE_THROUGH_BILLING = (
        "change_through_billing",
        "The service is billed through a subscription: change it on the billing subscription.",
    )
    # Renewals, notices, payment methods and events.
    NOT_HELD = "not_held", "Only a held renewal can be brought back."
    NO_PAYMENT_SOURCE = "no_payment_source", "There is no saved payment source to charge."
    UNKNOWN_NOTICE = "unknown_notice", "Unknown notice."
    LINK_INVALID = "link_invalid", "The payment-method link is not valid or has expired."
    NOT_REPLAYABLE = "not_replayable", "Only verified webhook events can be replayed."
