"""Demo data for `make run`: an onboarded partner with customers, a reseller owner, a support user.

`--vendor-objects` waits for the web server to answer, prints the logins ("ready"), then creates
what lives at the vendors (subaccounts, ACME contracts of different ages, Cloudflare zones on free
and paid plans and an add-on) through the real path: it is the Procfile's `demo` process, which
stays alive afterwards so honcho keeps the others running.

With the sandbox, the demo registers SITE_URL's webhook endpoint at Digital River's sandbox, so
its events reach the port this run serves (`make run PORT=...` sets SITE_URL).
"""

import signal
import time
from decimal import Decimal

import requests
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Model
from django.urls import reverse

from billing.models import Plan, Product
from billing.services import catalog
from core.actor import Actor, Face
from core.errors import DomainError
from partner import services
from partner.models import BillingModel, Customer, Membership, Partner, Role, Subaccount
from subscriptions.acme import certificates
from subscriptions.acme import services as acme
from subscriptions.acme.models import AcmeContract
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.models import CatalogComponent, CatalogPlan, CloudflareAddon, CloudflareZone

SUPPORT = ("support", "support-demo-2026")
RESELLER = ("reseller", "reseller-demo-2026")
DEMO_DIGICERT_KEY = "demo-digicert-partner-key-7f3a9c"
DEMO_CLOUDFLARE_TOKEN = "demo-cloudflare-tenant-token-5b2e1d"
DEMO_UNIT = "unit-northwind"
# The demo's services made directly at the vendors say why they are not billed (a not-billed mark),
# so reconciliation starts empty; sell one through billing to see it billed instead.
DEMO_NOT_BILLED = "Demo: set up at the vendor before billing; sold outside Digital River."
DEMO_PLANS = [
    dict(
        plan_id="northwind-annual",
        name="Annual",
        interval="year",
        interval_count=1,
        contract_binding_days=365,
        reminder_offset_days=30,
        billing_offset_days=0,
        collection_period_days=14,
        terms="Renews every year at the then-current price until cancelled; cancel any time before renewal.",
    ),
    dict(
        plan_id="northwind-monthly",
        name="Monthly",
        interval="month",
        interval_count=1,
        contract_binding_days=30,
        reminder_offset_days=0,
        billing_offset_days=0,
        collection_period_days=7,
        terms="Renews every month until cancelled; cancel any time before renewal.",
        # Renewed by the back office (an external subscription at Digital River): the demo shows
        # both engines, the annual plan being Digital River's own subscription service.
        engine="back_office",
    ),
]
DEMO_PRODUCTS = [
    (
        "acme-dv-annual",
        "ACME certificates (DV), annual",
        "120.00",
        "northwind-annual",
        "acme_contract",
        {"product": "ssl_dv_rapidssl"},
    ),
    (
        "zone-biz-monthly",
        "Cloudflare Business zone, monthly",
        "250.00",
        "northwind-monthly",
        "zone_plan",
        {"rate_plan_id": "PARTNERS_BIZ", "frequency": "monthly", "component_values": {"page_rules": 50}},
    ),
    ("onboarding-fee", "Onboarding (one-off)", "49.00", None, "nothing", {}),
]
CUSTOMERS = [
    ("Globex Corporation", "globex", "it@globex.example"),
    ("Initech", "initech", "ops@initech.example"),
    ("Umbrella Health", "umbrella", "security@umbrella.example"),
    ("Stark Logistics", "stark", "admin@stark.example"),
]
# Northwind's Cloudflare catalog, priced like the sandbox's list: (rate plan, name, scope, monthly
# price, frequencies, [(component, default, maximum, monthly unit price)]). PARTNERS_ENT is left
# out, so asking for it shows the catalog refusal.
DEMO_CATALOG = [
    ("PARTNERS_FREE", "Free", "zone", "0", ["monthly"], [("page_rules", 3, 3, "5")]),
    ("PARTNERS_PRO", "Pro", "zone", "20", ["monthly", "yearly"], [("page_rules", 20, 50, "5")]),
    (
        "PARTNERS_BIZ",
        "Business",
        "zone",
        "200",
        ["monthly", "quarterly", "yearly"],
        [("page_rules", 50, 200, "5"), ("dedicated_certificates", 0, 10, "10")],
    ),
    (
        "PARTNERS_LOAD_BALANCING",
        "Load Balancing",
        "account",
        "5",
        ["monthly", "yearly"],
        [("endpoints", 2, 20, "5")],
    ),
    (
        "TEAMS_STANDARD",
        "Zero Trust Standard",
        "account",
        "350",
        ["monthly", "yearly"],
        [("users", 50, 500, "7")],
    ),
]


class Command(BaseCommand):
    help = "Create the demo partner, customers and users (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--print-logins", action="store_true", help="Only print URLs and logins.")
        parser.add_argument(
            "--vendor-objects",
            action="store_true",
            help="Wait for the web server, print the logins, then create the demo's vendor objects.",
        )
        parser.add_argument("--stay", action="store_true", help="Keep running afterwards (Procfile).")

    def handle(self, *args, print_logins=False, vendor_objects=False, stay=False, **options):
        if print_logins:
            return self._print_logins()
        if vendor_objects:
            try:
                self._vendor_objects()
            finally:
                if stay:
                    signal.pause()
            return
        with transaction.atomic():
            support = self._support_user()
            partner = self._partner()
            self._reseller_owner(partner)
            actor = Actor(support, Face.COMMAND)
            existing = set(partner.customers.values_list("reference", flat=True))
            for name, reference, email in CUSTOMERS:
                if reference not in existing:
                    services.create_customer(
                        actor,
                        partner,
                        name=name,
                        reference=reference,
                        contact_email=email,
                        contact_name=f"{name} IT",
                    )
        if apps.is_installed("vendors.sandbox"):
            call_command("sandbox_register_key", vendor="digicert", key=DEMO_DIGICERT_KEY, label=partner.name)
            call_command(
                "sandbox_register_key",
                vendor="cloudflare",
                key=DEMO_CLOUDFLARE_TOKEN,
                label=partner.name,
                unit_id=DEMO_UNIT,
            )
            webhook = f"{settings.SITE_URL.rstrip('/')}{reverse('digitalriver-webhook')}"
            call_command("sandbox_dr", "register-webhook", url=webhook, stdout=self.stdout)
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready: {partner} with {partner.customers.count()} customers.")
        )

    def _vendor_objects(self) -> None:
        """Subaccounts and ACME contracts, made by the worker through the sandbox over HTTP."""
        if not self._wait_for(
            lambda: requests.get(f"{settings.SITE_URL}/healthz", timeout=2).ok, "the web server"
        ):
            return
        self._print_logins(ready=True)
        partner = Partner.objects.get(slug="northwind")
        actor = Actor(get_user_model().objects.get(username=SUPPORT[0]), Face.COMMAND)
        customers = {c.reference: c for c in partner.customers.all()}
        wanted = [
            ("globex", "digicert"),
            ("initech", "digicert"),
            ("globex", "cloudflare"),
            ("umbrella", "cloudflare"),
        ]
        for reference, vendor in wanted:
            if not Subaccount.objects.filter(customer=customers[reference], vendor=vendor).exists():
                services.request_subaccount(actor, customers[reference], vendor)
        if not self._wait_for(
            lambda: not Subaccount.objects.filter(partner=partner, state="pending").exists(),
            "the subaccounts",
        ):
            return
        self._contract(actor, customers["globex"], ["globex.example", "www.globex.example"], age_days=3)
        self._contract(actor, customers["initech"], ["initech.example", "*.initech.example"], age_days=40)
        self._cloudflare(actor, partner, customers)
        self._billing(actor, partner)
        self.stdout.write(
            self.style.SUCCESS(
                "Demo vendor objects ready: subaccounts, a fresh ACME contract (globex, cancellable) and one "
                "past day 30 (initech: stop renewal instead); Cloudflare zones globex.example (PARTNERS_FREE) "
                "and umbrella-health.example (PARTNERS_PRO) and a load-balancing add-on (umbrella)."
            )
        )

    def _cloudflare(self, actor, partner: Partner, customers: dict) -> None:
        """Northwind's catalog, a zone left on PARTNERS_FREE, one upgraded to a paid plan, and an add-on."""
        for rate_plan_id, name, scope, price, frequencies, components in DEMO_CATALOG:
            if CatalogPlan.objects.filter(partner=partner, rate_plan_id=rate_plan_id).exists():
                continue
            plan = CatalogPlan(
                partner=partner,
                rate_plan_id=rate_plan_id,
                name=name,
                scope=scope,
                monthly_price=price,
                frequencies=frequencies,
            )
            cloudflare.save_catalog_plan(
                actor,
                plan,
                components=[
                    CatalogComponent(name=c, default=default, maximum=maximum, unit_price=unit)
                    for c, default, maximum, unit in components
                ],
            )
        self._zone(actor, customers["globex"], "globex.example")
        paid = self._zone(actor, customers["umbrella"], "umbrella-health.example")
        if paid is not None and not paid.subscription_id:
            cloudflare.upgrade_zone_plan(
                actor,
                paid,
                rate_plan_id="PARTNERS_PRO",
                component_values={"page_rules": 25},
                not_billed_reason=DEMO_NOT_BILLED,
            )
            self._wait_for(lambda: self._fresh(paid).subscription_id, f"the upgrade of {paid}")
        umbrella = customers["umbrella"]
        if not CloudflareAddon.objects.filter(customer=umbrella).exists():
            addon = cloudflare.add_addon(
                actor,
                umbrella,
                rate_plan_id="PARTNERS_LOAD_BALANCING",
                component_values={"endpoints": 4},
                not_billed_reason=DEMO_NOT_BILLED,
            )
            self._wait_for(lambda: self._fresh(addon).vendor_id, f"the add-on {addon}")

    def _billing(self, actor, partner: Partner) -> None:
        """Digital River plans (annual, monthly) and what Northwind sells on them."""
        plans = {}
        for fields in DEMO_PLANS:
            plans[fields["plan_id"]] = Plan.objects.filter(
                plan_id=fields["plan_id"]
            ).first() or catalog.create_plan(actor, **fields)
        for sku_id, name, price, plan_id, provisions, params in DEMO_PRODUCTS:
            if not Product.objects.filter(partner=partner, sku_id=sku_id).exists():
                catalog.create_product(
                    actor,
                    partner,
                    sku_id=sku_id,
                    name=name,
                    price=Decimal(price),
                    currency="USD",
                    plan=plans.get(plan_id),
                    provisions=provisions,
                    provision_params=params,
                )

    def _zone(self, actor, customer: Customer, name: str) -> CloudflareZone | None:
        zone = CloudflareZone.objects.filter(customer=customer, name=name).first()
        if zone is None:
            zone = cloudflare.add_zone(actor, customer, name=name)
        if not self._wait_for(lambda: self._fresh(zone).vendor_id, f"the zone {name}"):
            return None
        return self._fresh(zone)

    @staticmethod
    def _fresh(obj: Model) -> Model:
        return type(obj).objects.get(pk=obj.pk)

    def _contract(self, actor, customer: Customer, sans: list[str], *, age_days: int) -> None:
        if AcmeContract.objects.filter(customer=customer).exists():
            return
        contract = acme.order_acme_contract(
            actor,
            customer,
            product="ssl_dv_rapidssl",
            sans=sans,
            auto_renew=True,
            not_billed_reason=DEMO_NOT_BILLED,
        )
        if not self._wait_for(lambda: AcmeContract.objects.get(pk=contract.pk).vendor_id, f"{contract}"):
            return
        contract.refresh_from_db()
        if not apps.is_installed("vendors.sandbox"):
            return  # real vendors: the contract is as old as it is
        # The sandbox makes the contract that old; a sync then brings DigiCert's creation date here.
        call_command("sandbox_backdate", acme_contract=int(contract.vendor_id), days=age_days)
        acme.sync_acme_contract(actor, contract)
        if self._wait_for(lambda: AcmeContract.objects.get(pk=contract.pk).drift, f"the sync of {contract}"):
            acme.resolve_drift(actor, AcmeContract.objects.get(pk=contract.pk), "valid_till", keep="vendor")
        # The inventory shows its certificates at once rather than at the next scheduled refresh.
        try:
            certificates.refresh_certificates(actor, AcmeContract.objects.get(pk=contract.pk))
        except DomainError as error:  # the schedule reads them later anyway
            self.stderr.write(f"Certificates of {contract}: {error.message}")

    def _wait_for(self, condition, what: str, seconds: int = 90) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if condition():
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.5)
        self.stderr.write(f"Gave up waiting for {what}; the demo's vendor objects are incomplete.")
        return False

    def _support_user(self):
        user, created = get_user_model().objects.get_or_create(
            username=SUPPORT[0], defaults={"email": "support@backoffice.example", "is_staff": True}
        )
        if created:
            user.set_password(SUPPORT[1])
            user.save()
        group, _ = Group.objects.get_or_create(name="Support")
        group.permissions.set(
            Permission.objects.filter(
                content_type__app_label__in=[
                    "partner",
                    "subscriptions",
                    "billing",
                    "core",
                    "sandbox",
                    "django_q",
                ]
            )
        )
        user.groups.add(group)
        return user

    def _partner(self) -> Partner:
        partner, _ = Partner.objects.get_or_create(
            slug="northwind",
            defaults=dict(
                name="Northwind Hosting",
                legal_name="Northwind Hosting B.V.",
                address_line1="Keizersgracht 100",
                city="Amsterdam",
                postal_code="1015 CV",
                country="NL",
                org_contact_name="Nora Northwind",
                org_contact_email="nora@northwind.example",
                org_contact_phone="+31 20 555 0100",
                verification_contact_name="Victor Vos",
                verification_contact_email="victor@northwind.example",
                billing_model=BillingModel.CENTRALIZED,
                subaccount_naming_pattern="nw-{customer}",
                cloudflare_unit_id=DEMO_UNIT,
            ),
        )
        if not partner.digicert_api_key:
            services.set_vendor_credentials(
                Actor.system(Face.COMMAND),
                partner,
                digicert_api_key=DEMO_DIGICERT_KEY,
                cloudflare_api_token=DEMO_CLOUDFLARE_TOKEN,
            )
        return partner

    def _reseller_owner(self, partner: Partner) -> None:
        user, created = get_user_model().objects.get_or_create(
            username=RESELLER[0],
            defaults={"email": "owner@northwind.example", "first_name": "Nora"},
        )
        if created:
            user.set_password(RESELLER[1])
            user.save()
        Membership.objects.get_or_create(user=user, defaults={"partner": partner, "role": Role.OWNER})

    def _print_logins(self, *, ready: bool = False) -> None:
        base = settings.SITE_URL.rstrip("/")
        state = f"ready at {base}" if ready else "starting"
        lines = [
            "",
            f"Partner back office {state} (web + django-q2 worker; the vendor sandbox is served by web).",
            f"  Admin (support staff):  {base}/admin/        login {SUPPORT[0]} / {SUPPORT[1]}",
            f"  Reseller dashboard:     {base}/              login {RESELLER[0]} / {RESELLER[1]}",
            f"  API for scripts:        {base}/api/docs/     token from the dashboard's API tokens page, or",
            f"                          .venv/bin/python manage.py create_api_token {RESELLER[0]}",
            f"  Vendor sandbox:         {base}/sandbox/      (DigiCert, Cloudflare, Digital River)",
            f"  Vendors in use:         {settings.DIGICERT_BASE_URL}, {settings.CLOUDFLARE_BASE_URL}",
            "",
        ]
        if ready:
            lines.insert(-1, "  The demo's vendor objects follow (a minute); Ctrl-C stops everything.")
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
