"""Support staff's reconciliation pages: runs and findings lists with filters and search, the
evidence shown as a table, the actions behind a confirmation page, "Run reconciliation now"."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse

from core.models import AuditEvent
from reconciliation.models import Finding, Run
from tests.factories import RunFactory, StaffFactory
from tests.reconciliation.factories import contract_row, finding_for, mark_on, zone_row

pytestmark = pytest.mark.django_db


def _staff(client, *codenames):
    user = StaffFactory(permissions=list(codenames))
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="reconciliation"))
    client.force_login(user)
    return client


@pytest.fixture
def support(client):
    """Support staff with the billing permission (what acting on a finding needs)."""
    return _staff(client, "change_billingsubscription", "view_customer")


@pytest.fixture
def finding(customer):
    return finding_for(
        contract_row(customer),
        evidence={
            "rule": "Provided but not billed.",
            "vendor": "DigiCert",
            "sides": {"billing": {"billed": False}, "ours": {"state": "active", "auto_renew": True}},
            "differs": ["billed"],
        },
    )


def test_the_lists_filter_and_search(support, finding, partner):
    RunFactory(partner=partner, counts={"provided_not_billed": 1}, errors=[{"vendor": "cloudflare"}])
    response = support.get(
        reverse("admin:reconciliation_finding_changelist"), {"state__exact": "open", "q": "nothing bills"}
    )
    assert response.status_code == 200 and finding.summary in response.content.decode()
    assert support.get(reverse("admin:reconciliation_run_changelist")).status_code == 200
    assert support.get(reverse("admin:reconciliation_notbilled_changelist")).status_code == 200


def test_a_finding_shows_its_evidence_as_a_table_and_which_actions_apply(support, finding):
    body = support.get(reverse("admin:reconciliation_finding_change", args=[finding.pk])).content.decode()
    assert "<th>Our record</th>" in body and "Auto-renews" in body
    assert "Push ours to the vendor</strong>: applies" in body
    assert "End billing</strong>: Nothing bills this" in body


def test_an_action_asks_for_confirmation_then_runs(support, finding):
    url = reverse("admin:reconciliation_finding_changelist")
    page = support.post(url, {"action": "dismiss", ACTION_CHECKBOX_NAME: [finding.pk]})
    assert page.status_code == 200 and "Dismiss?" in page.content.decode()
    finding.refresh_from_db()
    assert finding.state == "open"
    support.post(
        url, {"action": "dismiss", ACTION_CHECKBOX_NAME: [finding.pk], "_confirm": "1", "reason": "Known."}
    )
    finding.refresh_from_db()
    assert finding.state == "dismissed" and finding.resolution_note == "Known."


def test_a_refused_row_says_why_and_changes_nothing(support, finding):
    url = reverse("admin:reconciliation_finding_changelist")
    before = AuditEvent.objects.count()
    page = support.post(url, {"action": "end_billing", ACTION_CHECKBOX_NAME: [finding.pk]})
    assert "no billing to end" in page.content.decode() and 'name="_confirm"' not in page.content.decode()
    response = support.post(
        url,
        {"action": "dismiss", ACTION_CHECKBOX_NAME: [finding.pk], "_confirm": "1", "reason": ""},
        follow=True,
    )
    assert "reason_required" in response.content.decode()
    finding.refresh_from_db()
    assert finding.state == "open" and AuditEvent.objects.count() == before


def test_run_reconciliation_now_queues_a_run_per_partner(support, partner, other_partner):
    assert (
        "Run reconciliation now"
        in support.get(reverse("admin:reconciliation_run_changelist")).content.decode()
    )
    url = reverse("admin:reconciliation_run_run_now")
    assert support.get(url).status_code == 200
    support.post(url, {"partners": [partner.pk]})
    assert list(Run.objects.values_list("partner_id", "state", "face")) == [(partner.pk, "queued", "admin")]


def test_staff_without_the_billing_permission_may_look_but_not_act(client, finding, partner):
    staff = _staff(client, "view_customer")
    url = reverse("admin:reconciliation_finding_changelist")
    body = staff.get(url).content.decode()
    assert finding.summary in body and 'value="dismiss"' not in body
    staff.post(reverse("admin:reconciliation_run_run_now"), {"partners": [partner.pk]})
    assert not Run.objects.exists()
    assert Finding.objects.get().state == "open"


def test_a_not_billed_mark_is_taken_back_after_confirmation(support, customer):
    mark = mark_on(zone_row(customer))
    url = reverse("admin:reconciliation_notbilled_changelist")
    page = support.post(url, {"action": "unmark_selected", ACTION_CHECKBOX_NAME: [mark.pk]})
    assert page.status_code == 200
    support.post(url, {"action": "unmark_selected", ACTION_CHECKBOX_NAME: [mark.pk], "_confirm": "1"})
    mark.refresh_from_db()
    assert not mark.live
