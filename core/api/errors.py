"""The API face of the error tree: every error is JSON with `code`, `message` and `fields`."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.error_codes import CoreErrorCode
from core.errors import DomainError

logger = logging.getLogger(__name__)

_DRF_CODES = {
    drf_exceptions.NotAuthenticated: CoreErrorCode.NOT_AUTHENTICATED,
    drf_exceptions.AuthenticationFailed: CoreErrorCode.AUTHENTICATION_FAILED,
    drf_exceptions.PermissionDenied: CoreErrorCode.PERMISSION_DENIED,
    drf_exceptions.NotFound: CoreErrorCode.NOT_FOUND,
    drf_exceptions.MethodNotAllowed: CoreErrorCode.METHOD_NOT_ALLOWED,
    drf_exceptions.NotAcceptable: CoreErrorCode.NOT_ACCEPTABLE,
    drf_exceptions.UnsupportedMediaType: CoreErrorCode.UNSUPPORTED_MEDIA_TYPE,
    drf_exceptions.Throttled: CoreErrorCode.THROTTLED,
    drf_exceptions.ParseError: CoreErrorCode.PARSE_ERROR,
    drf_exceptions.ValidationError: CoreErrorCode.INVALID,
}


def _flatten(detail) -> list[str]:
    if isinstance(detail, dict):
        return [f"{k}: {m}" for k, v in detail.items() for m in _flatten(v)]
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item)]
    return [str(detail)]


def _field_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested ValidationError detail as {"field" or "parent.child": [messages]}."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for name, value in detail.items():
            key = f"{prefix}.{name}" if prefix else str(name)
            if prefix and name == "non_field_errors":
                key = prefix  # a nested serializer's own error (e.g. a list too long) is its field's
            if isinstance(value, dict):
                fields.update(_field_errors(value, key))
            else:
                fields[key] = _flatten(value)
    elif isinstance(detail, list):
        fields[prefix or "non_field_errors"] = _flatten(detail)
    return fields


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    return {"code": str(code), "message": message, "fields": fields or {}}


def exception_handler(exc, context):
    """DRF hook: DomainError and DRF's own exceptions rendered in the one error shape."""
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's handler500 answers (JSON under /api/)
    code = getattr(exc, "error_code", None) or next(
        (c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), CoreErrorCode.ERROR
    )
    if isinstance(exc, drf_exceptions.ValidationError):
        fields = _field_errors(exc.detail)
        body = error_body(code, "The request has invalid fields.", fields)
    else:
        body = error_body(code, " ".join(_flatten(exc.detail)))
    if isinstance(exc, drf_exceptions.Throttled) and exc.wait:
        body["retry_after"] = int(exc.wait)
    response.data = body
    return response


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Unknown /api/ URLs answer in the API's error shape, not with an HTML page, for every method.

    CSRF-exempt because it changes nothing: a POST here would otherwise get Django's HTML CSRF 403.
    """
    return JsonResponse(
        error_body(CoreErrorCode.NOT_FOUND, f"No API endpoint at {request.path}."), status=404
    )


def server_error(request, *args, **kwargs):
    """A crash answers JSON under /api/ and the usual page elsewhere; details go to the log only."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body(CoreErrorCode.SERVER_ERROR, "An unexpected error occurred; it has been logged."),
            status=500,
        )
    return defaults.server_error(request, *args, **kwargs)
