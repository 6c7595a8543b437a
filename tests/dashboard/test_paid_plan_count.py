"""The home page's Cloudflare figure: "N on a paid plan" counts zones whose current rate plan is paid,
not zones that merely have a subscription (one downgraded to the free plan keeps it)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from partner.models import Vendor
from subscriptions.cloudflare.models import FREE_ZONE_PLAN, CatalogPlan, CloudflareZone
from tests.factories import PartnerFactory, SubaccountFactory

pytestmark = pytest.mark.django_db


def _zone(account, name, rate_plan_id, subscription_id="", state="active"):
    return CloudflareZone.objects.create(
        partner=account.partner,
        customer=account.customer,
        subaccount=account,
        name=name,
        state=state,
        rate_plan_id=rate_plan_id,
        subscription_id=subscription_id,
    )


def _plan(partner, rate_plan_id, price):
    return CatalogPlan.objects.create(
        partner=partner, rate_plan_id=rate_plan_id, name=rate_plan_id, scope="zone", monthly_price=price
    )


def test_only_zones_on_a_paid_rate_plan_count_as_paid(owner_client, customer):
    partner = customer.partner
    account = SubaccountFactory(customer=customer, vendor=Vendor.CLOUDFLARE, active=True)
    _plan(partner, "PARTNERS_PRO", Decimal("20"))
    _plan(partner, "PARTNERS_STARTER", Decimal("0"))  # free in this partner's catalog
    _plan(PartnerFactory(), "PARTNERS_BIZ", Decimal("0"))  # free elsewhere, not here
    _zone(account, "pro.example.com", "PARTNERS_PRO", "sub1")
    _zone(account, "biz.example.com", "PARTNERS_BIZ", "sub2")
    _zone(account, "downgraded.example.com", FREE_ZONE_PLAN, "sub3")  # keeps its subscription
    _zone(account, "starter.example.com", "PARTNERS_STARTER", "sub4")
    _zone(account, "free.example.com", FREE_ZONE_PLAN)
    _zone(account, "pending.example.com", "PARTNERS_PRO", "sub5", state="pending")

    response = owner_client.get(reverse("dashboard:home"))

    figure = {f.label: f for f in response.context["figures"]}["Cloudflare zones"]
    assert figure.value == 5
    assert figure.detail.startswith("2 on a paid plan")
    assert "2 on a paid plan" in response.content.decode()
