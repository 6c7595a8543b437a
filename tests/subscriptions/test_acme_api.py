"""The ACME API: permission matrix for every endpoint, 202 answers, secrets, constant query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import AuditEvent, Operation
from subscriptions.acme.models import AcmeContract
from tests.factories import MembershipFactory, PartnerFactory
from tests.sandbox_helpers import advance_vendor_clock, vendor_request_count

pytestmark = pytest.mark.django_db


def _as(api, partner, role):
    return api.as_user(MembershipFactory(partner=partner, role=role).user)


@pytest.fixture
def contract(order):
    return order(auto_renew=True)


# (method, url, body, role lacking the right, role having it, success status)
ENDPOINTS = [
    ("get", "/api/v1/acme-contracts/{c}/", None, None, "viewer", 200),
    ("get", "/api/v1/acme-contracts/{c}/operations/", None, None, "viewer", 200),
    ("post", "/api/v1/acme-contracts/{c}/cancel/", None, "billing", "technician", 202),
    ("post", "/api/v1/acme-contracts/{c}/stop-renewal/", None, "viewer", "technician", 202),
    ("post", "/api/v1/acme-contracts/{c}/sans/", {"sans": ["new.example.com"]}, "viewer", "admin", 202),
    ("delete", "/api/v1/acme-contracts/{c}/sans/", {"sans": ["www.example.com"]}, "billing", "owner", 202),
    (
        "post",
        "/api/v1/acme-contracts/{c}/credentials/regenerate/",
        {"revoke_existing": False},
        "viewer",
        "technician",
        202,
    ),
    ("post", "/api/v1/acme-contracts/{c}/credentials/reveal/", None, "billing", "technician", 200),
    ("post", "/api/v1/acme-contracts/{c}/sync/", None, "viewer", "admin", 202),
    ("get", "/api/v1/subaccounts/{s}/account-settings/", None, None, "viewer", 200),
    (
        "patch",
        "/api/v1/subaccounts/{s}/account-settings/",
        {"auto_renew_subscription": True},
        "viewer",
        "technician",
        202,
    ),
]


def _url(template, contract):
    return template.format(c=contract.pk, s=contract.subaccount_id)


def _state():
    return (
        list(AcmeContract.objects.values("state", "auto_renew", "sans", "credentials_revealed_at")),
        Operation.objects.count(),
        AuditEvent.objects.count(),
        vendor_request_count(),
    )


@pytest.mark.parametrize("method,template,body,_lacking,_having,_ok", ENDPOINTS)
def test_anonymous_gets_401(api, contract, method, template, body, _lacking, _having, _ok):
    assert getattr(api, method)(_url(template, contract), body, format="json").status_code == 401


@pytest.mark.parametrize("method,template,body,_lacking,_having,_ok", ENDPOINTS)
def test_another_partners_user_gets_404_and_nothing_changes(
    api, contract, method, template, body, _lacking, _having, _ok
):
    client = _as(api, PartnerFactory(), "owner")
    before = _state()
    response = getattr(client, method)(_url(template, contract), body, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert _state() == before


@pytest.mark.parametrize("method,template,body,lacking,_having,_ok", [e for e in ENDPOINTS if e[3]])
def test_role_without_the_right_gets_403_and_nothing_changes(
    api, contract, method, template, body, lacking, _having, _ok
):
    client = _as(api, contract.partner, lacking)
    before = _state()
    response = getattr(client, method)(_url(template, contract), body, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert _state() == before


@pytest.mark.parametrize("method,template,body,_lacking,having,ok", ENDPOINTS)
def test_role_with_the_right_succeeds(api, contract, method, template, body, _lacking, having, ok):
    response = getattr(_as(api, contract.partner, having), method)(
        _url(template, contract), body, format="json"
    )
    assert response.status_code == ok, response.content


def test_order_answers_202_pending_then_active_with_its_renewal_decision(
    api, customer, digicert_subaccount, django_capture_on_commit_callbacks
):
    client = _as(api, customer.partner, "technician")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/acme-contracts/",
            {
                "customer": customer.pk,
                "product": "ssl_dv_rapidssl",
                "sans": ["shop.example.com"],
                "not_billed_reason": "Free for the partner's own shop.",
            },
            format="json",
        )
    assert response.status_code == 202 and response.json()["state"] == "pending"
    body = client.get(f"/api/v1/acme-contracts/{response.json()['id']}/").json()
    assert (
        body["state"] == "active" and body["auto_renew"] is False and body["auto_renew_source"] == "default"
    )
    assert [o["action"] for o in body["options_today"]] == ["cancel", "resume_renewal"]
    assert body["last_operation"]["state"] == "succeeded"


def test_order_with_invalid_fields_is_400_with_field_errors(api, customer, digicert_subaccount):
    response = _as(api, customer.partner, "owner").post(
        "/api/v1/acme-contracts/", {"customer": customer.pk, "product": "ssl_nope", "sans": []}, format="json"
    )
    assert response.status_code == 400 and {"product", "sans"} <= set(response.json()["fields"])
    assert not AcmeContract.objects.exists()


def test_order_for_another_partners_customer_is_404(api, customer, digicert_subaccount):
    response = _as(api, PartnerFactory(), "owner").post(
        "/api/v1/acme-contracts/",
        {"customer": customer.pk, "product": "ssl_dv_rapidssl", "sans": ["a.io"]},
        format="json",
    )
    assert response.status_code == 404 and not AcmeContract.objects.exists()


def test_cancel_after_day_30_is_409_naming_the_date_and_offering_stop_renewal(api, contract):
    advance_vendor_clock(days=31)
    client = _as(api, contract.partner, "owner")
    before = _state()
    response = client.post(f"/api/v1/acme-contracts/{contract.pk}/cancel/")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "cancel_window_closed"
    assert contract.cancel_window_closes_at.strftime("%Y-%m-%d") in body["message"]
    assert _state() == before
    detail = client.get(f"/api/v1/acme-contracts/{contract.pk}/").json()
    assert [o["action"] for o in detail["options_today"]] == ["stop_renewal"]


def test_hmac_key_is_never_in_lists_or_details_and_revealed_once(api, contract):
    client = _as(api, contract.partner, "owner")
    hmac_key = contract.eab_hmac_key.reveal()
    assert hmac_key not in client.get("/api/v1/acme-contracts/").content.decode()
    assert hmac_key not in client.get(f"/api/v1/acme-contracts/{contract.pk}/").content.decode()
    revealed = client.post(f"/api/v1/acme-contracts/{contract.pk}/credentials/reveal/")
    assert revealed.status_code == 200 and revealed.json()["hmac_key"] == hmac_key
    assert any(c["client"] == "certbot" for c in revealed.json()["configs"])
    again = client.post(f"/api/v1/acme-contracts/{contract.pk}/credentials/reveal/")
    assert again.status_code == 409 and again.json()["code"] == "credentials_already_revealed"
    assert hmac_key not in str(list(AuditEvent.objects.values_list("changes", "note")))


def test_list_is_scoped_and_its_query_count_does_not_grow(api, order, customer):
    order()
    client = _as(api, customer.partner, "viewer")
    client.get("/api/v1/acme-contracts/")
    with CaptureQueriesContext(connection) as few:
        rows = client.get("/api/v1/acme-contracts/").json()["results"]
    assert len(rows) == 1
    for i in range(4):
        order(sans=[f"site{i}.example.com"])
    with CaptureQueriesContext(connection) as many:
        rows = client.get("/api/v1/acme-contracts/").json()["results"]
    assert len(rows) == 5 and len(many) == len(few)
    assert _as(api, PartnerFactory(), "owner").get("/api/v1/acme-contracts/").json()["results"] == []
