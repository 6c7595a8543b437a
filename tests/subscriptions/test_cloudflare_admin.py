"""Cloudflare in the admin: the catalog with inline components, zones and add-ons, every action through an
intermediate page that previews the price before anything is sent, and the permission behind them."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from core.models import AuditEvent, Operation
from subscriptions.cloudflare.models import AddonState, CatalogPlan, CloudflareAddon, CloudflareZone
from tests.factories import StaffFactory
from tests.sandbox_helpers import inject_fault, vendor_request_count

pytestmark = pytest.mark.django_db

ZONES = "admin:subscriptions_cloudflarezone_changelist"
ADDONS = "admin:subscriptions_cloudflareaddon_changelist"


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


NOT_BILLED = "Included in the reseller's support contract"


def _action(client, changelist, action, objects, capture=None, **data):
    """Post an admin action; a paid change made here carries why it is not billed, unless the test says."""
    body = {
        "action": action,
        "_selected_action": [o.pk for o in objects],
        "not_billed_reason": NOT_BILLED,
        **data,
    }
    if capture is None:
        return client.post(reverse(changelist), body)
    with capture(execute=True):
        return client.post(reverse(changelist), body, follow=True)


def _previewed(client, changelist, action, objects, **data):
    """Preview, then Confirm the previewed values, as staff do: what was priced is what is sent."""
    preview = _action(client, changelist, action, objects, _preview="1", **data)
    return {**data, "previewed": preview.context["form"]["previewed"].value()}


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def _nothing_sent():
    return (vendor_request_count(), Operation.objects.count())


# --- Catalog ------------------------------------------------------------------------------------


def _catalog_form(partner, components, **plan):
    data = {
        "partner": partner.pk,
        "rate_plan_id": "PARTNERS_BIZ",
        "name": "Business",
        "scope": "zone",
        "monthly_price": "200.00",
        "currency": "USD",
        "frequencies": ["monthly", "yearly"],
        "active": "on",
        "components-TOTAL_FORMS": str(len(components)),
        "components-INITIAL_FORMS": str(sum(1 for c in components if c.get("id"))),
        "components-MIN_NUM_FORMS": "0",
        "components-MAX_NUM_FORMS": "1000",
        **plan,
    }
    for i, component in enumerate(components):
        data.update({f"components-{i}-{k}": v for k, v in component.items()})
    return data


def test_staff_add_a_catalog_plan_with_inline_components_audited_once(staff_client, partner):
    response = staff_client.post(
        reverse("admin:subscriptions_catalogplan_add"),
        _catalog_form(
            partner,
            [{"name": "page_rules", "default": "50", "maximum": "100", "unit_price": "5"}],
        ),
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    plan = CatalogPlan.objects.get()
    assert (plan.partner, plan.frequencies, plan.monthly_price) == (
        partner,
        ["monthly", "yearly"],
        Decimal(200),
    )
    assert list(plan.components.values_list("name", "default", "maximum")) == [("page_rules", 50, 100)]
    event = AuditEvent.objects.get(object_id=str(plan.pk), action="cloudflare.catalog_added")
    assert event.face == "admin" and event.changes["components"][1] == {"page_rules": [50, 100, "5.00"]}


def test_editing_a_catalog_plan_records_the_component_changes(staff_client, catalog):
    biz = catalog[2]
    page_rules, certificates = biz.components.order_by("name")[1], biz.components.order_by("name")[0]
    data = _catalog_form(
        biz.partner,
        [
            {
                "id": page_rules.pk,
                "plan": biz.pk,
                "name": "page_rules",
                "default": "50",
                "maximum": "200",
                "unit_price": "4",
            },
            {
                "id": certificates.pk,
                "plan": biz.pk,
                "name": "dedicated_certificates",
                "default": "0",
                "maximum": "10",
                "unit_price": "10",
                "DELETE": "on",
            },
        ],
        monthly_price="180.00",
    )
    response = staff_client.post(reverse("admin:subscriptions_catalogplan_change", args=[biz.pk]), data)
    assert response.status_code == 302
    biz.refresh_from_db()
    assert biz.monthly_price == Decimal(180) and list(biz.components.values_list("name", "maximum")) == [
        ("page_rules", 200)
    ]
    changes = AuditEvent.objects.get(action="cloudflare.catalog_changed").changes
    assert changes["monthly_price"] == ["200.00", "180.00"]
    assert changes["components"][1] == {"page_rules": [50, 200, "4.00"]}


def test_a_component_maximum_below_its_default_is_a_form_error(staff_client, partner):
    response = staff_client.post(
        reverse("admin:subscriptions_catalogplan_add"),
        _catalog_form(partner, [{"name": "page_rules", "default": "50", "maximum": "10", "unit_price": "5"}]),
    )
    assert response.status_code == 200 and "cannot be below the default" in response.content.decode()
    assert not CatalogPlan.objects.exists()


def test_catalog_plans_are_not_deleted_but_deactivated(staff_client, catalog):
    assert (
        staff_client.get(reverse("admin:subscriptions_catalogplan_delete", args=[catalog[0].pk])).status_code
        == 403
    )


# --- Zones --------------------------------------------------------------------------------------


def test_add_zone_from_the_admin(
    staff_client, customer, cloudflare_account, catalog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:subscriptions_cloudflarezone_add") + f"?customer={customer.pk}",
            {"name": "shop.example", "_confirm": "1"},
        )
    zone = CloudflareZone.objects.get()
    assert response.status_code == 302 and response.url.endswith(f"/{zone.pk}/change/")
    assert zone.state == "active" and zone.rate_plan_id == "PARTNERS_FREE"


def test_list_and_detail_show_plan_price_cloudflare_state_and_actions(staff_client, paid_zone):
    listing = staff_client.get(reverse(ZONES)).content.decode()
    assert "PARTNERS_BIZ monthly" in listing and "250.00 USD / monthly" in listing and "Paid" in listing
    detail = staff_client.get(
        reverse("admin:subscriptions_cloudflarezone_change", args=[paid_zone.pk])
    ).content.decode()
    for label in ("Upgrade zone plan", "Change components", "Downgrade", "Sync"):
        assert f">{label}</button>" in detail
    assert ">Retry</button>" not in detail  # nothing failed
    assert "page_rules 60" in detail and "Current period" in detail


def test_a_free_zone_offers_upgrade_but_not_downgrade(staff_client, zone):
    detail = staff_client.get(
        reverse("admin:subscriptions_cloudflarezone_change", args=[zone.pk])
    ).content.decode()
    assert ">Upgrade zone plan</button>" in detail and ">Downgrade</button>" not in detail


def test_upgrade_shows_the_price_preview_and_sends_nothing_until_confirmed(
    staff_client, zone, django_capture_on_commit_callbacks
):
    before = _nothing_sent()
    form = _action(staff_client, ZONES, "upgrade_zone_plan", [zone])
    assert form.status_code == 200 and 'name="rate_plan_id"' in form.content.decode()
    wanted = {"rate_plan_id": "PARTNERS_BIZ", "component_page_rules": "50", "frequency": ""}
    preview = _action(
        staff_client, ZONES, "upgrade_zone_plan", [zone], _preview="1", **wanted
    ).content.decode()
    assert (
        "0.00 USD monthly" in preview and "200.00 USD monthly" in preview and "+200.00 USD a month" in preview
    )
    assert 'name="_confirm"' in preview
    assert _nothing_sent() == before
    wanted = _previewed(staff_client, ZONES, "upgrade_zone_plan", [zone], **wanted)
    done = _action(
        staff_client,
        ZONES,
        "upgrade_zone_plan",
        [zone],
        django_capture_on_commit_callbacks,
        _confirm="1",
        **wanted,
    )
    assert "example.com: upgrade sent to Cloudflare." in _messages(done)
    zone.refresh_from_db()
    assert (zone.rate_plan_id, zone.vendor_state, zone.price) == ("PARTNERS_BIZ", "Paid", Decimal("200.00"))
    assert AuditEvent.objects.filter(action="cloudflare.zone_upgrade_requested", face="admin").exists()


def test_a_confirm_on_values_edited_since_the_preview_shows_the_new_price_first(staff_client, zone):
    wanted = _previewed(staff_client, ZONES, "upgrade_zone_plan", [zone], rate_plan_id="PARTNERS_PRO")
    before = _nothing_sent()
    page = _action(
        staff_client,
        ZONES,
        "upgrade_zone_plan",
        [zone],
        _confirm="1",
        **{**wanted, "rate_plan_id": "PARTNERS_BIZ"},
    )
    assert "The values changed since the preview" in page.content.decode()
    assert "+200.00 USD a month" in page.content.decode() and _nothing_sent() == before


def test_components_are_whole_numbers_in_their_own_fields(staff_client, zone):
    page = _action(
        staff_client,
        ZONES,
        "upgrade_zone_plan",
        [zone],
        _preview="1",
        rate_plan_id="PARTNERS_BIZ",
        component_page_rules="fifty",
    ).content.decode()
    assert "Enter a whole number" in page and "confirm-rows" not in page


def test_change_components_then_downgrade_from_the_admin(
    staff_client, paid_zone, django_capture_on_commit_callbacks
):
    preview = _action(
        staff_client,
        ZONES,
        "change_zone_components",
        [paid_zone],
        _preview="1",
        component_page_rules="70",
    ).content.decode()
    assert "250.00 USD monthly" in preview and "300.00 USD monthly" in preview
    _action(
        staff_client,
        ZONES,
        "change_zone_components",
        [paid_zone],
        django_capture_on_commit_callbacks,
        _confirm="1",
        **_previewed(staff_client, ZONES, "change_zone_components", [paid_zone], component_page_rules="70"),
    )
    paid_zone.refresh_from_db()
    assert paid_zone.component_values["page_rules"] == 70
    down = _action(staff_client, ZONES, "downgrade_zone_plan", [paid_zone]).content.decode()
    assert re.search(r'value="PARTNERS_FREE"[^>]* checked', down)  # the default target
    _action(
        staff_client,
        ZONES,
        "downgrade_zone_plan",
        [paid_zone],
        django_capture_on_commit_callbacks,
        _confirm="1",
        **_previewed(staff_client, ZONES, "downgrade_zone_plan", [paid_zone], rate_plan_id="PARTNERS_FREE"),
    )
    paid_zone.refresh_from_db()
    assert (paid_zone.rate_plan_id, paid_zone.vendor_state) == ("PARTNERS_FREE", "Provisioned")


def test_a_refusal_at_confirm_time_is_a_per_row_message(
    staff_client, paid_zone, zone, add_zone, django_capture_on_commit_callbacks
):
    free = add_zone("free.example")
    selected = [paid_zone, free]
    wanted = _previewed(staff_client, ZONES, "downgrade_zone_plan", selected, rate_plan_id="PARTNERS_FREE")
    done = _action(
        staff_client,
        ZONES,
        "downgrade_zone_plan",
        selected,
        django_capture_on_commit_callbacks,
        _confirm="1",
        **wanted,
    )
    messages = _messages(done)
    assert any(m.startswith("free.example: ") and "[not_a_downgrade]" in m for m in messages)
    assert "example.com: downgrade sent to Cloudflare." in messages


def test_sync_and_retry_have_confirmation_pages(
    staff_client, zone, run_cloudflare, settings, django_capture_on_commit_callbacks
):
    from subscriptions.cloudflare import services as cloudflare

    sync = _action(staff_client, ZONES, "sync_zones", [zone]).content.decode()
    assert "Cloudflare&#x27;s view replaces ours" in sync and 'name="_confirm"' in sync
    nothing = _action(staff_client, ZONES, "retry_zones", [zone]).content.decode()
    assert "not_retryable" in nothing and 'name="_confirm"' not in nothing
    settings.TASK_MAX_ATTEMPTS = 1
    inject_fault("cloudflare", "http_503", method="POST", path=r"/subscription$")
    run_cloudflare(cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_PRO")
    retry = _action(staff_client, ZONES, "retry_zones", [zone]).content.decode()
    assert "20.00 USD monthly" in retry and "Change zone plan again" in retry
    _action(staff_client, ZONES, "retry_zones", [zone], django_capture_on_commit_callbacks, _confirm="1")
    zone.refresh_from_db()
    assert zone.rate_plan_id == "PARTNERS_PRO" and zone.refusal_code == ""


# --- Add-ons ------------------------------------------------------------------------------------


def test_add_addon_page_previews_the_price_then_buys(
    staff_client, customer, cloudflare_account, catalog, django_capture_on_commit_callbacks
):
    url = reverse("admin:subscriptions_cloudflareaddon_add") + f"?customer={customer.pk}"
    wanted = {
        "rate_plan_id": "TEAMS_STANDARD",
        "frequency": "",
        "component_users": "60",
        "not_billed_reason": NOT_BILLED,
    }
    before = _nothing_sent()
    preview = staff_client.post(url, {**wanted, "_preview": "1"})
    assert "420.00 USD monthly" in preview.content.decode() and 'name="_confirm"' in preview.content.decode()
    assert _nothing_sent() == before
    previewed = preview.context["form"]["previewed"].value()
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, {**wanted, "previewed": previewed, "_confirm": "1"})
    addon = CloudflareAddon.objects.get()
    assert response.status_code == 302 and addon.state == AddonState.ACTIVE
    assert addon.component_values == {"users": 60} and addon.price == Decimal("420.00")
    from reconciliation.models import NotBilled

    assert NotBilled.objects.get(target_id=str(addon.pk)).reason == NOT_BILLED  # paid, and why not billed


def test_add_addon_offers_the_partners_add_ons_only(staff_client, customer, cloudflare_account, catalog):
    url = reverse("admin:subscriptions_cloudflareaddon_add") + f"?customer={customer.pk}"
    form = staff_client.get(url).content.decode()
    assert 'value="PARTNERS_LOAD_BALANCING"' in form and 'value="TEAMS_STANDARD"' in form
    assert 'value="PARTNERS_BIZ"' not in form  # a zone plan
    page = staff_client.post(
        url, {"rate_plan_id": "PARTNERS_WORKERS_BASIC", "not_billed_reason": NOT_BILLED, "_confirm": "1"}
    ).content.decode()
    assert "Select a valid choice" in page and 'name="_confirm"' not in page
    assert not CloudflareAddon.objects.exists()


def test_cancel_addon_confirms_with_the_price_ending(staff_client, addon, django_capture_on_commit_callbacks):
    page = _action(staff_client, ADDONS, "cancel_addons", [addon]).content.decode()
    assert "5.00 USD monthly" in page and "-5.00 USD a month" in page
    _action(staff_client, ADDONS, "cancel_addons", [addon], django_capture_on_commit_callbacks, _confirm="1")
    addon.refresh_from_db()
    assert addon.state == AddonState.CANCELLED


def test_change_addon_components_and_sync_from_the_admin(
    staff_client, addon, django_capture_on_commit_callbacks
):
    _action(
        staff_client,
        ADDONS,
        "change_addon_components",
        [addon],
        django_capture_on_commit_callbacks,
        _confirm="1",
        **_previewed(staff_client, ADDONS, "change_addon_components", [addon], component_endpoints="5"),
    )
    addon.refresh_from_db()
    assert addon.component_values == {"endpoints": 5}
    done = _action(
        staff_client, ADDONS, "sync_addon_accounts", [addon], django_capture_on_commit_callbacks, _confirm="1"
    )
    assert any(m.endswith(": account sync queued.") for m in _messages(done))
    assert Operation.objects.filter(kind="cloudflare.sync_addons", state="succeeded").exists()


# --- Permissions --------------------------------------------------------------------------------


def test_staff_without_manage_cloudflare_see_no_actions_and_cannot_run_them(
    client, paid_zone, django_capture_on_commit_callbacks
):
    client.force_login(StaffFactory(permissions=["view_cloudflarezone", "view_cloudflareaddon"]))
    detail = client.get(
        reverse("admin:subscriptions_cloudflarezone_change", args=[paid_zone.pk])
    ).content.decode()
    assert "Downgrade</button>" not in detail
    before = _nothing_sent()
    _action(
        client, ZONES, "downgrade_zone_plan", [paid_zone], django_capture_on_commit_callbacks, _confirm="1"
    )
    assert _nothing_sent() == before
    assert client.get(reverse("admin:subscriptions_cloudflarezone_add")).status_code == 302


def test_detail_shows_the_zones_own_opaque_plan_next_to_the_rate_plan(staff_client, paid_zone):
    detail = staff_client.get(
        reverse("admin:subscriptions_cloudflarezone_change", args=[paid_zone.pk])
    ).content.decode()
    assert "PARTNERS_BIZ" in detail and paid_zone.zone_plan["id"] in detail and "business" in detail
