"""Tests never reach a real vendor: anything but the in-process sandbox fails the test loudly."""

import socket

import pytest

from tests.vendors.helpers import PARTNER_KEY, new_subaccount
from vendors.cloudflare.client import CloudflareClient
from vendors.digicert.client import DigiCertClient


def test_a_vendor_request_to_the_real_vendor_fails_the_test():
    client = DigiCertClient(PARTNER_KEY, base_url="https://www.digicert.com/partner-subscription/api/v1")

    with pytest.raises(pytest.fail.Exception, match="Blocked a vendor request"):
        new_subaccount(client)


def test_the_block_is_not_an_exception_code_under_test_could_swallow():
    client = CloudflareClient("token", base_url="http://testserver.example.com/client/v4")

    with pytest.raises(pytest.fail.Exception) as blocked:
        client.find_account("acme")

    # `except Exception` (or `except VendorError`) in a service cannot hide it.
    assert not isinstance(blocked.value, Exception)


def test_sockets_beyond_the_loopback_are_blocked():
    with socket.socket() as sock, pytest.raises(pytest.fail.Exception, match="Blocked a network connection"):
        sock.connect(("192.0.2.1", 443))


def test_the_loopback_stays_reachable():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.socket() as client:
            client.connect(server.getsockname())
