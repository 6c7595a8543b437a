"""Reconciliation fixtures: vendor services made through the sandbox, billing rows written directly
(back-office engine, so only Digital River-engine tests reach Digital River), and a run helper."""

from __future__ import annotations

import pytest

from billing.models import Provisions, RenewalEngine
from reconciliation import services
from reconciliation.models import Run
from tests import factories as billing_factories
from tests.billing.conftest import (  # noqa: F401  (the billing tests' fixtures, shared)
    acme_product,
    annual_plan,
    checkout,
    make_plan,
    pay,
)
from tests.conftest import system_actor
from tests.dashboard.conftest import login  # noqa: F401  (the dashboard tests' signed-in clients)
from tests.subscriptions.conftest import (  # noqa: F401  (the subscriptions tests' fixtures, shared)
    add_zone,
    catalog,
    cloudflare_account,
    digicert_subaccount,
    load_balancing_of,
    order,
    run_cloudflare,
    upgraded_to_biz,
    zone,
)

# The services below are made as billing makes them (`billed=True`: no not-billed mark), and nothing
# bills them until a test writes their billing row (`bill`): paid services that nothing bills and
# nothing explains, what a reconciliation reports.


@pytest.fixture
def paid_zone(zone, run_cloudflare):  # noqa: F811
    """The zone on PARTNERS_BIZ with 60 page rules."""
    return upgraded_to_biz(run_cloudflare, zone, billed=True)


@pytest.fixture
def addon(run_cloudflare, customer, cloudflare_account, catalog):  # noqa: F811
    """A live PARTNERS_LOAD_BALANCING add-on with its default components."""
    return load_balancing_of(run_cloudflare, customer, billed=True)


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
    return billing_factories.providing


@pytest.fixture
def contract(order):  # noqa: F811
    """A live ACME contract at the sandbox, renewing (made as billing makes it, see above)."""
    return order(auto_renew=True, billed=True)


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
