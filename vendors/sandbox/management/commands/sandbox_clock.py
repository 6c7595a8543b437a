"""manage.py sandbox_clock: show, advance or reset the sandbox's clock."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from vendors.sandbox.clock import advance_clock, clock_offset, reset_clock, sandbox_now
from vendors.sandbox.digitalriver.models import DREvent


class Command(BaseCommand):
    help = (
        "The sandbox clock is real time plus an offset that only moves forward. "
        "`advance --days N --hours N`, `show`, `reset`. Advancing lets the emulated vendors act on "
        "what became due (Digital River reminders, subscriptions failed after their collection period)."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        advance = actions.add_parser("advance", help="Move the sandbox clock forward.")
        advance.add_argument("--days", type=float, default=0)
        advance.add_argument("--hours", type=float, default=0)
        actions.add_parser("show", help="Print the sandbox time and its offset.")
        actions.add_parser("reset", help="Back to real time.")

    def handle(self, *args, action, **options):
        if action == "advance":
            delta = timedelta(days=options["days"], hours=options["hours"])
            if delta <= timedelta(0):
                raise CommandError("Give a positive --days and/or --hours; use `reset` to go back.")
            last = DREvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
            advance_clock(delta)
            emitted = list(
                DREvent.objects.filter(seq__gt=last).order_by("seq").values_list("type", flat=True)
            )
            if emitted:
                self.stdout.write(f"Digital River events: {', '.join(emitted)}")
        elif action == "reset":
            reset_clock()
        self.stdout.write(f"Sandbox now: {sandbox_now():%Y-%m-%d %H:%M:%S %Z} (offset {clock_offset()})")
