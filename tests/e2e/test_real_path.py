"""The real path: the web server, a real qcluster process, HTTP to the sandbox, a real database.

On SQLite it uses a fresh database file; when DATABASE_URL points at PostgreSQL it creates a
throwaway database there. Nothing is shared with the pytest-django test database.
"""

import os
import time
import uuid
from urllib.parse import urlparse, urlunparse

import pytest
import requests

from tests.e2e.processes import demo_stack

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]


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
    with demo_stack(database_url, tmp_path) as (_, base, token):
        yield base, token, tmp_path


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
