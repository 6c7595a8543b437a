"""Every dashboard page and action: anonymous → sign-in, another partner → 404, a role without the
right → 403 (nothing changed), the right role → success."""

import pytest
from django.urls import reverse

from core.models import AuditEvent
from tests.factories import CustomerFactory, MembershipFactory, SubaccountFactory, operation_on

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world(partner, customer, contract):
    """One partner's objects: a customer with a live contract, a failed subaccount, a spare customer
    and a second member; the contract has a failed operation to retry."""
    failed = SubaccountFactory(customer=CustomerFactory(partner=partner), failed=True)
    operation_on(contract, kind="acme.sync", state="failed", last_error_code="http_503")
    return {
        "customer": customer,
        "spare": CustomerFactory(partner=partner),
        "contract": contract,
        "subaccount": contract.subaccount,
        "failed": failed,
        "member": MembershipFactory(partner=partner, role="viewer"),
    }


def _pk(key):
    return lambda w: [w[key].pk]


# (id, method, url name, args from the world, POST data, headers, role lacking the right, role having it, ok)
PAGES = [
    ("home", "get", "dashboard:home", None, None, {}, None, "viewer", 200),
    ("customers", "get", "dashboard:customers", None, None, {}, None, "viewer", 200),
    ("customer", "get", "dashboard:customer", _pk("customer"), None, {}, None, "viewer", 200),
    ("customer-add", "get", "dashboard:customer-add", None, None, {}, "technician", "admin", 200),
    (
        "customer-add-post",
        "post",
        "dashboard:customer-add",
        None,
        {"name": "New Co", "reference": "newco"},
        {},
        "billing",
        "admin",
        302,
    ),
    ("customer-edit", "get", "dashboard:customer-edit", _pk("customer"), None, {}, "viewer", "owner", 200),
    (
        "customer-delete",
        "post",
        "dashboard:customer-delete",
        _pk("spare"),
        {},
        {},
        "technician",
        "owner",
        302,
    ),
    (
        "subaccount-add",
        "get",
        "dashboard:subaccount-add",
        _pk("spare"),
        None,
        {},
        "billing",
        "technician",
        200,
    ),
    (
        "subaccount-retry",
        "post",
        "dashboard:subaccount-retry",
        _pk("failed"),
        {},
        {},
        "billing",
        "technician",
        302,
    ),
    (
        "subaccount-progress",
        "get",
        "dashboard:subaccount-progress",
        _pk("subaccount"),
        None,
        HX,
        None,
        "viewer",
        200,
    ),
    ("subscriptions", "get", "dashboard:subscriptions", None, None, {}, None, "viewer", 200),
    ("acme", "get", "dashboard:acme", _pk("contract"), None, {}, None, "viewer", 200),
    ("acme-order", "get", "dashboard:acme-order", _pk("customer"), None, {}, "billing", "technician", 200),
    ("acme-progress", "get", "dashboard:acme-progress", _pk("contract"), None, HX, None, "viewer", 200),
    ("acme-reveal", "post", "dashboard:acme-reveal", _pk("contract"), {}, {}, "viewer", "technician", 200),
    (
        "acme-regenerate",
        "get",
        "dashboard:acme-regenerate",
        _pk("contract"),
        None,
        {},
        "viewer",
        "technician",
        200,
    ),
    ("acme-cancel", "get", "dashboard:acme-cancel", _pk("contract"), None, {}, "billing", "technician", 200),
    ("acme-stop", "get", "dashboard:acme-stop", _pk("contract"), None, {}, "viewer", "technician", 200),
    ("acme-resume", "get", "dashboard:acme-resume", _pk("contract"), None, {}, "viewer", "admin", 200),
    (
        "acme-sans-add",
        "post",
        "dashboard:acme-sans-add",
        _pk("contract"),
        {"sans": "api.example.com"},
        {},
        "viewer",
        "technician",
        302,
    ),
    (
        "acme-sans-remove",
        "post",
        "dashboard:acme-sans-remove",
        _pk("contract"),
        {"san": "www.example.com"},
        {},
        "billing",
        "technician",
        302,
    ),
    ("acme-sync", "post", "dashboard:acme-sync", _pk("contract"), {}, {}, "viewer", "technician", 302),
    (
        "acme-drift",
        "post",
        "dashboard:acme-drift",
        _pk("contract"),
        {"field": "sans", "keep": "vendor"},
        {},
        "viewer",
        "technician",
        302,
    ),
    ("acme-retry", "post", "dashboard:acme-retry", _pk("contract"), {}, {}, "billing", "technician", 302),
    ("team", "get", "dashboard:team", None, None, {}, None, "viewer", 200),
    ("member-invite", "get", "dashboard:member-invite", None, None, {}, "admin", "owner", 200),
    (
        "member-invite-post",
        "post",
        "dashboard:member-invite",
        None,
        {"email": "new@member.test", "role": "viewer"},
        {},
        "technician",
        "owner",
        302,
    ),
    ("member-edit", "get", "dashboard:member-edit", _pk("member"), None, {}, "admin", "owner", 200),
    ("member-remove", "post", "dashboard:member-remove", _pk("member"), {}, {}, "admin", "owner", 302),
    ("member-resend", "post", "dashboard:member-resend", _pk("member"), {}, {}, "technician", "owner", 302),
    ("tokens", "get", "dashboard:tokens", None, None, {}, None, "viewer", 200),
    ("organization", "get", "dashboard:organization", None, None, {}, None, "viewer", 200),
    ("organization-edit", "get", "dashboard:organization-edit", None, None, {}, "technician", "admin", 200),
    ("credentials-edit", "get", "dashboard:credentials-edit", None, None, {}, "billing", "owner", 200),
    (
        "credentials-edit-post",
        "post",
        "dashboard:credentials-edit",
        None,
        {"cloudflare_api_token": "cf-new-token-123456"},
        {},
        "viewer",
        "admin",
        302,
    ),
    (
        "billing-payment-method",
        "post",
        "dashboard:billing-payment-method",
        _pk("customer"),
        {},
        {},
        "technician",
        "billing",
        302,
    ),
    ("export-customers", "get", "dashboard:export", lambda w: ["customers"], None, {}, None, "viewer", 200),
    (
        "export-subscriptions",
        "get",
        "dashboard:export",
        lambda w: ["subscriptions"],
        None,
        {},
        None,
        "viewer",
        200,
    ),
]


def _billing(key):
    """The world's customer's billing subscription `key`, made on first use (rows written directly):
    "billing_acme" provides the world's live ACME contract (inside DigiCert's 30 days),
    "billing_stopped" is renewed by the back office with its renewal stopped."""

    def args(w):
        if key not in w:
            from django.contrib.contenttypes.models import ContentType

            from billing.models import Provisions, RenewalEngine
            from subscriptions.acme.models import AcmeContract
            from tests import factories as bf

            plan = bf.plan("year", engine=RenewalEngine.BACK_OFFICE)
            partner = w["customer"].partner
            if key == "billing_acme":
                product = bf.product(partner, plan, provisions=Provisions.ACME_CONTRACT)
                w[key] = bf.subscription(
                    w["customer"],
                    product,
                    provisioned_type=ContentType.objects.get_for_model(AcmeContract),
                    provisioned_id=str(w["contract"].pk),
                )
            else:
                w[key] = bf.subscription(w["customer"], bf.product(partner, plan), ends_at_period_end=True)
        return [w[key].pk]

    return args


PAGES += [
    (
        "billing-subscription-cancel",
        "get",
        "dashboard:billing-subscription-cancel",
        _billing("billing_acme"),
        None,
        {},
        "technician",
        "billing",
        200,
    ),
    (
        "billing-subscription-cancel-post",
        "post",
        "dashboard:billing-subscription-cancel",
        _billing("billing_acme"),
        {},
        {},
        "viewer",
        "billing",
        302,
    ),
    (
        "billing-subscription-stop",
        "post",
        "dashboard:billing-subscription-stop",
        _billing("billing_acme"),
        {},
        {},
        "technician",
        "billing",
        302,
    ),
    (
        "billing-subscription-resume",
        "post",
        "dashboard:billing-subscription-resume",
        _billing("billing_stopped"),
        {},
        {},
        "viewer",
        "owner",
        302,
    ),
]
OBJECT_PAGES = [
    p for p in PAGES if p[3] is not None and p[0] not in ("export-customers", "export-subscriptions")
]
ROLE_PAGES = [p for p in PAGES if p[6] is not None]


def _call(client, method, name, args, data, headers, world):
    url = reverse(name, args=args(world) if args else None)
    return getattr(client, method)(url, data or {}, **headers)


@pytest.mark.parametrize("page", PAGES, ids=[p[0] for p in PAGES])
def test_anonymous_is_sent_to_sign_in(client, world, page):
    _, method, name, args, data, headers, *_ = page
    before = AuditEvent.objects.count()

    response = _call(client, method, name, args, data, headers, world)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("page", OBJECT_PAGES, ids=[p[0] for p in OBJECT_PAGES])
def test_another_partners_object_is_not_found_and_unchanged(stranger_client, world, page):
    _, method, name, args, data, headers, *_ = page
    before = AuditEvent.objects.count()

    response = _call(stranger_client, method, name, args, data, headers, world)

    assert response.status_code == 404
    assert b"not one of your customers" in response.content
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("page", ROLE_PAGES, ids=[p[0] for p in ROLE_PAGES])
def test_a_role_without_the_right_is_refused_with_403_and_nothing_changes(login, partner, world, page):
    _, method, name, args, data, headers, lacking, *_ = page
    client = login(lacking, partner)
    before = AuditEvent.objects.count()

    response = _call(client, method, name, args, data, headers, world)

    assert response.status_code == 403
    assert "does not allow this" in response.content.decode()
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("page", PAGES, ids=[p[0] for p in PAGES])
def test_the_right_role_succeeds(login, partner, world, page):
    _, method, name, args, data, headers, _, having, ok = page
    client = login(having, partner)

    response = _call(client, method, name, args, data, headers, world)

    assert response.status_code == ok


def test_lists_of_another_partner_show_none_of_our_customers(stranger_client, world):
    for name in ("dashboard:home", "dashboard:customers", "dashboard:subscriptions"):
        page = stranger_client.get(reverse(name)).content.decode()
        assert world["customer"].name not in page
        assert world["contract"].sans[0] not in page
    export = b"".join(stranger_client.get(reverse("dashboard:export", args=["customers"])).streaming_content)
    assert world["customer"].name.encode() not in export


def test_a_member_limited_to_some_customers_cannot_open_the_others(login, partner, world):
    client = login("technician", partner)
    client.user.membership.customers.set([world["spare"]])

    assert client.get(reverse("dashboard:customer", args=[world["spare"].pk])).status_code == 200
    assert client.get(reverse("dashboard:customer", args=[world["customer"].pk])).status_code == 404
    assert client.get(reverse("dashboard:acme", args=[world["contract"].pk])).status_code == 404
    listing = client.get(reverse("dashboard:customers")).content.decode()
    assert world["spare"].name in listing and world["customer"].name not in listing


def test_an_unknown_export_is_not_found(owner_client):
    assert owner_client.get(reverse("dashboard:export", args=["nothing"])).status_code == 404
