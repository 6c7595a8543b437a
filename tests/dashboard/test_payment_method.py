"""Changing a customer's payment method from the dashboard: the button sends the billing member to
Digital River's Drop-in, which returns with `?sourceId=`; the return calls the billing service and
comes back with a message. The permission matrix; forged, stale or foreign return links change
nothing; the buttons only for the billing right."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from billing.models import RenewalEngine
from core.models import AuditEvent, Operation
from tests import factories as bf

pytestmark = pytest.mark.django_db
CHANGE_KIND = "dr.change_payment_method"


@pytest.fixture
def sub(customer):
    plan = bf.plan("year", plan_id="dr-annual", engine=RenewalEngine.DIGITAL_RIVER)
    product = bf.product(customer.partner, plan, name="ACME DV annual")
    return bf.subscription(customer, product, payment_source_id="src_0123456789abcdef")


@pytest.fixture
def start_url(customer):
    return reverse("dashboard:billing-payment-method", args=[customer.pk])


def _changed():
    return (
        Operation.objects.filter(kind=CHANGE_KIND).count(),
        AuditEvent.objects.filter(action__startswith="billing.payment_method").count(),
    )


def _return_url(response) -> str:
    """The return link the Drop-in was given, as a path on our site."""
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert response["Location"].startswith(settings.DIGITALRIVER_DROPIN_URL)
    back = parse_qs(location.query)["returnUrl"][0]
    assert back.startswith("http://testserver/")
    return urlsplit(back).path


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- The permission matrix ---------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in(client, sub, start_url, customer):
    before = _changed()
    for response in [
        client.post(start_url),
        client.get(
            reverse("dashboard:billing-payment-method-return", args=[customer.pk, "token"]),
            {"sourceId": "src_x"},
        ),
    ]:
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert _changed() == before


def test_another_partners_customer_is_not_found_and_nothing_changes(
    stranger_client, biller, sub, start_url, customer
):
    back = _return_url(biller.post(start_url))
    before = _changed()
    assert stranger_client.post(start_url).status_code == 404
    assert stranger_client.get(back, {"sourceId": "src_x"}).status_code == 404
    assert _changed() == before


@pytest.mark.parametrize("role", ["viewer", "technician"])
def test_a_role_without_the_billing_right_is_refused_and_nothing_changes(
    login, partner, biller, sub, start_url, role
):
    back = _return_url(biller.post(start_url))
    client = login(role, partner)
    before = _changed()
    response = client.post(start_url)
    assert response.status_code == 403 and "does not allow this" in response.content.decode()
    assert client.get(back, {"sourceId": "src_x"}).status_code == 403
    assert _changed() == before
    sub.refresh_from_db()
    assert sub.payment_source_id == "src_0123456789abcdef"


def test_the_button_is_a_post(biller, sub, start_url):
    assert biller.get(start_url).status_code == 405


# --- The round trip ----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["owner", "admin", "billing"])
def test_a_billing_member_goes_to_the_dropin_and_the_new_source_is_queued(
    login, partner, sub, start_url, customer, role
):
    client = login(role, partner)
    response = client.post(start_url)
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["customerId"] == [f"{customer.partner.slug}-{customer.reference}"]
    back = _return_url(response)

    response = client.get(back, {"sourceId": "src_new_card_42"}, follow=True)

    assert response.redirect_chain[0][0] == reverse("dashboard:customer", args=[customer.pk])
    assert any("New payment method received" in m for m in _messages(response))
    operation = Operation.objects.get(kind=CHANGE_KIND)
    assert operation.params == {"source_id": "src_new_card_42"} and operation.face == "dashboard"
    assert operation.requested_by == client.user
    assert AuditEvent.objects.filter(action="billing.payment_method_change_requested").count() == 1


def test_from_the_subscription_page_it_comes_back_to_the_subscription(biller, sub, start_url):
    back = _return_url(biller.post(start_url, {"subscription": sub.pk}))
    response = biller.get(back, {"sourceId": "src_new"})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard:billing-subscription", args=[sub.pk])


def test_a_return_without_a_source_is_refused_with_the_services_message(biller, sub, start_url):
    back = _return_url(biller.post(start_url))
    before = _changed()
    response = biller.get(back, follow=True)
    assert "A payment source id is needed." in _messages(response)
    assert _changed() == before


@pytest.mark.parametrize("how", ["forged", "other_user", "other_customer", "expired"])
def test_a_return_link_not_made_for_this_member_and_customer_changes_nothing(
    login, partner, biller, sub, start_url, second_customer, how
):
    back = _return_url(biller.post(start_url))
    client = biller
    if how == "forged":
        back = back.replace("/return/", "/return/x").rstrip("/") + "tampered/"
    elif how == "other_user":
        client = login("billing", partner)
    elif how == "other_customer":
        back = back.replace(f"/customers/{sub.customer_id}/", f"/customers/{second_customer.pk}/")
    before = _changed()
    if how == "expired":
        with time_machine.travel(timezone.now() + timedelta(hours=2), tick=False):
            response = client.get(back, {"sourceId": "src_evil"}, follow=True)
    else:
        response = client.get(back, {"sourceId": "src_evil"}, follow=True)
    assert response.status_code == 200
    assert any("not valid or has expired" in m for m in _messages(response))
    assert _changed() == before


# --- The buttons and what the pages show ------------------------------------------------------------


def test_the_customer_page_has_the_button_for_the_billing_right_only(
    login, partner, customer, sub, start_url
):
    assert (
        start_url
        in login("billing", partner).get(reverse("dashboard:customer", args=[customer.pk])).content.decode()
    )
    for role in ("viewer", "technician"):
        body = login(role, partner).get(reverse("dashboard:customer", args=[customer.pk])).content.decode()
        assert start_url not in body, role


def test_the_subscription_page_shows_the_card_masked_and_the_button(login, partner, sub, start_url):
    url = reverse("dashboard:billing-subscription", args=[sub.pk])
    body = login("billing", partner).get(url).content.decode()
    assert "Change payment method" in body and start_url in body
    assert "…abcdef" in body and "src_0123456789abcdef" not in body
    viewer = login("viewer", partner).get(url).content.decode()
    assert "…abcdef" in viewer and start_url not in viewer
