"""Each member's API tokens (shown once, revocable) and the organization profile and keys."""

import pytest
from django.urls import reverse

from core.actor import Actor
from core.models import ApiToken, AuditEvent
from core.tokens import issue_api_token
from partner.models import Partner
from tests.factories import MembershipFactory, SubaccountFactory

pytestmark = pytest.mark.django_db


# --- API tokens -------------------------------------------------------------------------------


def test_a_new_token_is_shown_once_and_works_with_the_api(owner_client, client):
    response = owner_client.post(reverse("dashboard:tokens"), {"name": "billing sync", "expires_in": "30"})

    key = response.context["key"]
    assert response["Cache-Control"] == "no-store" and key in response.content.decode()
    token = ApiToken.objects.get(user=owner_client.user)
    assert token.name == "billing sync" and token.expires_at is not None
    listing = owner_client.get(reverse("dashboard:tokens")).content.decode()
    assert key not in listing and f"pbo_{token.key_id}_" in listing
    assert client.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 200


def test_a_token_needs_a_name(owner_client):
    response = owner_client.post(reverse("dashboard:tokens"), {"name": ""})

    assert response.context["form"].errors["name"]
    assert not ApiToken.objects.exists()


def test_revoking_a_token_stops_it_at_once(owner_client, client):
    token, key = issue_api_token(Actor.system(), owner_client.user, "old script")

    response = owner_client.post(reverse("dashboard:token-revoke", args=[token.pk]), follow=True)

    assert "revoked" in response.content.decode()
    assert client.get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Token {key}").status_code == 401
    assert AuditEvent.objects.filter(action="api_token.revoked", face="dashboard").exists()


def test_revoking_twice_is_refused_with_the_reason(owner_client):
    token, _ = issue_api_token(Actor.system(), owner_client.user, "old script")
    owner_client.post(reverse("dashboard:token-revoke", args=[token.pk]))

    response = owner_client.post(reverse("dashboard:token-revoke", args=[token.pk]), follow=True)

    assert "This token is already revoked." in response.content.decode()


def test_nobody_sees_or_revokes_a_colleagues_token(owner_client, partner):
    colleague = MembershipFactory(partner=partner, role="viewer").user
    token, _ = issue_api_token(Actor.system(), colleague, "theirs")

    assert "theirs" not in owner_client.get(reverse("dashboard:tokens")).content.decode()
    assert owner_client.post(reverse("dashboard:token-revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


# --- Organization -----------------------------------------------------------------------------


def test_the_organization_page_shows_the_checklist_and_whether_keys_are_stored(owner_client, partner):
    page = owner_client.get(reverse("dashboard:organization")).content.decode()

    assert "Onboarding checklist" in page and "Legal organization name" in page
    assert "Stored, encrypted" in page and partner.legal_name in page
    assert partner.digicert_api_key.reveal() not in page


def test_editing_the_organization_goes_through_the_service(owner_client, partner):
    form = owner_client.get(reverse("dashboard:organization-edit")).context["form"]
    data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
    data.update(city="Utrecht", auto_renew_default="true")

    response = owner_client.post(reverse("dashboard:organization-edit"), data)

    assert response["Location"] == reverse("dashboard:organization")
    partner.refresh_from_db()
    assert partner.city == "Utrecht" and partner.auto_renew_default is True
    assert AuditEvent.objects.filter(action="partner.updated", face="dashboard").exists()


def test_a_bad_naming_convention_is_refused_with_the_reason(owner_client, partner):
    form = owner_client.get(reverse("dashboard:organization-edit")).context["form"]
    data = {k: ("" if v is None else v) for k, v in form.initial.items() if k in form.fields}
    data["subaccount_naming_pattern"] = "{partner}-{planet}"

    response = owner_client.post(reverse("dashboard:organization-edit"), data)

    assert "The naming convention must contain {customer}" in response.content.decode()
    partner.refresh_from_db()
    assert partner.subaccount_naming_pattern == "{partner}-{customer}"


def test_the_naming_convention_is_locked_once_subaccounts_exist(owner_client, customer):
    SubaccountFactory(customer=customer, active=True)

    form = owner_client.get(reverse("dashboard:organization-edit")).context["form"]

    assert form.fields["subaccount_naming_pattern"].disabled and form.fields["billing_model"].disabled


def test_vendor_keys_are_stored_encrypted_and_never_shown(owner_client, partner):
    response = owner_client.post(
        reverse("dashboard:credentials-edit"), {"digicert_api_key": "dc-new-key-0987654321"}
    )

    assert response["Location"] == reverse("dashboard:organization")
    partner = Partner.objects.get(pk=partner.pk)
    assert partner.digicert_api_key.reveal() == "dc-new-key-0987654321"
    event = AuditEvent.objects.get(action="partner.credentials_set")
    assert "dc-new-key" not in str(event.changes)
    assert "dc-new-key" not in owner_client.get(reverse("dashboard:organization")).content.decode()


def test_storing_no_key_at_all_is_refused(owner_client):
    response = owner_client.post(reverse("dashboard:credentials-edit"), {})

    assert "Enter at least one key to replace." in response.content.decode()
