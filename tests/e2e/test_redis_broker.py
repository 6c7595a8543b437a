"""django-q2 on the Redis broker: a task queued by the web process runs in a real qcluster process.

The same path as test_real_path (runserver, qcluster, HTTP to the sandbox, a real database) with
Q_BROKER=redis: nothing goes through the ORM broker's table, and the Operation behind the
subaccount succeeds with its vendor call made once. Skipped when Redis is not reachable.
"""

import json
import os
import time
import uuid

import pytest
import requests

from tests.e2e.processes import demo_stack, manage
from tests.e2e.test_real_path import database_url  # noqa: F401 - the fixture (SQLite file or a PG database)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e")]

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def _redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({exc}); the Redis broker test needs it")
    return client


@pytest.fixture
def redis_stack(database_url, tmp_path):  # noqa: F811
    client = _redis()
    name = f"e2e-{uuid.uuid4().hex[:10]}"  # its own queue key in a shared Redis
    try:
        with demo_stack(database_url, tmp_path, Q_BROKER="redis", REDIS_URL=REDIS_URL, Q_NAME=name) as (
            env,
            base,
            token,
        ):
            yield env, base, token, tmp_path
    finally:
        client.delete(f"django_q:{name}:q")


REPORT = """
import json
from django.contrib.contenttypes.models import ContentType
from django_q.models import OrmQ, Success
from core.models import Operation
from partner.models import Subaccount
sub = Subaccount.objects.get(pk={pk})
ops = Operation.objects.filter(content_type=ContentType.objects.get_for_model(Subaccount), object_id=str(sub.pk))
print(json.dumps({{
    "operations": [[op.kind, op.state, op.attempts] for op in ops],
    "orm_queue": OrmQ.objects.count(),
    "successes": Success.objects.count(),
}}))
"""


def test_a_task_queued_through_redis_runs_in_qcluster_and_its_operation_succeeds(redis_stack):
    env, base, token, logdir = redis_stack
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    customer = session.get(f"{base}/api/v1/customers/", timeout=10).json()["results"][0]
    response = session.post(
        f"{base}/api/v1/subaccounts/", json={"customer": customer["id"], "vendor": "digicert"}, timeout=10
    )
    assert response.status_code == 202, response.text
    pk = response.json()["id"]
    deadline = time.monotonic() + 90
    state = {}
    while time.monotonic() < deadline:
        state = session.get(f"{base}/api/v1/subaccounts/{pk}/", timeout=10).json()
        if state["state"] == "active":
            break
        time.sleep(0.3)
    worker_log = (logdir / "worker.log").read_text()
    assert state["state"] == "active", (state, worker_log[-3000:])
    # The cluster ran on the Redis broker, on this test's own list key.
    assert f"[django_q:{env['Q_NAME']}:q] running" in worker_log, worker_log[-3000:]
    report = json.loads(manage(env, "shell", "-c", REPORT.format(pk=pk)).strip().splitlines()[-1])
    # The create operation succeeded on its first lease: one vendor call.
    assert [[kind, st, n] for kind, st, n in report["operations"] if st == "succeeded"], report
    assert all(st == "succeeded" and n == 1 for _, st, n in report["operations"]), report
    assert report["orm_queue"] == 0, report  # nothing went through the ORM broker's table
    assert report["successes"] >= 1, report  # django-q2 recorded the task's result
