"""Every error the API answers during the test suite, checked against what the OpenAPI documents.

tests/conftest.py records each error answer of a DRF view (method, path, status, code) for the
test that made the request and, when the test ends, fails it if the code is not among the codes the
generated schema documents for that operation and status (core/api/error_docs.py derives them).
"""

from __future__ import annotations

import re
from functools import cache

from rest_framework.views import APIView

from core.api.error_docs import NOT_API_CODES


@cache
def schema() -> dict:
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


@cache
def _path_patterns() -> list[tuple[re.Pattern, str]]:
    patterns = []
    for path in schema()["paths"]:
        regex = re.sub(r"\\{\w+\\}", "[^/]+", re.escape(path))
        patterns.append((re.compile(f"^{regex}$"), path))
    # The most literal template first: /cloudflare-addons/preview/ before /cloudflare-addons/{id}/.
    return sorted(patterns, key=lambda pattern: pattern[1].count("{"))


def operation_of(method: str, path: str) -> tuple[str, dict] | None:
    """The schema's (path template, operation) that answers `method path`, if one does."""
    for regex, template in _path_patterns():
        if regex.match(path):
            operation = schema()["paths"][template].get(method.lower())
            if operation is not None:
                return template, operation
    return None


def documented_codes(operation: dict, status: int) -> list[str]:
    response = operation["responses"].get(str(status))
    if response is None:
        return []
    answer = response["content"]["application/json"]["schema"]
    return next(part for part in answer["allOf"] if "properties" in part)["properties"]["code"]["enum"]


def undocumented(answers) -> list[str]:
    """The recorded (method, path, status, code) answers the schema does not document."""
    problems = []
    for method, path, status, code in answers:
        if code in NOT_API_CODES:
            continue  # 405, 406, 5xx: not an operation's answer (NOT_API_CODES says why)
        found = operation_of(method, path)
        if found is None:
            problems.append(f"{method} {path}: {status} {code}, and the schema has no such operation")
        elif code not in documented_codes(found[1], status):
            template, operation = found
            listed = documented_codes(operation, status) or "nothing"
            problems.append(f"{method} {template}: {status} `{code}` is not documented (it lists {listed})")
    return problems


def record_error_answers(monkeypatch) -> list[tuple[str, str, int, str]]:
    """Record every error answer of the API's views (DRF's handle_exception) into the returned list."""
    answers: list[tuple[str, str, int, str]] = []
    handle_exception = APIView.handle_exception

    def recording(view, exc):
        response = handle_exception(view, exc)
        data = getattr(response, "data", None)
        if response.status_code >= 400 and isinstance(data, dict) and "code" in data:
            answers.append((view.request.method, view.request.path, response.status_code, str(data["code"])))
        return response

    monkeypatch.setattr(APIView, "handle_exception", recording)
    return answers
