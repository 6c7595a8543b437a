"""OpenAPI: every operation documents the 4xx answers the API gives, in its one error shape.

A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]): each operation
gets 400, 401, 403, 404 and 429, a write (POST, PUT, PATCH, DELETE) also 409, and one that takes a
body 415, each answering the `Error` component ({"code", "message", "fields"}, core/api/errors.py).
A response an operation documents itself (e.g. billing's 409 with its codes) is kept as it is.

The `Error` component's `code` is an enum of every registered code (core/error_codes.py, each app's
error_codes.py), with each code's description (`x-enum-descriptions` and a table in the
description). The codes listed per status are the ones the error tree defines: DRF's exceptions as
core/api/errors.py names them, the DomainError classes of core/errors.py by their http_status and
the JSON parser's refusals. A service raises most refusals with its own `code=`; those cannot be
listed from the classes, so the common ones are named as examples.

It also holds the field extensions that document "" where a URL or e-mail field may hold it,
registered by CoreConfig.ready before any schema is generated.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from core.api.base import STAFF_API_PERMISSION_REQUIRED
from core.api.errors import _DRF_CODES
from core.api.parsers import BodyRefused
from core.error_codes import all_codes
from core.errors import DomainError

ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error of the API: a stable machine `code`, a human `message` and field errors.",
    "properties": {
        "code": {
            "type": "string",
            "description": "A stable snake_case code for programs to branch on; the message may change.",
        },
        "message": {"type": "string", "description": "What went wrong, in words to show a person."},
        "fields": {
            "type": "object",
            "description": "Field errors: the field (`parent.child` when nested, `non_field_errors` for "
            "the body as a whole) to its messages. Empty when the error is not about fields.",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
        "retry_after": {
            "type": "integer",
            "description": "Only with 429: seconds to wait before trying again (also the Retry-After header).",
        },
    },
    "required": ["code", "message", "fields"],
}

RETRY_AFTER = {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}

WRITE_METHODS = {"post", "put", "patch", "delete"}

# Status -> (what it means, codes services raise with their own `code=`, as examples). The examples
# are apps' codes, named as strings so core imports no app; each is registered (a test checks).
ERRORS: dict[int, tuple[str, list[str]]] = {
    400: (
        "The request is refused as given; nothing changed. `fields` names each invalid field "
        "(query parameter or body field) with its messages.",
        ["unknown_product", "invalid_frequency", "naming_convention_violated", "reason_required"],
    ),
    401: ("No token, or a malformed, unknown, expired or revoked one (`Authorization: Token <key>`).", []),
    403: (
        "Authenticated, but the role (or staff permission) does not allow this operation.",
        [STAFF_API_PERMISSION_REQUIRED],
    ),
    404: (
        "No such object among yours (absent and another partner's are the same answer, on purpose), "
        "or no such page of a list.",
        [],
    ),
    409: (
        "A business rule refuses the operation in the object's current state; nothing changed. The "
        "message says what applies instead.",
        [
            "not_retryable",
            "subaccount_not_active",
            "operation_in_progress",
            "not_available_today",
            "cancel_window_closed",
            "subaccount_exists",
            "already_revoked",
        ],
    ),
    415: ("The body's Content-Type is not one the operation accepts (JSON, form or multipart).", []),
    429: ("Too many requests for this token or address; wait `retry_after` seconds.", []),
}


def error_schema() -> dict:
    """The `Error` component, its `code` an enum of every registered code with its description."""
    codes = all_codes()
    table = "\n".join(f"| `{code}` | {text} |" for code, text in codes.items())
    code = {
        "type": "string",
        "description": "A stable snake_case code for programs to branch on; the message may change. "
        "Every code the API answers with:\n\n| code | meaning |\n| --- | --- |\n" + table,
        "enum": list(codes),
        "x-enum-descriptions": list(codes.values()),
    }
    return {**ERROR_SCHEMA, "properties": {**ERROR_SCHEMA["properties"], "code": code}}


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def error_codes(status: int) -> list[str]:
    """The codes the error tree itself defines for `status`, in a stable order."""
    codes = [str(code) for exc, code in _DRF_CODES.items() if exc.status_code == status]
    codes += [str(cls.code) for cls in [DomainError, *_subclasses(DomainError)] if cls.http_status == status]
    if status == BodyRefused.status_code:
        codes += [str(code) for code in BodyRefused.codes]
    return list(dict.fromkeys(codes))


def describe(status: int) -> str:
    meaning, examples = ERRORS[status]
    text = f"{meaning} `code`: " + ", ".join(f"`{code}`" for code in error_codes(status))
    if examples:
        text += "; or an operation's own, e.g. " + ", ".join(f"`{code}`" for code in examples)
    return text + ". Every code and its meaning: the `code` enum of the `Error` schema."


def statuses_for(method: str, operation: dict) -> list[int]:
    statuses = [400, 401, 403, 404]
    if method in WRITE_METHODS:
        statuses.append(409)
    if "requestBody" in operation:
        statuses.append(415)
    return [*statuses, 429]


def document_error_responses(result, generator, request, public):
    """Postprocessing hook: the error component and every operation's 4xx answers."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = error_schema()
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete", "head", "options", "trace"}:
                continue
            responses = operation.setdefault("responses", {})
            for status in statuses_for(method, operation):
                response = {"description": describe(status), "content": {"application/json": {"schema": ref}}}
                if status == 429:
                    response["headers"] = {"Retry-After": RETRY_AFTER}
                responses.setdefault(str(status), response)
            operation["responses"] = dict(sorted(responses.items()))
    return result


class BlankFormattedField(OpenApiSerializerFieldExtension):
    """A URL (and, below, an e-mail) field that may be "": a writable one that accepts it, or a
    read-only one of a model field with blank=True (DRF drops `allow_blank` from read-only fields),
    which answers "" until the value is known. "" is no `uri`, so the schema says "a URI or the empty
    string", and a client validating answers against it accepts what the API sends. (An unset
    read-only choice answers null instead: core/api/fields.OptionalChoiceField.)"""

    target_class = serializers.URLField

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if "format" in schema and _may_be_blank(self.target):
            # The field's own keywords (readOnly, title, ...) are added around the result again.
            formatted = {k: v for k, v in schema.items() if k not in FIELD_META}
            return {"oneOf": [formatted, {"type": "string", "enum": [""]}]}
        return schema


FIELD_META = {"readOnly", "writeOnly", "title", "description", "default", "nullable", "deprecated"}


class BlankEmailField(BlankFormattedField):
    target_class = serializers.EmailField


def _may_be_blank(field) -> bool:
    """The field accepts "", or reads a model field with blank=True (DRF drops allow_blank there)."""
    if getattr(field, "allow_blank", False):
        return True
    model = getattr(getattr(field.parent, "Meta", None), "model", None)
    if not field.read_only or model is None or "." in field.source:
        return False
    try:
        return model._meta.get_field(field.source).blank
    except Exception:  # not a model field (a property or method): nothing to say
        return False
