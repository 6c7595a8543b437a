"""The dashboard obeys the services' rule (domain.md): a direct paid change (ACME order, zone upgrade,
a change that costs more, an add-on purchase) asks "Not billed because"; left empty it is refused as
the field's error and nothing is written; given, the service keeps it as an audited not-billed mark.
A zone that billing provides says in its price preview when the change takes effect."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from core.models import AuditEvent
from reconciliation.models import NotBilled
from subscriptions.acme.models import AcmeContract
from subscriptions.not_billed import HELP_TEXT
from tests.subscriptions.conftest import takes_effect_later, takes_effect_once_paid, written

pytestmark = pytest.mark.django_db

WHY = "Free for the partner's own use"


def _priced(client, url, data, *, reason: str, capture):
    """Preview, then confirm the previewed values with `reason` as "Not billed because"."""
    preview = client.post(url, {"_preview": "", **data})
    assert 'name="not_billed_reason"' in preview.content.decode()  # asked with the price
    previewed = preview.context["form"]["previewed"].value()
    with capture(execute=True):
        return client.post(url, {"_confirm": "", "previewed": previewed, "not_billed_reason": reason, **data})


# kind: (fixture, URL name, data of the change)
PRICED = {
    "zone_upgrade": ("zone", "dashboard:zone-plan", {"rate_plan_id": "PARTNERS_PRO"}),
    "zone_components": ("unmarked_paid_zone", "dashboard:zone-plan", {"component_page_rules": "70"}),
    "addon_purchase": ("addon_customer", "dashboard:addon-add", {"rate_plan_id": "TEAMS_STANDARD"}),
    "addon_components": ("unmarked_addon", "dashboard:addon-change", {"component_endpoints": "6"}),
}


def _plan_url(zone, action: str) -> str:
    return reverse("dashboard:zone-plan", kwargs={"pk": zone.pk, "action": action})


def _url(kind, target) -> str:
    _, name, _ = PRICED[kind]
    if name == "dashboard:zone-plan":
        return _plan_url(target, "upgrade" if kind == "zone_upgrade" else "change")
    return reverse(name, args=[target.pk])


def _order(client, customer, capture, **data):
    with capture(execute=True):
        return client.post(
            reverse("dashboard:acme-order", args=[customer.pk]),
            {"product": "ssl_dv_rapidssl", "sans": "shop.example.com", "renewal": "on", **data},
        )


def _mark_of(model, pk) -> NotBilled:
    return NotBilled.objects.get(target_type=ContentType.objects.get_for_model(model), target_id=str(pk))


def test_dashboard_acme_order_without_not_billed_reason_is_refused_and_nothing_changes(
    owner_client, acme_customer, django_capture_on_commit_callbacks
):
    form = owner_client.get(reverse("dashboard:acme-order", args=[acme_customer.pk])).content.decode()
    assert "Not billed because" in form and HELP_TEXT.replace("'", "&#x27;") in form
    before = written()
    response = _order(owner_client, acme_customer, django_capture_on_commit_callbacks, not_billed_reason=" ")
    assert response.status_code == 200
    assert response.context["form"].errors["not_billed_reason"] == ["Required: say why it is not billed."]
    assert written() == before


def test_dashboard_acme_order_with_a_reason_leaves_the_not_billed_mark(
    owner_client, acme_customer, django_capture_on_commit_callbacks
):
    response = _order(owner_client, acme_customer, django_capture_on_commit_callbacks, not_billed_reason=WHY)
    assert response.status_code == 302
    contract = AcmeContract.objects.get()
    assert _mark_of(AcmeContract, contract.pk).reason == WHY
    assert AuditEvent.objects.filter(action="reconciliation.marked_not_billed", face="dashboard").exists()


@pytest.mark.parametrize("kind", PRICED)
def test_dashboard_direct_paid_change_without_not_billed_reason_is_refused_and_nothing_changes(
    request, owner_client, django_capture_on_commit_callbacks, kind
):
    fixture, _, data = PRICED[kind]
    target = request.getfixturevalue(fixture)
    before = written()
    response = _priced(
        owner_client, _url(kind, target), data, reason="", capture=django_capture_on_commit_callbacks
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["not_billed_reason"] == ["Required: say why it is not billed."]
    page = response.content.decode()
    assert 'id="preview"' in page and 'name="not_billed_reason"' in page  # shown again, with its error
    assert written() == before


@pytest.mark.parametrize("kind", PRICED)
def test_dashboard_direct_paid_change_with_a_reason_leaves_the_not_billed_mark(
    request, owner_client, django_capture_on_commit_callbacks, kind
):
    fixture, _, data = PRICED[kind]
    target = request.getfixturevalue(fixture)
    response = _priced(
        owner_client, _url(kind, target), data, reason=WHY, capture=django_capture_on_commit_callbacks
    )
    assert response.status_code == 302
    mark = NotBilled.objects.get()
    assert mark.reason == WHY and mark.marked_by == owner_client.user
    assert AuditEvent.objects.filter(action="reconciliation.marked_not_billed", face="dashboard").exists()


def test_dashboard_a_downgrade_asks_no_reason(
    owner_client, unmarked_paid_zone, django_capture_on_commit_callbacks
):
    url = _plan_url(unmarked_paid_zone, "downgrade")
    preview = owner_client.post(url, {"_preview": "", "rate_plan_id": "PARTNERS_FREE"})
    assert 'name="not_billed_reason"' not in preview.content.decode()
    previewed = preview.context["form"]["previewed"].value()
    with django_capture_on_commit_callbacks(execute=True):
        done = owner_client.post(
            url, {"_confirm": "", "previewed": previewed, "rate_plan_id": "PARTNERS_FREE"}
        )
    assert done.status_code == 302 and not NotBilled.objects.exists()


def test_dashboard_another_partners_reseller_cannot_mark_a_service(stranger_client, unmarked_paid_zone):
    before = written()
    url = _plan_url(unmarked_paid_zone, "change")
    response = stranger_client.post(
        url, {"_confirm": "", "component_page_rules": "70", "not_billed_reason": WHY}
    )
    assert response.status_code == 404 and written() == before


def test_dashboard_preview_of_a_billed_zone_says_when_the_change_takes_effect(
    owner_client, unmarked_paid_zone, provided_by_billing
):
    subscription = provided_by_billing(unmarked_paid_zone, "PARTNERS_BIZ")
    down = owner_client.post(
        _plan_url(unmarked_paid_zone, "downgrade"), {"_preview": "", "rate_plan_id": "PARTNERS_FREE"}
    ).content.decode()
    more = owner_client.post(
        _plan_url(unmarked_paid_zone, "change"), {"_preview": "", "component_page_rules": "70"}
    ).content.decode()
    assert takes_effect_later(subscription) in down
    assert takes_effect_once_paid(subscription).replace("'", "&#x27;") in more
    assert 'name="not_billed_reason"' not in more  # billing's checkout bills it, no reason is asked
