"""Fixtures and helpers for the Digital River sandbox and client tests (import what a module uses).

The sandbox tests talk to the emulator in Digital River's own words through `api` (a raw HTTP
session over the in-process sandbox transport: status and JSON, no client in between), so that
they test the emulator's rules whatever the back office's client does. `dr` is the client, for
the client's own tests.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from vendors import http as vendor_http
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
TRIAL = {
    **ANNUAL,
    "plan_id": "plan-trial",
    "name": "Pro trial",
    "terms": "Free for 14 days, then every year at the price shown until you cancel.",
    "interval": "day",
    "interval_count": 14,
    "contract_binding_days": 14,
    "reminder_offset_days": 3,
    "billing_offset_days": 0,
    "collection_period_days": 3,
}
EXTERNAL_TERMS = "Renews every year until you cancel; we charge your saved card each year."
WEBHOOK_ORIGIN = "http://webhook.test/"
WEBHOOK_URL = f"{WEBHOOK_ORIGIN}digitalriver"


def plan_body(plan: dict) -> dict:
    """A PlanRequest from one of the fixture dicts above."""
    return {
        "id": plan["plan_id"],
        "name": plan["name"],
        "terms": plan["terms"],
        "interval": plan["interval"],
        "intervalCount": plan["interval_count"],
        "contractBindingDays": plan["contract_binding_days"],
        "reminderOffsetDays": plan["reminder_offset_days"],
        "billingOffsetDays": plan["billing_offset_days"],
        "collectionPeriodDays": plan["collection_period_days"],
    }


# --- The raw API ------------------------------------------------------------------------------------


@dataclass
class Answer:
    """What the sandbox answered: the status and the JSON body (None when empty)."""

    status: int
    body: Any

    @property
    def error(self) -> dict:
        return self.body["errors"][0]

    @property
    def code(self) -> str:
        return self.error["code"]

    @property
    def parameter(self) -> str | None:
        return self.error.get("parameter")

    @property
    def message(self) -> str:
        return self.error["message"]


class DRApi:
    """Digital River's API as the sandbox serves it, with the configured secret key."""

    def __init__(self, key: str | None = None):
        self.session = testing.sandbox_session()
        self.session.headers["Authorization"] = f"Bearer {key or settings.DIGITALRIVER_API_KEY}"
        self.base = f"{testing.SANDBOX_ORIGIN.rstrip('/')}{DR}"

    def call(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Answer:
        response = self.session.request(method, f"{self.base}{path}", json=body, params=params)
        return Answer(response.status_code, response.json() if response.content else None)

    def _expect(self, answer: Answer, status: int) -> Any:
        assert answer.status == status, f"expected {status}, got {answer.status}: {answer.body}"
        return answer.body

    def get(self, path: str, params: dict | None = None, *, status: int = 200) -> Any:
        return self._expect(self.call("GET", path, params=params), status)

    def post(self, path: str, body: Any = None, *, status: int | None = None) -> Any:
        answer = self.call("POST", path, body if body is not None else {})
        return self._expect(answer, status or (200 if answer.status == 200 else 201))

    def delete(self, path: str, *, status: int = 204) -> Any:
        return self._expect(self.call("DELETE", path), status)

    def refused(self, method: str, path: str, body: Any = None, params: dict | None = None) -> Answer:
        answer = self.call(method, path, body, params)
        assert answer.status >= 400, f"expected a refusal, got {answer.status}: {answer.body}"
        return answer


@pytest.fixture
def api(vendor_sandbox, db) -> DRApi:
    return DRApi()


@pytest.fixture
def dr(vendor_sandbox, db):
    from vendors.digitalriver.client import DigitalRiverClient

    return DigitalRiverClient()


@pytest.fixture
def annual(api) -> dict:
    return api.post("/plans", plan_body(ANNUAL), status=201)


@pytest.fixture
def monthly(api) -> dict:
    return api.post("/plans", plan_body(MONTHLY), status=201)


@pytest.fixture
def trial(api) -> dict:
    return api.post("/plans", plan_body(TRIAL), status=201)


@pytest.fixture
def customer_id(api) -> str:
    api.post("/customers", {"id": CUSTOMER_ID, "email": "buyer@example.com"}, status=201)
    return CUSTOMER_ID


# --- Items ----------------------------------------------------------------------------------------


def recurring(plan, *, price=120.0, subscription_id=None, sku="sku-pro", **info) -> dict:
    """An acquisition item of Digital River's subscription service for `plan` (a Plan or fixture dict)."""
    plan_id = plan.get("plan_id") or plan["id"]
    subscription_info = {"planId": plan_id, "terms": plan["terms"], "autoRenewal": True, **info}
    if subscription_id:
        subscription_info["subscriptionId"] = subscription_id
    return {"skuId": sku, "price": price, "quantity": 1, "subscriptionInfo": subscription_info}


def external(
    subscription_id, *, price=120.0, sku="sku-zone", terms=EXTERNAL_TERMS, quantity=1, **info
) -> dict:
    """An acquisition item of an external subscription: our subscriptionId, terms, no planId."""
    subscription_info = {"subscriptionId": subscription_id, "terms": terms, "autoRenewal": True, **info}
    return {"skuId": sku, "price": price, "quantity": quantity, "subscriptionInfo": subscription_info}


def one_off(price=50.0, sku="sku-setup", quantity=1) -> dict:
    return {"skuId": sku, "price": price, "quantity": quantity}


def renewal(subscription_id, agreement_id, *, price=120.0, auto=True, sku="sku-pro") -> dict:
    """A renewal item: the subscription and its billing agreement, no terms (002)."""
    return {
        "skuId": sku,
        "price": price,
        "quantity": 1,
        "subscriptionInfo": {
            "subscriptionId": subscription_id,
            "billingAgreementId": agreement_id,
            "autoRenewal": auto,
        },
    }


# --- Flows ----------------------------------------------------------------------------------------


def pay(session_id: str, *, decline: bool = False, source: str | None = None) -> str:
    """Pay a checkout session as the customer (the management command); returns its output."""
    out = io.StringIO()
    options: dict = {"decline": True} if decline else {}
    if source:
        options["source"] = source
    call_command("sandbox_dr", "pay", session=session_id, stdout=out, **options)
    return out.getvalue()


def session(api: DRApi, customer_id: str, items: list, **fields) -> dict:
    body = {"customerId": customer_id, "currency": "USD", "chargeType": "customer_initiated", "items": items}
    return api.post("/drop-in/checkout-sessions", {**body, **fields}, status=201)


def paid_order(api: DRApi, customer_id: str, items: list, **fields) -> dict:
    """A checkout session paid on the pay page's behalf: the order, as GET /orders shows it."""
    paid = session(api, customer_id, items, **fields)
    pay(paid["id"])
    from vendors.sandbox.digitalriver.models import DRCheckoutSession

    checkout_id = DRCheckoutSession.objects.get(pk=paid["id"]).checkout_id
    return api.get("/orders", {"checkoutId": checkout_id})["data"][0]


def acquire(api: DRApi, plan: dict, customer_id: str, *, subscription_id="sub-0001", extra_items=()) -> tuple:
    """A paid acquisition of Digital River's subscription service: (order, subscription)."""
    order = paid_order(
        api,
        customer_id,
        [recurring(plan, subscription_id=subscription_id), *extra_items],
        upstreamId=f"acq-{subscription_id}",
    )
    return order, api.get(f"/subscriptions/{subscription_id}")


def fulfil(api: DRApi, order: dict, *, cancel: bool = False, status: int = 201) -> dict:
    """Report every item of the order fulfilled (or cancelled)."""
    name = "cancelQuantity" if cancel else "quantity"
    items = [{"itemId": item["id"], name: item["quantity"]} for item in order["items"]]
    return api.post("/fulfillments", {"orderId": order["id"], "items": items}, status=status)


def checkout(
    api: DRApi, customer_id: str, items: list, *, charge_type="customer_initiated", **fields
) -> dict:
    body = {"customerId": customer_id, "currency": "USD", "chargeType": charge_type, "items": items}
    return api.post("/checkouts", {**body, **fields}, status=201)


def saved_source(customer_id: str | None, **card) -> str:
    """A reusable card source saved to the customer (what the Drop-in and the merchant's save make)."""
    from vendors.sandbox.digitalriver import sources
    from vendors.sandbox.digitalriver.models import DRCustomer

    customer = DRCustomer.objects.get(pk=customer_id) if customer_id else None
    return sources.create_source({**sources.default_card(), **card} if card else None, customer=customer).pk


def new_source(*, reusable: bool = True) -> str:
    """A card source saved to nobody."""
    from vendors.sandbox.digitalriver import sources

    return sources.create_source(reusable=reusable).pk


def order_with_source(api: DRApi, customer_id: str, items: list, *, charge_type="customer_initiated") -> dict:
    """POST /checkouts with a saved source, then POST /orders: the order (201)."""
    made = checkout(api, customer_id, items, charge_type=charge_type, sourceId=saved_source(customer_id))
    return api.post("/orders", {"checkoutId": made["id"]}, status=201)


# --- The webhook ---------------------------------------------------------------------------------


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


# --- Reading the sandbox ---------------------------------------------------------------------------


def event_types(since: int = 0) -> list[str]:
    from vendors.sandbox.digitalriver.models import DREvent

    return list(DREvent.objects.filter(seq__gt=since).order_by("seq").values_list("type", flat=True))


def last_seq() -> int:
    from vendors.sandbox.digitalriver.models import DREvent

    return DREvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def events_of(event_type: str) -> list[dict]:
    """The data.object of every event of this type, oldest first."""
    from vendors.sandbox.digitalriver.models import DREvent

    return [e.data["object"] for e in DREvent.objects.filter(type=event_type).order_by("seq")]


def sandbox_state() -> tuple:
    """Counts of everything a request could leave behind at the Digital River sandbox."""
    from vendors.sandbox.digitalriver import models

    return tuple(
        model.objects.count()
        for model in (
            models.DRCheckoutSession,
            models.DRCheckout,
            models.DROrder,
            models.DRCharge,
            models.DRChargeOperation,
            models.DRFulfillment,
            models.DRSource,
            models.DRSubscription,
            models.DRBillingAgreement,
            models.DRLedgerEntry,
            models.DREvent,
        )
    )
