"""Demo data for `make run`: an onboarded partner with customers, a reseller owner, a support user."""

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from core.actor import Actor, Face
from partner import services
from partner.models import BillingModel, Membership, Partner, Role

SUPPORT = ("support", "support-demo-2026")
RESELLER = ("reseller", "reseller-demo-2026")
DEMO_DIGICERT_KEY = "demo-digicert-partner-key-7f3a9c"
DEMO_CLOUDFLARE_TOKEN = "demo-cloudflare-tenant-token-5b2e1d"
DEMO_UNIT = "unit-northwind"
CUSTOMERS = [
    ("Globex Corporation", "globex", "it@globex.example"),
    ("Initech", "initech", "ops@initech.example"),
    ("Umbrella Health", "umbrella", "security@umbrella.example"),
    ("Stark Logistics", "stark", "admin@stark.example"),
]


class Command(BaseCommand):
    help = "Create the demo partner, customers and users (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--print-logins", action="store_true", help="Only print URLs and logins.")
        parser.add_argument("--port", default="8000")

    def handle(self, *args, print_logins=False, port="8000", **options):
        if print_logins:
            return self._print_logins(port)
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
        self.stdout.write(
            self.style.SUCCESS(f"Demo data ready: {partner} with {partner.customers.count()} customers.")
        )

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

    def _print_logins(self, port: str) -> None:
        base = f"http://127.0.0.1:{port}"
        lines = [
            "",
            "Partner back office is starting (web + django-q2 worker; the vendor sandbox is served by web).",
            f"  Admin (support staff):  {base}/admin/        login {SUPPORT[0]} / {SUPPORT[1]}",
            f"  Reseller owner (API):   {base}/api/docs/     login {RESELLER[0]} / {RESELLER[1]}",
            f"  API token for scripts:  .venv/bin/python manage.py create_api_token {RESELLER[0]}",
            f"  Vendor sandbox:         {base}/sandbox/      (DigiCert, Cloudflare, Digital River)",
            f"  Vendors in use:         {settings.DIGICERT_BASE_URL}, {settings.CLOUDFLARE_BASE_URL}",
            "",
        ]
        self.stdout.write("\n".join(lines))
