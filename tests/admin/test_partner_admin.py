"""Support staff in the admin: checklist, masked secrets, audit trail, actions behind permissions."""

import pytest
from django.urls import reverse

from core.models import AuditEvent
from partner import services
from partner.models import Partner, Subaccount, SubaccountState
from tests.conftest import retry_failed
from tests.factories import CustomerFactory, PartnerFactory, StaffFactory, SubaccountFactory
from tests.sandbox_helpers import vendor_request_count

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:partner_partner_changelist",
        "admin:partner_customer_changelist",
        "admin:partner_subaccount_changelist",
        "admin:partner_membership_changelist",
        "admin:core_auditevent_changelist",
        "admin:core_apitoken_changelist",
        "admin:partner_subaccount_add",
    ],
)
def test_admin_pages_render_for_staff(staff_client, url_name, customer):
    SubaccountFactory(customer=customer, active=True)
    assert staff_client.get(reverse(url_name)).status_code == 200


def test_partner_page_shows_the_onboarding_checklist_and_masked_keys_only(staff_client):
    partner = PartnerFactory(not_onboarded=True, digicert_api_key="partner-secret-key-9876")
    html = staff_client.get(reverse("admin:partner_partner_change", args=[partner.pk])).content.decode()
    assert "Legal organization name" in html and "Subaccount naming convention" in html
    assert "❌" in html
    assert "partner-secret-key-9876" not in html and "9876" in html


def test_subaccount_pages_mask_the_key(staff_client, customer):
    subaccount = SubaccountFactory(customer=customer, active=True)
    key = subaccount.api_key.reveal()
    for url in (
        reverse("admin:partner_subaccount_change", args=[subaccount.pk]),
        reverse("admin:partner_subaccount_changelist"),
        reverse("admin:partner_customer_change", args=[customer.pk]),
    ):
        assert key not in staff_client.get(url).content.decode()


def test_create_at_vendor_from_the_admin_goes_active(
    staff_client, staff, sandbox, customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:partner_subaccount_add"),
            {"customer": customer.pk, "vendor": "digicert", "name": ""},
        )
    subaccount = Subaccount.objects.get(customer=customer)
    assert response.status_code == 302
    assert subaccount.state == SubaccountState.ACTIVE
    event = AuditEvent.objects.get(action="subaccount.requested")
    assert event.face == "admin" and event.actor == staff


def test_admin_refusal_is_a_form_error_and_creates_nothing(staff_client, sandbox, customer):
    before = (Subaccount.objects.count(), vendor_request_count())
    response = staff_client.post(
        reverse("admin:partner_subaccount_add"),
        {"customer": customer.pk, "vendor": "digicert", "name": "Bad Name"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "naming_convention_violated" in html and f"{customer.partner.slug}-{customer.reference}" in html
    assert (Subaccount.objects.count(), vendor_request_count()) == before


def test_customer_action_creates_subaccounts_and_reports_each_refusal(
    staff_client, sandbox, django_capture_on_commit_callbacks
):
    good = CustomerFactory()
    bad = CustomerFactory(partner=PartnerFactory(not_onboarded=True))
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:partner_customer_changelist"),
            {"action": "create_digicert_subaccount", "_selected_action": [good.pk, bad.pk]},
            follow=True,
        )
    messages = [str(m) for m in response.context["messages"]]
    assert any("onboarding_incomplete" in m and bad.name in m for m in messages)
    assert Subaccount.objects.get(customer=good).state == SubaccountState.ACTIVE
    assert not Subaccount.objects.filter(customer=bad).exists()


def test_retry_failed_action_requires_the_retry_permission(
    client, sandbox, customer, django_capture_on_commit_callbacks
):
    failed = SubaccountFactory(customer=customer, failed=True)
    viewer = StaffFactory(permissions=["view_subaccount", "view_customer"])
    client.force_login(viewer)
    response = retry_failed(client, "admin:partner_subaccount_changelist", failed)
    failed.refresh_from_db()
    assert failed.state == SubaccountState.FAILED and response.status_code in (200, 302)
    retrier = StaffFactory(permissions=["view_subaccount", "retry_subaccount"])
    client.force_login(retrier)
    with django_capture_on_commit_callbacks(execute=True):
        retry_failed(client, "admin:partner_subaccount_changelist", failed)
    failed.refresh_from_db()
    assert failed.state == SubaccountState.ACTIVE


def _change_form(partner, **changes) -> dict:
    """What the admin's partner change form posts: the profile as it is (the service's fields), with `changes`."""
    return {f: getattr(partner, f) or "" for f in ["slug", *services.PARTNER_PROFILE_FIELDS]} | changes


def test_locked_naming_convention_edit_is_refused_with_a_message(staff_client, customer):
    SubaccountFactory(customer=customer)
    partner = customer.partner
    data = _change_form(partner, subaccount_naming_pattern="changed-{customer}", auto_renew_default="unknown")
    response = staff_client.post(
        reverse("admin:partner_partner_change", args=[partner.pk]), data, follow=True
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any("naming_convention_locked" in m for m in messages), messages
    assert Partner.objects.get(pk=partner.pk).subaccount_naming_pattern == "{partner}-{customer}"


def test_setting_a_vendor_key_in_the_admin_stores_it_encrypted_and_audits_without_it(staff_client, partner):
    data = _change_form(
        partner, auto_renew_default="unknown", new_digicert_api_key="brand-new-partner-key-5555"
    )
    staff_client.post(reverse("admin:partner_partner_change", args=[partner.pk]), data)
    partner.refresh_from_db()
    assert partner.digicert_api_key.reveal() == "brand-new-partner-key-5555"
    event = AuditEvent.objects.get(action="partner.credentials_set")
    assert "brand-new" not in str(event.changes) and event.face == "admin"


def test_staff_without_permission_cannot_create_subaccounts(client, customer):
    client.force_login(StaffFactory(permissions=["view_subaccount"]))
    response = client.post(
        reverse("admin:partner_subaccount_add"), {"customer": customer.pk, "vendor": "digicert"}
    )
    assert response.status_code in (302, 403)
    assert not Subaccount.objects.exists()


def test_task_arguments_carry_primary_keys_never_secrets(
    sandbox, customer, monkeypatch, django_capture_on_commit_callbacks
):
    from core import tasks
    from partner import services
    from tests.conftest import system_actor

    queued = []
    monkeypatch.setattr(
        tasks, "async_task", lambda func, *args, **kwargs: queued.append((func, args, kwargs))
    )
    with django_capture_on_commit_callbacks(execute=True):
        subaccount = services.request_subaccount(system_actor(), customer, "digicert")
    assert queued == [
        ("core.tasks.run_operation_task", (subaccount.provisioning.pk,), {"group": "core.tasks"})
    ]
