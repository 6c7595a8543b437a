"""What a reconciliation run reads: a partner's billing and vendor records, and the vendors' truth.

Only reads: our tables, and the vendors through the existing read-only sync calls (the `perform`
of the ACME contract, zone and add-on sync handlers, which call the vendor and return its view
without writing anything) and Digital River's `GET /subscriptions/{id}`. A vendor read that fails
is recorded, and what it concerns is marked unsure; objects with a vendor operation in flight are
marked busy. `reconciliation.runs` compares and records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.models import Exists, OuterRef, Q

from billing.models import (
    ENDED_STATES,
    RENEWING_STATES,
    BillingSubscription,
    CheckoutState,
    RenewalEngine,
    SubscriptionState,
)
from core import clock
from partner.models import Partner, Subaccount, SubaccountState, Vendor
from reconciliation import rules
from reconciliation.models import NotBilled
from subscriptions import selectors
from subscriptions.acme import handlers as acme_handlers
from subscriptions.acme import rules as acme_rules
from subscriptions.acme.models import LIVE_STATES, AcmeContract
from subscriptions.cloudflare import handlers as cloudflare
from subscriptions.cloudflare import selectors as cloudflare_selectors
from subscriptions.cloudflare.models import (
    FREE_ZONE_PLAN,
    AddonState,
    CloudflareAddon,
    CloudflareZone,
    VendorState,
    ZoneState,
)
from subscriptions.cloudflare.rules import Catalog
from vendors.digitalriver.client import DigitalRiverClient
from vendors.errors import VendorError

# The sync handlers' perform() only reads; it is given this stand-in for a first attempt.
READ_ONLY_ATTEMPT = SimpleNamespace(attempts=1, params={})
# Digital River subscriptions that ended this recently are still compared (it may still charge).
RECENTLY_ENDED = timedelta(days=35)
# A checkout that bills an existing service counts as billing it while it may still be paid.
CHECKOUT_PENDING_STATES = (
    CheckoutState.PENDING,
    CheckoutState.OPEN,
    CheckoutState.ORDERED,
    CheckoutState.PAID,
)
GONE_AT_CLOUDFLARE = {VendorState.CANCELLED, VendorState.EXPIRED, VendorState.FAILED}
SUBSCRIPTION_FIELDS = ("rate_plan_id", "frequency", "component_values", "state")


def object_key(obj) -> tuple[int, str] | None:
    if obj is None:
        return None
    return ContentType.objects.get_for_model(obj).pk, str(obj.pk)


@dataclass
class Reading:
    """Everything one run loaded: our rows, the vendors' answers, and what could not be judged."""

    partner: Partner
    live: list[BillingSubscription] = field(default_factory=list)
    compared_at_dr: list[BillingSubscription] = field(default_factory=list)
    dr_views: dict[int, dict] = field(default_factory=dict)
    objects: dict[tuple[int, str], models.Model] = field(default_factory=dict)
    services: dict[tuple[int, str], rules.Service] = field(default_factory=dict)
    unknown_addons: list[tuple[Subaccount, dict]] = field(default_factory=list)
    marked: set[tuple[int, str]] = field(default_factory=set)
    billing_pending: set[tuple[int, str]] = field(default_factory=set)
    busy: set[tuple[int, str]] = field(default_factory=set)
    busy_subscriptions: set[int] = field(default_factory=set)
    unsure: set[tuple[int, str]] = field(default_factory=set)
    unsure_subscriptions: set[int] = field(default_factory=set)
    catalog: Catalog | None = None
    errors: list[dict] = field(default_factory=list)
    checked: dict = field(default_factory=dict)

    def object_of(self, subscription: BillingSubscription):
        if not subscription.provisioned_type_id or not subscription.provisioned_id:
            return None
        return self.objects.get((subscription.provisioned_type_id, subscription.provisioned_id))

    def failed_read(self, vendor: str, obj, error: Exception, key=None, subscription=None) -> None:
        code = getattr(error, "code", type(error).__name__)
        message = getattr(error, "message", str(error))
        self.errors.append(
            {"vendor": vendor, "object": str(obj)[:200], "code": str(code), "message": message}
        )
        if key is not None:
            self.unsure.add(key)
        if subscription is not None:
            self.unsure_subscriptions.add(subscription.pk)


# --- Reading ------------------------------------------------------------------------------------


def read_partner(partner: Partner) -> Reading:
    """Load the partner's billing and vendor records, then ask the vendors (read-only)."""
    reading = Reading(partner=partner, catalog=cloudflare_selectors.catalog_of(partner))
    _load_billing(reading)
    _load_services(reading)
    _load_marks_and_busy(reading)
    _read_digicert(reading)
    _read_cloudflare_zones(reading)
    _read_cloudflare_accounts(reading)
    _read_digital_river(reading)
    return reading


def _load_billing(reading: Reading) -> None:
    partner, now = reading.partner, clock.now()
    replaced = BillingSubscription.objects.filter(replaces=OuterRef("pk"))
    subscriptions = list(
        BillingSubscription.objects.filter(partner=partner)
        .filter(
            Q(state__in=RENEWING_STATES)
            | Q(
                plan__engine=RenewalEngine.DIGITAL_RIVER,
                state__in=ENDED_STATES,
                ended_at__gte=now - RECENTLY_ENDED,
            )
            | Q(state=SubscriptionState.DRAFT, acquisition__state__in=CHECKOUT_PENDING_STATES)
            & ~Q(provisioned_id="")
        )
        .annotate(has_replacement=Exists(replaced))
        .select_related("product", "plan", "customer")
        .order_by("pk")
    )
    for subscription in subscriptions:
        if subscription.state in RENEWING_STATES:
            reading.live.append(subscription)
        if subscription.run_by_digital_river and subscription.state != SubscriptionState.DRAFT:
            reading.compared_at_dr.append(subscription)
        if subscription.state == SubscriptionState.DRAFT:
            reading.billing_pending.add((subscription.provisioned_type_id, subscription.provisioned_id))
    reading.checked["billing_subscriptions"] = len(reading.live)


def _referenced(reading: Reading, model) -> list[str]:
    content_type = ContentType.objects.get_for_model(model).pk
    return [
        s.provisioned_id for s in reading.live if s.provisioned_type_id == content_type and s.provisioned_id
    ]


def _load_services(reading: Reading) -> None:
    partner = reading.partner
    contracts = AcmeContract.objects.filter(partner=partner).filter(
        Q(state__in=[*LIVE_STATES, "cancel_pending"]) | Q(pk__in=_ints(_referenced(reading, AcmeContract)))
    )
    zones = CloudflareZone.objects.filter(partner=partner).filter(
        Q(state=ZoneState.ACTIVE) | Q(pk__in=_ints(_referenced(reading, CloudflareZone)))
    )
    addons = CloudflareAddon.objects.filter(partner=partner).filter(
        ~Q(state=AddonState.CANCELLED) | Q(pk__in=_ints(_referenced(reading, CloudflareAddon)))
    )
    for qs, name in ((contracts, "acme_contracts"), (zones, "zones"), (addons, "addons")):
        rows = list(qs.select_related("partner", "customer", "subaccount").order_by("pk"))
        for obj in rows:
            reading.objects[object_key(obj)] = obj
        reading.checked[name] = len(rows)


def _ints(values) -> list[int]:
    return [int(v) for v in values if str(v).isdigit()]


def _load_marks_and_busy(reading: Reading) -> None:
    reading.marked = set(
        NotBilled.objects.filter(partner=reading.partner, unmarked_at__isnull=True).values_list(
            "target_type_id", "target_id"
        )
    )
    for model in (AcmeContract, CloudflareZone, CloudflareAddon, Subaccount):
        content_type = ContentType.objects.get_for_model(model).pk
        reading.busy |= {(content_type, pk) for pk in selectors.with_pending_operation(model)}
    reading.busy_subscriptions = {int(pk) for pk in selectors.with_pending_operation(BillingSubscription)}


def _contracts(reading: Reading) -> list[AcmeContract]:
    return [o for o in reading.objects.values() if isinstance(o, AcmeContract)]


def _sync_reads(reading: Reading, vendor: str, handler, records):
    """Each record at the vendor with no operation in flight, read as its sync reads it (read-only);
    a failed read is recorded and the record skipped: (record, key, what the sync read)."""
    for record in records:
        key = object_key(record)
        if not record.vendor_id or key in reading.busy:
            continue
        try:
            result = handler.perform(READ_ONLY_ATTEMPT, record)
        except (VendorError, ValueError) as error:
            reading.failed_read(vendor, record, error, key=key)
            continue
        yield record, key, result


def _read_digicert(reading: Reading) -> None:
    """GET /acme/{id} for every live contract (the read of the ACME sync), drift as the sync sees it."""
    live = [c for c in _contracts(reading) if c.state in LIVE_STATES]
    for contract, key, result in _sync_reads(reading, "digicert", acme_handlers.SyncContract(), live):
        view, vendor_state = result["view"], result["vendor_state"]
        drift = acme_rules.compute_drift(contract, view, vendor_state)
        ours = {name: values["ours"] for name, values in drift.items()}
        theirs = {name: values["vendor"] for name, values in drift.items()}
        reading.services[key] = rules.Service(
            contract,
            ours={**rules.record_side(contract), **ours},
            vendor={
                "state": vendor_state,
                "auto_renew": view["auto_renew"],
                "valid_till": view["valid_till"],
                **theirs,
            },
            differs=sorted(drift),
        )
    reading.checked["digicert_reads"] = len(reading.services)


def _subscription_side(view: dict | None) -> dict:
    """A service's plan as the vendor shows it; a zone without a subscription is on the free plan."""
    if view is None:
        return {
            "rate_plan_id": FREE_ZONE_PLAN,
            "frequency": "",
            "component_values": {},
            "state": "",
        }
    return {
        "rate_plan_id": view["rate_plan_id"],
        "frequency": view["frequency"] or "",
        "component_values": view["component_values"] or {},
        "state": view["state"] or "",
    }


def _ours_of(record) -> dict:
    return {
        "rate_plan_id": record.rate_plan_id or (FREE_ZONE_PLAN if isinstance(record, CloudflareZone) else ""),
        "frequency": record.frequency or "",
        "component_values": record.component_values or {},
        "state": record.vendor_state or "",
    }


def _read_cloudflare_zones(reading: Reading) -> None:
    """GET the zone and its subscription (the read of the zone sync) for every active zone."""
    read = 0
    active = [
        o for o in reading.objects.values() if isinstance(o, CloudflareZone) and o.state == ZoneState.ACTIVE
    ]
    for zone, key, result in _sync_reads(reading, "cloudflare", cloudflare.SyncZone(), active):
        read += 1
        ours = _ours_of(zone)
        theirs = _subscription_side(result["subscription"])
        reading.services[key] = rules.Service(
            zone,
            ours={"zone": zone.name, **ours},
            vendor={"zone": zone.name, **theirs},
            differs=[name for name in SUBSCRIPTION_FIELDS if ours[name] != theirs[name]],
        )
    reading.checked["cloudflare_zone_reads"] = read


def _read_cloudflare_accounts(reading: Reading) -> None:
    """GET /accounts/{id}/subscriptions (the read of the add-on sync) for every active Cloudflare account."""
    handler = cloudflare.SyncAddons()
    accounts = list(
        Subaccount.objects.filter(
            partner=reading.partner, vendor=Vendor.CLOUDFLARE, state=SubaccountState.ACTIVE
        )
        .exclude(vendor_id="")
        .select_related("partner", "customer")
        .order_by("pk")
    )
    addons = [o for o in reading.objects.values() if isinstance(o, CloudflareAddon)]
    linked = set(
        CloudflareAddon.objects.filter(partner=reading.partner)
        .exclude(vendor_id="")
        .values_list("vendor_id", flat=True)
    )
    read = 0
    for account in accounts:
        own = [a for a in addons if a.subaccount_id == account.pk]
        if object_key(account) in reading.busy:
            reading.unsure |= {object_key(a) for a in own}
            continue
        try:
            result = handler.perform(READ_ONLY_ATTEMPT, account)
        except (VendorError, ValueError) as error:
            reading.failed_read("cloudflare", account, error, key=object_key(account))
            reading.unsure |= {object_key(a) for a in own}
            continue
        read += 1
        views = {view["id"]: view for view in result["subscriptions"]}
        for addon in own:
            key = object_key(addon)
            if not addon.vendor_id or key in reading.busy:
                continue
            view = views.get(addon.vendor_id)
            present_there = view is not None and view["state"] not in GONE_AT_CLOUDFLARE
            present_here = addon.state == AddonState.ACTIVE
            ours = {"present": present_here, **_ours_of(addon)}
            theirs = {"present": present_there, **(_subscription_side(view) if view else {})}
            if present_here and present_there:
                differs = [name for name in SUBSCRIPTION_FIELDS if ours[name] != theirs[name]]
            else:
                differs = ["present"] if present_here != present_there else []
            reading.services[key] = rules.Service(addon, ours=ours, vendor=theirs, differs=differs)
        waiting = {
            a.rate_plan_id
            for a in own
            if not a.vendor_id and a.state in (AddonState.PENDING, AddonState.FAILED)
        }
        for view in views.values():
            if view["id"] in linked or view["state"] in GONE_AT_CLOUDFLARE or view["rate_plan_id"] in waiting:
                continue
            reading.unknown_addons.append((account, view))
    reading.checked["cloudflare_account_reads"] = read


def _read_digital_river(reading: Reading) -> None:
    """GET /subscriptions/{id} for every subscription Digital River's service runs."""
    due = [s for s in reading.compared_at_dr if s.pk not in reading.busy_subscriptions]
    if not due:
        reading.checked["digitalriver_reads"] = 0
        return
    try:
        client = DigitalRiverClient()
    except ImproperlyConfigured as error:
        for subscription in due:
            reading.unsure_subscriptions.add(subscription.pk)
        reading.errors.append(
            {"vendor": "digitalriver", "object": "", "code": "not_configured", "message": str(error)}
        )
        return
    for subscription in due:
        try:
            vendor = client.get_subscription(subscription.subscription_id)
        except VendorError as error:
            if error.status == 404:
                reading.dr_views[subscription.pk] = {
                    "missing": True,
                    "state": None,
                    "current_period_end": None,
                }
                continue
            reading.failed_read("digitalriver", subscription, error, subscription=subscription)
            continue
        reading.dr_views[subscription.pk] = {
            "state": vendor.state,
            "current_period_end": _iso(vendor.current_period_end_date),
        }
    reading.checked["digitalriver_reads"] = len(reading.dr_views)


def _iso(value: datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat() if value else None
