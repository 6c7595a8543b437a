"""What the subscriptions app brings to the reseller dashboard (see core.dashboard): the
Subscriptions pages; ACME figures, failing operations, drift, renewals and credentials to hand
over, the renewals chart; Cloudflare zones, add-ons, their monthly cost and refusals; the ACME and
Cloudflare blocks of the customer page, their timeline and CSV exports."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.urls import reverse

from core import clock, operations
from core.dashboard import Attention, BarChart, CsvExport, CustomerSection, Figure, NavItem, Series, registry
from partner.access import Can
from partner.models import SubaccountState, Vendor
from subscriptions import dashboard_selectors as reads
from subscriptions.cloudflare_rules import CENT, MONTHS_PER_PERIOD
from subscriptions.models import AcmeContract, AcmeProduct, CloudflareAddon, CloudflareZone
from subscriptions.selectors import (
    acme_contracts_for,
    certificates_expiring,
    certificates_for,
    cloudflare_addons_for,
    cloudflare_zones_for,
    expiry_warning_until,
)
from subscriptions.services import certificates as _certificates  # noqa: F401 - registers its handler

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
            _date(c.term_started_at),
            _date(c.valid_till),
            _date(c.cancel_window_closes_at),
            c.vendor_id,
            _date(c.created_at),
        ]
        for c in contracts
    ]


def _date(value) -> str:
    return value.strftime("%Y-%m-%d") if value else ""


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
            _date(c.expires_at),
            _date(c.first_seen_at),
            _date(c.last_seen_at),
            _date(c.gone_at),
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


# --- Cloudflare -------------------------------------------------------------------------------


@registry.figure(order=30)
def cloudflare_figures(actor, now) -> list[Figure]:
    """Active zones (paid and free) and add-ons, and what Cloudflare bills for them per month."""
    counts = reads.cloudflare_counts(actor)
    monthly: dict[str, Decimal] = {}
    for currency, frequency, total in reads.cloudflare_period_prices(actor):
        monthly[currency] = monthly.get(currency, Decimal(0)) + total / MONTHS_PER_PERIOD[frequency]
    cost = " + ".join(f"{amount.quantize(CENT):,} {currency}" for currency, amount in sorted(monthly.items()))
    return [
        Figure(
            "Cloudflare zones",
            counts["zones"],
            f"{counts['paid_zones']} on a paid plan, {counts['addons']} add-on{'s' if counts['addons'] != 1 else ''}",
            reverse("dashboard:zones"),
            breakdown=(("Cloudflare bills a month", cost),) if cost else (),
        )
    ]


@registry.attention_source
def cloudflare_attention(actor, now) -> list[Attention]:
    """Cloudflare operations that failed or keep failing, and changes Cloudflare refused."""
    items: list[Attention] = []
    failing = reads.cloudflare_operations_needing_attention(actor)
    zones = cloudflare_zones_for(actor).in_bulk(
        [int(op.object_id) for op in failing if op.content_type.model == "cloudflarezone"]
    )
    addons = cloudflare_addons_for(actor).in_bulk(
        [int(op.object_id) for op in failing if op.content_type.model == "cloudflareaddon"]
    )
    refused = {(type(r).__name__, r.pk) for r in reads.cloudflare_refusals(actor)}
    for op in failing:
        is_zone = op.content_type.model == "cloudflarezone"
        record = (zones if is_zone else addons).get(int(op.object_id))
        if record is None:
            continue
        url = reverse("dashboard:zone" if is_zone else "dashboard:addon", args=[record.pk])
        name = f"{record.name if is_zone else record.rate_plan_id} ({record.customer.name})"
        if op.state == "failed":
            if (type(record).__name__, record.pk) in refused:
                continue  # said below, in Cloudflare's words
            items.append(
                Attention(
                    "danger",
                    f"{op.label} failed: {name}",
                    f"Cloudflare answered {op.last_error_code}: {op.last_error_message}",
                    url,
                    "Retry",
                    when=op.finished_at or op.last_error_at,
                    category="vendor",
                )
            )
        else:
            items.append(
                Attention(
                    "warning",
                    f"{op.label} is struggling: {name}",
                    f"Attempt {op.attempts} failed ({op.last_error_message or op.last_error_code}); retrying."
                    if op.last_error_code
                    else "Queued but not picked up yet: is the worker running?",
                    url,
                    when=op.last_error_at or op.created_at,
                    category="vendor",
                )
            )
    for record in reads.cloudflare_refusals(actor):
        is_zone = isinstance(record, CloudflareZone)
        items.append(
            Attention(
                "danger",
                f"Cloudflare refused a change: {record.name if is_zone else record.rate_plan_id} ({record.customer.name})",
                record.refusal_message,
                reverse("dashboard:zone" if is_zone else "dashboard:addon", args=[record.pk]),
                "Open",
                when=record.refused_at,
                category="vendor",
            )
        )
    return items


def cloudflare_section(actor, customer) -> dict:
    """The customer page's Cloudflare block: zones with their plan and price, add-ons."""
    account = customer.subaccounts.filter(vendor=Vendor.CLOUDFLARE).first()
    zones = list(cloudflare_zones_for(actor).filter(customer=customer).order_by("name", "id"))
    addons = list(cloudflare_addons_for(actor).filter(customer=customer).order_by("rate_plan_id", "-id"))
    latest = {
        **_tagged(operations.latest_by_target(zones), "z"),
        **_tagged(operations.latest_by_target(addons), "a"),
    }
    return {
        "account": account,
        "account_ready": account is not None and account.state == SubaccountState.ACTIVE,
        "zones": [(z, latest.get(("z", z.pk))) for z in zones],
        "addons": [(a, latest.get(("a", a.pk))) for a in addons],
    }


def _tagged(mapping: dict, tag: str) -> dict:
    return {(tag, pk): value for pk, value in mapping.items()}


registry.add_customer_section(
    CustomerSection(
        "cloudflare", "Cloudflare", "dashboard/customers/_cloudflare.html", cloudflare_section, 30
    )
)


@registry.timeline_source
def zone_timeline(customers):
    return CloudflareZone.objects.filter(customer__in=customers)


@registry.timeline_source
def addon_timeline(customers):
    return CloudflareAddon.objects.filter(customer__in=customers)


@registry.customer_summary
def cloudflare_summary(actor, customer_ids) -> dict[int, list[str]]:
    facts = {}
    for cid, (zones, addons) in reads.cloudflare_counts_per_customer(actor, customer_ids).items():
        facts[cid] = [f"{zones} zone{'s' if zones != 1 else ''}"] * bool(zones) + [
            f"{addons} add-on{'s' if addons != 1 else ''}"
        ] * bool(addons)
    return facts


def cloudflare_rows(actor, params) -> list[list]:
    """One row per zone and add-on the actor sees."""
    rows = []
    for kind, records in (
        ("cloudflare_zone", cloudflare_zones_for(actor).order_by("customer__name", "name", "id")),
        ("cloudflare_addon", cloudflare_addons_for(actor).order_by("customer__name", "rate_plan_id", "id")),
    ):
        for r in records:
            rows.append(
                [
                    r.customer.name,
                    r.customer.reference,
                    kind,
                    r.name if kind == "cloudflare_zone" else "",
                    r.rate_plan_id,
                    r.state,
                    r.frequency,
                    " ".join(f"{k}={v}" for k, v in sorted(r.component_values.items())),
                    r.price if r.price is not None else "",
                    r.currency,
                    r.vendor_state,
                    _date(r.current_period_end),
                    r.refusal_message,
                ]
            )
    return rows


registry.add_export(
    CsvExport(
        "cloudflare",
        "Cloudflare zones and add-ons",
        [
            "customer",
            "customer_reference",
            "kind",
            "zone",
            "rate_plan",
            "state",
            "frequency",
            "components",
            "price_per_period",
            "currency",
            "cloudflare_state",
            "period_ends",
            "refusal",
        ],
        cloudflare_rows,
        order=30,
        capability=Can.VIEW,
    )
)

registry.action_labels.update(
    {
        "cloudflare.zone_requested": "Zone requested",
        "cloudflare.zone_created": "Zone added at Cloudflare",
        "cloudflare.zone_upgrade_requested": "Zone upgrade requested",
        "cloudflare.zone_change_requested": "Zone change requested",
        "cloudflare.zone_downgrade_requested": "Zone downgrade requested",
        "cloudflare.zone_upgraded": "Zone upgraded at Cloudflare",
        "cloudflare.zone_components_changed": "Zone components changed at Cloudflare",
        "cloudflare.zone_downgraded": "Zone downgraded at Cloudflare",
        "cloudflare.zone_synced": "Zone synced with Cloudflare",
        "cloudflare.addon_requested": "Add-on ordered",
        "cloudflare.addon_created": "Add-on bought at Cloudflare",
        "cloudflare.addon_change_requested": "Add-on change requested",
        "cloudflare.addon_changed": "Add-on changed at Cloudflare",
        "cloudflare.addon_cancel_requested": "Add-on cancellation requested",
        "cloudflare.addon_cancelled": "Add-on cancelled",
        "cloudflare.addon_synced": "Add-on synced with Cloudflare",
        "cloudflare.addon_imported": "Add-on found at Cloudflare",
    }
)
