"""The one tree of refusals. Each has a stable snake_case code, registered in core/error_codes.py
(an app's enum member, e.g. `code=BillingErrorCode.NO_PAYMENT_SOURCE`); every face renders it once."""

from __future__ import annotations

from core.error_codes import CoreErrorCode


class DomainError(Exception):
    """A refusal of the product, with a stable `code`, a human message and optional field errors."""

    code: str = CoreErrorCode.INVALID
    http_status = 400

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = str(code)  # an enum member stored as its plain value
        self.fields = {name: _as_list(errs) for name, errs in (fields or {}).items()}

    def as_dict(self) -> dict:
        return {"code": str(self.code), "message": self.message, "fields": self.fields}


class ValidationFailed(DomainError):
    """Input that can never be accepted as given (400)."""

    code = CoreErrorCode.INVALID
    http_status = 400


class RuleViolation(DomainError):
    """A business rule refuses the operation in the current state (409)."""

    code = CoreErrorCode.RULE_VIOLATION
    http_status = 409


class NotFound(DomainError):
    """Absent, or belongs to another partner: the two are indistinguishable on purpose (404)."""

    code = CoreErrorCode.NOT_FOUND
    http_status = 404


class PermissionDenied(DomainError):
    """The actor's role does not allow the operation (403)."""

    code = CoreErrorCode.PERMISSION_DENIED
    http_status = 403


def _as_list(errors) -> list[str]:
    return [str(e) for e in errors] if isinstance(errors, (list, tuple)) else [str(errors)]
