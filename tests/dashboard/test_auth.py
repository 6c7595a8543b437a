"""Signing in and out, password reset and change; staff and users without a partner."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pass-1234-word"


def test_sign_in_takes_a_member_to_the_home_page(client, partner):
    user = MembershipFactory(partner=partner).user

    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})

    assert response.status_code == 302 and response["Location"] == reverse("dashboard:home")
    assert "Needs attention" in client.get(reverse("dashboard:home")).content.decode()


def test_sign_in_returns_to_the_page_asked_for(client, customer):
    user = MembershipFactory(partner=customer.partner).user
    target = reverse("dashboard:customer", args=[customer.pk])

    response = client.post(
        reverse("login"), {"username": user.username, "password": PASSWORD, "next": target}
    )

    assert response["Location"] == target


def test_a_wrong_password_is_refused_with_a_message(client, partner):
    user = MembershipFactory(partner=partner).user

    response = client.post(reverse("login"), {"username": user.username, "password": "wrong"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_sign_out_ends_the_session(owner_client):
    response = owner_client.post(reverse("logout"))

    assert response["Location"] == reverse("login")
    assert owner_client.get(reverse("dashboard:home")).status_code == 302


def test_staff_without_a_membership_are_sent_to_the_admin(client, staff):
    client.force_login(staff)

    response = client.get(reverse("dashboard:customers"), follow=True)

    assert response.redirect_chain[0] == (reverse("admin:index"), 302)
    assert "Support staff work in the admin" in response.content.decode()


def test_a_user_without_a_partner_sees_a_clear_message(client):
    client.force_login(UserFactory())

    response = client.get(reverse("dashboard:home"))

    assert response.status_code == 403
    assert "This account belongs to no partner" in response.content.decode()


def test_the_admin_keeps_its_own_sign_in(client, staff):
    assert client.get(reverse("admin:login")).status_code == 200
    response = client.post(
        reverse("admin:login"), {"username": staff.username, "password": PASSWORD, "next": "/admin/"}
    )
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_password_reset_mails_a_link_that_sets_a_new_password(client, partner):
    user = MembershipFactory(partner=partner).user

    response = client.post(reverse("password_reset"), {"email": user.email})

    assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert "Choose a password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "a-new-Passw0rd!", "new_password2": "a-new-Passw0rd!"}
    )
    assert done["Location"] == reverse("password_reset_complete")
    user.refresh_from_db()
    assert user.check_password("a-new-Passw0rd!")


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, db):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.test"}, follow=True)

    assert "Check your e-mail" in response.content.decode()
    assert mail.outbox == []


def test_a_used_reset_link_no_longer_works(client, partner):
    user = MembershipFactory(partner=partner).user
    client.post(reverse("password_reset"), {"email": user.email})
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    client.post(
        form.redirect_chain[-1][0], {"new_password1": "a-new-Passw0rd!", "new_password2": "a-new-Passw0rd!"}
    )
    client.logout()

    again = client.get(link, follow=True)

    assert "This link no longer works" in again.content.decode()


def test_password_change_needs_the_old_password(owner_client):
    url = reverse("password_change")
    refused = owner_client.post(
        url, {"old_password": "wrong", "new_password1": "a-new-Passw0rd!", "new_password2": "a-new-Passw0rd!"}
    )
    assert "Your old password was entered incorrectly" in refused.content.decode()

    changed = owner_client.post(
        url,
        {"old_password": PASSWORD, "new_password1": "a-new-Passw0rd!", "new_password2": "a-new-Passw0rd!"},
    )

    assert changed["Location"] == reverse("password_change_done")
    assert get_user_model().objects.get(pk=owner_client.user.pk).check_password("a-new-Passw0rd!")


def test_an_anonymous_visitor_of_password_change_is_sent_to_sign_in(client):
    response = client.get(reverse("password_change"))

    assert response["Location"].startswith(reverse("login"))


def test_signing_out_of_the_admin_stays_in_the_admin(client, staff):
    client.force_login(staff)

    response = client.post(reverse("admin:logout"))

    assert response.status_code == 200 and "Logged out" in response.content.decode()
