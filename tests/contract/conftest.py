"""Contract tests: clients talk to the in-process sandbox; every exchange is captured for validation."""

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from vendors.cloudflare.client import CloudflareClient
from vendors.sandbox import testing
from vendors.sandbox.testing import SandboxTransport

no_network = testing.no_network
vendor_sandbox = testing.vendor_sandbox

TENANT_TOKEN = "cf-tenant-token-for-contract-tests"
CLOUDFLARE_BASE = "/sandbox/cloudflare/client/v4"
DIGITALRIVER_BASE = "/sandbox/digitalriver"


@dataclass(frozen=True)
class Exchange:
    """One request a client sent and the sandbox's answer, as JSON (None when there was none)."""

    method: str
    path: str  # relative to the vendor's base URL (Cloudflare's or Digital River's)
    sent: Any
    status: int
    answer: Any


@pytest.fixture
def exchanges(monkeypatch, vendor_sandbox) -> list[Exchange]:
    """Every request/answer that goes through the sandbox transport during the test."""
    captured: list[Exchange] = []
    send = SandboxTransport.send

    def recording(transport, request, *args, **kwargs):
        response = send(transport, request, *args, **kwargs)
        path = urlsplit(request.url).path
        captured.append(
            Exchange(
                method=request.method,
                path=path.removeprefix(CLOUDFLARE_BASE).removeprefix(DIGITALRIVER_BASE),
                sent=json.loads(request.body) if request.body else None,
                status=response.status_code,
                answer=json.loads(response.content) if response.content else None,
            )
        )
        return response

    monkeypatch.setattr(SandboxTransport, "send", recording)
    return captured


@pytest.fixture
def cloudflare(vendor_sandbox, db):
    return CloudflareClient(vendor_sandbox.register_key("cloudflare", TENANT_TOKEN, unit_id="contract-unit"))
