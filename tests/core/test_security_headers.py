"""Issue 11, defect 13 (parts): a Content-Security-Policy on every page, `no-store` on every
response that shows a secret, a 404 for the admin reveal page of a missing contract, and unknown
/api/ URLs answering the API's JSON 404 whatever the method (CSRF elsewhere untouched)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.factories import MembershipFactory
from tests.subscriptions.conftest import digicert_subaccount, order  # noqa: F401  (shared fixtures)

pytestmark = pytest.mark.django_db
CSP = "Content-Security-Policy"


def _directives(response) -> dict[str, list[str]]:
    policy = response[CSP]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def owner_client(partner):
    client = Client()
    client.force_login(MembershipFactory(partner=partner, role="owner").user)
    return client


@pytest.fixture
def contract(order):  # noqa: F811
    return order()


# --- Content-Security-Policy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "page", ["sign-in", "password reset", "dashboard", "admin", "admin login", "api docs"]
)
def test_defect_13_every_page_has_a_content_security_policy(client, owner_client, staff_client, page):
    response = {
        "sign-in": lambda: Client().get(reverse("login")),
        "password reset": lambda: Client().get(reverse("password_reset")),
        "dashboard": lambda: owner_client.get(reverse("dashboard:home")),
        "admin": lambda: staff_client.get(reverse("admin:index")),
        "admin login": lambda: Client().get(reverse("admin:login")),
        "api docs": lambda: staff_client.get(reverse("api-docs")),
    }[page]()

    assert response.status_code == 200
    directives = _directives(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"][0] == "'self'" and "'unsafe-inline'" not in directives["script-src"]
    assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]


def test_defect_13_an_inline_style_block_carries_the_pages_nonce(owner_client):
    response = owner_client.get(reverse("dashboard:reconciliation"))

    nonce = re.search(r'<style nonce="([^"]+)"', response.content.decode()).group(1)
    assert f"'nonce-{nonce}'" in _directives(response)["style-src"]


def test_defect_13_the_swagger_page_has_no_inline_script(staff_client):
    page = staff_client.get(reverse("api-docs")).content.decode()

    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", page) is None


TEMPLATE_DIRS = [Path(settings.BASE_DIR) / "templates", Path(settings.BASE_DIR) / "vendors"]


def _templates():
    for root in TEMPLATE_DIRS:
        yield from root.rglob("*.html")


def test_defect_13_no_template_has_an_inline_script_or_event_handler():
    offenders = []
    for path in _templates():
        text = path.read_text()
        for match in re.finditer(r"<(script|style)\b[^>]*>", text):
            tag = match.group(0)
            if "src=" not in tag and "csp_nonce" not in tag and 'type="application/json"' not in tag:
                offenders.append(f"{path}: {tag}")
        offenders += [f"{path}: {m.group(0)}" for m in re.finditer(r"\son[a-z]+=\"", text)]
        offenders += [f"{path}: javascript:" for _ in re.finditer(r"javascript:", text)]
    assert offenders == []


# --- no-store on secrets ---------------------------------------------------------------------------


def _no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_defect_13_api_token_creation_is_no_store(api, partner):
    client = api.as_user(MembershipFactory(partner=partner).user)

    created = client.post("/api/v1/tokens/", {"name": "deploy"}, format="json")

    assert created.status_code == 201 and created.json()["key"]
    assert _no_store(created)


def test_defect_13_api_credential_reveal_is_no_store(api, contract):
    client = api.as_user(MembershipFactory(partner=contract.partner, role="owner").user)

    revealed = client.post(f"/api/v1/acme-contracts/{contract.pk}/credentials/reveal/")

    assert revealed.status_code == 200 and revealed.json()["hmac_key"]
    assert _no_store(revealed)


def test_defect_13_dashboard_reveals_are_no_store(contract):
    client = Client()
    client.force_login(MembershipFactory(partner=contract.partner, role="owner").user)

    token = client.post(reverse("dashboard:tokens"), {"name": "script", "expires_in": "30"})
    credentials = client.post(reverse("dashboard:acme-reveal", args=[contract.pk]))

    assert token.status_code == credentials.status_code == 200
    assert _no_store(token) and _no_store(credentials)


def test_defect_13_admin_reveal_is_no_store(staff_client, contract):
    url = reverse("admin:subscriptions_acmecontract_reveal", args=[contract.pk])

    shown = staff_client.post(url)

    assert contract.eab_hmac_key.reveal() in shown.content.decode()
    assert _no_store(shown)


@pytest.mark.parametrize("method", ["get", "post"])
def test_defect_13_admin_reveal_of_a_missing_contract_is_404(staff_client, method):
    url = reverse("admin:subscriptions_acmecontract_reveal", args=[987654])

    response = getattr(staff_client, method)(url)

    assert response.status_code == 404


# --- Unknown API URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "options"])
def test_defect_13_an_unknown_api_url_is_a_json_404_for_every_method(owner_client, method):
    owner_client.handler.enforce_csrf_checks = True  # a signed-in browser session, no CSRF token

    payload = {} if method == "get" else {"data": "{}", "content_type": "application/json"}
    response = getattr(owner_client, method)("/api/v1/no-such-thing/", **payload)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "not_found" and "/api/v1/no-such-thing/" in body["message"]
    assert body["fields"] == {}


def test_defect_13_an_unknown_api_url_outside_v1_is_a_json_404(client):
    response = Client(enforce_csrf_checks=True).post("/api/v2/customers/")

    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_defect_13_csrf_still_guards_the_pages(partner):
    user = MembershipFactory(partner=partner).user
    browser = Client(enforce_csrf_checks=True)

    refused = browser.post(reverse("login"), {"username": user.username, "password": "pass-1234-word"})

    assert refused.status_code == 403
