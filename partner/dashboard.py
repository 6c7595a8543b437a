"""What the partner app brings to the reseller dashboard (see dashboard.registry): navigation, customer
figures, onboarding and subaccount problems to look at, the subaccounts block of the customer page
and the customers CSV."""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q
from django.urls import reverse

from core.audit import ACTION_LABELS
from dashboard.registry import Attention, CsvExport, CustomerSection, Figure, NavItem, registry
from partner import selectors
from partner.access import Can
from partner.models import Subaccount, SubaccountState, Vendor
from partner.onboarding import missing_onboarding_items

SHOWN_PER_KIND = 5

registry.add_nav(NavItem("Home", "dashboard:home", order=0, icon="home"))
registry.add_nav(NavItem("Customers", "dashboard:customers", order=10, icon="users"))
registry.add_nav(NavItem("Team", "dashboard:team", order=80, icon="team"))
registry.add_nav(NavItem("Organization", "dashboard:organization", order=85, icon="building"))


@registry.figure(order=10)
def customer_figures(actor, now) -> list[Figure]:
    """Customers, and how many have no vendor subaccount yet."""
    counts = selectors.customers_for(actor).aggregate(
        total=Count("id", distinct=True),
        bare=Count("id", filter=Q(subaccounts__isnull=True), distinct=True),
    )
    states = dict(
        selectors.subaccounts_for(actor)
        .order_by()
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return [
        Figure(
            "Customers",
            counts["total"],
            f"{counts['bare']} without a subaccount yet" if counts["bare"] else "all have a subaccount",
            reverse("dashboard:customers"),
        ),
        Figure(
            "Vendor subaccounts",
            states.get(SubaccountState.ACTIVE, 0),
            "active",
            reverse("dashboard:customers") + "?status=attention" if _problem_count(states) else "",
            breakdown=tuple(
                (label, states[value])
                for value, label in SubaccountState.choices
                if value != SubaccountState.ACTIVE and states.get(value)
            ),
        ),
    ]


def _problem_count(states: dict) -> int:
    return states.get(SubaccountState.FAILED, 0) + states.get(SubaccountState.UNKNOWN, 0)


@registry.attention_source
def onboarding_gaps(actor, now) -> list[Attention]:
    """Onboarding checklist items still missing, vendor keys not set, customers without subaccounts."""
    membership = getattr(actor.user, "membership", None)
    items = []
    if membership is not None:
        partner = membership.partner
        missing = missing_onboarding_items(partner)
        if missing:
            items.append(
                Attention(
                    "danger" if any(i.key != "customers" for i in missing) else "warning",
                    "Finish onboarding",
                    "Subaccounts cannot be created until these are done: "
                    + ", ".join(i.label.lower() for i in missing)
                    + ".",
                    reverse("dashboard:organization"),
                    "Open the checklist",
                    category="onboarding",
                )
            )
        lacking = [
            label
            for vendor, label in Vendor.choices
            if not (partner.digicert_api_key if vendor == Vendor.DIGICERT else partner.cloudflare_api_token)
        ]
        if lacking:
            items.append(
                Attention(
                    "warning",
                    f"No {' or '.join(lacking)} credentials",
                    "Subaccounts at that vendor cannot be created until the API key is stored.",
                    reverse("dashboard:organization"),
                    "Add credentials",
                    category="onboarding",
                )
            )
    bare = list(selectors.customers_without_subaccounts(actor).order_by("-created_at")[: SHOWN_PER_KIND + 1])
    if bare:
        names = ", ".join(c.name for c in bare[:SHOWN_PER_KIND]) + (
            " and more" if len(bare) > SHOWN_PER_KIND else ""
        )
        items.append(
            Attention(
                "info",
                "Customers without a subaccount",
                f"Nothing can be ordered for {names} until a vendor subaccount exists.",
                reverse("dashboard:customers") + "?status=no_subaccount",
                "See them",
                category="onboarding",
            )
        )
    return items


@registry.attention_source
def subaccount_problems(actor, now) -> list[Attention]:
    """Subaccounts that failed, have an unknown outcome, keep failing, or were not picked up."""
    problems = list(
        selectors.with_provisioning(selectors.subaccounts_needing_attention(actor)).order_by(
            "-updated_at", "-id"
        )[: SHOWN_PER_KIND * 2]
    )
    items = []
    for sub in problems:
        url = reverse("dashboard:customer", args=[sub.customer_id]) + "#subaccounts"
        # The create operation's attempts and the vendor's last error (selectors.with_provisioning).
        error = sub.provisioning_error_message or sub.provisioning_error_code
        when = sub.provisioning_error_at
        if sub.state == SubaccountState.FAILED:
            items.append(
                Attention(
                    "danger",
                    f"{sub.get_vendor_display()} subaccount failed for {sub.customer}",
                    f"Gave up after {sub.provisioning_attempts or 0} attempts: {error}.",
                    url,
                    "Retry",
                    when=when,
                    category="vendor",
                )
            )
        elif sub.state == SubaccountState.UNKNOWN:
            items.append(
                Attention(
                    "warning",
                    f"{sub.get_vendor_display()} subaccount for {sub.customer}: outcome unknown",
                    "The vendor did not answer in time; the next attempt looks it up before creating anything.",
                    url,
                    when=when,
                    category="vendor",
                )
            )
        else:
            detail = (
                f"Attempt {sub.provisioning_attempts} failed ({error}); retrying."
                if sub.provisioning_error_code
                else "Queued but not picked up yet: is the worker running?"
            )
            items.append(
                Attention(
                    "warning",
                    f"{sub.get_vendor_display()} subaccount for {sub.customer} is struggling",
                    detail,
                    url,
                    when=when or sub.created_at,
                    category="vendor",
                )
            )
    return items


IN_PROGRESS = (SubaccountState.PENDING, SubaccountState.UNKNOWN)


def subaccounts_section(actor, customer) -> dict:
    """The customer page's subaccounts block: each vendor's account, or a button to create it."""
    subaccounts = list(selectors.subaccounts_for(actor).filter(customer=customer).order_by("vendor"))
    present = {s.vendor for s in subaccounts}
    return {
        "subaccounts": subaccounts,
        "missing_vendors": [(value, label) for value, label in Vendor.choices if value not in present],
        "in_progress": IN_PROGRESS,
    }


registry.add_customer_section(
    CustomerSection(
        "subaccounts", "Vendor subaccounts", "dashboard/customers/_subaccounts.html", subaccounts_section, 10
    )
)


def customer_rows(actor, params) -> list[list]:
    """One row per customer the actor sees (with the list's search and filter)."""
    customers = (
        selectors.search_customers(actor, q=params.get("q", "").strip(), status=params.get("status", ""))
        .order_by("name", "id")
        .prefetch_related(Prefetch("subaccounts", queryset=Subaccount.objects.order_by("vendor")))
    )
    rows = []
    for customer in customers:
        by_vendor = {s.vendor: s for s in customer.subaccounts.all()}
        rows.append(
            [
                customer.name,
                customer.reference,
                customer.contact_name,
                customer.contact_email,
                customer.country,
                *(
                    value
                    for vendor in Vendor.values
                    for value in (
                        by_vendor[vendor].name if vendor in by_vendor else "",
                        by_vendor[vendor].state if vendor in by_vendor else "",
                    )
                ),
                customer.created_at.strftime("%Y-%m-%d"),
            ]
        )
    return rows


registry.add_export(
    CsvExport(
        "customers",
        "Customers",
        [
            "name",
            "reference",
            "contact_name",
            "contact_email",
            "country",
            *(f"{vendor}_{what}" for vendor in Vendor.values for what in ("subaccount", "state")),
            "created",
        ],
        customer_rows,
        order=10,
        capability=Can.VIEW,
    )
)

ACTION_LABELS.update(
    {
        "customer.created": "Customer added",
        "customer.updated": "Customer edited",
        "customer.deleted": "Customer deleted",
        "subaccount.requested": "Subaccount requested",
        "subaccount.activated": "Subaccount created at the vendor",
        "subaccount.attempt_failed": "Vendor attempt failed",
        "subaccount.retried": "Subaccount retried",
        "member.invited": "Member invited",
        "member.invitation_resent": "Invitation sent again",
        "member.updated": "Member changed",
        "member.removed": "Member removed",
        "partner.updated": "Organization edited",
        "partner.credentials_set": "Vendor credentials replaced",
        "api_token.created": "API token created",
        "api_token.revoked": "API token revoked",
        "operation.retried": "Vendor operation retried",
        "operation.failed": "Vendor operation failed",
        "operation.attempt_failed": "Vendor attempt failed",
    }
)
