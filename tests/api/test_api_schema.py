"""The OpenAPI schema documents every operation's 4xx answers in the one error shape, and what the
fuzzer (tests/api/test_fuzz.py) found the schema or the URLs got wrong. Which codes each operation
documents per status: tests/api/test_error_codes_documented.py."""

import pytest

from core.api.error_docs import GENERIC
from core.error_codes import all_codes

WRITES = {"post", "put", "patch", "delete"}
ERROR_REF = "#/components/schemas/Error"


@pytest.fixture
def schema(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _operations(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield f"{method.upper()} {path}", method, operation


def _codes(response) -> list[str]:
    """The `code` enum of an error response: the Error component narrowed to the operation's codes."""
    ref, narrowed = response["content"]["application/json"]["schema"]["allOf"]
    assert ref == {"$ref": ERROR_REF}
    return narrowed["properties"]["code"]["enum"]


def test_every_operation_documents_its_4xx_answers_with_the_error_schema(schema):
    missing = []
    for label, _method, operation in _operations(schema):
        for status in sorted(set(operation["responses"]) | {"400", "401", "403", "404", "429"}):
            response = operation["responses"].get(status)
            if not status.startswith("4"):
                continue
            if response is None:
                missing.append(f"{label}: no {status}")
            elif not _codes(response):
                missing.append(f"{label}: {status} names no code")
            elif not all(f"`{code}`" in response["description"] for code in _codes(response)):
                missing.append(f"{label}: {status} does not say its codes")

    assert len(list(_operations(schema))) > 50
    assert not missing, "\n".join(missing)


def test_the_error_schema_is_the_one_error_shape(schema):
    error = schema["components"]["schemas"]["Error"]

    assert set(error["required"]) == {"code", "message", "fields"}
    assert error["properties"]["fields"]["additionalProperties"] == {
        "type": "array",
        "items": {"type": "string"},
    }
    assert error["properties"]["retry_after"]["type"] == "integer"


def test_the_error_code_is_an_enum_of_every_registered_code_with_its_meaning(schema):
    """Scripts branch on `code`: the schema lists each one the API answers with, and what it means."""
    code = schema["components"]["schemas"]["Error"]["properties"]["code"]

    assert code["enum"] == list(all_codes())
    assert {"no_payment_source", "cancel_window_closed", "subaccount_exists", "throttled"} <= set(
        code["enum"]
    )
    meanings = dict(zip(code["enum"], code["x-enum-descriptions"], strict=True))
    assert meanings["no_payment_source"] == "There is no saved payment source to charge."
    assert "| `last_owner` | The partner's only owner cannot be removed or demoted. |" in code["description"]


def test_each_status_names_the_generic_codes_and_the_operations_own(schema):
    responses = schema["paths"]["/api/v1/customers/{id}/"]["delete"]["responses"]

    for status, generic in GENERIC.items():
        assert set(map(str, generic)) <= set(_codes(responses[str(status)]))
    assert _codes(responses["409"]) == ["customer_has_subaccounts"]
    assert "415" not in responses  # no body
    assert "Retry-After" in responses["429"]["headers"]
    assert "409" not in schema["paths"]["/api/v1/customers/"]["post"]["responses"]  # no rule refuses it


def test_an_operation_keeps_the_4xx_it_documents_itself(schema):
    cancel = schema["paths"]["/api/v1/billing/subscriptions/{id}/cancel/"]["post"]["responses"]

    assert cancel["409"]["description"].startswith("A rule refuses it today, nothing changed")
    assert "cancel_window_closed" in _codes(cancel["409"])


def test_a_body_taking_operation_documents_415(schema):
    assert "415" in schema["paths"]["/api/v1/customers/"]["post"]["responses"]
    assert "415" not in schema["paths"]["/api/v1/customers/"]["get"]["responses"]


# --- What the fuzzer found ------------------------------------------------------------------------


def test_url_and_email_fields_that_may_be_blank_document_the_blank(schema):
    """A checkout's `payment_link` is "" until the checkout is open (read-only: DRF drops allow_blank
    there); a customer's `contact_email` may be left "". "" is neither a `uri` nor an `email`."""
    components = schema["components"]["schemas"]
    blank = {"type": "string", "enum": [""]}

    link = components["Checkout"]["properties"]["payment_link"]
    assert link["oneOf"] == [{"type": "string", "format": "uri"}, blank] and link["readOnly"] is True
    for component in ("Customer", "CustomerRequest"):
        assert blank in components[component]["properties"]["contact_email"]["oneOf"]


def test_a_subscription_change_documents_both_of_its_answers(schema):
    responses = schema["paths"]["/api/v1/billing/subscriptions/{id}/change/"]["post"]["responses"]

    assert {"200", "202"} <= set(responses)  # 200: same agreement; 202: a new checkout


@pytest.mark.parametrize("path", ["/api/v1/cloudflare-addons/%0AT/preview/", "/api/v1/x%0A", "/api/%0A"])
def test_an_unknown_api_url_with_a_newline_answers_in_the_error_shape(client, path):
    response = client.post(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"
