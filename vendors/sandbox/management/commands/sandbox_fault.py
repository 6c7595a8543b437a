"""manage.py sandbox_fault: inject failures into the sandbox's vendor APIs."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from vendors.sandbox.services import add_fault, clear_faults
from vendors.sandbox.state import Fault, FaultKind, Vendor


class Command(BaseCommand):
    help = (
        "Inject failures: `add --vendor V --kind K [--method M] [--path REGEX] [--status N] "
        "[--retry-after S] [--count N] [--rate P]`, `list [--vendor V]`, `clear [--vendor V] [--id N]`."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="Arm a fault.")
        add.add_argument("--vendor", required=True, choices=Vendor.values)
        add.add_argument("--kind", required=True, choices=FaultKind.values)
        add.add_argument("--method", default="*", help="GET, POST... or * (default) for any.")
        add.add_argument("--path", default="", help="Regex searched in the path below the vendor's base URL.")
        add.add_argument("--status", type=int, help="HTTP faults: another status, e.g. 502.")
        add.add_argument("--retry-after", type=float, help="Seconds for the Retry-After header.")
        add.add_argument("--count", type=int, help="Fire this many times (default: until cleared).")
        add.add_argument("--rate", type=float, default=1.0, help="Probability 0..1 (default 1).")
        listing = actions.add_parser("list", help="Show the faults.")
        listing.add_argument("--vendor", choices=Vendor.values)
        clear = actions.add_parser("clear", help="Remove faults (all by default).")
        clear.add_argument("--vendor", choices=Vendor.values)
        clear.add_argument("--id", type=int, dest="fault_id")

    def handle(self, *args, action, **options):
        if action == "add":
            try:
                fault = add_fault(
                    options["vendor"],
                    options["kind"],
                    method=options["method"],
                    path_regex=options["path"],
                    status=options["status"],
                    retry_after=options["retry_after"],
                    count=options["count"],
                    rate=options["rate"],
                )
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
            self.stdout.write(f"Added fault #{fault.pk}: {self._describe(fault)}")
        elif action == "list":
            faults = Fault.objects.all()
            if options["vendor"]:
                faults = faults.filter(vendor=options["vendor"])
            for fault in faults:
                self.stdout.write(f"#{fault.pk} {self._describe(fault)}")
            if not faults:
                self.stdout.write("No faults.")
        else:
            removed = clear_faults(options["vendor"], options["fault_id"])
            self.stdout.write(f"Removed {removed} fault(s).")

    def _describe(self, fault: Fault) -> str:
        left = "unlimited" if fault.remaining is None else f"{fault.remaining} left"
        extra = f" status {fault.status}" if fault.status else ""
        extra += f" retry-after {fault.retry_after:g}s" if fault.retry_after is not None else ""
        return (
            f"{fault.vendor} {fault.method} /{fault.path_regex or '.*'}/ {fault.kind}{extra}, "
            f"rate {fault.rate:g}, {left}, fired {fault.fired}"
        )
