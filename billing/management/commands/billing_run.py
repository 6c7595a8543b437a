"""Run the scheduled billing tasks now, in their scheduled order (for demos and support)."""

from django.core.management.base import BaseCommand

from billing.tasks import (
    cancel_ended_targets_task,
    end_stopped_subscriptions_task,
    fulfil_ready_orders_task,
    provision_pending_task,
    run_renewals_task,
    send_reminders_task,
)

STEPS = [
    ("reminders sent", send_reminders_task),
    ("renewals ordered", run_renewals_task),
    ("subscriptions provisioned", provision_pending_task),
    ("orders fulfilled", fulfil_ready_orders_task),
    ("stopped subscriptions ended", end_stopped_subscriptions_task),
    ("ended services cancelled", cancel_ended_targets_task),
]


class Command(BaseCommand):
    help = (
        "Run billing's scheduled tasks now: back-office reminders and renewals, waiting provisioning, "
        "fulfilment of accepted orders, ends of services whose billing ended."
    )

    def handle(self, *args, **options):
        for label, task in STEPS:
            self.stdout.write(f"{label}: {task()}")
