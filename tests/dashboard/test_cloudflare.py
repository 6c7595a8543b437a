"""Cloudflare zones and add-ons in the dashboard: add a zone, upgrade, change or downgrade its plan
with the price shown first, buy, change or cancel an add-on; refusals with their message; the
permission matrix and constant query counts of these pages."""

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from core.models import AuditEvent, Operation
from subscriptions.cloudflare.models import CloudflareAddon, CloudflareZone
from tests.dashboard.helpers import count_queries
from tests.factories import MembershipFactory, operation_on
from tests.sandbox_helpers import vendor_request_count
from tests.subscriptions.conftest import NOT_BILLED_REASON

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def _preview(client, url, **data):
    return client.post(url, {"_preview": "", **data})


def _confirm(client, url, capture, **data):
    """Preview, then confirm the previewed values (running the vendor call), as the page does; a paid
    change made here says why it is not billed (the pages that do not ask ignore it)."""
    preview = _preview(client, url, **data)
    previewed = preview.context["form"]["previewed"].value()
    with capture(execute=True):
        return client.post(
            url, {"_confirm": "", "previewed": previewed, "not_billed_reason": NOT_BILLED_REASON, **data}
        )


# --- The customer page and zones ------------------------------------------------------------


def test_the_customer_page_shows_zones_plans_prices_and_add_ons(owner_client, customer, paid_zone, addon):
    page = owner_client.get(reverse("dashboard:customer", args=[customer.pk])).content.decode()

    assert paid_zone.name in page and "PARTNERS_BIZ" in page and "250.00 USD" in page
    assert "PARTNERS_LOAD_BALANCING" in page and "2 endpoints" in page
    assert reverse("dashboard:zone-add", args=[customer.pk]) in page
    assert "Zone upgraded at Cloudflare" in page and "Add-on bought at Cloudflare" in page


def test_adding_a_zone_creates_it_at_cloudflare_on_the_free_plan(
    owner_client, customer, cloudflare_account, catalog, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("dashboard:zone-add", args=[customer.pk]), {"name": "Shop.Example.com"}
        )

    zone = CloudflareZone.objects.get()
    assert response["Location"] == reverse("dashboard:zone", args=[zone.pk])
    assert zone.name == "shop.example.com" and zone.state == "active" and zone.rate_plan_id == "PARTNERS_FREE"
    page = owner_client.get(response["Location"]).content.decode()
    assert "Free" in page and reverse("dashboard:zone-plan", args=[zone.pk, "upgrade"]) in page


def test_a_zone_needs_an_active_cloudflare_account(owner_client, customer):
    page = owner_client.get(reverse("dashboard:zone-add", args=[customer.pk])).content.decode()
    response = owner_client.post(
        reverse("dashboard:zone-add", args=[customer.pk]), {"name": "shop.example.com"}
    )

    assert "has no Cloudflare account yet" in page
    assert "has no active Cloudflare account yet; create it first" in response.content.decode()
    assert not CloudflareZone.objects.exists()


def test_a_bad_or_duplicate_zone_name_is_refused_with_the_reason(owner_client, customer, zone):
    bad = owner_client.post(reverse("dashboard:zone-add", args=[customer.pk]), {"name": "*.example.com"})
    twice = owner_client.post(reverse("dashboard:zone-add", args=[customer.pk]), {"name": zone.name})

    assert "is not a zone name" in bad.content.decode()
    assert f"already has the zone {zone.name}" in twice.content.decode()
    assert CloudflareZone.objects.count() == 1


def test_the_progress_part_follows_a_zone_until_cloudflare_answers(owner_client, zone):
    operation = operation_on(zone, kind="cloudflare.sync_zone")
    url = reverse("dashboard:zone-progress", args=[zone.pk])

    assert "Sync zone with Cloudflare…" in owner_client.get(url, **HX).content.decode()
    Operation.objects.filter(pk=operation.pk).update(state="succeeded")
    assert owner_client.get(url, **HX)["HX-Refresh"] == "true"


# --- Zone plan: upgrade, change, downgrade with the price first ---------------------------------


def test_upgrade_offers_only_catalog_plans_that_cost_no_less(owner_client, paid_zone):
    form = owner_client.get(reverse("dashboard:zone-plan", args=[paid_zone.pk, "upgrade"])).context["form"]

    assert [v for v, _ in form.fields["rate_plan_id"].choices] == ["PARTNERS_ENT"]


def test_the_preview_shows_the_price_before_and_after_and_sends_nothing(owner_client, zone):
    before = vendor_request_count()

    response = _preview(
        owner_client,
        reverse("dashboard:zone-plan", args=[zone.pk, "upgrade"]),
        rate_plan_id="PARTNERS_PRO",
        component_page_rules="25",
    )

    planned = response.context["planned"]
    assert (planned.current.amount, planned.new.amount) == (Decimal("0.00"), Decimal("45.00"))
    page = response.content.decode()
    assert "45.00 USD" in page and "+45.00 USD a month" in page and 'name="_confirm"' in page
    assert vendor_request_count() == before and not Operation.objects.filter(
        kind="cloudflare.change_zone_plan"
    )


def test_confirming_the_preview_upgrades_the_zone_at_cloudflare(
    owner_client, zone, django_capture_on_commit_callbacks
):
    url = reverse("dashboard:zone-plan", args=[zone.pk, "upgrade"])

    response = _confirm(owner_client, url, django_capture_on_commit_callbacks, rate_plan_id="PARTNERS_PRO")

    assert response["Location"] == reverse("dashboard:zone", args=[zone.pk])
    zone.refresh_from_db()
    assert zone.rate_plan_id == "PARTNERS_PRO" and zone.price == Decimal("20.00") and zone.subscription_id
    event = AuditEvent.objects.get(action="cloudflare.zone_upgrade_requested")
    assert event.face == "dashboard" and "20.00 USD monthly" in event.note


def test_a_confirm_after_editing_shows_the_new_price_instead_of_sending(owner_client, zone):
    url = reverse("dashboard:zone-plan", args=[zone.pk, "upgrade"])
    previewed = _preview(owner_client, url, rate_plan_id="PARTNERS_PRO").context["form"]["previewed"].value()

    response = owner_client.post(
        url, {"_confirm": "", "previewed": previewed, "rate_plan_id": "PARTNERS_BIZ"}, follow=True
    )

    assert response.status_code == 200 and response.context["planned"].rate_plan_id == "PARTNERS_BIZ"
    assert "The values changed since the preview" in response.content.decode()
    assert json.loads(response.context["form"]["previewed"].value())["rate_plan_id"] == "PARTNERS_BIZ"
    zone.refresh_from_db()
    assert zone.rate_plan_id == "PARTNERS_FREE"


def test_components_above_the_catalog_maximum_are_refused_with_the_reason(owner_client, zone):
    response = _preview(
        owner_client,
        reverse("dashboard:zone-plan", args=[zone.pk, "upgrade"]),
        rate_plan_id="PARTNERS_PRO",
        component_page_rules="99",
    )

    assert "page_rules 99 is above what PARTNERS_PRO allows" in response.content.decode()
    assert response.context["planned"] is None


def test_a_plan_cloudflare_refuses_is_explained_on_the_zone_and_the_home_page(
    owner_client, zone, django_capture_on_commit_callbacks
):
    url = reverse("dashboard:zone-plan", args=[zone.pk, "upgrade"])

    _confirm(owner_client, url, django_capture_on_commit_callbacks, rate_plan_id="PARTNERS_ENT")

    zone.refresh_from_db()
    # The zone's available_rate_plans lacks the plan: refused before anything is sent to Cloudflare.
    assert zone.rate_plan_id == "PARTNERS_FREE" and zone.refusal_code == "rate_plan_not_available"
    page = owner_client.get(reverse("dashboard:zone", args=[zone.pk])).content.decode()
    assert "Cloudflare did not make the last change." in page and "Cloudflare entitlement" in page
    attention = owner_client.get(reverse("dashboard:home")).context["attention"]
    assert any(item.title.startswith("Cloudflare refused a change") for item in attention)


def test_changing_components_keeps_the_plan(owner_client, paid_zone, django_capture_on_commit_callbacks):
    url = reverse("dashboard:zone-plan", args=[paid_zone.pk, "change"])
    form = owner_client.get(url).context["form"]
    assert "rate_plan_id" not in form.fields and form.initial["component_page_rules"] == 60

    _confirm(owner_client, url, django_capture_on_commit_callbacks, component_page_rules="70")

    paid_zone.refresh_from_db()
    assert paid_zone.rate_plan_id == "PARTNERS_BIZ" and paid_zone.component_values["page_rules"] == 70


def test_changing_nothing_is_refused_with_the_reason(owner_client, paid_zone):
    response = _preview(
        owner_client, reverse("dashboard:zone-plan", args=[paid_zone.pk, "change"]), component_page_rules="60"
    )

    assert "Nothing to change: it is already PARTNERS_BIZ" in response.content.decode()


def test_downgrading_to_the_free_plan(owner_client, paid_zone, django_capture_on_commit_callbacks):
    url = reverse("dashboard:zone-plan", args=[paid_zone.pk, "downgrade"])
    choices = [v for v, _ in owner_client.get(url).context["form"].fields["rate_plan_id"].choices]
    assert choices == ["PARTNERS_FREE", "PARTNERS_PRO"]

    _confirm(owner_client, url, django_capture_on_commit_callbacks, rate_plan_id="PARTNERS_FREE")

    paid_zone.refresh_from_db()
    assert paid_zone.rate_plan_id == "PARTNERS_FREE"


def test_an_unknown_plan_action_is_not_a_page(owner_client, zone):
    assert owner_client.get(f"/zones/{zone.pk}/plan/explode/").status_code == 404


# --- Add-ons --------------------------------------------------------------------------------


def test_buying_an_add_on_after_its_price(
    owner_client, customer, cloudflare_account, catalog, django_capture_on_commit_callbacks
):
    url = reverse("dashboard:addon-add", args=[customer.pk])
    preview = _preview(
        owner_client, url, rate_plan_id="TEAMS_STANDARD", frequency="yearly", component_users="60"
    )
    assert preview.context["planned"].new.amount == Decimal("5040.00")  # (350 + 10 * 7) * 12

    response = _confirm(
        owner_client,
        url,
        django_capture_on_commit_callbacks,
        rate_plan_id="TEAMS_STANDARD",
        frequency="yearly",
        component_users="60",
    )

    addon = CloudflareAddon.objects.get()
    assert response["Location"] == reverse("dashboard:addon", args=[addon.pk])
    assert addon.state == "active" and addon.component_values == {"users": 60} and addon.frequency == "yearly"


def test_buying_an_add_on_the_customer_has_is_refused(owner_client, customer, addon):
    response = _preview(
        owner_client,
        reverse("dashboard:addon-add", args=[customer.pk]),
        rate_plan_id="PARTNERS_LOAD_BALANCING",
    )
    confirm = owner_client.post(
        reverse("dashboard:addon-add", args=[customer.pk]),
        {
            "_confirm": "",
            "previewed": response.context["form"]["previewed"].value(),
            "rate_plan_id": "PARTNERS_LOAD_BALANCING",
        },
    )

    assert "already has PARTNERS_LOAD_BALANCING; change its components instead" in confirm.content.decode()
    assert CloudflareAddon.objects.count() == 1


def test_changing_an_add_on(owner_client, addon, django_capture_on_commit_callbacks):
    url = reverse("dashboard:addon-change", args=[addon.pk])

    _confirm(owner_client, url, django_capture_on_commit_callbacks, component_endpoints="6")

    addon.refresh_from_db()
    assert addon.component_values["endpoints"] == 6 and addon.price == Decimal("25.00")


def test_cancelling_an_add_on_shows_what_it_costs_now_and_ends_it(
    owner_client, addon, django_capture_on_commit_callbacks
):
    page = owner_client.get(reverse("dashboard:addon-cancel", args=[addon.pk])).content.decode()
    assert "5.00 USD" in page and "nothing" in page

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("dashboard:addon-cancel", args=[addon.pk]))

    addon.refresh_from_db()
    assert addon.state == "cancelled"
    again = owner_client.post(reverse("dashboard:addon-cancel", args=[addon.pk]))
    assert "is cancelled; buy it again instead" in again.content.decode()


def test_retry_and_sync_from_the_pages(
    owner_client, customer, zone, addon, django_capture_on_commit_callbacks
):
    operation_on(zone, kind="cloudflare.sync_zone", state="failed", last_error_code="http_503")

    with django_capture_on_commit_callbacks(execute=True):
        retried = owner_client.post(reverse("dashboard:zone-retry", args=[zone.pk]), follow=True)
    with django_capture_on_commit_callbacks(execute=True):
        synced = owner_client.post(reverse("dashboard:addons-sync", args=[customer.pk]), follow=True)
    nothing = owner_client.post(reverse("dashboard:addon-retry", args=[addon.pk]), follow=True)

    assert "Sync zone with Cloudflare is queued again." in retried.content.decode()
    assert Operation.objects.filter(kind="cloudflare.sync_zone").get().state == "succeeded"
    assert "Reading the account&#x27;s add-ons from Cloudflare." in synced.content.decode()
    assert "Nothing to retry" in nothing.content.decode()


# --- Lists, figures, export -------------------------------------------------------------------


def test_the_lists_filter_zones_and_add_ons(owner_client, paid_zone, add_zone, addon):
    free = add_zone("free.example.com")

    def names(url, **params):
        return [str(r) for r in owner_client.get(url, params).context["rows"]]

    assert names(reverse("dashboard:zones")) == sorted([paid_zone.name, free.name])
    assert names(reverse("dashboard:zones"), plan="PARTNERS_BIZ") == [paid_zone.name]
    assert names(reverse("dashboard:zones"), q="free") == [free.name]
    assert len(names(reverse("dashboard:addons"))) == 1


def test_home_counts_zones_and_what_cloudflare_bills_a_month(owner_client, paid_zone, addon):
    figure = next(
        f
        for f in owner_client.get(reverse("dashboard:home")).context["figures"]
        if f.label == "Cloudflare zones"
    )

    assert figure.value == 1 and "1 on a paid plan, 1 add-on" in figure.detail
    assert dict(figure.breakdown)["Cloudflare bills a month"] == "255.00 USD"


def test_cloudflare_csv_lists_zones_and_add_ons(owner_client, paid_zone, addon):
    response = owner_client.get(reverse("dashboard:export", args=["cloudflare"]))
    text = b"".join(response.streaming_content).decode("utf-8-sig")

    assert "cloudflare_zone" in text and paid_zone.name in text and "page_rules=60" in text
    assert "cloudflare_addon" in text and "PARTNERS_LOAD_BALANCING" in text


# --- Permissions and queries ------------------------------------------------------------------


@pytest.fixture
def cf_world(customer, paid_zone, addon):
    return {"customer": customer, "zone": paid_zone, "addon": addon}


def _pk(key):
    return lambda w: [w[key].pk]


# (id, method, url name, args, data, headers, lacking role, having role, ok)
CF_PAGES = [
    ("zones", "get", "dashboard:zones", None, None, {}, None, "viewer", 200),
    ("addons", "get", "dashboard:addons", None, None, {}, None, "viewer", 200),
    ("zone", "get", "dashboard:zone", _pk("zone"), None, {}, None, "viewer", 200),
    ("zone-progress", "get", "dashboard:zone-progress", _pk("zone"), None, HX, None, "viewer", 200),
    ("zone-add", "get", "dashboard:zone-add", _pk("customer"), None, {}, "billing", "technician", 200),
    (
        "zone-add-post",
        "post",
        "dashboard:zone-add",
        _pk("customer"),
        {"name": "new.example.com"},
        {},
        "viewer",
        "technician",
        302,
    ),
    (
        "zone-upgrade",
        "get",
        "dashboard:zone-plan",
        lambda w: [w["zone"].pk, "upgrade"],
        None,
        {},
        "viewer",
        "technician",
        200,
    ),
    (
        "zone-change-preview",
        "post",
        "dashboard:zone-plan",
        lambda w: [w["zone"].pk, "change"],
        {"_preview": "", "component_page_rules": "61"},
        {},
        "billing",
        "admin",
        200,
    ),
    ("zone-sync", "post", "dashboard:zone-sync", _pk("zone"), {}, {}, "viewer", "technician", 302),
    ("zone-retry", "post", "dashboard:zone-retry", _pk("zone"), {}, {}, "billing", "technician", 302),
    ("addon", "get", "dashboard:addon", _pk("addon"), None, {}, None, "viewer", 200),
    ("addon-progress", "get", "dashboard:addon-progress", _pk("addon"), None, HX, None, "viewer", 200),
    ("addon-add", "get", "dashboard:addon-add", _pk("customer"), None, {}, "viewer", "technician", 200),
    ("addon-change", "get", "dashboard:addon-change", _pk("addon"), None, {}, "billing", "technician", 200),
    ("addon-cancel", "get", "dashboard:addon-cancel", _pk("addon"), None, {}, "viewer", "owner", 200),
    (
        "addon-cancel-post",
        "post",
        "dashboard:addon-cancel",
        _pk("addon"),
        {},
        {},
        "billing",
        "technician",
        302,
    ),
    ("addon-retry", "post", "dashboard:addon-retry", _pk("addon"), {}, {}, "viewer", "technician", 302),
    ("addons-sync", "post", "dashboard:addons-sync", _pk("customer"), {}, {}, "billing", "technician", 302),
    ("export-cloudflare", "get", "dashboard:export", lambda w: ["cloudflare"], None, {}, None, "viewer", 200),
]
CF_OBJECT_PAGES = [p for p in CF_PAGES if p[3] is not None and p[0] != "export-cloudflare"]
CF_ROLE_PAGES = [p for p in CF_PAGES if p[6] is not None]


def _call(client, page, world):
    _, method, name, args, data, headers, *_ = page
    return getattr(client, method)(reverse(name, args=args(world) if args else None), data or {}, **headers)


@pytest.mark.parametrize("page", CF_PAGES, ids=[p[0] for p in CF_PAGES])
def test_cloudflare_pages_send_anonymous_visitors_to_sign_in(client, cf_world, page):
    response = _call(client, page, cf_world)

    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("page", CF_OBJECT_PAGES, ids=[p[0] for p in CF_OBJECT_PAGES])
def test_cloudflare_objects_of_another_partner_are_not_found(stranger_client, cf_world, page):
    before = AuditEvent.objects.count()

    assert _call(stranger_client, page, cf_world).status_code == 404
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("page", CF_ROLE_PAGES, ids=[p[0] for p in CF_ROLE_PAGES])
def test_cloudflare_pages_refuse_a_role_without_the_right(login, partner, cf_world, page):
    before = AuditEvent.objects.count()

    response = _call(login(page[6], partner), page, cf_world)

    assert response.status_code == 403 and AuditEvent.objects.count() == before


@pytest.mark.parametrize("page", CF_PAGES, ids=[p[0] for p in CF_PAGES])
def test_cloudflare_pages_serve_the_right_role(login, partner, cf_world, page):
    assert _call(login(page[7], partner), page, cf_world).status_code == page[8]


def _more(customer, account, paid_zone, i):
    """One more zone (failing, every other one refused by Cloudflare) and add-on of the customer."""
    zone = CloudflareZone.objects.create(
        partner=customer.partner,
        customer=customer,
        subaccount=account,
        name=f"more{i}.example.com",
        state="active",
        rate_plan_id="PARTNERS_PRO",
        subscription_id=f"sub{i}",
        price=Decimal("20.00"),
        currency="USD",
        frequency="monthly",
        refusal_code="1225" if i % 2 else "",
    )
    operation_on(zone, kind="cloudflare.sync_zone", state="failed", last_error_code="http_503")
    operation_on(paid_zone, kind="cloudflare.sync_zone", state="succeeded")
    addon = CloudflareAddon.objects.create(
        partner=customer.partner,
        customer=customer,
        subaccount=account,
        rate_plan_id=f"EXTRA_{i}",
        state="active",
        price=Decimal("5.00"),
        currency="USD",
        frequency="yearly",
    )
    operation_on(addon, kind="cloudflare.change_addon", attempts=2, last_error_code="http_429")


def test_cloudflare_pages_run_as_many_queries_for_many_rows_as_for_one(
    owner_client, customer, paid_zone, addon
):
    account = paid_zone.subaccount
    urls = [
        reverse("dashboard:zones"),
        reverse("dashboard:addons"),
        reverse("dashboard:customer", args=[customer.pk]),
        reverse("dashboard:zone", args=[paid_zone.pk]),
        reverse("dashboard:home"),
        reverse("dashboard:export", args=["cloudflare"]),
    ]
    _more(customer, account, paid_zone, 1)
    for url in urls:
        count_queries(owner_client, url)
    few = [count_queries(owner_client, url) for url in urls]

    for i in range(2, 8):
        _more(customer, account, paid_zone, i)
    MembershipFactory(partner=customer.partner)
    many = [count_queries(owner_client, url) for url in urls]

    assert few == many
