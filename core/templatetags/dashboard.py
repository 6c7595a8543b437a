"""Template filters of the reseller dashboard."""

from django import template

from core import dashboard

register = template.Library()


@register.filter
def action_label(action: str) -> str:
    return dashboard.action_label(action)


@register.filter
def change_lines(changes: dict) -> list[str]:
    return dashboard.change_lines(changes)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def onoff(value) -> str:
    return {True: "on", False: "off"}.get(value, "—")
