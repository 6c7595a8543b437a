"""The scale bench (not part of `make test`): `make bench-scale` or `python -m bench.scale --subscriptions N`.

It seeds a book of N billing subscriptions (N/10 customers, N/1000 partners; default 1,000,000) on
PostgreSQL with COPY, and measures the same pages in a small book of 10,000 subscriptions first, in
the same run and database: the small book is seeded, measured, then grown to N and measured again.

- The reseller's pages (dashboard home, customers list and search, renewals by week, certificates,
  reconciliation) and the API lists are requested as the owner of partner 0, which holds 1,000
  subscriptions in both books: their cost must follow the page, not the book.
- Every admin changelist registered (and its search, `?q=`, where it has search fields) is
  requested as staff, who see the whole book: 100 times more rows at N = 1,000,000. Each list
  shows pages of 10 rows in both books (the small book holds only 10 partners, members, runs...).

Each figure is the fastest of a few rounds (a shared machine's noise only ever adds time), each
round going over every page in turn, so one burst of noise cannot fall on all of a page's timings
(Django's test Client, force_login; APIClient with a token), printed as ours (at N) | baseline (at 10,000) | ratio | target (<= 1.5x, and the same number
of queries) | status. The bench exits 1 only on a missed ratio or query count, never on absolute
milliseconds. It needs DATABASE_URL to PostgreSQL and uses its own throw-away test database.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

SMALL = 10_000
TARGET = 1.5
# Pages of a few milliseconds are noise-bound: a ratio counts only past this many milliseconds of
# difference (printed, so a reader sees when it applied).
NOISE_MS = 3.0
# Every admin list shows pages of this many rows in both books: at 10,000 a table with one row per
# partner (partners, members, runs...) holds 10 rows, so a page of 100 would not be the same page.
ADMIN_PAGE = 10
PLAN_LINES = 14  # lines of each missed page's slowest plans
SEARCH = "00000-042"  # partner 0's customer 42: the same few rows in both books (and none elsewhere)


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=1_000_000, help="size of the big book")
    parser.add_argument("--rounds", type=int, default=5, help="timed requests per page (the fastest counts)")
    parser.add_argument("--only", default="", help="measure only pages whose label contains this")
    parser.add_argument(
        "--keep", action="store_true", help="leave the test database at the end (to EXPLAIN its pages)"
    )
    args = parser.parse_args(argv)
    if args.subscriptions < SMALL or args.subscriptions % 1000:
        parser.error(f"--subscriptions must be a multiple of 1,000 and at least {SMALL:,}")
    return args


def main(argv=None) -> int:
    args = _parse(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print(
            "bench.scale needs PostgreSQL: set DATABASE_URL=postgres://... (it seeds with COPY and "
            "measures PostgreSQL's plans; SQLite is refused)."
        )
        return 2
    import django
    from django.test.utils import setup_test_environment

    django.setup()
    setup_test_environment()
    from django.conf import settings
    from django.test.utils import get_runner

    runner = get_runner(settings)(verbosity=0, interactive=False)
    started = time.perf_counter()
    old = runner.setup_databases()
    try:
        return _run(args, started)
    finally:
        if not args.keep:  # the next run recreates it either way (interactive=False)
            runner.teardown_databases(old)
        print(f"Total run time: {time.perf_counter() - started:.0f} s")


def _grow(first: int, count: int, plans) -> None:
    from bench.scale_seed import analyze, reset_sequences, seed_partners

    started = time.perf_counter()
    step = 100  # partners per COPY batch: memory stays flat, rows stream
    written = {}
    for start in range(first, first + count, step):
        for label, rows in seed_partners(start, min(step, first + count - start), plans).items():
            written[label] = written.get(label, 0) + rows
    reset_sequences()
    analyze()
    total = sum(written.values())
    print(f"  seeded {total:,} rows for {count} partners in {time.perf_counter() - started:.0f} s")


def _api_lists() -> list[str]:
    """Every list endpoint of /api/v1/ (router names ending in -list, without a URL argument)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    found = []

    def walk(patterns, prefix):
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and (p.name or "").endswith("-list") and "<" not in str(p.pattern):
                route = (prefix + str(p.pattern)).replace("^", "").replace("$", "").replace("\\", "")
                if route.startswith("api/v1/") and "(?P" not in route:
                    found.append("/" + route)

    walk(get_resolver().url_patterns, "")
    return sorted(set(found))


def _admin_pages() -> list[tuple[str, str]]:
    """(label, url) of every registered admin changelist, and its search where it has search fields."""
    from django.contrib import admin
    from django.urls import reverse

    pages = []
    for model, model_admin in sorted(admin.site._registry.items(), key=lambda kv: kv[0]._meta.label):
        model_admin.list_per_page = ADMIN_PAGE
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        pages.append((f"admin {model._meta.label}", url))
        if model_admin.search_fields:
            pages.append((f"admin {model._meta.label} search", f"{url}?q={SEARCH}"))
    return pages


def _clients():
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.test import APIClient

    from bench.scale_seed import Ids
    from core.actor import Actor
    from core.tokens import issue_api_token

    User = get_user_model()
    owner = User.objects.get(pk=Ids.user(0))
    reseller, staff = Client(), Client()
    reseller.force_login(owner)
    staff.force_login(User.objects.get(pk=1))
    _, key = issue_api_token(Actor.system(), owner, "bench-scale")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return reseller, staff, api


def _pages():
    """(label, client name, url): the reseller's pages, the API lists, then every admin changelist."""
    reseller = [
        ("dashboard home", "/"),
        ("customers list", "/customers/"),
        ("customers search", f"/customers/?q={SEARCH}"),
        ("renewals by week", "/renewals/"),
        ("certificates", "/certificates/"),
        ("reconciliation", "/reconciliation/"),
        ("ACME subscriptions", "/subscriptions/"),
        ("zones", "/subscriptions/zones/"),
        ("checkouts", "/billing/checkouts/"),
    ]
    return (
        [(label, "reseller", url) for label, url in reseller]
        + [(f"API {url}", "api", url) for url in _api_lists()]
        + [(label, "staff", url) for label, url in _admin_pages()]
    )


def _measure(pages, clients, rounds: int) -> dict:
    from django.core.cache import cache
    from django.db import connection

    results = {}
    for label, who, url in pages:
        client = clients[who]
        cache.clear()
        try:
            response = client.get(url)  # warm-up (and the status)
        except Exception as error:  # a page that breaks on the seeded rows is a finding, not a crash
            print(f"  {label}: {type(error).__name__}: {error}")
            results[label] = dict(status=type(error).__name__, ms=0.0, queries=0)
            continue
        if response.status_code != 200:
            results[label] = dict(status=response.status_code, ms=0.0, queries=0)
            continue
        queries = []

        def timed(execute, sql, params, *rest, queries=queries):
            started = time.perf_counter()
            try:
                return execute(sql, params, *rest)
            finally:
                queries.append(((time.perf_counter() - started) * 1000, sql, params))

        with connection.execute_wrapper(timed):
            client.get(url)
        results[label] = dict(
            status=200, times=[], queries=len(queries), slowest=sorted(queries, key=lambda q: q[0])[-2:]
        )
    # Rounds go over every page in turn, so a page's timings are spread over the whole pass: a burst
    # of the shared machine's noise (it only ever adds time) cannot fall on all of them.
    timed_pages = [(label, clients[who], url) for label, who, url in pages if results[label]["status"] == 200]
    for _ in range(rounds):
        for label, client, url in timed_pages:
            started = time.perf_counter()
            client.get(url)
            results[label]["times"].append((time.perf_counter() - started) * 1000)
    for label, *_ in timed_pages:
        results[label]["ms"] = min(results[label].pop("times"))  # the fastest round
    return results


def _row(*cells) -> str:
    return "  | " + " | ".join(cells) + " |"


def _report(pages, small, big, size: int) -> list[str]:
    failures, slow = [], []
    print()
    print(f"  | page | ours at {size:,} | baseline at {SMALL:,} | ratio | queries | target | status |")
    print("  | --- | --- | --- | --- | --- | --- | --- |")
    for label, _, _ in pages:
        s, b = small[label], big[label]
        if s["status"] != 200 or b["status"] != 200:
            failures.append(f"{label}: HTTP {s['status']} / {b['status']}")
            print(_row(label, f"HTTP {b['status']}", f"HTTP {s['status']}", "-", "-", "200", "MISSED"))
            continue
        ratio = b["ms"] / max(s["ms"], 1e-6)
        within = ratio <= TARGET or b["ms"] - s["ms"] <= NOISE_MS
        same_queries = b["queries"] == s["queries"]
        status = "ok" if within and same_queries else "MISSED"
        if within and same_queries and ratio > TARGET:
            status = f"ok (within {NOISE_MS:.0f} ms)"
        if status == "MISSED":
            failures.append(f"{label}: {ratio:.2f}x, queries {b['queries']} vs {s['queries']}")
            slow.extend((label, ms, sql, params) for ms, sql, params in reversed(b["slowest"]))
        print(
            _row(
                label,
                f"{b['ms']:.1f} ms",
                f"{s['ms']:.1f} ms",
                f"{ratio:.2f}x",
                f"{b['queries']} vs {s['queries']}",
                f"<= {TARGET}x, same queries",
                status,
            )
        )
    if slow:
        print()
        print(f"The slowest queries of each missed page at {size:,}, with PostgreSQL's plan:")
        for label, ms, sql, params in slow:
            print(f"  - {label}: {ms:.0f} ms {sql[:300]}")
            for line in _plan(sql, params)[:PLAN_LINES]:
                print(f"      {line}")
    return failures


def _plan(sql, params) -> list[str]:
    from django.db import connection

    if not sql.lstrip("( ").upper().startswith(("SELECT", "WITH")):
        return []
    try:
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params)
            return [row[0] for row in cursor.fetchall()]
    except Exception as error:  # a plan is a diagnosis, never a reason to stop
        return [f"(no plan: {error})"]


def _run(args, started) -> int:
    from bench.scale_seed import seed_globals

    size = args.subscriptions
    print(f"Scale bench: pages at {size:,} subscriptions vs at {SMALL:,} (same run, same database)")
    _, plans = seed_globals()
    _grow(0, SMALL // 1000, plans)
    clients = dict(zip(("reseller", "staff", "api"), _clients(), strict=True))
    pages = [p for p in _pages() if args.only in p[0]]
    t = time.perf_counter()
    small = _measure(pages, clients, args.rounds)
    print(f"  measured {len(pages)} pages at {SMALL:,} in {time.perf_counter() - t:.0f} s")
    _grow(SMALL // 1000, (size - SMALL) // 1000, plans)
    t = time.perf_counter()
    big = _measure(pages, clients, args.rounds)
    print(f"  measured {len(pages)} pages at {size:,} in {time.perf_counter() - t:.0f} s")
    failures = _report(pages, small, big, size)
    print()
    print(f"Run time so far: {time.perf_counter() - started:.0f} s (target <= 20 min at 1,000,000)")
    print("OK: every page within its target." if not failures else "MISSED: " + "; ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
