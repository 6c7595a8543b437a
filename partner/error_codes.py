"""Partner's error codes: partners, customers, members and subaccounts (partner/services.py)."""

from django.db import models

from core.error_codes import register


@register
class PartnerErrorCode(models.TextChoices):
    """Codes partner's services raise."""

    CLOUDFLARE_UNIT_IN_USE = (
        "cloudflare_unit_in_use",
        "The Cloudflare tenant unit belongs to another partner.",
    )
    INVALID_NAMING_PATTERN = (
        "invalid_naming_pattern",
        "The naming convention lacks {customer} or uses a token that does not exist.",
    )
    NAMING_CONVENTION_LOCKED = (
        "naming_convention_locked",
        "The subaccount naming convention cannot change once subaccounts exist.",
    )
    BILLING_MODEL_LOCKED = "billing_model_locked", "The billing model cannot change once subaccounts exist."
    CUSTOMER_REFERENCE_LOCKED = (
        "customer_reference_locked",
        "The customer's reference cannot change: subaccount names were built from it.",
    )
    CUSTOMER_HAS_SUBACCOUNTS = (
        "customer_has_subaccounts",
        "The customer has vendor subaccounts and cannot be deleted.",
    )
    ONBOARDING_INCOMPLETE = "onboarding_incomplete", "The partner has not finished onboarding."
    VENDOR_CREDENTIALS_MISSING = (
        "vendor_credentials_missing",
        "The partner has no API credentials for this vendor yet.",
    )
    SUBACCOUNT_EXISTS = (
        "subaccount_exists",
        "The customer (or a subaccount of that name) already exists at the vendor.",
    )
    NAMING_CONVENTION_VIOLATED = (
        "naming_convention_violated",
        "The subaccount name breaks the partner's naming convention.",
    )
    NAMING_CUSTOMER_MISMATCH = (
        "naming_customer_mismatch",
        "The name's {customer} part is not this customer's reference.",
    )
    DIGICERT_BILLED_PER_SUBACCOUNT = (
        "digicert_billed_per_subaccount",
        "DigiCert bills this partner's subaccounts directly; the back office does not bill DigiCert products.",
    )
    MEMBER_EXISTS = "member_exists", "The person already has an account; one may belong to one partner only."
    MEMBER_ALREADY_JOINED = (
        "member_already_joined",
        "The member has already signed in; they reset their password.",
    )
    CANNOT_REMOVE_SELF = "cannot_remove_self", "A member cannot remove themselves."
    LAST_OWNER = "last_owner", "The partner's only owner cannot be removed or demoted."
