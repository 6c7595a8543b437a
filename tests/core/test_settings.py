"""Production settings refuse to start without their secrets, refuse the sandbox, pass check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "x" * 64 + "-production-like-secret-key-for-the-check",
    "SECRET_ENCRYPTION_KEYS": "ZTJlLXRlc3QtZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM=",
    "DATABASE_URL": "postgres://u:p@localhost:5432/db",
    "ALLOWED_HOSTS": "backoffice.example.com",
    "DIGICERT_BASE_URL": "https://www.digicert.com/partner-subscription/api/v1",
    "CLOUDFLARE_BASE_URL": "https://api.cloudflare.com/client/v4",
    "DIGITALRIVER_BASE_URL": "https://api.digitalriver.com",
    "DIGITALRIVER_API_KEY": "sk_live_example",
    "DIGITALRIVER_WEBHOOK_SECRETS": "whsec_example",
}


def _manage(*args, **env):
    dropped = {*PRODUCTION_ENV, "SANDBOX_ENABLED", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_READ_DOT_ENV": "0", **env},  # not a developer's .env from `make run`
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_settings():
    done = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "SECRET_ENCRYPTION_KEYS", "DIGICERT_BASE_URL", "DIGITALRIVER_API_KEY"]
)
def test_production_refuses_to_start_without_a_secret_or_vendor_url(missing):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    done = _manage("check", **env)
    assert done.returncode != 0
    assert missing in done.stderr and "refuse" in done.stderr


def test_production_refuses_the_sandbox():
    done = _manage("check", SANDBOX_ENABLED="true", **PRODUCTION_ENV)
    assert done.returncode != 0 and "SANDBOX_ENABLED" in done.stderr


def test_development_sqlite_uses_wal_and_immediate_transactions(settings):
    from config.settings import base

    options = base.DATABASES["default"].get("OPTIONS", {})
    if base.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        assert options["transaction_mode"] == "IMMEDIATE" and "journal_mode=WAL" in options["init_command"]
