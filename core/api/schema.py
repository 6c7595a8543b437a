"""OpenAPI: every operation documents the error codes it can answer, per status, in one error shape.

A drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]): each
operation gets one response per status it can answer with an error (400, 401, 403, 404 and 429
always; 409 and others where its code raises them; 415 when it takes a body). Each answers the
`Error` component ({"code", "message", "fields"}, core/api/errors.py) with `code` narrowed to an
enum of just the codes that operation can answer with that status (`allOf` the component and the
enum), listed in the description too. Which codes: core/api/error_docs.py, derived from the
source of the view method and the services it calls. A response an operation documents itself
(e.g. billing's 409 with its words) keeps its description and gets the narrowed schema.

The `Error` component's `code` is an enum of every registered code (core/error_codes.py, each app's
error_codes.py), with each code's description (`x-enum-descriptions` and a table in the
description).

It also holds the field extensions that document "" where a URL or e-mail field may hold it,
registered by CoreConfig.ready before any schema is generated.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from core.api.error_docs import operation_codes
from core.error_codes import all_codes

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

# Status -> what it means (its codes: core/api/error_docs.operation_codes, per operation).
ERRORS: dict[int, str] = {
    400: "The request is refused as given; nothing changed. `fields` names each invalid field "
    "(query parameter or body field) with its messages.",
    401: "No token, or a malformed, unknown, expired or revoked one (`Authorization: Token <key>`).",
    403: "Authenticated, but the role (or staff permission) does not allow this operation.",
    404: "No such object among yours (absent and another partner's are the same answer, on purpose), "
    "or no such page of a list.",
    409: "A business rule refuses the operation in the object's current state; nothing changed. The "
    "message says what applies instead.",
    415: "The body's Content-Type is not one the operation accepts (JSON, form or multipart).",
    429: "Too many requests for this token or address; wait `retry_after` seconds.",
}
METHODS = {"get", "post", "put", "patch", "delete", "head", "options", "trace"}


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


def answer_schema(codes: list[str]) -> dict:
    """The `Error` component with `code` one of `codes`: what one operation answers with one status."""
    narrowed = {"type": "object", "properties": {"code": {"type": "string", "enum": codes}}}
    return {"allOf": [{"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}, narrowed]}


def describe(status: int, codes: list[str], own: str | None = None) -> str:
    meaning = own or ERRORS.get(status, "Refused.")
    return f"{meaning} `code`: " + ", ".join(f"`{code}`" for code in codes) + "."


def operations_by_path(generator) -> dict[tuple[str, str], tuple[type, str]]:
    """(path, method) -> (view class, the name of the view method that answers it)."""
    found = {}
    for path, _, method, view in generator._get_paths_and_endpoints():
        handler = getattr(view, "action", None) or method.lower()
        found[path, method.lower()] = (type(view), handler)
    return found


def document_error_responses(result, generator, request, public):
    """Postprocessing hook: the error component and each operation's error answers, code by code."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = error_schema()
    views = operations_by_path(generator)
    for path, path_item in result.get("paths", {}).items():
        for method, operation in path_item.items():
            if method not in METHODS or (path, method) not in views:
                continue
            view_class, handler = views[path, method]
            codes = operation_codes(view_class, handler, takes_body="requestBody" in operation)
            responses = operation.setdefault("responses", {})
            for status, listed in codes.items():
                own = responses.get(str(status), {}).get("description")
                response = {
                    "description": describe(status, listed, own),
                    "content": {"application/json": {"schema": answer_schema(listed)}},
                }
                if status == 429:
                    response["headers"] = {"Retry-After": RETRY_AFTER}
                responses[str(status)] = response
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
