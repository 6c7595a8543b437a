"""One registry of error codes (core/error_codes.py): every code raised anywhere is registered, each
registered code is documented in the OpenAPI schema, and no two enums give one code two meanings.

The raise sites are found in the source (ast), not by running it: every `code=` given to a
DomainError subclass of core/errors.py, every class-level `code = ...` of such a subclass, the JSON
parser's BodyRefused and the API's error_body. A site's value is resolved as Python would: an enum
member or module constant in its module's namespace, a local assigned in the function, or a
function parameter through the calls in the same module that pass it.
"""

from __future__ import annotations

import ast
import importlib
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from drf_spectacular.generators import SchemaGenerator

from core.api.error_docs import GENERIC, GENERIC_BODY
from core.api.errors import _DRF_CODES
from core.api.parsers import BodyRefused
from core.error_codes import CoreErrorCode, all_codes, conflicts, registered_enums
from core.errors import DomainError

ROOT = Path(__file__).resolve().parents[2]
APPS = ["core", "partner", "subscriptions", "billing", "reconciliation", "config", "vendors"]
# Sites whose code is computed from the codes checked on their own below (the API's exception
# handler renders DRF's exceptions by _DRF_CODES and BodyRefused by its `codes`).
COMPUTED_SITES = {("core/api/errors.py", "exception_handler")}
ERROR_CLASSES = {cls.__name__ for cls in [DomainError, *DomainError.__subclasses__()]}


def _subclass_names(cls) -> set[str]:
    names = set()
    for sub in cls.__subclasses__():
        names |= {sub.__name__, *_subclass_names(sub)}
    return names


ERROR_CLASSES |= _subclass_names(DomainError)


@dataclass
class Site:
    path: str
    line: int
    codes: list[str]
    literal: bool  # named as a string literal rather than an enum member or constant

    def __str__(self):
        return f"{self.path}:{self.line}"


class Unresolved(Exception):
    pass


def _modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" in rel or "/tests/" in rel:
                continue
            yield rel, path


class _Scanner:
    def __init__(self, rel: str, path: Path):
        self.rel = rel
        self.tree = ast.parse(path.read_text(), filename=rel)
        self.module_name = rel[:-3].replace("/", ".").removesuffix(".__init__")
        self.parents = {child: node for node in ast.walk(self.tree) for child in ast.iter_child_nodes(node)}
        self.error_names = self._imported_error_names()
        self._namespace = None

    def _imported_error_names(self) -> set[str]:
        """Names bound to core.errors' classes in this module (imported, or defined here)."""
        names = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.ImportFrom) and node.module == "core.errors":
                names |= {a.asname or a.name for a in node.names if a.name in ERROR_CLASSES}
            if isinstance(node, ast.ClassDef) and node.name in ERROR_CLASSES:
                names.add(node.name)
        return names

    @property
    def namespace(self) -> dict:
        if self._namespace is None:
            self._namespace = vars(importlib.import_module(self.module_name))
        return self._namespace

    def sites(self):
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                yield from self._call_sites(node)
            elif isinstance(node, ast.ClassDef) and self._is_error_class(node):
                for stmt in node.body:
                    if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                        if any(isinstance(t, ast.Name) and t.id == "code" for t in targets):
                            yield self._site(stmt.value)

    def _is_error_class(self, node: ast.ClassDef) -> bool:
        return node.name in ERROR_CLASSES or any(
            isinstance(b, ast.Name) and b.id in self.error_names for b in node.bases
        )

    def _call_sites(self, call: ast.Call):
        function = self._function_of(call)
        if function is not None and (self.rel, function.name) in COMPUTED_SITES:
            return
        name = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", None)
        if name in self.error_names or (isinstance(call.func, ast.Attribute) and name in ERROR_CLASSES):
            for keyword in call.keywords:
                if keyword.arg == "code":
                    yield self._site(keyword.value)
        elif name == "BodyRefused" and len(call.args) >= 2:
            yield self._site(call.args[1])
        elif name == "error_body" and call.args:
            yield self._site(call.args[0])

    def _site(self, node: ast.expr) -> Site:
        try:
            codes = self.resolve(node)
        except Unresolved as problem:
            codes = [f"<unresolved: {problem}>"]
        literal = any(isinstance(n, ast.Constant) for n in ast.walk(node))
        return Site(self.rel, node.lineno, codes, literal)

    def resolve(self, node: ast.expr, depth: int = 0) -> list[str]:
        """The code values the expression can have."""
        if depth > 5:
            raise Unresolved(ast.unparse(node))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.IfExp):
            return self.resolve(node.body, depth + 1) + self.resolve(node.orelse, depth + 1)
        if isinstance(node, ast.Subscript):  # a mapping's value, whichever key
            mapping = self._evaluate(node.value)
            if mapping is None:
                raise Unresolved(ast.unparse(node))
            return [str(v) for v in mapping.values()]
        value = self._evaluate(node)
        if value is not None:
            return [str(value)]
        if isinstance(node, ast.Name):
            return self._resolve_local(node, depth)
        raise Unresolved(ast.unparse(node))

    def _evaluate(self, node: ast.expr):
        """The expression's value in the module's namespace, if it only names module-level things."""
        try:
            return eval(compile(ast.Expression(node), self.rel, "eval"), dict(self.namespace))
        except (NameError, AttributeError):
            return None

    def _function_of(self, node):
        while node is not None and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node = self.parents.get(node)
        return node

    def _resolve_local(self, name: ast.Name, depth: int) -> list[str]:
        function = self._function_of(name)
        if function is None:
            raise Unresolved(name.id)
        values = []
        for node in ast.walk(function):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name.id for t in node.targets
            ):
                values += self.resolve(node.value, depth + 1)
        if values:
            return values
        params = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
        if name.id not in params and name.id not in [a.arg for a in function.args.kwonlyargs]:
            raise Unresolved(name.id)
        index = params.index(name.id) if name.id in params else None
        for call in ast.walk(self.tree):
            if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == function.name):
                continue
            given = [k.value for k in call.keywords if k.arg == name.id]
            if not given and index is not None and index < len(call.args):
                given = [call.args[index]]
            for arg in given:
                values += self.resolve(arg, depth + 1)
        if not values:
            raise Unresolved(f"{name.id} (no call of {function.name} passes it)")
        return values


@pytest.fixture(scope="module")
def sites() -> list[Site]:
    return [site for rel, path in _modules() for site in _Scanner(rel, path).sites()]


def test_the_scan_finds_the_raise_sites(sites):
    found = {code for site in sites for code in site.codes}

    assert len(sites) > 100
    # A literal, an enum member, a module constant, an if-expression, a mapping and a parameter.
    assert {"not_awaiting_decision", "naming_convention_locked", "billing_model_locked"} <= found
    assert {"no_payment_source", "not_billed_reason_required", "action_not_applicable"} <= found
    assert {"invalid", "rule_violation", "body_too_deep", "server_error"} <= found


def test_every_code_raised_anywhere_is_registered(sites):
    registered = all_codes()

    unregistered = [f"{site}: {code}" for site in sites for code in site.codes if code not in registered]

    assert not unregistered, "Register these in the app's error_codes.py:\n" + "\n".join(unregistered)


def test_raise_sites_name_their_code_by_its_enum_member(sites):
    literal = [str(site) for site in sites if site.literal]

    assert not literal, "Use the app's error-code enum member:\n" + "\n".join(literal)


def test_the_api_layer_codes_and_the_schema_examples_are_registered():
    registered = all_codes()
    named = [str(c) for c in _DRF_CODES.values()] + [str(c) for c in BodyRefused.codes]
    named += [
        str(code) for generic in (GENERIC, GENERIC_BODY) for codes in generic.values() for code in codes
    ]

    assert [code for code in named if code not in registered] == []


def test_each_app_registers_its_own_enum_from_its_error_codes_module():
    modules = {enum.__module__: enum for enum in registered_enums()}

    assert set(modules) == {
        "core.error_codes",
        "partner.error_codes",
        "subscriptions.error_codes",
        "billing.error_codes",
        "reconciliation.error_codes",
    }
    assert registered_enums()[0] is CoreErrorCode


def test_no_code_has_two_meanings_and_each_says_what_it_means():
    described = [(member.value, member.label) for enum in registered_enums() for member in enum]

    assert conflicts() == []
    assert len({value for value, _ in described}) == len(described), "declare a shared code once, in core"
    assert [v for v, _ in described if not re.fullmatch(r"[a-z][a-z0-9_]*", v)] == []
    assert [v for v, label in described if not label or label == v.replace("_", " ").title()] == []


@pytest.fixture(scope="module")
def error_component():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return schema["components"]["schemas"]["Error"]


def test_every_registered_code_is_documented_in_the_openapi_schema(error_component):
    code = error_component["properties"]["code"]
    registered = all_codes()

    assert code["enum"] == list(registered)
    assert dict(zip(code["enum"], code["x-enum-descriptions"], strict=True)) == registered
    for value, meaning in registered.items():
        assert f"| `{value}` | {meaning} |" in code["description"]
