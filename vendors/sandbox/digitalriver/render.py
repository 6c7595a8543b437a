"""Each sandbox object as Digital River's JSON ([DR-OAS] Plan, Customer, Checkout, Order, Subscription, Event).

Times are ISO 8601 UTC with a `Z` to the second, money is a JSON number, and the fields the
schema marks read-only (totals, states, transitions) are filled in the way Digital River does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from vendors.sandbox.models import (
    DRCheckout,
    DRCheckoutSession,
    DRCustomer,
    DREvent,
    DRItemFields,
    DROrder,
    DRPlan,
    DRSubscription,
)

# The API version of the published document the sandbox follows ([DR-OAS] 2021-12-13.json).
API_VERSION = "2021-12-13"
SELLING_ENTITY = {"id": "DR_INC-ENTITY", "name": "Digital River Inc. (sandbox)"}


def time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def number(value: Decimal | int | None) -> int | float | None:
    """A JSON number for a Decimal (whole amounts as integers)."""
    if value is None:
        return None
    value = Decimal(str(value))
    return int(value) if value == value.to_integral_value() else float(value)


def _set(body: dict, **fields) -> dict:
    """Add the fields that have a value (Digital River leaves out what is not set)."""
    body.update({name: value for name, value in fields.items() if value not in (None, "", {}, [])})
    return body


def plan_json(plan: DRPlan) -> dict:
    transitions = {
        "activated": time(plan.activated_at),
        "discontinued": time(plan.discontinued_at),
        "deactivated": time(plan.deactivated_at),
    }
    return {
        "id": plan.id,
        "name": plan.name,
        "terms": plan.terms,
        "contractBindingDays": plan.contract_binding_days,
        "interval": plan.interval,
        "intervalCount": plan.interval_count,
        "reminderOffsetDays": plan.reminder_offset_days,
        "billingOffsetDays": plan.billing_offset_days,
        "collectionPeriodDays": plan.collection_period_days,
        "state": plan.state,
        "stateTransitions": {name: value for name, value in transitions.items() if value},
        "metadata": plan.metadata or {},
        "billingOptimization": False,
        "createdTime": time(plan.created_at),
        "liveMode": False,
    }


def customer_json(customer: DRCustomer) -> dict:
    body = {
        "id": customer.id,
        "type": customer.type,
        "enabled": True,
        "requestToBeForgotten": False,
        "createdTime": time(customer.created_at),
        "updatedTime": time(customer.updated_at),
        "liveMode": False,
        "locale": "en_US",
    }
    _set(body, email=customer.email, metadata=customer.metadata)
    if customer.source_id:
        body["defaultSourceId"] = customer.source_id
        body["sources"] = [source_json(customer.source_id, customer)]
    return body


def source_json(source_id: str, customer: DRCustomer, amount: Decimal | None = None) -> dict:
    """The reusable card the customer paid with (the sandbox's stand-in for a real source)."""
    body = {
        "id": source_id,
        "type": "creditCard",
        "reusable": True,
        "state": "chargeable",
        "customerId": customer.id,
        "liveMode": False,
        "creditCard": {
            "brand": "Visa",
            "expirationMonth": 12,
            "expirationYear": 2035,
            "lastFourDigits": "1111",
        },
    }
    if amount is not None:
        body["amount"] = number(amount)
    return body


def subscription_info(item: DRItemFields) -> dict | None:
    """An item's subscriptionInfo with the fields it has, or None for a one-off item."""
    if not item.recurring:
        return None
    return _set(
        {},
        planId=item.plan_id,
        terms=item.terms,
        autoRenewal=item.auto_renewal,
        freeTrial=item.free_trial,
        subscriptionId=item.subscription_id,
        billingAgreementId=item.billing_agreement_id,
    )


def _item_json(item: DRItemFields) -> dict:
    body = {
        "id": item.item_id,
        "skuId": item.sku_id,
        "amount": number(item.amount),
        "quantity": item.quantity,
        "tax": {"rate": 0.0, "amount": 0.0},
        "importerTax": {"amount": 0.0},
        "duties": {"amount": 0.0},
        "fees": {"amount": 0.0, "taxAmount": 0.0},
    }
    _set(
        body,
        price=number(item.price),
        aggregatePrice=number(item.aggregate_price),
        subscriptionInfo=subscription_info(item),
        metadata=item.metadata,
        productDetails=item.product_details,
    )
    return body


def _totals(total: Decimal) -> dict:
    return {
        "totalAmount": number(total),
        "subtotal": number(total),
        "totalTax": 0.0,
        "totalImporterTax": 0.0,
        "totalDuty": 0.0,
        "totalDiscount": 0.0,
        "totalShipping": 0.0,
        "totalFees": 0.0,
    }


def session_json(session: DRCheckoutSession, link: str | None = None) -> dict:
    """CreateDropInCheckoutTokenResponse: the session id and where the customer pays it."""
    body = {"id": session.id, "liveMode": False}
    if link:
        body["link"] = link
    return body


def session_request(session: DRCheckoutSession) -> dict:
    """The create request as received, with its id and state (what a test looks at)."""
    return {**session.request, "id": session.id, "state": session.state}


def checkout_json(checkout: DRCheckout) -> dict:
    body = {
        "id": checkout.id,
        "createdTime": time(checkout.created_at),
        "updatedTime": time(checkout.updated_at),
        "customerId": checkout.customer_id,
        "currency": checkout.currency,
        "chargeType": checkout.charge_type,
        "locale": checkout.locale,
        "customerType": "individual",
        "sellingEntity": SELLING_ENTITY,
        "liveMode": False,
        "items": [_item_json(item) for item in checkout.items.all()],
        **_totals(checkout.total_amount),
    }
    _set(body, email=checkout.email, upstreamId=checkout.upstream_id, metadata=checkout.metadata)
    return body


def order_json(order: DROrder) -> dict:
    paid = order.state == DROrder.State.COMPLETE
    items = []
    for item in order.items.all():
        body = _item_json(item)
        body["state"] = "paid" if paid else "created"
        body["availableToRefundAmount"] = number(item.amount) if paid else 0.0
        items.append(body)
    body = {
        "id": order.id,
        "createdTime": time(order.created_at),
        "updatedTime": time(order.updated_at),
        "checkoutId": order.checkout_id,
        "customerId": order.customer_id,
        "currency": order.currency,
        "chargeType": order.charge_type,
        "locale": order.locale,
        "customerType": "individual",
        "sellingEntity": SELLING_ENTITY,
        "state": order.state,
        "stateTransitions": dict(order.state_transitions),
        "fraudState": "passed",
        "capturedAmount": number(order.captured_amount),
        "cancelledAmount": 0.0,
        "refundedAmount": 0.0,
        "availableToRefundAmount": number(order.captured_amount),
        "requestToBeForgotten": False,
        "liveMode": False,
        "items": items,
        **_totals(order.total_amount),
    }
    if order.source_id:
        body["payment"] = {"sources": [source_json(order.source_id, order.customer, order.total_amount)]}
    session = DRCheckoutSession.objects.filter(checkout_id=order.checkout_id).values_list("id", flat=True)
    _set(
        body,
        email=order.email,
        upstreamId=order.upstream_id,
        metadata=order.metadata,
        checkoutSessionId=session.first(),
    )
    return body


def subscription_json(subscription: DRSubscription) -> dict:
    transitions = {
        "activated": time(subscription.activated_at),
        "activatedFree": time(subscription.activated_free_at),
        "failed": time(subscription.failed_at),
        "cancelled": time(subscription.cancelled_at),
        "ended": time(subscription.ended_at),
    }
    body = {
        "id": subscription.id,
        "createdTime": time(subscription.created_at),
        "updatedTime": time(subscription.updated_at),
        "planId": subscription.plan_id,
        "customerId": subscription.customer_id,
        "currency": subscription.currency,
        "state": subscription.state,
        "stateTransitions": {name: value for name, value in transitions.items() if value},
        "items": list(subscription.items),
        "taxInclusive": False,
        "locale": "en_US",
        "liveMode": False,
    }
    # The four dates exist only once the subscription is activated.
    _set(
        body,
        billingAgreementId=subscription.billing_agreement_id,
        sourceId=subscription.source_id,
        contractBindingUntil=time(subscription.contract_binding_until),
        currentPeriodEndDate=time(subscription.current_period_end_date),
        nextInvoiceDate=time(subscription.next_invoice_date),
        nextReminderDate=time(subscription.next_reminder_date),
        metadata=subscription.metadata,
    )
    return body


def draft_invoice_json(subscription: DRSubscription) -> dict:
    """The draft invoice a reminder opens for the coming period (its object has no table here)."""
    total = sum(
        (Decimal(str(item.get("aggregatePrice", item.get("price", 0) * item.get("quantity", 1))))
         for item in subscription.items),
        Decimal(0),
    )  # fmt: skip
    return {
        "id": f"inv-{subscription.id}-{time(subscription.current_period_end_date)}",
        "state": "draft",
        "subscriptionId": subscription.id,
        "customerId": subscription.customer_id,
        "billingAgreementId": subscription.billing_agreement_id,
        "currency": subscription.currency,
        "totalAmount": number(total),
        "items": list(subscription.items),
        "liveMode": False,
    }


def event_json(event: DREvent) -> dict:
    return {
        "id": event.event_id,
        "type": event.type,
        "createdTime": time(event.created_at),
        "liveMode": False,
        "digitalRiverVersion": API_VERSION,
        "data": {
            "object": event.data.get("object", {}),
            "previousAttributes": event.data.get("previousAttributes", {}),
        },
    }
