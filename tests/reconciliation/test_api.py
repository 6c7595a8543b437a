"""The reconciliation API: findings (list, detail, actions), runs (POST 202) and not-billed marks,
scoped to the token's partner; the permission matrix of every endpoint; constant queries."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.models import AuditEvent
from reconciliation.models import Finding, NotBilled, Run
from tests.factories import CustomerFactory, MembershipFactory
from tests.reconciliation.factories import contract_row, finding_for, mark_on, zone_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(partner, customer):
    contract = contract_row(customer)
    return {
        "contract": contract,
        "finding": finding_for(contract),
        "mark": mark_on(zone_row(customer, name="free.example")),
        "zone": zone_row(customer, name="paid.example"),
    }


def _as(api, partner, role):
    return api.as_user(MembershipFactory(partner=partner, role=role).user)


# (id, method, path, body, role lacking the right, role having it, expected status)
ENDPOINTS = [
    ("findings", "get", "/api/v1/reconciliation/findings/", None, None, "viewer", 200),
    ("finding", "get", "/api/v1/reconciliation/findings/{f}/", None, None, "viewer", 200),
    (
        "dismiss",
        "post",
        "/api/v1/reconciliation/findings/{f}/dismiss/",
        {"reason": "Known."},
        "viewer",
        "billing",
        200,
    ),
    (
        "mark-not-billed",
        "post",
        "/api/v1/reconciliation/findings/{f}/mark-not-billed/",
        {"reason": "Internal site."},
        "technician",
        "billing",
        200,
    ),
    ("runs", "get", "/api/v1/reconciliation/runs/", None, None, "viewer", 200),
    ("run", "post", "/api/v1/reconciliation/runs/", {}, "viewer", "billing", 202),
    ("marks", "get", "/api/v1/reconciliation/not-billed/", None, None, "viewer", 200),
    (
        "mark",
        "post",
        "/api/v1/reconciliation/not-billed/",
        {"target_type": "cloudflare_zone", "target_id": "{z}", "reason": "Our own zone."},
        "viewer",
        "billing",
        201,
    ),
    ("unmark", "post", "/api/v1/reconciliation/not-billed/{m}/unmark/", {}, "viewer", "billing", 200),
]
OWN_OBJECT = {"finding", "dismiss", "mark-not-billed", "mark", "unmark"}


def _fill(text, world):
    return (
        text.replace("{f}", str(world["finding"].pk))
        .replace("{m}", str(world["mark"].pk))
        .replace("{z}", str(world["zone"].pk))
    )


def _body(body, world):
    return {k: _fill(v, world) if isinstance(v, str) else v for k, v in (body or {}).items()}


def _call(client, method, path, body, world):
    return getattr(client, method)(_fill(path, world), _body(body, world), format="json")


def _state(world):
    finding = Finding.objects.get(pk=world["finding"].pk)
    return (
        finding.state,
        NotBilled.objects.filter(unmarked_at__isnull=True).count(),
        Run.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_anonymous_is_refused(api, world, endpoint):
    _, method, path, body, *_ = endpoint
    assert _call(api, method, path, body, world).status_code == 401


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e[0] in OWN_OBJECT], ids=lambda e: e[0])
def test_another_partners_object_is_not_found_and_unchanged(api, other_partner, world, endpoint):
    _, method, path, body, *_ = endpoint
    client = _as(api, other_partner, "owner")
    before = _state(world)
    response = _call(client, method, path, body, world)
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert _state(world) == before


@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e[4]], ids=lambda e: e[0])
def test_a_role_without_the_billing_right_is_refused_with_403_and_nothing_changes(
    api, partner, world, endpoint
):
    _, method, path, body, lacking, *_ = endpoint
    client = _as(api, partner, lacking)
    before = _state(world)
    response = _call(client, method, path, body, world)
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert _state(world) == before


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_the_right_role_succeeds(api, partner, world, endpoint):
    key, method, path, body, _, having, status = endpoint
    response = _call(_as(api, partner, having), method, path, body, world)
    assert response.status_code == status, response.content
    if key == "dismiss":
        assert response.json()["state"] == "dismissed"
    elif key == "mark-not-billed":
        assert response.json()["resolution"] == "marked_not_billed"
        assert NotBilled.objects.filter(
            target_id=str(world["contract"].pk), unmarked_at__isnull=True
        ).exists()
    elif key == "run":
        assert response.json()["state"] == "queued"
    elif key == "mark":
        assert response.json()["target_type"] == "cloudflare_zone" and response.json()["live"]


def test_lists_of_another_partner_show_none_of_ours(api, other_partner, world):
    client = _as(api, other_partner, "owner")
    for path in ("findings", "runs", "not-billed"):
        assert client.get(f"/api/v1/reconciliation/{path}/").json()["count"] == 0


def test_a_finding_shows_its_evidence_and_which_actions_apply(api, partner, world):
    body = _as(api, partner, "viewer").get(f"/api/v1/reconciliation/findings/{world['finding'].pk}/").json()
    assert body["kind"] == "provided_not_billed" and body["target_type"] == "acme_contract"
    assert body["evidence"]["differs"] == ["billed"]
    applies = {a["action"]: a["applies"] for a in body["actions"]}
    assert applies == {
        "adopt_vendor": False,
        "push_ours": True,
        "end_billing": False,
        "bill": True,
        "mark_not_billed": True,
        "dismiss": True,
    }


def test_a_blank_reason_is_a_field_error_and_nothing_changes(api, partner, world):
    client = _as(api, partner, "billing")
    before = _state(world)
    response = client.post(
        f"/api/v1/reconciliation/findings/{world['finding'].pk}/dismiss/", {"reason": " "}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "reason_required" and "reason" in response.json()["fields"]
    assert _state(world) == before


def test_an_action_that_does_not_apply_is_a_409_and_nothing_changes(api, partner, world):
    client = _as(api, partner, "billing")
    before = _state(world)
    response = client.post(
        f"/api/v1/reconciliation/findings/{world['finding'].pk}/end-billing/", {}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "action_not_applicable"
    assert _state(world) == before


def test_a_second_run_while_one_is_queued_is_refused(api, partner, world):
    client = _as(api, partner, "billing")
    assert client.post("/api/v1/reconciliation/runs/", {}, format="json").status_code == 202
    response = client.post("/api/v1/reconciliation/runs/", {}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "run_in_progress"
    assert Run.objects.count() == 1


def test_the_findings_filter_by_kind_and_state(api, partner, world):
    finding_for(
        contract_row(CustomerFactory(partner=partner)), kind="state_mismatch", rule="acme_renewal_mismatch"
    )
    client = _as(api, partner, "viewer")
    assert client.get("/api/v1/reconciliation/findings/?kind=state_mismatch").json()["count"] == 1
    assert client.get("/api/v1/reconciliation/findings/?state=dismissed").json()["count"] == 0


def _count(client, path) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_the_findings_list_runs_the_same_queries_for_one_finding_as_for_many(api, partner, world):
    finding_for(world["zone"], kind="price_mismatch", rule="price_mismatch")
    client = _as(api, partner, "viewer")
    _count(client, "/api/v1/reconciliation/findings/")  # the token's first use is recorded once
    one = _count(client, "/api/v1/reconciliation/findings/")
    for _ in range(6):
        other = CustomerFactory(partner=partner)
        finding_for(contract_row(other))
        finding_for(zone_row(other), kind="price_mismatch", rule="price_mismatch")
    assert _count(client, "/api/v1/reconciliation/findings/") == one
