"""Dashboard fixtures: signed-in clients per role, a second partner, contracts through the sandbox."""

import pytest
from django.test import Client

from tests.factories import CustomerFactory, MembershipFactory, PartnerFactory
from tests.subscriptions.conftest import (  # noqa: F401  (the subscriptions tests' fixtures, shared)
    acme_customer,
    add_zone,
    addon,
    addon_customer,
    catalog,
    cloudflare_account,
    digicert_subaccount,
    order,
    paid_zone,
    provided_by_billing,
    run_cloudflare,
    unmarked_addon,
    unmarked_paid_zone,
    zone,
)


@pytest.fixture
def login(db):
    """`login(role, partner)` returns a test client signed in as a new member with that role."""

    def make(role="owner", partner=None, **membership):
        user = MembershipFactory(role=role, partner=partner or PartnerFactory(), **membership).user
        client = Client()
        client.force_login(user)
        client.user = user
        return client

    return make


@pytest.fixture
def owner_client(login, partner):
    return login("owner", partner)


@pytest.fixture
def biller(login, partner):
    """A member of `partner` with the billing role."""
    return login("billing", partner)


@pytest.fixture
def stranger_client(login, other_partner):
    """An owner of another partner: every object of `partner` is "not found" to them."""
    return login("owner", other_partner)


@pytest.fixture
def contract(order):  # noqa: F811  (the shared fixture)
    """A live ACME contract at the sandbox, renewing, within its 30-day cancel window."""
    return order(auto_renew=True)


@pytest.fixture
def second_customer(partner):
    return CustomerFactory(partner=partner)
