"""What ACME contracts and certificates bring to the reseller dashboard: figures, attention,
the renewals chart, customer sections, timelines and exports."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.urls import reverse

from core import clock, operations
from core.csv_export import iso_date
from core.dashboard import Attention, BarChart, CsvExport, CustomerSection, Figure, NavItem, Series, registry
from partner.access import Can
from subscriptions.acme import certificates as _certificates  # noqa: F401 - registers its handler
from subscriptions.acme.dashboard import selectors as reads
from subscriptions.acme.models import AcmeContract, AcmeProduct
from subscriptions.acme.selectors import (
    acme_contracts_for,
    certificates_expiring,
    certificates_for,
    expiry_warning_until,
)

SHOWN_PER_KIND = 5
RENEWAL_HORIZON = timedelta(days=30)
CANCEL_WARNING = timedelta(days=7)
ENDS_WITHIN = {"30": 30, "90": 90}  # the "term ends within" filter of the subscriptions list

registry.add_nav(NavItem("Subscriptions", "dashboard:subscriptions", order=20, icon="layers"))


def _contract_url(contract_id, anchor: str = "") -> str:
    return reverse("dashboard:acme", args=[contract_id]) + (f"#{anchor}" if anchor else "")


def _name(contract: AcmeContract) -> str:
    first = contract.sans[0] if contract.sans else "?"
    more = f" +{len(contract.sans) - 1}" if len(contract.sans) > 1 else ""
    return f"{first}{more} ({contract.customer.name})"


@registry.figure(order=20)
def acme_figures(actor, now) -> list[Figure]:
    """Live ACME subscriptions by product, and the terms ending in the next 30 days."""
    by_product = reads.live_contracts_by_product(actor)
    ending = list(
        reads.contracts_ending_between(actor, now, now + RENEWAL_HORIZON).values_list("auto_renew", flat=True)
    )
    renewing = sum(1 for auto_renew in ending if auto_renew)
    return [
        Figure(
            "Active ACME subscriptions",
            sum(by_product.values()),
            "live at DigiCert",
            reverse("dashboard:subscriptions") + "?state=active",
            breakdown=tuple(
                (label, by_product[value]) for value, label in AcmeProduct.choices if by_product.get(value)
            ),
        ),
        Figure(
            "Terms ending in 30 days",
            len(ending),
            f"{renewing} renew, {len(ending) - renewing} end" if ending else "nothing due",
            reverse("dashboard:subscriptions") + "?ends=30",
        ),
    ]


@registry.attention_source
def acme_attention(actor, now) -> list[Attention]:
    """Failing operations, drift, renewals in 30 days, credentials never handed over, closing cancel windows."""
    items: list[Attention] = []
    failing = list(reads.contract_operations_needing_attention(actor)[: SHOWN_PER_KIND * 2])
    contracts = acme_contracts_for(actor).in_bulk([int(op.object_id) for op in failing])
    for op in failing:
        contract = contracts.get(int(op.object_id))
        if contract is None:
            continue
        if op.state == "failed":
            items.append(
                Attention(
                    "danger",
                    f"{op.label} failed: {_name(contract)}",
                    f"DigiCert answered {op.last_error_code}: {op.last_error_message}",
                    _contract_url(contract.pk),
                    "Retry",
                    when=op.finished_at or op.last_error_at,
                    category="vendor",
                )
            )
        else:
            detail = (
                f"Attempt {op.attempts} failed ({op.last_error_message or op.last_error_code}); retrying."
                if op.last_error_code
                else "Queued but not picked up yet: is the worker running?"
            )
            items.append(
                Attention(
                    "warning",
                    f"{op.label} is struggling: {_name(contract)}",
                    detail,
                    _contract_url(contract.pk),
                    when=op.last_error_at or op.created_at,
                    category="vendor",
                )
            )
    for contract in reads.contracts_with_drift(actor)[:SHOWN_PER_KIND]:
        items.append(
            Attention(
                "warning",
                f"DigiCert disagrees on {', '.join(sorted(contract.drift))}: {_name(contract)}",
                "Accept DigiCert's value or push ours.",
                _contract_url(contract.pk, "vendor"),
                "Resolve",
                when=contract.synced_at,
                category="drift",
            )
        )
    ending = list(reads.contracts_ending_between(actor, now, now + RENEWAL_HORIZON)[: SHOWN_PER_KIND + 1])
    for contract in ending[:SHOWN_PER_KIND]:
        renews = bool(contract.auto_renew)
        items.append(
            Attention(
                "info" if renews else "warning",
                f"{'Renews' if renews else 'Ends'} on {contract.valid_till:%d %b %Y}: {_name(contract)}",
                "Renewal is on." if renews else "Renewal is stopped: the subscription ends with its term.",
                _contract_url(contract.pk),
                when=contract.valid_till,
                category="renewal",
            )
        )
    if len(ending) > SHOWN_PER_KIND:
        items.append(
            Attention(
                "info",
                "More terms end in the next 30 days",
                "See every subscription whose term ends within 30 days.",
                reverse("dashboard:subscriptions") + "?ends=30",
                "See all",
                when=now + RENEWAL_HORIZON,
                category="renewal",
            )
        )
    for contract in reads.cancel_windows_closing(actor, now, CANCEL_WARNING)[:SHOWN_PER_KIND]:
        closes = contract.cancel_window_closes_at
        items.append(
            Attention(
                "info",
                f"Cancel window closes {closes:%d %b}: {_name(contract)}",
                "After that, the subscription can only stop renewing, not be cancelled.",
                _contract_url(contract.pk, "ending"),
                when=closes,
                category="renewal",
            )
        )
    for contract in reads.credentials_not_handed_over(actor).order_by("credentials_issued_at")[
        :SHOWN_PER_KIND
    ]:
        items.append(
            Attention(
                "info",
                f"Credentials not handed over yet: {_name(contract)}",
                "Reveal the EAB credentials once and give them to the customer's ACME client.",
                _contract_url(contract.pk, "credentials"),
                "Reveal",
                when=contract.credentials_issued_at,
                category="credentials",
            )
        )
    return items


@registry.chart(order=10)
def renewals_chart(actor, months) -> BarChart:
    """ACME terms ending per month over the next 12 months: renewing, and ending for good."""
    counts = reads.renewals_by_month(actor, months)
    return BarChart(
        "ACME renewals, next 12 months",
        months,
        [
            Series("Renew", [counts.get((m, True), 0) for m in months], "primary"),
            Series("End (renewal off)", [counts.get((m, False), 0) for m in months], "warning"),
        ],
        note="Live subscriptions by the month their current term ends.",
    )


def acme_section(actor, customer) -> dict:
    """The customer page's ACME block: every contract with its state, renewal and term."""
    contracts = list(acme_contracts_for(actor).filter(customer=customer).order_by("-created_at", "-id"))
    latest = operations.latest_by_target(contracts)
    return {"contracts": [(c, latest.get(c.pk)) for c in contracts]}


registry.add_customer_section(
    CustomerSection("acme", "ACME subscriptions", "dashboard/customers/_acme.html", acme_section, 20)
)


@registry.timeline_source
def acme_timeline(customers):
    return AcmeContract.objects.filter(customer__in=customers)


@registry.customer_summary
def acme_summary(actor, customer_ids) -> dict[int, list[str]]:
    counts = reads.live_contract_counts(actor, customer_ids)
    return {cid: [f"{n} ACME"] for cid, n in counts.items()}


def subscription_rows(actor, params) -> list[list]:
    """One row per ACME contract the actor sees (with the list's search and filters)."""
    ends = ENDS_WITHIN.get(params.get("ends", ""))
    contracts = reads.search_contracts(
        actor,
        q=params.get("q", "").strip(),
        state=params.get("state", ""),
        product=params.get("product", ""),
        renewal=params.get("renewal", ""),
        ends_before=clock.now() + timedelta(days=ends) if ends else None,
    )
    return [
        [
            c.customer.name,
            c.customer.reference,
            "digicert_acme",
            c.get_product_display(),
            " ".join(c.sans),
            c.state,
            {True: "on", False: "off", None: ""}[c.auto_renew],
            c.get_auto_renew_source_display() if c.auto_renew_source else "",
            iso_date(c.term_started_at),
            iso_date(c.valid_till),
            iso_date(c.cancel_window_closes_at),
            c.vendor_id,
            iso_date(c.created_at),
        ]
        for c in contracts
    ]


registry.add_export(
    CsvExport(
        "subscriptions",
        "Subscriptions",
        [
            "customer",
            "customer_reference",
            "kind",
            "product",
            "domains",
            "state",
            "auto_renew",
            "renewal_decided_by",
            "term_started",
            "valid_till",
            "cancel_until",
            "vendor_id",
            "ordered",
        ],
        subscription_rows,
        order=20,
        capability=Can.VIEW,
    )
)

registry.action_labels.update(
    {
        "acme.ordered": "ACME subscription ordered",
        "acme.created": "ACME contract created at DigiCert",
        "acme.cancel_requested": "Cancellation requested",
        "acme.cancelled": "ACME subscription cancelled",
        "acme.renewal_change_requested": "Renewal change requested",
        "acme.renewal_stopped": "Renewal stopped",
        "acme.renewal_resumed": "Renewal resumed",
        "acme.add_sans_requested": "Domains to add requested",
        "acme.remove_sans_requested": "Domains to remove requested",
        "acme.sans_added": "Domains added",
        "acme.sans_removed": "Domains removed",
        "acme.credentials_revealed": "EAB credentials revealed",
        "acme.credentials_regeneration_requested": "New credentials requested",
        "acme.credentials_regenerated": "EAB credentials regenerated",
        "acme.synced": "Synced with DigiCert",
        "acme.drift_accepted": "DigiCert's value accepted",
        "acme.drift_push_requested": "Our value sent to DigiCert",
        "acme.drift_pushed": "Our value pushed to DigiCert",
        "digicert.account_setting_requested": "Account setting change requested",
        "digicert.account_setting_changed": "Account setting changed",
        "digicert.account_setting_read": "Account setting read",
    }
)


# --- Certificate inventory -------------------------------------------------------------------

registry.add_nav(NavItem("Certificates", "dashboard:certificates", order=25, icon="shield"))


def certificates_url(**params) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return reverse("dashboard:certificates") + (f"?{query}" if query else "")


@registry.attention_source
def certificate_attention(actor, now) -> list[Attention]:
    """Certificates DigiCert lists that expire within CERTIFICATE_EXPIRY_WARNING_DAYS (expired ones too)."""
    days = settings.CERTIFICATE_EXPIRY_WARNING_DAYS
    expiring = list(certificates_expiring(actor, now)[: SHOWN_PER_KIND + 1])
    items = []
    for cert in expiring[:SHOWN_PER_KIND]:
        expired = cert.expires_at <= now
        items.append(
            Attention(
                "danger" if expired else "warning",
                f"Certificate {'expired' if expired else 'expires'} on {cert.expires_at:%d %b %Y}: "
                f"{cert.domain} ({cert.customer.name})",
                "DigiCert lists no replacement yet: check that the customer's ACME client renews it.",
                certificates_url(contract=cert.contract_id),
                when=cert.expires_at,
                category="certificate",
            )
        )
    if len(expiring) > SHOWN_PER_KIND:
        items.append(
            Attention(
                "info",
                f"More certificates expire within {days} days",
                f"See every certificate that expires within {days} days.",
                certificates_url(expiring=1),
                "See all",
                when=now + timedelta(days=days),
                category="certificate",
            )
        )
    return items


def certificates_section(actor, customer) -> dict:
    """The customer page's certificate block: the certificates DigiCert lists now, soonest to expire first."""
    now = clock.now()
    certs = list(
        certificates_for(actor).filter(customer=customer).order_by("expires_at", "id")[: SHOWN_PER_KIND * 4]
    )
    return {
        "certificates": certs,
        "warning_until": expiry_warning_until(now),
        "now": now,
        "all_url": certificates_url(customer=customer.pk),
    }


registry.add_customer_section(
    CustomerSection(
        "certificates", "Certificates", "dashboard/customers/_certificates.html", certificates_section, 25
    )
)


@registry.customer_summary
def certificate_summary(actor, customer_ids) -> dict[int, list[str]]:
    counts = reads.certificate_counts(actor, customer_ids)
    return {cid: [f"{n} certificate{'s' if n != 1 else ''}"] for cid, n in counts.items()}


def certificate_rows(actor, params) -> list[list]:
    """One row per certificate the actor sees (with the list's search and filters)."""
    return [
        [
            c.customer.name,
            c.customer.reference,
            c.contract_id,
            c.contract.vendor_id,
            c.domain,
            " ".join(c.sans),
            c.serial_number,
            c.status,
            iso_date(c.expires_at),
            iso_date(c.first_seen_at),
            iso_date(c.last_seen_at),
            iso_date(c.gone_at),
        ]
        for c in certificate_search(actor, params)
    ]


def certificate_search(actor, params):
    """The certificates of the list page and of its CSV, from the same query-string filters."""
    return reads.search_certificates(
        actor,
        now=clock.now(),
        q=params.get("q", "").strip(),
        customer=_int(params.get("customer")),
        contract=_int(params.get("contract")),
        expiring=bool(params.get("expiring")),
        include_gone=bool(params.get("gone")),
    )


def _int(value) -> int | None:
    return int(value) if value and str(value).isdigit() and len(str(value)) < 12 else None


registry.add_export(
    CsvExport(
        "certificates",
        "Certificates",
        [
            "customer",
            "customer_reference",
            "contract",
            "contract_vendor_id",
            "domain",
            "sans",
            "serial_number",
            "status",
            "expires",
            "first_seen",
            "last_seen",
            "gone",
        ],
        certificate_rows,
        order=25,
        capability=Can.VIEW,
    )
)

registry.action_labels["acme.certificates_changed"] = "Certificates changed at DigiCert"
