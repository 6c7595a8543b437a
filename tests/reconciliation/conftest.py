"""Reconciliation fixtures: vendor services made through the sandbox, billing rows written directly
(back-office engine, so only Digital River-engine tests reach Digital River), and a run helper."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client

from billing.models import BillingSubscription, ProvisioningState, Provisions, RenewalEngine
from reconciliation import services
from reconciliation.models import Run
from tests.billing.conftest import (  # noqa: F401  (the billing tests' fixtures, shared)
    acme_product,
    annual_plan,
    checkout,
    make_plan,
    pay,
)
from tests.conftest import system_actor
from tests.dashboard import billing_factories
from tests.factories import MembershipFactory, PartnerFactory
from tests.subscriptions.conftest import (  # noqa: F401  (the subscriptions tests' fixtures, shared)
    add_zone,
    addon,
    catalog,
    cloudflare_account,
    digicert_subaccount,
    order,
    paid_zone,
    run_cloudflare,
    zone,
)


@pytest.fixture
def bo_plan(db):
    """A monthly plan renewed by the back office (nothing of it is read at Digital River)."""
    return billing_factories.plan("month", engine=RenewalEngine.BACK_OFFICE, plan_id="bo-monthly")


@pytest.fixture
def product_for(partner, bo_plan):
    """`product_for(provisions, **params)`: a back-office-engine product that provisions that."""

    def make(provisions, price="20.00", **params):
        return billing_factories.product(
            partner, bo_plan, price=price, provisions=provisions, provision_params=params
        )

    return make


@pytest.fixture
def bill():
    """`bill(target, product)`: an active, paid billing subscription that provides `target`."""

    def make(target, product, **fields) -> BillingSubscription:
        return billing_factories.subscription(
            target.customer,
            product,
            provisioned_type=ContentType.objects.get_for_model(target),
            provisioned_id=str(target.pk),
            provisioning_state=ProvisioningState.DONE,
            **fields,
        )

    return make


@pytest.fixture
def contract(order):  # noqa: F811
    """A live ACME contract at the sandbox, renewing."""
    return order(auto_renew=True)


@pytest.fixture
def acme_bo_product(product_for):
    return product_for(Provisions.ACME_CONTRACT, price="120.00", product="ssl_dv_rapidssl")


@pytest.fixture
def reconcile(run_tasks, partner):
    """Run a reconciliation of the partner now (the task inline) and return the finished run."""

    def run(actor=None, of=None) -> Run:
        queued = run_tasks(services.request_run, actor or system_actor(), of or partner)
        queued.refresh_from_db()
        return queued

    return run


@pytest.fixture
def login(db):
    def make(role="owner", partner=None, **membership):
        user = MembershipFactory(role=role, partner=partner or PartnerFactory(), **membership).user
        client = Client()
        client.force_login(user)
        client.user = user
        return client

    return make
