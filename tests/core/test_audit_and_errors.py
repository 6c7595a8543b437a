"""The audit trail and the API error shape."""

import pytest
from django.db import transaction

from core import audit
from core.actor import Actor, Face
from core.models import AuditEvent
from tests.factories import PartnerFactory, UserFactory


def test_audit_event_records_who_face_partner_and_changed_fields_only(db):
    user = UserFactory()
    partner = PartnerFactory(city="Old Town")
    before = audit.snapshot(partner)
    partner.city = "New Town"
    partner.save()
    event = audit.record(
        Actor(user, Face.DASHBOARD),
        "partner.updated",
        partner,
        partner_id=partner.pk,
        before=before,
    )
    assert event.actor == user and event.face == "dashboard" and event.partner_id == partner.pk
    assert event.changes["city"] == ["Old Town", "New Town"]
    assert "name" not in event.changes


def test_audit_event_never_holds_a_secret(db):
    partner = PartnerFactory(digicert_api_key="first-secret-key-0000")
    before = audit.snapshot(partner)
    partner.digicert_api_key = "second-secret-key-1111"
    partner.save()
    event = audit.record(
        Actor.system(), "partner.credentials_set", partner, partner_id=partner.pk, before=before
    )
    text = str(event.changes)
    assert "secret-key" not in text
    assert event.changes["digicert_api_key"] == ["[secret]", "[secret]"]


def test_audit_event_rolls_back_with_the_change(db):
    partner = PartnerFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit.record(Actor.system(), "partner.updated", partner, partner_id=partner.pk, changes={})
        raise RuntimeError("the business write failed")
    assert not AuditEvent.objects.exists()


def test_unknown_api_url_answers_json_not_found(client):
    response = client.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_api_server_error_is_json_without_details(client, monkeypatch, db):
    from partner import api

    def crash(self, request, *args, **kwargs):
        raise ZeroDivisionError("internal detail")

    monkeypatch.setattr(api.CustomerViewSet, "list", crash)
    client.raise_request_exception = False
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    response = client.get("/api/v1/customers/")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "server_error" and "internal detail" not in body["message"]
