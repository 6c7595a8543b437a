"""Subscriptions' error codes: DigiCert ACME contracts and Cloudflare zones, plans and add-ons."""

from django.db import models

from core.error_codes import register


@register
class SubscriptionErrorCode(models.TextChoices):
    """Codes the ACME and Cloudflare services and rules raise."""

    SUBACCOUNT_NOT_ACTIVE = (
        "subaccount_not_active",
        "The customer has no active subaccount at the vendor yet; create it first.",
    )
    NOT_AT_VENDOR = "not_at_vendor", "The object does not exist at the vendor yet."
    NOT_BILLED_REASON_REQUIRED = (
        "not_billed_reason_required",
        "A paid change billing does not make needs the reason it is not billed.",
    )
    # DigiCert ACME contracts.
    UNKNOWN_PRODUCT = "unknown_product", "Not an ACME product DigiCert sells."
    ORGANIZATION_REQUIRED = (
        "organization_required",
        "An organization-validated product needs the organization.",
    )
    LAST_SAN = "last_san", "A contract keeps at least one domain name."
    CREDENTIALS_NOT_READY = "credentials_not_ready", "The contract has no ACME credentials yet."
    CREDENTIALS_ALREADY_REVEALED = (
        "credentials_already_revealed",
        "The ACME credentials were shown once already; regenerate them for a new pair.",
    )
    NO_DRIFT = "no_drift", "There is no drift on that field."
    CANNOT_PUSH_FIELD = "cannot_push_field", "The vendor owns that field; accept the vendor's value instead."
    CONTRACT_CANCELLED = "contract_cancelled", "The contract is cancelled; cancellation is irreversible."
    CONTRACT_NOT_ACTIVE = "contract_not_active", "Only an active contract can be changed."
    RENEWAL_UNCHANGED = "renewal_unchanged", "Renewal is already in the requested state."
    TERM_ENDED = "term_ended", "The contract's term has ended."
    # Cloudflare zones and add-ons.
    ZONE_EXISTS = "zone_exists", "The customer already has this zone."
    ZONE_NOT_ACTIVE = "zone_not_active", "The zone's plan changes once Cloudflare has the zone active."
    ADDON_CANCELLED = "addon_cancelled", "The add-on is cancelled; buy it again instead."
    ADDON_NOT_ACTIVE = "addon_not_active", "Only an active add-on can be changed."
    ADDON_EXISTS = "addon_exists", "The customer already has this add-on; change its components instead."
    # Cloudflare catalog rules (subscriptions/cloudflare_rules.py).
    PLAN_NOT_IN_CATALOG = "plan_not_in_catalog", "The plan is not in the partner's Cloudflare catalog."
    INVALID_FREQUENCY = "invalid_frequency", "Not a Cloudflare billing frequency."
    FREQUENCY_NOT_ALLOWED = "frequency_not_allowed", "The plan is not sold at that frequency."
    COMPONENT_NOT_ALLOWED = "component_not_allowed", "The plan cannot be sold with that component."
    INVALID_COMPONENT_VALUE = "invalid_component_value", "Component values are whole units, 0 or more."
    COMPONENT_ABOVE_MAXIMUM = "component_above_maximum", "A component value is above what the plan allows."
    NO_SUBSCRIPTION = "no_subscription", "The zone has no subscription yet; upgrade it first."
    NOT_AN_UPGRADE = "not_an_upgrade", "The plan is the current one or costs less: not an upgrade."
    NOT_A_DOWNGRADE = "not_a_downgrade", "The plan is the current one or does not cost less: not a downgrade."
