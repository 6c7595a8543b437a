"""Digital River billing: plans, products, checkouts, subscriptions, renewals, notices, webhooks."""

from __future__ import annotations

import uuid

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone

from billing.rules import Interval
from core.fields import money_field
from core.states import Moves


class PlanState(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    DISCONTINUED = "discontinued", "Discontinued"
    DEACTIVATED = "deactivated", "Deactivated"


# Where a plan's state may go next (staff's update_plan, and Digital River's answer to a sync): a
# plan is never a draft again, and a deactivated plan (its subscriptions end) stays deactivated.
PLAN_MOVES: Moves = {
    PlanState.DRAFT: {PlanState.ACTIVE, PlanState.DISCONTINUED, PlanState.DEACTIVATED},
    PlanState.ACTIVE: {PlanState.DISCONTINUED, PlanState.DEACTIVATED},
    PlanState.DISCONTINUED: {PlanState.ACTIVE, PlanState.DEACTIVATED},
    PlanState.DEACTIVATED: set(),
}


class RenewalEngine(models.TextChoices):
    """Who runs a subscription's renewals, for its whole life (domain.md: never both)."""

    DIGITAL_RIVER = "digitalriver", "Digital River (its subscription service)"
    BACK_OFFICE = "back_office", "Back office (external subscription)"


class Plan(models.Model):
    """A plan: the terms, cycle and offsets of subscriptions, and which engine renews them.

    A Digital River-engine plan exists at Digital River (planId on every acquisition); a
    back-office-engine plan is ours only: its subscriptions are external ones at Digital River.
    """

    plan_id = models.SlugField("Digital River plan id", max_length=64, unique=True)
    name = models.CharField(max_length=200)
    terms = models.TextField(help_text="Shown to the customer and sent on every acquisition.")
    interval = models.CharField(max_length=8, choices=Interval.choices)
    interval_count = models.PositiveSmallIntegerField(default=1)
    contract_binding_days = models.PositiveIntegerField(default=365)
    reminder_offset_days = models.PositiveIntegerField(default=30)
    billing_offset_days = models.PositiveIntegerField(default=0)
    collection_period_days = models.PositiveIntegerField(default=14)
    state = models.CharField(max_length=16, choices=PlanState.choices, default=PlanState.DRAFT)
    engine = models.CharField(
        "renewal engine",
        max_length=16,
        choices=RenewalEngine.choices,
        default=RenewalEngine.DIGITAL_RIVER,
        help_text="Fixed once the plan has subscriptions.",
    )
    at_vendor = models.BooleanField(default=False, help_text="Created at Digital River.")
    synced_at = models.DateTimeField(null=True, blank=True)
    vendor_view = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.interval_count} {self.interval})"

    @property
    def run_by_digital_river(self) -> bool:
        return self.engine == RenewalEngine.DIGITAL_RIVER


class Provisions(models.TextChoices):
    ACME_CONTRACT = "acme_contract", "DigiCert ACME contract"
    ZONE_PLAN = "zone_plan", "Cloudflare zone plan"
    ADDON = "addon", "Cloudflare account add-on"
    NOTHING = "nothing", "Nothing (service or fee)"


class Product(models.Model):
    """Something a partner sells (a SKU) at its price, and what it provisions once paid."""

    partner = models.ForeignKey("partner.Partner", on_delete=models.PROTECT, related_name="products")
    sku_id = models.SlugField("SKU", max_length=64)
    name = models.CharField(max_length=200)
    price = money_field()
    currency = models.CharField(max_length=3, default="USD")
    plan = models.ForeignKey(
        Plan,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="products",
        help_text="Empty for a one-off item.",
    )
    free_trial = models.BooleanField(default=False)
    trial_plan = models.ForeignKey(
        Plan,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="trial_products",
        help_text="The free trial's period (a trial plan of the same engine); the price applies after it.",
    )
    provisions = models.CharField(max_length=20, choices=Provisions.choices, default=Provisions.NOTHING)
    provision_params = models.JSONField(
        default=dict,
        blank=True,
        help_text='e.g. {"product": "ssl_dv_rapidssl"} or {"rate_plan_id": "PARTNERS_BIZ", "frequency": "monthly"}',
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["partner", "name"]
        constraints = [models.UniqueConstraint(fields=["partner", "sku_id"], name="product_sku_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.price} {self.currency})"

    @property
    def is_subscription(self) -> bool:
        return self.plan_id is not None

    @property
    def has_trial_period(self) -> bool:
        """A free trial with its own period: sold at 0, then charged `price` on the same agreement."""
        return self.free_trial and self.trial_plan_id is not None

    def clean(self):
        from django.core.exceptions import ValidationError

        if self.trial_plan_id and self.plan_id and self.trial_plan.engine != self.plan.engine:
            raise ValidationError({"trial_plan": "The trial plan must have the plan's renewal engine."})
        if self.trial_plan_id and not self.free_trial:
            raise ValidationError({"trial_plan": "Only a free-trial product has a trial plan."})


class CheckoutKind(models.TextChoices):
    ACQUISITION = "acquisition", "Acquisition"
    RENEWAL = "renewal", "Renewal"


class CheckoutState(models.TextChoices):
    PENDING = "pending", "Pending"
    OPEN = "open", "Awaiting payment"
    ORDERED = "ordered", "Ordered"
    PAID = "paid", "Paid"
    CANCELLED = "cancelled", "Cancelled (nothing delivered, nothing charged)"
    FAILED = "failed", "Failed"


# Where a checkout's state may go next. Its operation opens it (or fails, and is retried), the order
# makes it ordered, the capture paid; a charge cancelled in full before any capture cancels it from
# any uncaptured state. Digital River's charge-failed event fails it from any state, a paid one too
# (charge_failed does not look: kept as it is).
CHECKOUT_MOVES: Moves = {
    CheckoutState.PENDING: {
        CheckoutState.OPEN,
        CheckoutState.ORDERED,
        CheckoutState.CANCELLED,
        CheckoutState.FAILED,
    },
    CheckoutState.OPEN: {CheckoutState.ORDERED, CheckoutState.CANCELLED, CheckoutState.FAILED},
    CheckoutState.ORDERED: {CheckoutState.PAID, CheckoutState.CANCELLED, CheckoutState.FAILED},
    CheckoutState.PAID: {CheckoutState.FAILED},
    CheckoutState.CANCELLED: {CheckoutState.FAILED},
    CheckoutState.FAILED: {CheckoutState.PENDING, CheckoutState.CANCELLED},
}


class Checkout(models.Model):
    """One Digital River checkout: an acquisition (customer pays) or a renewal (charged on agreement)."""

    partner = models.ForeignKey("partner.Partner", on_delete=models.PROTECT, related_name="checkouts")
    customer = models.ForeignKey("partner.Customer", on_delete=models.PROTECT, related_name="checkouts")
    kind = models.CharField(max_length=16, choices=CheckoutKind.choices, default=CheckoutKind.ACQUISITION)
    reference = models.UUIDField(
        default=uuid.uuid4,
        unique=True,
        editable=False,
        help_text="Sent as upstreamId so Digital River's order points back here.",
    )
    state = models.CharField(
        max_length=16, choices=CheckoutState.choices, default=CheckoutState.PENDING, db_index=True
    )
    charge_type = models.CharField(max_length=24, default="customer_initiated", db_index=True)
    currency = models.CharField(max_length=3)
    total = money_field(default=0)
    session_id = models.CharField(max_length=64, blank=True)
    payment_link = models.URLField(max_length=500, blank=True)
    checkout_id = models.CharField(max_length=64, blank=True)
    order_id = models.CharField(max_length=64, blank=True, db_index=True)
    order_state = models.CharField(max_length=24, blank=True)
    billing_agreement_id = models.CharField(max_length=64, blank=True)
    source_id = models.CharField(
        "payment source", max_length=64, blank=True, help_text="The order's primary payment source."
    )
    # Money at Digital River: authorised when the order is accepted, captured once fulfilled.
    authorized_amount = money_field(default=0)
    captured_amount = money_field(default=0)
    cancelled_amount = money_field(default=0)
    refunded_amount = money_field(default=0)
    fulfillment_id = models.CharField(max_length=64, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True, help_text="When POST /fulfillments was made.")
    vendor_response = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="billing_checkout_created"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} checkout {str(self.reference)[:8]} ({self.customer})"


class CheckoutItem(models.Model):
    checkout = models.ForeignKey(Checkout, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    price = money_field()
    subscription = models.ForeignKey(
        "BillingSubscription", null=True, blank=True, on_delete=models.PROTECT, related_name="checkout_items"
    )
    order_item_id = models.CharField("Digital River item id", max_length=64, blank=True)
    fulfilled_quantity = models.PositiveIntegerField(default=0)
    cancelled_quantity = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product.name}"


class SubscriptionState(models.TextChoices):
    DRAFT = "draft", "Draft (awaiting payment)"
    ACTIVE = "active", "Active"
    ACTIVE_FREE = "activeFree", "Active (free)"
    ACTIVE_PENDING_INVOICE = "activePendingInvoice", "Active, invoice open"
    FAILED = "failed", "Failed (unpaid)"
    LAPSED = "lapsed", "Lapsed"
    CANCELLED = "cancelled", "Cancelled"
    ENDED = "ended", "Ended"


RENEWING_STATES = (
    SubscriptionState.ACTIVE,
    SubscriptionState.ACTIVE_FREE,
    SubscriptionState.ACTIVE_PENDING_INVOICE,
)
ENDED_STATES = (
    SubscriptionState.FAILED,
    SubscriptionState.LAPSED,
    SubscriptionState.CANCELLED,
    SubscriptionState.ENDED,
)

# Where a billing subscription's state may go next: a draft is activated (or ends unpaid); a live
# one moves between the live states (Digital River's view) and ends. An ended one stays ended, but
# a failed one is active again when a late capture pays its renewal (lifecycle.mark_renewed).
BILLING_SUBSCRIPTION_MOVES: Moves = {
    SubscriptionState.DRAFT: {*RENEWING_STATES, *ENDED_STATES},
    **{live: {*RENEWING_STATES, *ENDED_STATES} for live in RENEWING_STATES},
    SubscriptionState.FAILED: {SubscriptionState.ACTIVE},
    SubscriptionState.LAPSED: set(),
    SubscriptionState.CANCELLED: set(),
    SubscriptionState.ENDED: set(),
}


class ProvisioningState(models.TextChoices):
    AWAITING_PAYMENT = "awaiting_payment", "Awaiting payment"
    PENDING = "pending", "Provisioning"
    DONE = "done", "Provisioned"
    FAILED = "failed", "Failed"
    NOT_NEEDED = "not_needed", "Nothing to provision"


# Where a subscription's provisioning may go next: once paid it is provisioned (or takes over what
# the subscription it replaces provisioned, or what reconciliation links to it), or fails for good;
# a change undone fails it from wherever it was.
PROVISIONING_MOVES: Moves = {
    ProvisioningState.AWAITING_PAYMENT: {
        ProvisioningState.PENDING,
        ProvisioningState.DONE,
        ProvisioningState.FAILED,
    },
    ProvisioningState.PENDING: {ProvisioningState.DONE, ProvisioningState.FAILED},
    ProvisioningState.DONE: {ProvisioningState.FAILED},
    ProvisioningState.FAILED: set(),
    ProvisioningState.NOT_NEEDED: {ProvisioningState.DONE, ProvisioningState.FAILED},
}


class BillingSubscription(models.Model):
    """A customer's Digital River subscription to a product; its id is ours, sent as subscriptionId."""

    partner = models.ForeignKey(
        "partner.Partner", on_delete=models.PROTECT, related_name="billing_subscriptions"
    )
    customer = models.ForeignKey(
        "partner.Customer", on_delete=models.PROTECT, related_name="billing_subscriptions"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    subscription_id = models.CharField(max_length=64, unique=True, default=uuid.uuid4)
    acquisition = models.ForeignKey(Checkout, on_delete=models.PROTECT, related_name="acquired_subscriptions")
    quantity = models.PositiveIntegerField(default=1)
    price = money_field()
    state = models.CharField(
        max_length=24, choices=SubscriptionState.choices, default=SubscriptionState.DRAFT, db_index=True
    )
    auto_renewal = models.BooleanField(default=True)
    billing_agreement_id = models.CharField(max_length=64, blank=True)
    payment_source_id = models.CharField(
        "payment source",
        max_length=64,
        blank=True,
        help_text="The reusable source renewals are charged to (Digital River's sourceId).",
    )
    free_trial = models.BooleanField(default=False, help_text="Still in its free trial.")
    ends_at_period_end = models.BooleanField(
        "renewal stopped",
        default=False,
        help_text="No further charge: what was sold runs to the end of the paid period, then ends.",
    )
    scheduled_change = models.JSONField(
        default=dict,
        blank=True,
        help_text='A change that takes effect at the end of the paid period, e.g. {"product": 7}.',
    )
    contract_binding_until = models.DateTimeField(null=True, blank=True)
    next_reminder_date = models.DateTimeField(null=True, blank=True)
    current_period_end_date = models.DateTimeField(null=True, blank=True, db_index=True)
    next_invoice_date = models.DateTimeField(null=True, blank=True, db_index=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    payment_failed_at = models.DateTimeField(null=True, blank=True)
    provisioning_state = models.CharField(
        max_length=20, choices=ProvisioningState.choices, default=ProvisioningState.AWAITING_PAYMENT
    )
    provisioning_error = models.TextField(blank=True)
    provisioning_attempts = models.PositiveIntegerField(default=0)
    provision_options = models.JSONField(
        default=dict, blank=True, help_text='What to provision, e.g. {"sans": [...]} or {"zone": 3}.'
    )
    provisioned_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    provisioned_id = models.CharField(max_length=64, blank=True)
    provisioned = GenericForeignKey("provisioned_type", "provisioned_id")
    cancel_at = models.DateTimeField(
        null=True, blank=True, help_text="When what was provisioned is to be cancelled (term end)."
    )
    replaces = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaced_by",
        help_text="The subscription this one replaces after a change outside its agreed terms.",
    )
    vendor_view = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="billing_sub_created"),
            models.Index(fields=["state", "auto_renewal", "next_invoice_date"], name="billing_renewal_due"),
        ]
        permissions = [("run_renewals", "Can run renewals and resend notices")]

    def __str__(self) -> str:
        return f"{self.product.name} for {self.customer}"

    @property
    def engine(self) -> str:
        return self.plan.engine

    @property
    def run_by_digital_river(self) -> bool:
        return self.plan.engine == RenewalEngine.DIGITAL_RIVER


class BillingAgreement(models.Model):
    """A recurring billing agreement the customer accepted at payment; renewals charge against it."""

    agreement_id = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(
        "partner.Customer", on_delete=models.PROTECT, related_name="billing_agreements"
    )
    first_order_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    superseded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="billing_agreement_created"),
        ]
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.agreement_id


class RenewalState(models.TextChoices):
    DUE = "due", "Due"
    HELD = "held", "Held: reminder missing"
    POSTPONED = "postponed", "Moved 30 days later (reminder sent late)"
    ORDERING = "ordering", "Ordering"
    ORDERED = "ordered", "Ordered"
    AWAITING_CUSTOMER = "awaiting_customer", "Awaiting the customer's payment"
    CAPTURED = "captured", "Paid"
    CANCELLED = "cancelled", "Not charged (nothing left to renew)"
    REFUNDED = "refunded", "Refunded (not delivered)"
    FAILED = "failed", "Payment failed"


# Where each renewal state may go next. Answers arrive out of order (a capture event before the
# order's own answer, which was lost and read again): a state is never moved back by a late one.
RENEWAL_MOVES: Moves = {
    RenewalState.DUE: {RenewalState.ORDERING, RenewalState.AWAITING_CUSTOMER},
    RenewalState.HELD: {RenewalState.POSTPONED, RenewalState.ORDERING, RenewalState.AWAITING_CUSTOMER},
    RenewalState.POSTPONED: set(),
    RenewalState.ORDERING: {
        RenewalState.ORDERED,
        RenewalState.AWAITING_CUSTOMER,
        RenewalState.CAPTURED,
        RenewalState.CANCELLED,
        RenewalState.FAILED,
    },
    RenewalState.ORDERED: {RenewalState.CAPTURED, RenewalState.CANCELLED, RenewalState.FAILED},
    RenewalState.AWAITING_CUSTOMER: {
        RenewalState.ORDERED,
        RenewalState.CAPTURED,
        RenewalState.CANCELLED,
        RenewalState.FAILED,
    },
    RenewalState.FAILED: {RenewalState.ORDERING, RenewalState.CAPTURED},  # dunning retries; a late capture
    RenewalState.CAPTURED: {RenewalState.REFUNDED},
    RenewalState.CANCELLED: set(),
    RenewalState.REFUNDED: set(),
}


class Renewal(models.Model):
    """One renewal of one subscription for one period: the unique key that makes renewals happen once."""

    subscription = models.ForeignKey(BillingSubscription, on_delete=models.PROTECT, related_name="renewals")
    renewal_date = models.DateTimeField(help_text="The end of the period being renewed.")
    state = models.CharField(
        max_length=20, choices=RenewalState.choices, default=RenewalState.DUE, db_index=True
    )
    checkout = models.ForeignKey(
        Checkout, null=True, blank=True, on_delete=models.PROTECT, related_name="renewals"
    )
    invoice_id = models.CharField(
        max_length=64, blank=True, help_text="Digital River's invoice, for a renewal its service ran."
    )
    attempted_at = models.DateTimeField(
        null=True, blank=True, help_text="Business time of the last order attempt (back-office engine)."
    )
    amount = money_field(null=True, blank=True)
    reminder_missing = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["-renewal_date", "-id"], name="billing_renewal_date"),
        ]
        ordering = ["-renewal_date"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "renewal_date"], name="one_renewal_per_period")
        ]

    def __str__(self) -> str:
        return f"Renewal of {self.subscription} on {self.renewal_date:%Y-%m-%d}"


class NoticeKind(models.TextChoices):
    REMINDER_30 = "reminder_30", "Renewal reminder, 30 days before"
    REMINDER_7 = "reminder_7", "Renewal reminder, 7 days before"
    REMINDER_1 = "reminder_1", "Renewal reminder, 1 day before"
    RENEWED = "renewed", "Renewal notice"
    RENEWAL_REMINDER = "renewal_reminder", "Renewal reminder (Digital River's reminder date)"
    TRIAL_ENDING = "trial_ending", "Free trial ends"
    TRIAL_CONVERTED = "trial_converted", "Free trial converted to paid"
    PAYMENT_FAILED = "payment_failed", "Payment failed"
    SOURCE_INVALID = "source_invalid", "Payment method needs replacing"
    MANUAL_RENEWAL = "manual_renewal", "Renewal to pay (payment link)"
    REFUNDED = "refunded", "Refund"
    CANCELLED_REFUNDED = "cancelled_refunded", "Cancelled and refunded in full"
    RENEWAL_STOPPED = "renewal_stopped", "Renewal stopped"
    ENDED = "ended", "Subscription ended"


class Notice(models.Model):
    """An e-mail about a subscription, sent once per kind and renewal date, with its delivery outcome."""

    subscription = models.ForeignKey(BillingSubscription, on_delete=models.PROTECT, related_name="notices")
    kind = models.CharField(max_length=20, choices=NoticeKind.choices)
    renewal_date = models.DateField()
    to = models.CharField(max_length=500)
    subject = models.CharField(max_length=200)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True, help_text="What the notice told the customer.")
    attempts = models.PositiveIntegerField(
        default=0, help_text="Delivery attempts (undelivered notices are retried)."
    )
    flagged_at = models.DateTimeField(
        null=True, blank=True, help_text="When staff were alerted that it could not be delivered in time."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="billing_notice_created"),
            models.Index(fields=["sent_at"], name="billing_notice_sent"),
        ]
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "kind", "renewal_date"], name="notice_sent_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.subscription} ({self.renewal_date})"


class EventState(models.TextChoices):
    RECEIVED = "received", "Received"
    REJECTED = "rejected", "Rejected (signature)"
    PROCESSED = "processed", "Processed"
    IGNORED = "ignored", "Ignored (unknown type)"
    DUPLICATE = "duplicate", "Duplicate (already received)"
    FAILED = "failed", "Failed"


# Where a webhook event's state may go next: a received (or failed) event is processed, ignored or
# fails; staff replay any verified one. A rejected or duplicate delivery is kept as it came.
WEBHOOK_EVENT_MOVES: Moves = {
    EventState.RECEIVED: {EventState.PROCESSED, EventState.IGNORED, EventState.FAILED},
    EventState.FAILED: {EventState.PROCESSED, EventState.IGNORED, EventState.RECEIVED},
    EventState.PROCESSED: {EventState.RECEIVED},
    EventState.IGNORED: {EventState.RECEIVED},
    EventState.REJECTED: set(),
    EventState.DUPLICATE: set(),
}


class WebhookEvent(models.Model):
    """A Digital River event as received, once its signature verified: the raw body, kept once per event id."""

    event_id = models.CharField(max_length=64, null=True, blank=True)
    type = models.CharField(max_length=64, blank=True, db_index=True)
    body = models.TextField()
    signature = models.CharField(max_length=500, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    state = models.CharField(
        max_length=12, choices=EventState.choices, default=EventState.RECEIVED, db_index=True
    )
    error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    deliveries = models.PositiveIntegerField(
        default=1, help_text="Times Digital River delivered this event (a redelivery adds one, never a copy)."
    )
    last_delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event_id"], condition=models.Q(event_id__isnull=False), name="event_processed_once"
            )
        ]
        permissions = [("replay_webhookevent", "Can replay webhook events")]

    def __str__(self) -> str:
        return f"{self.type or 'event'} {self.event_id or '(unsigned)'}"


class RejectionReason(models.TextChoices):
    THROTTLED = "throttled", "Too many refused requests from the address"
    TOO_LARGE = "too_large", "Body over the size limit"
    MISSING_SIGNATURE = "missing_signature", "No signature"
    MALFORMED_SIGNATURE = "malformed_signature", "Signature not in the configured format"
    STALE_TIMESTAMP = "stale_timestamp", "Timestamp outside the tolerance"
    BAD_SIGNATURE = "bad_signature", "Signature does not match"
    UNREADABLE_EVENT = "unreadable_event", "Signed, but not a readable event"


class RejectedWebhook(models.Model):
    """A webhook request refused before anything else was written: what it was, never its body."""

    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    reason = models.CharField(max_length=24, choices=RejectionReason.choices, db_index=True)
    detail = models.CharField(max_length=200, blank=True)
    body_bytes = models.PositiveBigIntegerField(
        default=0, help_text="Size of the body in bytes (as announced, when it was not read)."
    )
    source_address = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    event_type = models.CharField(
        max_length=64, blank=True, help_text="The type the body claims (unverified), when it could be read."
    )

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} from {self.source_address or 'unknown address'}"
