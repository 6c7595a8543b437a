"""Which error codes each API operation can answer, per status: derived from the code it runs.

An operation answers the generic codes (GENERIC below: authentication, permission, not found,
throttling, `invalid`, and a body's parse errors where it takes one) plus the codes of every
refusal its view method can reach: read from the source (ast), not by running it. The walk starts
at the view's method for the action (`cancel`, `create`, `get`...), follows every function, method
(`self.<name>`, looked up on the view class) and module attribute it names (`acme.cancel_acme_contract`
passed to `self._do`, `partner_selectors.get_or_404`...) inside the product's packages, and collects
each call of a DomainError class (core/errors.py) or DRF exception: its status is the class's,
its code the `code=` argument (an enum member, a module constant or mapping, or a local assigned
in that function) or else the class's own code. Worker-side code (handlers, tasks) and other faces
(admin, dashboard, vendors' clients) are not followed: their refusals are never an API answer.

What the walk cannot see is declared next to the view with `@answers({409: [Enum.MEMBER]})`.
tests/api/test_error_codes_documented.py keeps the lists honest: every error answer the test suite
gets from the API must be documented for its operation and status (tests/conftest.py records them).

NOT_API_CODES names, with the reason, the registered codes no API operation answers.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
import weakref
from collections import defaultdict
from functools import cache

from django.dispatch import Signal
from rest_framework import exceptions as drf_exceptions

from core.api.errors import _DRF_CODES
from core.api.parsers import BodyRefused
from core.error_codes import CoreErrorCode, all_codes
from core.errors import DomainError

PACKAGES = ("core", "partner", "billing", "subscriptions", "reconciliation")
# Not followed: what runs in the worker, and the faces and vendor clients the API never enters.
NOT_FOLLOWED = (".handlers", ".tasks", ".admin", ".dashboard", ".views", ".forms", ".management")

# The codes every operation can answer, whatever it runs: decided here, once.
GENERIC: dict[int, list[str]] = {
    400: [CoreErrorCode.INVALID],  # a query parameter, filter or page that is not valid
    401: [CoreErrorCode.NOT_AUTHENTICATED, CoreErrorCode.AUTHENTICATION_FAILED],
    403: [CoreErrorCode.PERMISSION_DENIED, CoreErrorCode.STAFF_API_PERMISSION_REQUIRED],
    404: [CoreErrorCode.NOT_FOUND],
    429: [CoreErrorCode.THROTTLED],
}
# ... and every operation that takes a body: the JSON parser's and the content negotiation's.
GENERIC_BODY: dict[int, list[str]] = {
    400: [CoreErrorCode.PARSE_ERROR, *BodyRefused.codes],
    415: [CoreErrorCode.UNSUPPORTED_MEDIA_TYPE],
}

# Registered codes no API operation answers, each with the reason.
NOT_API_CODES: dict[str, str] = {
    CoreErrorCode.METHOD_NOT_ALLOWED: "405 is not documented per operation: the schema lists the methods.",
    CoreErrorCode.NOT_ACCEPTABLE: "406 is not documented per operation: every operation answers JSON.",
    CoreErrorCode.SERVER_ERROR: "5xx: a bug, not a refusal an operation documents.",
    CoreErrorCode.ERROR: "A framework error without a code of its own; none is expected.",
    CoreErrorCode.RULE_VIOLATION: "RuleViolation's default: every rule the API reaches names its own code.",
    # Raised by other faces only (the services are shared; the API has no endpoint that calls these).
    "cannot_remove_self": "Team members are managed in the dashboard (partner.services.remove_member).",
    "last_owner": "Team members are managed in the dashboard (update_member, remove_member).",
    "member_already_joined": "Invitations are managed in the dashboard (resend_invitation).",
    "member_exists": "Invitations are managed in the dashboard (invite_member).",
    "link_invalid": "The customer's payment-method link page (billing views), not the API.",
    "no_payment_source": "Renewals are charged by the worker (billing.services.renewals).",
    "not_held": "Held renewals are released by staff in the admin.",
    "not_awaiting_decision": "Staff decide unknown outcomes in the admin (partner.services, core.operations).",
    "not_unknown": "Staff ask the vendor about an unknown outcome in the admin (core.operations.resolve_now).",
    "not_replayable": "Webhook events are replayed by staff in the admin (billing.services.events.replay).",
    "unknown_notice": "Notices are resent by staff in the admin (billing.services.notices.resend_notice).",
    "plan_engine_fixed": "Plans are edited by staff in the admin; the API lists them read-only.",
    "plan_fields_fixed": "Plans are edited by staff in the admin; the API lists them read-only.",
}


def answers(codes: dict[int, list]):
    """Declare codes an action answers that the source walk cannot see (status -> codes)."""

    def mark(function):
        declared = getattr(function, "_answers", {})
        function._answers = {
            **declared,
            **{status: [*declared.get(status, []), *map(str, c)] for status, c in codes.items()},
        }
        return function

    return mark


def operation_codes(view_class: type, handler_name: str, takes_body: bool) -> dict[int, list[str]]:
    """Status -> the codes the operation (the view's `handler_name` method) can answer, sorted."""
    found: dict[int, set[str]] = defaultdict(set)
    for status, codes in GENERIC.items():
        found[status] |= set(map(str, codes))
    if takes_body:
        for status, codes in GENERIC_BODY.items():
            found[status] |= set(map(str, codes))
    handler = getattr(view_class, handler_name, None)
    if handler is not None:
        for status, codes in raised_codes(view_class, handler).items():
            found[status] |= codes
        for status, codes in getattr(handler, "_answers", {}).items():
            found[status] |= set(codes)
    order = list(all_codes())
    return {status: sorted(codes, key=_position(order)) for status, codes in sorted(found.items())}


def _position(order: list[str]):
    return lambda code: order.index(code) if code in order else len(order)


@cache
def raised_codes(view_class: type, handler) -> dict[int, frozenset[str]]:
    """Status -> codes of the refusals reachable from `handler` (a function on `view_class`)."""
    found: dict[int, set[str]] = defaultdict(set)
    seen: set = set()
    todo = [inspect.unwrap(handler)]
    while todo:
        function = todo.pop()
        if function in seen:
            continue
        seen.add(function)
        walk = _Walk(function, view_class)
        for status, code in walk.refusals():
            found[status].add(code)
        todo += [f for f in walk.references() if f not in seen]
    return {status: frozenset(codes) for status, codes in found.items()}


def _receivers(signal: Signal) -> list:
    found = []
    for entry in signal.receivers:
        receiver = entry[1]
        receiver = receiver() if isinstance(receiver, weakref.ReferenceType) else receiver
        if isinstance(receiver, types.FunctionType):
            found.append(receiver)
    return found


def _followed(function) -> bool:
    module = getattr(function, "__module__", None) or ""
    return module.split(".")[0] in PACKAGES and not any(f"{part}." in f"{module}." for part in NOT_FOLLOWED)


class _Walk:
    """One function's source: the refusals it builds and the product functions it names."""

    def __init__(self, function, view_class: type):
        self.function = function
        self.view_class = view_class
        self.namespace = getattr(function, "__globals__", {})
        try:
            source = textwrap.dedent(inspect.getsource(function))
            self.tree = ast.parse(source)
        except (OSError, TypeError, SyntaxError):
            self.tree = ast.Module(body=[], type_ignores=[])

    def _lookup(self, node: ast.expr):
        """What a dotted name (`acme.cancel`, `self._do`, `RuleViolation`) names, without running code."""
        if isinstance(node, ast.Name):
            if node.id == "self":
                return self.view_class
            return self.namespace.get(node.id)  # a local or a builtin: nothing to follow
        if isinstance(node, ast.Attribute):
            base = self._lookup(node.value)
            if isinstance(base, (types.ModuleType, type)):
                try:
                    value = inspect.getattr_static(base, node.attr)
                except AttributeError:
                    return None
                if isinstance(value, (staticmethod, classmethod)):
                    value = value.__func__
                return value
        return None

    def references(self):
        """The functions this one names: the view's own methods (DRF's mixins' too), the product's
        functions, and the receivers of a signal it sends (billing may refuse a direct change)."""
        for node in ast.walk(self.tree):
            if not isinstance(node, (ast.Name, ast.Attribute)):
                continue
            value = self._lookup(node)
            on_view = isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "self"
            if isinstance(value, Signal):
                yield from (f for f in _receivers(value) if _followed(f))
            elif isinstance(value, types.FunctionType) and (on_view or _followed(value)):
                yield inspect.unwrap(value)

    def refusals(self):
        for node in ast.walk(self.tree):
            if not isinstance(node, ast.Call):
                continue
            raised = self._lookup(node.func)
            if not isinstance(raised, type):
                continue
            if issubclass(raised, DomainError):
                given = [k.value for k in node.keywords if k.arg == "code"]
                codes = self._codes(given[0]) if given else [str(raised.code)]
                for code in codes:
                    yield raised.http_status, code
            elif issubclass(raised, drf_exceptions.APIException) and raised in _DRF_CODES:
                yield raised.status_code, str(_DRF_CODES[raised])

    def _codes(self, node: ast.expr, depth: int = 0) -> list[str]:
        """The registered codes an expression can be: every one it (or a local it reads) names."""
        codes = []
        for part in ast.walk(node):
            value = self._lookup(part) if isinstance(part, (ast.Name, ast.Attribute)) else None
            if isinstance(value, str):
                codes.append(str(value))
            elif isinstance(value, dict):
                codes += [str(v) for v in value.values() if isinstance(v, str)]
            elif isinstance(part, ast.Constant) and isinstance(part.value, str):
                codes.append(part.value)
            elif isinstance(part, ast.Name) and value is None and depth < 3:
                for assigned in ast.walk(self.tree):
                    if isinstance(assigned, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == part.id for t in assigned.targets
                    ):
                        codes += self._codes(assigned.value, depth + 1)
        registered = all_codes()
        return [code for code in dict.fromkeys(codes) if code in registered]
