"""Defect 9 (issue 11): webhook bodies were stored before the signature was checked (a 2.4 MB
unsigned body landed in the table), with no rate limit.

Now: throttle, size and signature come first; a refusal writes one small RejectedWebhook (no
body) and nothing else; a redelivered event is counted on its row, not copied.
"""

import io
import json
import time
from datetime import UTC, datetime

import pytest
import time_machine
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from billing.models import EventState, RejectedWebhook, RejectionReason, WebhookEvent
from billing.services import events
from vendors.digitalriver.signature import sign

pytestmark = pytest.mark.django_db
URL = "/webhooks/digitalriver/"
BIG = 2_400_000
# Ten seconds into a minute (and an hour): a fixed throttle window has 50 s (or 3590 s) to run.
TEN_PAST = datetime(2026, 11, 22, 12, 0, 10, tzinfo=UTC)


def _event(event_id="evt_1", type_="order.accepted", padding=0) -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "type": type_,
            "createdTime": "2026-11-22T00:00:00Z",
            "liveMode": False,
            "data": {"object": {"id": "x", "padding": "p" * padding}},
        }
    ).encode()


def _signed(body, secret="whsec_sandbox") -> str:
    return sign(secret, body, int(time.time()))


def _post(client, body, *, header=None, address="127.0.0.1"):
    extra = {"HTTP_DIGITALRIVER_SIGNATURE": header} if header is not None else {}
    return client.post(URL, body, content_type="application/json", REMOTE_ADDR=address, **extra)


def _row_counts() -> dict[str, int]:
    """Rows of every table the project has (each model once)."""
    return {
        model._meta.label: model._default_manager.count()
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    }


def _written_since(before: dict[str, int]) -> dict[str, int]:
    after = _row_counts()
    return {label: after[label] - count for label, count in before.items() if after[label] != count}


def _never_read(size):
    raise AssertionError("the body was read")


@pytest.fixture
def handled(monkeypatch):
    """The order.accepted events processed (the handler replaced by a recorder)."""
    seen = []
    monkeypatch.setitem(events.HANDLERS, "order.accepted", lambda data, actor: seen.append(data))
    return seen


# --- Size: refused unread ---------------------------------------------------------------------------


def test_defect9_an_unsigned_2_4_mb_body_is_refused_and_not_stored(
    client, django_capture_on_commit_callbacks
):
    body = b"{" + b" " * (BIG - 2) + b"}"
    before = _row_counts()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _post(client, body)

    assert response.status_code == 413 and response.json() == {"received": False, "reason": "too_large"}
    assert not WebhookEvent.objects.exists() and not callbacks
    assert _written_since(before) == {"billing.RejectedWebhook": 1}
    rejected = RejectedWebhook.objects.get()
    assert (rejected.reason, rejected.body_bytes, rejected.source_address) == ("too_large", BIG, "127.0.0.1")
    assert "body" not in {field.name for field in RejectedWebhook._meta.get_fields()}


def test_defect9_a_signed_body_over_the_limit_is_refused_too(client, settings):
    settings.DIGITALRIVER_WEBHOOK_MAX_BYTES = 1000
    body = _event(padding=2000)

    assert _post(client, body, header=_signed(body)).status_code == 413
    assert not WebhookEvent.objects.exists()
    assert RejectedWebhook.objects.get().reason == RejectionReason.TOO_LARGE


def test_an_announced_size_over_the_limit_is_refused_without_reading_the_body(settings):
    answer = events.receive(
        _never_read, content_length=str(BIG), signature="t=1, v0=abc", source="203.0.113.9"
    )

    assert answer.status == 413 and answer.rejected.body_bytes == BIG
    assert answer.rejected.source_address == "203.0.113.9"


def test_a_body_longer_than_announced_is_read_only_up_to_the_limit_plus_one_byte(settings):
    settings.DIGITALRIVER_WEBHOOK_MAX_BYTES = 1000
    stream = io.BytesIO(b"x" * BIG)

    answer = events.receive(stream.read, content_length="10", signature="t=1, v0=abc", source="::1")

    assert answer.status == 413 and stream.tell() == 1001
    assert not WebhookEvent.objects.exists()


def test_the_default_limit_is_256_kb_and_a_large_real_event_under_it_is_accepted(
    client, settings, handled, django_capture_on_commit_callbacks
):
    assert settings.DIGITALRIVER_WEBHOOK_MAX_BYTES == 256 * 1024
    body = _event(padding=200_000)

    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, body, header=_signed(body)).status_code == 200
    assert WebhookEvent.objects.get().body == body.decode() and len(handled) == 1


# --- Signature: verified before anything is written ---------------------------------------------------


def test_defect9_a_bad_signature_is_recorded_with_its_reason_and_nothing_else_is_written(
    client, django_capture_on_commit_callbacks, handled
):
    body = _event("evt_forged")
    before = _row_counts()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = _post(client, body, header=_signed(body, secret="whsec_wrong"), address="198.51.100.7")

    assert response.status_code == 400 and response.json() == {"received": False, "reason": "bad_signature"}
    assert _written_since(before) == {"billing.RejectedWebhook": 1}
    assert not callbacks and not handled
    rejected = RejectedWebhook.objects.get()
    assert rejected.reason == RejectionReason.BAD_SIGNATURE
    assert rejected.body_bytes == len(body) and rejected.source_address == "198.51.100.7"
    assert rejected.event_type == "order.accepted"  # what the body claims, unverified


@pytest.mark.parametrize(
    "header,reason",
    [
        ("", RejectionReason.MISSING_SIGNATURE),
        ("garbage", RejectionReason.MALFORMED_SIGNATURE),
        ("t={an_hour_ago}, v0=abc=", RejectionReason.STALE_TIMESTAMP),
    ],
    ids=["missing", "malformed", "stale"],  # stable ids: pytest-xdist workers must collect the same
)
def test_each_signature_refusal_leaves_only_its_record(client, header, reason):
    header = header.format(an_hour_ago=int(time.time()) - 3600)
    before = _row_counts()

    assert _post(client, _event(), header=header).status_code == 400

    assert _written_since(before) == {"billing.RejectedWebhook": 1}
    assert RejectedWebhook.objects.get().reason == reason


def test_a_missing_signature_is_refused_before_the_body_is_read():
    answer = events.receive(_never_read, content_length="500", signature="", source="127.0.0.1")

    assert answer.status == 400 and answer.rejected.reason == RejectionReason.MISSING_SIGNATURE
    assert answer.rejected.body_bytes == 500


def test_a_signed_body_that_is_no_event_is_refused_and_not_stored(client):
    body = b'{"type": "order.accepted"}'  # no id

    assert _post(client, body, header=_signed(body)).status_code == 400

    assert not WebhookEvent.objects.exists()
    rejected = RejectedWebhook.objects.get()
    assert rejected.reason == RejectionReason.UNREADABLE_EVENT and rejected.event_type == "order.accepted"


# --- Throttling per source address ------------------------------------------------------------------


def test_defect9_an_address_is_throttled_with_retry_after_after_n_refused_requests(
    client, settings, handled, django_capture_on_commit_callbacks
):
    settings.DIGITALRIVER_WEBHOOK_THROTTLE_RATE = "3/minute"
    forged = _event("evt_forged")
    with time_machine.travel(TEN_PAST, tick=False):
        header = _signed(forged, secret="whsec_wrong")
        answers = [_post(client, forged, header=header, address="192.0.2.1") for _ in range(6)]

    assert [a.status_code for a in answers] == [400, 400, 400, 429, 429, 429]
    assert [a["Retry-After"] for a in answers[3:]] == ["50", "50", "50"]
    assert answers[3].json() == {"received": False, "reason": "throttled"}
    reasons = list(RejectedWebhook.objects.order_by("id").values_list("reason", flat=True))
    assert reasons == ["bad_signature"] * 3 + ["throttled"]  # one record per window, not per request

    # Even a signed event from that address waits (Digital River retries a non-2xx); others do not.
    body = _event("evt_real")
    with time_machine.travel(TEN_PAST, tick=False):
        assert _post(client, body, header=_signed(body), address="192.0.2.1").status_code == 429
        with django_capture_on_commit_callbacks(execute=True):
            assert _post(client, body, header=_signed(body), address="192.0.2.2").status_code == 200
    assert WebhookEvent.objects.get().event_id == "evt_real" and len(handled) == 1


def test_a_throttled_request_is_answered_without_reading_its_body(settings):
    settings.DIGITALRIVER_WEBHOOK_THROTTLE_RATE = "1/hour"
    with time_machine.travel(TEN_PAST, tick=False):
        events.receive(io.BytesIO(b"{}").read, content_length="2", signature="x", source="192.0.2.5")
        answer = events.receive(_never_read, content_length=str(BIG), signature="x", source="192.0.2.5")

    assert answer.status == 429 and answer.retry_after == 3590


def test_fresh_signed_events_never_count_against_the_limit(
    client, settings, handled, django_capture_on_commit_callbacks
):
    settings.DIGITALRIVER_WEBHOOK_THROTTLE_RATE = "2/minute"
    for n in range(5):
        body = _event(f"evt_{n}")
        with django_capture_on_commit_callbacks(execute=True):
            assert _post(client, body, header=_signed(body)).status_code == 200
    assert WebhookEvent.objects.count() == 5 and len(handled) == 5


def test_an_empty_rate_turns_throttling_off_and_a_bad_one_is_refused(settings):
    settings.DIGITALRIVER_WEBHOOK_THROTTLE_RATE = ""
    assert events.throttle_rate() == (0, 0)
    settings.DIGITALRIVER_WEBHOOK_THROTTLE_RATE = "lots"
    with pytest.raises(ImproperlyConfigured):
        events.throttle_rate()
    settings.DIGITALRIVER_WEBHOOK_THROTTLE_RATE = "100/hour"
    assert events.throttle_rate() == (100, 3600)


# --- Duplicates: a counter, not a copy ---------------------------------------------------------------


def test_defect9_the_same_signed_event_twice_is_one_row_with_two_deliveries_processed_once(
    client, django_capture_on_commit_callbacks, handled
):
    body = _event("evt_same")
    with django_capture_on_commit_callbacks(execute=True):
        first = _post(client, body, header=_signed(body))
    before = _row_counts()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = _post(client, body, header=_signed(body))  # Digital River signs each retry anew

    assert first.status_code == again.status_code == 200
    assert again.json() == {"received": True, "id": first.json()["id"], "duplicate": True}
    assert _written_since(before) == {} and not callbacks
    event = WebhookEvent.objects.get()
    assert event.deliveries == 2 and event.last_delivered_at >= event.received_at
    assert event.state == EventState.PROCESSED and event.body == body.decode() and len(handled) == 1


# --- Staff read the refusals -------------------------------------------------------------------------


def test_staff_read_rejected_webhooks_in_the_admin_and_cannot_change_them(client, superuser):
    RejectedWebhook.objects.create(reason=RejectionReason.BAD_SIGNATURE, body_bytes=12, source_address="::1")
    client.force_login(superuser)

    listing = client.get("/admin/billing/rejectedwebhook/")
    rejected = RejectedWebhook.objects.get()

    assert listing.status_code == 200 and b"Signature does not match" in listing.content
    assert client.get(f"/admin/billing/rejectedwebhook/{rejected.pk}/change/").status_code == 200
    assert client.get("/admin/billing/rejectedwebhook/add/").status_code == 403
    assert client.post(f"/admin/billing/rejectedwebhook/{rejected.pk}/delete/").status_code == 403
