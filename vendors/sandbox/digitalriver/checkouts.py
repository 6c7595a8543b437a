"""Checkout sessions, checkouts, paying and orders, with Digital River's rules.

The rules are enforced here independently of the back office (003, 002, vendors.md 3):
- every recurring item of an acquisition needs `terms` (400 missing_parameter) and must not say
  `autoRenewal: false` (400 invalid_request); its plan must exist and be active (plan_not_active);
- the recurring items of one checkout share one plan and, where given, one subscriptionId
  (409 conflict plan_limit_reached on planId);
- a free-trial flag must agree with a zero price, a paid item must not be a trial (400
  invalid_parameter on items);
- `customerId` is required; `chargeType` is one of the enum;
- a renewal item names its subscription and billing agreement (`subscriptionId`,
  `billingAgreementId`), of a live subscription of the customer; terms are not needed (already
  agreed). `merchant_initiated` checkouts renew only;
- `sourceId` in POST /checkouts attaches the primary source (see sources).

Paying (the pay page, or POST /orders) makes the order (accepted) and only authorises its
primary source (payments): nothing is captured before a fulfilment. A paid session's source is a
new reusable card saved to the customer, or one the customer had saved. An acquisition creates one
draft subscription per subscriptionId (one per recurring item when none is given), each with its
own billing agreement ("a one-to-one relationship exists between a subscription and a billing
agreement"); a renewal keeps its agreement and changes no subscription.

Sandbox choices where Digital River is SILENT: an unknown plan or customer is 400
invalid_parameter; a plan not active is 409 plan_not_active; a renewal of a subscription that is
not live is 409 invalid_request.
Documented: a checkout already made into an order is 404 not_found on orderId ("Order … not
found").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import F

from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.digitalriver import payments, sources
from vendors.sandbox.digitalriver.errors import DRError, PaymentDeclined, conflict, invalid, missing
from vendors.sandbox.digitalriver.events import emit
from vendors.sandbox.digitalriver.render import order_json, subscription_json, time
from vendors.sandbox.models import (
    DRBillingAgreement,
    DRCheckout,
    DRCheckoutItem,
    DRCheckoutSession,
    DRCustomer,
    DROrder,
    DROrderItem,
    DRPlan,
    DRSource,
    DRSubscription,
    new_dr_id,
)

CHARGE_TYPES = ("customer_initiated", "merchant_initiated", "moto")
# What the request schemas define ([DR-OAS] DropInCheckoutRequest, CheckoutRequest); anything else
# is an unknown parameter.
SESSION_FIELDS = {
    "applicationId", "billTo", "browserIp", "chargeType", "currency", "customerId", "customerType",
    "disclosures", "discount", "email", "items", "language", "locale", "metadata", "options",
    "redirects", "shipFrom", "shipTo", "shippingDiscount", "style", "taxIdentifiers", "taxInclusive",
    "upstreamId",
}  # fmt: skip
CHECKOUT_FIELDS = {
    "applicationId", "billTo", "browserIp", "chargeType", "currency", "customerId", "customerType",
    "disclosures", "discount", "email", "invoiceAttributeId", "items", "locale", "metadata",
    "organization", "purchaseLocation", "shipFrom", "shipTo", "shippingChoice", "shippingDiscount",
    "sourceId", "taxIdentifiers", "taxInclusive", "upstreamId",
}  # fmt: skip
ITEM_FIELDS = {
    "aggregatePrice", "discount", "metadata", "price", "productDetails", "quantity", "shipFrom", "skuId",
    "subscriptionInfo",
}  # fmt: skip
SUBSCRIPTION_INFO_FIELDS = {
    "autoRenewal", "billingAgreementId", "endTime", "freeTrial", "planId", "startTime", "subscriptionId",
    "terms",
}  # fmt: skip
PLAN_LIMIT_MESSAGE = "Only one unique subscription plan can be supported in a checkout"
FREE_TRIAL_MESSAGE = (
    "The value of the Free Trial flag is not consistent with the item price or the aggregate price."
)


@dataclass
class Item:
    """One validated item of a checkout request."""

    sku_id: str
    quantity: int
    price: Decimal | None
    aggregate_price: Decimal | None
    metadata: dict
    product_details: dict
    recurring: bool = False
    renewal: bool = False
    plan: DRPlan | None = None
    terms: str = ""
    auto_renewal: bool | None = None
    free_trial: bool | None = None
    subscription_id: str = ""
    billing_agreement_id: str = ""
    plan_id: str = ""  # as sent (renewals may leave it out)
    subscription: DRSubscription | None = None

    @property
    def amount(self) -> Decimal:
        if self.aggregate_price is not None:
            return self.aggregate_price
        return (self.price or Decimal(0)) * self.quantity


@dataclass
class CheckoutRequest:
    """A validated checkout (or checkout session) request."""

    customer: DRCustomer
    currency: str
    charge_type: str
    items: list[Item]
    upstream_id: str = ""
    email: str = ""
    locale: str = "en_US"
    metadata: dict = field(default_factory=dict)

    @property
    def total(self) -> Decimal:
        return sum((item.amount for item in self.items), Decimal(0))

    @property
    def renews(self) -> bool:
        return any(item.renewal for item in self.items)


# --- Reading and checking a request --------------------------------------------------------------


def read_request(body: dict, *, session: bool) -> CheckoutRequest:
    """Validate a DropInCheckoutRequest (`session`) or CheckoutRequest; DRError on the first problem."""
    unknown = sorted(set(body) - (SESSION_FIELDS if session else CHECKOUT_FIELDS))
    if unknown:
        raise DRError(
            400, "unknown_parameter", f"{unknown[0]} is not a parameter of this request.", unknown[0]
        )
    customer_id = body.get("customerId")
    if not customer_id:
        raise missing("customerId", "customerId is required for a subscription checkout.")
    customer = DRCustomer.objects.filter(pk=str(customer_id)).first()
    if customer is None:
        raise invalid("customerId", f"Customer {customer_id} not found.")
    currency = body.get("currency")
    if not currency:
        raise missing("currency")
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        raise invalid("currency", "currency must be an ISO 4217 code such as USD.")
    charge_type = body.get("chargeType", "customer_initiated")
    if charge_type not in CHARGE_TYPES:
        raise invalid("chargeType", f"chargeType must be one of {', '.join(CHARGE_TYPES)}.")
    metadata = metadata_of(body.get("metadata"), "metadata")
    for name in ("upstreamId", "email", "locale"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise invalid(name, f"{name} must be a string.")
    raw_items = body.get("items")
    if raw_items in (None, []):
        raise missing("items", "items must list at least one item.")
    if not isinstance(raw_items, list):
        raise invalid("items", "items must be a list.")
    items = [_item(raw, charge_type, customer) for raw in raw_items]
    _check_together(items, charge_type)
    return CheckoutRequest(
        customer=customer,
        currency=currency.upper(),
        charge_type=charge_type,
        items=items,
        upstream_id=body.get("upstreamId") or "",
        email=body.get("email") or "",
        locale=body.get("locale") or "en_US",
        metadata=metadata,
    )


def _item(raw: Any, charge_type: str, customer: DRCustomer) -> Item:
    if not isinstance(raw, dict):
        raise invalid("items", "Each item must be an object.")
    unknown = sorted(set(raw) - ITEM_FIELDS)
    if unknown:
        raise DRError(400, "unknown_parameter", f"{unknown[0]} is not a parameter of an item.", unknown[0])
    if not isinstance(raw.get("skuId"), str) or not raw["skuId"]:
        raise missing("skuId")
    quantity = raw.get("quantity", 1)
    if quantity is None:
        quantity = 1
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise invalid("quantity", "quantity must be a whole number of at least 1.")
    price, aggregate = _money(raw.get("price"), "price"), _money(raw.get("aggregatePrice"), "aggregatePrice")
    if price is None and aggregate is None:
        raise missing("price", "Each item needs a price or an aggregatePrice.")
    item = Item(
        sku_id=raw["skuId"],
        quantity=quantity,
        price=price,
        aggregate_price=aggregate,
        metadata=metadata_of(raw.get("metadata"), "metadata"),
        product_details=raw.get("productDetails") if isinstance(raw.get("productDetails"), dict) else {},
    )
    info = raw.get("subscriptionInfo")
    if info is None:
        return item
    if not isinstance(info, dict):
        raise invalid("subscriptionInfo", "subscriptionInfo must be an object.")
    unknown = sorted(set(info) - SUBSCRIPTION_INFO_FIELDS)
    if unknown:
        raise DRError(
            400, "unknown_parameter", f"{unknown[0]} is not a parameter of subscriptionInfo.", unknown[0]
        )
    for name in ("planId", "terms", "subscriptionId", "billingAgreementId"):
        if info.get(name) is not None and not isinstance(info[name], str):
            raise invalid(name, f"{name} must be a string.")
    for name in ("autoRenewal", "freeTrial"):
        if info.get(name) is not None and not isinstance(info[name], bool):
            raise invalid(name, f"{name} must be true or false.")
    item.recurring = True
    item.terms = info.get("terms") or ""
    item.auto_renewal = info.get("autoRenewal")
    item.free_trial = info.get("freeTrial")
    item.subscription_id = info.get("subscriptionId") or ""
    item.billing_agreement_id = info.get("billingAgreementId") or ""
    item.plan_id = info.get("planId") or ""
    item.renewal = bool(item.billing_agreement_id) or charge_type == "merchant_initiated"
    if item.renewal:
        _renewal_item(item, info, charge_type, customer)
    else:
        _acquisition_item(item, info)
    if (item.free_trial is not None or not item.renewal) and bool(item.free_trial) != (item.amount == 0):
        raise invalid("items", FREE_TRIAL_MESSAGE)
    return item


def _acquisition_item(item: Item, info: dict) -> None:
    """The acquisition rules of 003."""
    if item.auto_renewal is False:
        raise DRError(
            400,
            "invalid_request",
            "autoRenewal must be true or left out when acquiring a subscription.",
            "autoRenewal",
        )
    if not item.terms:
        raise missing("terms", "The terms of the plan are required for a subscription item.")
    plan_id = info.get("planId")
    if not plan_id:
        raise missing("planId", "A subscription item needs the planId it belongs to.")
    item.plan = _live_plan(plan_id, renewal=False)
    if item.terms != item.plan.terms:
        raise invalid("terms", f"The terms do not match the terms of plan {plan_id}.")
    if item.subscription_id and DRSubscription.objects.filter(pk=item.subscription_id).exists():
        raise conflict(
            "already_exists", f"Subscription {item.subscription_id} already exists.", "subscriptionId"
        )


def _renewal_item(item: Item, info: dict, charge_type: str, customer: DRCustomer) -> None:
    """A renewal names a live subscription of the customer and its billing agreement (002)."""
    if not item.subscription_id:
        raise missing("subscriptionId", "A renewal item needs the subscriptionId it renews.")
    if not item.billing_agreement_id:
        raise missing("billingAgreementId", "A renewal item needs the billing agreement of the subscription.")
    if charge_type == "merchant_initiated" and item.auto_renewal is False:
        raise DRError(
            400,
            "invalid_request",
            "A merchant-initiated renewal is an auto-renewal: autoRenewal must be true.",
            "autoRenewal",
        )
    subscription = DRSubscription.objects.select_related("plan").filter(pk=item.subscription_id).first()
    if subscription is None or subscription.customer_id != customer.pk:
        raise invalid("subscriptionId", f"Subscription {item.subscription_id} not found for this customer.")
    if subscription.billing_agreement_id != item.billing_agreement_id:
        raise invalid(
            "billingAgreementId",
            f"Billing agreement {item.billing_agreement_id} is not the agreement of subscription "
            f"{subscription.pk}.",
        )
    if subscription.state not in DRSubscription.LIVE:
        raise conflict(
            "invalid_request", f"Subscription {subscription.pk} is {subscription.state}: it cannot renew.",
            "subscriptionId",
        )  # fmt: skip
    if info.get("planId") and info["planId"] != subscription.plan_id:
        raise invalid("planId", f"Subscription {subscription.pk} belongs to plan {subscription.plan_id}.")
    item.plan = _live_plan(subscription.plan_id, renewal=True)
    item.subscription = subscription


def _live_plan(plan_id: str, *, renewal: bool) -> DRPlan:
    plan = DRPlan.objects.filter(pk=plan_id).first()
    if plan is None:
        raise invalid("planId", f"Plan {plan_id} not found.")
    # A discontinued plan sells no more, but its subscriptions keep billing.
    allowed = (DRPlan.State.ACTIVE, DRPlan.State.DISCONTINUED) if renewal else (DRPlan.State.ACTIVE,)
    if plan.state not in allowed:
        raise conflict("plan_not_active", f"Plan {plan_id} is {plan.state}, not active.", "planId")
    return plan


def _check_together(items: list[Item], charge_type: str) -> None:
    recurring = [item for item in items if item.recurring]
    if any(item.renewal for item in recurring) and not all(item.renewal for item in recurring):
        raise DRError(
            400,
            "invalid_request",
            "A checkout either acquires subscriptions or renews them, not both.",
            "items",
        )
    plans = {item.plan.pk for item in recurring if item.plan}
    given = {item.subscription_id for item in recurring if item.subscription_id}
    acquisitions = [item for item in recurring if not item.renewal]
    if len(plans) > 1 or (acquisitions and len(given) > 1):
        raise conflict("plan_limit_reached", PLAN_LIMIT_MESSAGE, "planId")
    if charge_type == "merchant_initiated" and not recurring:
        raise DRError(
            400,
            "invalid_request",
            "A merchant-initiated checkout renews subscriptions: no item does.",
            "items",
        )


def _money(value: Any, name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(name, f"{name} must be a number.")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise invalid(name, f"{name} must be a number.") from None
    if amount < 0 or amount != amount.quantize(Decimal("0.01")):
        raise invalid(name, f"{name} must be 0 or more, with at most two decimals.")
    return amount


def metadata_of(value: Any, name: str = "metadata") -> dict:
    """Up to 20 keys of at most 40 characters, values of at most 500 (vendors.md 3)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(name, "metadata must be an object.")
    if len(value) > 20:
        raise invalid(name, "metadata holds at most 20 keys.")
    for key, item in value.items():
        if len(key) > 40 or len(str(item)) > 500:
            raise invalid(name, "metadata keys are at most 40 characters, values at most 500.")
    return value


# --- Sessions and checkouts -------------------------------------------------------------------------


def create_session(body: dict) -> DRCheckoutSession:
    """POST /drop-in/checkout-sessions: check the request now, keep it until the customer pays."""
    request = read_request(body, session=True)
    return DRCheckoutSession.objects.create(
        customer=request.customer,
        currency=request.currency,
        charge_type=request.charge_type,
        upstream_id=request.upstream_id,
        email=request.email,
        locale=request.locale,
        metadata=request.metadata,
        request=body,
    )


def create_checkout(
    body: dict, *, session: DRCheckoutSession | None = None, source: DRSource | None = None
) -> DRCheckout:
    """POST /checkouts (its sourceId attached as the primary source), or the checkout a paid session becomes."""
    request = read_request(body, session=session is not None)
    if source is None and body.get("sourceId") is not None:
        if not isinstance(body["sourceId"], str) or not body["sourceId"]:
            raise invalid("sourceId", "sourceId must be a source id.")
        source = sources.find(body["sourceId"], parameter="sourceId")
        sources.check_attachable(source)
    now = sandbox_now()
    checkout = DRCheckout.objects.create(
        customer=request.customer,
        currency=request.currency,
        charge_type=request.charge_type,
        upstream_id=request.upstream_id,
        email=request.email,
        locale=request.locale,
        metadata=request.metadata,
        request=body,
        total_amount=request.total,
        source=source,
        created_at=now,
        updated_at=now,
    )
    DRCheckoutItem.objects.bulk_create(
        DRCheckoutItem(checkout=checkout, position=position, **_item_columns(item))
        for position, item in enumerate(request.items)
    )
    return checkout


def _item_columns(item: Item) -> dict:
    return {
        "sku_id": item.sku_id,
        "price": item.price,
        "aggregate_price": item.aggregate_price,
        "quantity": item.quantity,
        "amount": item.amount,
        "metadata": item.metadata,
        "product_details": item.product_details,
        "recurring": item.recurring,
        "plan_id": item.plan_id,
        "terms": item.terms,
        "auto_renewal": item.auto_renewal,
        "free_trial": item.free_trial,
        "subscription_id": item.subscription_id,
        "billing_agreement_id": item.billing_agreement_id,
    }


def pay_session(
    session: DRCheckoutSession,
    *,
    decline: bool = False,
    source_id: str | None = None,
    card: dict | None = None,
) -> DROrder | None:
    """The customer pays the session: a source, the checkout and its order (accepted, authorised).

    The customer pays with a saved source of theirs (`source_id`) or a new card (`card`, default
    Visa 1111 expiring in three years): a new card becomes a reusable source saved to the
    customer (the save-payment agreement), and either is the checkout's primary source.
    Nothing is captured: that waits for the fulfilment.

    `decline` is the customer's card being declined: nothing is made and the session stays open
    (None). A source set to fail at authorization is declined by the bank the same way, the
    used-up failure kept (PaymentDeclined, whose changes are kept).
    """
    session = DRCheckoutSession.objects.select_for_update().select_related("customer").get(pk=session.pk)
    if session.state != DRCheckoutSession.State.OPEN:
        raise conflict("already_exists", f"Checkout session {session.pk} is already paid.", "id")
    # The rules are checked again: plans and agreements may have changed since.
    request = read_request(session.request, session=True)
    customer = request.customer
    if source_id:
        source = sources.find(source_id, parameter="sourceId")
        if source.customer_id != customer.pk or source.state != DRSource.State.CHARGEABLE:
            raise invalid("sourceId", f"Source {source_id} is not a saved source of customer {customer.pk}.")
        source = DRSource.objects.select_for_update().get(pk=source.pk)
    else:
        source = None
    if decline:
        DRCheckoutSession.objects.filter(pk=session.pk).update(declines=F("declines") + 1)
        return None
    if source is not None:
        if sources.expired(source):
            raise conflict("source_expired", f"Source '{source.pk}' has expired.", "sourceId")
        if sources.take_failure(source, DRSource.Stage.AUTHORIZATION):
            DRCheckoutSession.objects.filter(pk=session.pk).update(declines=F("declines") + 1)
            raise PaymentDeclined(409, payments.ORDER_REFUSAL_CODE, payments.DECLINED_MESSAGE)
    else:
        card = card or sources.default_card()
        if sources.card_expired(card):
            raise conflict("source_expired", "The card has expired.", "sourceId")
        source = sources.create_source(card, customer=customer)
    checkout = create_checkout(session.request, session=session, source=source)
    now = sandbox_now()
    session.state, session.paid_at, session.checkout, session.updated_at = "paid", now, checkout, now
    session.save(update_fields=["state", "paid_at", "checkout", "updated_at"])
    return place_order(checkout, from_session=True)


def place_order(checkout: DRCheckout, *, from_session: bool = False) -> DROrder:
    """Make the checkout an order: accepted, its primary source authorised (see payments).

    PaymentDeclined when the source is set to fail at authorization: no order is made.
    """
    checkout = DRCheckout.objects.select_for_update().select_related("customer", "source").get(pk=checkout.pk)
    existing = DROrder.objects.filter(checkout=checkout).first()
    if existing is not None:
        # Digital River's documented answer to a checkout already consumed by an order.
        raise DRError(404, "not_found", f"Order {existing.pk} not found", "orderId")
    items = list(checkout.items.all())
    recurring = [item for item in items if item.recurring]
    renewal = bool(recurring) and (
        checkout.charge_type == "merchant_initiated" or any(item.billing_agreement_id for item in recurring)
    )
    if renewal:
        _renewed_subscriptions(recurring)
    for item in recurring if not renewal else []:
        # Checked again: the plan or the subscription ids may have changed since the checkout.
        _live_plan(item.plan_id, renewal=False)
        if item.subscription_id and DRSubscription.objects.filter(pk=item.subscription_id).exists():
            raise conflict(
                "already_exists", f"Subscription {item.subscription_id} already exists.", "subscriptionId"
            )
    needs_saved = "A merchant-initiated charge" if checkout.charge_type == "merchant_initiated" else ""
    source = payments.check_source(checkout, needs_saved=needs_saved)

    now = sandbox_now()
    customer = checkout.customer
    order = DROrder.objects.create(
        checkout=checkout,
        customer=customer,
        currency=checkout.currency,
        charge_type=checkout.charge_type,
        upstream_id=checkout.upstream_id,
        email=checkout.email,
        locale=checkout.locale,
        metadata=checkout.metadata,
        total_amount=checkout.total_amount,
        source=source,
        renewal=renewal,
        state=DROrder.State.ACCEPTED,
        state_transitions={"accepted": time(now)},
        created_at=now,
        updated_at=now,
    )
    if recurring and not renewal:
        created = _acquire(order, items)
    else:
        created = []
        DROrderItem.objects.bulk_create(DROrderItem(order=order, **_copy(item)) for item in items)
    payments.authorize(order, source)
    if from_session:
        emit("checkout_session.order.created", order_json(order))
    emit("order.accepted", order_json(order))
    for subscription in created:
        emit("subscription.created", subscription_json(subscription))
    return order


def _renewed_subscriptions(items) -> list[DRSubscription]:
    """The live subscriptions a renewal's items name (checked again: they may have moved on)."""
    ids = list(dict.fromkeys(item.subscription_id for item in items if item.subscription_id))
    found = {s.pk: s for s in DRSubscription.objects.filter(pk__in=ids)}
    for subscription_id in ids:
        subscription = found.get(subscription_id)
        if subscription is None or subscription.state not in DRSubscription.LIVE:
            state = subscription.state if subscription else "gone"
            raise conflict(
                "invalid_request",
                f"Subscription {subscription_id} is {state}: it cannot renew.",
                "subscriptionId",
            )
    return [found[subscription_id] for subscription_id in ids]


def _acquire(order: DROrder, items: list[DRCheckoutItem]) -> list[DRSubscription]:
    """Order items of an acquisition: a billing agreement and a draft subscription per subscriptionId."""
    customer = order.customer
    recurring = [item for item in items if item.recurring]
    plan = DRPlan.objects.get(pk=recurring[0].plan_id)
    members: dict[str, list[DRCheckoutItem]] = {}
    order_items = []
    for item in items:
        copied = _copy(item)
        if item.recurring:
            subscription_id = item.subscription_id or new_dr_id()
            members.setdefault(subscription_id, []).append(item)
            copied.update(subscription_id=subscription_id)
        order_items.append((item, copied))
    agreements = {
        subscription_id: DRBillingAgreement.objects.create(
            customer=customer, terms=plan.terms, source_id=order.source_id or "", created_at=order.created_at
        )
        for subscription_id in members
    }
    for item, copied in order_items:
        if item.recurring:
            copied["billing_agreement_id"] = agreements[copied["subscription_id"]].pk
    DROrderItem.objects.bulk_create(DROrderItem(order=order, **copied) for _, copied in order_items)
    created = []
    for subscription_id, subscribed in members.items():
        created.append(
            DRSubscription.objects.create(
                id=subscription_id,
                plan=plan,
                customer=customer,
                currency=order.currency,
                billing_agreement=agreements[subscription_id],
                acquisition_order=order,
                free_trial=all(item.free_trial for item in subscribed),
                items=[_subscription_item(item) for item in subscribed],
                created_at=order.created_at,
                updated_at=order.created_at,
            )
        )
    return created


def _subscription_item(item: DRCheckoutItem) -> dict:
    body: dict[str, Any] = {"skuId": item.sku_id, "quantity": item.quantity}
    if item.price is not None:
        body["price"] = float(item.price)
    if item.aggregate_price is not None:
        body["aggregatePrice"] = float(item.aggregate_price)
    if item.product_details:
        body["productDetails"] = item.product_details
    if item.metadata:
        body["metadata"] = item.metadata
    return body


def _copy(item: DRCheckoutItem) -> dict:
    return {
        name: getattr(item, name)
        for name in (
            "position", "sku_id", "price", "aggregate_price", "quantity", "amount", "metadata",
            "product_details", "recurring", "plan_id", "terms", "auto_renewal", "free_trial",
            "subscription_id", "billing_agreement_id",
        )
    }  # fmt: skip
