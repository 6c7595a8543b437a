import pytest

from partner import services as partner_services
from tests.conftest import system_actor

# Services made directly in tests are paid vendor services nothing bills: they say why (domain.md).
NOT_BILLED_REASON = "Test: made directly at the vendor, not sold through billing."


def not_billed(service, kwargs: dict) -> dict:
    """The test's arguments, with the not-billed reason a direct paid change needs (left as given
    when the test passes its own, or calls it as billing's own change)."""
    from subscriptions.acme import services as acme
    from subscriptions.cloudflare import services as cloudflare

    paid_changes = (
        acme.order_acme_contract,
        cloudflare.upgrade_zone_plan,
        cloudflare.change_zone_components,
        cloudflare.add_addon,
        cloudflare.change_addon,
    )
    if service in paid_changes and not kwargs.get("billed"):
        return {"not_billed_reason": NOT_BILLED_REASON, **kwargs}
    return kwargs


def _active_subaccount(run_tasks, customer, vendor):
    """The customer's subaccount at `vendor`, requested and created through the sandbox: active."""
    subaccount = run_tasks(partner_services.request_subaccount, system_actor(), customer, vendor)
    subaccount.refresh_from_db()
    assert subaccount.state == "active"
    return subaccount


@pytest.fixture
def digicert_subaccount(sandbox, customer, run_tasks):
    """An active DigiCert subaccount created through the sandbox, with its own key."""
    return _active_subaccount(run_tasks, customer, "digicert")


@pytest.fixture
def order(run_tasks, customer, digicert_subaccount):
    """Order a contract and let the task create it at the sandbox."""
    from subscriptions.acme import services as acme

    def make(actor=None, **kwargs):
        kwargs.setdefault("product", "ssl_dv_rapidssl")
        kwargs.setdefault("sans", ["example.com", "www.example.com"])
        contract = run_tasks(
            acme.order_acme_contract,
            actor or system_actor(),
            customer,
            **not_billed(acme.order_acme_contract, kwargs),
        )
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
    return _active_subaccount(run_tasks, customer, "cloudflare")


@pytest.fixture
def catalog(partner):
    """The partner's Cloudflare catalog (CLOUDFLARE_CATALOG)."""
    from decimal import Decimal

    from subscriptions.cloudflare.models import CatalogComponent, CatalogPlan

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
    from subscriptions.cloudflare import services as cloudflare

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
    """Call a Cloudflare service, run what it queued, and return the object reloaded (a direct paid
    change with the test's not-billed reason)."""

    def run(service, obj, *args, **kwargs):
        actor = kwargs.pop("actor", None) or system_actor()
        result = run_tasks(service, actor, obj, *args, **not_billed(service, kwargs))
        result.refresh_from_db()
        return result

    return run


def upgraded_to_biz(run_cloudflare, zone, **kwargs):
    """The zone upgraded to PARTNERS_BIZ with 60 page rules."""
    from subscriptions.cloudflare import services as cloudflare

    return run_cloudflare(
        cloudflare.upgrade_zone_plan,
        zone,
        rate_plan_id="PARTNERS_BIZ",
        component_values={"page_rules": 60},
        **kwargs,
    )


def load_balancing_of(run_cloudflare, customer, **kwargs):
    """A live PARTNERS_LOAD_BALANCING add-on of the customer, with its default components."""
    from subscriptions.cloudflare import services as cloudflare

    return run_cloudflare(cloudflare.add_addon, customer, rate_plan_id="PARTNERS_LOAD_BALANCING", **kwargs)


@pytest.fixture
def paid_zone(zone, run_cloudflare):
    """The zone upgraded to PARTNERS_BIZ with 60 page rules (directly: with a not-billed reason)."""
    return upgraded_to_biz(run_cloudflare, zone)


@pytest.fixture
def addon(run_cloudflare, customer, cloudflare_account, catalog):
    """A live PARTNERS_LOAD_BALANCING add-on with its default components (directly: not billed, why)."""
    return load_balancing_of(run_cloudflare, customer)


def written() -> tuple:
    """Everything a refused paid change must leave as it was: our services, their operations, audit
    events and not-billed marks, the vendors' objects and requests, and Digital River's ledger."""
    from core.models import AuditEvent, Operation
    from reconciliation.models import NotBilled
    from subscriptions.acme.models import AcmeContract
    from subscriptions.cloudflare.models import CloudflareAddon, CloudflareZone
    from tests.sandbox_helpers import (
        dr_ledger,
        sandbox_account_subscriptions,
        sandbox_acme_contracts,
        sandbox_zone_subscriptions,
        vendor_request_count,
    )

    return (
        list(AcmeContract.objects.order_by("pk").values()),
        list(CloudflareZone.objects.order_by("pk").values()),
        list(CloudflareAddon.objects.order_by("pk").values()),
        Operation.objects.count(),
        AuditEvent.objects.count(),
        NotBilled.objects.count(),
        sandbox_acme_contracts().count(),
        list(sandbox_zone_subscriptions().order_by("pk").values()),
        list(sandbox_account_subscriptions().order_by("pk").values()),
        dr_ledger().count(),
        vendor_request_count(),
    )


# --- Not billed, or billed -----------------------------------------------------------------------


@pytest.fixture
def acme_customer(customer, digicert_subaccount):
    return customer


@pytest.fixture
def addon_customer(customer, cloudflare_account, catalog):
    return customer


@pytest.fixture
def unmarked_paid_zone(zone, run_cloudflare):
    """PARTNERS_BIZ with 60 page rules as billing made it (no mark), and nothing bills it now."""
    return upgraded_to_biz(run_cloudflare, zone, billed=True)


@pytest.fixture
def unmarked_addon(addon_customer, run_cloudflare):
    """A load-balancing add-on as billing bought it (no mark), and nothing bills it now."""
    return load_balancing_of(run_cloudflare, addon_customer, billed=True)


@pytest.fixture
def provided_by_billing(partner):
    """`provided_by_billing(target, rate_plan_id)`: a live billing subscription (back-office engine,
    written directly) provides the zone or add-on."""
    from billing.models import Provisions, RenewalEngine
    from subscriptions.cloudflare.models import CloudflareAddon
    from tests import factories as billing_factories

    plan = billing_factories.plan("month", engine=RenewalEngine.BACK_OFFICE, plan_id="bo-monthly")

    def make(target, rate_plan_id):
        product = billing_factories.product(
            partner,
            plan,
            price="250.00",
            name=f"Cloudflare {rate_plan_id}, monthly",
            provisions=Provisions.ADDON if isinstance(target, CloudflareAddon) else Provisions.ZONE_PLAN,
            provision_params={"rate_plan_id": rate_plan_id},
        )
        return billing_factories.providing(target, product)

    return make


def takes_effect_later(subscription) -> str:
    """What the preview of a cheaper change of a billed zone or add-on says."""
    return (
        f"Billed through {subscription.product.name}: this change takes effect at the end of the paid "
        f"period ({subscription.current_period_end_date:%Y-%m-%d}), with the new price from then."
    )


def takes_effect_once_paid(subscription) -> str:
    """What the preview of a dearer change of a billed zone or add-on says."""
    return (
        f"Billed through {subscription.product.name}: this change needs the customer's payment in a new "
        "checkout and takes effect at Cloudflare once paid."
    )
