"""What the Digital River emulator holds: plans, customers, sources, checkouts, orders,
charges, fulfilments, the ledger, subscriptions, invoices, refunds, events and webhooks."""

from __future__ import annotations

import secrets
import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from vendors.sandbox.clock import sandbox_now


def new_dr_id() -> str:
    """Digital River's ids for checkouts, sessions, subscriptions, agreements and events are UUIDs."""
    return str(uuid.uuid4())


def new_dr_number() -> str:
    """Order and customer ids are long decimal numbers at Digital River."""
    return str(10**12 + secrets.randbelow(9 * 10**12))


class DRPlan(models.Model):
    """A Digital River plan: terms and billing cycle fixed at creation, offsets and state changeable."""

    class State(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"
        DISCONTINUED = "discontinued"
        DEACTIVATED = "deactivated"

    class Interval(models.TextChoices):
        YEAR = "year"
        MONTH = "month"
        WEEK = "week"
        DAY = "day"

    id = models.CharField(primary_key=True, max_length=100)
    name = models.CharField(max_length=255, null=True, blank=True)
    terms = models.TextField()
    interval = models.CharField(max_length=8, choices=Interval.choices)
    interval_count = models.PositiveIntegerField()
    contract_binding_days = models.PositiveIntegerField()
    # Negative: no reminders from the next period on ("Ending subscription reminders").
    reminder_offset_days = models.IntegerField(null=True, blank=True)
    billing_offset_days = models.PositiveIntegerField(null=True, blank=True)
    collection_period_days = models.PositiveIntegerField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACTIVE)
    metadata = models.JSONField(default=dict, blank=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    discontinued_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=sandbox_now)
    updated_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        verbose_name = "Digital River plan"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.id} ({self.interval_count} {self.interval}, {self.state})"


class DRCustomer(models.Model):
    """A Digital River customer; its saved payment sources are DRSource rows with `customer` set."""

    id = models.CharField(primary_key=True, max_length=100)
    email = models.CharField(max_length=254, blank=True)
    type = models.CharField(max_length=16, default="individual")
    locale = models.CharField(max_length=16, default="en_US")
    enabled = models.BooleanField(default=True)
    metadata = models.JSONField(default=dict, blank=True)
    # The first source saved to the customer becomes its default (defaultSourceId).
    default_source = models.ForeignKey(
        "DRSource", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=sandbox_now)
    updated_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        verbose_name = "Digital River customer"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.id} {self.email}".strip()


class DRSource(models.Model):
    """A payment source (a credit card): made by the pay page or the Drop-in stand-in page.

    `customer` is set once the source is saved to that customer (POST /customers/{id}/sources/{id}).
    `failing_charges` and `failing_stage` are sandbox controls: the next N charges of this source
    are declined at authorization (POST /orders answers 409) or fail at capture.
    """

    class State(models.TextChoices):
        CHARGEABLE = "chargeable"
        CONSUMED = "consumed"
        CANCELLED = "cancelled"

    class Stage(models.TextChoices):
        AUTHORIZATION = "authorization", "Authorization (POST /orders answers 409)"
        CAPTURE = "capture", "Capture (the fulfilment's capture fails)"

    id = models.CharField(primary_key=True, max_length=64, default=new_dr_id)
    customer = models.ForeignKey(
        DRCustomer, null=True, blank=True, on_delete=models.PROTECT, related_name="sources"
    )
    type = models.CharField(max_length=32, default="creditCard")
    reusable = models.BooleanField(default=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CHARGEABLE)
    # {brand, lastFourDigits, expirationMonth, expirationYear}
    credit_card = models.JSONField(default=dict, blank=True)
    failing_charges = models.PositiveIntegerField(
        default=0, help_text="How many of the next charges of this source fail (sandbox control)."
    )
    failing_stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.AUTHORIZATION)
    created_at = models.DateTimeField(default=sandbox_now)
    updated_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        verbose_name = "Digital River payment source"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        card = self.credit_card or {}
        return f"{card.get('brand', self.type)} {card.get('lastFourDigits', '')} ({self.id[:8]})"


class DRCheckoutFields(models.Model):
    """What checkout sessions, checkouts and orders share."""

    customer = models.ForeignKey(DRCustomer, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    charge_type = models.CharField(max_length=24, default="customer_initiated")
    upstream_id = models.CharField(max_length=255, blank=True, db_index=True)
    email = models.CharField(max_length=254, blank=True)
    locale = models.CharField(max_length=16, default="en_US")
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=sandbox_now)
    updated_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        abstract = True


class DRCheckoutSession(DRCheckoutFields):
    """A Prebuilt Checkout session: the request as sent, until the customer pays it on the pay page."""

    class State(models.TextChoices):
        OPEN = "open"
        PAID = "paid"

    id = models.CharField(primary_key=True, max_length=64, default=new_dr_id)
    request = models.JSONField(help_text="The create request as Digital River received it.")
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)
    declines = models.PositiveIntegerField(default=0, help_text="Times the customer's card was declined.")
    paid_at = models.DateTimeField(null=True, blank=True)
    checkout = models.OneToOneField(
        "DRCheckout", null=True, blank=True, on_delete=models.PROTECT, related_name="session"
    )

    class Meta:
        verbose_name = "Digital River checkout session"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"session {self.id} ({self.state})"


class DRCheckout(DRCheckoutFields):
    """A checkout: from POST /checkouts, or made when a customer pays a checkout session."""

    id = models.CharField(primary_key=True, max_length=64, default=new_dr_id)
    request = models.JSONField(default=dict, blank=True)
    total_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # The primary payment source (sourceId in the request, or POST /checkouts/{id}/sources/{id}).
    source = models.ForeignKey(
        DRSource, null=True, blank=True, on_delete=models.PROTECT, related_name="checkouts"
    )

    class Meta:
        verbose_name = "Digital River checkout"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"checkout {self.id} ({self.charge_type})"


class DRItemFields(models.Model):
    """One line of a checkout or an order, with its subscriptionInfo spread into columns."""

    item_id = models.CharField(max_length=64, default=new_dr_id)
    position = models.PositiveIntegerField(default=0)
    sku_id = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    aggregate_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    metadata = models.JSONField(default=dict, blank=True)
    product_details = models.JSONField(default=dict, blank=True)
    # subscriptionInfo; `recurring` when the item had one at all.
    recurring = models.BooleanField(default=False)
    plan_id = models.CharField(max_length=100, blank=True)
    terms = models.TextField(blank=True)
    auto_renewal = models.BooleanField(null=True, blank=True)
    free_trial = models.BooleanField(null=True, blank=True)
    subscription_id = models.CharField(max_length=100, blank=True, db_index=True)
    billing_agreement_id = models.CharField(max_length=64, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.quantity} x {self.sku_id}"


class DRCheckoutItem(DRItemFields):
    checkout = models.ForeignKey(DRCheckout, on_delete=models.CASCADE, related_name="items")

    class Meta:
        verbose_name = "Digital River checkout item"
        ordering = ["checkout", "position"]


class DRBillingAgreement(models.Model):
    """The recurring billing agreement a customer accepted when paying an acquisition.

    It covers the subscriptionIds of its acquisition (of the subscription service, or external)
    and remembers the primary source last charged under it.
    """

    id = models.CharField(primary_key=True, max_length=64, default=new_dr_id)
    customer = models.ForeignKey(DRCustomer, on_delete=models.PROTECT, related_name="billing_agreements")
    terms = models.TextField(blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    subscription_ids = models.JSONField(default=list, blank=True)
    service = models.BooleanField(
        default=False, help_text="For subscriptions of Digital River's subscription service (else external)."
    )
    acquisition_order = models.ForeignKey(
        "DROrder", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        verbose_name = "Digital River billing agreement"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"agreement {self.id}"


class DROrder(DRCheckoutFields):
    """An order made from a checkout (state accepted, then complete once captured)."""

    class State(models.TextChoices):
        ACCEPTED = "accepted"
        BLOCKED = "blocked"
        PENDING_PAYMENT = "pending_payment"
        IN_REVIEW = "in_review"
        DISPUTE = "dispute"
        CANCELLED = "cancelled"
        FULFILLED = "fulfilled"
        COMPLETE = "complete"
        RETURNED = "returned"

    id = models.CharField(primary_key=True, max_length=32, default=new_dr_number)
    checkout = models.OneToOneField(DRCheckout, on_delete=models.PROTECT, related_name="order")
    state = models.CharField(max_length=16, choices=State.choices, default=State.ACCEPTED)
    total_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # The checkout's primary source, authorised when the order was made.
    source = models.ForeignKey(
        DRSource, null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    renewal = models.BooleanField(default=False, help_text="Renews existing subscriptions.")
    # {state: time} for each state the order went through.
    state_transitions = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "Digital River order"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"order {self.id} ({self.state})"


class DROrderItem(DRItemFields):
    """An order line and what fulfilments did to it: units fulfilled (captured) or cancelled."""

    order = models.ForeignKey(DROrder, on_delete=models.CASCADE, related_name="items")
    fulfilled_quantity = models.PositiveIntegerField(default=0)
    cancelled_quantity = models.PositiveIntegerField(default=0)
    captured_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    cancelled_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    # Pending and succeeded refunds (what availableToRefundAmount subtracts).
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "Digital River order item"
        ordering = ["order", "position"]


class DRCharge(models.Model):
    """The charge of an order's primary source (authorised by POST /orders) or of an invoice."""

    class State(models.TextChoices):
        CAPTURABLE = "capturable"
        COMPLETE = "complete"
        CANCELLED = "cancelled"
        FAILED = "failed"

    id = models.CharField(primary_key=True, max_length=64, default=new_dr_id)
    order = models.ForeignKey(
        DROrder, null=True, blank=True, on_delete=models.CASCADE, related_name="charges"
    )
    invoice = models.ForeignKey(
        "DRInvoice", null=True, blank=True, on_delete=models.CASCADE, related_name="charges"
    )
    source = models.ForeignKey(DRSource, on_delete=models.PROTECT, related_name="charges")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    type = models.CharField(max_length=24, default="customer_initiated")
    state = models.CharField(max_length=16, choices=State.choices, default=State.CAPTURABLE)
    created_at = models.DateTimeField(default=sandbox_now)
    updated_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        verbose_name = "Digital River charge"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"charge {self.id} ({self.state})"


class DRChargeOperation(models.Model):
    """A capture or a cancel of (part of) a charge, complete or failed."""

    class Kind(models.TextChoices):
        CAPTURE = "capture"
        CANCEL = "cancel"

    id = models.CharField(primary_key=True, max_length=64, default=new_dr_id)
    charge = models.ForeignKey(DRCharge, on_delete=models.CASCADE, related_name="operations")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    state = models.CharField(max_length=16, default="complete")
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=255, blank=True)
    fulfillment = models.ForeignKey(
        "DRFulfillment", null=True, blank=True, on_delete=models.CASCADE, related_name="operations"
    )
    created_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        verbose_name = "Digital River charge capture or cancel"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} ({self.state})"


def new_fulfillment_id() -> str:
    return f"ful_{uuid.uuid4()}"


class DRFulfillment(models.Model):
    """A POST /fulfillments: units of order items fulfilled (captured) and/or cancelled."""

    id = models.CharField(primary_key=True, max_length=64, default=new_fulfillment_id)
    order = models.ForeignKey(DROrder, on_delete=models.PROTECT, related_name="fulfillments")
    # [{itemId, skuId, quantity, cancelQuantity}]
    items = models.JSONField(default=list)
    # shipmentId, trackingCompany, trackingNumber, trackingUrl, as sent.
    shipment = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        verbose_name = "Digital River fulfillment"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.id} (order {self.order_id})"


class DRLedgerEntry(models.Model):
    """Money the sandbox moved, one row per order or subscription item: what tests count.

    Written by every authorization, capture (invoice payments too, with `invoice_id`), failed
    capture, cancel, refund and failed invoice charge. `subscription_id` is "" for one-off items.
    """

    class Kind(models.TextChoices):
        AUTHORIZATION = "authorization"
        CAPTURE = "capture"
        CAPTURE_FAILED = "capture_failed"
        CANCEL = "cancel"
        REFUND = "refund"
        INVOICE_CHARGE_FAILED = "invoice_charge_failed"

    seq = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=24, choices=Kind.choices, db_index=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    customer_id = models.CharField(max_length=100, db_index=True)
    order_id = models.CharField(max_length=32, blank=True, db_index=True)
    invoice_id = models.CharField(max_length=64, blank=True, db_index=True)
    fulfillment_id = models.CharField(max_length=64, blank=True)
    refund_id = models.CharField(max_length=64, blank=True)
    subscription_id = models.CharField(max_length=100, blank=True, db_index=True)
    # Subscription-service invoices: the end of the period the invoice paid.
    period_end = models.DateTimeField(null=True, blank=True)
    source_id = models.CharField(max_length=64, blank=True)
    item_id = models.CharField(max_length=64, blank=True)
    sku_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        verbose_name = "Digital River ledger entry"
        verbose_name_plural = "Digital River ledger"
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} ({self.order_id or self.invoice_id})"


class DRSubscription(models.Model):
    """A subscription made by an acquisition order; moved by activation, renewals, failures and the clock."""

    class State(models.TextChoices):
        DRAFT = "draft"
        ACTIVE_PENDING_INVOICE = "activePendingInvoice"
        ACTIVE = "active"
        ACTIVE_FREE = "activeFree"
        FAILED = "failed"
        CANCELLED = "cancelled"
        ENDED = "ended"
        LAPSED = "lapsed"

    LIVE = (State.ACTIVE, State.ACTIVE_FREE, State.ACTIVE_PENDING_INVOICE)

    id = models.CharField(primary_key=True, max_length=100)
    plan = models.ForeignKey(DRPlan, on_delete=models.PROTECT, related_name="subscriptions")
    customer = models.ForeignKey(DRCustomer, on_delete=models.PROTECT, related_name="subscriptions")
    currency = models.CharField(max_length=3)
    billing_agreement = models.ForeignKey(
        DRBillingAgreement, null=True, blank=True, on_delete=models.PROTECT, related_name="subscriptions"
    )
    acquisition_order = models.ForeignKey(
        DROrder, null=True, blank=True, on_delete=models.PROTECT, related_name="acquired_subscriptions"
    )
    source_id = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=24, choices=State.choices, default=State.DRAFT)
    free_trial = models.BooleanField(default=False)
    # Digital River's SubscriptionItems, as JSON.
    items = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    contract_binding_until = models.DateTimeField(null=True, blank=True)
    current_period_end_date = models.DateTimeField(null=True, blank=True)
    next_invoice_date = models.DateTimeField(null=True, blank=True)
    next_reminder_date = models.DateTimeField(null=True, blank=True)
    # The plan that controls the current period (planId may already name the next one), and
    # the periods on it since `period_anchor`: the current period ends `periods` periods after it.
    period_plan = models.ForeignKey(DRPlan, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    period_anchor = models.DateTimeField(null=True, blank=True)
    periods = models.PositiveIntegerField(default=0)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_free_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    lapsed_at = models.DateTimeField(null=True, blank=True)
    # The period end whose subscription.reminder went out (one reminder per period).
    reminded_period_end = models.DateTimeField(null=True, blank=True)
    # The first failed payment of the open invoice; the collection period runs from it.
    payment_failed_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # When the source was found unusable on the invoice date (subscription.source_invalid);
    # not replaced within the collection period, the subscription lapses.
    source_invalid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=sandbox_now)
    updated_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        verbose_name = "Digital River subscription"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"subscription {self.id} ({self.state})"


def new_invoice_id() -> str:
    return uuid.uuid4().hex


class DRInvoice(models.Model):
    """An invoice the subscription service opens for a subscription's next period.

    Draft from the reminder, open on the invoice date (the subscription activePendingInvoice),
    then paid, void (cancelled, or replaced after a new source) or uncollectible. One live (not
    void) invoice per subscription and period.
    """

    class State(models.TextChoices):
        DRAFT = "draft"
        OPEN = "open"
        PAID = "paid"
        VOID = "void"
        UNCOLLECTIBLE = "uncollectible"

    id = models.CharField(primary_key=True, max_length=64, default=new_invoice_id)
    subscription = models.ForeignKey("DRSubscription", on_delete=models.CASCADE, related_name="invoices")
    customer = models.ForeignKey(DRCustomer, on_delete=models.PROTECT, related_name="invoices")
    plan = models.ForeignKey(DRPlan, on_delete=models.PROTECT, related_name="invoices")
    currency = models.CharField(max_length=3)
    # The end of the period this invoice pays.
    period_end = models.DateTimeField()
    # InvoiceItems, with their ids, as the subscription's items were when the invoice was made.
    items = models.JSONField(default=list)
    total_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.DRAFT)
    source_id = models.CharField(max_length=64, blank=True)
    collection_period_days = models.PositiveIntegerField(null=True, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    state_transitions = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=sandbox_now)
    updated_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        verbose_name = "Digital River invoice"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "period_end"],
                condition=~Q(state="void"),
                name="sandbox_dr_one_invoice_per_period",
            )
        ]

    def __str__(self) -> str:
        return f"invoice {self.id} ({self.state})"


def new_refund_id() -> str:
    return f"re_{uuid.uuid4()}"


class DRRefund(models.Model):
    """A refund of captured money: of an order (order-level or per item) or of a paid invoice.

    Pending when made (it already reduces availableToRefundAmount), then succeeded
    (refund.complete) or failed (refund.failed).
    """

    class State(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.CharField(primary_key=True, max_length=64, default=new_refund_id)
    order = models.ForeignKey(
        DROrder, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    invoice = models.ForeignKey(
        DRInvoice, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    charge = models.ForeignKey(DRCharge, on_delete=models.PROTECT, related_name="refunds")
    currency = models.CharField(max_length=3)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    refunded_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    reason = models.CharField(max_length=64, blank=True)
    # Item-level refunds: [{itemId, skuId, quantity, amount}] as asked (empty at order level).
    items = models.JSONField(default=list, blank=True)
    # How the amount is spread over the order's (or invoice's) items: [{itemId, amount}].
    allocation = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    failure_reason = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=sandbox_now)
    updated_at = models.DateTimeField(default=sandbox_now)

    class Meta:
        verbose_name = "Digital River refund"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"refund {self.id} ({self.state})"


class DREvent(models.Model):
    """An event Digital River emitted, and its webhook delivery to the back office (an outbox)."""

    seq = models.BigAutoField(primary_key=True)
    event_id = models.CharField(max_length=64, unique=True, default=new_dr_id)
    type = models.CharField(max_length=64, db_index=True)
    # {"object": {...}, "previousAttributes": {...}}: the objects as they were when it happened.
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=sandbox_now)
    delivered_at = models.DateTimeField(null=True, blank=True, help_text="Real time of the 2xx answer.")
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = "Digital River event"
        ordering = ["-seq"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"

    @property
    def delivered(self) -> bool:
        return self.delivered_at is not None


class DRWebhook(models.Model):
    """The webhook endpoint registered with Digital River: where its events are posted."""

    id = models.CharField(primary_key=True, max_length=64, default=new_dr_id)
    address = models.URLField(max_length=500, help_text="The back office's webhook URL.")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "Digital River webhook"

    def __str__(self) -> str:
        return self.address
