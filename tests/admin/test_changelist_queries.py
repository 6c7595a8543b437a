"""Every registered admin changelist costs the same number of queries at 5 rows as at 50.

Rows come from model_bakery: each row gets its own related objects, so a column that reads a
relation per row (or anything else done per row) shows up as a difference between the counts.
"""

from __future__ import annotations

import uuid

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from model_bakery import baker

from core import operations
from partner.models import Customer
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHANGELISTS = sorted(admin.site._registry, key=lambda model: model._meta.label)


# Rows that point at "any object" (content type + id) point at a real customer each.
GENERIC_TARGETS = {
    "core.Operation": ("content_type", "object_id"),
    "core.AuditEvent": ("content_type", "object_id"),
    "reconciliation.NotBilled": ("target_type", "target_id"),
    "reconciliation.Finding": ("target_type", "target_id"),
}


def _make(model, quantity: int) -> None:
    """`quantity` valid rows of `model`, every optional field and relation filled."""
    label = model._meta.label
    if label in ("django_q.Success", "django_q.Failure"):  # proxies of Task, with pickled fields
        for _ in range(quantity):  # the id is a plain text primary key, left empty by baker
            baker.make("django_q.Task", id=uuid.uuid4().hex, success=label == "django_q.Success")
    elif label in GENERIC_TARGETS:
        type_field, id_field = GENERIC_TARGETS[label]
        # An operation is of a registered kind, and a step of no change.
        extra = (
            {"kind": next(iter(operations._HANDLERS)), "parent": None} if label == "core.Operation" else {}
        )
        for customer in baker.make(Customer, _quantity=quantity):
            baker.make(
                model,
                _fill_optional=True,
                **{type_field: ContentType.objects.get_for_model(Customer), id_field: str(customer.pk)},
                **extra,
            )
    elif label == "sandbox.DigiCertAccountSetting":  # owned by a partner key or a subaccount, not both
        baker.make(model, subaccount=None, _quantity=quantity, _fill_optional=["partner_key"])
    else:
        baker.make(model, _quantity=quantity, _fill_optional=True)


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return len(captured)


@pytest.mark.parametrize("model", CHANGELISTS, ids=lambda model: model._meta.label)
def test_changelist_queries_do_not_grow_with_rows(client, model):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    _make(model, 5)
    at_five = _queries(client, url)
    _make(model, 45)
    at_fifty = _queries(client, url)
    assert model._default_manager.count() >= 50
    assert at_fifty == at_five, f"{model._meta.label}: {at_five} queries at 5 rows, {at_fifty} at 50"
