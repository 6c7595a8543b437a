"""The partner API: permission matrix for every endpoint, scoping, errors, constant query counts."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import AuditEvent
from partner.models import Customer, Subaccount
from tests.factories import CustomerFactory, MembershipFactory, PartnerFactory, SubaccountFactory
from tests.sandbox_helpers import vendor_request_count

pytestmark = pytest.mark.django_db


def _as(api, partner, role):
    return api.as_user(MembershipFactory(partner=partner, role=role).user)


# (method, url template, body, role lacking the right, role having it, expected success status)
ENDPOINTS = [
    ("get", "/api/v1/partners/{partner}/", None, None, "viewer", 200),
    ("patch", "/api/v1/partners/{partner}/", {"city": "Utrecht"}, "technician", "admin", 200),
    ("get", "/api/v1/customers/{customer}/", None, None, "viewer", 200),
    ("patch", "/api/v1/customers/{customer}/", {"contact_name": "New"}, "viewer", "admin", 200),
    ("delete", "/api/v1/customers/{customer}/", None, "billing", "owner", 204),
    ("get", "/api/v1/subaccounts/{subaccount}/", None, None, "viewer", 200),
    ("post", "/api/v1/subaccounts/{failed}/retry/", None, "billing", "technician", 202),
]
LISTS = ["/api/v1/partners/", "/api/v1/customers/", "/api/v1/subaccounts/"]


@pytest.fixture
def world(sandbox):
    partner = PartnerFactory()
    customer = CustomerFactory(partner=partner)
    spare = CustomerFactory(partner=partner)  # deletable: no subaccounts
    failed_customer = CustomerFactory(partner=partner)
    return {
        "partner": partner,
        "customer": spare,
        "subaccount": SubaccountFactory(customer=customer, active=True),
        "failed": SubaccountFactory(customer=failed_customer, failed=True),
    }


def _url(template, world):
    return template.format(**{k: v.pk for k, v in world.items()})


@pytest.mark.parametrize("method,template,body,_lacking,_having,_ok", ENDPOINTS)
def test_anonymous_gets_401(api, world, method, template, body, _lacking, _having, _ok):
    response = getattr(api, method)(_url(template, world), body, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("method,template,body,_lacking,_having,_ok", ENDPOINTS)
def test_another_partners_user_gets_404_and_changes_nothing(
    api, world, method, template, body, _lacking, _having, _ok
):
    client = _as(api, PartnerFactory(), "owner")
    before = (
        Customer.objects.count(),
        Subaccount.objects.filter(state="failed").count(),
        AuditEvent.objects.count(),
    )
    response = getattr(client, method)(_url(template, world), body, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert (
        Customer.objects.count(),
        Subaccount.objects.filter(state="failed").count(),
        AuditEvent.objects.count(),
    ) == before


@pytest.mark.parametrize("method,template,body,lacking,_having,_ok", [e for e in ENDPOINTS if e[3]])
def test_role_without_the_right_gets_403_and_changes_nothing(
    api, world, method, template, body, lacking, _having, _ok
):
    client = _as(api, world["partner"], lacking)
    before = (Customer.objects.count(), AuditEvent.objects.count(), vendor_request_count())
    response = getattr(client, method)(_url(template, world), body, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert (Customer.objects.count(), AuditEvent.objects.count(), vendor_request_count()) == before


@pytest.mark.parametrize("method,template,body,_lacking,having,ok", ENDPOINTS)
def test_role_with_the_right_succeeds(api, world, method, template, body, _lacking, having, ok):
    client = _as(api, world["partner"], having)
    response = getattr(client, method)(_url(template, world), body, format="json")
    assert response.status_code == ok, response.content


@pytest.mark.parametrize("url", LISTS)
def test_lists_are_401_for_anonymous_and_scoped_to_the_users_partner(api, world, url):
    assert api.get(url).status_code == 401
    other = PartnerFactory()
    SubaccountFactory(customer=CustomerFactory(partner=other))
    rows = _as(api, world["partner"], "viewer").get(url).json()["results"]
    partner_ids = {row.get("partner", row["id"] if url.endswith("partners/") else None) for row in rows}
    assert partner_ids == {world["partner"].pk}


def test_user_without_partner_or_staff_gets_403(api, db):
    from tests.factories import UserFactory

    response = api.as_user(UserFactory()).get("/api/v1/customers/")
    assert response.status_code == 403


def test_member_creates_a_customer_for_their_own_partner(api, world):
    client = _as(api, world["partner"], "admin")
    response = client.post(
        "/api/v1/customers/",
        {"name": "New Co", "reference": "newco", "partner": PartnerFactory().pk},
        format="json",
    )
    assert response.status_code == 201, response.content
    assert Customer.objects.get(reference="newco").partner == world["partner"]


def test_customer_create_with_bad_fields_is_a_400_with_field_errors_and_writes_nothing(api, world):
    client = _as(api, world["partner"], "admin")
    before = Customer.objects.count()
    response = client.post("/api/v1/customers/", {"name": "", "reference": "Not A Slug!"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and {"name", "reference"} <= set(body["fields"])
    assert Customer.objects.count() == before


def test_duplicate_customer_reference_is_refused_with_a_field_error(api, world):
    client = _as(api, world["partner"], "admin")
    existing = world["customer"].reference
    response = client.post("/api/v1/customers/", {"name": "Dup", "reference": existing}, format="json")
    assert response.status_code == 400
    assert "reference" in str(response.json()["fields"]) or "__all__" in response.json()["fields"]


def test_subaccount_create_answers_202_pending_then_is_active(api, world, django_capture_on_commit_callbacks):
    customer = CustomerFactory(partner=world["partner"])
    client = _as(api, world["partner"], "technician")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/subaccounts/", {"customer": customer.pk, "vendor": "digicert"}, format="json"
        )
    assert response.status_code == 202, response.content
    assert response.json()["state"] == "pending"
    detail = client.get(f"/api/v1/subaccounts/{response.json()['id']}/").json()
    assert detail["state"] == "active" and detail["has_api_key"] is True
    assert "api_key" not in detail


def test_subaccount_create_with_a_bad_name_is_a_400_with_the_convention(api, world):
    customer = CustomerFactory(partner=world["partner"])
    client = _as(api, world["partner"], "technician")
    response = client.post(
        "/api/v1/subaccounts/",
        {"customer": customer.pk, "vendor": "digicert", "name": "nope"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "naming_convention_violated" and "name" in response.json()["fields"]
    assert not Subaccount.objects.filter(customer=customer).exists()


def test_subaccount_create_for_another_partners_customer_answers_as_for_a_missing_one(api, world):
    client = _as(api, PartnerFactory(), "owner")
    theirs = client.post(
        "/api/v1/subaccounts/", {"customer": world["customer"].pk, "vendor": "digicert"}, format="json"
    )
    missing = client.post("/api/v1/subaccounts/", {"customer": 10**9, "vendor": "digicert"}, format="json")
    assert theirs.status_code == missing.status_code == 400 and "customer" in theirs.json()["fields"]
    assert (
        theirs.json()["fields"]["customer"] != []
        and not Subaccount.objects.filter(customer=world["customer"]).exists()
    )
    assert theirs.json()["code"] == missing.json()["code"]


def test_onboarding_incomplete_is_a_409_with_its_code(api, sandbox):
    partner = PartnerFactory(not_onboarded=True)
    customer = CustomerFactory(partner=partner)
    client = _as(api, partner, "owner")
    response = client.post(
        "/api/v1/subaccounts/", {"customer": customer.pk, "vendor": "digicert"}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "onboarding_incomplete"


def test_partner_detail_shows_the_onboarding_checklist_and_no_secret(api, world):
    body = _as(api, world["partner"], "viewer").get(f"/api/v1/partners/{world['partner'].pk}/").json()
    assert body["onboarding_complete"] is True
    assert {item["key"] for item in body["onboarding"]} >= {
        "legal_name",
        "naming_convention",
        "billing_model",
    }
    assert body["has_digicert_credentials"] is True
    text = str(body)
    assert world["partner"].digicert_api_key.reveal() not in text


def test_subaccount_api_never_shows_the_key(api, world):
    client = _as(api, world["partner"], "owner")
    key = world["subaccount"].api_key.reveal()
    assert key not in client.get("/api/v1/subaccounts/").content.decode()
    assert key not in client.get(f"/api/v1/subaccounts/{world['subaccount'].pk}/").content.decode()


def test_subaccount_list_filters_by_state(api, world):
    rows = _as(api, world["partner"], "viewer").get("/api/v1/subaccounts/?state=failed").json()["results"]
    assert [r["id"] for r in rows] == [world["failed"].pk]


@pytest.mark.parametrize("url", LISTS)
def test_list_query_count_does_not_grow_with_rows(api, world, url):
    client = _as(api, world["partner"], "owner")
    client.get(url)  # warm up: the token's first use records last_used_at once
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(5):
        SubaccountFactory(customer=CustomerFactory(partner=world["partner"]), active=True)
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(many) == len(few)


def test_revoked_token_is_refused(api, world):
    from core.actor import Actor
    from core.models import ApiToken
    from core.tokens import revoke_api_token

    client = _as(api, world["partner"], "viewer")
    assert client.get("/api/v1/customers/").status_code == 200
    revoke_api_token(Actor.system(), ApiToken.objects.latest("created_at"))
    assert client.get("/api/v1/customers/").status_code == 401


def test_tokens_are_stored_hashed(api, world):
    from core.models import ApiToken

    client = _as(api, world["partner"], "viewer")
    key = client._credentials["HTTP_AUTHORIZATION"].split()[1]
    token = ApiToken.objects.latest("created_at")
    assert key.split("_", 2)[2] not in (token.digest, token.key_id)
    assert token.digest == ApiToken.hash_secret(key.split("_", 2)[2])


def test_openapi_schema_validates(client):
    from openapi_spec_validator import validate

    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    validate(response.json())


def test_swagger_ui_is_served_from_the_project_without_a_cdn(client):
    html = client.get("/api/docs/").content.decode()
    # Every script and stylesheet is the project's own (a path), never another host's; the page's
    # random CSP nonce may spell anything, so the addresses are what is checked.
    addresses = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert "swagger-ui" in html and any("swagger-ui" in a for a in addresses)
    assert all(a.startswith("/") and "cdn" not in a.lower() for a in addresses), addresses


def test_a_user_creates_a_token_sees_it_once_and_revokes_it(api, world):
    client = _as(api, world["partner"], "viewer")
    created = client.post("/api/v1/tokens/", {"name": "deploy script"}, format="json")
    assert created.status_code == 201
    key = created.json()["key"]
    listed = client.get("/api/v1/tokens/").json()["results"]
    assert all("key" not in row for row in listed) and key not in str(listed)
    script = api.__class__()
    script.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert script.get("/api/v1/customers/").status_code == 200
    assert client.delete(f"/api/v1/tokens/{created.json()['id']}/").status_code == 204
    assert script.get("/api/v1/customers/").status_code == 401


def test_tokens_of_another_user_are_not_found(api, world):
    from core.actor import Actor
    from core.tokens import issue_api_token

    other = MembershipFactory(partner=world["partner"], role="owner").user
    token, _ = issue_api_token(Actor.system(), other, "theirs")
    client = _as(api, world["partner"], "owner")
    assert client.delete(f"/api/v1/tokens/{token.pk}/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_tokens_endpoint_is_401_for_anonymous(api, db):
    assert api.get("/api/v1/tokens/").status_code == 401


def test_openapi_schema_generates_without_warnings():
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")
