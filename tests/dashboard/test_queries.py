"""Every page runs the same number of SQL queries with one row as with many."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from core.actor import Actor
from core.tokens import issue_api_token
from partner import services
from tests.dashboard.helpers import count_queries
from tests.factories import (
    AcmeContractFactory,
    CustomerFactory,
    MembershipFactory,
    SubaccountFactory,
    operation_on,
)

pytestmark = pytest.mark.django_db


def _grow(partner, customer, n):
    """n more of everything a partner's pages list: customers, subaccounts, contracts in every
    attention state, operations, members, audit events."""
    actor = Actor.system()
    for i in range(n):
        other = CustomerFactory(partner=partner)
        SubaccountFactory(customer=other, failed=True, vendor="cloudflare")
        contract = AcmeContractFactory(
            subaccount__customer=other,
            active=True,
            valid_till=timezone.now() + timedelta(days=10 + i),
            drift={"sans": {"ours": ["a"], "vendor": ["b"]}},
        )
        operation_on(contract, kind="acme.sync", state="failed", last_error_code="http_503")
        operation_on(contract, kind="acme.set_auto_renew", attempts=2, last_error_code="http_429")
        MembershipFactory(partner=partner, role="viewer").customers.set([other])
        services.update_customer(actor, customer, contact_name=f"Person {i}")


def _page_urls(customer, contract):
    return [
        reverse("dashboard:home"),
        reverse("dashboard:customers"),
        reverse("dashboard:customer", args=[customer.pk]),
        reverse("dashboard:subscriptions"),
        reverse("dashboard:acme", args=[contract.pk]),
        reverse("dashboard:team"),
        reverse("dashboard:tokens"),
        reverse("dashboard:organization"),
        reverse("dashboard:export", args=["customers"]),
        reverse("dashboard:export", args=["subscriptions"]),
    ]


@pytest.mark.parametrize(
    "index,name",
    list(
        enumerate(
            [
                "home",
                "customers",
                "customer",
                "subscriptions",
                "acme",
                "team",
                "tokens",
                "organization",
                "export-customers",
                "export-subscriptions",
            ]
        )
    ),
)
def test_a_page_runs_as_many_queries_for_many_rows_as_for_one(owner_client, partner, index, name):
    customer = CustomerFactory(partner=partner)
    contract = AcmeContractFactory(subaccount__customer=customer, active=True)
    operation_on(contract, kind="acme.sync", state="succeeded")
    issue_api_token(Actor.system(), owner_client.user, "one")
    _grow(partner, customer, 1)
    url = _page_urls(customer, contract)[index]
    count_queries(owner_client, url)  # warm caches (content types, sessions)

    few = count_queries(owner_client, url)
    _grow(partner, customer, 6)
    for i in range(6):
        issue_api_token(Actor.system(), owner_client.user, f"more {i}")
        operation_on(contract, kind="acme.sync", state="succeeded")
    many = count_queries(owner_client, url)

    assert few == many, f"{name}: {few} queries with few rows, {many} with many"


def test_the_customer_page_with_many_contracts_runs_as_many_queries(owner_client, partner):
    customer = CustomerFactory(partner=partner)
    subaccount = SubaccountFactory(customer=customer, active=True)
    AcmeContractFactory(subaccount=subaccount, active=True)
    url = reverse("dashboard:customer", args=[customer.pk])
    count_queries(owner_client, url)

    few = count_queries(owner_client, url)
    for _ in range(5):
        contract = AcmeContractFactory(subaccount=subaccount, active=True)
        operation_on(contract, kind="acme.create", state="succeeded")
    SubaccountFactory(customer=customer, vendor="cloudflare", active=True)
    many = count_queries(owner_client, url)

    assert few == many
