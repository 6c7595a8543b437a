"""Digital River's events: stored as they happen, then POSTed, signed, to the back office's webhook.

Each event is delivered right after the transaction that made it commits, through
vendors.http.build_session() (so tests route it in-process), signed with the first of
DIGITALRIVER_WEBHOOK_SECRETS and a real-time timestamp (the receiver compares it with its own
clock). Anything but a 2xx, or no answer, leaves the event undelivered with its attempts, status
and error; `manage.py sandbox_dr deliver` and the admin try again. Each attempt is signed anew,
as Digital River does when it retries.

Events go where a real Digital River sends them: to the webhook registered with it
(`manage.py sandbox_dr register-webhook --url ...`, done by seed_demo and so by `make run` for
its port), not to whatever SITE_URL the process posting them has. With none registered they go
to SANDBOX_DR_WEBHOOK_URL, else SITE_URL + /webhooks/digitalriver/ (tests).
"""

from __future__ import annotations

import json
import logging
import time

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from vendors import http as vendor_http
from vendors.digitalriver.signature import HEADER, sign
from vendors.sandbox.digitalriver.models import DREvent, DRWebhook
from vendors.sandbox.digitalriver.render import event_json

logger = logging.getLogger("vendors.sandbox")


def webhook_url() -> str:
    """Where events are posted: the registered webhook, else the configured default."""
    registered = DRWebhook.objects.filter(enabled=True).values_list("address", flat=True).first()
    if registered:
        return registered
    configured = getattr(settings, "SANDBOX_DR_WEBHOOK_URL", "")
    return configured or f"{settings.SITE_URL.rstrip('/')}/webhooks/digitalriver/"


def register_webhook(address: str) -> DRWebhook:
    """Register the one endpoint events go to, replacing any other (Digital River's dashboard)."""
    with transaction.atomic():
        DRWebhook.objects.exclude(address=address).delete()
        webhook, _ = DRWebhook.objects.update_or_create(address=address, defaults={"enabled": True})
    return webhook


def emit(event_type: str, obj: dict, previous: dict | None = None) -> DREvent:
    """Record an event now (sandbox time) and deliver it once the current transaction commits."""
    event = DREvent.objects.create(
        type=event_type, data={"object": obj, "previousAttributes": previous or {}}
    )
    transaction.on_commit(lambda: deliver_quietly(event.pk))
    return event


def deliver_quietly(event_pk: int) -> None:
    """Deliver after a commit: a failure is recorded on the event, never raised into the request."""
    event = DREvent.objects.filter(pk=event_pk, delivered_at__isnull=True).first()
    if event is not None:
        deliver(event)


def deliver(event: DREvent) -> bool:
    """POST the event to the webhook, signed; record the outcome. True when it was acknowledged (2xx)."""
    body = json.dumps(event_json(event), separators=(",", ":")).encode()
    status, error = None, ""
    secrets = [secret for secret in getattr(settings, "DIGITALRIVER_WEBHOOK_SECRETS", []) if secret]
    if not secrets:
        error = "no webhook signing secret configured (DIGITALRIVER_WEBHOOK_SECRETS)"
    else:
        try:
            response = vendor_http.build_session().post(
                webhook_url(),
                data=body,
                headers={
                    "Content-Type": "application/json",
                    HEADER: sign(
                        secrets[0], body, int(time.time()), fmt=settings.DIGITALRIVER_SIGNATURE_FORMAT
                    ),
                },
                timeout=settings.VENDOR_TIMEOUT_SECONDS,
                allow_redirects=False,
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status} from the webhook"
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        except Exception as exc:  # the receiver blew up (in-process in tests): an undelivered event
            logger.exception("Digital River sandbox: the webhook failed on event %s", event.event_id)
            error = f"{type(exc).__name__}: {exc}"[:500]
    now = timezone.now()
    DREvent.objects.filter(pk=event.pk).update(
        attempts=F("attempts") + 1,
        last_attempt_at=now,
        last_status=status,
        last_error=error,
        delivered_at=None if error else now,
    )
    event.refresh_from_db()
    if error:
        logger.warning(
            "Digital River sandbox: event %s (%s) not delivered: %s", event.event_id, event.type, error
        )
    return not error


def deliver_undelivered() -> tuple[int, int]:
    """Try every undelivered event again, oldest first; (delivered, still undelivered)."""
    delivered = failed = 0
    for event in DREvent.objects.filter(delivered_at__isnull=True).order_by("seq"):
        if deliver(event):
            delivered += 1
        else:
            failed += 1
    return delivered, failed
