"""manage.py sandbox_entitlements: what a Cloudflare tenant token may buy from the sandbox."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from vendors.sandbox.cloudflare.catalog import DEFAULT_ENTITLEMENTS, PLANS
from vendors.sandbox.management.commands.sandbox_register_key import plan_list
from vendors.sandbox.services import entitlements_of, find_key, set_entitlements
from vendors.sandbox.state import Vendor


class Command(BaseCommand):
    help = (
        "Show or change the rate plans a Cloudflare token may buy (others fail with code 1225): "
        "`--key KEY` shows them; add `--set PLAN,PLAN`, `--add PLAN,...`, `--remove PLAN,...` "
        f"or `--default` ({','.join(DEFAULT_ENTITLEMENTS)}). Plans: {', '.join(PLANS)}."
    )

    def add_arguments(self, parser):
        parser.add_argument("--key", required=True, help="The token, as the client sends it.")
        parser.add_argument("--set", type=plan_list, dest="replace", help="Exactly these plans.")
        parser.add_argument("--add", type=plan_list, default=[], help="Also these plans.")
        parser.add_argument("--remove", type=plan_list, default=[], help="Not these plans.")
        parser.add_argument("--default", action="store_true", help="Back to the default set.")

    def handle(self, *args, key, replace, add, remove, default, **options):
        token = find_key(Vendor.CLOUDFLARE, key.strip())
        if token is None:
            raise CommandError("No Cloudflare token registered with this value (see sandbox_register_key).")
        if default and replace is not None:
            raise CommandError("Give either --set or --default, not both.")
        if replace is not None or add or remove or default:
            try:
                set_entitlements(token, replace=replace, add=add, remove=remove, default=default)
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
        # Never echo the token: its label and digest prefix identify it.
        self.stdout.write(
            f"{token.label or '(no label)'} (sha256 {token.digest[:12]}...) may buy: "
            f"{', '.join(entitlements_of(token)) or 'nothing'}"
            + (" (default set)" if token.entitlements is None else "")
        )
