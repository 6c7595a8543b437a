"""Shared fixtures: users of each kind, API clients, vendors routed to the in-process sandbox."""

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from core.actor import Actor, Face
from core.tasks import sweep_due_operations
from core.tokens import issue_api_token
from tests.api.error_answers import record_error_answers, undocumented
from tests.factories import (
    CLOUDFLARE_TOKEN,
    DIGICERT_PARTNER_KEY,
    CustomerFactory,
    MembershipFactory,
    PartnerFactory,
    StaffFactory,
)
from vendors.sandbox.testing import block_network, route_vendors_to_sandbox


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    """No test reaches beyond the loopback; throttle counters never leak between tests."""
    block_network(monkeypatch)
    cache.clear()


@pytest.fixture(autouse=True)
def _error_answers_are_documented(monkeypatch):
    """Every error code the API answers in a test is one the OpenAPI documents for that operation and
    status (tests/api/error_answers.py); else the test fails when it ends."""
    answers = record_error_answers(monkeypatch)
    yield answers
    if problems := undocumented(answers):
        pytest.fail("Error answers the OpenAPI does not document:\n" + "\n".join(problems))


@pytest.fixture
def sandbox(db, monkeypatch):
    """Every vendor client talks to the sandbox in-process; the demo partner keys are registered."""
    from django.core.management import call_command

    route_vendors_to_sandbox(monkeypatch)
    call_command("sandbox_register_key", vendor="digicert", key=DIGICERT_PARTNER_KEY, label="tests")
    call_command("sandbox_register_key", vendor="cloudflare", key=CLOUDFLARE_TOKEN, label="tests")
    return monkeypatch


@pytest.fixture
def partner(db):
    return PartnerFactory()


@pytest.fixture
def customer(partner):
    return CustomerFactory(partner=partner)


@pytest.fixture
def other_partner(db):
    return PartnerFactory()


@pytest.fixture
def member_factory(partner):
    def make(role="owner", partner_=None, **kwargs):
        return MembershipFactory(role=role, partner=partner_ or partner, **kwargs).user

    return make


@pytest.fixture
def owner(member_factory):
    return member_factory("owner")


@pytest.fixture
def staff(db):
    return StaffFactory()


@pytest.fixture
def staff_client(client, staff):
    """The test client signed in as a staff member without permissions (admin tests grant their own)."""
    client.force_login(staff)
    return client


@pytest.fixture
def superuser(db):
    return StaffFactory(username="root", is_superuser=True)


def system_actor() -> Actor:
    return Actor.system(Face.TASK)


def retry_failed(client, changelist: str, *rows):
    """Run the admin's "retry failed" action on `rows` of the `changelist` URL name."""
    return client.post(
        reverse(changelist), {"action": "retry_failed", "_selected_action": [r.pk for r in rows]}
    )


@pytest.fixture
def api():
    """An API client; `api.as_user(user)` authenticates it with a freshly issued token."""
    client = APIClient()

    def as_user(user):
        _, key = issue_api_token(Actor.system(), user, "tests")
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    client.as_user = as_user
    return client


@pytest.fixture
def run_tasks(django_capture_on_commit_callbacks):
    """Run what a service queued on commit (tasks execute inline in tests)."""

    def run(operation, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return operation(*args, **kwargs)

    return run


@pytest.fixture
def clock():
    """Time stands still for the test and moves only when told (clock.shift(seconds))."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


@pytest.fixture
def sweep_later(run_tasks, clock):
    """Move time forward, then let the scheduled sweeper re-queue what is due."""

    def sweep(seconds):
        clock.shift(timedelta(seconds=seconds))
        run_tasks(sweep_due_operations)

    return sweep
