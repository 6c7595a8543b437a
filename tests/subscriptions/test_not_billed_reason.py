"""Every paid vendor service is billed, or carries an explicit, audited reason why not (domain.md).

The rule lives in the services (subscriptions.not_billed): a direct paid change (an ACME order, a
zone upgrade, an add-on purchase, a change that costs more) that billing does not make is refused
without a reason before anything is written, and with one it leaves a not-billed mark, audited.
The admin and the API obey it the same way (the dashboard: tests/dashboard/test_not_billed_reason.py).
A price preview of a zone or add-on that billing provides says when its change takes effect.
"""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from core.actor import Actor, Face
from core.errors import NotFound, ValidationFailed
from core.models import AuditEvent
from reconciliation import services as reconciliation
from reconciliation.models import NotBilled
from subscriptions.acme import services as acme
from subscriptions.cloudflare import services as cloudflare
from tests.conftest import system_actor
from tests.factories import MembershipFactory, PartnerFactory
from tests.subscriptions.conftest import (
    load_balancing_of,
    takes_effect_later,
    takes_effect_once_paid,
    written,
)

pytestmark = pytest.mark.django_db

WHY = "Free for the partner's own use"
REQUIRED = "not_billed_reason_required"


# --- What each kind of paid change is made on, and the change --------------------------------------


# kind: (the fixture it is made on, the service, its arguments but the reason)
PAID_CHANGES = {
    "acme_order": (
        "acme_customer",
        acme.order_acme_contract,
        {"product": "ssl_dv_rapidssl", "sans": ["shop.example.com"]},
    ),
    "zone_upgrade": ("zone", cloudflare.upgrade_zone_plan, {"rate_plan_id": "PARTNERS_PRO"}),
    "zone_components_costing_more": (
        "unmarked_paid_zone",
        cloudflare.change_zone_components,
        {"component_values": {"page_rules": 70}},
    ),
    "addon_purchase": ("addon_customer", cloudflare.add_addon, {"rate_plan_id": "TEAMS_STANDARD"}),
    "addon_components_costing_more": (
        "unmarked_addon",
        cloudflare.change_addon,
        {"component_values": {"endpoints": 6}},
    ),
}


def _marks(service):
    return NotBilled.objects.filter(
        target_type=ContentType.objects.get_for_model(service),
        target_id=str(service.pk),
        unmarked_at__isnull=True,
    )


def _member(partner, role="technician", face=Face.API) -> Actor:
    return Actor(MembershipFactory(partner=partner, role=role).user, face)


# --- The services --------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", [None, "", "   \n "])
@pytest.mark.parametrize("kind", PAID_CHANGES)
def test_direct_paid_change_without_not_billed_reason_is_refused_and_nothing_changes(
    request, run_tasks, kind, reason
):
    fixture, service, arguments = PAID_CHANGES[kind]
    target = request.getfixturevalue(fixture)
    if reason is not None:
        arguments = {**arguments, "not_billed_reason": reason}
    before = written()
    with pytest.raises(ValidationFailed) as refused:
        run_tasks(service, system_actor(), target, **arguments)
    assert refused.value.code == REQUIRED and list(refused.value.fields) == ["not_billed_reason"]
    assert written() == before  # no service, operation, audit event, mark, vendor object or ledger row


@pytest.mark.parametrize("kind", PAID_CHANGES)
def test_direct_paid_change_with_a_reason_leaves_an_audited_not_billed_mark(
    request, run_tasks, partner, kind
):
    fixture, service, arguments = PAID_CHANGES[kind]
    target = request.getfixturevalue(fixture)
    technician = _member(partner)  # manages the service; the billing right is not needed to say why
    service = run_tasks(service, technician, target, **arguments, not_billed_reason=f"  {WHY}  ")
    service.refresh_from_db()
    assert service.state == "active"  # the vendor call ran
    mark = _marks(service).get()
    assert (mark.reason, mark.marked_by, mark.partner, mark.customer) == (
        WHY,
        technician.user,
        service.partner,
        service.customer,
    )
    event = AuditEvent.objects.get(action="reconciliation.marked_not_billed", object_id=str(mark.pk))
    assert (event.actor, event.face, event.changes["reason"]) == (technician.user, "api", [None, WHY])


@pytest.mark.parametrize(
    "change",
    [
        lambda zone, addon: cloudflare.downgrade_zone_plan(system_actor(), zone),
        lambda zone, addon: cloudflare.change_zone_components(
            system_actor(), zone, component_values={"page_rules": 55}
        ),
        lambda zone, addon: cloudflare.change_addon(system_actor(), addon, component_values={"endpoints": 3}),
        lambda zone, addon: cloudflare.cancel_addon(system_actor(), addon),
    ],
    ids=["zone_downgrade", "fewer_zone_components", "fewer_addon_components", "addon_cancel"],
)
def test_a_cheaper_direct_change_needs_no_reason_and_adds_no_mark(
    unmarked_paid_zone, addon_customer, run_tasks, run_cloudflare, change
):
    addon = load_balancing_of(run_cloudflare, addon_customer, component_values={"endpoints": 5}, billed=True)
    marks = NotBilled.objects.count()
    run_tasks(change, unmarked_paid_zone, addon)
    assert NotBilled.objects.count() == marks


def test_billings_own_changes_need_no_reason_and_leave_no_mark(
    acme_customer, addon_customer, zone, run_tasks
):
    contract = run_tasks(
        acme.order_acme_contract,
        system_actor(),
        acme_customer,
        product="ssl_dv_rapidssl",
        sans=["a.example"],
        billed=True,
    )
    upgraded = run_tasks(
        cloudflare.upgrade_zone_plan, system_actor(), zone, rate_plan_id="PARTNERS_PRO", billed=True
    )
    bought = run_tasks(
        cloudflare.add_addon, system_actor(), addon_customer, rate_plan_id="TEAMS_STANDARD", billed=True
    )
    assert all(not _marks(service).exists() for service in (contract, upgraded, bought))


def test_a_reseller_of_another_partner_cannot_mark_its_service(unmarked_paid_zone, run_tasks):
    stranger = _member(PartnerFactory(), role="owner")
    before = written()
    with pytest.raises(NotFound):
        run_tasks(
            cloudflare.change_zone_components,
            stranger,
            unmarked_paid_zone,
            component_values={"page_rules": 70},
            not_billed_reason="Ours now",
        )
    with pytest.raises(NotFound):  # nor through reconciliation's own recording of the reason
        reconciliation.note_not_billed(stranger, unmarked_paid_zone, "Ours now")
    assert written() == before and not _marks(unmarked_paid_zone).exists()


def test_a_second_paid_change_keeps_the_services_mark_and_audits_its_reason(paid_zone, run_cloudflare):
    [mark] = _marks(paid_zone)  # given when it was upgraded
    run_cloudflare(
        cloudflare.change_zone_components,
        paid_zone,
        component_values={"page_rules": 70},
        not_billed_reason="More rules for the partner's own site",
    )
    assert list(_marks(paid_zone)) == [mark]
    event = AuditEvent.objects.get(action="reconciliation.not_billed_reason_given", object_id=str(mark.pk))
    assert event.note == "More rules for the partner's own site"


# --- Price previews of what billing provides ---------------------------------------------------------


def test_the_preview_of_a_billed_zone_says_when_its_change_takes_effect(
    unmarked_paid_zone, provided_by_billing
):
    zone, actor = unmarked_paid_zone, system_actor()
    subscription = provided_by_billing(zone, "PARTNERS_BIZ")
    down = cloudflare.preview_zone_change(actor, zone, "downgrade")
    fewer = cloudflare.preview_zone_change(actor, zone, "change", component_values={"page_rules": 55})
    up = cloudflare.preview_zone_change(actor, zone, "upgrade", rate_plan_id="PARTNERS_ENT")
    more = cloudflare.preview_zone_change(actor, zone, "change", component_values={"page_rules": 70})
    assert (down.takes_effect, fewer.takes_effect) == (
        takes_effect_later(subscription),
        takes_effect_later(subscription),
    )
    assert (up.takes_effect, more.takes_effect) == (
        takes_effect_once_paid(subscription),
        takes_effect_once_paid(subscription),
    )
    assert up.billed and not up.needs_not_billed_reason  # billing's checkout, not a reason, bills it


def test_the_preview_of_a_billed_add_on_says_its_cancellation_waits_for_the_end_of_the_period(
    unmarked_addon, provided_by_billing
):
    subscription = provided_by_billing(unmarked_addon, "PARTNERS_LOAD_BALANCING")
    planned = cloudflare.preview_addon_change(system_actor(), unmarked_addon, "cancel")
    assert planned.takes_effect == takes_effect_later(subscription)


def test_the_preview_of_an_unbilled_zone_asks_for_the_reason_and_says_nothing_of_billing(unmarked_paid_zone):
    up = cloudflare.preview_zone_change(
        system_actor(), unmarked_paid_zone, "upgrade", rate_plan_id="PARTNERS_ENT"
    )
    down = cloudflare.preview_zone_change(system_actor(), unmarked_paid_zone, "downgrade")
    assert (up.takes_effect, up.billed, up.needs_not_billed_reason) == ("", False, True)
    assert not down.needs_not_billed_reason


# --- The API ---------------------------------------------------------------------------------------

# kind: (fixture, URL of the change, body without the reason)
API_CHANGES = {
    "acme_order": (
        "acme_customer",
        "/api/v1/acme-contracts/",
        {"product": "ssl_dv_rapidssl", "sans": ["a.example"]},
    ),
    "zone_upgrade": ("zone", "/api/v1/cloudflare-zones/{pk}/upgrade/", {"rate_plan_id": "PARTNERS_PRO"}),
    "zone_components": (
        "unmarked_paid_zone",
        "/api/v1/cloudflare-zones/{pk}/change-components/",
        {"component_values": {"page_rules": 70}},
    ),
    "addon_purchase": ("addon_customer", "/api/v1/cloudflare-addons/", {"rate_plan_id": "TEAMS_STANDARD"}),
    "addon_components": (
        "unmarked_addon",
        "/api/v1/cloudflare-addons/{pk}/change-components/",
        {"component_values": {"endpoints": 6}},
    ),
}


def _api_change(request, api, kind, partner=None):
    """(client, url, body) of the change: a reseller admin of the target's partner (or `partner`)."""
    fixture, url, body = API_CHANGES[kind]
    target = request.getfixturevalue(fixture)
    client = api.as_user(MembershipFactory(partner=partner or target.partner, role="admin").user)
    if "{pk}" in url:
        return client, url.format(pk=target.pk), body
    return client, url, {**body, "customer": target.pk}


@pytest.mark.parametrize("reason", [None, " "])
@pytest.mark.parametrize("kind", API_CHANGES)
def test_api_direct_paid_change_without_not_billed_reason_is_refused_and_nothing_changes(
    request, api, django_capture_on_commit_callbacks, kind, reason
):
    client, url, body = _api_change(request, api, kind)
    before = written()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {**body, **({} if reason is None else {"not_billed_reason": reason})}, format="json"
        )
    body = response.json()
    assert response.status_code == 400 and body["code"] == REQUIRED
    assert list(body["fields"]) == ["not_billed_reason"]
    assert written() == before


@pytest.mark.parametrize("kind", API_CHANGES)
def test_api_direct_paid_change_with_a_reason_leaves_the_not_billed_mark(
    request, api, django_capture_on_commit_callbacks, kind
):
    client, url, body = _api_change(request, api, kind)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {**body, "not_billed_reason": WHY}, format="json")
    assert response.status_code == 202 and "not_billed_reason" not in response.json()  # write-only
    mark = NotBilled.objects.get()
    assert mark.reason == WHY and str(mark.target.pk) == str(response.json()["id"])
    assert AuditEvent.objects.filter(action="reconciliation.marked_not_billed", face="api").count() == 1


def test_api_another_partners_reseller_cannot_mark_a_service(request, api, other_partner):
    client, url, body = _api_change(request, api, "zone_components", partner=other_partner)
    before = written()
    response = client.post(url, {**body, "not_billed_reason": WHY}, format="json")
    assert response.status_code == 404 and written() == before


def test_api_preview_of_a_billed_zone_says_when_the_change_takes_effect(
    api, unmarked_paid_zone, provided_by_billing
):
    subscription = provided_by_billing(unmarked_paid_zone, "PARTNERS_BIZ")
    client = api.as_user(MembershipFactory(partner=unmarked_paid_zone.partner, role="viewer").user)
    url = f"/api/v1/cloudflare-zones/{unmarked_paid_zone.pk}/preview/"
    down = client.post(url, {"action": "downgrade"}, format="json").json()
    up = client.post(url, {"action": "upgrade", "rate_plan_id": "PARTNERS_ENT"}, format="json").json()
    assert (down["takes_effect"], down["needs_not_billed_reason"]) == (
        takes_effect_later(subscription),
        False,
    )
    assert (up["takes_effect"], up["needs_not_billed_reason"]) == (
        takes_effect_once_paid(subscription),
        False,
    )


# --- The admin -------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def _previewed(client, url, body) -> dict:
    """The Cloudflare admin's Confirm sends only what it priced: preview first, then confirm that."""
    preview = client.post(url, {**body, "_preview": "1"})
    return {**body, "_confirm": "1", "previewed": preview.context["form"]["previewed"].value()}


def test_admin_acme_order_without_not_billed_reason_is_refused_and_nothing_changes(
    staff_client, acme_customer
):
    before = written()
    response = staff_client.post(
        reverse("admin:subscriptions_acmecontract_add"),
        {
            "customer": acme_customer.pk,
            "product": "ssl_dv_rapidssl",
            "sans": "a.example.com",
            "renewal": "account",
        },
    )
    assert response.status_code == 200 and REQUIRED in response.content.decode()
    assert "not_billed_reason" in response.context["form"].errors
    assert written() == before


@pytest.mark.parametrize(
    "changelist,action,fixture,data",
    [
        ("cloudflarezone", "upgrade_zone_plan", "zone", {"rate_plan_id": "PARTNERS_PRO"}),
        (
            "cloudflarezone",
            "change_zone_components",
            "unmarked_paid_zone",
            {"component_page_rules": "70"},
        ),
        ("cloudflareaddon", "change_addon_components", "unmarked_addon", {"component_endpoints": "6"}),
    ],
)
def test_admin_direct_paid_change_without_not_billed_reason_is_refused_and_nothing_changes(
    request, staff_client, django_capture_on_commit_callbacks, changelist, action, fixture, data
):
    target = request.getfixturevalue(fixture)
    before = written()
    url = reverse(f"admin:subscriptions_{changelist}_changelist")
    body = {"action": action, "_selected_action": [target.pk], "not_billed_reason": "", **data}
    body = _previewed(staff_client, url, body)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, body, follow=True)
    assert any(REQUIRED in str(m) for m in response.context["messages"])
    assert written() == before


def test_admin_add_on_purchase_without_not_billed_reason_is_refused_and_nothing_changes(
    staff_client, addon_customer
):
    before = written()
    url = reverse("admin:subscriptions_cloudflareaddon_add") + f"?customer={addon_customer.pk}"
    page = staff_client.post(url, _previewed(staff_client, url, {"rate_plan_id": "TEAMS_STANDARD"}))
    assert REQUIRED in page.content.decode() and written() == before


def test_admin_zone_upgrade_with_a_reason_leaves_the_not_billed_mark(
    staff_client, staff, zone, django_capture_on_commit_callbacks
):
    url = reverse("admin:subscriptions_cloudflarezone_changelist")
    body = {
        "action": "upgrade_zone_plan",
        "_selected_action": [zone.pk],
        "rate_plan_id": "PARTNERS_PRO",
        "not_billed_reason": WHY,
    }
    body = _previewed(staff_client, url, body)
    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(url, body)
    mark = _marks(zone).get()
    assert (mark.reason, mark.marked_by) == (WHY, staff)
    assert AuditEvent.objects.filter(action="reconciliation.marked_not_billed", face="admin").exists()


def test_admin_preview_of_a_billed_zone_says_when_the_change_takes_effect(
    staff_client, unmarked_paid_zone, provided_by_billing
):
    subscription = provided_by_billing(unmarked_paid_zone, "PARTNERS_BIZ")
    page = staff_client.post(
        reverse("admin:subscriptions_cloudflarezone_changelist"),
        {
            "action": "downgrade_zone_plan",
            "_selected_action": [unmarked_paid_zone.pk],
            "_preview": "1",
            "rate_plan_id": "PARTNERS_FREE",
        },
    ).content.decode()
    assert takes_effect_later(subscription) in page
