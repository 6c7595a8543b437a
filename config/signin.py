"""Sign-in protection with django-axes: its app under a readable admin heading, and the page a
locked-out sign-in gets (the sign-in form it came from, with the reason as the form's error).

Settings: AXES_* in config/settings/base.py. Staff unlock in the admin (config/admin.py).
"""

from __future__ import annotations

import math

from axes.apps import AppConfig as AxesAppConfig


class SignInProtectionConfig(AxesAppConfig):
    """django-axes itself (label "axes"), listed in the admin as "Sign-in protection"."""

    verbose_name = "Sign-in protection"


def _wait_text(cool_off) -> str:
    if not cool_off:
        return "until support unlocks it"
    minutes = max(1, math.ceil(cool_off.total_seconds() / 60))
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"for {hours} hour{'s' if hours != 1 else ''}"
    return f"for {minutes} minute{'s' if minutes != 1 else ''}"


def locked_out(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: the admin's or the dashboard's sign-in page, HTTP 429, saying why.

    The form is unbound (binding it would authenticate again and count one more failure); it keeps
    the user name typed.
    """
    from axes.helpers import get_client_username, get_cool_off
    from django.conf import settings
    from django.contrib import admin
    from django.contrib.auth import REDIRECT_FIELD_NAME
    from django.contrib.auth.forms import AuthenticationForm
    from django.forms.utils import ErrorDict
    from django.shortcuts import render

    cool_off = get_cool_off(request)
    username = get_client_username(request, credentials) or ""
    is_admin = request.path.startswith("/admin/")
    who = "Support staff can unlock it" if not is_admin else "Another staff member can unlock it"
    message = (
        f"Too many failed sign-ins for this account from your address: it is locked "
        f"{_wait_text(cool_off)}. {who}"
        + ("." if is_admin else ", or reset your password to get back in now.")
    )
    form = AuthenticationForm(request, initial={"username": username})
    form._errors = ErrorDict({"__all__": form.error_class([message], error_class="nonfield")})
    next_url = request.POST.get(REDIRECT_FIELD_NAME, "")
    if is_admin:
        context = {
            **admin.site.each_context(request),
            "title": "Log in",
            "subtitle": None,
            "app_path": request.get_full_path(),
            "form": form,
            REDIRECT_FIELD_NAME: next_url,
            "username": "",
        }
        template = "admin/login.html"
    else:
        context = {"form": form, "next": next_url, "locked_out": True}
        template = "registration/login.html"
    response = render(request, template, context, status=settings.AXES_HTTP_RESPONSE_CODE)
    if cool_off:
        response["Retry-After"] = str(math.ceil(cool_off.total_seconds()))
    return response
