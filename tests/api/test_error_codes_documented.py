"""Each API operation documents exactly the error codes it can answer, per status (issue 14).

The codes come from the source (core/api/error_docs.py); these tests keep them honest:

- every error answer the whole test suite gets from the API is documented for its operation and
  status (tests/conftest.py records them and fails the test otherwise; checked here on purpose
  with a sample of refusals per app, and with an answer no operation documents);
- every registered code is documented by at least one operation, or listed in NOT_API_CODES with
  the reason no operation answers it (and then documented by none).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.api.error_docs import GENERIC, GENERIC_BODY, NOT_API_CODES, answers, operation_codes
from core.error_codes import all_codes
from tests import factories
from tests.api.error_answers import documented_codes, operation_of, schema, undocumented
from tests.factories import (
    AcmeContractFactory,
    CloudflareZoneFactory,
    CustomerFactory,
    FindingFactory,
    MembershipFactory,
    SubaccountFactory,
)

pytestmark = pytest.mark.django_db


def _documented() -> dict[str, set[str]]:
    """Code -> the operations ("POST /path 409") that document it."""
    found: dict[str, set[str]] = {}
    for path, item in schema()["paths"].items():
        for method, operation in item.items():
            for status in operation["responses"]:
                if status.startswith("4"):
                    for code in documented_codes(operation, int(status)):
                        found.setdefault(code, set()).add(f"{method.upper()} {path} {status}")
    return found


def test_every_registered_code_is_documented_by_an_operation_or_said_not_to_be_an_api_code():
    documented = _documented()
    registered = all_codes()

    missing = [code for code in registered if code not in documented and code not in NOT_API_CODES]
    assert not missing, f"Document these, or list them in NOT_API_CODES with the reason: {missing}"
    assert [code for code in NOT_API_CODES if code not in registered] == []
    wrongly = {code: sorted(documented[code]) for code in NOT_API_CODES if code in documented}
    assert not wrongly, f"Documented, yet listed as not an API code: {wrongly}"
    assert all(reason.strip() for reason in NOT_API_CODES.values())


def test_the_acme_cancel_documents_exactly_its_codes_per_status():
    _, operation = operation_of("POST", "/api/v1/acme-contracts/1/cancel/")

    assert documented_codes(operation, 409) == [
        "operation_in_progress",
        "cancel_window_closed",
        "illegal_transition",  # core.states.move refuses what the contract's table does not allow
        "contract_cancelled",
        "contract_not_active",
    ]
    assert documented_codes(operation, 404) == ["not_found"]
    assert documented_codes(operation, 403) == ["permission_denied", "staff_api_permission_required"]
    assert documented_codes(operation, 400) == ["invalid"]  # no body: no parse errors
    assert "415" not in operation["responses"]


def test_a_list_documents_only_the_generic_codes_and_no_409():
    _, operation = operation_of("GET", "/api/v1/acme-contracts/")

    assert {status: documented_codes(operation, status) for status in GENERIC} == {
        status: list(map(str, codes)) for status, codes in GENERIC.items()
    }
    assert "409" not in operation["responses"]


def test_a_body_taking_operation_documents_the_parsers_codes_and_415():
    _, operation = operation_of("POST", "/api/v1/cloudflare-zones/")

    assert set(map(str, GENERIC_BODY[400])) <= set(documented_codes(operation, 400))
    assert documented_codes(operation, 415) == ["unsupported_media_type"]
    assert "zone_exists" in documented_codes(operation, 409)


def test_an_answer_the_schema_does_not_document_is_reported():
    problems = undocumented(
        [
            ("POST", "/api/v1/customers/", 409, "cancel_window_closed"),
            ("GET", "/api/v1/no-such-thing/", 404, "not_found"),
            ("GET", "/api/v1/customers/", 405, "method_not_allowed"),  # not an API code: skipped
            ("POST", "/api/v1/acme-contracts/7/cancel/", 409, "cancel_window_closed"),  # documented
        ]
    )

    assert problems == [
        "POST /api/v1/customers/: 409 `cancel_window_closed` is not documented (it lists nothing)",
        "GET /api/v1/no-such-thing/: 404 not_found, and the schema has no such operation",
    ]


def test_a_code_the_walk_cannot_see_is_declared_next_to_the_view():
    class View:
        @answers({409: ["zone_exists"]})
        def post(self, request):
            return None

    assert operation_codes(View, "post", takes_body=False)[409] == ["zone_exists"]


# --- A sample of refusals per app, each documented for its operation and status ------------------


@pytest.fixture
def member(api):
    owner = MembershipFactory(role="owner").user
    client = api.as_user(owner)
    client.partner = owner.membership.partner
    return client


def _refused(client, method, path, body=None):
    response = getattr(client, method.lower())(path, body, format="json")
    code = response.json()["code"]
    found = operation_of(method, path)
    assert found is not None, f"{method} {path} is not in the schema"
    assert code in documented_codes(found[1], response.status_code), (
        f"{method} {found[0]}: {response.status_code} {code}"
    )
    return response.status_code, code


def test_partner_refusals_are_documented(member, api):
    customer = CustomerFactory(partner=member.partner)
    SubaccountFactory(customer=customer, active=True)
    others = CustomerFactory()

    assert _refused(member, "POST", "/api/v1/customers/", {"name": ""}) == (400, "invalid")
    delete = _refused(member, "DELETE", f"/api/v1/customers/{customer.pk}/")
    assert delete == (409, "customer_has_subaccounts")
    another_partners = _refused(member, "GET", f"/api/v1/customers/{others.pk}/")
    assert another_partners == (404, "not_found")
    api.credentials()
    assert _refused(api, "GET", "/api/v1/customers/") == (401, "not_authenticated")


def test_acme_refusals_are_documented(member):
    customer = CustomerFactory(partner=member.partner)
    subaccount = SubaccountFactory(customer=customer, active=True)
    cancelled = AcmeContractFactory(subaccount=subaccount, cancelled=True)

    assert _refused(member, "POST", f"/api/v1/acme-contracts/{cancelled.pk}/cancel/") == (
        409,
        "contract_cancelled",
    )
    assert _refused(member, "POST", "/api/v1/acme-contracts/999999/cancel/") == (404, "not_found")
    assert _refused(member, "POST", f"/api/v1/acme-contracts/{cancelled.pk}/sans/", {"sans": []}) == (
        400,
        "invalid",
    )


def test_cloudflare_refusals_are_documented(member):
    customer = CustomerFactory(partner=member.partner)
    zone = CloudflareZoneFactory(
        subaccount=SubaccountFactory(customer=customer, vendor="cloudflare", active=True, name="cf-acct-x"),
        active=True,
    )

    duplicate = {"customer": customer.pk, "name": zone.name}
    assert _refused(member, "POST", "/api/v1/cloudflare-zones/", duplicate) == (409, "zone_exists")
    assert _refused(member, "POST", f"/api/v1/cloudflare-zones/{zone.pk}/retry/") == (409, "not_retryable")


def test_billing_and_reconciliation_refusals_are_documented(member):
    customer = CustomerFactory(partner=member.partner)
    subscription = factories.subscription(customer, factories.product(member.partner, factories.plan()))
    contract = AcmeContractFactory(subaccount=SubaccountFactory(customer=customer, active=True), active=True)
    finding = FindingFactory(target=contract, resolved=True, resolved_at=timezone.now() - timedelta(days=1))

    path = f"/api/v1/billing/subscriptions/{subscription.pk}/cancel-downgrade/"
    assert _refused(member, "POST", path) == (409, "no_downgrade_scheduled")
    path = f"/api/v1/reconciliation/findings/{finding.pk}/adopt-vendor/"
    assert _refused(member, "POST", path) == (409, "finding_not_open")


def test_the_suite_records_each_error_answer_of_the_api(member, _error_answers_are_documented):
    member.get("/api/v1/customers/999999/")

    assert ("GET", "/api/v1/customers/999999/", 404, "not_found") in _error_answers_are_documented
