"""Issue 11, defect 8 and the token part of 13: sign-in lockout per user and address (django-axes)
on the dashboard and the admin, staff unlock, limited password-reset e-mails, API tokens revoked by
a password change or reset."""

import re
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.contrib.auth import authenticate
from django.core import mail
from django.http import HttpRequest
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from core.models import ApiToken, AuditEvent
from tests.factories import MembershipFactory, StaffFactory

pytestmark = pytest.mark.django_db
PASSWORD = "pass-1234-word"
WRONG = "not-the-password"


def _sign_in(client, url, username, password, address="10.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def _fail(client, url, username, times=30, address="10.0.0.1"):
    for _ in range(times):
        _sign_in(client, url, username, WRONG, address)


@pytest.fixture
def member(partner):
    return MembershipFactory(partner=partner).user


# --- Lockout ---------------------------------------------------------------------------------------


def test_defect_8_thirty_wrong_passwords_then_the_right_one_is_refused_on_the_dashboard(client, member):
    _fail(client, reverse("login"), member.username)

    response = _sign_in(client, reverse("login"), member.username, PASSWORD)

    assert response.status_code == 429
    page = response.content.decode()
    assert 'class="form-errors"' in page and "Too many failed sign-ins" in page
    assert "reset your password" in page and "Sign in" in page  # the sign-in page, not a stack trace
    assert int(response["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("dashboard:home"))["Location"].startswith(reverse("login"))


def test_defect_8_thirty_wrong_passwords_then_the_right_one_is_refused_on_the_admin(client):
    staff = StaffFactory()
    _fail(client, reverse("admin:login"), staff.username)

    response = _sign_in(client, reverse("admin:login"), staff.username, PASSWORD)

    assert response.status_code == 429
    page = response.content.decode()
    assert 'class="errornote"' in page and "Too many failed sign-ins" in page
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_defect_8_the_lock_starts_at_the_failure_limit(client, member):
    _fail(client, reverse("login"), member.username, times=settings.AXES_FAILURE_LIMIT - 1)
    assert _sign_in(client, reverse("login"), member.username, PASSWORD).status_code == 302

    client.logout()
    _fail(client, reverse("login"), member.username, times=settings.AXES_FAILURE_LIMIT)
    assert _sign_in(client, reverse("login"), member.username, PASSWORD).status_code == 429
    assert AccessFailureLog.objects.filter(username=member.username).count() > settings.AXES_FAILURE_LIMIT


def test_defect_8_the_lock_is_per_user_and_address(client, partner, member):
    other = MembershipFactory(partner=partner).user
    _fail(client, reverse("login"), member.username, address="10.0.0.1")
    assert _sign_in(client, reverse("login"), member.username, PASSWORD, "10.0.0.1").status_code == 429

    # The same user from another address, and another user from the same address, still sign in.
    assert _sign_in(Client(), reverse("login"), member.username, PASSWORD, "10.0.0.2").status_code == 302
    assert _sign_in(Client(), reverse("login"), other.username, PASSWORD, "10.0.0.1").status_code == 302
    assert list(AccessAttempt.objects.values_list("username", "ip_address")) == [
        (member.username, "10.0.0.1")
    ]


def test_defect_8_the_lock_lifts_after_the_cool_off(client, member):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        _fail(client, reverse("login"), member.username)
        assert _sign_in(client, reverse("login"), member.username, PASSWORD).status_code == 429

        traveller.shift(timedelta(minutes=16))

        assert _sign_in(client, reverse("login"), member.username, PASSWORD).status_code == 302


def test_defect_8_staff_unlock_from_the_admin_then_the_right_password_works(client, superuser, member):
    _fail(client, reverse("login"), member.username)
    assert _sign_in(client, reverse("login"), member.username, PASSWORD).status_code == 429
    staff = Client()
    staff.force_login(superuser)
    index = staff.get(reverse("admin:index")).content.decode()
    assert "Sign-in protection" in index and "Access attempts" in index
    listing = staff.get(reverse("admin:axes_accessattempt_changelist"))
    assert member.username in listing.content.decode() and "Locked Out" in listing.content.decode()

    unlocked = staff.post(
        reverse("admin:axes_accessattempt_changelist"),
        {"action": "unlock", "_selected_action": list(AccessAttempt.objects.values_list("pk", flat=True))},
        follow=True,
    )

    assert any("Unlocked 1 sign-in" in str(m) for m in unlocked.context["messages"])
    assert not AccessAttempt.objects.exists()
    assert _sign_in(client, reverse("login"), member.username, PASSWORD).status_code == 302


def test_defect_8_staff_without_the_delete_permission_are_not_offered_unlock(client):
    viewer = StaffFactory(permissions=[])
    viewer.user_permissions.add(*_axes_permissions("view_accessattempt"))
    client.force_login(viewer)

    page = client.get(reverse("admin:axes_accessattempt_changelist")).content.decode()

    assert 'value="unlock"' not in page


def _axes_permissions(*codenames):
    from django.contrib.auth.models import Permission

    return Permission.objects.filter(content_type__app_label="axes", codename__in=codenames)


def test_defect_8_the_test_client_still_signs_in(client, member):
    assert client.login(request=HttpRequest(), username=member.username, password=PASSWORD)
    assert client.get(reverse("dashboard:home")).status_code == 200
    other = Client()
    other.force_login(member)
    assert other.get(reverse("dashboard:home")).status_code == 200


def test_defect_8_authenticate_without_a_request_is_refused_loudly(member):
    # Every password sign-in must pass the request, or the lockout could be skipped unnoticed.
    with pytest.raises(ValueError):
        authenticate(username=member.username, password=PASSWORD)


# --- Password reset --------------------------------------------------------------------------------


def _reset(client, email, address="10.0.0.1"):
    return client.post(reverse("password_reset"), {"email": email}, REMOTE_ADDR=address)


def test_defect_8_reset_emails_are_limited_per_user_and_the_answer_is_the_same(client, member):
    answers = [_reset(client, member.email, address=f"10.0.1.{i}") for i in range(10)]

    assert len(mail.outbox) == settings.PASSWORD_RESET_LIMIT_PER_USER == 3
    assert {(a.status_code, a["Location"]) for a in answers} == {(302, reverse("password_reset_done"))}
    done = client.get(reverse("password_reset_done")).content.decode()
    assert "If an account uses that address" in done


def test_defect_8_reset_emails_are_limited_per_address(client, partner):
    users = [MembershipFactory(partner=partner).user for _ in range(12)]

    answers = [_reset(client, user.email) for user in users]

    assert len(mail.outbox) == settings.PASSWORD_RESET_LIMIT_PER_ADDRESS == 10
    assert {(a.status_code, a["Location"]) for a in answers} == {(302, reverse("password_reset_done"))}
    # Another address is not affected.
    assert _reset(client, users[-1].email, address="10.0.0.9").status_code == 302
    assert len(mail.outbox) == 11


def test_defect_8_a_limited_reset_looks_like_one_for_an_unknown_address(client, member):
    for _ in range(3):
        _reset(client, member.email)
    limited = _reset(client, member.email)
    unknown = _reset(client, "nobody@example.test")

    assert len(mail.outbox) == 3
    assert (limited.status_code, limited["Location"]) == (unknown.status_code, unknown["Location"])


@override_settings(PASSWORD_RESET_LIMIT_WINDOW_SECONDS=60)
def test_defect_8_the_reset_limit_has_a_window(client, member):
    from django.core.cache import cache

    for _ in range(4):
        _reset(client, member.email)
    assert len(mail.outbox) == 3
    cache.clear()  # the window's counters expired

    _reset(client, member.email)

    assert len(mail.outbox) == 4


def _reset_password(client, user, new_password="a-new-Passw0rd!"):
    client.post(reverse("password_reset"), {"email": user.email})
    link = re.search(r"http://testserver(/accounts/reset/\S+)", mail.outbox[-1].body).group(1)
    form = client.get(link, follow=True)
    return client.post(
        form.redirect_chain[-1][0], {"new_password1": new_password, "new_password2": new_password}
    )


def test_defect_8_a_password_reset_signs_in_and_clears_the_lock(client, member):
    _fail(client, reverse("login"), member.username, address="127.0.0.1")

    done = _reset_password(client, member)

    assert done["Location"] == reverse("password_reset_complete")
    assert client.get(reverse("dashboard:home")).status_code == 200
    assert not AccessAttempt.objects.filter(username=member.username).exists()


# --- API tokens and passwords (defect 13) ----------------------------------------------------------


def test_defect_13_an_api_token_stops_working_after_a_password_reset(client, api, member):
    token_client = api.as_user(member)
    assert token_client.get("/api/v1/customers/").status_code == 200

    _reset_password(client, member)

    assert token_client.get("/api/v1/customers/").status_code == 401
    token = ApiToken.objects.get(user=member)
    assert token.revoked_at is not None
    event = AuditEvent.objects.get(action="api_token.revoked", object_id=str(token.pk))
    assert "password was changed" in event.note and event.partner_id == member.membership.partner_id


def test_defect_13_an_api_token_stops_working_after_a_password_change(client, api, member):
    token_client = api.as_user(member)
    client.force_login(member)

    client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": "a-new-Passw0rd!", "new_password2": "a-new-Passw0rd!"},
    )

    assert token_client.get("/api/v1/customers/").status_code == 401


def test_defect_13_a_refused_password_change_keeps_the_tokens(client, api, member):
    token_client = api.as_user(member)
    client.force_login(member)

    client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": "a-new-Passw0rd!", "new_password2": "a-new-Passw0rd!"},
    )

    assert token_client.get("/api/v1/customers/").status_code == 200
    assert not AuditEvent.objects.filter(action="api_token.revoked").exists()
