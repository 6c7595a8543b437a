"""The Cloudflare API: permission matrix for every endpoint, 202 answers with state and pending change,
previews, refusals as 400/409, filters and constant query counts on lists."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import AuditEvent, Operation
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.models import CatalogPlan, CloudflareAddon, CloudflareZone
from tests.conftest import system_actor
from tests.factories import MembershipFactory, PartnerFactory
from tests.sandbox_helpers import inject_fault, vendor_request_count
from tests.subscriptions.conftest import NOT_BILLED_REASON

pytestmark = pytest.mark.django_db

Z, A = "/api/v1/cloudflare-zones", "/api/v1/cloudflare-addons"
# A direct paid change says why it is not billed.
WHY = {"not_billed_reason": NOT_BILLED_REASON}


def _as(api, partner, role):
    return api.as_user(MembershipFactory(partner=partner, role=role).user)


@pytest.fixture
def objects(paid_zone, addon, catalog):
    return {"z": paid_zone.pk, "a": addon.pk, "c": paid_zone.customer_id, "p": catalog[0].pk}


# (method, url, body, role lacking the right, role having it, success status)
ENDPOINTS = [
    ("get", Z + "/{z}/", None, None, "viewer", 200),
    ("get", Z + "/{z}/operations/", None, None, "viewer", 200),
    ("post", Z + "/", {"customer": "{c}", "name": "new.example"}, "viewer", "technician", 202),
    ("post", Z + "/{z}/preview/", {"action": "downgrade"}, None, "viewer", 200),
    ("post", Z + "/{z}/upgrade/", {"rate_plan_id": "PARTNERS_ENT", **WHY}, "viewer", "technician", 202),
    (
        "post",
        Z + "/{z}/change-components/",
        {"component_values": {"page_rules": 70}, **WHY},
        "billing",
        "admin",
        202,
    ),
    ("post", Z + "/{z}/downgrade/", {}, "billing", "owner", 202),
    ("post", Z + "/{z}/sync/", None, "viewer", "technician", 202),
    ("get", A + "/{a}/", None, None, "viewer", 200),
    ("get", A + "/{a}/operations/", None, None, "viewer", 200),
    (
        "post",
        A + "/",
        {"customer": "{c}", "rate_plan_id": "TEAMS_STANDARD", **WHY},
        "billing",
        "technician",
        202,
    ),
    ("post", A + "/preview/", {"customer": "{c}", "rate_plan_id": "TEAMS_STANDARD"}, None, "viewer", 200),
    ("post", A + "/{a}/preview/", {"action": "cancel"}, None, "viewer", 200),
    (
        "post",
        A + "/{a}/change-components/",
        {"component_values": {"endpoints": 4}, **WHY},
        "viewer",
        "technician",
        202,
    ),
    ("post", A + "/{a}/cancel/", None, "billing", "admin", 202),
    ("post", A + "/{a}/sync/", None, "viewer", "technician", 202),
    ("post", A + "/sync/", {"customer": "{c}"}, "viewer", "owner", 202),
    ("get", "/api/v1/cloudflare-catalog/{p}/", None, None, "viewer", 200),
]


def _fill(value, objects):
    if isinstance(value, str):
        filled = value.format(**objects)
        return int(filled) if value.startswith("{") and filled.isdigit() else filled
    if isinstance(value, dict):
        return {k: _fill(v, objects) for k, v in value.items()}
    return value


def _call(client, method, template, body, objects):
    return getattr(client, method)(_fill(template, objects), _fill(body, objects), format="json")


def _state():
    return (
        list(CloudflareZone.objects.order_by("pk").values()),
        list(CloudflareAddon.objects.order_by("pk").values()),
        Operation.objects.count(),
        AuditEvent.objects.count(),
        vendor_request_count(),
    )


@pytest.mark.parametrize("method,template,body,_lacking,_having,_ok", ENDPOINTS)
def test_anonymous_gets_401(api, objects, method, template, body, _lacking, _having, _ok):
    assert _call(api, method, template, body, objects).status_code == 401


@pytest.mark.parametrize("method,template,body,_lacking,_having,_ok", ENDPOINTS)
def test_another_partners_user_gets_404_and_nothing_changes(
    api, objects, method, template, body, _lacking, _having, _ok
):
    client = _as(api, PartnerFactory(), "owner")
    before = _state()
    response = _call(client, method, template, body, objects)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert _state() == before


@pytest.mark.parametrize("method,template,body,lacking,_having,_ok", [e for e in ENDPOINTS if e[3]])
def test_role_without_the_right_gets_403_and_nothing_changes(
    api, objects, paid_zone, method, template, body, lacking, _having, _ok
):
    client = _as(api, paid_zone.partner, lacking)
    before = _state()
    response = _call(client, method, template, body, objects)
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert _state() == before


@pytest.mark.parametrize("method,template,body,_lacking,having,ok", ENDPOINTS)
def test_role_with_the_right_succeeds(api, objects, paid_zone, method, template, body, _lacking, having, ok):
    response = _call(_as(api, paid_zone.partner, having), method, template, body, objects)
    assert response.status_code == ok, response.content


@pytest.fixture
def failed_zone(zone, run_cloudflare, settings):
    settings.TASK_MAX_ATTEMPTS = 1
    inject_fault("cloudflare", "http_503", method="POST", path=r"/subscription$")
    return run_cloudflare(cloudflare.upgrade_zone_plan, zone, rate_plan_id="PARTNERS_PRO")


def test_retry_permission_matrix(api, failed_zone):
    url = f"{Z}/{failed_zone.pk}/retry/"
    assert api.post(url).status_code == 401
    assert _as(api, PartnerFactory(), "owner").post(url).status_code == 404
    assert _as(api, failed_zone.partner, "viewer").post(url).status_code == 403
    assert _as(api, failed_zone.partner, "technician").post(url).status_code == 202


def test_retry_with_nothing_failed_is_409(api, addon):
    response = _as(api, addon.partner, "owner").post(f"{A}/{addon.pk}/retry/")
    assert response.status_code == 409 and response.json()["code"] == "not_retryable"


def test_retry_of_a_failed_upgrade_applies_it(api, failed_zone, django_capture_on_commit_callbacks):
    assert failed_zone.refusal_code and failed_zone.rate_plan_id == "PARTNERS_FREE"
    with django_capture_on_commit_callbacks(execute=True):
        response = _as(api, failed_zone.partner, "technician").post(f"{Z}/{failed_zone.pk}/retry/")
    assert response.status_code == 202 and response.json()["pending_change"]["rate_plan_id"] == "PARTNERS_PRO"
    body = _as(api, failed_zone.partner, "viewer").get(f"{Z}/{failed_zone.pk}/").json()
    assert body["rate_plan_id"] == "PARTNERS_PRO" and body["refusal"] is None


# --- Behaviour ----------------------------------------------------------------------------------


def test_add_zone_answers_202_pending_then_active_on_partners_free(
    api, customer, cloudflare_account, catalog, django_capture_on_commit_callbacks
):
    client = _as(api, customer.partner, "technician")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(Z + "/", {"customer": customer.pk, "name": "shop.example"}, format="json")
    assert response.status_code == 202 and response.json()["state"] == "pending"
    body = client.get(f"{Z}/{response.json()['id']}/").json()
    assert (body["state"], body["rate_plan_id"], body["subscription_id"]) == ("active", "PARTNERS_FREE", "")
    assert body["last_operation"]["state"] == "succeeded"


def test_preview_then_upgrade_answers_202_with_the_pending_change_then_cloudflares_state(
    api, zone, django_capture_on_commit_callbacks
):
    client = _as(api, zone.partner, "technician")
    wanted = {"rate_plan_id": "PARTNERS_BIZ", "component_values": {"page_rules": 50}}
    preview = client.post(f"{Z}/{zone.pk}/preview/", {"action": "upgrade", **wanted}, format="json").json()
    assert preview["current"] == {"amount": "0.00", "currency": "USD", "frequency": "monthly"}
    assert preview["new"] == {"amount": "200.00", "currency": "USD", "frequency": "monthly"}
    assert preview["monthly_difference"] == "200.00"
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(f"{Z}/{zone.pk}/upgrade/", {**wanted, **WHY}, format="json")
    body = response.json()
    assert response.status_code == 202 and body["rate_plan_id"] == "PARTNERS_FREE"  # not confirmed yet
    assert body["pending_change"]["preview"]["new"] == preview["new"]
    assert body["last_operation"]["state"] == "pending"
    for task in queued:  # the worker runs the upgrade
        task()
    body = client.get(f"{Z}/{zone.pk}/").json()
    assert (body["rate_plan_id"], body["vendor_state"], body["price"]) == ("PARTNERS_BIZ", "Paid", "200.00")
    assert body["current_period_end"] and body["pending_change"] is None


def test_plan_outside_the_catalog_is_409_naming_the_allowed_plans_and_nothing_changes(api, zone):
    client = _as(api, zone.partner, "owner")
    before = _state()
    response = client.post(
        f"{Z}/{zone.pk}/upgrade/", {"rate_plan_id": "PARTNERS_WORKERS_BASIC"}, format="json"
    )
    body = response.json()
    assert response.status_code == 409 and body["code"] == "plan_not_in_catalog"
    assert "PARTNERS_BIZ" in body["message"] and "rate_plan_id" in body["fields"]
    assert _state() == before


def test_component_above_the_maximum_is_409_naming_the_limit(api, zone):
    response = _as(api, zone.partner, "owner").post(
        f"{Z}/{zone.pk}/preview/",
        {"action": "upgrade", "rate_plan_id": "PARTNERS_BIZ", "component_values": {"page_rules": 101}},
        format="json",
    )
    assert response.status_code == 409 and response.json()["code"] == "component_above_maximum"
    assert "at most 100" in response.json()["message"]


def test_frequency_not_sold_is_a_400_field_error(api, zone):
    response = _as(api, zone.partner, "owner").post(
        f"{Z}/{zone.pk}/upgrade/", {"rate_plan_id": "PARTNERS_PRO", "frequency": "weekly"}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "frequency_not_allowed"
    assert response.json()["fields"] == {"frequency": ["One of: monthly, yearly."]}


@pytest.mark.parametrize(
    "body,field",
    [
        ({"rate_plan_id": "PARTNERS_PRO", "frequency": "annual"}, "frequency"),
        (
            {"rate_plan_id": "PARTNERS_BIZ", "component_values": {"page_rules": -1}},
            "component_values.page_rules",
        ),
        ({}, "rate_plan_id"),
    ],
)
def test_invalid_bodies_are_400_with_field_errors(api, zone, body, field):
    client = _as(api, zone.partner, "owner")
    before = _state()
    response = client.post(f"{Z}/{zone.pk}/upgrade/", body, format="json")
    assert response.status_code == 400 and field in response.json()["fields"]
    assert _state() == before


def test_entitlement_refusal_shows_on_the_zone(api, zone, django_capture_on_commit_callbacks):
    client = _as(api, zone.partner, "owner")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{Z}/{zone.pk}/upgrade/", {"rate_plan_id": "PARTNERS_ENT", **WHY}, format="json")
    body = client.get(f"{Z}/{zone.pk}/").json()
    assert body["rate_plan_id"] == "PARTNERS_FREE" and body["refusal"]["code"] == "rate_plan_not_available"
    assert "entitlement" in body["refusal"]["message"] and body["last_operation"]["state"] == "failed"


def test_add_on_purchase_preview_create_and_cancel(
    api, customer, cloudflare_account, catalog, django_capture_on_commit_callbacks
):
    client = _as(api, customer.partner, "technician")
    wanted = {"customer": customer.pk, "rate_plan_id": "PARTNERS_LOAD_BALANCING"}
    preview = client.post(f"{A}/preview/", wanted, format="json").json()
    assert (preview["current"], preview["new"]["amount"], preview["component_values"]) == (None, "5.00", None)
    with django_capture_on_commit_callbacks(execute=True):
        created = client.post(A + "/", {**wanted, **WHY}, format="json")
    assert created.status_code == 202 and created.json()["state"] == "pending"
    addon_id = created.json()["id"]
    body = client.get(f"{A}/{addon_id}/").json()
    assert (body["state"], body["component_values"], body["price"]) == ("active", {"endpoints": 2}, "5.00")
    with django_capture_on_commit_callbacks(execute=True):
        cancelled = client.post(f"{A}/{addon_id}/cancel/")
    assert cancelled.json()["state"] == "cancel_pending"
    assert client.get(f"{A}/{addon_id}/").json()["state"] == "cancelled"


def test_account_sync_answers_202_with_its_operation(api, addon, django_capture_on_commit_callbacks):
    client = _as(api, addon.partner, "technician")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{A}/sync/", {"customer": addon.customer_id}, format="json")
    assert (
        response.status_code == 202 and response.json()["last_operation"]["kind"] == "cloudflare.sync_addons"
    )


def test_account_sync_without_a_cloudflare_account_is_404(api, customer, catalog):
    response = _as(api, customer.partner, "owner").post(
        f"{A}/sync/", {"customer": customer.pk}, format="json"
    )
    assert response.status_code == 404


# --- Lists --------------------------------------------------------------------------------------


def test_zone_list_filters_by_state_plan_and_customer(api, paid_zone, add_zone):
    add_zone("second.example")
    client = _as(api, paid_zone.partner, "viewer")
    names = lambda query: sorted(r["name"] for r in client.get(f"{Z}/?{query}").json()["results"])  # noqa: E731
    assert names("") == ["example.com", "second.example"]
    assert names("rate_plan_id=PARTNERS_BIZ") == ["example.com"]
    assert names("vendor_state=Paid") == ["example.com"]
    assert names("state=active&state=pending") == ["example.com", "second.example"]
    assert names(f"customer={paid_zone.customer_id}&search=second") == ["second.example"]


def test_zone_search_matches_a_vendor_id_by_its_start_and_a_name_by_any_part(api, paid_zone, add_zone):
    """The search rule of core.admin_lists, in the API too: identifiers by prefix (their index)."""
    add_zone("second.example")
    client = _as(api, paid_zone.partner, "viewer")
    names = lambda term: sorted(r["name"] for r in client.get(f"{Z}/?search={term}").json()["results"])  # noqa: E731
    vendor_id = paid_zone.vendor_id
    assert names(vendor_id) == names(vendor_id[:6].upper()) == ["example.com"]
    assert names(vendor_id[3:]) == []  # a middle fragment of an id matches nothing
    assert names("ample.c") == ["example.com"]


def test_catalog_list_shows_the_partners_plans_with_components(api, catalog):
    client = _as(api, catalog[0].partner, "viewer")
    rows = client.get("/api/v1/cloudflare-catalog/?scope=account").json()["results"]
    assert [r["rate_plan_id"] for r in rows] == ["PARTNERS_LOAD_BALANCING", "TEAMS_STANDARD"]
    assert rows[0]["components"] == [{"name": "endpoints", "default": 2, "maximum": 20, "unit_price": "5.00"}]
    assert _as(api, PartnerFactory(), "owner").get("/api/v1/cloudflare-catalog/").json()["results"] == []


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        rows = client.get(url).json()["results"]
    return len(rows), len(queries)


def test_lists_are_scoped_and_their_query_count_does_not_grow(
    api, paid_zone, addon, add_zone, run_cloudflare, customer, catalog
):
    client = _as(api, customer.partner, "viewer")
    urls = [Z + "/", A + "/", "/api/v1/cloudflare-catalog/"]
    for url in urls:
        client.get(url)
    few = [_count_queries(client, url) for url in urls]
    for i in range(3):
        zone = add_zone(f"site{i}.example")
        cloudflare.upgrade_zone_plan(  # one pending each
            system_actor(), zone, rate_plan_id="PARTNERS_PRO", not_billed_reason=NOT_BILLED_REASON
        )
    run_cloudflare(cloudflare.add_addon, customer, rate_plan_id="TEAMS_STANDARD")
    plan = CatalogPlan.objects.create(
        partner=customer.partner, rate_plan_id="X", name="X", scope="account", monthly_price=1
    )
    plan.components.create(name="units", default=0, maximum=1, unit_price=1)
    many = [_count_queries(client, url) for url in urls]
    assert [rows for rows, _ in many] == [4, 2, 7] and [rows for rows, _ in few] == [1, 1, 6]
    assert [q for _, q in many] == [q for _, q in few]
    stranger = _as(api, PartnerFactory(), "owner")
    assert all(stranger.get(url).json()["results"] == [] for url in urls)


@pytest.mark.parametrize("url", [Z + "/", A + "/", "/api/v1/cloudflare-catalog/"])
def test_lists_need_a_signed_in_member_or_staff(api, url, staff):
    assert api.get(url).status_code == 401
    from tests.factories import UserFactory

    assert api.as_user(UserFactory()).get(url).status_code == 403  # signed in, but of no partner
    assert api.as_user(staff).get(url).status_code == 200


def test_enum_fields_of_a_free_zone_are_null_never_outside_their_enum(api, zone):
    """A free zone has no subscription: its `frequency` and `vendor_state` are null, not "" (issue 11)."""
    body = _as(api, zone.partner, "viewer").get(f"{Z}/{zone.pk}/").json()
    assert body["frequency"] is None and body["vendor_state"] is None
