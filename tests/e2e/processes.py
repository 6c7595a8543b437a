"""Real processes for the end-to-end tests: a free port, the environment, manage.py, waiting for the web server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(ROOT / "manage.py")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(base: str, database_url: str, **extra: str) -> dict:
    """Development settings against `database_url`, answering at `base`, with a fixed encryption key."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.development",
        "DATABASE_URL": database_url,
        "SITE_URL": base,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_ENCRYPTION_KEYS": "ZTJlLXRlc3QtZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM=",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def manage(env: dict, *args: str) -> str:
    """Run a management command to completion; its output, or the test fails with its errors."""
    done = subprocess.run([*MANAGE, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def start(env: dict, log_path: Path, *args: str) -> subprocess.Popen:
    """Start a long-running management command (runserver, qcluster), its output in `log_path`."""
    log = log_path.open("w")  # closed by stop()
    proc = subprocess.Popen([*MANAGE, *args], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    proc.log = log
    return proc


def wait_until_up(base: str, log_path: Path, seconds: float = 60) -> None:
    """Until the web server answers /healthz; past `seconds` the test fails with the server's log."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=5).ok:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, log_path.read_text()[-3000:]
        time.sleep(0.3)


def stop(*procs: subprocess.Popen) -> None:
    """Terminate, then kill what does not stop within 15 s; close their logs."""
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.log.close()


@contextmanager
def demo_stack(database_url: str, tmp_path: Path, **extra: str):
    """migrate + seed_demo on `database_url`, then runserver and qcluster as real processes, the
    embedded sandbox as the vendors; yields (environment, base URL, a reseller's API token)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    vendors = {"DIGICERT_BASE_URL": "", "CLOUDFLARE_BASE_URL": "", "DIGITALRIVER_BASE_URL": ""}
    env = environment(base, database_url, **vendors, Q_POLL="0.2", **extra)
    manage(env, "migrate", "--no-input")
    manage(env, "seed_demo")
    token = manage(env, "create_api_token", "reseller").strip().splitlines()[-1]
    procs = [
        start(env, tmp_path / "web.log", "runserver", f"127.0.0.1:{port}", "--noreload"),
        start(env, tmp_path / "worker.log", "qcluster"),
    ]
    try:
        wait_until_up(base, tmp_path / "web.log")
        yield env, base, token
    finally:
        stop(*procs)
