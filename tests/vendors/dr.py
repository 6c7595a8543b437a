"""Fixtures and helpers for the Digital River client and sandbox tests (import what a module uses)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pytest
import requests
from django.core.management import call_command
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from vendors import http as vendor_http
from vendors.digitalriver import DigitalRiverClient
from vendors.sandbox import testing

DR = "/sandbox/digitalriver"
CUSTOMER_ID = "reseller-cust-0001"
ANNUAL = {
    "plan_id": "plan-annual",
    "name": "Pro annual",
    "terms": "Renews every year at the then-current price until you cancel.",
    "interval": "year",
    "interval_count": 1,
    "contract_binding_days": 365,
    "reminder_offset_days": 30,
    "billing_offset_days": 5,
    "collection_period_days": 14,
}
MONTHLY = {
    **ANNUAL,
    "plan_id": "plan-monthly",
    "name": "Zone monthly",
    "terms": "Renews every month until you cancel.",
    "interval": "month",
    "contract_binding_days": 30,
    "reminder_offset_days": 7,
    "billing_offset_days": 2,
    "collection_period_days": 7,
}
WEBHOOK_ORIGIN = "http://webhook.test/"
WEBHOOK_URL = f"{WEBHOOK_ORIGIN}digitalriver"


@pytest.fixture
def dr(vendor_sandbox, db) -> DigitalRiverClient:
    return DigitalRiverClient()


@pytest.fixture
def annual(dr):
    return dr.create_plan(**ANNUAL)


@pytest.fixture
def monthly(dr):
    return dr.create_plan(**MONTHLY)


@pytest.fixture
def customer_id(dr) -> str:
    return dr.ensure_customer(CUSTOMER_ID, email="buyer@example.com", name="Buyer Ltd")


def recurring(plan, *, price=120.0, subscription_id=None, sku="sku-pro", **info) -> dict:
    """An acquisition item for `plan` (a DRPlan or a fixture dict), terms included."""
    plan_id = plan["plan_id"] if isinstance(plan, dict) else plan.id
    terms = plan["terms"] if isinstance(plan, dict) else plan.terms
    subscription_info = {"planId": plan_id, "terms": terms, "autoRenewal": True, **info}
    if subscription_id:
        subscription_info["subscriptionId"] = subscription_id
    return {"skuId": sku, "price": price, "quantity": 1, "subscriptionInfo": subscription_info}


def one_off(price=50.0, sku="sku-setup") -> dict:
    return {"skuId": sku, "price": price, "quantity": 1}


def renewal(subscription, *, price=120.0, auto=True, sku="sku-pro") -> dict:
    """A renewal item: the subscription and its billing agreement, no terms (002)."""
    return {
        "skuId": sku,
        "price": price,
        "quantity": 1,
        "subscriptionInfo": {
            "subscriptionId": subscription.id,
            "billingAgreementId": subscription.billing_agreement_id,
            "autoRenewal": auto,
        },
    }


def pay(session_id: str, *, decline: bool = False) -> str:
    """Pay a checkout session as the customer (the management command); returns its output."""
    out = io.StringIO()
    options = {"decline": True} if decline else {}
    call_command("sandbox_dr", "pay", session=session_id, stdout=out, **options)
    return out.getvalue()


def acquire(dr, plan, customer_id, *, subscription_id="sub-0001", extra_items=()):
    """A paid acquisition: (session, the order's subscription, paid through the pay command)."""
    session = dr.create_checkout_session(
        customer_id=customer_id,
        currency="USD",
        items=[recurring(plan, subscription_id=subscription_id), *extra_items],
        upstream_id=f"acq-{subscription_id}",
    )
    pay(session.id)
    return session, dr.get_subscription(subscription_id)


def renew(dr, subscription, customer_id, *, upstream_id="renewal-1"):
    """A merchant-initiated renewal checkout and its order."""
    checkout = dr.create_checkout(
        customer_id=customer_id,
        currency="USD",
        items=[renewal(subscription)],
        charge_type="merchant_initiated",
        upstream_id=upstream_id,
    )
    return checkout, dr.create_order(checkout.id)


@dataclass
class Delivery:
    signature: str
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


class WebhookReceiver(BaseAdapter):
    """Stands in for the back office's webhook endpoint: records what arrives, answers `status`."""

    def __init__(self):
        super().__init__()
        self.received: list[Delivery] = []
        self.status = 200
        self.raises: Exception | None = None

    def send(self, request, **kwargs):
        if self.raises is not None:
            raise self.raises
        body = request.body if isinstance(request.body, bytes) else request.body.encode()
        self.received.append(Delivery(request.headers.get("DigitalRiver-Signature", ""), body))
        response = requests.Response()
        response.status_code = self.status
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json"})
        response.raw = io.BytesIO(b"{}")
        response.url, response.request = request.url, request
        return response

    def close(self):
        pass

    def types(self) -> list[str]:
        return [delivery.event["type"] for delivery in self.received]


@pytest.fixture
def webhook(vendor_sandbox, settings, monkeypatch) -> WebhookReceiver:
    """Events go to a recorder at WEBHOOK_URL; vendor calls still reach only the sandbox."""
    receiver = WebhookReceiver()
    settings.SANDBOX_DR_WEBHOOK_URL = WEBHOOK_URL

    def build_session():
        session = testing.sandbox_session()
        session.mount(WEBHOOK_ORIGIN, receiver)
        return session

    monkeypatch.setattr(vendor_http, "build_session", build_session)
    return receiver
