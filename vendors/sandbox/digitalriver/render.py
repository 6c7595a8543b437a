"""Each sandbox object as Digital River's JSON ([DR-OAS] Plan, Customer, Source, Checkout, Order, Charge,
Fulfillment, Refund, Invoice, Subscription, Event).

Times are ISO 8601 UTC with a `Z` to the second, money is a JSON number, and the fields the
schema marks read-only (totals, states, transitions) are filled in the way Digital River does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from vendors.sandbox.digitalriver.models import (
    DRCharge,
    DRChargeOperation,
    DRCheckout,
    DRCheckoutSession,
    DRCustomer,
    DREvent,
    DRFulfillment,
    DRInvoice,
    DRItemFields,
    DROrder,
    DROrderItem,
    DRPlan,
    DRRefund,
    DRSource,
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
        "enabled": customer.enabled,
        "requestToBeForgotten": False,
        "createdTime": time(customer.created_at),
        "updatedTime": time(customer.updated_at),
        "liveMode": False,
        "locale": customer.locale,
    }
    _set(body, email=customer.email, metadata=customer.metadata)
    saved = [source_json(source) for source in customer.sources.filter(state=DRSource.State.CHARGEABLE)]
    if customer.default_source_id:
        body["defaultSourceId"] = customer.default_source_id
    if saved:
        body["sources"] = saved
    return body


def source_json(source: DRSource, amount: Decimal | None = None) -> dict:
    """Source: a card, with customerId once saved to a customer."""
    body = {
        "id": source.id,
        "createdTime": time(source.created_at),
        "type": source.type,
        "reusable": source.reusable,
        "state": source.state,
        "flow": "standard",
        "clientSecret": f"{source.id}_sandbox",
        "liveMode": False,
    }
    if source.customer_id:
        body["customerId"] = source.customer_id
    if source.type == "creditCard":
        body["creditCard"] = dict(source.credit_card or {})
    if amount is not None:
        body["amount"] = number(amount)
    return body


def charge_json(charge: DRCharge) -> dict:
    """Charge: the authorised amount and what captures, cancels and refunds did to it."""
    operations = list(charge.operations.all())
    captures = [_operation_json(op) for op in operations if op.kind == DRChargeOperation.Kind.CAPTURE]
    cancels = [_operation_json(op) for op in operations if op.kind == DRChargeOperation.Kind.CANCEL]
    refunds = [_charge_refund_json(refund) for refund in charge_refunds(charge)]
    body = {
        "id": charge.id,
        "createdTime": time(charge.created_at),
        "currency": charge.currency,
        "amount": number(charge.amount),
        "state": charge.state,
        "captured": any(op["state"] == "complete" for op in captures),
        "refunded": any(refund["state"] == "complete" for refund in refunds),
        "sourceId": charge.source_id,
        "type": charge.type,
        "liveMode": False,
    }
    _set(body, orderId=charge.order_id, captures=captures, cancels=cancels, refunds=refunds)
    return body


REFUND_STATES = {"pending": "pending", "succeeded": "complete", "failed": "failed"}


def charge_refunds(charge: DRCharge) -> list:
    return list(charge.refunds.all())


def _charge_refund_json(refund: DRRefund) -> dict:
    """A refund as a charge's refunds[] shows it (Refund: pending, complete or failed)."""
    return {
        "id": refund.id,
        "createdTime": time(refund.created_at),
        "updatedTime": time(refund.updated_at),
        "amount": number(refund.amount),
        "state": REFUND_STATES[refund.state],
    }


def refund_json(refund: DRRefund) -> dict:
    """OrderRefund: what was asked (amount), what was given back (refundedAmount), its state."""
    done = refund.state == DRRefund.State.SUCCEEDED
    body = {
        "id": refund.id,
        "createdTime": time(refund.created_at),
        "currency": refund.currency,
        "amount": number(refund.amount),
        "refundedAmount": number(refund.refunded_amount),
        "state": refund.state,
        "items": [
            {
                "itemId": item["itemId"],
                "skuId": item["skuId"],
                "quantity": item["quantity"],
                "amount": number(Decimal(item["amount"])),
                "refundedAmount": number(Decimal(item["amount"]) if done else Decimal(0)),
            }
            for item in refund.items
        ],
        "liveMode": False,
    }
    _set(
        body,
        orderId=refund.order_id,
        invoiceId=refund.invoice_id,
        reason=refund.reason,
        metadata=refund.metadata,
        failureReason=refund.failure_reason,
    )
    if refund.state != DRRefund.State.PENDING:
        charge = refund.charge
        body["charges"] = [
            {
                "id": charge.id,
                "captured": True,
                "refunded": done,
                "refunds": [
                    {
                        "createdTime": time(refund.updated_at),
                        "amount": number(refund.amount),
                        "state": REFUND_STATES[refund.state],
                    }
                ],
                "sourceId": charge.source_id,
            }
        ]
    return body


def _operation_json(op: DRChargeOperation) -> dict:
    body = {
        "id": op.id,
        "createdTime": time(op.created_at),
        "updatedTime": time(op.created_at),
        "amount": number(op.amount),
        "state": op.state,
    }
    _set(
        body, failureCode=op.failure_code, failureMessage=op.failure_message, fulfillmentId=op.fulfillment_id
    )
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
    if checkout.source_id:
        body["payment"] = {"sources": [source_json(checkout.source, checkout.total_amount)]}
    _set(body, email=checkout.email, upstreamId=checkout.upstream_id, metadata=checkout.metadata)
    return body


def _order_item_json(item: DROrderItem) -> dict:
    body = _item_json(item)
    done = item.fulfilled_quantity + item.cancelled_quantity
    if done < item.quantity:
        state = "created"
    elif item.fulfilled_quantity:
        state = "fulfilled"
    else:
        state = "cancelled"
    transitions = {"fulfilled": time(item.fulfilled_at), "cancelled": time(item.cancelled_at)}
    body["state"] = state
    body["stateTransitions"] = {"created": time(item.order.created_at)} | {
        name: value for name, value in transitions.items() if value and state != "created"
    }
    body["availableToRefundAmount"] = number(item.captured_amount - item.refunded_amount)
    return body


def order_amounts(order: DROrder) -> dict[str, Decimal]:
    """capturedAmount, cancelledAmount, refundedAmount (succeeded), availableToRefundAmount."""
    items = list(order.items.all())
    captured = sum((item.captured_amount for item in items), Decimal(0))
    reserved = sum((item.refunded_amount for item in items), Decimal(0))  # pending and succeeded
    return {
        "capturedAmount": captured,
        "cancelledAmount": sum((item.cancelled_amount for item in items), Decimal(0)),
        "refundedAmount": refunded_of(order),
        "availableToRefundAmount": captured - reserved,
    }


def refunded_of(order: DROrder) -> Decimal:
    """What succeeded refunds gave back."""
    return sum(
        (refund.refunded_amount for refund in order.refunds.filter(state=DRRefund.State.SUCCEEDED)),
        Decimal(0),
    )


def order_json(order: DROrder, *, payment: bool = True) -> dict:
    items = [_order_item_json(item) for item in order.items.select_related("order")]
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
        **{name: number(amount) for name, amount in order_amounts(order).items()},
        "requestToBeForgotten": False,
        "liveMode": False,
        "items": items,
        **_totals(order.total_amount),
    }
    if payment and order.source_id:
        body["payment"] = {
            "sources": [source_json(order.source, order.total_amount)],
            "charges": [charge_json(charge) for charge in order.charges.all()],
        }
    session = DRCheckoutSession.objects.filter(checkout_id=order.checkout_id).values_list("id", flat=True)
    _set(
        body,
        email=order.email,
        upstreamId=order.upstream_id,
        metadata=order.metadata,
        checkoutSessionId=session.first(),
    )
    return body


def fulfillment_json(fulfillment: DRFulfillment, *, details: bool = False) -> dict:
    """Fulfillment; with `details`, the orderDetails (the order without its payment)."""
    body = {
        "id": fulfillment.id,
        "createdTime": time(fulfillment.created_at),
        "orderId": fulfillment.order_id,
        "items": list(fulfillment.items),
        "liveMode": False,
        **fulfillment.shipment,
    }
    _set(body, metadata=fulfillment.metadata)
    if details:
        body["orderDetails"] = order_json(fulfillment.order, payment=False)
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


def invoice_json(invoice: DRInvoice) -> dict:
    """Invoice: the subscription service's bill for a period, with its source and charge attempts."""
    body = {
        "id": invoice.id,
        "createdTime": time(invoice.created_at),
        "updatedTime": time(invoice.updated_at),
        "customerId": invoice.customer_id,
        "currency": invoice.currency,
        "state": invoice.state,
        "chargeType": "merchant_initiated",
        "items": [_invoice_item_json(item) for item in invoice.items],
        "attemptCount": invoice.attempt_count,
        "sellingEntity": SELLING_ENTITY,
        "liveMode": False,
        **_totals(invoice.total_amount),
    }
    if invoice.collection_period_days is not None:
        body["collectionPeriodDays"] = invoice.collection_period_days
    source = DRSource.objects.filter(pk=invoice.source_id).first() if invoice.source_id else None
    if source is not None:
        body["payment"] = {
            "sources": [source_json(source, invoice.total_amount)],
            "charges": [charge_json(charge) for charge in invoice.charges.all()],
        }
    return body


def _invoice_item_json(item: dict) -> dict:
    body = {
        "id": item["id"],
        "quantity": item.get("quantity", 1),
        "amount": item["amount"],
        "tax": {"rate": 0.0, "amount": 0.0},
        "subscriptionInfo": item["subscriptionInfo"],
    }
    _set(
        body,
        skuId=item.get("skuId"),
        productDetails=item.get("productDetails"),
        metadata=item.get("metadata"),
    )
    return body


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
