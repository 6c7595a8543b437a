"""Faults over real HTTP: the sandbox served by Django's threaded WSGI server on a real socket."""

import time

import pytest
import requests

from tests.vendors.helpers import PARTNER_KEY, new_subaccount
from vendors.digicert.client import DigiCertClient
from vendors.errors import VendorError
from vendors.sandbox.digicert.models import DigiCertSubaccount
from vendors.sandbox.testing import route_vendors_to_sandbox

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def live_digicert(live_server, monkeypatch, vendor_sandbox):
    """A DigiCert client reaching the sandbox over a real socket (and nothing else)."""
    route_vendors_to_sandbox(monkeypatch, allow=[f"{live_server.url}/"])
    vendor_sandbox.register_key("digicert", PARTNER_KEY)
    return DigiCertClient(PARTNER_KEY, base_url=f"{live_server.url}/sandbox/digicert/v1", timeout=5)


def test_drop_after_breaks_a_real_connection_and_is_outcome_unknown(live_digicert, vendor_sandbox):
    vendor_sandbox.add_fault("digicert", "drop_after", method="POST", count=1)
    started = time.monotonic()

    with pytest.raises(VendorError) as caught:
        new_subaccount(live_digicert)

    assert time.monotonic() - started < 3  # broken off, not waited out
    assert isinstance(caught.value.__cause__, requests.exceptions.ChunkedEncodingError)
    assert (caught.value.code, caught.value.retryable, caught.value.outcome_unknown) == (
        "connection_dropped",
        True,
        True,
    )
    assert DigiCertSubaccount.objects.count() == 1
    # The server survives the drop: the next call on the same connection pool is answered.
    assert live_digicert.create_api_key(str(DigiCertSubaccount.objects.get().id), name="after-the-drop")


def test_drop_before_over_real_http_creates_nothing(live_digicert, vendor_sandbox):
    vendor_sandbox.add_fault("digicert", "drop_before", count=1)

    with pytest.raises(VendorError) as caught:
        new_subaccount(live_digicert)

    assert caught.value.outcome_unknown
    assert not DigiCertSubaccount.objects.exists()


def test_timeout_after_over_real_http_is_a_read_timeout(live_digicert, vendor_sandbox, settings):
    settings.SANDBOX_FAULT_SLEEP_SECONDS = 1.0
    vendor_sandbox.add_fault("digicert", "timeout_after", count=1)
    live_digicert.timeout = 0.3

    with pytest.raises(VendorError) as caught:
        new_subaccount(live_digicert)

    assert isinstance(caught.value.__cause__, requests.ReadTimeout)
    assert (caught.value.code, caught.value.outcome_unknown) == ("timeout", True)
    assert DigiCertSubaccount.objects.count() == 1
