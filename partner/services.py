"""Every write on partners, customers and subaccounts. One function per business operation."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from core import audit, operations, states
from core.actor import Actor
from core.error_codes import CoreErrorCode
from core.errors import PermissionDenied, RuleViolation, ValidationFailed
from core.models import ApiToken, Operation
from core.tasks import enqueue_on_commit
from core.validation import full_clean_or_refuse
from partner.access import Can, require
from partner.error_codes import PartnerErrorCode
from partner.models import (
    CREATE_SUBACCOUNT,
    NAMING_TOKENS,
    SUBACCOUNT_MOVES,
    Customer,
    Membership,
    Partner,
    Role,
    Subaccount,
    SubaccountState,
    Vendor,
    naming_tokens,
)
from partner.onboarding import missing_onboarding_items

logger = logging.getLogger(__name__)

# Who support staff call about a partner or a customer (partner.models.SupportContacts).
SUPPORT_CONTACT_FIELDS = [
    "support_contact_name",
    "support_contact_email",
    "support_contact_phone",
    "escalation_contact_name",
    "escalation_contact_email",
    "escalation_contact_phone",
]
# Profile fields a partner (owner/admin) or staff may edit; secrets have their own service.
PARTNER_PROFILE_FIELDS = [
    "name",
    "legal_name",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "org_contact_name",
    "org_contact_email",
    "org_contact_phone",
    "verification_contact_name",
    "verification_contact_email",
    "verification_contact_phone",
    *SUPPORT_CONTACT_FIELDS,
    "billing_model",
    "subaccount_naming_pattern",
    "auto_renew_default",
    "cloudflare_unit_id",
]
# Decisions DigiCert asks to fix before the first subaccount; changing them later is refused.
LOCKED_ONCE_SUBACCOUNTS_EXIST = {
    "subaccount_naming_pattern": PartnerErrorCode.NAMING_CONVENTION_LOCKED,
    "billing_model": PartnerErrorCode.BILLING_MODEL_LOCKED,
}
CUSTOMER_FIELDS = [
    "name",
    "reference",
    "contact_name",
    "contact_email",
    "country",
    "notes",
    *SUPPORT_CONTACT_FIELDS,
]


# --- Partners -----------------------------------------------------------------------------


def create_partner(actor: Actor, *, slug: str, **profile) -> Partner:
    """Staff register a new partner (reseller); onboarding is completed afterwards."""
    if not (actor.is_system or (actor.is_staff and actor.user.has_perm("partner.add_partner"))):
        raise PermissionDenied("Only support staff may register partners.")
    partner = Partner(slug=slug, **{k: v for k, v in profile.items() if k in PARTNER_PROFILE_FIELDS})
    _check_cloudflare_unit(partner)
    full_clean_or_refuse(partner)
    if partner.subaccount_naming_pattern:
        _check_naming_pattern(partner.subaccount_naming_pattern)
    with transaction.atomic():
        partner.save()
        audit.record(actor, "partner.created", partner, partner_id=partner.pk)
    return partner


def update_partner_profile(actor: Actor, partner: Partner, **changes) -> Partner:
    """Edit a partner's registration, contacts and decisions; the naming convention and billing
    model are fixed once a subaccount exists."""
    require(actor, Can.MANAGE_PARTNER, partner=partner)
    unknown = set(changes) - set(PARTNER_PROFILE_FIELDS)
    if unknown:
        raise ValidationFailed("Unknown fields.", fields={f: "Not editable." for f in unknown})
    with transaction.atomic():
        partner = Partner.objects.select_for_update().get(pk=partner.pk)
        before = audit.snapshot(partner)
        has_subaccounts = partner.subaccounts.exists()
        for field, value in changes.items():
            if (
                has_subaccounts
                and field in LOCKED_ONCE_SUBACCOUNTS_EXIST
                and getattr(partner, field) != value
            ):
                label = Partner._meta.get_field(field).verbose_name
                raise RuleViolation(
                    f"The {label} cannot change once subaccounts exist: every existing subaccount "
                    "was set up under the current one.",
                    code=LOCKED_ONCE_SUBACCOUNTS_EXIST[field],
                    fields={field: "Fixed once the first subaccount was created."},
                )
            setattr(partner, field, value)
        _check_cloudflare_unit(partner)
        full_clean_or_refuse(partner)
        if partner.subaccount_naming_pattern:
            _check_naming_pattern(partner.subaccount_naming_pattern)
        try:
            with transaction.atomic():
                partner.save()
        except IntegrityError as exc:  # another partner took the unit meanwhile
            raise _unit_in_use(partner.cloudflare_unit_id) from exc
        audit.record(actor, "partner.updated", partner, partner_id=partner.pk, before=before)
    return partner


def _check_cloudflare_unit(partner: Partner) -> None:
    """A partner's Cloudflare tenant unit is its own: one another partner uses is refused.

    The back office keeps no list of the units a partner's tenant holds (that is Cloudflare's
    GET /user/tenants, a vendor call); Cloudflare refuses accounts in a unit the partner's token
    cannot reach, and this rule keeps one partner from pointing at another's."""
    partner.cloudflare_unit_id = (partner.cloudflare_unit_id or "").strip()
    unit = partner.cloudflare_unit_id
    if unit and Partner.objects.exclude(pk=partner.pk).filter(cloudflare_unit_id__iexact=unit).exists():
        raise _unit_in_use(unit)


def _unit_in_use(unit: str) -> ValidationFailed:
    return ValidationFailed(
        f"The Cloudflare tenant unit {unit!r} belongs to another partner.",
        code=PartnerErrorCode.CLOUDFLARE_UNIT_IN_USE,
        fields={"cloudflare_unit_id": "Used by another partner: give your own tenant unit."},
    )


def _check_naming_pattern(pattern: str) -> None:
    """A naming convention uses only known tokens and at least {customer}, so names stay unique."""
    tokens = naming_tokens(pattern)
    unknown = tokens - set(NAMING_TOKENS)
    if unknown or "customer" not in tokens:
        raise ValidationFailed(
            "The naming convention must contain {customer} and only the tokens "
            + ", ".join(f"{{{t}}}" for t in NAMING_TOKENS)
            + ".",
            code=PartnerErrorCode.INVALID_NAMING_PATTERN,
            fields={
                "subaccount_naming_pattern": f"Unknown tokens: {sorted(unknown)}"
                if unknown
                else "Must contain {customer}."
            },
        )


def set_vendor_credentials(
    actor: Actor,
    partner: Partner,
    *,
    digicert_api_key: str | None = None,
    cloudflare_api_token: str | None = None,
) -> Partner:
    """Store a partner's vendor keys encrypted; the audit trail records only that they changed."""
    require(actor, Can.MANAGE_PARTNER, partner=partner)
    with transaction.atomic():
        partner = Partner.objects.select_for_update().get(pk=partner.pk)
        before = audit.snapshot(partner, ["digicert_api_key", "cloudflare_api_token"])
        if digicert_api_key:
            partner.digicert_api_key = digicert_api_key.strip()
        if cloudflare_api_token:
            partner.cloudflare_api_token = cloudflare_api_token.strip()
        partner.save(update_fields=["digicert_api_key", "cloudflare_api_token", "updated_at"])
        changed = {
            name: ["[secret]", "[secret]"] if before[name] else [None, "[secret]"]
            for name, value in (
                ("digicert_api_key", digicert_api_key),
                ("cloudflare_api_token", cloudflare_api_token),
            )
            if value
        }
        audit.record(actor, "partner.credentials_set", partner, partner_id=partner.pk, changes=changed)
    return partner


# --- Customers ----------------------------------------------------------------------------


def create_customer(actor: Actor, partner: Partner, **data) -> Customer:
    """Add a customer to a partner (its reference is unique within the partner)."""
    require(actor, Can.MANAGE_CUSTOMERS, partner=partner)
    customer = Customer(partner=partner, **{k: v for k, v in data.items() if k in CUSTOMER_FIELDS})
    full_clean_or_refuse(customer)
    with transaction.atomic():
        customer.save()
        audit.record(actor, "customer.created", customer, partner_id=partner.pk)
    return customer


def update_customer(actor: Actor, customer: Customer, **data) -> Customer:
    """Edit a customer; its reference is fixed once it names a subaccount."""
    require(actor, Can.MANAGE_CUSTOMERS, partner=customer.partner, customer=customer)
    with transaction.atomic():
        customer = Customer.objects.select_for_update().select_related("partner").get(pk=customer.pk)
        before = audit.snapshot(customer)
        if "reference" in data and data["reference"] != customer.reference and customer.subaccounts.exists():
            raise RuleViolation(
                "The reference cannot change: subaccount names were built from it.",
                code=PartnerErrorCode.CUSTOMER_REFERENCE_LOCKED,
                fields={"reference": "Used in existing subaccount names."},
            )
        for field, value in data.items():
            if field in CUSTOMER_FIELDS:
                setattr(customer, field, value)
        full_clean_or_refuse(customer)
        customer.save()
        audit.record(actor, "customer.updated", customer, partner_id=customer.partner_id, before=before)
    return customer


def delete_customer(actor: Actor, customer: Customer) -> None:
    """Remove a customer that has nothing at any vendor yet."""
    require(actor, Can.MANAGE_CUSTOMERS, partner=customer.partner, customer=customer)
    with transaction.atomic():
        if customer.subaccounts.exists():
            raise RuleViolation(
                "This customer has vendor subaccounts and cannot be deleted.",
                code=PartnerErrorCode.CUSTOMER_HAS_SUBACCOUNTS,
            )
        audit.record(
            actor,
            "customer.deleted",
            customer,
            partner_id=customer.partner_id,
            changes={"name": [customer.name, None]},
        )
        customer.delete()


# --- Subaccounts --------------------------------------------------------------------------


def request_subaccount(actor: Actor, customer: Customer, vendor: str, name: str = "") -> Subaccount:
    """Ask for a customer's subaccount at a vendor: refused until onboarding is complete and
    unless the name follows the partner's naming convention; the vendor call runs in a task."""
    partner = customer.partner
    require(actor, Can.MANAGE_SUBACCOUNTS, partner=partner, customer=customer)
    if vendor not in Vendor.values:
        raise ValidationFailed(f"Unknown vendor {vendor!r}.", fields={"vendor": f"One of {Vendor.values}."})
    missing = missing_onboarding_items(partner)
    if missing:
        raise RuleViolation(
            f"{partner} has not finished onboarding; still missing: "
            + "; ".join(item.label for item in missing)
            + ".",
            code=PartnerErrorCode.ONBOARDING_INCOMPLETE,
        )
    if not _vendor_credentials(partner, vendor):
        raise RuleViolation(
            f"{partner} has no {Vendor(vendor).label} API credentials yet.",
            code=PartnerErrorCode.VENDOR_CREDENTIALS_MISSING,
        )
    name = (name or partner.suggest_subaccount_name(customer, vendor)).strip()
    _check_subaccount_name(partner, customer, vendor, name)
    if Subaccount.objects.filter(customer=customer, vendor=vendor).exists():
        raise RuleViolation(
            f"{customer} already has a {Vendor(vendor).label} subaccount.",
            code=PartnerErrorCode.SUBACCOUNT_EXISTS,
        )
    try:
        with transaction.atomic():
            subaccount = Subaccount.objects.create(
                partner=partner, customer=customer, vendor=vendor, name=name
            )
            audit.record(actor, "subaccount.requested", subaccount, partner_id=partner.pk)
            operations.start(actor, subaccount, CREATE_SUBACCOUNT, partner_id=partner.pk)
    except IntegrityError as exc:
        raise RuleViolation(
            f"A {Vendor(vendor).label} subaccount named {name!r} already exists for {partner}.",
            code=PartnerErrorCode.SUBACCOUNT_EXISTS,
            fields={"name": "Already used."},
        ) from exc
    return subaccount


def _check_subaccount_name(partner: Partner, customer: Customer, vendor: str, name: str) -> None:
    """The name follows the partner's convention with every token bound to this subaccount: the
    {customer} part is this customer's own reference (another customer's name is refused, so it
    stays free for its customer), {partner} the partner's slug, {vendor} the vendor."""
    example = partner.suggest_subaccount_name(customer, vendor)
    if not partner.naming_regex().match(name):
        raise ValidationFailed(
            f"The name {name!r} breaks {partner}'s naming convention "
            f"{partner.subaccount_naming_pattern!r}; for this customer use {example!r}.",
            code=PartnerErrorCode.NAMING_CONVENTION_VIOLATED,
            fields={"name": f"Must follow {partner.subaccount_naming_pattern}, e.g. {example}."},
        )
    if not partner.naming_regex(customer, vendor).match(name):
        raise ValidationFailed(
            f"The name {name!r} is not {customer}'s under {partner}'s naming convention "
            f"{partner.subaccount_naming_pattern!r}: its {{customer}} part must be the customer's "
            f"reference {customer.reference!r}; use {example!r}.",
            code=PartnerErrorCode.NAMING_CUSTOMER_MISMATCH,
            fields={"name": f"Must be {example} for {customer} (reference {customer.reference})."},
        )


def retry_subaccount(actor: Actor, subaccount: Subaccount) -> Subaccount:
    """Staff or a reseller retries a failed subaccount: a new create operation, which looks the
    subaccount up first where the vendor documents a read."""
    require(actor, Can.RETRY_SUBACCOUNTS, partner=subaccount.partner, customer=subaccount.customer)
    with transaction.atomic():
        subaccount = Subaccount.objects.select_for_update().get(pk=subaccount.pk)
        if subaccount.state != SubaccountState.FAILED:
            raise RuleViolation(
                f"Only a failed subaccount can be retried; this one is {subaccount.get_state_display().lower()}.",
                code=CoreErrorCode.NOT_RETRYABLE,
            )
        states.move(
            subaccount, SubaccountState.PENDING, SUBACCOUNT_MOVES, actor=actor, action="subaccount.retried"
        )
        operations.start(
            actor, subaccount, CREATE_SUBACCOUNT, partner_id=subaccount.partner_id, params={"retry": True}
        )
    return subaccount


def failed_subaccount_operation(subaccount: Subaccount) -> Operation | None:
    """The vendor call on the subaccount (e.g. its account setting) that failed for good and that
    nothing has fixed since, if any; a failed create is the subaccount's own failure instead."""
    failures = operations.unresolved_failures(Subaccount.objects.filter(pk=subaccount.pk))
    return failures.exclude(kind=CREATE_SUBACCOUNT).order_by("-created_at", "-id").first()


def retry_subaccount_operation(actor: Actor, subaccount: Subaccount) -> Operation:
    """Retry the subaccount's failed vendor call (its account setting): only that call runs again,
    the subaccount is never created a second time."""
    require(actor, Can.RETRY_SUBACCOUNTS, partner=subaccount.partner, customer=subaccount.customer)
    failed = failed_subaccount_operation(subaccount)
    if failed is None:
        raise RuleViolation(
            "Nothing to retry: no call on this subaccount failed.", code=CoreErrorCode.NOT_RETRYABLE
        )
    return operations.retry(actor, failed)


def link_digicert_subaccount(actor: Actor, subaccount: Subaccount, account_id: str) -> Subaccount:
    """Staff found the subaccount in CertCentral after a lost create answer: link its id; the create
    operation then mints the back office's key for it (POST /api-key/account/{id}) instead."""
    account_id = str(account_id or "").strip()
    if not account_id.isdigit():
        raise ValidationFailed(
            "Give the subaccount's numeric id from CertCentral.", fields={"account_id": "Digits only."}
        )
    return _decide_unknown(actor, subaccount, "subaccount.linked", vendor_id=account_id)


def confirm_fresh_create(actor: Actor, subaccount: Subaccount) -> Subaccount:
    """Staff checked CertCentral and the lost create did not happen: create it now, once."""
    return _decide_unknown(actor, subaccount, "subaccount.create_confirmed")


def _decide_unknown(actor: Actor, subaccount: Subaccount, action: str, vendor_id: str = "") -> Subaccount:
    """Record staff's decision on a DigiCert subaccount whose create answer was lost, and let its
    waiting create operation run again (core.operations.resume)."""
    require(actor, Can.RETRY_SUBACCOUNTS, partner=subaccount.partner, customer=subaccount.customer)
    with transaction.atomic():
        subaccount = Subaccount.objects.select_for_update().get(pk=subaccount.pk)
        if subaccount.vendor != Vendor.DIGICERT or not subaccount.awaiting_decision:
            raise RuleViolation(
                "Only a DigiCert subaccount whose outcome is unknown waits for this decision.",
                code=CoreErrorCode.NOT_AWAITING_DECISION,
            )
        before = audit.snapshot(subaccount)
        states.move(subaccount, SubaccountState.PENDING, SUBACCOUNT_MOVES, save=False)
        if vendor_id:
            subaccount.vendor_id = vendor_id
        subaccount.save()
        audit.record(actor, action, subaccount, partner_id=subaccount.partner_id, before=before)
        operations.resume(subaccount.provisioning)
    return subaccount


def _vendor_credentials(partner: Partner, vendor: str) -> bool:
    return bool(partner.digicert_api_key if vendor == Vendor.DIGICERT else partner.cloudflare_api_token)


# --- Members ------------------------------------------------------------------------------

INVITATION_TASK = "partner.tasks.send_invitation_task"


def invite_member(
    actor: Actor,
    partner: Partner,
    *,
    email: str,
    role: str,
    first_name: str = "",
    last_name: str = "",
    customers=None,
) -> Membership:
    """The owner invites a member: a user without a password, its membership (role and optional
    customer limits: None for every customer, else exactly these, possibly none), and an e-mail
    with a link to choose a password."""
    require(actor, Can.MANAGE_MEMBERS, partner=partner)
    email = (email or "").strip().lower()
    _check_role(role)
    try:
        validate_email(email)
    except DjangoValidationError as exc:
        raise ValidationFailed("Give a valid e-mail address.", fields={"email": exc.messages}) from exc
    User = get_user_model()
    if User.objects.filter(Q(username__iexact=email) | Q(email__iexact=email)).exists():
        raise RuleViolation(
            f"{email} already has an account; a person can be a member of one partner only.",
            code=PartnerErrorCode.MEMBER_EXISTS,
            fields={"email": "Already has an account."},
        )
    limits = _customer_limits(partner, customers)
    with transaction.atomic():
        user = User.objects.create_user(
            username=email, email=email, first_name=first_name.strip(), last_name=last_name.strip()
        )  # no password: unusable until the invitation link sets one
        membership = Membership.objects.create(
            user=user, partner=partner, role=role, limited_to_customers=limits is not None
        )
        membership.customers.set(limits or ())
        audit.record(
            actor,
            "member.invited",
            membership,
            partner_id=partner.pk,
            changes={
                "email": [None, email],
                "role": [None, role],
                "limited_to_customers": [None, limits is not None],
                "customers": [None, sorted(c.reference for c in limits or ())],
            },
        )
        enqueue_on_commit(INVITATION_TASK, membership.pk)
    return membership


def resend_invitation(actor: Actor, membership: Membership) -> Membership:
    """Send the invitation again to a member who has not signed in yet (the old link stops working
    once a password is set)."""
    require(actor, Can.MANAGE_MEMBERS, partner=membership.partner)
    if membership.user.last_login is not None:
        raise RuleViolation(
            f"{membership.user.email} has already signed in; they can reset their password themselves.",
            code=PartnerErrorCode.MEMBER_ALREADY_JOINED,
        )
    with transaction.atomic():
        audit.record(
            actor, "member.invitation_resent", membership, partner_id=membership.partner_id, changes={}
        )
        enqueue_on_commit(INVITATION_TASK, membership.pk)
    return membership


def update_member(actor: Actor, membership: Membership, *, role: str, customers=None) -> Membership:
    """The owner changes a member's role and customer limits (None: every customer; a list: exactly
    these, possibly none); a partner always keeps one owner."""
    require(actor, Can.MANAGE_MEMBERS, partner=membership.partner)
    _check_role(role)
    limits = _customer_limits(membership.partner, customers)
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().select_related("partner", "user").get(pk=membership.pk)
        )
        before_customers = sorted(membership.customers.values_list("reference", flat=True))
        if membership.role == Role.OWNER and role != Role.OWNER:
            _require_another_owner(membership, "change the role of")
        before_role, before_limited = membership.role, membership.limited_to_customers
        membership.role = role
        membership.limited_to_customers = limits is not None
        membership.save(update_fields=["role", "limited_to_customers"])
        membership.customers.set(limits or ())
        after_customers = sorted(c.reference for c in limits or ())
        changes = {}
        if before_role != role:
            changes["role"] = [before_role, role]
        if before_limited != membership.limited_to_customers:
            changes["limited_to_customers"] = [before_limited, membership.limited_to_customers]
        if before_customers != after_customers:
            changes["customers"] = [before_customers, after_customers]
        audit.record(actor, "member.updated", membership, partner_id=membership.partner_id, changes=changes)
    return membership


def remove_member(actor: Actor, membership: Membership) -> None:
    """The owner removes a member: the membership goes, the user is deactivated and their API tokens
    revoked; nobody removes themselves and a partner always keeps one owner."""
    require(actor, Can.MANAGE_MEMBERS, partner=membership.partner)
    if actor.user is not None and actor.user.pk == membership.user_id:
        raise RuleViolation("You cannot remove yourself.", code=PartnerErrorCode.CANNOT_REMOVE_SELF)
    with transaction.atomic():
        membership = (
            Membership.objects.select_for_update().select_related("partner", "user").get(pk=membership.pk)
        )
        if membership.role == Role.OWNER:
            _require_another_owner(membership, "remove")
        user = membership.user
        audit.record(
            actor,
            "member.removed",
            membership,
            partner_id=membership.partner_id,
            changes={"email": [user.email, None], "role": [membership.role, None]},
        )
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
        user.is_active = False
        user.save(update_fields=["is_active"])
        membership.delete()


def send_invitation(membership_id: int) -> None:
    """Worker side: e-mail the member a link to choose their password (a fresh token each time)."""
    membership = Membership.objects.select_related("user", "partner").filter(pk=membership_id).first()
    if membership is None or not membership.user.is_active:
        return
    user = membership.user
    context = {
        "user": user,
        "partner": membership.partner,
        "role": membership.get_role_display(),
        "link": settings.SITE_URL.rstrip("/")
        + reverse(
            "password_reset_confirm",
            kwargs={
                "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": default_token_generator.make_token(user),
            },
        ),
        "valid_days": max(settings.PASSWORD_RESET_TIMEOUT // 86400, 1),
    }
    subject = render_to_string("emails/invitation_subject.txt", context).strip()
    send_mail(subject, render_to_string("emails/invitation.txt", context), None, [user.email])


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationFailed(f"Unknown role {role!r}.", fields={"role": f"One of {Role.values}."})


def _customer_limits(partner: Partner, customers) -> list[Customer] | None:
    """The customers a member is limited to (None: not limited); all of them must be this partner's."""
    if customers is None:
        return None
    ids = {c.pk if isinstance(c, Customer) else int(c) for c in customers}
    found = list(Customer.objects.filter(partner=partner, pk__in=ids))
    if len(found) != len(ids):
        raise ValidationFailed(
            "Some of those customers are not yours.", fields={"customers": "Choose among your customers."}
        )
    return found


def _require_another_owner(membership: Membership, verb: str) -> None:
    others = Membership.objects.filter(partner_id=membership.partner_id, role=Role.OWNER).exclude(
        pk=membership.pk
    )
    if not others.exists():
        raise RuleViolation(
            f"You cannot {verb} the only owner of {membership.partner}: make another member owner first.",
            code=PartnerErrorCode.LAST_OWNER,
        )
