"""Access hardening (issue 11): staff reach the API only with a permission (defect 5), customer
limits never widen (defect 6), a subaccount name is bound to its customer (defect 7), a partner's
Cloudflare unit is its own (defect 13), and filters by foreign id tell nothing apart (defect 11).
Refusals change nothing; a probe runs over every API list route."""

from __future__ import annotations

import importlib
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import Permission
from django.urls import URLPattern, URLResolver, resolve, reverse
from rest_framework.test import APIClient

from core.actor import Actor, Face
from core.api.base import endpoint_model
from core.errors import ValidationFailed
from core.models import AuditEvent
from core.tokens import issue_api_token
from partner import selectors, services
from partner.models import Customer, Membership, Partner, Subaccount
from subscriptions.cloudflare.models import AddonState, CatalogPlan, CloudflareAddon, PlanScope
from tests import factories as billing
from tests.factories import (
    CustomerFactory,
    MembershipFactory,
    PartnerFactory,
    RunFactory,
    StaffFactory,
)
from tests.reconciliation.factories import contract_row, finding_for, mark_on, zone_row

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    _, key = issue_api_token(Actor.system(), user, "tests")
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def _written() -> tuple:
    return (
        Customer.objects.count(),
        Subaccount.objects.count(),
        Membership.objects.count(),
        AuditEvent.objects.count(),
    )


# --- Every API list route ---------------------------------------------------------------------


def _list_route_names() -> list[str]:
    from config import api_urls

    names: list[str] = []

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and pattern.name and pattern.name.endswith("-list"):
                names.append(pattern.name)

    walk(api_urls.urlpatterns)
    return sorted(set(names))


# The caller's own API tokens: not a partner's data, open to every signed-in user.
OWN_ROUTES = {"apitoken-list"}
LIST_ROUTES = [name for name in _list_route_names() if name not in OWN_ROUTES]


def _view_model(path: str):
    """The view behind a list path and the model it serves (as the staff gate finds it)."""
    match = resolve(path)
    view = match.func.cls(**match.func.initkwargs)
    view.request = SimpleNamespace(
        user=SimpleNamespace(is_staff=True, is_active=True, is_authenticated=True), query_params={}
    )
    view.kwargs, view.format_kwarg, view.action = {}, None, "list"
    return view, endpoint_model(view)


def _owner_of(obj) -> int | None:
    """The partner a row belongs to (None: the operator's, such as billing plans)."""
    for path in ("partner_id", "customer", "subscription"):
        value = getattr(obj, path, None)
        if value is None:
            continue
        return value if isinstance(value, int) else value.partner_id
    return None


def _world(partner: Partner) -> dict:
    """One row of every kind the API lists, for `partner`."""
    customer = CustomerFactory(partner=partner)
    contract = contract_row(customer)
    zone = zone_row(customer)
    addon = CloudflareAddon.objects.create(
        partner=partner,
        customer=customer,
        subaccount=zone.subaccount,
        rate_plan_id="PARTNERS_LOAD_BALANCING",
        state=AddonState.ACTIVE,
    )
    CatalogPlan.objects.create(
        partner=partner,
        rate_plan_id="PARTNERS_BIZ",
        name="Business",
        scope=PlanScope.ZONE,
        monthly_price=Decimal("200"),
    )
    product = billing.product(partner, billing.plan())
    subscription = billing.providing(zone, product)
    billing.notice(subscription, "reminder")
    finding_for(addon)
    mark_on(contract)
    RunFactory(partner=partner)
    return {"customer": customer, "contract": contract, "zone": zone, "subscription": subscription}


@pytest.fixture
def two_worlds(db):
    ours, theirs = PartnerFactory(), PartnerFactory()
    return {"ours": ours, "theirs": theirs, "our": _world(ours), "their": _world(theirs)}


def _rows(response) -> list[dict]:
    body = response.json()
    return body["results"] if isinstance(body, dict) and "results" in body else body


# --- Defect 5: staff reach the API only with a permission ------------------------------------


@pytest.mark.parametrize("route", LIST_ROUTES)
def test_defect5_staff_without_permissions_get_403_on_every_api_list_route(two_worlds, route):
    client = _client(StaffFactory(permissions=[]))

    response = client.get(reverse(route))

    assert response.status_code == 403, response.content
    assert response.json()["code"] == "staff_api_permission_required"


@pytest.mark.parametrize("route", LIST_ROUTES)
def test_defect5_staff_see_through_the_api_what_their_admin_view_permission_allows(two_worlds, route):
    path = reverse(route)
    _view, model = _view_model(path)
    codename = f"view_{model._meta.model_name}"
    staff = StaffFactory(permissions=[])
    staff.user_permissions.set(
        Permission.objects.filter(content_type__app_label=model._meta.app_label, codename=codename)
    )

    response = _client(staff).get(path, {"page_size": 200})

    assert response.status_code == 200, response.content
    owners = {_owner_of(model.objects.get(pk=row["id"])) for row in _rows(response) if "id" in row}
    theirs = two_worlds["theirs"].pk
    if model.objects.exists() and any(_owner_of(o) == theirs for o in model.objects.all()):
        assert theirs in owners  # staff act for every partner


def test_defect5_one_view_permission_opens_that_model_only(two_worlds):
    client = _client(StaffFactory(permissions=["view_customer"]))

    assert client.get("/api/v1/customers/").status_code == 200
    refused = client.get("/api/v1/subaccounts/")
    assert refused.status_code == 403 and refused.json()["code"] == "staff_api_permission_required"
    assert (
        client.get(f"/api/v1/subaccounts/{two_worlds['our']['contract'].subaccount_id}/").status_code == 403
    )


def test_defect5_the_change_permission_reads_as_in_the_admin(two_worlds):
    client = _client(StaffFactory(permissions=["change_customer"]))

    assert client.get("/api/v1/customers/").status_code == 200


def test_defect5_staff_without_permission_write_nothing(two_worlds):
    client = _client(StaffFactory(permissions=[]))
    customer = two_worlds["their"]["customer"]
    before = _written()

    created = client.post(
        "/api/v1/customers/", {"partner": customer.partner_id, "name": "X", "reference": "x"}, format="json"
    )
    changed = client.patch(f"/api/v1/customers/{customer.pk}/", {"name": "Changed"}, format="json")
    subaccount = client.post(
        "/api/v1/subaccounts/", {"customer": customer.pk, "vendor": "digicert"}, format="json"
    )

    assert [r.status_code for r in (created, changed, subaccount)] == [403, 403, 403]
    assert {r.json()["code"] for r in (created, changed, subaccount)} == {"staff_api_permission_required"}
    assert _written() == before
    customer.refresh_from_db()
    assert customer.name != "Changed"


def test_defect5_superusers_keep_every_route(two_worlds, superuser):
    client = _client(superuser)

    for route in LIST_ROUTES:
        assert client.get(reverse(route)).status_code == 200, route


# --- Cross-partner probe ------------------------------------------------------------------------


@pytest.mark.parametrize("route", LIST_ROUTES)
def test_cross_partner_probe_a_partner_token_never_sees_another_partners_rows(two_worlds, route):
    path = reverse(route)
    _view, model = _view_model(path)
    client = _client(MembershipFactory(partner=two_worlds["ours"], role="owner").user)

    response = client.get(path, {"page_size": 200})

    assert response.status_code == 200, response.content
    owners = [_owner_of(model.objects.get(pk=row["id"])) for row in _rows(response)]
    assert two_worlds["theirs"].pk not in owners
    scoped = [o for o in model.objects.all() if _owner_of(o) is not None]
    if scoped:  # a partner's model: our own rows are listed (the probe is not vacuous)
        assert two_worlds["ours"].pk in owners


# --- Defect 11: filters by foreign id tell nothing apart ----------------------------------------


def _foreign_id_filters(path: str) -> list[tuple[str, object]]:
    """(query parameter, related model) of every filter of the route that names a foreign key."""
    view, model = _view_model(path)
    fields = getattr(view, "filterset_fields", None) or []
    filterset = getattr(view, "filterset_class", None)
    names = list(fields) if fields else []
    if filterset is not None:
        names += [f.field_name for f in filterset.base_filters.values()]
    found = []
    for name in dict.fromkeys(names):
        try:
            field = model._meta.get_field(name)
        except Exception:
            continue
        if field.is_relation and field.many_to_one:
            found.append((name, field.related_model))
    return found


FILTER_CASES = [(route, name) for route in LIST_ROUTES for name, _ in _foreign_id_filters(reverse(route))]


def _probe_filter(two_worlds, route, name):
    path = reverse(route)
    related = dict(_foreign_id_filters(path))[name]
    theirs = next(
        o
        for o in related.objects.all()
        if (o.pk if related is Partner else _owner_of(o)) == two_worlds["theirs"].pk
    )
    missing = (related.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000
    client = _client(MembershipFactory(partner=two_worlds["ours"], role="owner").user)

    other_partners = client.get(path, {name: theirs.pk})
    absent = client.get(path, {name: missing})

    assert (other_partners.status_code, other_partners.json()) == (absent.status_code, absent.json())
    assert other_partners.status_code == 200 and _rows(other_partners) == []


@pytest.mark.parametrize("route,name", FILTER_CASES)
def test_defect11_another_partners_id_and_a_missing_id_answer_the_same(two_worlds, route, name):
    _probe_filter(two_worlds, route, name)


def test_defect11_an_own_id_still_filters_and_a_malformed_id_is_400_for_everyone(two_worlds):
    ours = two_worlds["our"]["contract"].subaccount
    client = _client(MembershipFactory(partner=two_worlds["ours"], role="owner").user)

    listed = {r["id"] for r in _rows(client.get("/api/v1/subaccounts/", {"customer": ours.customer_id}))}
    assert ours.pk in listed and listed == set(
        Subaccount.objects.filter(customer=ours.customer).values_list("pk", flat=True)
    )
    for bad in ("abc", "1.5", str(2**70)):
        response = client.get("/api/v1/subaccounts/", {"customer": bad})
        assert response.status_code == 400 and "customer" in response.json()["fields"], bad


def test_defect11_a_partner_filter_says_nothing_of_another_partner(two_worlds):
    client = _client(MembershipFactory(partner=two_worlds["ours"], role="owner").user)

    other = client.get("/api/v1/customers/", {"partner": two_worlds["theirs"].pk})
    missing = client.get("/api/v1/customers/", {"partner": 10**9})

    assert (other.status_code, other.json()) == (missing.status_code, missing.json()) == (200, missing.json())


# --- Defect 6: customer limits never widen ------------------------------------------------------


def _owner_actor(partner) -> Actor:
    return Actor(MembershipFactory(partner=partner, role="owner").user, Face.DASHBOARD)


def test_defect6_a_limited_member_whose_customers_are_deleted_sees_none(partner):
    owner = _owner_actor(partner)
    kept, limited_to = CustomerFactory(partner=partner), CustomerFactory(partner=partner)
    member = MembershipFactory(partner=partner, role="viewer")
    services.update_member(owner, member, role="viewer", customers=[limited_to])

    services.delete_customer(owner, limited_to)

    member = Membership.objects.get(pk=member.pk)
    actor = Actor(member.user, Face.API)
    assert member.limited_to_customers and not member.customers.exists()
    assert not selectors.customers_for(actor).exists()
    response = _client(member.user).get("/api/v1/customers/")
    assert response.status_code == 200 and _rows(response) == []
    assert _client(member.user).get(f"/api/v1/customers/{kept.pk}/").status_code == 404


def test_defect6_removing_the_last_customer_from_the_list_does_not_widen(partner, customer):
    member = MembershipFactory(partner=partner, role="viewer")
    member.customers.set([customer])
    member.customers.clear()

    member = Membership.objects.get(pk=member.pk)
    assert member.limited_to_customers
    assert not selectors.customers_for(Actor(member.user, Face.API)).exists()


def test_defect6_only_an_explicit_every_customer_lifts_the_limit(partner, customer):
    owner = _owner_actor(partner)
    member = MembershipFactory(partner=partner, role="viewer")
    services.update_member(owner, member, role="viewer", customers=[])
    assert not selectors.customers_for(Actor(Membership.objects.get(pk=member.pk).user, Face.API)).exists()

    services.update_member(owner, member, role="viewer", customers=None)

    member = Membership.objects.get(pk=member.pk)
    assert not member.limited_to_customers
    assert list(selectors.customers_for(Actor(member.user, Face.API))) == [customer]
    event = AuditEvent.objects.filter(action="member.updated").order_by("-id").first()
    assert event.changes["limited_to_customers"] == [True, False]


def test_defect6_the_migration_limits_members_that_have_a_list_today(partner, customer):
    migration = importlib.import_module(
        "partner.migrations.0004_membership_limited_and_unique_cloudflare_unit"
    )
    listed, everyone = MembershipFactory(partner=partner), MembershipFactory(partner=partner)
    listed.customers.set([customer])
    Membership.objects.update(limited_to_customers=False)  # as before the migration

    migration.limit_members_with_a_list(django_apps, None)

    assert Membership.objects.get(pk=listed.pk).limited_to_customers
    assert not Membership.objects.get(pk=everyone.pk).limited_to_customers


def _edit_member(client, member, **data):
    return client.post(reverse("dashboard:member-edit", args=[member.pk]), {"role": "viewer", **data})


def test_defect6_the_dashboard_member_form_keeps_editing_limits(client, partner, customer):
    client.force_login(MembershipFactory(partner=partner, role="owner").user)
    member = MembershipFactory(partner=partner, role="viewer")

    _edit_member(client, member, customers=[customer.pk])  # as before: ticking limits
    member.refresh_from_db()
    assert member.limited_to_customers and list(member.customers.all()) == [customer]

    _edit_member(client, member, access="some")  # only those ticked, none ticked: no customer
    member.refresh_from_db()
    assert member.limited_to_customers and not member.customers.exists()

    _edit_member(client, member, access="all")
    member.refresh_from_db()
    assert not member.limited_to_customers


def test_defect6_every_customer_with_customers_ticked_is_refused_and_changes_nothing(
    client, partner, customer
):
    client.force_login(MembershipFactory(partner=partner, role="owner").user)
    member = MembershipFactory(partner=partner, role="viewer")
    before = _written()

    response = _edit_member(client, member, access="all", customers=[customer.pk], role="admin")

    assert response.status_code == 200 and "customers" in response.context["form"].errors
    member.refresh_from_db()
    assert member.role == "viewer" and not member.limited_to_customers and _written() == before


def test_defect6_the_admin_refuses_a_list_on_an_unlimited_member_and_changes_nothing(
    client, superuser, partner, customer
):
    client.force_login(superuser)
    member = MembershipFactory(partner=partner, role="viewer")
    url = reverse("admin:partner_membership_change", args=[member.pk])
    form = {"user": member.user_id, "partner": partner.pk, "role": "viewer"}
    before = _written()

    refused = client.post(url, {**form, "customers": [customer.pk]})

    assert refused.status_code == 200 and "customers" in refused.context["adminform"].form.errors
    assert _written() == before and not Membership.objects.get(pk=member.pk).customers.exists()

    saved = client.post(url, {**form, "limited_to_customers": "on"})
    assert saved.status_code == 302
    member = Membership.objects.get(pk=member.pk)
    assert member.limited_to_customers and not selectors.customers_for(Actor(member.user, Face.API)).exists()


# --- Defect 7: the naming convention binds the name to its customer -----------------------------


@pytest.fixture
def northwind(sandbox):
    partner = PartnerFactory(slug="northwind", subaccount_naming_pattern="nw-{customer}")
    return {
        "partner": partner,
        "stark": CustomerFactory(partner=partner, reference="stark", name="Stark Logistics"),
        "initech": CustomerFactory(partner=partner, reference="initech", name="Initech"),
        "actor": _owner_actor(partner),
    }


@pytest.mark.parametrize(
    "name",
    [
        "nw-initech",  # another customer's name (a token matching anything accepts it)
        "nw-stark-extra",  # more after the reference (no end anchor accepts it)
        "nw-stark-",  # not even the shape
    ],
)
def test_defect7_a_name_not_this_customers_is_refused_and_changes_nothing(northwind, name):
    before = _written()

    with pytest.raises(ValidationFailed) as refusal:
        services.request_subaccount(northwind["actor"], northwind["stark"], "digicert", name)

    assert refusal.value.code in ("naming_customer_mismatch", "naming_convention_violated")
    assert "name" in refusal.value.fields
    assert _written() == before


def test_defect7_initechs_subaccount_cannot_take_starks_name_and_stark_keeps_it(northwind):
    before = _written()

    with pytest.raises(ValidationFailed) as refusal:
        services.request_subaccount(northwind["actor"], northwind["initech"], "digicert", "nw-stark")

    assert refusal.value.code == "naming_customer_mismatch"
    assert refusal.value.fields["name"] == ["Must be nw-initech for Initech (reference initech)."]
    assert _written() == before
    assert (
        services.request_subaccount(northwind["actor"], northwind["stark"], "digicert", "nw-stark").name
        == "nw-stark"
    )


def test_defect7_the_customers_own_name_is_accepted(northwind):
    assert (
        services.request_subaccount(northwind["actor"], northwind["stark"], "digicert", "nw-stark").name
        == "nw-stark"
    )
    assert (
        services.request_subaccount(northwind["actor"], northwind["initech"], "cloudflare").name
        == "nw-initech"
    )


def test_defect7_every_token_is_bound(sandbox):
    partner = PartnerFactory(slug="acme", subaccount_naming_pattern="{partner}-{customer}-{vendor}")
    stark = CustomerFactory(partner=partner, reference="stark")
    actor = _owner_actor(partner)

    for wrong in ("other-stark-digicert", "acme-stark-cloudflare", "acme-stark-x-digicert"):
        with pytest.raises(ValidationFailed):
            services.request_subaccount(actor, stark, "digicert", wrong)
    assert services.request_subaccount(actor, stark, "digicert", "acme-stark-digicert").pk


def test_defect7_the_api_answers_a_field_error_with_the_code(northwind):
    client = _client(northwind["actor"].user)
    before = _written()

    response = client.post(
        "/api/v1/subaccounts/",
        {"customer": northwind["stark"].pk, "vendor": "digicert", "name": "nw-initech"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["code"] == "naming_customer_mismatch" and "name" in response.json()["fields"]
    assert _written() == before


# --- Defect 13: a partner's Cloudflare unit is its own ------------------------------------------


@pytest.mark.parametrize("unit", ["unit-of-globex", "  unit-of-globex ", "UNIT-OF-GLOBEX"])
def test_defect13_an_owner_cannot_point_at_another_partners_cloudflare_unit(api, unit):
    PartnerFactory(cloudflare_unit_id="unit-of-globex")
    mine = PartnerFactory(cloudflare_unit_id="my-unit")
    client = _client(MembershipFactory(partner=mine, role="owner").user)
    events = AuditEvent.objects.count()

    response = client.patch(
        f"/api/v1/partners/{mine.pk}/", {"cloudflare_unit_id": unit, "city": "Elsewhere"}, format="json"
    )

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "cloudflare_unit_in_use"
    assert "cloudflare_unit_id" in response.json()["fields"]
    mine.refresh_from_db()
    assert (mine.cloudflare_unit_id, mine.city) == ("my-unit", "Springfield")
    assert AuditEvent.objects.count() == events


def test_defect13_an_unused_unit_and_an_empty_one_are_accepted(partner):
    PartnerFactory(cloudflare_unit_id="")
    actor = _owner_actor(partner)

    assert (
        services.update_partner_profile(actor, partner, cloudflare_unit_id=" new-unit ").cloudflare_unit_id
        == "new-unit"
    )
    assert services.update_partner_profile(actor, partner, cloudflare_unit_id="").cloudflare_unit_id == ""


def test_defect6_the_member_page_of_a_member_whose_customers_are_gone_keeps_the_limit():
    from django.test import Client

    from partner.models import Membership
    from tests.factories import CustomerFactory

    owner = MembershipFactory(role="owner")
    customer = CustomerFactory(partner=owner.partner)
    limited = MembershipFactory(partner=owner.partner, role="viewer")
    limited.customers.add(customer)
    customer.delete()
    client = Client()
    client.force_login(owner.user)
    page = client.get(reverse("dashboard:member-edit", args=[limited.pk]))
    assert page.context["form"].initial["access"] == "some"
    listing = client.get(reverse("dashboard:team")).content.decode()
    assert "No customers (limited)" in listing
    client.post(reverse("dashboard:member-edit", args=[limited.pk]), {"role": "viewer", "access": "some"})
    assert Membership.objects.get(pk=limited.pk).limited_to_customers


@pytest.mark.parametrize("country", ["5", "ZZ", "Germany"])
def test_defect12_a_country_outside_iso_3166_is_a_field_error_and_nothing_is_stored(partner, country):
    from partner import services as partner_services
    from partner.models import Customer

    with pytest.raises(ValidationFailed) as refused:
        partner_services.create_customer(
            Actor.system(), partner, name="Acme", reference="acme", country=country
        )
    assert "country" in refused.value.fields
    assert not Customer.objects.filter(reference="acme").exists()


def test_defect12_a_country_code_is_stored_upper_cased(partner):
    from partner import services as partner_services

    customer = partner_services.create_customer(
        Actor.system(), partner, name="Acme", reference="acme", country="de"
    )
    assert customer.country == "DE"


def test_defect12_a_fractional_customer_id_is_not_read_as_another(partner, customer):
    from partner.models import Subaccount

    client = _client(MembershipFactory(partner=partner, role="owner").user)
    response = client.post(
        "/api/v1/subaccounts/", {"customer": customer.pk + 0.5, "vendor": "digicert"}, format="json"
    )
    assert response.status_code == 400 and "customer" in response.json()["fields"]
    assert not Subaccount.objects.exists()
