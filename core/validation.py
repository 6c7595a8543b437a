"""Model validation turned into the error tree, so every face shows field errors the same way."""

from django.core.exceptions import ValidationError
from django.db import models

from core.error_codes import CoreErrorCode
from core.errors import ValidationFailed


def full_clean_or_refuse(obj: models.Model, *, exclude: list[str] | None = None) -> None:
    """Run the model's own validation; refuse with field errors instead of half-writing."""
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as exc:
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        raise ValidationFailed("Some fields are invalid.", fields=fields) from exc


def check_country(code, *, field: str = "country") -> str:
    """An ISO 3166-1 alpha-2 country code (upper-cased), or a field error: `5`, `ZZ` are refused."""
    from django_countries.data import COUNTRIES

    value = str(code or "").strip().upper()
    if value not in COUNTRIES:
        raise ValidationFailed(
            f"{code!r} is not an ISO 3166-1 alpha-2 country code.",
            code=CoreErrorCode.INVALID_COUNTRY,
            fields={field: "An ISO 3166-1 alpha-2 code, e.g. US or DE."},
        )
    return value


def validate_country_code(value: str) -> None:
    """Model validator: a blank country, or an ISO 3166-1 alpha-2 code."""
    from django_countries.data import COUNTRIES

    if value and value.upper() not in COUNTRIES:
        raise ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code (e.g. US, DE).")
