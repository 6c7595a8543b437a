"""Who may do what: reseller roles map to capabilities, staff need the matching Django permission."""

from __future__ import annotations

from enum import StrEnum

from core.actor import Actor
from core.errors import NotFound, PermissionDenied
from partner.models import Customer, Membership, Partner, Role


class Can(StrEnum):
    VIEW = "view"
    MANAGE_PARTNER = "partner.manage"
    MANAGE_MEMBERS = "members.manage"
    MANAGE_CUSTOMERS = "customers.manage"
    MANAGE_SUBACCOUNTS = "subaccounts.manage"
    RETRY_SUBACCOUNTS = "subaccounts.retry"
    MANAGE_SERVICES = "services.manage"
    MANAGE_CLOUDFLARE = "cloudflare.manage"
    REVEAL_SECRETS = "secrets.reveal"
    MANAGE_BILLING = "billing.manage"


_ALL = frozenset(Can)
ROLE_CAPABILITIES: dict[str, frozenset[Can]] = {
    Role.OWNER: _ALL,
    Role.ADMIN: _ALL - {Can.MANAGE_MEMBERS},
    Role.TECHNICIAN: frozenset(
        {
            Can.VIEW,
            Can.MANAGE_SUBACCOUNTS,
            Can.RETRY_SUBACCOUNTS,
            Can.MANAGE_SERVICES,
            Can.MANAGE_CLOUDFLARE,
            Can.REVEAL_SECRETS,
        }
    ),
    Role.BILLING: frozenset({Can.VIEW, Can.MANAGE_BILLING}),
    Role.VIEWER: frozenset({Can.VIEW}),
}

# Support staff act for every partner, each action behind its own Django permission.
STAFF_PERMISSIONS: dict[Can, str] = {
    Can.VIEW: "partner.view_customer",
    Can.MANAGE_PARTNER: "partner.change_partner",
    Can.MANAGE_MEMBERS: "partner.change_membership",
    Can.MANAGE_CUSTOMERS: "partner.change_customer",
    Can.MANAGE_SUBACCOUNTS: "partner.provision_subaccount",
    Can.RETRY_SUBACCOUNTS: "partner.retry_subaccount",
    Can.MANAGE_SERVICES: "subscriptions.manage_acmecontract",
    Can.MANAGE_CLOUDFLARE: "subscriptions.manage_cloudflare",
    Can.REVEAL_SECRETS: "subscriptions.reveal_credentials",
    Can.MANAGE_BILLING: "billing.change_billingsubscription",
}


def membership_of(actor: Actor) -> Membership | None:
    """The reseller membership of the acting user (cached on the user object)."""
    user = actor.user
    if user is None or not user.is_authenticated:
        return None
    try:
        return user.membership
    except Membership.DoesNotExist:
        return None


def allowed_customer_ids(membership: Membership) -> set[int] | None:
    """The customers a limited member may see (possibly none), or None when the member is not
    limited. Only the membership's flag says "not limited": an empty list never does."""
    if not membership.limited_to_customers:
        return None
    cache = getattr(membership, "_allowed_customer_ids", None)
    if cache is None:
        cache = set(membership.customers.values_list("id", flat=True))
        membership._allowed_customer_ids = cache
    return cache


def can(actor: Actor, capability: Can) -> bool:
    """Whether the actor's role (or staff permission) includes the capability, partner aside."""
    if actor.is_system:
        return True
    if actor.is_staff:
        return actor.user.has_perm(STAFF_PERMISSIONS[capability])
    membership = membership_of(actor)
    return membership is not None and capability in ROLE_CAPABILITIES.get(membership.role, ())


def require(actor: Actor, capability: Can, *, partner: Partner, customer: Customer | None = None) -> None:
    """Refuse unless the actor may use `capability` on this partner (and customer).

    Another partner's object, or a customer outside a member's limits, is "not found", never
    "forbidden": a reseller must not learn that it exists.
    """
    if actor.is_system:
        return
    if actor.is_staff:
        if not actor.user.has_perm(STAFF_PERMISSIONS[capability]):
            raise PermissionDenied(f"Your staff account lacks the permission to do this ({capability}).")
        return
    membership = membership_of(actor)
    if membership is None or membership.partner_id != partner.pk:
        raise NotFound("Not found.")
    if customer is not None:
        allowed = allowed_customer_ids(membership)
        if allowed is not None and customer.pk not in allowed:
            raise NotFound("Not found.")
    if capability not in ROLE_CAPABILITIES.get(membership.role, ()):
        raise PermissionDenied(
            f"Your role ({membership.get_role_display()}) does not allow this ({capability})."
        )
