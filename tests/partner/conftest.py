"""The billing and subscriptions tests' fixtures, shared with the partner tests."""

from tests.billing.conftest import (  # noqa: F401
    acme_product,
    annual_plan,
    checkout,
    external_monthly_plan,
    make_plan,
    pay,
    zone_product,
)
from tests.subscriptions.conftest import (  # noqa: F401
    add_zone,
    catalog,
    cloudflare_account,
    digicert_subaccount,
    order,
)
