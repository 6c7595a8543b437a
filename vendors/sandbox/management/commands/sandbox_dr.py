"""manage.py sandbox_dr: act on the Digital River sandbox as the customer, the bank or its outbox."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from vendors.sandbox.digitalriver import checkouts, lifecycle
from vendors.sandbox.digitalriver.errors import DRError, PaymentDeclined
from vendors.sandbox.digitalriver.events import deliver, deliver_undelivered
from vendors.sandbox.models import DRCheckoutSession, DREvent, DRSubscription


class Command(BaseCommand):
    help = (
        "Digital River sandbox: `pay --session ID [--decline]` pays a checkout session as the customer; "
        "`fail-payment --subscription ID [--times N] [--at authorization|capture]` makes its next "
        "renewal payment(s) fail; `lapse --subscription ID`; `deliver [--event ID]` posts undelivered "
        "events to the webhook again; `run` applies what the sandbox clock made due."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        pay = actions.add_parser("pay", help="Pay a checkout session as the customer would.")
        pay.add_argument("--session", required=True, help="The checkout session id.")
        pay.add_argument("--decline", action="store_true", help="The card is declined instead.")
        fail = actions.add_parser("fail-payment", help="Make the next renewal payment(s) fail.")
        fail.add_argument("--subscription", required=True)
        fail.add_argument("--times", type=int, default=1, help="How many payments fail (default 1).")
        fail.add_argument(
            "--at",
            choices=["authorization", "capture"],
            default="authorization",
            help="authorization: POST /orders answers 409; capture: the order is made, its capture fails.",
        )
        lapse = actions.add_parser("lapse", help="The subscription lapses (subscription.lapsed).")
        lapse.add_argument("--subscription", required=True)
        send = actions.add_parser("deliver", help="Post undelivered events to the webhook again.")
        send.add_argument("--event", help="Only this event (delivered or not).")
        actions.add_parser("run", help="Apply what the sandbox clock has made due.")

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action.replace('-', '_')}")(**options)
        except PaymentDeclined as declined:
            raise CommandError(f"Payment declined: {declined.message}") from None
        except DRError as refused:
            raise CommandError(str(refused)) from None

    def _pay(self, session, decline, **options):
        found = DRCheckoutSession.objects.filter(pk=session).first()
        if found is None:
            raise CommandError(f"No Digital River checkout session {session}.")
        declined = None
        with transaction.atomic():
            lifecycle.run_due()
            try:
                order = checkouts.pay_session(found, decline=decline)
            except PaymentDeclined as refusal:  # caught inside: what the failure changed is kept
                declined = refusal
        if declined is not None:
            raise declined
        if order is None:
            self.stdout.write(f"Card declined; session {found.pk} is still open.")
            return
        subscriptions = ", ".join(s.pk for s in order.acquired_subscriptions.all()) or "none"
        self.stdout.write(
            f"Paid session {found.pk}: order {order.pk} ({order.state}); subscriptions: {subscriptions}."
        )

    def _fail_payment(self, subscription, times, at, **options):
        if times < 1:
            raise CommandError("--times must be at least 1.")
        with transaction.atomic():
            found = self._subscription(subscription)
            lifecycle.fail_payments(found, times=times, stage=at)
        self.stdout.write(f"The next {times} renewal payment(s) of {found.pk} will fail at {at}.")

    def _lapse(self, subscription, **options):
        with transaction.atomic():
            found = lifecycle.lapse(self._subscription(subscription))
        self.stdout.write(f"Subscription {found.pk} is {found.state}.")

    def _deliver(self, event=None, **options):
        if event:
            found = DREvent.objects.filter(event_id=event).first()
            if found is None:
                raise CommandError(f"No Digital River event {event}.")
            ok = deliver(found)
            self.stdout.write(f"{found.type} {found.event_id}: " + ("delivered." if ok else found.last_error))
            return
        delivered, failed = deliver_undelivered()
        self.stdout.write(f"Delivered {delivered} event(s); {failed} still undelivered.")

    def _run(self, **options):
        self.stdout.write(f"Digital River: {lifecycle.describe(lifecycle.run_due())}.")

    def _subscription(self, subscription_id: str) -> DRSubscription:
        found = (
            DRSubscription.objects.select_for_update()
            .select_related("plan")
            .filter(pk=subscription_id)
            .first()
        )
        if found is None:
            raise CommandError(f"No Digital River subscription {subscription_id}.")
        return found
