"""The subaccount naming convention as a composite rule (partner.models.Partner.naming_regex and
partner.services._check_subaccount_name): the whole name is the convention, nothing before or
after it; each unbound {token} is one slug-like word that never swallows the convention's literal
separators; and bound to a customer, {customer} is that customer's reference and no other's.

Through the service (request_subaccount): a refused name creates nothing, with the code that says
which part of the rule it broke (`naming_convention_violated` for the shape,
`naming_customer_mismatch` for another customer's reference)."""

import pytest

from core.errors import ValidationFailed
from partner import services
from partner.models import Subaccount
from tests.conftest import system_actor
from tests.factories import CustomerFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(sandbox):
    """A partner `acme` naming DigiCert subaccounts {partner}-{customer}, with customers `globex`,
    `globex-eu` (whose reference starts with the other's) and `initech`."""
    partner = PartnerFactory(slug="acme", subaccount_naming_pattern="{partner}-{customer}")
    return {
        "partner": partner,
        "globex": CustomerFactory(partner=partner, reference="globex"),
        "globex_eu": CustomerFactory(partner=partner, reference="globex-eu"),
        "initech": CustomerFactory(partner=partner, reference="initech"),
    }


def _refused(customer, name, vendor="digicert"):
    with pytest.raises(ValidationFailed) as refused:
        services.request_subaccount(system_actor(), customer, vendor, name)
    assert not Subaccount.objects.filter(customer=customer).exists()
    assert "name" in refused.value.fields
    return refused.value


def _accepted(customer, name, vendor="digicert"):
    subaccount = services.request_subaccount(system_actor(), customer, vendor, name)
    assert subaccount.name == name
    return subaccount


# --- the whole name: nothing after (or before) a valid one ---------------------------------------


@pytest.mark.parametrize("name", ["acme-globex", "acme-globex-eu"])
def test_each_customers_own_name_is_accepted(acme, name):
    customer = acme["globex"] if name == "acme-globex" else acme["globex_eu"]
    _accepted(customer, name)


@pytest.mark.parametrize(
    "name",
    [
        "acme-globex-old",  # a valid name, then a further word
        "acme-globexx",  # a valid name, then more letters
        "acme-globex-",  # a valid name, then a separator
        "acme-globex.example",
        "acme-globex acme-initech",
        "old-acme-globex",  # something before a valid name
        "xacme-globex",
    ],
)
def test_a_valid_name_with_extra_text_is_refused(acme, name):
    error = _refused(acme["globex"], name)
    assert error.code in {"naming_convention_violated", "naming_customer_mismatch"}
    assert "'acme-globex'" in error.message  # says which name to use


def test_extra_text_after_a_valid_name_is_refused_also_with_a_literal_suffix(sandbox):
    partner = PartnerFactory(slug="acme", subaccount_naming_pattern="{customer}.{partner}.{vendor}")
    customer = CustomerFactory(partner=partner, reference="globex")
    _refused(customer, "globex.acme.digicert.backup")
    _refused(customer, "globex.acme.digicertx")
    _accepted(customer, "globex.acme.digicert")


def test_the_shape_alone_is_anchored_at_both_ends(acme):
    shape = acme["partner"].naming_regex()
    assert shape.match("acme-globex") and shape.match("acme-globex-eu")
    for name in (
        "acme-globex!",
        "acme-globex/x",
        "acme-globex_x",
        "acme-Globex",
        " acme-globex",
        "acme-globex\n",
    ):
        assert not shape.match(name), name


def test_the_bound_convention_is_anchored_at_both_ends(acme):
    bound = acme["partner"].naming_regex(acme["globex"], "digicert")
    assert bound.match("acme-globex")
    for name in ("acme-globex-eu", "acme-globexx", "acme-globex\n", "xacme-globex"):
        assert not bound.match(name), name


# --- the {customer} token: this customer's reference, no other's ---------------------------------


def test_another_customers_reference_is_refused_as_a_mismatch(acme):
    error = _refused(acme["globex"], "acme-initech")
    assert error.code == "naming_customer_mismatch"
    assert "'globex'" in error.message and "'acme-globex'" in error.message
    # ... and the name stays free for its own customer
    _accepted(acme["initech"], "acme-initech")


def test_a_reference_that_extends_this_customers_is_another_customers(acme):
    """`globex-eu` starts with `globex`: a match on a prefix would give globex the other's name."""
    error = _refused(acme["globex"], "acme-globex-eu")
    assert error.code == "naming_customer_mismatch"
    error = _refused(acme["globex_eu"], "acme-globex")
    assert error.code == "naming_customer_mismatch"


def test_another_partners_slug_is_refused_as_a_mismatch(acme):
    error = _refused(acme["globex"], "initech-globex")
    assert error.code == "naming_customer_mismatch"


# --- an unbound token is one slug-like word: it never spans a separator --------------------------


@pytest.mark.parametrize(
    "name",
    [
        "acme_globex_x",  # the token would swallow the convention's separator and more
        "acme_globex_",
        "acme__globex",
        "acme_glo_bex",
    ],
)
def test_a_token_never_spans_the_conventions_separator(sandbox, name):
    partner = PartnerFactory(slug="acme", subaccount_naming_pattern="{partner}_{customer}")
    customer = CustomerFactory(partner=partner, reference="globex")
    error = _refused(customer, name)
    assert error.code == "naming_convention_violated"  # the shape is broken, not just the customer
    _accepted(customer, "acme_globex")


def test_the_shape_keeps_tokens_apart_at_their_separator(sandbox):
    partner = PartnerFactory(slug="acme", subaccount_naming_pattern="{partner}_{customer}_{vendor}")
    shape = partner.naming_regex()
    assert shape.match("acme_globex_digicert") and shape.match("acme_globex-eu_cloudflare")
    for name in ("acme_glo_bex_digicert", "acme_globex_digicert_x", "acme__digicert", "acme_globex_"):
        assert not shape.match(name), name


@pytest.mark.parametrize("name", ["acme-Globex", "acme-glo bex", "acme-globex!", "acme-glo.bex", "acme-"])
def test_a_token_is_one_slug_like_word(acme, name):
    error = _refused(acme["globex"], name)
    assert error.code == "naming_convention_violated"
    assert "{partner}-{customer}" in error.message


def test_a_cloudflare_name_under_a_vendor_token_is_bound_to_the_vendor(sandbox):
    partner = PartnerFactory(slug="acme", subaccount_naming_pattern="{partner}-{customer}-{vendor}")
    customer = CustomerFactory(partner=partner, reference="globex")
    error = _refused(customer, "acme-globex-digicert", vendor="cloudflare")
    assert error.code == "naming_customer_mismatch"
    _refused(customer, "acme-globex-cloudflare-2", vendor="cloudflare")
    _accepted(customer, "acme-globex-cloudflare", vendor="cloudflare")
