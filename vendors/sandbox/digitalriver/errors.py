"""Digital River's error envelope: `{"type", "errors": [{"code", "parameter", "message"}]}`."""

from __future__ import annotations

from django.http import JsonResponse

# The envelope's `type` for each HTTP status ([DR-OAS] Errors.type).
TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    429: "too_many_requests",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


class DRError(Exception):
    """A refusal in Digital River's words; nothing the refused request wrote is kept."""

    def __init__(self, status: int, code: str, message: str, parameter: str | None = None):
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.parameter = parameter

    @property
    def type(self) -> str:
        return TYPES.get(self.status, "bad_request" if self.status < 500 else "internal_server_error")

    def body(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.parameter:
            error = {"code": self.code, "parameter": self.parameter, "message": self.message}
        return {"type": self.type, "errors": [error]}

    def response(self) -> JsonResponse:
        return JsonResponse(self.body(), status=self.status)

    def __str__(self) -> str:
        where = f" ({self.parameter})" if self.parameter else ""
        return f"{self.code}{where}: {self.message}"


class PaymentDeclined(DRError):
    """The payment failed: unlike other refusals, what it changed (failure state, events) is kept."""


def missing(parameter: str, message: str | None = None) -> DRError:
    return DRError(400, "missing_parameter", message or f"{parameter} is required.", parameter)


def invalid(parameter: str, message: str) -> DRError:
    return DRError(400, "invalid_parameter", message, parameter)


def required_string(body: dict, name: str, message: str | None = None) -> str:
    """`body[name]`, refused as missing when absent or empty and as invalid when not a string."""
    value = body.get(name)
    if not value:
        raise missing(name)
    if not isinstance(value, str):
        raise invalid(name, message or f"{name} must be a string.")
    return value


def refuse_unknown(given: dict, allowed, of: str) -> None:
    """Refuse the first (by name) of `given`'s parameters that `allowed` does not hold."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise DRError(400, "unknown_parameter", f"{unknown[0]} is not a parameter of {of}.", unknown[0])


def not_found(what: str, identifier: str, parameter: str = "id") -> DRError:
    return DRError(404, "not_found", f"{what} {identifier} not found.", parameter)


def conflict(code: str, message: str, parameter: str | None = None) -> DRError:
    return DRError(409, code, message, parameter)
