"""The one registry of error codes: every `code` the product answers with, each with its meaning.

Each app declares its codes as a `TextChoices` enum in its own `error_codes.py` (Saleor's
`error_codes.py`), next to the code that raises them, and registers it here with `@register`;
`all_codes()` imports every app's module (CoreConfig.ready does too) and collects them. The value
is the stable code scripts branch on (never change one); the label is its description, listed in
the OpenAPI `Error` schema. A code two apps raise with one meaning is declared once, here.
"""

from __future__ import annotations

from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.module_loading import autodiscover_modules

_ENUMS: list[type[models.TextChoices]] = []


def register(enum: type[models.TextChoices]) -> type[models.TextChoices]:
    """Class decorator: add an app's error-code enum to the registry."""
    if enum not in _ENUMS:
        _ENUMS.append(enum)
    return enum


def registered_enums() -> list[type[models.TextChoices]]:
    """Every registered enum in INSTALLED_APPS order, after importing each app's error_codes."""
    autodiscover_modules("error_codes")
    order = {config.name: index for index, config in enumerate(apps.get_app_configs())}
    return sorted(_ENUMS, key=lambda enum: order.get(enum.__module__.rpartition(".")[0], len(order)))


def conflicts() -> list[str]:
    """Codes that two enums declare with different descriptions (there must be none)."""
    seen: dict[str, tuple[type, str]] = {}
    found = []
    for enum in registered_enums():
        for member in enum:
            other = seen.setdefault(member.value, (enum, member.label))
            if other[1] != member.label:
                found.append(f"{member.value}: {other[0].__name__} and {enum.__name__} differ")
    return found


def all_codes() -> dict[str, str]:
    """Every registered code to its description, in registration order."""
    if problems := conflicts():
        raise ImproperlyConfigured("Error codes declared twice: " + "; ".join(problems))
    return {member.value: member.label for enum in registered_enums() for member in enum}


@register
class CoreErrorCode(models.TextChoices):
    """The error tree's own codes, the API's, and those several apps raise with one meaning."""

    # The DomainError classes (core/errors.py).
    INVALID = "invalid", "The request is invalid as given; `fields` names each invalid field."
    RULE_VIOLATION = "rule_violation", "A business rule refuses the operation in the current state."
    NOT_FOUND = "not_found", "No such object among yours (absent or another partner's), or no such URL."
    PERMISSION_DENIED = "permission_denied", "The role (or staff permission) does not allow this operation."
    # DRF's exceptions and the API's own answers (core/api/).
    NOT_AUTHENTICATED = "not_authenticated", "No credentials were given."
    AUTHENTICATION_FAILED = "authentication_failed", "A malformed, unknown, expired or revoked token."
    METHOD_NOT_ALLOWED = "method_not_allowed", "The endpoint does not take this HTTP method."
    NOT_ACCEPTABLE = "not_acceptable", "The Accept header asks for a format the API does not answer in."
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", "The body's Content-Type is not accepted."
    THROTTLED = "throttled", "Too many requests; wait `retry_after` seconds."
    PARSE_ERROR = "parse_error", "The body is not valid JSON."
    BODY_TOO_DEEP = "body_too_deep", "The JSON body nests deeper than the API accepts."
    BODY_TOO_LARGE = "body_too_large", "The JSON body holds more values than the API accepts."
    STAFF_API_PERMISSION_REQUIRED = (
        "staff_api_permission_required",
        "A staff token lacks the admin view permission of the model the endpoint serves.",
    )
    SERVER_ERROR = "server_error", "An unexpected error (5xx); it has been logged."
    ERROR = "error", "An error of the framework with no code of its own."
    # Tokens, operations and validation (core/).
    ALREADY_REVOKED = "already_revoked", "The API token is already revoked."
    OPERATION_IN_PROGRESS = "operation_in_progress", "Another vendor operation is in progress on this object."
    RETRY_THE_FAILED_STEP = (
        "retry_the_failed_step",
        "A change is retried through its failed step, not as a whole.",
    )
    NOT_RETRYABLE = "not_retryable", "Nothing to retry: no failed operation (or the object is not failed)."
    CHANGE_UNDONE = "change_undone", "The step's change was undone after it failed; start the change again."
    NOT_UNKNOWN = "not_unknown", "Only an operation whose outcome is unknown can be resolved."
    NOT_AWAITING_DECISION = (
        "not_awaiting_decision",
        "Only an operation (or subaccount) whose outcome is unknown waits for a staff decision.",
    )
    INVALID_COUNTRY = "invalid_country", "Not an ISO 3166-1 alpha-2 country code."
    # Raised by several apps with the same meaning.
    CANCEL_WINDOW_CLOSED = (
        "cancel_window_closed",
        "The 30 days in which cancelling refunds in full have passed.",
    )
    NOTHING_TO_CHANGE = "nothing_to_change", "The requested change is what is already in place."
    REASON_REQUIRED = "reason_required", "The operation is recorded with a reason: give one."
    ILLEGAL_TRANSITION = (
        "illegal_transition",
        "The object's state cannot move to the requested one (its model's transition table forbids it).",
    )
