"""`make run PORT=...` on a port other than 8000: a sandbox command run from another shell, whose
.env still says SITE_URL=...:8000, posts its Digital River events to the web server on the port
seed_demo registered (issue 13), over real HTTP."""

import pytest

from tests.e2e.processes import environment, free_port, manage, start, stop, wait_until_up

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_sandbox_webhooks_reach_the_port_the_web_server_runs_on(tmp_path):
    port, stale_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(base, f"sqlite:///{tmp_path / 'port.sqlite3'}", DJANGO_READ_DOT_ENV="0")
    # Another shell: the same database, SITE_URL still at the old port.
    shell = {**env, "SITE_URL": f"http://127.0.0.1:{stale_port}"}

    manage(env, "migrate", "--no-input")
    assert f"events now go to {base}/webhooks/digitalriver/" in manage(env, "seed_demo")
    event_id = manage(
        shell,
        "shell",
        "-c",
        "from vendors.sandbox.digitalriver.models import DREvent; print(DREvent.objects.create(type='sandbox.port_check').event_id)",
    ).splitlines()[-1]
    web = start(env, tmp_path / "web.log", "runserver", f"127.0.0.1:{port}", "--noreload")
    try:
        wait_until_up(base, tmp_path / "web.log")

        out = manage(shell, "sandbox_dr", "deliver")

        assert f"Delivered 1 event(s) to {base}/webhooks/digitalriver/; 0 still undelivered." in out
        stored = manage(
            shell,
            "shell",
            "-c",
            f"from billing.models import WebhookEvent; print(WebhookEvent.objects.filter(event_id='{event_id}').count())",
        )
        assert stored.splitlines()[-1] == "1"
        assert "POST /webhooks/digitalriver/" in (tmp_path / "web.log").read_text()
    finally:
        stop(web)
