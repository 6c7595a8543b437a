"""The API's one JSON parser: a body is refused, with a 400 and a stable code, before any view sees
it when it is not JSON, nests deeper than API_JSON_MAX_DEPTH, or holds more than API_JSON_MAX_ITEMS
values (no body of any shape reaches a serializer, let alone a vendor, unchecked)."""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from core.error_codes import CoreErrorCode


class BodyRefused(ParseError):
    """A JSON body refused for its shape, with its own code."""

    codes = (
        CoreErrorCode.BODY_TOO_DEEP,
        CoreErrorCode.BODY_TOO_LARGE,
    )  # every code it is raised with (listed in the schema)

    def __init__(self, message: str, code: str):
        super().__init__(message, code=code)
        self.error_code = str(code)


def check_shape(value, *, max_depth: int, max_items: int) -> None:
    """Walk the parsed body without recursion: refuse it if too deep or too large."""
    stack, seen = [(value, 1)], 0
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise BodyRefused(
                f"The JSON body nests deeper than {max_depth} levels.", CoreErrorCode.BODY_TOO_DEEP
            )
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            seen += 1
            if seen > max_items:
                raise BodyRefused(
                    f"The JSON body holds more than {max_items} values.", CoreErrorCode.BODY_TOO_LARGE
                )
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))


class BoundedJSONParser(JSONParser):
    """JSON with a depth and size bound; a body too deep for Python's own parser is refused too."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            data = json.loads(raw.decode(settings.DEFAULT_CHARSET) if raw else "null")
        except RecursionError:
            raise BodyRefused(
                f"The JSON body nests deeper than {settings.API_JSON_MAX_DEPTH} levels.",
                CoreErrorCode.BODY_TOO_DEEP,
            ) from None
        except (ValueError, UnicodeDecodeError) as error:
            raise ParseError(f"The body is not valid JSON: {error}") from None
        check_shape(data, max_depth=settings.API_JSON_MAX_DEPTH, max_items=settings.API_JSON_MAX_ITEMS)
        return data
