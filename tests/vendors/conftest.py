"""Vendor client and sandbox tests: every client reaches the in-process sandbox, nothing else."""

import pytest

from tests.vendors.dr import annual, customer_id, dr, monthly, webhook  # noqa: F401 - Digital River fixtures
from tests.vendors.helpers import PARTNER_KEY, TENANT_TOKEN, UNIT_ID
from vendors.cloudflare.client import CloudflareClient
from vendors.digicert.client import DigiCertClient
from vendors.sandbox import testing

# The shared fixtures, made visible to every test below this directory.
no_network = testing.no_network
vendor_sandbox = testing.vendor_sandbox


@pytest.fixture(autouse=True)
def _routed_to_sandbox(vendor_sandbox):
    """No vendor test may reach anything but the sandbox."""


@pytest.fixture
def partner_key(vendor_sandbox, db):
    return vendor_sandbox.register_key("digicert", PARTNER_KEY)


@pytest.fixture
def digicert(partner_key):
    return DigiCertClient(partner_key)


@pytest.fixture
def tenant_token(vendor_sandbox, db):
    return vendor_sandbox.register_key("cloudflare", TENANT_TOKEN, unit_id=UNIT_ID)


@pytest.fixture
def cloudflare(tenant_token):
    return CloudflareClient(tenant_token)
