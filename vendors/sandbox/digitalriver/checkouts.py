"""Checkout sessions, checkouts, paying and orders, with Digital River's rules.

A subscription is run by Digital River's subscription service (its items carry `planId`) or is
external (third-party coordinated: no `planId`). The rules are enforced here independently of the
back office (003, 002, vendors.md 3):
- subscription service: every recurring item of an acquisition needs `terms` (400
  missing_parameter), the plan's own, and must not say `autoRenewal: false` (400
  invalid_request); its plan must exist and be active (plan_not_active); the recurring items of
  one checkout share one plan and, where given, one subscriptionId (409 conflict
  plan_limit_reached on planId);
- external: each recurring item has `autoRenewal: true` (false: 400 invalid_request; left out:
  400 missing_parameter), `terms` and our own `subscriptionId` (Digital River generates none: 400
  missing_parameter). Several external subscriptions may be acquired in one checkout;
- a free-trial flag must agree with a zero price, a paid item must not be a trial (400
  invalid_parameter on items);
- `customerId` is required; `chargeType` is one of the enum;
- a renewal item (a `billingAgreementId`, or any recurring item of a merchant-initiated checkout)
  names its `subscriptionId` and a billing agreement of the customer that covers it; terms are not
  needed (already agreed). A merchant-initiated renewal needs `autoRenewal: true`. Several items
  of one agreement may renew in one checkout. `merchant_initiated` checkouts renew only. A
  renewal of a subscription of the service is not refused: it is charged like any order;
- `sourceId` in POST /checkouts attaches the primary source (see sources).

Paying (the pay page, or POST /orders) makes the order (accepted) and only authorises its
primary source (payments): nothing is captured before a fulfilment. A merchant-initiated order,
and the acquisition of an external subscription, need a reusable source saved to the customer. A
paid session's source is a new reusable card saved to the customer, or one the customer had
saved. An acquisition gives each subscription its billing agreement ("a one-to-one relationship
exists between a subscription and a billing agreement", AGREEMENT_PER_SUBSCRIPTION), returned on
its items' subscriptionInfo.billingAgreementId; for the subscription service it also creates one
draft subscription per subscriptionId (one per recurring item when none is given). A renewal
keeps its agreement (the agreement remembers the source it was charged with) and changes no
subscription.

Sandbox choices where Digital River is SILENT: an unknown plan or customer is 400
invalid_parameter; a plan not active is 409 plan_not_active; one checkout cannot acquire both
kinds (400 invalid_request, MIXED_ACQUISITIONS_REFUSED); a renewal whose agreement is not the
customer's, or does not cover its subscriptionId, is 400 invalid_parameter; a renewal item with a
planId is 400 invalid_parameter.
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
from vendors.sandbox.digitalriver.errors import (
    DRError,
    PaymentDeclined,
    conflict,
    invalid,
    missing,
    refuse_unknown,
)
from vendors.sandbox.digitalriver.events import emit
from vendors.sandbox.digitalriver.models import (
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
from vendors.sandbox.digitalriver.render import order_json, subscription_json, time

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
# SANDBOX CHOICE (Digital River is silent): one checkout acquires either subscriptions of the
# subscription service (planId) or external subscriptions, not both: 400 invalid_request.
MIXED_ACQUISITIONS_REFUSED = True
MIXED_MESSAGE = (
    "A checkout acquires subscriptions of Digital River's subscription service (planId) or external "
    "subscriptions, not both."
)
# "A one-to-one relationship exists between a subscription and a billing agreement": one agreement
# per subscription (per subscriptionId). False: one agreement per acquisition order.
AGREEMENT_PER_SUBSCRIPTION = True
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
    plan_id: str = ""  # as sent: the subscription service's items only

    @property
    def amount(self) -> Decimal:
        if self.aggregate_price is not None:
            return self.aggregate_price
        return (self.price or Decimal(0)) * self.quantity


# The fields of a CheckoutRequest that DRCheckoutSession and DRCheckout both store as columns.
REQUEST_COLUMNS = ("customer", "currency", "charge_type", "upstream_id", "email", "locale", "metadata")


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

    def columns(self) -> dict:
        """What a checkout session and a checkout alike keep of the request."""
        return {name: getattr(self, name) for name in REQUEST_COLUMNS}

    @property
    def renews(self) -> bool:
        return any(item.renewal for item in self.items)


# --- Reading and checking a request --------------------------------------------------------------


def read_request(body: dict, *, session: bool) -> CheckoutRequest:
    """Validate a DropInCheckoutRequest (`session`) or CheckoutRequest; DRError on the first problem."""
    refuse_unknown(body, SESSION_FIELDS if session else CHECKOUT_FIELDS, "this request")
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
    refuse_unknown(raw, ITEM_FIELDS, "an item")
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
    refuse_unknown(info, SUBSCRIPTION_INFO_FIELDS, "subscriptionInfo")
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
    elif item.plan_id:
        _service_item(item, info)
    else:
        _external_item(item)
    if (item.free_trial is not None or not item.renewal) and bool(item.free_trial) != (item.amount == 0):
        raise invalid("items", FREE_TRIAL_MESSAGE)
    return item


def _no_auto_renewal_false(item: Item) -> None:
    if item.auto_renewal is False:
        raise DRError(
            400,
            "invalid_request",
            "autoRenewal must be true or left out when acquiring a subscription.",
            "autoRenewal",
        )


def _service_item(item: Item, info: dict) -> None:
    """An acquisition of Digital River's subscription service (planId): the rules of 003."""
    _no_auto_renewal_false(item)
    if not item.terms:
        raise missing("terms", "The terms of the plan are required for a subscription item.")
    item.plan = _live_plan(item.plan_id, renewal=False)
    if item.terms != item.plan.terms:
        raise invalid("terms", f"The terms do not match the terms of plan {item.plan_id}.")
    if item.subscription_id and DRSubscription.objects.filter(pk=item.subscription_id).exists():
        raise conflict(
            "already_exists", f"Subscription {item.subscription_id} already exists.", "subscriptionId"
        )


def _external_item(item: Item) -> None:
    """An acquisition of an external subscription (no planId): autoRenewal true, terms, our subscriptionId."""
    _no_auto_renewal_false(item)
    if item.auto_renewal is None:
        raise missing("autoRenewal", "An external subscription's item must set autoRenewal to true.")
    if not item.terms:
        raise missing("terms", "The terms the customer accepts are required for a subscription item.")
    if not item.subscription_id:
        raise missing(
            "subscriptionId",
            "Digital River generates no subscriptionId without a planId: send your own.",
        )


def _renewal_item(item: Item, info: dict, charge_type: str, customer: DRCustomer) -> None:
    """A renewal names a subscriptionId and the billing agreement of the customer that covers it (002)."""
    if not item.subscription_id:
        raise missing("subscriptionId", "A renewal item needs the subscriptionId it renews.")
    if not item.billing_agreement_id:
        raise missing("billingAgreementId", "A renewal item needs the billing agreement of the subscription.")
    if charge_type == "merchant_initiated" and item.auto_renewal is not True:
        if item.auto_renewal is None:
            raise missing("autoRenewal", "A merchant-initiated renewal must set autoRenewal to true.")
        raise DRError(
            400,
            "invalid_request",
            "A merchant-initiated renewal is an auto-renewal: autoRenewal must be true.",
            "autoRenewal",
        )
    if item.plan_id:
        raise invalid("planId", "A renewal item names its billing agreement, not a plan.")
    _covering_agreement(item.billing_agreement_id, item.subscription_id, customer)


def _covering_agreement(agreement_id: str, subscription_id: str, customer: DRCustomer) -> DRBillingAgreement:
    agreement = DRBillingAgreement.objects.filter(pk=agreement_id, customer=customer).first()
    if agreement is None:
        raise invalid(
            "billingAgreementId", f"Billing agreement {agreement_id} not found for customer {customer.pk}."
        )
    if subscription_id not in agreement.subscription_ids:
        raise invalid(
            "subscriptionId",
            f"Billing agreement {agreement_id} does not cover subscription {subscription_id}.",
        )
    return agreement


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
    service = [item for item in recurring if not item.renewal and item.plan_id]
    external = [item for item in recurring if not item.renewal and not item.plan_id]
    if MIXED_ACQUISITIONS_REFUSED and service and external:
        raise DRError(400, "invalid_request", MIXED_MESSAGE, "items")
    # plan_limit_reached is about planId: external items may name several subscriptions.
    plans = {item.plan.pk for item in service}
    given = {item.subscription_id for item in service if item.subscription_id}
    if len(plans) > 1 or len(given) > 1:
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


money = _money  # for the subscription updates (lifecycle)


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
    return DRCheckoutSession.objects.create(**request.columns(), request=body)


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
        **request.columns(),
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
    session = (
        DRCheckoutSession.objects.select_for_update(of=("self",))
        .select_related("customer")
        .get(pk=session.pk)
    )
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
    checkout = (
        DRCheckout.objects.select_for_update(of=("self",))
        .select_related("customer", "source")
        .get(pk=checkout.pk)
    )
    existing = DROrder.objects.filter(checkout=checkout).first()
    if existing is not None:
        # Digital River's documented answer to a checkout already consumed by an order.
        raise DRError(404, "not_found", f"Order {existing.pk} not found", "orderId")
    items = list(checkout.items.all())
    recurring = [item for item in items if item.recurring]
    renewal = bool(recurring) and (
        checkout.charge_type == "merchant_initiated" or any(item.billing_agreement_id for item in recurring)
    )
    # Checked again: plans, subscription ids and agreements may have changed since the checkout.
    agreements = []
    for item in recurring:
        if renewal:
            agreements.append(
                _covering_agreement(item.billing_agreement_id, item.subscription_id, checkout.customer)
            )
        elif item.plan_id:
            _live_plan(item.plan_id, renewal=False)
            if item.subscription_id and DRSubscription.objects.filter(pk=item.subscription_id).exists():
                raise conflict(
                    "already_exists", f"Subscription {item.subscription_id} already exists.", "subscriptionId"
                )
    if checkout.charge_type == "merchant_initiated":
        needs_saved = "A merchant-initiated charge"
    elif any(not item.plan_id for item in recurring) and not renewal:
        needs_saved = "The acquisition of an external subscription"
    else:
        needs_saved = ""
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
    for agreement in {agreement.pk: agreement for agreement in agreements}.values():
        # The agreement remembers the primary source it was last charged with.
        if agreement.source_id != source.pk:
            agreement.source_id = source.pk
            agreement.save(update_fields=["source_id"])
    if from_session:
        emit("checkout_session.order.created", order_json(order))
    emit("order.accepted", order_json(order))
    for subscription in created:
        emit("subscription.created", subscription_json(subscription))
    return order


def _acquire(order: DROrder, items: list[DRCheckoutItem]) -> list[DRSubscription]:
    """Order items of an acquisition: billing agreements, and for the service a draft subscription each.

    Items sharing a subscriptionId are one subscription (the service generates an id for an item
    without one). Each subscription gets its billing agreement (AGREEMENT_PER_SUBSCRIPTION), which
    remembers the subscriptionIds it covers and the primary source. Only the subscription
    service's items (planId) become Digital River subscriptions; external ones stay ours.
    """
    customer = order.customer
    members: dict[str, list[DRCheckoutItem]] = {}
    copies = []
    for item in items:
        copied = _copy(item)
        if item.recurring:
            copied["subscription_id"] = item.subscription_id or new_dr_id()
            members.setdefault(copied["subscription_id"], []).append(item)
        copies.append((item, copied))
    groups = (
        [[subscription_id] for subscription_id in members] if AGREEMENT_PER_SUBSCRIPTION else [list(members)]
    )
    agreements: dict[str, DRBillingAgreement] = {}
    for group in groups:
        first = members[group[0]][0]
        agreement = DRBillingAgreement.objects.create(
            customer=customer,
            terms=first.terms,
            source_id=order.source_id or "",
            subscription_ids=group,
            service=bool(first.plan_id),
            acquisition_order=order,
            created_at=order.created_at,
        )
        agreements.update(dict.fromkeys(group, agreement))
    for item, copied in copies:
        if item.recurring:
            copied["billing_agreement_id"] = agreements[copied["subscription_id"]].pk
    DROrderItem.objects.bulk_create(DROrderItem(order=order, **copied) for _, copied in copies)
    created = []
    for subscription_id, subscribed in members.items():
        if not subscribed[0].plan_id:
            continue  # an external subscription: Digital River keeps no subscription object
        created.append(
            DRSubscription.objects.create(
                id=subscription_id,
                plan=DRPlan.objects.get(pk=subscribed[0].plan_id),
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
