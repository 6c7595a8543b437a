"""Digital River webhooks: refuse cheaply, verify first, keep each signed event once, process it once.

A request is checked before anything is written, cheapest first: the address's throttle (cache),
the announced size (CONTENT_LENGTH, the body unread), then at most the size limit plus one byte
is read and the signature verified. A refusal writes one RejectedWebhook (reason, size, address,
the type the body claims; never the body) and nothing else. Only a signed, readable event is
stored; the same event id delivered again counts a delivery on its row. Processing runs in a
task; an unknown event type is acknowledged and kept as "ignored".
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from billing.error_codes import BillingErrorCode
from billing.models import (
    WEBHOOK_EVENT_MOVES,
    BillingSubscription,
    EventState,
    RejectedWebhook,
    RejectionReason,
    SubscriptionState,
    WebhookEvent,
)
from billing.services import acquisition, digitalriver_engine, fulfilment, lifecycle
from core import audit, states
from core.actor import Actor, Face
from core.errors import RuleViolation
from core.tasks import enqueue_on_commit
from vendors.digitalriver.objects import charge_from, order_from, subscription_from
from vendors.digitalriver.signature import SignatureError, verify

logger = logging.getLogger(__name__)
PROCESS_TASK = "billing.tasks.process_event_task"
_ID_LENGTH = WebhookEvent._meta.get_field("event_id").max_length
_TYPE_LENGTH = WebhookEvent._meta.get_field("type").max_length
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Answer:
    """What the endpoint answers: the status, its JSON and, for a 429, the seconds to wait."""

    status: int
    event: WebhookEvent | None = None
    rejected: RejectedWebhook | None = None
    duplicate: bool = False
    retry_after: int | None = None

    @property
    def json(self) -> dict:
        if self.event is not None:
            return {"received": True, "id": self.event.pk, **({"duplicate": True} if self.duplicate else {})}
        return {
            "received": False,
            "reason": self.rejected.reason if self.rejected else RejectionReason.THROTTLED,
        }


def receive(read: Callable[[int], bytes], *, content_length, signature: str, source: str = "") -> Answer:
    """One webhook request: `read(n)` reads at most n bytes of its body, `content_length` is the
    announced size (CONTENT_LENGTH), `source` the client's address. 200 only for a signed event
    we have kept (or kept before)."""
    limit, window = throttle_rate()
    counter = _counter_key(source, window) if limit else ""
    if limit and (cache.get(counter) or 0) >= limit:
        return _throttled(source, window, content_length)
    announced = _announced_size(content_length)
    max_bytes = settings.DIGITALRIVER_WEBHOOK_MAX_BYTES
    if announced > max_bytes:
        return _reject(counter, window, RejectionReason.TOO_LARGE, announced, source, status=413)
    if not signature.strip():  # refused before the body is read
        return _reject(counter, window, RejectionReason.MISSING_SIGNATURE, announced, source)
    body = _read_at_most(read, max_bytes + 1)
    if len(body) > max_bytes:
        return _reject(
            counter, window, RejectionReason.TOO_LARGE, max(announced, len(body)), source, status=413
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
    except SignatureError as error:
        return _reject(counter, window, error.code, len(body), source, body=body, detail=error.message)
    try:
        event_id, event_type = _envelope(body)
    except (ValueError, KeyError, TypeError, RecursionError) as error:
        return _reject(
            counter, window, RejectionReason.UNREADABLE_EVENT, len(body), source, body=body, detail=str(error)
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                event_id=event_id,
                type=event_type,
                body=body.decode("utf-8", errors="replace"),
                signature=signature[:500],
                received_at=now,
                last_delivered_at=now,
            )
            enqueue_on_commit(PROCESS_TASK, event.pk)
    except IntegrityError:  # delivered before: counted on its row, acknowledged, never processed twice
        WebhookEvent.objects.filter(event_id=event_id).update(
            deliveries=F("deliveries") + 1, last_delivered_at=now
        )
        _count(counter, window)
        return Answer(200, event=WebhookEvent.objects.get(event_id=event_id), duplicate=True)
    return Answer(200, event=event)


def throttle_rate() -> tuple[int, int]:
    """DIGITALRIVER_WEBHOOK_THROTTLE_RATE as (requests, seconds); (0, 0) when it is off."""
    rate = (getattr(settings, "DIGITALRIVER_WEBHOOK_THROTTLE_RATE", "") or "").strip()
    if not rate:
        return 0, 0
    count, _, period = rate.partition("/")
    try:
        requests, seconds = int(count), _PERIODS[period.strip()[:1].lower()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(
            f"DIGITALRIVER_WEBHOOK_THROTTLE_RATE={rate!r} is not <count>/<second|minute|hour|day>."
        ) from None
    return max(requests, 0), seconds


def _counter_key(source: str, window: int) -> str:
    return f"billing:webhook-refusals:{source or 'unknown'}:{int(time.time()) // window}"


def _count(counter: str, window: int) -> None:
    """One more refused (or redelivered) request from the address in this window."""
    if not counter:
        return
    if not cache.add(counter, 1, timeout=window):
        try:
            cache.incr(counter)
        except ValueError:  # expired in between
            cache.set(counter, 1, timeout=window)


def _throttled(source: str, window: int, content_length) -> Answer:
    """429 with Retry-After, nothing read; one RejectedWebhook per address and window, not one per request."""
    retry_after = max(1, math.ceil(window - time.time() % window))
    rejected = None
    if cache.add(f"{_counter_key(source, window)}:recorded", True, timeout=window):
        rejected = _record(RejectionReason.THROTTLED, _announced_size(content_length), source)
        logger.warning("throttled Digital River webhook requests from %s", source or "an unknown address")
    return Answer(429, rejected=rejected, retry_after=retry_after)


def _reject(
    counter: str,
    window: int,
    reason: str,
    size: int,
    source: str,
    *,
    status: int = 400,
    body: bytes = b"",
    detail: str = "",
) -> Answer:
    _count(counter, window)
    rejected = _record(reason, size, source, event_type=_claimed_type(body), detail=detail)
    logger.warning("rejected Digital River webhook from %s: %s", source or "an unknown address", reason)
    return Answer(status, rejected=rejected)


def _record(
    reason: str, size: int, source: str, *, event_type: str = "", detail: str = ""
) -> RejectedWebhook:
    return RejectedWebhook.objects.create(
        reason=reason,
        detail=detail[:200],
        body_bytes=size,
        source_address=_address(source),
        event_type=event_type,
    )


def _read_at_most(read: Callable[[int], bytes], size: int) -> bytes:
    """Up to `size` bytes of the body, however the stream hands them over."""
    chunks, got = [], 0
    while got < size:
        chunk = read(size - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _announced_size(content_length) -> int:
    try:
        return max(int(content_length or 0), 0)
    except (TypeError, ValueError):
        return 0


def _address(source: str) -> str | None:
    try:
        return str(ipaddress.ip_address(source))
    except ValueError:
        return None


def _envelope(body: bytes) -> tuple[str, str]:
    """The event's id and type; ValueError when the (signed) body is no event we can keep."""
    payload = json.loads(body)
    event_id, event_type = str(payload["id"]), str(payload["type"])
    if not event_id or len(event_id) > _ID_LENGTH or len(event_type) > _TYPE_LENGTH:
        raise ValueError("the event id or type is empty or too long")
    return event_id, event_type


def _claimed_type(body: bytes) -> str:
    """The type an unverified body claims, for the record only (Digital River sends no type header)."""
    if not body:
        return ""
    try:
        claimed = json.loads(body).get("type")
    except (ValueError, AttributeError, RecursionError):
        return ""
    return claimed[:_TYPE_LENGTH] if isinstance(claimed, str) else ""


def process(event_pk: int) -> None:
    """Task: apply one verified event (safe to run twice: handlers are idempotent)."""
    event = WebhookEvent.objects.get(pk=event_pk)
    if event.state not in (EventState.RECEIVED, EventState.FAILED):
        return
    handler = HANDLERS.get(event.type)
    WebhookEvent.objects.filter(pk=event.pk).update(attempts=event.attempts + 1)
    if handler is None:
        states.move(event, EventState.IGNORED, WEBHOOK_EVENT_MOVES, processed_at=timezone.now())
        return
    data = json.loads(event.body).get("data", {}).get("object", {})
    try:
        handler(data, Actor.system(Face.WEBHOOK))
    except Exception as error:  # recorded on the event and replayable; the task log has the trace
        states.move(event, EventState.FAILED, WEBHOOK_EVENT_MOVES, error=f"{type(error).__name__}: {error}")
        raise
    states.move(event, EventState.PROCESSED, WEBHOOK_EVENT_MOVES, processed_at=timezone.now(), error="")


def replay(actor: Actor, event: WebhookEvent) -> WebhookEvent:
    """Staff process a stored, verified event again (handlers are idempotent)."""
    if not (actor.is_system or (actor.is_staff and actor.user.has_perm("billing.replay_webhookevent"))):
        from core.errors import PermissionDenied

        raise PermissionDenied("Replaying events needs the replay permission.")
    if event.state in (EventState.REJECTED, EventState.DUPLICATE):
        raise RuleViolation("Only verified events can be replayed.", code=BillingErrorCode.NOT_REPLAYABLE)
    with transaction.atomic():
        was = event.state
        states.move(event, EventState.RECEIVED, WEBHOOK_EVENT_MOVES)
        audit.record(
            actor,
            "billing.event_replayed",
            event,
            partner_id=None,
            changes={"state": [was, "received"]},
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
