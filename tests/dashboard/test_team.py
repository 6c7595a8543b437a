"""The team: the owner invites members (e-mail with a set-password link), sets roles and customer
limits, resends invitations and removes members; the rules behind it, each by name."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from core.actor import Actor, Face
from core.errors import NotFound, PermissionDenied, RuleViolation, ValidationFailed
from core.models import ApiToken, AuditEvent
from core.tokens import issue_api_token
from partner import services
from partner.models import Membership
from tests.factories import CustomerFactory, MembershipFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


def _actor(user):
    return Actor(user, Face.DASHBOARD)


def _invite(client, capture, **data):
    data = {"email": "new@member.test", "first_name": "Nia", "last_name": "New", "role": "technician", **data}
    with capture(execute=True):
        return client.post(reverse("dashboard:member-invite"), data)


# --- Pages ------------------------------------------------------------------------------------


def test_the_team_page_lists_members_roles_limits_and_who_has_not_joined(owner_client, partner, customer):
    limited = MembershipFactory(partner=partner, role="technician")
    limited.customers.set([customer])

    page = owner_client.get(reverse("dashboard:team")).content.decode()

    assert limited.user.email in page and "Technician" in page and customer.name in page
    assert "All customers" in page and "Invited" in page and "(you)" in page


def test_inviting_a_member_mails_a_link_to_choose_a_password(
    owner_client, partner, customer, client, django_capture_on_commit_callbacks
):
    response = _invite(owner_client, django_capture_on_commit_callbacks, customers=[customer.pk])

    assert response["Location"] == reverse("dashboard:team")
    membership = Membership.objects.get(user__email="new@member.test")
    assert membership.partner == partner and membership.role == "technician"
    assert list(membership.customers.all()) == [customer]
    assert not membership.user.has_usable_password()
    message = mail.outbox[-1]
    assert message.to == ["new@member.test"] and partner.name in message.subject
    link = re.search(r"http://testserver(/accounts/reset/\S+)", message.body).group(1)

    form = client.get(link, follow=True)
    assert "Choose a password" in form.content.decode()
    client.post(
        form.redirect_chain[-1][0], {"new_password1": "Welcome-2-team!", "new_password2": "Welcome-2-team!"}
    )
    assert client.get(reverse("dashboard:home")).status_code == 200  # signed in straight away
    assert "Technician" in client.get(reverse("dashboard:team")).content.decode()


def test_inviting_an_address_that_has_an_account_is_refused_with_the_reason(owner_client, partner):
    existing = MembershipFactory(partner=partner).user

    response = owner_client.post(
        reverse("dashboard:member-invite"), {"email": existing.email.upper(), "role": "viewer"}
    )

    assert "already has an account" in response.content.decode()
    assert response.context["form"].errors["email"] == ["Already has an account."]
    assert Membership.objects.filter(partner=partner).count() == 2
    assert mail.outbox == []


def test_editing_a_member_changes_role_and_limits(owner_client, partner, customer):
    member = MembershipFactory(partner=partner, role="viewer")

    response = owner_client.post(
        reverse("dashboard:member-edit", args=[member.pk]), {"role": "technician", "customers": [customer.pk]}
    )

    assert response["Location"] == reverse("dashboard:team")
    member.refresh_from_db()
    assert member.role == "technician" and list(member.customers.all()) == [customer]
    event = AuditEvent.objects.get(action="member.updated")
    assert event.changes["role"] == ["viewer", "technician"] and event.face == "dashboard"


def test_the_page_does_not_offer_editing_or_removing_yourself(owner_client):
    own = owner_client.user.membership

    page = owner_client.get(reverse("dashboard:team")).content.decode()

    assert reverse("dashboard:member-edit", args=[own.pk]) not in page
    assert reverse("dashboard:member-remove", args=[own.pk]) not in page


def test_removing_a_member_signs_them_out_for_good(owner_client, partner):
    member = MembershipFactory(partner=partner, role="technician")
    issue_api_token(Actor.system(), member.user, "script")

    response = owner_client.post(reverse("dashboard:member-remove", args=[member.pk]), follow=True)

    assert "no longer work" in response.content.decode()
    user = User.objects.get(pk=member.user_id)
    assert not user.is_active and not Membership.objects.filter(pk=member.pk).exists()
    assert not ApiToken.objects.active().filter(user=user).exists()
    assert AuditEvent.objects.filter(action="member.removed", partner_id=partner.pk).exists()


def test_resending_an_invitation_mails_a_fresh_link(
    owner_client, partner, django_capture_on_commit_callbacks
):
    member = MembershipFactory(partner=partner, role="viewer")

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("dashboard:member-resend", args=[member.pk]))

    assert mail.outbox[-1].to == [member.user.email] and "/accounts/reset/" in mail.outbox[-1].body


def test_resending_to_a_member_who_joined_is_refused_with_the_reason(owner_client, partner):
    member = MembershipFactory(partner=partner, role="viewer")
    User.objects.filter(pk=member.user_id).update(last_login="2026-01-01T00:00:00Z")

    response = owner_client.post(reverse("dashboard:member-resend", args=[member.pk]), follow=True)

    assert "has already signed in" in response.content.decode()
    assert mail.outbox == []


# --- Service rules ----------------------------------------------------------------------------


def test_only_the_owner_may_invite(partner):
    admin = MembershipFactory(partner=partner, role="admin").user

    with pytest.raises(PermissionDenied):
        services.invite_member(_actor(admin), partner, email="x@y.test", role="viewer")
    assert not User.objects.filter(email="x@y.test").exists()


def test_an_owner_cannot_invite_into_another_partner(partner, other_partner):
    owner = MembershipFactory(partner=partner, role="owner").user

    with pytest.raises(NotFound):
        services.invite_member(_actor(owner), other_partner, email="x@y.test", role="viewer")


def test_customer_limits_must_be_the_partners_own_customers(partner, other_partner):
    owner = MembershipFactory(partner=partner, role="owner").user
    foreign = CustomerFactory(partner=other_partner)

    with pytest.raises(ValidationFailed) as refused:
        services.invite_member(_actor(owner), partner, email="x@y.test", role="viewer", customers=[foreign])
    assert "customers" in refused.value.fields
    assert not User.objects.filter(email="x@y.test").exists()


def test_an_invalid_email_or_role_is_refused(partner):
    owner = MembershipFactory(partner=partner, role="owner").user

    with pytest.raises(ValidationFailed):
        services.invite_member(_actor(owner), partner, email="not-an-address", role="viewer")
    with pytest.raises(ValidationFailed):
        services.invite_member(_actor(owner), partner, email="x@y.test", role="emperor")


def test_nobody_removes_themselves(partner):
    owner = MembershipFactory(partner=partner, role="owner")

    with pytest.raises(RuleViolation) as refused:
        services.remove_member(_actor(owner.user), owner)
    assert refused.value.code == "cannot_remove_self"


def test_the_last_owner_can_be_neither_demoted_nor_removed(partner):
    owner = MembershipFactory(partner=partner, role="owner")

    with pytest.raises(RuleViolation) as demoted:
        services.update_member(Actor.system(), owner, role="admin")
    with pytest.raises(RuleViolation) as removed:
        services.remove_member(Actor.system(), owner)

    assert demoted.value.code == removed.value.code == "last_owner"
    owner.refresh_from_db()
    assert owner.role == "owner"


def test_one_of_two_owners_may_remove_the_other(partner):
    first = MembershipFactory(partner=partner, role="owner")
    second = MembershipFactory(partner=partner, role="owner")

    services.remove_member(_actor(first.user), second)

    assert list(Membership.objects.filter(partner=partner)) == [first]


def test_the_invitation_email_is_not_sent_for_a_removed_member(partner, django_capture_on_commit_callbacks):
    owner = MembershipFactory(partner=partner, role="owner").user
    with django_capture_on_commit_callbacks(execute=False):
        membership = services.invite_member(_actor(owner), partner, email="late@member.test", role="viewer")
    services.remove_member(_actor(owner), membership)

    services.send_invitation(membership.pk)

    assert mail.outbox == []
