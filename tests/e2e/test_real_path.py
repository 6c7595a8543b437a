"""The real path: the web server, a real qcluster process, HTTP to the sandbox, a real database.

On SQLite it uses a fresh database file; when DATABASE_URL points at PostgreSQL it creates a
throwaway database there. Nothing is shared with the pytest-django test database.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def database_url(tmp_path):
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        yield f"sqlite:///{tmp_path / 'e2e.sqlite3'}"
        return
    import psycopg

    name = f"e2e_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield urlunparse(urlparse(url)._replace(path=f"/{name}"))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def stack(database_url, tmp_path):
    """migrate + seed_demo, then runserver and qcluster as real processes; yields (base URL, token)."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.development",
        "DATABASE_URL": database_url,
        "SITE_URL": base,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_ENCRYPTION_KEYS": "ZTJlLXRlc3QtZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM=",
        "DIGICERT_BASE_URL": "",
        "CLOUDFLARE_BASE_URL": "",
        "DIGITALRIVER_BASE_URL": "",
        "Q_POLL": "0.2",
        "PYTHONUNBUFFERED": "1",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]

    def run(*args):
        done = subprocess.run(
            [*manage, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    run("migrate", "--no-input")
    run("seed_demo")
    token = run("create_api_token", "reseller").strip().splitlines()[-1]
    logs = {name: open(tmp_path / f"{name}.log", "w") for name in ("web", "worker")}  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
            env=env,
            cwd=ROOT,
            stdout=logs["web"],
            stderr=subprocess.STDOUT,
        ),
        subprocess.Popen(
            [*manage, "qcluster"],
            env=env,
            cwd=ROOT,
            stdout=logs["worker"],
            stderr=subprocess.STDOUT,
        ),
    ]
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
        yield base, token, tmp_path
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs.values():
            log.close()


def test_subaccounts_are_created_through_web_worker_and_sandbox_over_http(stack):
    base, token, logdir = stack
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    customers = session.get(f"{base}/api/v1/customers/", timeout=10).json()["results"]
    assert len(customers) >= 2
    created = []
    for customer, vendor in zip(customers, ["digicert", "cloudflare"], strict=False):
        response = session.post(
            f"{base}/api/v1/subaccounts/",
            json={"customer": customer["id"], "vendor": vendor},
            timeout=10,
        )
        assert response.status_code == 202, response.text
        assert response.json()["state"] == "pending"
        created.append(response.json()["id"])
    deadline = time.monotonic() + 90
    states = {}
    while time.monotonic() < deadline:
        states = {pk: session.get(f"{base}/api/v1/subaccounts/{pk}/", timeout=10).json() for pk in created}
        if all(s["state"] == "active" for s in states.values()):
            break
        time.sleep(0.5)
    worker_log = (logdir / "worker.log").read_text()
    assert all(s["state"] == "active" for s in states.values()), (states, worker_log[-3000:])
    assert all(s["vendor_id"] and s["has_api_key"] == (s["vendor"] == "digicert") for s in states.values())
    # The sandbox saw real HTTP requests for them, and no secret reached the worker's log.
    assert "demo-digicert-partner-key" not in worker_log
