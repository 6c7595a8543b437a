"""Digital River webhooks: store the raw event first, verify its signature, process each event once.

Processing runs in a task; an unknown event type is acknowledged and kept as "ignored".
"""

from __future__ import annotations

import json
import logging
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import BillingSubscription, EventState, SubscriptionState, WebhookEvent
from billing.services import acquisition, digitalriver_engine, fulfilment, lifecycle
from core import audit
from core.actor import Actor, Face
from core.errors import RuleViolation
from core.tasks import enqueue_on_commit
from vendors.digitalriver import charge_from, order_from, subscription_from
from vendors.digitalriver_signature import SignatureError, verify

logger = logging.getLogger(__name__)
PROCESS_TASK = "billing.tasks.process_event_task"


def receive(body: bytes, signature: str) -> tuple[int, WebhookEvent]:
    """Store the raw event, then verify it; answer 2xx only for a signed event we have kept."""
    event = WebhookEvent.objects.create(
        body=body.decode("utf-8", errors="replace"), signature=signature[:500]
    )
    try:
        verify(
            signature,
            body,
            settings.DIGITALRIVER_WEBHOOK_SECRETS,
            now=int(time.time()),
            tolerance=settings.DIGITALRIVER_WEBHOOK_TOLERANCE_SECONDS,
            fmt=settings.DIGITALRIVER_SIGNATURE_FORMAT,
        )
        payload = json.loads(body)
        event_id, event_type = str(payload["id"]), str(payload["type"])
    except SignatureError as error:
        return _reject(event, f"signature: {error.code}")
    except (ValueError, KeyError, TypeError) as error:
        return _reject(event, f"unreadable event: {error}")
    try:
        with transaction.atomic():
            WebhookEvent.objects.filter(pk=event.pk).update(event_id=event_id, type=event_type)
    except IntegrityError:  # seen before: acknowledged, never processed twice
        WebhookEvent.objects.filter(pk=event.pk).update(
            type=event_type, state=EventState.DUPLICATE, error=f"duplicate of event {event_id}"
        )
        return 200, event
    with transaction.atomic():
        enqueue_on_commit(PROCESS_TASK, event.pk)
    return 200, event


def _reject(event: WebhookEvent, reason: str) -> tuple[int, WebhookEvent]:
    WebhookEvent.objects.filter(pk=event.pk).update(state=EventState.REJECTED, error=reason)
    logger.warning("rejected Digital River webhook %s: %s", event.pk, reason)
    return 400, event


def process(event_pk: int) -> None:
    """Task: apply one verified event (safe to run twice: handlers are idempotent)."""
    event = WebhookEvent.objects.get(pk=event_pk)
    if event.state not in (EventState.RECEIVED, EventState.FAILED):
        return
    handler = HANDLERS.get(event.type)
    WebhookEvent.objects.filter(pk=event.pk).update(attempts=event.attempts + 1)
    if handler is None:
        WebhookEvent.objects.filter(pk=event.pk).update(state=EventState.IGNORED, processed_at=timezone.now())
        return
    data = json.loads(event.body).get("data", {}).get("object", {})
    try:
        handler(data, Actor.system(Face.WEBHOOK))
    except Exception as error:  # recorded on the event and replayable; the task log has the trace
        WebhookEvent.objects.filter(pk=event.pk).update(
            state=EventState.FAILED, error=f"{type(error).__name__}: {error}"
        )
        raise
    WebhookEvent.objects.filter(pk=event.pk).update(
        state=EventState.PROCESSED, processed_at=timezone.now(), error=""
    )


def replay(actor: Actor, event: WebhookEvent) -> WebhookEvent:
    """Staff process a stored, verified event again (handlers are idempotent)."""
    if not (actor.is_system or (actor.is_staff and actor.user.has_perm("billing.replay_webhookevent"))):
        from core.errors import PermissionDenied

        raise PermissionDenied("Replaying events needs the replay permission.")
    if event.state in (EventState.REJECTED, EventState.DUPLICATE):
        raise RuleViolation("Only verified events can be replayed.", code="not_replayable")
    with transaction.atomic():
        WebhookEvent.objects.filter(pk=event.pk).update(state=EventState.RECEIVED)
        audit.record(
            actor,
            "billing.event_replayed",
            event,
            partner_id=None,
            changes={"state": [event.state, "received"]},
        )
        enqueue_on_commit(PROCESS_TASK, event.pk)
    return event


def _subscription_event(update_state: str | None = None):
    def handle(data: dict, actor: Actor) -> None:
        vendor = subscription_from(data)
        subscription = BillingSubscription.objects.filter(subscription_id=vendor.id).first()
        if subscription is None:
            return
        lifecycle.vendor_subscription_changed(actor, subscription, vendor, state=update_state)

    return handle


def _charge(handler):
    return lambda data, actor: handler(charge_from(data), actor)


HANDLERS = {
    "order.accepted": lambda data, actor: acquisition.order_accepted(order_from(data), actor),
    "order.fulfilled": lambda data, actor: acquisition.order_state_changed(order_from(data), actor),
    "order.complete": lambda data, actor: acquisition.order_state_changed(order_from(data), actor),
    "order.cancelled": lambda data, actor: acquisition.order_state_changed(order_from(data), actor),
    # The order.charge.* events carry a charge, not an order (informing-digital-river-of-a-fulfillment).
    "order.charge.capture.complete": _charge(fulfilment.charge_captured),
    "order.charge.capture.failed": _charge(fulfilment.charge_failed),
    "order.charge.failed": _charge(fulfilment.charge_failed),
    "order.charge.cancel.complete": _charge(fulfilment.charge_cancelled),
    # Digital River's subscription service: it renews, we listen (billing.services.digitalriver_engine).
    "subscription.reminder": digitalriver_engine.reminder,
    "subscription.extended": digitalriver_engine.extended,
    "subscription.payment_failed": digitalriver_engine.payment_failed,
    "subscription.source_invalid": digitalriver_engine.source_invalid,
    "subscription.updated": _subscription_event(),
    "subscription.failed": _subscription_event(SubscriptionState.FAILED),
    "subscription.lapsed": _subscription_event(SubscriptionState.LAPSED),
}
