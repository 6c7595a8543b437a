"""`make run PORT=...` on a port other than 8000: a sandbox command run from another shell, whose
.env still says SITE_URL=...:8000, posts its Digital River events to the web server on the port
seed_demo registered (issue 13), over real HTTP."""

import os
import subprocess
import sys
import time

import pytest
import requests

from tests.e2e.test_real_path import ROOT, _free_port

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def test_sandbox_webhooks_reach_the_port_the_web_server_runs_on(tmp_path):
    port, stale_port = _free_port(), _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.development",
        "DJANGO_READ_DOT_ENV": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'port.sqlite3'}",
        "SITE_URL": base,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_ENCRYPTION_KEYS": "ZTJlLXRlc3QtZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM=",
        "PYTHONUNBUFFERED": "1",
    }
    # Another shell: the same database, SITE_URL still at the old port.
    shell = {**env, "SITE_URL": f"http://127.0.0.1:{stale_port}"}
    manage = [sys.executable, str(ROOT / "manage.py")]

    def run(*args, environ=env) -> str:
        done = subprocess.run(
            [*manage, *args], env=environ, cwd=ROOT, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    run("migrate", "--no-input")
    assert f"events now go to {base}/webhooks/digitalriver/" in run("seed_demo")
    event_id = run(
        "shell",
        "-c",
        "from vendors.sandbox.models import DREvent; print(DREvent.objects.create(type='sandbox.port_check').event_id)",
        environ=shell,
    ).splitlines()[-1]
    log = (tmp_path / "web.log").open("w")
    web = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "web.log").read_text()[-3000:]
            time.sleep(0.3)

        out = run("sandbox_dr", "deliver", environ=shell)

        assert f"Delivered 1 event(s) to {base}/webhooks/digitalriver/; 0 still undelivered." in out
        stored = run(
            "shell",
            "-c",
            f"from billing.models import WebhookEvent; print(WebhookEvent.objects.filter(event_id='{event_id}').count())",
            environ=shell,
        )
        assert stored.splitlines()[-1] == "1"
        assert "POST /webhooks/digitalriver/" in (tmp_path / "web.log").read_text()
    finally:
        web.terminate()
        web.wait(timeout=15)
        log.close()
