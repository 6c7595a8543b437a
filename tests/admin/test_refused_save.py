"""A save the service refuses is a message on the same page, never a 500, and nothing is written."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import AuditEvent
from partner.models import Customer
from tests.factories import SubaccountFactory

pytestmark = pytest.mark.django_db


def _posted_back(page) -> dict:
    """The change page's own values (the main form and every inline), as a browser would post them."""
    data = {}
    form = page.context["adminform"].form
    for name in form.fields:
        value = form[name].value()
        data[name] = "" if value is None else value
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        data |= {
            f"{formset.prefix}-TOTAL_FORMS": len(formset.forms),
            f"{formset.prefix}-INITIAL_FORMS": len(formset.initial_forms),
            f"{formset.prefix}-MIN_NUM_FORMS": 0,
            f"{formset.prefix}-MAX_NUM_FORMS": 1000,
        }
        for index, inline_form in enumerate(formset.forms):
            for name in inline_form.fields:
                value = inline_form[name].value()
                data[f"{formset.prefix}-{index}-{name}"] = "" if value is None else value
    return data


def test_a_refused_customer_save_with_its_inlines_is_a_message_not_a_500(client, superuser, customer):
    SubaccountFactory(customer=customer, partner=customer.partner)  # the reference is now locked
    url = reverse("admin:partner_customer_change", args=[customer.pk])
    client.force_login(superuser)
    data = _posted_back(client.get(url))
    events_before = AuditEvent.objects.count()

    refused = client.post(url, {**data, "reference": "renamed", "name": "Renamed Ltd"}, follow=True)

    assert refused.status_code == 200
    assert "customer_reference_locked" in refused.content.decode()
    customer.refresh_from_db()
    assert customer.reference != "renamed" and customer.name != "Renamed Ltd"
    assert AuditEvent.objects.count() == events_before
    assert not Customer.objects.filter(reference="renamed").exists()
