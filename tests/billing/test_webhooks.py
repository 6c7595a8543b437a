"""Digital River webhooks: raw body first, signature with tolerance and rotation, each event once."""

import json
import time

import pytest

from billing.models import EventState, RejectedWebhook, WebhookEvent
from vendors.digitalriver.signature import sign

pytestmark = pytest.mark.django_db
URL = "/webhooks/digitalriver/"


def _event(event_id="evt_1", type_="plan.created"):
    return json.dumps(
        {
            "id": event_id,
            "type": type_,
            "createdTime": "2026-11-22T00:00:00Z",
            "liveMode": False,
            "data": {"object": {"id": "x"}},
        }
    ).encode()


def _post(client, body, *, secret="whsec_sandbox", timestamp=None, header=None):
    header = header if header is not None else sign(secret, body, timestamp or int(time.time()))
    return client.post(URL, body, content_type="application/json", HTTP_DIGITALRIVER_SIGNATURE=header)


def test_a_bad_signature_is_refused_and_only_a_small_record_is_kept(
    client, django_capture_on_commit_callbacks
):
    body = _event()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, body, secret="whsec_wrong")
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()
    rejected = RejectedWebhook.objects.get()
    assert rejected.reason == "bad_signature" and rejected.body_bytes == len(body)


def test_a_stale_timestamp_is_refused(client, settings):
    response = _post(
        client, _event(), timestamp=int(time.time()) - settings.DIGITALRIVER_WEBHOOK_TOLERANCE_SECONDS - 5
    )
    assert response.status_code == 400
    assert RejectedWebhook.objects.get().reason == "stale_timestamp" and not WebhookEvent.objects.exists()


def test_a_missing_signature_is_refused(client):
    assert _post(client, _event(), header="").status_code == 400


def test_the_old_secret_still_verifies_during_rotation(client, settings, django_capture_on_commit_callbacks):
    settings.DIGITALRIVER_WEBHOOK_SECRETS = ["whsec_new", "whsec_old"]
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, _event(), secret="whsec_old").status_code == 200


def test_a_replayed_event_is_acknowledged_and_processed_once(
    client, django_capture_on_commit_callbacks, monkeypatch
):
    from billing.services import events

    processed = []
    monkeypatch.setitem(events.HANDLERS, "order.accepted", lambda data, actor: processed.append(data))
    body = _event("evt_same", "order.accepted")
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, body).status_code == 200
        assert _post(client, body).status_code == 200
    assert len(processed) == 1
    event = WebhookEvent.objects.get()  # one row, the redelivery counted on it
    assert event.state == EventState.PROCESSED and event.deliveries == 2


def test_an_unknown_event_type_is_acknowledged_and_kept(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert _post(client, _event("evt_x", "sku.updated")).status_code == 200
    assert WebhookEvent.objects.get().state == EventState.IGNORED


def test_a_failed_event_can_be_replayed_by_staff(
    client, staff, django_capture_on_commit_callbacks, monkeypatch
):
    from billing.services import events
    from core.actor import Actor, Face

    calls = []

    def flaky(data, actor):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database was down")

    monkeypatch.setitem(events.HANDLERS, "order.accepted", flaky)
    with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
        _post(client, _event("evt_f", "order.accepted"))
    event = WebhookEvent.objects.get()
    assert event.state == EventState.FAILED
    with django_capture_on_commit_callbacks(execute=True):
        events.replay(Actor(staff, Face.ADMIN), event)
    event.refresh_from_db()
    assert event.state == EventState.PROCESSED and len(calls) == 2
