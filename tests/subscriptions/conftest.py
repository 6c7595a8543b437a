import pytest

from partner import services as partner_services
from tests.conftest import system_actor


@pytest.fixture
def digicert_subaccount(sandbox, customer, run_tasks):
    """An active DigiCert subaccount created through the sandbox, with its own key."""
    subaccount = run_tasks(partner_services.request_subaccount, system_actor(), customer, "digicert")
    subaccount.refresh_from_db()
    assert subaccount.state == "active"
    return subaccount


@pytest.fixture
def order(run_tasks, customer, digicert_subaccount):
    """Order a contract and let the task create it at the sandbox."""
    from subscriptions.services import acme

    def make(actor=None, **kwargs):
        kwargs.setdefault("product", "ssl_dv_rapidssl")
        kwargs.setdefault("sans", ["example.com", "www.example.com"])
        contract = run_tasks(acme.order_acme_contract, actor or system_actor(), customer, **kwargs)
        contract.refresh_from_db()
        return contract

    return make


# --- Cloudflare -----------------------------------------------------------------------------------

# (rate plan, scope, monthly price, frequencies, [(component, default, maximum, unit price)]):
# priced like the sandbox's price list, so Cloudflare's price and the catalog's preview agree.
# PARTNERS_ENT is in the catalog but not in the sandbox's default entitlement (error 1225);
# PARTNERS_WORKERS_BASIC is sold by the sandbox but not in the catalog.
CLOUDFLARE_CATALOG = [
    ("PARTNERS_FREE", "zone", "0", ["monthly", "yearly"], [("page_rules", 3, 3, "5")]),
    (
        "PARTNERS_PRO",
        "zone",
        "20",
        ["monthly", "yearly"],
        [("page_rules", 20, 50, "5"), ("dedicated_certificates", 0, 5, "10")],
    ),
    (
        "PARTNERS_BIZ",
        "zone",
        "200",
        ["monthly", "quarterly", "yearly"],
        [("page_rules", 50, 100, "5"), ("dedicated_certificates", 0, 10, "10")],
    ),
    ("PARTNERS_ENT", "zone", "5000", ["monthly", "yearly"], [("page_rules", 125, 500, "5")]),
    ("PARTNERS_LOAD_BALANCING", "account", "5", ["monthly", "yearly"], [("endpoints", 2, 20, "5")]),
    ("TEAMS_STANDARD", "account", "350", ["monthly", "yearly"], [("users", 50, 500, "7")]),
]


@pytest.fixture
def cloudflare_account(sandbox, customer, run_tasks):
    """The customer's active Cloudflare account, created through the sandbox."""
    subaccount = run_tasks(partner_services.request_subaccount, system_actor(), customer, "cloudflare")
    subaccount.refresh_from_db()
    assert subaccount.state == "active"
    return subaccount


@pytest.fixture
def catalog(partner):
    """The partner's Cloudflare catalog (CLOUDFLARE_CATALOG)."""
    from decimal import Decimal

    from subscriptions.models import CatalogComponent, CatalogPlan

    plans = []
    for rate_plan_id, scope, price, frequencies, components in CLOUDFLARE_CATALOG:
        plan = CatalogPlan.objects.create(
            partner=partner,
            rate_plan_id=rate_plan_id,
            name=rate_plan_id.replace("_", " ").title(),
            scope=scope,
            monthly_price=Decimal(price),
            frequencies=frequencies,
        )
        for name, default, maximum, unit_price in components:
            CatalogComponent.objects.create(
                plan=plan, name=name, default=default, maximum=maximum, unit_price=Decimal(unit_price)
            )
        plans.append(plan)
    return plans


@pytest.fixture
def add_zone(run_tasks, customer, cloudflare_account, catalog):
    """Add a zone to the customer's account and let the task create it at the sandbox."""
    from subscriptions.services import cloudflare

    def make(name="example.com", actor=None):
        zone = run_tasks(cloudflare.add_zone, actor or system_actor(), customer, name=name)
        zone.refresh_from_db()
        return zone

    return make


@pytest.fixture
def zone(add_zone):
    """An active zone on PARTNERS_FREE, without a subscription."""
    return add_zone()


@pytest.fixture
def run_cloudflare(run_tasks):
    """Call a Cloudflare service, run what it queued, and return the object reloaded."""

    def run(service, obj, *args, **kwargs):
        result = run_tasks(service, kwargs.pop("actor", None) or system_actor(), obj, *args, **kwargs)
        result.refresh_from_db()
        return result

    return run


@pytest.fixture
def paid_zone(zone, run_cloudflare):
    """The zone upgraded to PARTNERS_BIZ with 60 page rules."""
    from subscriptions.services import cloudflare

    return run_cloudflare(
        cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_BIZ", component_values={"page_rules": 60}
    )


@pytest.fixture
def addon(run_cloudflare, customer, cloudflare_account, catalog):
    """A live PARTNERS_LOAD_BALANCING add-on with its default components."""
    from subscriptions.services import cloudflare

    return run_cloudflare(cloudflare.add_addon, customer, rate_plan_id="PARTNERS_LOAD_BALANCING")
