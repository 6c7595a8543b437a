"""Template tags of the support staff's admin: the Sandbox section apart, and the one clock."""

from django import template
from django.apps import apps
from django.conf import settings
from django.utils import timezone

from core import audit, clock

register = template.Library()


def _in_sandbox(app: dict) -> bool:
    return getattr(apps.get_app_config(app["app_label"]), "admin_section", "") == "sandbox"


@register.filter
def business_apps(app_list: list[dict]) -> list[dict]:
    """The admin's apps without the sandbox's."""
    return [app for app in app_list if not _in_sandbox(app)]


@register.filter
def sandbox_apps(app_list: list[dict]) -> list[dict]:
    """The sandbox's apps, for a section of their own; none when the sandbox is off."""
    return [app for app in app_list if _in_sandbox(app)] if settings.SANDBOX_ENABLED else []


@register.inclusion_tag("admin/includes/business_clock.html")
def business_clock() -> dict:
    """The one clock the product goes by, saying how far ahead of real time it is when moved."""
    real = timezone.now()  # read first: the business clock's reading is never behind it
    now = clock.now()
    ahead = int((now - real).total_seconds())
    if ahead < 60:
        return {"now": now, "ahead": ""}
    days, rest = divmod(ahead, 86400)
    return {"now": now, "ahead": f"{days}d {rest // 3600}h {rest % 3600 // 60}m"}


@register.filter
def audit_lines(event) -> list[str]:
    """An audit event's changes for support staff, one "field: before → after" line per field."""
    return audit.change_lines(event)
