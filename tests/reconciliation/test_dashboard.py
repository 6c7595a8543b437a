"""The reseller dashboard's reconciliation: the permission matrix of every page and button
(anonymous → sign-in, another partner → 404, a role without the right → 403 and nothing changed,
the right role → success), filters, the CSV, the home attention item, constant queries."""

import pytest
from django.urls import reverse

from core.models import AuditEvent
from reconciliation.models import Finding, NotBilled, Run
from tests.dashboard.helpers import count_queries
from tests.factories import CustomerFactory
from tests.reconciliation.factories import contract_row, finding_for, mark_on, zone_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(partner, customer):
    contract = contract_row(customer)
    return {
        "finding": finding_for(
            contract, summary="The ACME contract site.example is provided, but nothing bills it."
        ),
        "mark": mark_on(zone_row(customer, name="free.example")),
    }


def _finding(w):
    return [w["finding"].pk]


# (id, method, url name, args, POST data, role lacking the right, role having it, expected status)
PAGES = [
    ("list", "get", "dashboard:reconciliation", None, None, None, "viewer", 200),
    ("detail", "get", "dashboard:reconciliation-finding", _finding, None, None, "viewer", 200),
    (
        "dismiss",
        "post",
        "dashboard:reconciliation-action",
        lambda w: [w["finding"].pk, "dismiss"],
        {"reason": "Known: a test domain."},
        "viewer",
        "billing",
        302,
    ),
    ("run", "post", "dashboard:reconciliation-run", None, {}, "technician", "billing", 302),
    (
        "unmark",
        "post",
        "dashboard:reconciliation-unmark",
        lambda w: [w["mark"].pk],
        {},
        "viewer",
        "billing",
        302,
    ),
    ("export", "get", "dashboard:export", lambda w: ["reconciliation"], None, None, "viewer", 200),
]
OWN_OBJECT = {"detail", "dismiss", "unmark"}


def _url(world, name, args):
    return reverse(name, args=args(world) if args else None)


def _state(world):
    finding = Finding.objects.get(pk=world["finding"].pk)
    mark = NotBilled.objects.get(pk=world["mark"].pk)
    return (
        finding.state,
        finding.resolution,
        mark.unmarked_at,
        Run.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.mark.parametrize("page", PAGES, ids=[p[0] for p in PAGES])
def test_anonymous_is_sent_to_sign_in(client, world, page):
    _, method, name, args, data, *_ = page
    response = getattr(client, method)(_url(world, name, args), data or {})
    assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.parametrize("page", [p for p in PAGES if p[0] in OWN_OBJECT], ids=lambda p: p[0])
def test_another_partners_finding_or_mark_is_not_found_and_unchanged(login, other_partner, world, page):
    _, method, name, args, data, *_ = page
    before = _state(world)
    response = getattr(login("owner", other_partner), method)(_url(world, name, args), data or {})
    assert response.status_code == 404
    assert _state(world) == before


@pytest.mark.parametrize("page", [p for p in PAGES if p[5]], ids=lambda p: p[0])
def test_a_role_without_the_billing_right_is_refused_with_403_and_nothing_changes(
    login, partner, world, page
):
    _, method, name, args, data, lacking, *_ = page
    before = _state(world)
    response = getattr(login(lacking, partner), method)(_url(world, name, args), data or {})
    assert response.status_code == 403
    assert _state(world) == before


@pytest.mark.parametrize("page", PAGES, ids=[p[0] for p in PAGES])
def test_the_right_role_succeeds(login, partner, world, page):
    key, method, name, args, data, _, having, status = page
    response = getattr(login(having, partner), method)(_url(world, name, args), data or {})
    assert response.status_code == status
    if key == "dismiss":
        assert Finding.objects.get(pk=world["finding"].pk).state == "dismissed"
    elif key == "run":
        assert Run.objects.get().state == "queued"
    elif key == "unmark":
        assert not NotBilled.objects.get(pk=world["mark"].pk).live


def test_another_partner_sees_none_of_our_findings_on_the_list_or_in_the_csv(login, other_partner, world):
    client = login("owner", other_partner)
    assert client.get(reverse("dashboard:reconciliation")).context["rows"] == []
    csv = b"".join(
        client.get(reverse("dashboard:export", args=["reconciliation"])).streaming_content
    ).decode()
    assert "site.example" not in csv


def test_the_list_shows_the_evidence_and_only_the_actions_that_apply_to_the_billing_right(
    login, partner, world
):
    response = login("billing", partner).get(reverse("dashboard:reconciliation"))
    [row] = response.context["rows"]
    assert [a["action"] for a in row["actions"]] == ["push_ours", "bill", "mark_not_billed", "dismiss"]
    body = response.content.decode()
    assert 'data-testid="evidence"' in body and "Provided but not billed." in body
    viewer = login("viewer", partner).get(reverse("dashboard:reconciliation"))
    assert viewer.context["rows"][0]["actions"] == [] and "Run now" not in viewer.content.decode()


def test_a_blank_reason_is_refused_on_the_page_and_nothing_changes(login, partner, world):
    before = _state(world)
    url = reverse("dashboard:reconciliation-action", args=[world["finding"].pk, "dismiss"])
    response = login("billing", partner).post(url, {"reason": "  "})
    assert response.status_code == 400
    assert "Say why" in response.content.decode()
    assert _state(world) == before


def test_an_action_that_does_not_apply_is_refused_on_the_page(login, partner, world):
    url = reverse("dashboard:reconciliation-action", args=[world["finding"].pk, "end_billing"])
    response = login("billing", partner).post(url)
    assert response.status_code == 409 and "no billing to end" in response.content.decode()


def test_the_list_filters_by_kind_state_and_customer(login, partner, customer, world):
    other = finding_for(
        contract_row(CustomerFactory(partner=partner)), kind="state_mismatch", rule="acme_renewal_mismatch"
    )
    client = login("viewer", partner)

    def shown(**params):
        return [
            row["finding"].pk
            for row in client.get(reverse("dashboard:reconciliation"), params).context["rows"]
        ]

    assert set(shown()) == {world["finding"].pk, other.pk}
    assert shown(kind="state_mismatch") == [other.pk]
    assert shown(customer=customer.pk) == [world["finding"].pk]
    assert shown(state="dismissed") == []


def test_the_home_attention_list_counts_the_open_findings_and_links_to_the_page(login, partner, world):
    response = login("viewer", partner).get(reverse("dashboard:home"))
    [item] = [i for i in response.context["attention"] if i.title.startswith("Billing and vendors disagree")]
    assert "1 open finding" in item.title and "1 provided but not billed" in item.detail
    assert item.url == reverse("dashboard:reconciliation") + "?state=open"
    assert reverse("dashboard:reconciliation") in response.content.decode()  # in the navigation


def test_a_partner_with_no_open_finding_has_nothing_to_look_at(login, partner, world):
    Finding.objects.update(state="dismissed")
    response = login("viewer", partner).get(reverse("dashboard:home"))
    assert not [i for i in response.context["attention"] if i.title.startswith("Billing and vendors")]


def test_a_member_limited_to_some_customers_sees_only_their_findings(login, partner, world):
    mine = CustomerFactory(partner=partner)
    visible = finding_for(contract_row(mine))
    client = login("billing", partner)
    client.user.membership.customers.set([mine])
    assert [r["finding"].pk for r in client.get(reverse("dashboard:reconciliation")).context["rows"]] == [
        visible.pk
    ]
    url = reverse("dashboard:reconciliation-finding", args=[world["finding"].pk])
    assert client.get(url).status_code == 404


def _grow(partner, n):
    for _ in range(n):
        other = CustomerFactory(partner=partner)
        finding_for(contract_row(other))
        finding_for(zone_row(other), kind="price_mismatch", rule="price_mismatch")
        mark_on(zone_row(other))


@pytest.mark.parametrize("url_name", ["dashboard:reconciliation", "dashboard:export"])
def test_the_list_and_the_csv_run_the_same_queries_for_one_finding_as_for_many(
    login, partner, world, url_name
):
    # One finding per kind of vendor object (their objects are fetched one query per kind).
    finding_for(zone_row(CustomerFactory(partner=partner)), kind="price_mismatch", rule="price_mismatch")
    client = login("billing", partner)
    url = reverse(url_name, args=["reconciliation"] if url_name == "dashboard:export" else None)
    one = count_queries(client, url)
    _grow(partner, 6)
    assert count_queries(client, url) == one


def test_run_now_compares_with_the_vendors_and_the_page_shows_what_it_found(
    login, partner, contract, django_capture_on_commit_callbacks
):
    client = login("billing", partner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dashboard:reconciliation-run"))
    assert response.status_code == 302
    page = client.get(reverse("dashboard:reconciliation"))
    assert [row["finding"].rule for row in page.context["rows"]] == ["provided_not_billed"]
    assert page.context["latest_run"].state == "finished"
    csv = b"".join(
        client.get(reverse("dashboard:export", args=["reconciliation"])).streaming_content
    ).decode()
    assert "Provided but not billed" in csv and "nothing bills it" in csv
