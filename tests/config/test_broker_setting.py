"""Q_BROKER chooses django-q2's broker: the ORM by default, Redis (REDIS_URL) when asked, nothing else."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import django, json; django.setup(); from django.conf import settings; "
    "print(json.dumps({k: settings.Q_CLUSTER.get(k) for k in ('name', 'orm', 'redis')}))"
)


def _settings(**env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("Q_", "REDIS_URL"))}
    environment |= {
        "DJANGO_SETTINGS_MODULE": "config.settings.development",
        "DJANGO_READ_DOT_ENV": "0",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", SHOW], env=environment, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_the_default_broker_is_the_orm_so_a_fresh_checkout_needs_no_redis():
    done = _settings()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"name": "backoffice", "orm": "default", "redis": None}


def test_q_broker_redis_uses_redis_url_and_q_name():
    done = _settings(Q_BROKER="redis", REDIS_URL="redis://cache.internal:6380/2", Q_NAME="shared")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "name": "shared",
        "orm": None,
        "redis": "redis://cache.internal:6380/2",
    }


def test_an_unknown_broker_is_refused_at_start_up():
    done = _settings(Q_BROKER="rabbit")
    assert done.returncode != 0
    assert "Q_BROKER='rabbit' is not one of orm, redis" in done.stderr
