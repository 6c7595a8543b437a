"""Test support: vendor clients served in-process by the sandbox, and no network otherwise.

In a conftest:

    from vendors.sandbox import testing

    no_network = testing.no_network
    vendor_sandbox = testing.vendor_sandbox

or, by hand, `route_vendors_to_sandbox(monkeypatch)` and `block_network(monkeypatch)`.
Clients must be built after routing: each one takes its session from
`vendors.http.build_session()` when it is constructed.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
from collections.abc import Iterable
from datetime import timedelta
from http import HTTPStatus
from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers
from urllib3.exceptions import ProtocolError

from vendors import http as vendor_http
from vendors.sandbox.clock import advance_clock
from vendors.sandbox.protocol import FAULT_HEADER, IN_PROCESS, TRANSPORT_HEADER
from vendors.sandbox.services import add_fault, register_key
from vendors.sandbox.state import RequestLogEntry

SANDBOX_ORIGIN = "http://testserver/"


class SandboxTransport(BaseAdapter):
    """A requests transport that hands each request to Django in-process (test Client, same DB).

    It runs inside the test's transaction, so pytest-django's `db` fixture is enough. A view's
    `X-Sandbox-Fault` answer becomes the exception a real client would see, without waiting.
    """

    def __init__(self):
        super().__init__()
        self.client = Client(raise_request_exception=True)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        url = urlsplit(request.url)
        if f"{url.scheme}://{url.netloc}/" != SANDBOX_ORIGIN:
            _blocked(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in ("host", "content-length", "content-type")
        }
        headers[TRANSPORT_HEADER] = IN_PROCESS
        answer = self.client.generic(
            request.method,
            url.path + (f"?{url.query}" if url.query else ""),
            data=body,
            content_type=request.headers.get("Content-Type", "application/octet-stream"),
            headers=headers,
        )
        fault = answer.get(FAULT_HEADER)
        if fault == "timeout":
            raise requests.ReadTimeout("sandbox fault: read timed out", request=request)
        if fault == "drop":
            dropped = http.client.RemoteDisconnected("sandbox fault: connection dropped")
            raise requests.ConnectionError(ProtocolError("Connection aborted.", dropped), request=request)
        return self._response(request, answer)

    def _response(self, request, answer) -> requests.Response:
        content = b"".join(answer.streaming_content) if answer.streaming else answer.content
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(answer.headers.items())
        response.raw = io.BytesIO(content)
        response.reason = _reason(answer.status_code)
        response.url = request.url
        response.request = request
        response.encoding = get_encoding_from_headers(response.headers)
        response.connection = self
        return response

    def close(self):
        pass


class BlockedTransport(BaseAdapter):
    """Mounted for every other URL: a vendor request that would leave the test fails the test."""

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        _blocked(request.url)

    def close(self):
        pass


def _blocked(url: str):
    # pytest.fail raises an exception that `except Exception` in the code under test cannot hide.
    pytest.fail(
        f"Blocked a vendor request to {url}: tests reach vendors only through the sandbox at "
        f"{SANDBOX_ORIGIN} (is a *_BASE_URL setting pointing elsewhere?)",
        pytrace=False,
    )


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def sandbox_session(*, allow: Iterable[str] = ()) -> requests.Session:
    """A session like vendors.http.build_session's, whose only reachable place is the sandbox.

    `allow` lists extra URL prefixes reached over real HTTP (a live server on 127.0.0.1).
    """
    session = requests.Session()
    session.headers["User-Agent"] = vendor_http.USER_AGENT
    session.mount("http://", BlockedTransport())
    session.mount("https://", BlockedTransport())
    session.mount(SANDBOX_ORIGIN, SandboxTransport())
    for prefix in allow:
        session.mount(prefix, HTTPAdapter(max_retries=0))
    return session


def route_vendors_to_sandbox(monkeypatch, *, allow: Iterable[str] = ()) -> None:
    """Make every vendor client built from now on talk to the in-process sandbox, and only to it."""
    allowed = tuple(allow)
    monkeypatch.setattr(vendor_http, "build_session", lambda: sandbox_session(allow=allowed))


def block_network(monkeypatch) -> None:
    """Refuse any socket connection beyond the loopback (live test servers, browsers stay usable)."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guard(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            pytest.fail(
                f"Blocked a network connection to {address[0]}:{address[1]} in a test.", pytrace=False
            )

    def connect(sock, address):
        guard(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        guard(sock, address)
        return real_connect_ex(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


class SandboxControl:
    """What a test does to the sandbox: register credentials, arm faults, read its log and clock."""

    def register_key(self, vendor: str, key: str, *, label: str = "tests", unit_id: str = "") -> str:
        """Register a DigiCert partner key or Cloudflare tenant token; returns the key."""
        register_key(vendor, key, label=label, unit_id=unit_id)
        return key

    def add_fault(self, vendor: str, kind: str, **options):
        """Arm a fault (see vendors.sandbox.services.add_fault for the options)."""
        return add_fault(vendor, kind, **options)

    def requests(self, vendor: str | None = None):
        """The sandbox's request log, oldest first; e.g. `assert not sandbox.requests("digicert")`."""
        log = RequestLogEntry.objects.order_by("id")
        return log.filter(vendor=vendor) if vendor else log

    def advance_clock(self, **delta) -> None:
        """Move the sandbox clock forward, e.g. `advance_clock(days=31)`."""
        advance_clock(timedelta(**delta))


@pytest.fixture
def no_network(monkeypatch):
    """No connection beyond the loopback for the duration of the test."""
    block_network(monkeypatch)


@pytest.fixture
def vendor_sandbox(monkeypatch, no_network) -> SandboxControl:
    """Vendor clients reach the in-process sandbox and nothing else; returns its controls.

    Database access stays the test's choice (`db`, `transactional_db`): the sandbox views need it.
    """
    route_vendors_to_sandbox(monkeypatch)
    return SandboxControl()
