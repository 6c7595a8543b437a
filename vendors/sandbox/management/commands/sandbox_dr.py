"""manage.py sandbox_dr: act on the Digital River sandbox as the customer, the bank or its outbox."""

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from vendors.sandbox.digitalriver import checkouts, lifecycle, refunds, sources
from vendors.sandbox.digitalriver.errors import DRError, PaymentDeclined
from vendors.sandbox.digitalriver.events import deliver, deliver_undelivered, register_webhook, webhook_url
from vendors.sandbox.digitalriver.models import (
    DRCheckoutSession,
    DRCustomer,
    DREvent,
    DRRefund,
    DRSource,
    DRSubscription,
)


class Command(BaseCommand):
    help = (
        "Digital River sandbox: `pay --session ID [--decline] [--source ID]` pays a checkout session as "
        "the customer; `fail-payment (--source ID | --subscription ID) [--times N] "
        "[--at authorization|capture]` makes the source's next charge(s) fail; `expire-card (--source ID "
        "| --subscription ID)` puts the card's expiry in the past; `new-source [--customer ID] "
        "[--single-use]` makes a card source; `refund --refund ID [--fail]` completes a pending refund; "
        "`lapse --subscription ID`; `deliver [--event ID]` posts undelivered events to the webhook again; "
        "`register-webhook --url URL` sets where events go; `run` applies what the sandbox clock made due. "
        "A subscription is the back office's id (as in the admin) or Digital River's."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        pay = actions.add_parser("pay", help="Pay a checkout session as the customer would.")
        pay.add_argument("--session", required=True, help="The checkout session id.")
        pay.add_argument("--decline", action="store_true", help="The card is declined instead.")
        pay.add_argument("--source", help="Pay with this saved source of the customer (default: a new card).")
        fail = actions.add_parser("fail-payment", help="Make a source's next charge(s) fail.")
        self._source_arguments(fail)
        fail.add_argument("--times", type=int, default=1, help="How many charges fail (default 1; 0 clears).")
        fail.add_argument(
            "--at",
            choices=["authorization", "capture"],
            default="authorization",
            help="authorization: POST /orders answers 409 (and an invoice charge is declined); capture: "
            "the order is made, the capture of its fulfilment fails.",
        )
        expire = actions.add_parser("expire-card", help="The source's card expires (expiry in the past).")
        self._source_arguments(expire)
        new = actions.add_parser("new-source", help="Make a reusable card source, as the Drop-in would.")
        new.add_argument("--customer", help="Save it to this customer.")
        new.add_argument("--single-use", action="store_true", help="A source that cannot be reused or saved.")
        refund = actions.add_parser(
            "refund", help="Complete a pending refund (when refunds do not complete at once)."
        )
        refund.add_argument("--refund", required=True, help="The refund id (re_...).")
        refund.add_argument("--fail", action="store_true", help="The refund fails instead (refund.failed).")
        lapse = actions.add_parser("lapse", help="The subscription lapses (subscription.lapsed).")
        lapse.add_argument("--subscription", required=True)
        send = actions.add_parser("deliver", help="Post undelivered events to the webhook again.")
        send.add_argument("--event", help="Only this event (delivered or not).")
        hook = actions.add_parser(
            "register-webhook",
            help="Register the webhook endpoint events are posted to (replaces any other).",
        )
        hook.add_argument("--url", required=True, help="e.g. http://127.0.0.1:8000/webhooks/digitalriver/")
        actions.add_parser("run", help="Apply what the sandbox clock has made due.")

    @staticmethod
    def _source_arguments(parser):
        parser.add_argument("--source", help="The source id.")
        parser.add_argument(
            "--subscription",
            help="Or: the source of this subscription (its sourceId); the back office's id or Digital River's.",
        )

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action.replace('-', '_')}")(**options)
        except PaymentDeclined as declined:
            raise CommandError(f"Payment declined: {declined.message}") from None
        except DRError as refused:
            raise CommandError(str(refused)) from None

    def _pay(self, session, decline, source=None, **options):
        found = DRCheckoutSession.objects.filter(pk=session).first()
        if found is None:
            raise CommandError(f"No Digital River checkout session {session}.")
        declined = None
        with transaction.atomic():
            lifecycle.run_due()
            try:
                order = checkouts.pay_session(found, decline=decline, source_id=source)
            except PaymentDeclined as refusal:  # caught inside: what the failure changed is kept
                declined = refusal
        if declined is not None:
            raise declined
        if order is None:
            self.stdout.write(f"Card declined; session {found.pk} is still open.")
            return
        subscriptions = ", ".join(s.pk for s in order.acquired_subscriptions.all()) or "none"
        self.stdout.write(
            f"Paid session {found.pk}: order {order.pk} ({order.state}), source {order.source_id}; "
            f"subscriptions: {subscriptions}."
        )

    def _fail_payment(self, times, at, source=None, subscription=None, **options):
        if times < 0:
            raise CommandError("--times must be 0 or more.")
        with transaction.atomic():
            found = sources.fail_charges(self._source(source, subscription), times=times, stage=at)
        self.stdout.write(f"The next {times} charge(s) of source {found.pk} will fail at {at}.")

    def _expire_card(self, source=None, subscription=None, **options):
        with transaction.atomic():
            found = sources.expire_card(self._source(source, subscription))
        card = found.credit_card
        self.stdout.write(
            f"The card of source {found.pk} now expired {card['expirationMonth']}/{card['expirationYear']}."
        )

    def _new_source(self, customer=None, single_use=False, **options):
        with transaction.atomic():
            owner = None
            if customer:
                owner = DRCustomer.objects.filter(pk=customer).first()
                if owner is None:
                    raise CommandError(f"No Digital River customer {customer}.")
            found = sources.create_source(reusable=not single_use, customer=owner)
        saved = f", saved to customer {owner.pk}" if owner else ""
        self.stdout.write(f"Source {found.pk} ({'single-use' if single_use else 'reusable'}{saved}).")

    def _refund(self, refund, fail, **options):
        with transaction.atomic():
            found = DRRefund.objects.select_for_update().filter(pk=refund).first()
            if found is None:
                raise CommandError(f"No Digital River refund {refund}.")
            refunds.complete(found, fail=fail)
        self.stdout.write(
            f"Refund {found.pk} {found.state} ({found.refunded_amount} {found.currency} refunded)."
        )

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
        self.stdout.write(f"Delivered {delivered} event(s) to {webhook_url()}; {failed} still undelivered.")

    def _register_webhook(self, url, **options):
        webhook = register_webhook(url)
        self.stdout.write(f"Digital River webhook {webhook.id}: events now go to {webhook.address}.")

    def _run(self, **options):
        self.stdout.write(f"Digital River: {lifecycle.describe(lifecycle.run_due())}.")

    def _subscription(self, given: str) -> DRSubscription:
        """Digital River's subscription, named by its own id or by the back office's (the admin's)."""
        found, ours = self._find_subscription(given)
        if found is None:
            raise CommandError(
                f"Billing subscription {given} has no subscription at Digital River: "
                + (
                    "the back office renews it (an external subscription)."
                    if ours["plan__engine"] == "back_office"
                    else "not acquired yet?"
                )
            )
        return found

    def _find_subscription(self, given: str) -> tuple[DRSubscription | None, dict | None]:
        """Digital River's subscription `given`, else the back office's of that id and its own there."""
        subscriptions = DRSubscription.objects.select_for_update().select_related("plan")
        found = subscriptions.filter(pk=given).first()
        if found is not None:
            return found, None
        ours = self._back_office_subscription(given)
        if ours is None:
            raise CommandError(
                f"No Digital River subscription {given}, and no billing subscription of the back office "
                "with that id (admin -> Billing subscriptions)."
            )
        return subscriptions.filter(pk=ours["subscription_id"]).first(), ours

    @staticmethod
    def _back_office_subscription(given: str) -> dict | None:
        """The back office's billing subscription `given`: its Digital River id, source and engine.

        Looked up by name, not imported: the sandbox stands apart from the apps (it is a vendor).
        """
        if not given.isdigit() or not apps.is_installed("billing"):
            return None
        model = apps.get_model("billing", "BillingSubscription")
        return (
            model.objects.filter(pk=int(given))
            .values("subscription_id", "payment_source_id", "plan__engine")
            .first()
        )

    def _source(self, source_id: str | None, subscription_id: str | None) -> DRSource:
        if bool(source_id) == bool(subscription_id):
            raise CommandError("Give either --source or --subscription.")
        if subscription_id:
            found, ours = self._find_subscription(subscription_id)
            # One the back office renews has no subscription at Digital River: its saved source.
            source_id = found.source_id if found is not None else ours["payment_source_id"]
            if not source_id:
                raise CommandError(f"Subscription {subscription_id} has no sourceId (is it activated?).")
        found = DRSource.objects.select_for_update().filter(pk=source_id).first()
        if found is None:
            raise CommandError(f"No Digital River source {source_id}.")
        return found
