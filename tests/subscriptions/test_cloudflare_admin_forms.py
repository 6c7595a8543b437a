"""The Cloudflare admin's forms at the dashboard's level: the selected rows' partner's catalog as
choices, component fields with their limits, the price preview per row with nothing sent, Confirm
once at the sandbox, one partner per run, and customers that can take the action."""

from decimal import Decimal

import pytest
from django.urls import reverse

from partner.models import SubaccountState, Vendor
from subscriptions.cloudflare.models import CatalogPlan, CloudflareZone
from tests.factories import CustomerFactory, SubaccountFactory
from tests.sandbox_helpers import sandbox_zone_subscriptions, vendor_request_count
from tests.subscriptions.conftest import written

pytestmark = pytest.mark.django_db

ZONES = "admin:subscriptions_cloudflarezone_changelist"
NOT_BILLED = "Included in the reseller's support contract"


def _action(client, action, zones, **data):
    return client.post(
        reverse(ZONES),
        {
            "action": action,
            "_selected_action": [z.pk for z in zones],
            "not_billed_reason": NOT_BILLED,
            **data,
        },
    )


def _preview_pro(client, zone, page_rules):
    """The price preview of upgrading `zone` to PARTNERS_PRO with `page_rules` page rules."""
    return _action(
        client,
        "upgrade_zone_plan",
        [zone],
        _preview="1",
        rate_plan_id="PARTNERS_PRO",
        component_page_rules=page_rules,
    )


def _offered(response) -> list[str]:
    return [value for value, _ in response.context["form"].fields["rate_plan_id"].choices]


@pytest.fixture
def other_partners_plan(other_partner) -> CatalogPlan:
    """PARTNERS_BIZ_PLUS, a zone plan in another partner's catalog only."""
    return CatalogPlan.objects.create(
        partner=other_partner,
        rate_plan_id="PARTNERS_BIZ_PLUS",
        name="Biz plus",
        scope="zone",
        monthly_price=300,
    )


def _other_partners_zone(other_partner) -> CloudflareZone:
    account = SubaccountFactory(
        customer=CustomerFactory(partner=other_partner), vendor=Vendor.CLOUDFLARE, active=True
    )
    return CloudflareZone.objects.create(
        partner=other_partner,
        customer=account.customer,
        subaccount=account,
        name="other.example",
        rate_plan_id="PARTNERS_FREE",
        state="active",
    )


def test_plan_choices_are_the_zones_partners_active_zone_plans_only(
    staff_client, zone, catalog, other_partners_plan
):
    CatalogPlan.objects.filter(rate_plan_id="PARTNERS_ENT").update(active=False)

    form = _action(staff_client, "upgrade_zone_plan", [zone])

    assert _offered(form) == [
        "PARTNERS_PRO",
        "PARTNERS_BIZ",
    ]  # not the other partner's, not inactive, no add-on


def test_an_unknown_plan_is_a_field_error_and_nothing_changes(
    staff_client, zone, catalog, other_partners_plan
):
    before = written()

    for button in ("_preview", "_confirm"):
        page = _action(
            staff_client, "upgrade_zone_plan", [zone], rate_plan_id="PARTNERS_BIZ_PLUS", **{button: "1"}
        )
        assert "rate_plan_id" in page.context["form"].errors
        assert page.context["rows"] == [] and 'name="_confirm"' not in page.content.decode()

    assert written() == before


def test_component_fields_carry_their_limits_and_a_value_over_is_refused(staff_client, paid_zone):
    form = _action(staff_client, "change_zone_components", [paid_zone])
    field = form.context["form"].fields["component_page_rules"]
    assert (field.min_value, field.max_value) == (0, 100)  # PARTNERS_BIZ: up to 100 page rules
    assert form.context["form"]["component_page_rules"].value() == 60  # the zone's own units
    assert 'max="100"' in form.content.decode()
    before = written()

    page = _action(
        staff_client, "change_zone_components", [paid_zone], _confirm="1", component_page_rules="101"
    )

    assert "less than or equal to 100" in str(page.context["form"].errors["component_page_rules"])
    assert written() == before


def test_a_value_within_the_field_but_over_the_chosen_plans_limit_is_refused_per_row(staff_client, zone):
    page = _preview_pro(staff_client, zone, page_rules="99").content.decode()

    assert "[component_above_maximum]" in page and 'name="_confirm"' not in page


def test_the_preview_shows_now_after_and_difference_with_nothing_sent(staff_client, zone):
    requests, subscriptions = vendor_request_count(), sandbox_zone_subscriptions().count()

    page = _preview_pro(staff_client, zone, page_rules="25")

    (row,) = page.context["rows"]
    assert [str(cell) for cell in row.cells] == [
        "0.00 USD monthly",
        "45.00 USD monthly",
        "+45.00 USD a month",
    ]
    assert page.context["columns"] == ["Now", "After", "Difference"] and not row.refusal
    assert "Upgrade: PARTNERS_PRO" in row.change
    assert (vendor_request_count(), sandbox_zone_subscriptions().count()) == (requests, subscriptions)
    zone.refresh_from_db()
    assert zone.rate_plan_id == "PARTNERS_FREE"


def test_confirm_upgrades_once_at_the_sandbox(staff_client, zone, django_capture_on_commit_callbacks):
    wanted = {"rate_plan_id": "PARTNERS_PRO", "component_page_rules": "25"}
    previewed = _action(staff_client, "upgrade_zone_plan", [zone], _preview="1", **wanted).context["form"]

    with django_capture_on_commit_callbacks(execute=True):
        _action(
            staff_client,
            "upgrade_zone_plan",
            [zone],
            _confirm="1",
            previewed=previewed["previewed"].value(),
            **wanted,
        )

    zone.refresh_from_db()
    assert (zone.rate_plan_id, zone.component_values["page_rules"], zone.price) == (
        "PARTNERS_PRO",
        25,
        Decimal(45),
    )
    assert sandbox_zone_subscriptions(zone__pk=zone.vendor_id).count() == 1


def test_zones_of_two_partners_are_refused_before_anything(staff_client, zone, other_partner):
    other = _other_partners_zone(other_partner)
    before = written()

    for step in ({}, {"_preview": "1"}, {"_confirm": "1"}):
        response = _action(
            staff_client, "upgrade_zone_plan", [zone, other], rate_plan_id="PARTNERS_PRO", **step
        )
        assert response.status_code == 302  # back to the list
        shown = [str(m) for m in staff_client.get(response.url).context["messages"]]
        assert any("one partner at a time" in m for m in shown)

    assert written() == before


@pytest.mark.parametrize("model", ["cloudflarezone", "cloudflareaddon"])
def test_add_pages_offer_only_customers_with_an_active_cloudflare_account(
    staff_client, customer, cloudflare_account, catalog, model
):
    pending = CustomerFactory(partner=customer.partner, name="Not yet")
    SubaccountFactory(customer=pending, vendor=Vendor.CLOUDFLARE, state=SubaccountState.PENDING)
    digicert_only = CustomerFactory(partner=customer.partner, name="DigiCert only")
    SubaccountFactory(customer=digicert_only, vendor=Vendor.DIGICERT, active=True)
    url = reverse(f"admin:subscriptions_{model}_add")

    chooser = staff_client.get(url)
    assert list(chooser.context["form"].fields["customer"].queryset) == [customer]
    assert staff_client.get(f"{url}?customer={pending.pk}").context["form"].fields.keys() == {"customer"}

    chosen = staff_client.post(url, {"customer": customer.pk, "_preview": "1"})
    assert chosen.status_code == 302 and chosen.url == f"{url}?customer={customer.pk}"


def test_the_addon_page_prices_the_purchase_before_anything_is_sent(
    staff_client, customer, cloudflare_account, catalog
):
    url = reverse("admin:subscriptions_cloudflareaddon_add") + f"?customer={customer.pk}"
    assert _offered(staff_client.get(url)) == ["PARTNERS_LOAD_BALANCING", "TEAMS_STANDARD"]
    field = staff_client.get(url).context["form"].fields["component_users"]
    assert (field.min_value, field.max_value) == (0, 500)
    before = written()

    page = staff_client.post(
        url, {"rate_plan_id": "TEAMS_STANDARD", "component_users": "60", "_preview": "1"}
    )

    (row,) = page.context["rows"]
    assert row.cells[0] is None and str(row.cells[1]) == "420.00 USD monthly" and not row.refusal
    assert written() == before
