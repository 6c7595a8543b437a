"""Benchmarks with seeded data (not part of `make test`): `make bench` or `python -m bench.run`.

Every figure is printed with a baseline measured in the same run and the ratio; the bench exits 1
only on a missed ratio or count, never on absolute milliseconds (the machines are noisy):
- API lists of 100 rows vs a bare DRF `ListAPIView` + `ModelSerializer` (all fields of the same
  model, same rows, page size, token auth), both views called directly with an `APIRequestFactory`
  request, medians of interleaved rounds: customers <= 1.3x, ACME contracts <= 1.5x; response bytes
  ours vs bare are printed beside them;
- API lists: the same number of queries for 10 and for 2,000 rows (counts, checked);
- renewal run: queries the same for 20 due among 200 and among 20,000 subscriptions (checked), peak
  Python memory under 50 MB (checked), time within 3x of the small run's (checked: a ratio);
- "not yet" figures (printed with the issue's targets, not checked, marked NOT YET): queries per
  renewal taken and performed (<= 3, <= 6) and the renewal run's time vs the time inside its
  vendor calls (<= 1.2x). The renewal run is not batched yet; these do not fail the bench.

It uses its own throw-away SQLite database (or DATABASE_URL) and the in-process sandbox.
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from contextlib import contextmanager
from datetime import timedelta

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def main() -> int:
    import django
    from django.test.utils import setup_test_environment

    django.setup()
    setup_test_environment()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import get_runner

    runner = get_runner(settings)(verbosity=0, interactive=False)
    old = runner.setup_databases()
    try:
        return _run(connection)
    finally:
        runner.teardown_databases(old)


# The back office renews only its own (external) subscriptions: the plan is run by the back office.
BENCH_PLAN = dict(plan_id="bench-monthly", name="Bench", terms="t", engine="back_office")
# Monthly, with the model's default reminder (30 days) and collection period (14 days).
BENCH_CYCLE = dict(interval="month", interval_count=1, contract_binding_days=30)


@contextmanager
def measured(connection):
    from django.test.utils import CaptureQueriesContext

    tracemalloc.start()
    started = time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        result = {}
        yield result
    result["seconds"] = time.perf_counter() - started
    result["queries"] = len(queries)
    result["peak_mb"] = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()


def _seed_subscriptions(partner, customers, plan, product, total: int, due: int):
    from billing.models import BillingSubscription, Checkout, SubscriptionState
    from core import clock

    acquisition = Checkout.objects.create(partner=partner, customer=customers[0], currency="USD")
    now = clock.now()
    rows = []
    for i in range(total):
        end = now - timedelta(hours=1) if i < due else now + timedelta(days=30 + i % 300)
        rows.append(
            BillingSubscription(
                partner=partner,
                customer=customers[i % len(customers)],
                product=product,
                plan=plan,
                acquisition=acquisition,
                price=product.price,
                state=SubscriptionState.ACTIVE,
                billing_agreement_id=f"ba-{i}",
                payment_source_id=f"src-{i}",
                current_period_end_date=end,
                next_invoice_date=end,
                subscription_id=f"bench-{total}-{i}",
            )
        )
    BillingSubscription.objects.bulk_create(rows, batch_size=1000)


def _renewal_run(connection, total: int, due: int) -> dict:
    from billing.seeding import seed_catalog
    from billing.services import renewals
    from core import tasks
    from core.actor import Actor
    from tests.factories import CustomerFactory, PartnerFactory

    partner = PartnerFactory()
    customers = CustomerFactory.create_batch(20, partner=partner)
    product = dict(sku_id=f"bench-{total}", name="Bench", price="9", plan="bench-monthly")
    seeded = seed_catalog(Actor.system(), partner, plans=[BENCH_PLAN | BENCH_CYCLE], products=[product])
    plan, product = seeded.plans["bench-monthly"], seeded.products[f"bench-{total}"]
    _seed_subscriptions(partner, customers, plan, product, total, due)
    tasks.async_task = lambda *a, **k: None  # measure the run itself, not the vendor calls it queues
    with measured(connection) as result:
        taken = renewals.run_renewals()
    result["taken"] = taken
    return result


ACME_ROWS = 60  # ACME contracts in the query-count check: 10 rows vs 60 (more than the page of 50)


def _api_lists(connection, rows: int) -> dict:
    from rest_framework.test import APIClient

    from core.actor import Actor
    from core.tokens import issue_api_token
    from tests.factories import (
        AcmeContractFactory,
        CustomerFactory,
        MembershipFactory,
        OperationFactory,
        PartnerFactory,
        SubaccountFactory,
    )

    partner = PartnerFactory()
    for i, customer in enumerate(CustomerFactory.create_batch(rows, partner=partner)):
        subaccount = SubaccountFactory(customer=customer, active=True)
        if i < ACME_ROWS:  # more than a page of contracts, each with an operation
            OperationFactory(target=AcmeContractFactory(active=True, subaccount=subaccount))
    user = MembershipFactory(partner=partner, role="owner").user
    _, key = issue_api_token(Actor.system(), user, "bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    results = {}
    for url in ("/api/v1/customers/", "/api/v1/subaccounts/", "/api/v1/acme-contracts/"):
        client.get(url)
        with measured(connection) as result:
            assert client.get(url).status_code == 200
        results[url] = result
    return results


ROUNDS = 9  # interleaved rounds (ours, bare, ours, bare, ...); the medians are compared
CALLS = 3  # requests per timing, to lift each one above the clock's noise


def _bare_view(model, queryset):
    """The floor: a bare DRF ListAPIView + ModelSerializer of all the model's fields, same pagination."""
    from rest_framework import generics, serializers

    from core.api.pagination import StandardPagination

    class BareSerializer(serializers.ModelSerializer):
        class Meta:
            fields = "__all__"

    BareSerializer.Meta.model = model

    class BareList(generics.ListAPIView):
        serializer_class = BareSerializer
        pagination_class = StandardPagination

        def get_queryset(self):
            return queryset.all()

    return BareList.as_view()


def _call(view, request_factory, path, key, rows):
    response = view(request_factory.get(path, {"page_size": rows}, HTTP_AUTHORIZATION=f"Token {key}"))
    response.render()
    assert response.status_code == 200, response.content[:300]
    return response


def _interleaved(ours, bare) -> tuple[float, float]:
    """Median seconds of ours and of bare over interleaved rounds (bare first on odd rounds)."""
    import statistics

    times = {"ours": [], "bare": []}
    for i in range(ROUNDS):
        order = (("ours", ours), ("bare", bare)) if i % 2 == 0 else (("bare", bare), ("ours", ours))
        for name, fn in order:
            started = time.perf_counter()
            for _ in range(CALLS):
                fn()
            times[name].append((time.perf_counter() - started) / CALLS)
    return statistics.median(times["ours"]), statistics.median(times["bare"])


def _seed_api_rows(rows: int):
    """A partner with `rows` customers (one active subaccount each) and `rows` active ACME contracts,
    each with three operations (an older succeeded pair and a newest pending one)."""
    from core import clock
    from core.actor import Actor
    from core.tokens import issue_api_token
    from tests.factories import (
        AcmeContractFactory,
        CustomerFactory,
        MembershipFactory,
        OperationFactory,
        PartnerFactory,
        SubaccountFactory,
    )

    partner = PartnerFactory()
    subaccounts = [
        SubaccountFactory(customer=c, active=True)
        for c in CustomerFactory.create_batch(rows, partner=partner)
    ]
    now = clock.now()
    for subaccount in subaccounts:
        contract = AcmeContractFactory(active=True, subaccount=subaccount)
        for age, trait in ((3, "succeeded"), (2, "succeeded"), (1, None)):
            OperationFactory(
                target=contract, created_at=now - timedelta(minutes=age), **({trait: True} if trait else {})
            )
    user = MembershipFactory(partner=partner, role="owner").user
    _, key = issue_api_token(Actor.system(), user, "bench-floor")
    return partner, key


def _api_floor(rows: int = 100) -> dict:
    """Ours vs the bare view on the same rows: median seconds and response bytes."""
    from django.urls import resolve
    from rest_framework.test import APIRequestFactory

    from partner.models import Customer
    from subscriptions.acme.models import AcmeContract

    partner, key = _seed_api_rows(rows)
    request_factory = APIRequestFactory()
    lists = {
        "/api/v1/customers/": (Customer, Customer.objects.filter(partner=partner).order_by("name")),
        "/api/v1/acme-contracts/": (
            AcmeContract,
            AcmeContract.objects.filter(partner=partner).order_by("-created_at", "-id"),
        ),
    }
    results = {}
    for path, (model, queryset) in lists.items():
        ours_view, bare_view = resolve(path).func, _bare_view(model, queryset)

        def ours(view=ours_view, path=path):
            return _call(view, request_factory, path, key, rows)

        def bare(view=bare_view, path=path):
            return _call(view, request_factory, path, key, rows)

        ours_response, bare_response = ours(), bare()  # warm-up, and the sizes
        assert len(ours_response.data["results"]) == len(bare_response.data["results"]) == rows
        ours_s, bare_s = _interleaved(ours, bare)
        results[path] = dict(
            ours=ours_s,
            bare=bare_s,
            ours_bytes=len(ours_response.content),
            bare_bytes=len(bare_response.content),
        )
    return results


def _row(figure, ours, baseline, ratio, target, status):
    return f"  | {figure} | {ours} | {baseline} | {ratio} | {target} | {status} |"


def _run(connection) -> int:
    from django.core.cache import cache

    failures = []
    table = []  # (figure, ours, baseline, ratio, target, status) rows of the summary

    print("API lists at the floor: 100 rows, ours vs a bare ListAPIView + ModelSerializer")
    print(f"  (medians of {ROUNDS} interleaved rounds of {CALLS} requests each, views called directly)")
    cache.clear()
    floor = _api_floor(100)
    for path, target in (("/api/v1/customers/", 1.3), ("/api/v1/acme-contracts/", 1.5)):
        r = floor[path]
        ratio = r["ours"] / r["bare"]
        ok = ratio <= target
        if not ok:
            failures.append(f"{path}: {ratio:.2f}x the bare view (target <= {target}x)")
        table.append(
            (
                f"`{path}` 100 rows, time",
                f"{r['ours'] * 1000:.1f} ms",
                f"{r['bare'] * 1000:.1f} ms",
                f"{ratio:.2f}x",
                f"<= {target}x",
                "ok" if ok else "MISSED",
            )
        )
        table.append(
            (
                f"`{path}` 100 rows, bytes",
                f"{r['ours_bytes'] / 1000:.1f} KB",
                f"{r['bare_bytes'] / 1000:.1f} KB",
                f"{r['ours_bytes'] / r['bare_bytes']:.2f}x",
                "(printed)",
                "-",
            )
        )

    print("API lists: queries for 10 and for 2,000 rows (ACME contracts: 10 and 60), page of 50")
    cache.clear()
    few, many = _api_lists(connection, 10), _api_lists(connection, 2000)
    for url in few:
        ok = few[url]["queries"] == many[url]["queries"]
        if not ok:
            failures.append(f"{url}: queries grow with rows")
        table.append(
            (
                f"`{url}` queries, {'60' if 'acme' in url else '2,000'} rows vs 10",
                str(many[url]["queries"]),
                str(few[url]["queries"]),
                f"{many[url]['queries'] / max(few[url]['queries'], 1):.2f}x",
                "= 1.00x",
                "ok" if ok else "MISSED",
            )
        )

    print("Renewal run (queries and time follow the renewals due, not the subscriptions on file)")
    _renewal_run(connection, total=50, due=5)  # warm-up: content types and other per-process caches
    small = _renewal_run(connection, total=200, due=20)
    large = _renewal_run(connection, total=20_000, due=20)
    ok = small["queries"] == large["queries"]
    if not ok:
        failures.append("renewal queries grow with the subscriptions on file")
    table.append(
        (
            "renewal run queries, 20 due among 20,000 vs among 200",
            str(large["queries"]),
            str(small["queries"]),
            f"{large['queries'] / max(small['queries'], 1):.2f}x",
            "= 1.00x",
            "ok" if ok else "MISSED",
        )
    )
    ratio = large["seconds"] / max(small["seconds"], 1e-6)
    ok = large["seconds"] <= 3 * max(small["seconds"], 0.05)  # the floor keeps a tiny run from flapping
    if not ok:
        failures.append("renewal time grows with the subscriptions on file")
    table.append(
        (
            "renewal run time, 20 due among 20,000 vs among 200",
            f"{large['seconds'] * 1000:.0f} ms",
            f"{small['seconds'] * 1000:.0f} ms",
            f"{ratio:.2f}x",
            "<= 3x",
            "ok" if ok else "MISSED",
        )
    )
    ok = large["peak_mb"] <= 50
    if not ok:
        failures.append("renewal run uses more than 50 MB")
    table.append(
        (
            "renewal run peak memory, 20,000 subscriptions",
            f"{large['peak_mb']:.1f} MB",
            "50 MB",
            "-",
            "<= 50 MB",
            "ok" if ok else "MISSED",
        )
    )
    # Not yet (printed, never checked): the renewal run is not batched yet.
    per_taken = large["queries"] / max(large["taken"], 1)
    table.append(
        (
            "queries per renewal taken (run_renewals, vendor tasks not run)",
            f"{per_taken:.1f}",
            "-",
            "-",
            "<= 3",
            "NOT YET (not checked)" if per_taken > 3 else "ok (not checked)",
        )
    )
    table.append(
        (
            "queries per renewal performed (vendor task)",
            "not measured",
            "-",
            "-",
            "<= 6",
            "NOT YET (not checked)",
        )
    )
    table.append(
        (
            "renewal run time vs time inside its vendor calls",
            "not measured",
            "-",
            "-",
            "<= 1.2x",
            "NOT YET (not checked)",
        )
    )

    print()
    print("  | figure | ours | baseline | ratio | target | status |")
    print("  | --- | --- | --- | --- | --- | --- |")
    for row in table:
        print(_row(*row))
    print()
    print("NOT YET figures are printed with the issue's targets but do not fail the bench.")
    print("OK: every checked target met." if not failures else "MISSED: " + "; ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
