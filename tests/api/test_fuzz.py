"""Fuzzing the API over its own OpenAPI schema (schemathesis), as part of the suite.

Every operation of /api/schema/ gets a few generated requests: valid and invalid ones, and valid ones
on an existing object when its path names one (derandomized, so the same requests on every run; no
example database). They go in-process to the Django WSGI application with a partner owner's token
and a little data behind it; vendor calls go to the in-process sandbox, queued tasks never run. No
answer may be a 5xx, and each must conform to the schema: a documented status code, content type
and body. Every failing request is collected, with its curl line and the server's traceback.

(schemathesis' own pytest integration, `schemathesis.pytest.from_fixture`, fails on pytest 9.2 with
"'Function' object has no attribute '_nodeid'"; Hypothesis drives the cases here instead.)
"""

from __future__ import annotations

import os
import traceback

import hypothesis
import pytest
import schemathesis
from django.core import signals
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.actor import Actor
from core.tokens import issue_api_token
from partner import services as partner_services
from tests import factories as billing_factories
from tests.conftest import system_actor
from tests.factories import CustomerFactory, MembershipFactory

SCHEMA_PATH = "/api/schema/?format=json"
# About 90 operations x (2 valid + 2 invalid + 2 on an existing object when there is an {id}):
# about 480 requests, well under a minute.
# API_FUZZ_EXAMPLES=50 explores further by hand (the suite keeps the default).
EXAMPLES_PER_MODE = int(os.environ.get("API_FUZZ_EXAMPLES", "2"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# (rate plan, scope, monthly price, component, default, maximum): what the zone and add-on need.
CATALOG = [
    ("PARTNERS_FREE", "zone", 0, "page_rules", 3, 3),
    ("PARTNERS_LOAD_BALANCING", "account", 5, "endpoints", 2, 20),
]


def _seed(run_tasks):
    """A partner owner with customers, vendor subaccounts, an ACME contract, a zone and billing."""
    from subscriptions.acme import services as acme
    from subscriptions.cloudflare import services as cloudflare
    from subscriptions.cloudflare.models import CatalogComponent, CatalogPlan

    owner = MembershipFactory(role="owner").user
    partner = owner.membership.partner
    customer, other, _ = (CustomerFactory(partner=partner) for _ in range(3))
    actor = system_actor()
    run_tasks(partner_services.request_subaccount, actor, customer, "digicert")
    run_tasks(partner_services.request_subaccount, actor, customer, "cloudflare")
    run_tasks(partner_services.request_subaccount, actor, other, "digicert")
    for rate_plan_id, scope, price, component, default, maximum in CATALOG:
        plan = CatalogPlan.objects.create(
            partner=partner,
            rate_plan_id=rate_plan_id,
            name=rate_plan_id.title(),
            scope=scope,
            monthly_price=price,
            frequencies=["monthly", "yearly"],
        )
        CatalogComponent.objects.create(
            plan=plan, name=component, default=default, maximum=maximum, unit_price=5
        )
    run_tasks(
        acme.order_acme_contract,
        actor,
        customer,
        product="ssl_dv_rapidssl",
        sans=["example.com"],
        not_billed_reason="Seeded for the fuzzer.",
    )
    run_tasks(cloudflare.add_zone, actor, customer, name="example.com")
    run_tasks(
        cloudflare.add_addon,
        actor,
        customer,
        rate_plan_id="PARTNERS_LOAD_BALANCING",
        not_billed_reason="Seeded for the fuzzer.",
    )
    product = billing_factories.product(partner, billing_factories.plan())
    billing_factories.subscription(customer, product)
    return owner


@pytest.fixture
def server_errors():
    """Tracebacks of the exceptions Django turned into a 500 during the test (for the report)."""
    seen: list[str] = []

    def record(sender, request=None, **kwargs):
        seen.append(f"{request.method} {request.get_full_path()}\n{traceback.format_exc()}")

    signals.got_request_exception.connect(record)
    yield seen
    signals.got_request_exception.disconnect(record)


class InTestTransaction:
    """Django's WSGI handler inside the test's transaction. Like the test client, it keeps Django
    from closing the database connection at the start and end of each request (on PostgreSQL that
    ends the test's transaction). Not once for the test: every in-process sandbox call goes through
    Django's test client, which connects that handler again after its own request."""

    def __init__(self):
        self.handler = get_wsgi_application()

    def __call__(self, environ, start_response):
        signals.request_started.disconnect(close_old_connections)
        return _Answer(self.handler(environ, start_response))


class _Answer:
    def __init__(self, response):
        self.response = response

    def __iter__(self):
        return iter(self.response)

    def close(self):  # the WSGI server's call, which sends request_finished
        signals.request_finished.disconnect(close_old_connections)
        self.response.close()


@pytest.fixture
def wsgi_app():
    yield InTestTransaction()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(sandbox, run_tasks, wsgi_app):
    """The schema the application serves, with a partner owner's token on every request."""
    owner = _seed(run_tasks)
    _, key = issue_api_token(Actor.system(), owner, "fuzzing")
    # The token list is newest first: DELETE /tokens/{id}/ on "an existing token" revokes the spare.
    issue_api_token(Actor.system(), owner, "spare")
    config = schemathesis.Config.from_dict({"headers": {"Authorization": f"Token {key}"}})
    return schemathesis.openapi.from_wsgi(SCHEMA_PATH, wsgi_app, config=config)


def _existing_id(schema, path: str) -> int | None:
    """The id of one of the partner's objects an `{id}` path names, as its list answers (or None)."""
    listing = path.split("{id}")[0]
    listing = LISTS.get(listing, listing)
    client = Client(HTTP_AUTHORIZATION=schema.config.headers["Authorization"])
    answer = client.get(listing)
    rows = answer.json().get("results", []) if answer.status_code == 200 else []
    return rows[0]["id"] if rows else None


# An `{id}` path whose list is elsewhere.
LISTS = {"/api/v1/billing/customers/": "/api/v1/customers/"}


def _fuzz(operation, strategy, label: str, failures: list[str], server_errors: list[str]) -> int:
    """Send the cases `strategy` generates; record each failing one, return how many were sent."""
    sent = 0

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_MODE,
        derandomize=True,  # the same requests on every run
        database=None,
        deadline=None,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],  # report, do not shrink
        suppress_health_check=list(hypothesis.HealthCheck),
        verbosity=hypothesis.Verbosity.quiet,
    )
    @hypothesis.given(case=strategy)
    def run(case):
        nonlocal sent
        cache.clear()  # throttles count per user: a few hundred requests must not become 429s
        server_errors.clear()
        sent += 1
        try:
            case.call_and_validate(checks=CHECKS)
        except (FailureGroup, Exception) as exc:  # each failure is collected; the test fails at the end
            detail = "\n".join([str(exc).strip(), *server_errors])
            failures.append(f"{operation.label} ({label}): {detail}")

    run()
    return sent


def test_no_generated_request_gets_a_5xx_or_an_answer_outside_the_schema(api_schema, server_errors):
    """Each operation: valid and invalid cases, and valid ones on an existing object when it names one."""
    failures: list[str] = []
    sent = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)
            sent += _fuzz(operation, strategy, mode, failures, server_errors)
        if "{id}" in operation.path and (pk := _existing_id(api_schema, operation.path)) is not None:
            strategy = operation.as_strategy(path_parameters={"id": pk})
            sent += _fuzz(operation, strategy, f"positive, id {pk}", failures, server_errors)

    print(f"{sent} generated requests")
    assert sent >= 200
    assert not failures, f"{len(failures)} of {sent} requests failed:\n\n" + "\n\n".join(failures)
