"""core.validation, pinned where `make mutate` found changes no test noticed: the exact refusal
(message, code, field) a bad country or an invalid model gives, and the model validator's text."""

import pytest
from django.core.exceptions import ValidationError

from core.errors import ValidationFailed
from core.validation import check_country, full_clean_or_refuse, validate_country_code
from partner.models import Partner


def test_a_bad_country_is_refused_on_its_field_with_its_code_and_message():
    with pytest.raises(ValidationFailed) as refusal:
        check_country("zz")
    assert refusal.value.code == "invalid_country"
    assert refusal.value.message == "'zz' is not an ISO 3166-1 alpha-2 country code."
    assert refusal.value.fields == {"country": ["An ISO 3166-1 alpha-2 code, e.g. US or DE."]}


def test_a_missing_country_is_refused_as_blank_not_as_a_placeholder():
    with pytest.raises(ValidationFailed) as refusal:
        check_country(None, field="org.country")
    assert refusal.value.message == "None is not an ISO 3166-1 alpha-2 country code."
    assert list(refusal.value.fields) == ["org.country"]
    assert check_country(" de ") == "DE"


def test_the_model_validator_names_the_bad_code():
    validate_country_code("")
    validate_country_code("us")
    with pytest.raises(ValidationError) as error:
        validate_country_code("ZZ")
    assert error.value.messages == ["'ZZ' is not an ISO 3166-1 alpha-2 country code (e.g. US, DE)."]


@pytest.mark.django_db
def test_an_invalid_model_is_refused_with_its_field_errors_and_one_message():
    partner = Partner(name="Acme", slug="Not A Slug", country="ZZ")
    with pytest.raises(ValidationFailed) as refusal:
        full_clean_or_refuse(partner)
    assert refusal.value.message == "Some fields are invalid."
    assert {"slug", "country"} <= set(refusal.value.fields)


@pytest.mark.django_db
def test_excluded_fields_are_not_checked():
    full_clean_or_refuse(Partner(name="Acme", slug="acme", country="ZZ"), exclude=["country"])


def test_an_error_without_fields_is_reported_as_non_field_errors():
    class Whole:
        def full_clean(self, exclude=None):
            raise ValidationError("The whole object is wrong.")

    with pytest.raises(ValidationFailed) as refusal:
        full_clean_or_refuse(Whole())
    assert refusal.value.fields == {"non_field_errors": ["The whole object is wrong."]}
