"""Benchmarks with seeded data (not part of `make test`): `make bench` or `python -m bench.run`.

Targets (checked, printed, exit 1 when missed):
- renewal run: its queries grow with the renewals due, not with the subscriptions on file
  (20 due among 200 and among 20,000 subscriptions: same query count, time within 3x);
- API lists: the same number of queries for 10 and for 2,000 customers / subscriptions, and a
  page of 50 answered in under 250 ms;
- peak Python memory of a renewal run over 20,000 subscriptions under 50 MB.

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


def _api_lists(connection, rows: int) -> dict:
    from rest_framework.test import APIClient

    from core.actor import Actor
    from core.tokens import issue_api_token
    from tests.factories import CustomerFactory, MembershipFactory, PartnerFactory, SubaccountFactory

    partner = PartnerFactory()
    for customer in CustomerFactory.create_batch(rows, partner=partner):
        SubaccountFactory(customer=customer, active=True)
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


def _run(connection) -> int:
    from django.core.cache import cache

    failures = []
    print("Renewal run (queries and time follow the renewals due, not the subscriptions on file)")
    _renewal_run(connection, total=50, due=5)  # warm-up: content types and other per-process caches
    small = _renewal_run(connection, total=200, due=20)
    large = _renewal_run(connection, total=20_000, due=20)
    for label, r in (("200 subscriptions, 20 due", small), ("20,000 subscriptions, 20 due", large)):
        print(
            f"  {label:32} renewals {r['taken']:3}  queries {r['queries']:4}  "
            f"{r['seconds'] * 1000:7.1f} ms  peak {r['peak_mb']:5.1f} MB"
        )
    if small["queries"] != large["queries"]:
        failures.append("renewal queries grow with the subscriptions on file")
    if large["seconds"] > 3 * max(small["seconds"], 0.05):
        failures.append("renewal time grows with the subscriptions on file")
    if large["peak_mb"] > 50:
        failures.append("renewal run uses more than 50 MB")

    print("API lists (page of 50)")
    cache.clear()
    few, many = _api_lists(connection, 10), _api_lists(connection, 2000)
    for url in few:
        print(
            f"  {url:28} 10 rows: {few[url]['queries']:3} queries {few[url]['seconds'] * 1000:6.1f} ms   "
            f"2,000 rows: {many[url]['queries']:3} queries {many[url]['seconds'] * 1000:6.1f} ms"
        )
        if few[url]["queries"] != many[url]["queries"]:
            failures.append(f"{url}: queries grow with rows")
        if many[url]["seconds"] > 0.25:
            failures.append(f"{url}: slower than 250 ms")
    print("OK: every target met." if not failures else "MISSED: " + "; ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
