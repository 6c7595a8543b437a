"""manage.py sandbox_register_key: make the sandbox accept a partner key or tenant token."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from vendors.sandbox.cloudflare.catalog import DEFAULT_ENTITLEMENTS
from vendors.sandbox.services import entitlements_of, register_key
from vendors.sandbox.state import Vendor


class Command(BaseCommand):
    help = (
        "Register a DigiCert partner (parent) key or a Cloudflare tenant API token with the "
        "sandbox. Only its SHA-256 digest is stored. Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--vendor", required=True, choices=[Vendor.DIGICERT, Vendor.CLOUDFLARE])
        parser.add_argument("--key", required=True, help="The key or token, as the client will send it.")
        parser.add_argument("--label", default="", help="A name to recognise it by in the admin.")
        parser.add_argument("--unit-id", default="", help="Cloudflare only: the tenant unit of the token.")
        parser.add_argument(
            "--entitlements",
            type=plan_list,
            help="Cloudflare only: the rate plans the token may buy, PLAN,PLAN "
            f"(default: {','.join(DEFAULT_ENTITLEMENTS)}).",
        )

    def handle(self, *args, vendor, key, label, unit_id, entitlements=None, **options):
        try:
            registered, created = register_key(
                vendor, key, label=label, unit_id=unit_id, entitlements=entitlements
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        # Never echo the key: the digest prefix is enough to find it in the admin.
        self.stdout.write(
            f"{'Registered' if created else 'Already registered'}: {registered.get_role_display()} "
            f"{registered.label or '(no label)'} (sha256 {registered.digest[:12]}...)"
            + (f", unit {registered.unit_id}" if registered.unit_id else "")
        )
        if registered.vendor == Vendor.CLOUDFLARE:
            self.stdout.write(f"May buy: {', '.join(entitlements_of(registered)) or 'nothing'}")


def plan_list(value: str) -> list[str]:
    """PLAN,PLAN from the command line: rate plan ids, blanks dropped."""
    return [plan.strip() for plan in value.split(",") if plan.strip()]
