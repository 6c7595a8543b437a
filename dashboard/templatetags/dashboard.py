"""Template filters of the reseller dashboard."""

from decimal import Decimal, InvalidOperation

from django import template

from core import audit

register = template.Library()


@register.filter
def action_label(action: str) -> str:
    return audit.action_label(action)


@register.filter
def change_lines(changes: dict) -> list[str]:
    return audit.lines_of_changes(changes)


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def onoff(value) -> str:
    return {True: "on", False: "off"}.get(value, "—")


PER = {"weekly": "a week", "monthly": "a month", "quarterly": "a quarter", "yearly": "a year"}


@register.filter
def money(amount, currency: str = "") -> str:
    """1234.5, "USD" → "1,234.50 USD"."""
    if amount is None or amount == "":
        return "—"
    try:
        text = f"{Decimal(str(amount)):,.2f}"
    except InvalidOperation:
        return str(amount)
    return f"{text} {currency}".strip()


@register.filter
def price(value) -> str:
    """A price per period (an object or dict with amount, currency, frequency) as "20.00 USD a month"."""
    if not value:
        return "—"
    get = value.get if isinstance(value, dict) else lambda key: getattr(value, key, None)
    period = PER.get(get("frequency") or "", get("frequency") or "")
    return f"{money(get('amount'), get('currency') or '')} {period}".strip()


@register.filter
def words(value) -> str:
    """A code name as words: "page_rules" → "page rules"."""
    return str(value).replace("_", " ")


@register.filter
def period(frequency) -> str:
    """ "monthly" → "a month"."""
    return PER.get(frequency or "", frequency or "")
