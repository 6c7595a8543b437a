"""Every dashboard list and export costs the same number of queries at 5 rows of everything as at 50.

Rows come from model_bakery, each owned by the reseller (its partner, a customer of its own, and
related rows of the same partner), so they show on its pages; each row has its own relations, so
anything read per row shows up as a difference between the two counts.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import ForeignKey
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from model_bakery import baker

from billing.models import BillingAgreement, BillingSubscription, Checkout, Notice, Renewal
from core import dashboard as dash
from partner.models import Customer, Partner, Subaccount
from reconciliation.models import Finding
from subscriptions.acme.models import AcmeContract, Certificate
from subscriptions.cloudflare.models import CloudflareAddon, CloudflareZone

pytestmark = pytest.mark.django_db

LISTS = [
    "home",
    "customers",
    "team",
    "tokens",
    "subscriptions",
    "certificates",
    "zones",
    "addons",
    "renewals",
    "billing-agreements",
    "checkouts",
    "reconciliation",
]
EXPORTS = sorted(dash.registry.exports)
GROWN = [
    Subaccount,  # the customer's subaccount, then shared by its contracts, zones and add-ons
    AcmeContract,
    Certificate,
    CloudflareZone,
    CloudflareAddon,
    BillingSubscription,
    BillingAgreement,
    Checkout,
    Renewal,
    Notice,
    Finding,
]


def _owned(model, partner: Partner, customer: Customer, shared: dict):
    """One row of `model` that belongs to `partner` (and `customer`) through every required relation;
    `shared` holds the customer's rows that may exist once (its subaccount)."""
    if model in shared:
        return shared[model]
    values = {}
    for field in model._meta.fields:
        if not isinstance(field, ForeignKey) or field.null:
            continue
        target = field.related_model
        if target is Partner:
            values[field.name] = partner
        elif target is Customer:
            values[field.name] = customer
        elif any(f.name == "partner" for f in target._meta.fields):
            values[field.name] = _owned(target, partner, customer, shared)
    row = baker.make(model, **values)
    if model is Subaccount:  # one per customer and vendor
        shared[model] = row
    return row


def _grow(partner: Partner, rows: int) -> None:
    for _ in range(rows):
        customer, shared = baker.make(Customer, partner=partner), {}
        for model in GROWN:
            _owned(model, partner, customer, shared)


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured)


@pytest.mark.parametrize(
    "url",
    [
        *(reverse(f"dashboard:{name}") for name in LISTS),
        *(reverse("dashboard:export", args=[k]) for k in EXPORTS),
    ],
)
def test_dashboard_list_queries_do_not_grow_with_rows(owner_client, partner, url):
    _grow(partner, 5)
    _queries(owner_client, url)  # warm the caches (content types, the session)
    at_five = _queries(owner_client, url)
    _grow(partner, 45)
    at_fifty = _queries(owner_client, url)
    assert at_fifty == at_five, f"{url}: {at_five} queries at 5 rows of everything, {at_fifty} at 50"
