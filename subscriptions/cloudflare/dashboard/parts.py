"""What Cloudflare zones and add-ons bring to the reseller dashboard: figures, attention,
customer sections, timelines and exports."""

from __future__ import annotations

from decimal import Decimal

from django.urls import reverse

from core import operations
from core.audit import ACTION_LABELS
from core.csv_export import iso_date
from dashboard.registry import Attention, CsvExport, CustomerSection, Figure, registry
from partner.access import Can
from partner.models import Vendor
from partner.selectors import subaccount_ready
from subscriptions.acme import certificates as _certificates  # noqa: F401 - registers its handler
from subscriptions.cloudflare.dashboard import selectors as reads
from subscriptions.cloudflare.models import CloudflareAddon, CloudflareZone
from subscriptions.cloudflare.rules import CENT, MONTHS_PER_PERIOD
from subscriptions.cloudflare.selectors import cloudflare_addons_for, cloudflare_zones_for


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
        "account_ready": subaccount_ready(account),
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
                    iso_date(r.current_period_end),
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

ACTION_LABELS.update(
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
