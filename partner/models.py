"""Partners (resellers), their customers, members with roles, and vendor subaccounts."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.signals import m2m_changed
from django.utils import timezone

from core.fields import EncryptedSecretField
from core.models import Operation
from core.states import Moves
from core.validation import validate_country_code
from partner.error_codes import PartnerErrorCode

SLUG_VALIDATOR = RegexValidator(
    r"^[a-z0-9]+(?:-[a-z0-9]+)*$", "Use lower-case letters, digits and single hyphens."
)
NAMING_TOKENS = {
    "partner": "the partner's slug",
    "customer": "the customer's reference",
    "vendor": "digicert or cloudflare",
}
_TOKEN_RE = re.compile(r"\{([a-z_]+)\}")


def naming_tokens(pattern: str) -> set[str]:
    return set(_TOKEN_RE.findall(pattern))


class BillingModel(models.TextChoices):
    CENTRALIZED = "centralized", "Centralized at the partner"
    PER_SUBACCOUNT = "per_subaccount", "Per subaccount"


class Vendor(models.TextChoices):
    DIGICERT = "digicert", "DigiCert"
    CLOUDFLARE = "cloudflare", "Cloudflare"


class SupportContacts(models.Model):
    """Who support staff call about an account: the first line, and where trouble escalates to."""

    support_contact_name = models.CharField(max_length=200, blank=True)
    support_contact_email = models.EmailField(blank=True)
    support_contact_phone = models.CharField(max_length=40, blank=True)
    escalation_contact_name = models.CharField(max_length=200, blank=True)
    escalation_contact_email = models.EmailField(blank=True)
    escalation_contact_phone = models.CharField(max_length=40, blank=True)

    class Meta:
        abstract = True


class Partner(SupportContacts):
    """A reseller organisation: its registration, contacts, onboarding decisions and vendor keys."""

    name = models.CharField(max_length=200, help_text="Display name.")
    slug = models.SlugField(max_length=50, unique=True, validators=[SLUG_VALIDATOR])
    legal_name = models.CharField(
        max_length=200, blank=True, help_text="Exactly as in the official registration records."
    )
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(
        max_length=2, blank=True, validators=[validate_country_code], help_text="ISO 3166-1 alpha-2 code."
    )
    org_contact_name = models.CharField("organization contact name", max_length=200, blank=True)
    org_contact_email = models.EmailField("organization contact e-mail", blank=True)
    org_contact_phone = models.CharField("organization contact phone", max_length=40, blank=True)
    verification_contact_name = models.CharField(max_length=200, blank=True)
    verification_contact_email = models.EmailField(blank=True)
    verification_contact_phone = models.CharField(max_length=40, blank=True)
    billing_model = models.CharField(max_length=20, choices=BillingModel.choices, blank=True)
    subaccount_naming_pattern = models.CharField(
        max_length=100,
        blank=True,
        help_text="For example {partner}-{customer}. Tokens: "
        + ", ".join(f"{{{t}}} ({d})" for t, d in NAMING_TOKENS.items())
        + ". Fixed once the first subaccount exists.",
    )
    auto_renew_default = models.BooleanField(
        null=True,
        blank=True,
        help_text="Account-level auto-renew default for ACME contracts (unset: the vendor's default).",
    )
    digicert_api_key = EncryptedSecretField(help_text="DigiCert Partner Subscriptions API key (parent).")
    cloudflare_api_token = EncryptedSecretField(help_text="Cloudflare tenant API token.")
    cloudflare_unit_id = models.CharField(
        "Cloudflare tenant unit",
        max_length=64,
        blank=True,
        help_text="unit_tag from GET /user/tenants.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # A Cloudflare tenant unit belongs to one partner: accounts created there are its own.
            models.UniqueConstraint(
                fields=["cloudflare_unit_id"],
                condition=~models.Q(cloudflare_unit_id=""),
                name="partner_cloudflare_unit_unique",
                violation_error_code=PartnerErrorCode.CLOUDFLARE_UNIT_IN_USE,
                violation_error_message="This Cloudflare tenant unit belongs to another partner.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.country = (self.country or "").strip().upper()

    @property
    def address_complete(self) -> bool:
        return all([self.address_line1, self.city, self.postal_code, self.country])

    def naming_regex(self, customer: Customer | None = None, vendor: str | None = None) -> re.Pattern | None:
        """The convention compiled: literal text as is, each {token} one slug-like word (the shape).

        Given the customer (and vendor), each token is bound to its value instead: {customer} is
        that customer's own reference, {partner} this partner's slug, {vendor} the vendor, so
        another customer's name never matches.
        """
        if not self.subaccount_naming_pattern:
            return None
        values = self._naming_values(customer, vendor) if customer is not None else {}
        parts, last = [], 0
        for match in _TOKEN_RE.finditer(self.subaccount_naming_pattern):
            parts.append(re.escape(self.subaccount_naming_pattern[last : match.start()]))
            value = values.get(match.group(1))
            parts.append(re.escape(value) if value is not None else r"[a-z0-9]+(?:-[a-z0-9]+)*")
            last = match.end()
        parts.append(re.escape(self.subaccount_naming_pattern[last:]))
        return re.compile(r"\A" + "".join(parts) + r"\Z")

    def _naming_values(self, customer: Customer, vendor: str | None) -> dict[str, str]:
        values = {"partner": self.slug, "customer": customer.reference}
        if vendor is not None:
            values["vendor"] = vendor
        return values

    def suggest_subaccount_name(self, customer: Customer, vendor: str) -> str:
        if not self.subaccount_naming_pattern:
            return customer.reference
        values = self._naming_values(customer, vendor)
        return _TOKEN_RE.sub(lambda m: values.get(m.group(1), m.group(0)), self.subaccount_naming_pattern)


class Customer(SupportContacts):
    """An end customer of a partner; each gets its own subaccount per vendor."""

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="customers")
    name = models.CharField(max_length=200)
    reference = models.SlugField(
        max_length=50,
        validators=[SLUG_VALIDATOR],
        help_text="Short unique id within the partner, used in subaccount names.",
    )
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    country = models.CharField(
        max_length=2,
        blank=True,
        db_index=True,
        validators=[validate_country_code],
        help_text="ISO 3166-1 alpha-2 code.",
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["name", "id"], name="customer_name"),
        ]
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "reference"], name="customer_reference_unique")
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.country = (self.country or "").strip().upper()


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    BILLING = "billing", "Billing"
    TECHNICIAN = "technician", "Technician"
    VIEWER = "viewer", "Viewer"


class Membership(models.Model):
    """A reseller user: one partner, one role, optionally limited to some customers.

    `limited_to_customers` says whether the member is limited; `customers` lists the customers
    they are limited to. A limited member whose customers are all gone sees none: removing a
    customer never widens access, only clearing the flag does (see `_limit_on_add`).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership")
    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    limited_to_customers = models.BooleanField(
        "limited to some customers",
        default=False,
        help_text="Ticked: sees only the customers below (none if the list is empty). "
        "Unticked: sees every customer of the partner (leave the list empty).",
    )
    customers = models.ManyToManyField(
        Customer,
        blank=True,
        related_name="+",
        help_text="The customers a limited member sees.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["partner", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()} at {self.partner})"


def _limit_on_add(sender, instance, action, reverse, pk_set, **kwargs):
    """Adding a customer to a member's list limits the member to their list: a list is never read
    as "no limit", and removing customers (or deleting them) never lifts the limit."""
    if not action.startswith("post_"):
        return
    if not reverse:
        instance.__dict__.pop("_allowed_customer_ids", None)  # the access cache of this object
    if action != "post_add" or not pk_set:
        return
    ids = pk_set if reverse else {instance.pk}
    Membership.objects.filter(pk__in=ids, limited_to_customers=False).update(limited_to_customers=True)
    if not reverse:
        instance.limited_to_customers = True


m2m_changed.connect(
    _limit_on_add, sender=Membership.customers.through, dispatch_uid="membership_limit_on_add"
)


class SubaccountState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    FAILED = "failed", "Failed"
    UNKNOWN = "unknown", "Unknown outcome"


# Where a subaccount's state may go next: it follows its create operation (core.OPERATION_MOVES),
# and staff retry a failed one or decide on an unknown one. An active subaccount stays active.
SUBACCOUNT_MOVES: Moves = {
    SubaccountState.PENDING: {SubaccountState.ACTIVE, SubaccountState.FAILED, SubaccountState.UNKNOWN},
    SubaccountState.UNKNOWN: {SubaccountState.PENDING, SubaccountState.ACTIVE, SubaccountState.FAILED},
    SubaccountState.FAILED: {SubaccountState.PENDING},
    SubaccountState.ACTIVE: set(),
}

# The operation kind that creates a subaccount at its vendor (partner.handlers.CreateSubaccount).
CREATE_SUBACCOUNT = "partner.create_subaccount"


class Subaccount(models.Model):
    """A customer's account at one vendor (DigiCert subaccount or Cloudflare account).

    It is created by a core.Operation (`provisioning`), which holds the attempts, lease, backoff
    and last error, like every other vendor call.
    """

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="subaccounts")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="subaccounts")
    vendor = models.CharField(max_length=20, choices=Vendor.choices)
    name = models.CharField(max_length=100)
    reference = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    state = models.CharField(
        max_length=20,
        choices=SubaccountState.choices,
        default=SubaccountState.PENDING,
        db_index=True,
    )
    vendor_id = models.CharField(max_length=64, blank=True)
    api_key = EncryptedSecretField(help_text="The subaccount's own API key (DigiCert).")
    vendor_response = models.JSONField(
        default=dict, blank=True, help_text="Last vendor answer, secrets removed."
    )
    auto_renew_setting = models.BooleanField(
        null=True,
        blank=True,
        help_text="DigiCert account setting auto_renew_subscription as last read (empty: vendor default).",
    )
    settings_read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="subaccount_created"),
        ]
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "vendor"], name="one_subaccount_per_customer_vendor"),
            models.UniqueConstraint(fields=["partner", "vendor", "name"], name="subaccount_name_unique"),
        ]
        permissions = [
            ("provision_subaccount", "Can create subaccounts at the vendor"),
            ("retry_subaccount", "Can retry failed subaccounts"),
        ]

    def __str__(self) -> str:
        return f"{self.get_vendor_display()} {self.name}"

    @property
    def provisioning(self) -> Operation | None:
        """The newest operation creating this subaccount at its vendor (its progress and error)."""
        from django.contrib.contenttypes.models import ContentType

        return (
            Operation.objects.filter(
                content_type=ContentType.objects.get_for_model(Subaccount),
                object_id=str(self.pk),
                kind=CREATE_SUBACCOUNT,
            )
            .order_by("-created_at", "-id")
            .first()
        )

    @property
    def awaiting_decision(self) -> bool:
        """A DigiCert create whose answer was lost waits for staff to link or confirm."""
        from core.operations import awaiting_decision

        return self.state == SubaccountState.UNKNOWN and awaiting_decision(self.provisioning)
