"""Make a sandbox object older, e.g. an ACME contract past its 30-day cancel window, for demos."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from vendors.sandbox.digicert.models import AcmeContract


class Command(BaseCommand):
    help = "Move an ACME contract's creation (and its term) back by --days, as if it were that old."

    def add_arguments(self, parser):
        parser.add_argument("--acme-contract", type=int, required=True)
        parser.add_argument("--days", type=int, required=True)

    def handle(self, acme_contract, days, **options):
        contract = AcmeContract.objects.filter(pk=acme_contract).first()
        if contract is None:
            raise CommandError(f"No sandbox ACME contract {acme_contract}.")
        shift = timedelta(days=days)
        contract.created_at -= shift
        contract.valid_till -= shift
        contract.save(update_fields=["created_at", "valid_till"])
        self.stdout.write(f"ACME contract {contract.pk} now created {contract.created_at:%Y-%m-%d}.")
