"""Digital River's sandbox posts events to the webhook registered with it, whatever port the
process sending them was told (issue 13: `make run PORT=8101` with SITE_URL at 8000 in .env)."""

import io

import pytest
from django.core.management import call_command

from tests.vendors.dr import DR, WebhookReceiver
from vendors import http as vendor_http
from vendors.sandbox import testing
from vendors.sandbox.digitalriver.events import webhook_url
from vendors.sandbox.digitalriver.models import DREvent, DRWebhook

pytestmark = pytest.mark.django_db

SERVED = "http://127.0.0.1:8101/"  # where the web server runs
STALE = "http://127.0.0.1:8000/"  # what a shell's .env still says
REGISTERED = f"{SERVED}webhooks/digitalriver/"


@pytest.fixture
def receivers(settings, monkeypatch) -> dict[str, WebhookReceiver]:
    """A recorder on each port; the posting process believes SITE_URL is the stale one."""
    settings.SITE_URL = STALE.rstrip("/")
    settings.SANDBOX_DR_WEBHOOK_URL = ""
    found = {SERVED: WebhookReceiver(), STALE: WebhookReceiver()}

    def build_session():
        session = testing.sandbox_session()
        for origin, receiver in found.items():
            session.mount(origin, receiver)
        return session

    monkeypatch.setattr(vendor_http, "build_session", build_session)
    return found


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command("sandbox_dr", *args, stdout=out, **options)
    return out.getvalue()


def test_a_sandbox_command_delivers_to_the_registered_port_not_site_url(receivers):
    run("register-webhook", url=REGISTERED)
    event = DREvent.objects.create(type="order.accepted", data={"object": {"id": "1"}})

    out = run("deliver")

    assert f"Delivered 1 event(s) to {REGISTERED}" in out
    assert [d.event["id"] for d in receivers[SERVED].received] == [event.event_id]
    assert receivers[STALE].received == []
    event.refresh_from_db()
    assert event.delivered


def test_without_a_registration_events_go_to_site_url(receivers):
    DREvent.objects.create(type="order.accepted", data={"object": {"id": "1"}})

    run("deliver")

    assert len(receivers[STALE].received) == 1 and receivers[SERVED].received == []


def test_registering_replaces_the_endpoint_and_get_webhooks_lists_it(receivers):
    run("register-webhook", url=f"{STALE}webhooks/digitalriver/")
    out = run("register-webhook", url=REGISTERED)

    assert f"events now go to {REGISTERED}" in out
    assert list(DRWebhook.objects.values_list("address", flat=True)) == [REGISTERED]
    listed = testing.sandbox_session().get(
        f"{testing.SANDBOX_ORIGIN.rstrip('/')}{DR}/webhooks",
        headers={"Authorization": "Bearer sk_test_sandbox"},
    )
    assert [w["address"] for w in listed.json()] == [REGISTERED]


def test_seed_demo_registers_the_webhook_of_the_port_it_runs_for(sandbox, settings):
    """`make run PORT=8101` runs seed_demo with SITE_URL at 8101: events then reach that port."""
    settings.SITE_URL = SERVED.rstrip("/")

    call_command("seed_demo", stdout=io.StringIO())

    settings.SITE_URL = STALE.rstrip("/")  # another shell, reading .env
    assert webhook_url() == REGISTERED
