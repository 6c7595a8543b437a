"""Validate JSON against the vendors' published OpenAPI schemas (copies in vendors/specs/).

    from tests.contract import schemas

    schemas.validate("cloudflare", "bill-subs-api_subscription-v2", body)
    schemas.validate_at("cloudflare", schemas.response_pointer("/zones", "post"), body)
    schemas.errors("digitalriver", "Order", body)  # messages instead of an exception

OpenAPI 3.0 schemas are JSON Schema draft 4 plus dialect, and the vendors' documents have known
mistakes (vendors.md section 4). Before validating, the loaded document is rewritten:
- `nullable: true` becomes `type: [X, "null"]` (and null joins an `enum`); without a `type`,
  the schema becomes `anyOf: [{"type": "null"}, schema]`;
- `minLength` on a schema that is not a string also becomes `minItems` (Cloudflare's failure
  `errors` say `minLength: 1` for "at least one error");
- names in `required` that are not among the schema's own `properties` are dropped (Digital
  River's Event requires `digitalriverVersion` and `pendingWebhooks`, which it does not define);
- per document, the documented quirks: Digital River's UpdateSubscriptionRequest does not
  require `planId` (the documented activate/cancel bodies are `{"state": ...}` alone), its
  UpdatePlanRequest requires nothing (the documented update sends `reminderOffsetDays` alone), and its
  Subscription.state also allows `lapsed`, which the docs use. Cloudflare needs nothing more:
  its single `result` is a bare object and `rate_plan.id` has no enum in this version.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

import vendors

SPECS_DIR = Path(vendors.__file__).resolve().parent / "specs"
SPEC_FILES = {
    "cloudflare": "cloudflare-subscriptions.openapi.json",
    "digitalriver": "digitalriver.openapi.json",
}


def _digitalriver_quirks(spec: dict) -> None:
    schemas = spec["components"]["schemas"]
    update = schemas["UpdateSubscriptionRequest"]
    update["required"] = [name for name in update.get("required", []) if name != "planId"]
    # The documented plan update ("Ending subscription reminders") sends reminderOffsetDays alone.
    schemas["UpdatePlanRequest"].pop("required", None)
    state = schemas["Subscription"]["properties"]["state"]
    if "lapsed" not in state["enum"]:
        state["enum"].append("lapsed")


QUIRKS: dict[str, Callable[[dict], None]] = {"digitalriver": _digitalriver_quirks}


def spec_uri(name: str) -> str:
    return f"urn:vendor-spec:{name}"


@cache
def load_spec(name: str) -> dict:
    """The vendor's OpenAPI document, rewritten as described above (do not modify the result)."""
    with (SPECS_DIR / SPEC_FILES[name]).open() as file:
        spec = json.load(file)
    spec = relax(spec)
    if name in QUIRKS:
        QUIRKS[name](spec)
    return spec


def relax(node):
    """A copy of an OpenAPI 3.0 schema tree as JSON Schema, with the generic rewrites applied."""
    if isinstance(node, list):
        return [relax(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: relax(value) for key, value in node.items()}
    if "minLength" in node and node.get("type") != "string":
        node.setdefault("minItems", node["minLength"])
    own_properties = isinstance(node.get("properties"), dict) and not any(
        key in node for key in ("allOf", "anyOf", "oneOf")
    )
    if own_properties and isinstance(node.get("required"), list):
        node["required"] = [name for name in node["required"] if name in node["properties"]]
        if not node["required"]:
            del node["required"]
    if node.pop("nullable", False) is True:
        if "type" in node:
            types = node["type"] if isinstance(node["type"], list) else [node["type"]]
            node["type"] = [*types, "null"] if "null" not in types else types
            if "enum" in node and None not in node["enum"]:
                node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [{"type": "null"}, node]}
    return node


@cache
def _registry(name: str) -> Registry:
    resource = Resource.from_contents(load_spec(name), default_specification=DRAFT4)
    return Registry().with_resource(spec_uri(name), resource)


def schema_pointer(schema_name: str) -> str:
    return f"#/components/schemas/{schema_name}"


def response_pointer(path: str, method: str, status: str = "200") -> str:
    """The JSON pointer of an operation's response schema, e.g. ("/zones", "post")."""
    escaped = path.replace("~", "~0").replace("/", "~1")
    return f"#/paths/{escaped}/{method.lower()}/responses/{status}/content/application~1json/schema"


def validator_at(name: str, pointer: str) -> jsonschema.Draft4Validator:
    """A validator for the schema at `pointer` in the vendor's document."""
    return jsonschema.Draft4Validator({"$ref": f"{spec_uri(name)}{pointer}"}, registry=_registry(name))


def validate_at(name: str, pointer: str, instance) -> None:
    """Raise jsonschema.ValidationError (the most relevant error) unless `instance` fits."""
    error = jsonschema.exceptions.best_match(validator_at(name, pointer).iter_errors(instance))
    if error is not None:
        raise error


def validate(name: str, schema_name: str, instance) -> None:
    """Raise unless `instance` fits `#/components/schemas/<schema_name>` of the vendor's document."""
    validate_at(name, schema_pointer(schema_name), instance)


def errors(name: str, schema_name: str, instance) -> list[str]:
    """Every mismatch as "path: message"; empty when `instance` fits."""
    found = validator_at(name, schema_pointer(schema_name)).iter_errors(instance)
    return [f"{'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message}" for error in found]


def raw_schema(name: str, schema_name: str) -> dict:
    """A copy of a (rewritten) component schema, e.g. to look at its `required`."""
    return copy.deepcopy(load_spec(name)["components"]["schemas"][schema_name])
