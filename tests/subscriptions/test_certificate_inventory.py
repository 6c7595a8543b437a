"""Certificate inventory: DigiCert's certificate list of each ACME contract, read through the sandbox
with the subaccount key; replaced certificates and ended contracts leave rows marked gone."""

import pytest

from core.models import AuditEvent, Operation
from subscriptions.acme import certificates
from subscriptions.acme import services as acme
from subscriptions.acme.models import Certificate
from tests.conftest import system_actor
from tests.sandbox_helpers import advance_vendor_clock, inject_fault

pytestmark = pytest.mark.django_db

REFRESH = certificates.RefreshCertificates.kind


@pytest.fixture
def contract(order):
    return order(auto_renew=True, sans=["example.com", "www.example.com"])


def _refresh(run_tasks, contract, actor=None):
    run_tasks(certificates.refresh_certificates, actor or system_actor(), contract)
    contract.refresh_from_db()
    return contract


def _rows(contract):
    return list(
        Certificate.objects.filter(contract=contract)
        .order_by("id")
        .values("serial_number", "domain", "sans", "status", "expires_at", "gone_at", "first_seen_at")
    )


def test_a_refresh_through_the_sandbox_records_every_listed_certificate(run_tasks, contract):
    contract = _refresh(run_tasks, contract)

    certs = Certificate.objects.filter(contract=contract).order_by("domain")
    assert [c.domain for c in certs] == ["example.com", "www.example.com"]
    for cert in certs:
        assert cert.status == "issued" and len(cert.serial_number) == 32 and cert.gone_at is None
        assert cert.sans == [cert.domain]
        assert cert.customer_id == contract.customer_id and cert.partner_id == contract.partner_id
        assert (cert.expires_at - contract.term_started_at).days == 90
        assert "pem" not in " ".join(cert.vendor_view).lower()
    assert contract.certificates_synced_at is not None
    operation = Operation.objects.filter(kind=REFRESH).get()
    assert operation.state == "succeeded" and operation.result == {"listed": 2}
    assert AuditEvent.objects.filter(action="acme.certificates_changed").count() == 1


def test_a_second_refresh_changes_nothing(run_tasks, contract):
    _refresh(run_tasks, contract)
    before, events = _rows(contract), AuditEvent.objects.count()

    _refresh(run_tasks, contract)

    assert _rows(contract) == before
    assert AuditEvent.objects.count() == events  # the same list is not an event


def test_a_replaced_certificate_marks_the_old_one_gone(run_tasks, contract):
    _refresh(run_tasks, contract)
    old = set(Certificate.objects.values_list("serial_number", flat=True))

    advance_vendor_clock(days=61)  # the ACME client renewed every certificate at day 60
    _refresh(run_tasks, contract)

    current = Certificate.objects.filter(contract=contract, gone_at__isnull=True)
    gone = Certificate.objects.filter(contract=contract, gone_at__isnull=False)
    assert set(gone.values_list("serial_number", flat=True)) == old
    assert len(current) == 2 and not old & set(current.values_list("serial_number", flat=True))
    event = AuditEvent.objects.filter(action="acme.certificates_changed").latest("id")
    assert "2 new, 2 gone" in event.note


def test_a_cancelled_contracts_certificates_are_all_gone(run_tasks, contract):
    _refresh(run_tasks, contract)
    run_tasks(acme.cancel_acme_contract, system_actor(), contract)
    contract.refresh_from_db()
    assert contract.state == "cancelled"

    _refresh(run_tasks, contract)

    assert Certificate.objects.filter(contract=contract).count() == 2
    assert not Certificate.objects.filter(contract=contract, gone_at__isnull=True).exists()


def test_a_contract_not_at_digicert_yet_is_refused_before_any_call(run_tasks, contract):
    contract.vendor_id = ""
    contract.save()
    with pytest.raises(certificates.RuleViolation) as refused:
        certificates.refresh_certificates(system_actor(), contract)
    assert refused.value.code == "not_at_vendor"
    assert not Operation.objects.filter(kind=REFRESH).exists()


def test_the_schedule_starts_one_refresh_per_active_contract_and_none_for_one_pending(
    run_tasks, order, django_capture_on_commit_callbacks
):
    first, second, third = order(sans=["a.example.com"]), order(sans=["b.example.com"]), order()
    with django_capture_on_commit_callbacks(execute=False):  # queued, never run: still pending
        certificates.refresh_certificates(system_actor(), second)
        acme.sync_acme_contract(system_actor(), third)  # the contract sync runs at the same times
    pending = Operation.objects.get(kind=REFRESH)

    with django_capture_on_commit_callbacks(execute=False):
        started = certificates.queue_scheduled_refreshes()

    assert started == 2
    refreshes = Operation.objects.filter(kind=REFRESH).exclude(pk=pending.pk)
    assert sorted(refreshes.values_list("object_id", flat=True)) == sorted([str(first.pk), str(third.pk)])


def test_a_second_refresh_while_one_is_pending_is_refused(order, django_capture_on_commit_callbacks):
    contract = order()
    with django_capture_on_commit_callbacks(execute=False):
        certificates.refresh_certificates(system_actor(), contract)
        with pytest.raises(certificates.RuleViolation) as refused:
            certificates.refresh_certificates(system_actor(), contract)
    assert refused.value.code == "operation_in_progress"
    assert Operation.objects.filter(kind=REFRESH).count() == 1


def test_the_schedule_also_clears_an_ended_contract_still_showing_certificates(
    run_tasks, contract, django_capture_on_commit_callbacks
):
    _refresh(run_tasks, contract)
    run_tasks(acme.cancel_acme_contract, system_actor(), contract)

    run_tasks(certificates.queue_scheduled_refreshes)
    assert not Certificate.objects.filter(gone_at__isnull=True).exists()

    with django_capture_on_commit_callbacks(execute=False):
        assert certificates.queue_scheduled_refreshes() == 0  # nothing left to clear


def test_the_schedule_is_declared():
    from config.schedules import SCHEDULES

    assert ("Refresh ACME certificate inventories", "subscriptions.acme.tasks.refresh_certificates_task") in [
        (name, func) for name, func, _ in SCHEDULES
    ]


def test_a_vendor_error_is_shown_on_the_contracts_operation_and_retryable(run_tasks, contract, settings):
    settings.TASK_MAX_ATTEMPTS = 1
    inject_fault("digicert", "http_503", method="GET", path=r"/certificates$")

    _refresh(run_tasks, contract)

    operation = Operation.objects.get(kind=REFRESH)
    assert operation.state == "failed" and operation.object_id == str(contract.pk)
    assert operation.last_error_code and operation.last_error_message
    assert not Certificate.objects.exists() and contract.certificates_synced_at is None

    run_tasks(acme.retry_last_operation, system_actor(), contract)

    operation.refresh_from_db()
    assert operation.state == "succeeded"
    assert Certificate.objects.filter(contract=contract).count() == 2


# --- Admin --------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


def test_the_admin_lists_certificates_read_only(staff_client, run_tasks, contract):
    from django.urls import reverse

    _refresh(run_tasks, contract)
    serials = list(Certificate.objects.values_list("serial_number", flat=True))

    listing = staff_client.get(reverse("admin:subscriptions_certificate_changelist")).content.decode()
    by_contract = staff_client.get(
        reverse("admin:subscriptions_certificate_changelist") + f"?contract__id__exact={contract.pk}"
    )
    cert = Certificate.objects.first()
    detail = staff_client.get(reverse("admin:subscriptions_certificate_change", args=[cert.pk]))

    assert all(serial in listing for serial in serials)
    assert by_contract.status_code == 200 and all(s in by_contract.content.decode() for s in serials)
    assert detail.status_code == 200 and cert.serial_number in detail.content.decode()
    assert b'name="_save"' not in detail.content  # read-only


def test_the_contract_admin_page_links_the_certificates_and_refreshes_them(
    staff_client, contract, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    page = staff_client.get(reverse("admin:subscriptions_acmecontract_change", args=[contract.pk]))
    assert b"never read yet" in page.content and b"Refresh now" in page.content
    assert f"?contract__id__exact={contract.pk}".encode() in page.content

    with django_capture_on_commit_callbacks(execute=True):
        staff_client.post(
            reverse("admin:subscriptions_acmecontract_do", args=[contract.pk, "refresh_certificates"])
        )

    assert Certificate.objects.filter(contract=contract, gone_at__isnull=True).count() == 2
    page = staff_client.get(reverse("admin:subscriptions_acmecontract_change", args=[contract.pk]))
    assert b"2 listed</a> (0 expiring soon)" in page.content


def test_the_admin_action_refreshes_the_selected_contracts(
    staff_client, order, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    first, second = order(sans=["a.example.com"]), order(sans=["b.example.com"])
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("admin:subscriptions_acmecontract_changelist"),
            {"action": "refresh_certificates_selected", "_selected_action": [first.pk, second.pk]},
            follow=True,
        )

    assert b"2 certificate refresh(es) queued." in response.content
    assert {c.domain for c in Certificate.objects.all()} == {"a.example.com", "b.example.com"}


def test_staff_without_the_manage_permission_cannot_refresh(client, contract):
    from django.urls import reverse

    from core.actor import Actor, Face
    from core.errors import PermissionDenied
    from tests.factories import StaffFactory

    viewer = StaffFactory(permissions=["view_acmecontract", "view_certificate"])
    client.force_login(viewer)
    client.post(reverse("admin:subscriptions_acmecontract_do", args=[contract.pk, "refresh_certificates"]))
    with pytest.raises(PermissionDenied):
        certificates.refresh_certificates(Actor(viewer, Face.ADMIN), contract)
    assert not Operation.objects.filter(kind=REFRESH).exists()
