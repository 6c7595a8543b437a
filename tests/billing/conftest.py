import pytest
from django.core.management import call_command

from billing import seeding
from billing.models import BillingSubscription, Checkout, Plan, Product, Provisions, RenewalEngine
from billing.services import acquisition
from billing.services.acquisition import OrderLine
from tests.conftest import system_actor
from tests.subscriptions.conftest import (  # noqa: F401  (shared fixtures)
    add_zone,
    catalog,
    cloudflare_account,
    digicert_subaccount,
)

ANNUAL = dict(
    plan_id="acme-annual", name="ACME annual", terms="Renews every year until cancelled.", **seeding.ANNUAL
)
MONTHLY = dict(
    plan_id="zone-monthly",
    name="Zone monthly",
    terms="Renews every month until cancelled.",
    **seeding.MONTHLY,
)
# What the fixtures' products sell, on the plan they are given.
ACME = dict(
    price="120.00", provisions=Provisions.ACME_CONTRACT, provision_params={"product": "ssl_dv_rapidssl"}
)
SUPPORT = dict(price="10.00", provisions=Provisions.NOTHING)


@pytest.fixture
def make_plan(sandbox, run_tasks):
    def make(**fields):
        plan = run_tasks(seeding.ensure_plan, system_actor(), **fields)
        plan.refresh_from_db()
        if plan.run_by_digital_river:
            assert plan.at_vendor, "the plan was not created at Digital River"
        return plan

    return make


@pytest.fixture
def external_annual_plan(make_plan) -> Plan:
    """Annual, renewed by the back office (an external subscription at Digital River)."""
    return make_plan(**{**ANNUAL, "plan_id": "acme-annual-bo", "engine": RenewalEngine.BACK_OFFICE})


@pytest.fixture
def external_monthly_plan(make_plan) -> Plan:
    return make_plan(**{**MONTHLY, "plan_id": "zone-monthly-bo", "engine": RenewalEngine.BACK_OFFICE})


def _product(customer, plan, sku_id, name, **fields) -> Product:
    """The customer's partner sells `sku_id` on `plan`, seeded like every catalog."""
    return seeding.ensure_product(
        system_actor(), customer.partner, sku_id=sku_id, name=name, plan=plan, **fields
    )


def _acme_product(customer, plan, sku_id, name) -> Product:
    """An annual ACME contract at 120.00 on `plan`."""
    return _product(customer, plan, sku_id, name, **ACME)


def _support_product(customer, plan, sku_id, name) -> Product:
    """A monthly service at 10.00 on `plan` that provisions nothing."""
    return _product(customer, plan, sku_id, name, **SUPPORT)


@pytest.fixture
def external_acme_product(customer, external_annual_plan) -> Product:
    return _acme_product(customer, external_annual_plan, "acme-dv-annual-bo", "ACME DV annual (back office)")


@pytest.fixture
def external_support_product(customer, external_monthly_plan) -> Product:
    return _support_product(
        customer, external_monthly_plan, "support-monthly-bo", "Support monthly (back office)"
    )


@pytest.fixture
def annual_plan(make_plan) -> Plan:
    return make_plan(**ANNUAL)


@pytest.fixture
def monthly_plan(make_plan) -> Plan:
    return make_plan(**MONTHLY)


@pytest.fixture
def acme_product(customer, annual_plan) -> Product:
    return _acme_product(customer, annual_plan, "acme-dv-annual", "ACME DV annual")


@pytest.fixture
def support_product(customer, monthly_plan) -> Product:
    return _support_product(customer, monthly_plan, "support-monthly", "Support monthly")


@pytest.fixture
def setup_fee(customer) -> Product:
    return _product(customer, None, "setup", "Setup fee", price="50.00", provisions=Provisions.NOTHING)


@pytest.fixture(params=["acme_product", "external_acme_product"])
def sold(request, sell, digicert_subaccount):  # noqa: F811
    """An annual ACME contract at 120.00 sold through billing, on each renewal engine, on day 0."""
    return sell(request.getfixturevalue(request.param), "sold.example.com")


@pytest.fixture
def checkout(run_tasks, customer):
    """Start an acquisition checkout and let the task open it at Digital River."""

    def start(*lines, actor=None, **kwargs) -> Checkout:
        order_lines = [line if isinstance(line, OrderLine) else OrderLine(line) for line in lines]
        result = run_tasks(
            acquisition.start_checkout, actor or system_actor(), customer, order_lines, **kwargs
        )
        result.refresh_from_db()
        return result

    return start


@pytest.fixture
def sell(checkout, pay):
    """`sell(product, domain)`: the customer buys one `product` (an ACME contract for `domain`) and
    pays; the one subscription that checkout acquired."""

    def do(product, domain=None) -> BillingSubscription:
        paid = pay(checkout(OrderLine(product, options={"sans": [domain]} if domain else None)))
        return BillingSubscription.objects.get(acquisition=paid)

    return do


@pytest.fixture
def pay(run_tasks):
    """The customer pays the checkout at the sandbox; its signed events reach our webhook."""

    def do(checkout: Checkout) -> Checkout:
        assert checkout.session_id, checkout.state
        run_tasks(call_command, "sandbox_dr", "pay", session=checkout.session_id)
        checkout.refresh_from_db()
        return checkout

    return do


def _zone_product(customer, plan, sku_id, name, price, rate_plan_id):
    return _product(
        customer,
        plan,
        sku_id,
        name,
        price=price,
        provisions=Provisions.ZONE_PLAN,
        provision_params={"rate_plan_id": rate_plan_id, "frequency": "monthly"},
    )


@pytest.fixture
def zone_product(customer, external_monthly_plan):
    """PARTNERS_BIZ at 250.00 a month, renewed by the back office."""
    return _zone_product(
        customer,
        external_monthly_plan,
        "zone-biz-monthly",
        "Business zone, monthly",
        "250.00",
        "PARTNERS_BIZ",
    )


@pytest.fixture
def pro_zone_product(customer, zone_product):
    """The cheaper zone plan on the same monthly plan: PARTNERS_PRO at 100.00."""
    return _zone_product(
        customer, zone_product.plan, "zone-pro-monthly", "Pro zone, monthly", "100.00", "PARTNERS_PRO"
    )
