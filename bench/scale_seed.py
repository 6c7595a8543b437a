"""The scale bench's book, written with PostgreSQL COPY: partners of 1,000 subscriptions each.

Every partner looks the same (100 customers with a DigiCert subaccount each, 10 with a Cloudflare
account and a zone, 10 ACME contracts with 2 certificates each, 1,000 subscriptions, 100 renewals,
notices, findings, operations and audit events...), so a partner's pages cost the same in a book of
10 partners and in one of 1,000: what grows is only what staff see, the whole book. Primary keys are
computed from the partner's number (no reads back), so a book grows by seeding more partners.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

SUBS_PER_PARTNER = 1000
CUSTOMERS_PER_PARTNER = 100  # 10 subscriptions each
CLOUDFLARE_PER_PARTNER = 10  # customers with a Cloudflare account and a zone (and half an add-on)
ACME_PER_PARTNER = 10  # ACME contracts, 2 certificates each
RENEWALS_PER_PARTNER = 100
NOTICES_PER_PARTNER = 100
FINDINGS_PER_PARTNER = 10
WEBHOOKS_PER_PARTNER = 100
REJECTED_PER_PARTNER = 10
PRODUCTS = ("acme-dv", "zone-pro")


def _defaults(model) -> dict:
    """Each concrete column's value when a row leaves it out: the field's default, computed once."""
    from django.db import connection
    from django.utils import timezone

    now = timezone.now()
    values = {}
    for field in model._meta.concrete_fields:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        elif field.has_default():
            value = field.get_default()
        elif field.null:
            value = None
        elif field.empty_strings_allowed:
            value = ""
        else:
            continue  # must be given by every row (foreign keys, amounts...)
        values[field.attname] = field.get_db_prep_save(value, connection)
    return values


def copy_rows(cursor, model, rows) -> int:
    """COPY `rows` (dicts of attname -> database value) into the model's table; the rest defaulted.

    A column neither the first row nor a default gives (a serial id) is left to PostgreSQL."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return 0
    defaults = _defaults(model)
    fields = [f for f in model._meta.concrete_fields if f.attname in first or f.attname in defaults]
    names = [f.attname for f in fields]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    count = 0
    with cursor.copy(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN') as copy:
        for row in (first, *()), rows:
            for one in row:
                copy.write_row([one[n] if n in one else defaults[n] for n in names])
                count += 1
    return count


def _jsonb(value):
    from psycopg.types.json import Jsonb

    return Jsonb(value)


class Ids:
    """Primary keys from a partner's number p (0-based): customer c of p is p*100 + c + 1, etc."""

    @staticmethod
    def partner(p):
        return p + 1

    @staticmethod
    def user(p):
        return p + 2  # 1 is the bench's staff user

    @staticmethod
    def customer(p, c):
        return p * CUSTOMERS_PER_PARTNER + c + 1

    @staticmethod
    def subaccount(p, c):  # DigiCert: one per customer
        return p * CUSTOMERS_PER_PARTNER + c + 1

    @staticmethod
    def cf_subaccount(p, c):  # Cloudflare: after every DigiCert one (ids offset by 10**8)
        return 10**8 + p * CLOUDFLARE_PER_PARTNER + c + 1

    @staticmethod
    def subscription(p, s):
        return p * SUBS_PER_PARTNER + s + 1

    @staticmethod
    def contract(p, a):
        return p * ACME_PER_PARTNER + a + 1

    @staticmethod
    def zone(p, z):
        return p * CLOUDFLARE_PER_PARTNER + z + 1

    @staticmethod
    def product(p, k):
        return p * len(PRODUCTS) + k + 1


def seed_globals():
    """What the book shares: the plans and the bench's staff user (id 1)."""
    from django.contrib.auth import get_user_model

    from billing.models import Plan

    staff = get_user_model().objects.create_superuser(id=1, username="bench-staff", password="x")
    plans = [
        Plan.objects.create(
            plan_id="bench-annual", name="Annual", terms="t", interval="year", state="active"
        ),
        Plan.objects.create(
            plan_id="bench-monthly",
            name="Monthly",
            terms="t",
            interval="month",
            state="active",
            engine="back_office",
        ),
    ]
    return staff, plans


def seed_partners(first: int, count: int, plans) -> dict:
    """Partners first .. first+count-1 with everything they hold; returns rows written per table."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from django.utils import timezone

    from billing import models as billing
    from core.models import AuditEvent, Operation
    from partner.models import Customer, Membership, Partner, Subaccount
    from reconciliation.models import Finding, NotBilled, Run
    from subscriptions.acme.models import AcmeContract, Certificate
    from subscriptions.cloudflare.models import CatalogPlan, CloudflareAddon, CloudflareZone

    now = timezone.now()
    ps = range(first, first + count)
    ct = {
        m: ContentType.objects.get_for_model(m).pk
        for m in (Subaccount, AcmeContract, CloudflareZone, Customer)
    }
    price = Decimal("120.00")
    written = {}

    def put(model, rows):
        written[model._meta.label] = written.get(model._meta.label, 0) + copy_rows(cursor, model, rows)

    from django.contrib.auth import get_user_model

    User = get_user_model()
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor  # psycopg's own cursor: COPY
        put(
            Partner,
            (
                dict(
                    id=Ids.partner(p),
                    name=f"Partner {p:05d}",
                    slug=f"partner-{p:05d}",
                    created_at=now - timedelta(days=p % 900),
                )
                for p in ps
            ),
        )
        put(
            User,
            (
                dict(
                    id=Ids.user(p),
                    username=f"owner-{p:05d}",
                    password="!",
                    email=f"owner{p}@example.com",
                    date_joined=now,
                    is_active=True,
                    is_staff=False,
                    is_superuser=False,
                )
                for p in ps
            ),
        )
        put(
            Membership,
            (
                dict(
                    id=Ids.partner(p),
                    user_id=Ids.user(p),
                    partner_id=Ids.partner(p),
                    role="owner",
                    created_at=now,
                )
                for p in ps
            ),
        )
        put(
            Customer,
            (
                dict(
                    id=Ids.customer(p, c),
                    partner_id=Ids.partner(p),
                    name=f"Customer {p:05d}-{c:03d}",
                    reference=f"c{c:03d}",
                    contact_email=f"c{c}@p{p}.example.com",
                    created_at=now - timedelta(minutes=p * 100 + c),
                )
                for p in ps
                for c in range(CUSTOMERS_PER_PARTNER)
            ),
        )
        for vendor, subaccount_id, suffix, id_prefix, per_partner in (
            ("digicert", Ids.subaccount, "", "dc", CUSTOMERS_PER_PARTNER),
            ("cloudflare", Ids.cf_subaccount, "-cf", "cf", CLOUDFLARE_PER_PARTNER),
        ):
            put(
                Subaccount,
                (
                    dict(
                        id=subaccount_id(p, c),
                        partner_id=Ids.partner(p),
                        customer_id=Ids.customer(p, c),
                        vendor=vendor,
                        name=f"p{p}-c{c:03d}{suffix}",
                        reference=uuid.uuid4(),
                        state="active",
                        vendor_id=f"{id_prefix}-{p}-{c}",
                        vendor_response=_jsonb({}),
                        created_at=now - timedelta(minutes=p * 100 + c),
                    )
                    for p in ps
                    for c in range(per_partner)
                ),
            )
        put(
            CatalogPlan,
            (
                dict(
                    partner_id=Ids.partner(p),
                    rate_plan_id=rp,
                    name=rp.title(),
                    scope=scope,
                    monthly_price=Decimal("20"),
                    frequencies=_jsonb(["monthly"]),
                    created_at=now,
                )
                for p in ps
                for rp, scope in (("PARTNERS_PRO", "zone"), ("PARTNERS_LB", "account"))
            ),
        )
        put(
            billing.Product,
            (
                dict(
                    id=Ids.product(p, k),
                    partner_id=Ids.partner(p),
                    sku_id=sku,
                    name=sku,
                    price=price,
                    plan_id=plans[k].pk,
                    provision_params=_jsonb({}),
                )
                for p in ps
                for k, sku in enumerate(PRODUCTS)
            ),
        )
        # One acquisition checkout and one billing agreement per customer (ids = the customer's).
        put(
            billing.Checkout,
            (
                dict(
                    id=Ids.customer(p, c),
                    partner_id=Ids.partner(p),
                    customer_id=Ids.customer(p, c),
                    reference=uuid.uuid4(),
                    state="paid",
                    currency="USD",
                    total=price,
                    order_id=f"ord-{p}-{c}",
                    billing_agreement_id=f"ba-{p}-{c}",
                    vendor_response=_jsonb({}),
                    created_at=now - timedelta(minutes=p * 100 + c),
                )
                for p in ps
                for c in range(CUSTOMERS_PER_PARTNER)
            ),
        )
        put(
            billing.BillingAgreement,
            (
                dict(
                    id=Ids.customer(p, c),
                    agreement_id=f"ba-{p}-{c}",
                    customer_id=Ids.customer(p, c),
                    created_at=now - timedelta(minutes=p * 100 + c),
                )
                for p in ps
                for c in range(CUSTOMERS_PER_PARTNER)
            ),
        )

        def subscription(p, s):
            c = s % CUSTOMERS_PER_PARTNER
            k = s % 2
            end = now + timedelta(days=1 + (s * 7919 + p) % 365, hours=s % 24)
            return dict(
                id=Ids.subscription(p, s),
                partner_id=Ids.partner(p),
                customer_id=Ids.customer(p, c),
                product_id=Ids.product(p, k),
                plan_id=plans[k].pk,
                subscription_id=f"sub-{p:05d}-{s:04d}",
                acquisition_id=Ids.customer(p, c),
                price=price,
                state="active" if s % 50 else "failed",
                billing_agreement_id=f"ba-{p}-{c}",
                payment_source_id=f"src-{p}-{c}",
                current_period_end_date=end,
                next_invoice_date=end,
                next_reminder_date=end - timedelta(days=30),
                activated_at=now - timedelta(days=30),
                provisioning_state="done",
                created_at=now - timedelta(minutes=p * SUBS_PER_PARTNER + s),
                scheduled_change=_jsonb({}),
                provision_options=_jsonb({}),
                vendor_view=_jsonb({}),
            )

        put(billing.BillingSubscription, (subscription(p, s) for p in ps for s in range(SUBS_PER_PARTNER)))
        states = ("captured",) * 7 + ("held", "failed", "awaiting_customer")
        put(
            billing.Renewal,
            (
                dict(
                    subscription_id=Ids.subscription(p, r * 10),
                    renewal_date=now - timedelta(days=r % 28),
                    state=states[r % len(states)],
                    amount=price,
                    invoice_id=f"inv-{p}-{r}",
                    reminder_missing=r % 10 == 7,
                    created_at=now - timedelta(days=r % 28),
                )
                for p in ps
                for r in range(RENEWALS_PER_PARTNER)
            ),
        )
        put(
            billing.Notice,
            (
                dict(
                    subscription_id=Ids.subscription(p, n * 10),
                    kind="reminder_30",
                    renewal_date=(now + timedelta(days=30)).date(),
                    to=f"c{n}@p{p}.example.com",
                    subject="Your renewal",
                    sent_at=now,
                    delivered=True,
                    details=_jsonb({}),
                    created_at=now - timedelta(minutes=p * 100 + n),
                )
                for p in ps
                for n in range(NOTICES_PER_PARTNER)
            ),
        )
        put(
            billing.WebhookEvent,
            (
                dict(
                    event_id=f"evt-{p}-{w}",
                    type=("order.accepted", "subscription.extended")[w % 2],
                    body="{}",
                    received_at=now - timedelta(minutes=p * 100 + w),
                    state="processed",
                )
                for p in ps
                for w in range(WEBHOOKS_PER_PARTNER)
            ),
        )
        put(
            billing.RejectedWebhook,
            (
                dict(
                    received_at=now - timedelta(minutes=p * 10 + w),
                    reason="bad_signature",
                    source_address=f"10.{p % 250}.{w}.1",
                )
                for p in ps
                for w in range(REJECTED_PER_PARTNER)
            ),
        )
        sans = lambda p, a: [f"www.c{a}.p{p}.example.com"]  # noqa: E731
        put(
            AcmeContract,
            (
                dict(
                    id=Ids.contract(p, a),
                    partner_id=Ids.partner(p),
                    customer_id=Ids.customer(p, a),
                    subaccount_id=Ids.subaccount(p, a),
                    reference=uuid.uuid4(),
                    product="ssl_dv_rapidssl",
                    sans=_jsonb(sans(p, a)),
                    state="active",
                    vendor_id=f"acme-{p}-{a}",
                    term_started_at=now - timedelta(days=40),
                    valid_till=now + timedelta(days=325),
                    vendor_response=_jsonb({}),
                    vendor_view=_jsonb({}),
                    drift=_jsonb({}),
                    created_at=now - timedelta(minutes=p * 10 + a),
                )
                for p in ps
                for a in range(ACME_PER_PARTNER)
            ),
        )
        put(
            Certificate,
            (
                dict(
                    partner_id=Ids.partner(p),
                    customer_id=Ids.customer(p, a),
                    contract_id=Ids.contract(p, a),
                    serial_number=f"{p:06d}{a:03d}{n}",
                    domain=sans(p, a)[0],
                    sans=_jsonb(sans(p, a)),
                    status="issued",
                    expires_at=now + timedelta(days=(p + a * 9 + n * 45) % 90),
                    vendor_view=_jsonb({}),
                    first_seen_at=now,
                    last_seen_at=now,
                )
                for p in ps
                for a in range(ACME_PER_PARTNER)
                for n in range(2)
            ),
        )
        put(
            CloudflareZone,
            (
                dict(
                    id=Ids.zone(p, z),
                    partner_id=Ids.partner(p),
                    customer_id=Ids.customer(p, z),
                    subaccount_id=Ids.cf_subaccount(p, z),
                    reference=uuid.uuid4(),
                    name=f"z{z}.p{p}.example.com",
                    state="active",
                    vendor_id=f"zone{p}x{z}",
                    rate_plan_id="PARTNERS_PRO",
                    frequency="monthly",
                    price=Decimal("20"),
                    currency="USD",
                    component_values=_jsonb({}),
                    vendor_view=_jsonb({}),
                    zone_plan=_jsonb({}),
                    created_at=now - timedelta(minutes=p * 10 + z),
                )
                for p in ps
                for z in range(CLOUDFLARE_PER_PARTNER)
            ),
        )
        put(
            CloudflareAddon,
            (
                dict(
                    partner_id=Ids.partner(p),
                    customer_id=Ids.customer(p, z),
                    subaccount_id=Ids.cf_subaccount(p, z),
                    reference=uuid.uuid4(),
                    state="active",
                    rate_plan_id="PARTNERS_LB",
                    frequency="monthly",
                    price=Decimal("5"),
                    currency="USD",
                    vendor_id=f"sub{p}x{z}",
                    component_values=_jsonb({}),
                    vendor_view=_jsonb({}),
                    created_at=now - timedelta(minutes=p * 10 + z),
                )
                for p in ps
                for z in range(CLOUDFLARE_PER_PARTNER // 2)
            ),
        )
        targets = [
            (ct[Subaccount], Ids.subaccount, CUSTOMERS_PER_PARTNER, "partner.create_subaccount"),
            (ct[AcmeContract], Ids.contract, ACME_PER_PARTNER, "acme.create"),
            (ct[CloudflareZone], Ids.zone, CLOUDFLARE_PER_PARTNER, "cloudflare.create_zone"),
        ]
        put(
            Operation,
            (
                dict(
                    kind=kind,
                    partner_id=Ids.partner(p),
                    content_type_id=type_id,
                    object_id=str(ids(p, i)),
                    state="succeeded",
                    face="dashboard",
                    params=_jsonb({}),
                    result=_jsonb({}),
                    created_at=now - timedelta(minutes=p * 100 + i),
                    finished_at=now,
                )
                for type_id, ids, n, kind in targets
                for p in ps
                for i in range(n)
            ),
        )
        put(
            AuditEvent,
            (
                dict(
                    actor_id=Ids.user(p),
                    actor_label=f"owner-{p:05d}",
                    face="dashboard",
                    partner_id=Ids.partner(p),
                    content_type_id=ct[Customer],
                    object_id=str(Ids.customer(p, c)),
                    object_repr=f"Customer {p:05d}-{c:03d}",
                    action=action,
                    changes=_jsonb({}),
                    created_at=now - timedelta(minutes=p * 200 + c * 2 + i),
                )
                for p in ps
                for c in range(CUSTOMERS_PER_PARTNER)
                for i, action in enumerate(("customer.create", "customer.update"))
            ),
        )
        put(
            Run,
            (
                dict(
                    id=Ids.partner(p),
                    partner_id=Ids.partner(p),
                    state="done",
                    face="task",
                    created_at=now - timedelta(days=1),
                    started_at=now,
                    finished_at=now,
                    checked=_jsonb({}),
                    counts=_jsonb({"price_mismatch": FINDINGS_PER_PARTNER}),
                    errors=_jsonb([]),
                )
                for p in ps
            ),
        )
        put(
            Finding,
            (
                dict(
                    partner_id=Ids.partner(p),
                    customer_id=Ids.customer(p, f),
                    kind="price_mismatch",
                    rule="subscription_price",
                    key=f"price:{p}:{f}",
                    subscription_id=Ids.subscription(p, f),
                    summary=f"Price differs for sub-{p:05d}-{f:04d}",
                    evidence=_jsonb({}),
                    state="open" if f % 3 else "resolved",
                    first_seen_at=now,
                    last_seen_at=now - timedelta(minutes=f),
                    first_run_id=Ids.partner(p),
                    last_run_id=Ids.partner(p),
                )
                for p in ps
                for f in range(FINDINGS_PER_PARTNER)
            ),
        )
        put(
            NotBilled,
            (
                dict(
                    partner_id=Ids.partner(p),
                    customer_id=Ids.customer(p, 9),
                    target_type_id=ct[CloudflareZone],
                    target_id=str(Ids.zone(p, 9)),
                    reason="Free for a pilot",
                    marked_at=now,
                )
                for p in ps
            ),
        )
    return written


def reset_sequences() -> None:
    """Explicit ids were written: move every sequence past them (the bench then writes through the ORM)."""
    from django.apps import apps
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), apps.get_models()):
            cursor.execute(sql)


def analyze() -> None:
    """The seeded tables as autovacuum leaves a bulk load, and nothing of the load still being
    written: GIN pending lists merged, visibility maps set, statistics fresh, a checkpoint taken."""
    from django.db import connection

    with connection.cursor() as cursor:
        # COPY leaves up to gin_pending_list_limit (4 MB) of unsorted entries in each trigram index,
        # which every search then reads whole; autovacuum (off on the bench's server) merges them,
        # as VACUUM does, and sets the visibility map that index-only scans need.
        cursor.execute("VACUUM (ANALYZE)")
        # Otherwise the checkpointer writes the load's dirty pages out while the pages are timed,
        # and even a one-row table's page is slower at SCALE than at 10,000 (1.5x on sandbox.Clock).
        cursor.execute("CHECKPOINT")
