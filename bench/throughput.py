"""Provisioning throughput through django-q2 with 1, 2 and 4 workers (`make bench` runs it after bench.run).

Real processes, as in production: the web server (serving the sandbox, which answers every vendor
call after SANDBOX_LATENCY_SECONDS, a sandbox-only control) and one `manage.py qcluster` per
worker count, on PostgreSQL (a throw-away database next to DATABASE_URL's) or else a throw-away
SQLite file, and on the Redis broker when Redis answers (REDIS_URL, default 127.0.0.1:6379), else
the ORM broker.

Each round queues --operations subaccount creations in one transaction (one Operation and one
DigiCert call each) and times them from that transaction's commit, which sends them to the broker,
until every Operation has succeeded; then as many no-op tasks
that only sleep what one operation spent waiting for the vendor, as the worker's client measured it
(the `vendors` log line of each call: the sandbox's latency plus the sandbox's own work, which a
real vendor's answer time also includes): the floor of a task that waits as long and does nothing
else. The ratio is what our own work per operation (lease, bookkeeping, audit) costs.

Targets (ratios only; exit 1 when one is missed):
- 4 workers at least 3x the operations/second of 1 worker;
- provisioning at least 80% of the no-op tasks' throughput (2 workers, and every other count shown).

    python -m bench.throughput [--operations 40] [--latency 0.2] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

SCALING_TARGET = 3.0  # 4 workers / 1 worker
NOOP_TARGET = 0.80  # provisioning / no-op tasks
ROOT = Path(__file__).resolve().parents[1]
DONE = ("succeeded", "failed", "unknown")
VENDOR_CALL = re.compile(r"INFO vendors digicert \S+ \S+ -> \d+ \((\d+) ms\)")


# --- Inside the processes -------------------------------------------------------------------------


def noop(seconds: float) -> None:
    """The no-op task: waits as long as one operation's vendor calls, does nothing else."""
    time.sleep(seconds)


def drive(kind: str, count: int, tag: str, noop_seconds: float = 0.0) -> None:
    """Run in `manage.py shell`: queue `count` tasks, wait until all are done, print the figures as JSON."""
    from django.db import transaction
    from django_q.models import Failure, Success
    from django_q.tasks import async_task

    if kind == "noop":
        started = time.perf_counter()
        for _ in range(count):
            async_task("bench.throughput.noop", noop_seconds, group=tag)
        while Success.objects.filter(group=tag).count() + Failure.objects.filter(group=tag).count() < count:
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        print(json.dumps({"seconds": seconds, "failed": Failure.objects.filter(group=tag).count()}))
        return

    from core.actor import Actor, Face
    from core.models import Operation
    from partner import services
    from partner.models import Partner
    from vendors.sandbox.state import RequestLogEntry

    actor = Actor.system(Face.COMMAND)
    partner = Partner.objects.order_by("pk").first()
    customers = [
        services.create_customer(
            actor, partner, name=f"Bench {tag} {i}", reference=f"{tag}-{i}", contact_email="b@example.com"
        )
        for i in range(count)
    ]
    calls_before = RequestLogEntry.objects.filter(vendor="digicert").count()
    committed = []
    with transaction.atomic():  # every task goes to the broker at the commit
        # The clock starts at the commit, before the first task is sent: the requests that asked
        # for the subaccounts are the web's work, done once whatever the worker count.
        transaction.on_commit(lambda: committed.append(time.perf_counter()))
        subaccounts = [services.request_subaccount(actor, c, "digicert") for c in customers]
    ops = Operation.objects.filter(object_id__in=[str(s.pk) for s in subaccounts])
    while ops.exclude(state__in=DONE).exists():
        time.sleep(0.05)
    seconds = time.perf_counter() - committed[0]
    calls = RequestLogEntry.objects.filter(vendor="digicert").count() - calls_before
    states = sorted(ops.values_list("state", flat=True))
    print(json.dumps({"seconds": seconds, "calls": calls, "failed": sum(s != "succeeded" for s in states)}))


# --- The conductor ---------------------------------------------------------------------------------


def _database(tmp: Path):
    """A throw-away database: next to DATABASE_URL's on PostgreSQL, else a SQLite file. (url, drop)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return f"sqlite:///{tmp / 'throughput.sqlite3'}", "SQLite", lambda: None
    import psycopg

    name = f"bench_tp_{uuid.uuid4().hex[:10]}"
    # Created from the server's maintenance database, as the test runner does: DATABASE_URL's own
    # database need not exist (bench.run makes a test_ one next to it too).
    maintenance = urlunparse(urlparse(url)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return urlunparse(urlparse(url)._replace(path=f"/{name}")), "PostgreSQL", drop


def _redis_url() -> str | None:
    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:  # not installed, not running: the ORM broker
        return None
    return url


def _wait_for_cluster(log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while "running." not in log.read_text():
        if time.monotonic() > deadline:
            raise SystemExit(f"qcluster did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def _gunicorn(env: dict, log_path: Path, port: int) -> subprocess.Popen:
    """The web server as in production (several processes), so the sandbox is not one process's GIL."""
    log = log_path.open("w")  # closed by stop()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [
        str(gunicorn),
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "4",
        "--threads",
        "2",
    ]
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    proc.log = log
    return proc


def _shell(env: dict, code: str) -> dict:
    from tests.e2e.processes import manage

    return json.loads(manage(env, "shell", "-c", code).strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operations", type=int, default=40, help="operations (and no-op tasks) per round")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the sandbox takes to answer")
    parser.add_argument(
        "--workers", default="1,2,4", help="worker counts, comma-separated (first is the base)"
    )
    args = parser.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",")]

    from tests.e2e.processes import environment, free_port, manage, start, stop, wait_until_up

    tmp = Path(tempfile.mkdtemp(prefix="bench-throughput-"))
    database_url, database, drop = _database(tmp)
    redis_url = _redis_url()
    name = f"bench-{uuid.uuid4().hex[:10]}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = environment(
        base,
        database_url,
        DIGICERT_BASE_URL="",
        CLOUDFLARE_BASE_URL="",
        DIGITALRIVER_BASE_URL="",
        Q_BROKER="redis" if redis_url else "orm",
        REDIS_URL=redis_url or "",
        Q_NAME=name,
        Q_POLL="0.05",
        SANDBOX_LATENCY_SECONDS=str(args.latency),
        DJANGO_LOG_LEVEL="WARNING",
    )
    broker = f"Redis ({redis_url})" if redis_url else "ORM (Redis not reachable)"
    print(
        f"Throughput through django-q2: {database}, broker {broker}, sandbox latency {args.latency:g} s, "
        f"{args.operations} operations per round"
    )
    results: dict[int, dict] = {}
    web = None
    try:
        manage(env, "migrate", "--no-input")
        manage(env, "seed_demo")
        web = _gunicorn(env, tmp / "web.log", port)
        wait_until_up(base, tmp / "web.log")
        for workers in counts:
            log = tmp / f"worker-{workers}.log"
            cluster = start({**env, "Q_WORKERS": str(workers)}, log, "qcluster")
            try:
                _wait_for_cluster(log)
                tag = f"w{workers}"
                prov = _shell(
                    env, f"from bench.throughput import drive; drive('provision', {args.operations}, {tag!r})"
                )
                # What the worker's client waited per vendor call ("digicert POST ... -> 201 (248 ms)").
                waits = [int(ms) for ms in VENDOR_CALL.findall(log.read_text())]
                vendor_seconds = (sum(waits) / len(waits) / 1000) if waits else args.latency
                per_op = vendor_seconds * prov["calls"] / args.operations
                code = f"from bench.throughput import drive; drive('noop', {args.operations}, 'noop-{tag}', {per_op!r})"
                nop = _shell(env, code)
            finally:
                stop(cluster)
            results[workers] = {
                "provision": args.operations / prov["seconds"],
                "noop": args.operations / nop["seconds"],
                "calls": prov["calls"],
                "vendor_ms": vendor_seconds * 1000,
                "failed": prov["failed"] + nop["failed"],
            }
    finally:
        if web:
            stop(web)
        drop()
        shutil.rmtree(tmp, ignore_errors=True)
        if redis_url:
            import redis

            redis.Redis.from_url(redis_url).delete(f"django_q:{name}:q")
    return report(results, counts)


def report(results: dict[int, dict], counts: list[int]) -> int:
    base = counts[0]
    print(
        f"{'workers':>8} {'ops/s':>8} {'no-op/s':>8} {'vs 1w':>7} {'vs no-op':>9} {'calls':>6} {'vendor ms':>10} {'failed':>6}"
    )
    for workers in counts:
        r = results[workers]
        print(
            f"{workers:>8} {r['provision']:>8.2f} {r['noop']:>8.2f} "
            f"{r['provision'] / results[base]['provision']:>6.2f}x {r['provision'] / r['noop']:>8.0%} "
            f"{r['calls']:>6} {r['vendor_ms']:>10.0f} {r['failed']:>6}"
        )
    missed = []
    for workers in counts[1:]:
        ratio = results[workers]["provision"] / results[base]["provision"]
        target = SCALING_TARGET if workers == 4 else None
        mark = "" if target is None else (" ok" if ratio >= target else " MISSED")
        print(f"{workers}w/{base}w: {ratio:.2f}x" + (f" (target >= {target:g}x){mark}" if target else ""))
        if target and ratio < target:
            missed.append(f"{workers}w/{base}w")
    if 2 in results:
        share = results[2]["provision"] / results[2]["noop"]
        ok = share >= NOOP_TARGET
        print(
            f"provisioning vs no-op tasks (2 workers): {share:.0%} (target >= {NOOP_TARGET:.0%}){'' if ok else ' MISSED'}"
        )
        if not ok:
            missed.append("provisioning vs no-op")
    if any(r["failed"] for r in results.values()):
        print("Some operations or tasks did not succeed: see the failed column (figures still shown).")
    if missed:
        print("Missed: " + ", ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
