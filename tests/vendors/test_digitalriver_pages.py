"""Digital River sandbox: the Drop-in stand-in page, the ledger's admin page, the bank's controls."""

import io

import pytest
from django.core.management import CommandError, call_command

from tests.sandbox_helpers import dr_ledger, dr_new_card
from tests.vendors import dr as fixtures
from tests.vendors.dr import DR, fulfil, one_off, order_with_source, paid_order, recurring, saved_source
from vendors.sandbox.clock import sandbox_now
from vendors.sandbox.digitalriver.models import DRSource

api = fixtures.api  # the raw API fixture
pytestmark = pytest.mark.django_db
PAGE = f"{DR}/drop-in/payment-method/"
RETURN = "https://backoffice.example/billing/cards/return?token=abc"


# --- The Drop-in stand-in ("update payment method") --------------------------------------------------------


def test_the_payment_method_page_shows_a_card_form(api, customer_id, client):
    page = client.get(PAGE, {"customerId": customer_id, "returnUrl": RETURN})

    text = page.content.decode()
    assert page.status_code == 200 and "Drop-in" in text and customer_id in text
    assert 'name="last_four" value="1111"' in text and f'value="{sandbox_now().year + 3}"' in text


def test_the_payment_method_page_makes_a_reusable_card_not_saved_and_returns_its_id(api, customer_id, client):
    answer = client.post(
        f"{PAGE}?customerId={customer_id}&returnUrl={RETURN.replace('?', '%3F').replace('&', '%26')}",
        {"brand": "MasterCard", "last_four": "0008", "expiration_month": "5", "expiration_year": "2099"},
    )

    assert answer.status_code == 302
    source = DRSource.objects.get()
    assert answer["Location"] == f"{RETURN}&sourceId={source.pk}"
    body = api.get(f"/sources/{source.pk}")
    assert body["reusable"] is True and "customerId" not in body
    assert body["creditCard"] == {
        "brand": "MasterCard",
        "lastFourDigits": "0008",
        "expirationMonth": 5,
        "expirationYear": 2099,
    }
    assert "sources" not in api.get(f"/customers/{customer_id}")  # the merchant's server saves it
    assert api.post(f"/customers/{customer_id}/sources/{source.pk}")["customerId"] == customer_id


@pytest.mark.parametrize("return_url", ["javascript:alert(1)", "ftp://files.example/x", "/relative", ""])
def test_the_payment_method_page_refuses_a_return_url_that_is_not_http(api, customer_id, client, return_url):
    shown = client.get(PAGE, {"customerId": customer_id, "returnUrl": return_url})
    posted = client.post(f"{PAGE}?customerId={customer_id}", {"returnUrl": return_url, "last_four": "1111"})

    assert shown.status_code == posted.status_code == 400 and "http(s)" in shown.content.decode()
    assert not DRSource.objects.exists()


def test_the_payment_method_page_refuses_an_unknown_customer_and_a_bad_card(api, customer_id, client):
    unknown = client.get(PAGE, {"customerId": "nobody", "returnUrl": RETURN})
    expired = client.post(
        f"{PAGE}?customerId={customer_id}",
        {"returnUrl": RETURN, "last_four": "1111", "expiration_month": "1", "expiration_year": "2001"},
    )
    unreadable = client.post(f"{PAGE}?customerId={customer_id}", {"returnUrl": RETURN, "last_four": "12"})

    assert unknown.status_code == 400 and "No customer" in unknown.content.decode()
    assert expired.status_code == 400 and "expired" in expired.content.decode()
    assert unreadable.status_code == 400 and not DRSource.objects.exists()


def test_dr_new_card_is_what_the_drop_in_page_makes(api, customer_id):
    source = api.get(f"/sources/{dr_new_card(customer_id)}")

    assert source["reusable"] is True and "customerId" not in source


# --- The ledger in the admin ----------------------------------------------------------------------------


def test_the_ledger_admin_page_lists_filters_and_searches_and_is_read_only(
    admin_client, api, annual, customer_id
):
    order = paid_order(api, customer_id, [recurring(annual, subscription_id="sub-ledger"), one_off()])
    fulfil(api, order)
    entry = dr_ledger(kind="capture", subscription_id="sub-ledger").get()

    listing = admin_client.get("/admin/sandbox/drledgerentry/")
    captures = admin_client.get("/admin/sandbox/drledgerentry/", {"kind": "capture"})
    found = admin_client.get("/admin/sandbox/drledgerentry/", {"q": "sub-ledger"})
    by_order = admin_client.get("/admin/sandbox/drledgerentry/", {"q": order["id"]})
    by_customer = admin_client.get("/admin/sandbox/drledgerentry/", {"customer_id": customer_id})

    assert all(page.status_code == 200 for page in (listing, captures, found, by_order, by_customer))
    assert "authorization" in listing.content.decode()
    assert found.context["cl"].result_count == 2  # its authorization and its capture
    assert captures.context["cl"].result_count == 2 and by_order.context["cl"].result_count == 4
    assert admin_client.get(f"/admin/sandbox/drledgerentry/{entry.pk}/change/").status_code == 200
    assert admin_client.get("/admin/sandbox/drledgerentry/add/").status_code == 403
    admin_client.post(f"/admin/sandbox/drledgerentry/{entry.pk}/delete/", {"post": "yes"})
    assert dr_ledger(pk=entry.pk).exists()


# --- The bank's controls in the command ----------------------------------------------------------------------


def test_fail_payment_makes_the_next_charges_of_a_source_fail(api, customer_id):
    source = saved_source(customer_id)
    out = io.StringIO()

    call_command("sandbox_dr", "fail-payment", source=source, times=2, at="capture", stdout=out)

    assert "2 charge(s)" in out.getvalue()
    stored = DRSource.objects.get(pk=source)
    assert (stored.failing_charges, stored.failing_stage) == (2, "capture")
    call_command("sandbox_dr", "fail-payment", source=source, times=0, stdout=io.StringIO())
    assert DRSource.objects.get(pk=source).failing_charges == 0


def test_fail_payment_by_subscription_targets_its_source(api, annual, customer_id):
    paid_order(api, customer_id, [recurring(annual, subscription_id="sub-1")])
    subscription = api.post("/subscriptions/sub-1", {"state": "active"})

    call_command("sandbox_dr", "fail-payment", subscription="sub-1", stdout=io.StringIO())

    assert DRSource.objects.get(pk=subscription["sourceId"]).failing_charges == 1


def test_fail_payment_needs_a_source_or_an_activated_subscription(api, annual, customer_id):
    paid_order(api, customer_id, [recurring(annual, subscription_id="sub-1")])

    with pytest.raises(CommandError, match="either --source or --subscription"):
        call_command("sandbox_dr", "fail-payment")
    with pytest.raises(CommandError, match="no sourceId"):
        call_command("sandbox_dr", "fail-payment", subscription="sub-1")


def test_expire_card_makes_orders_answer_source_expired(api, customer_id):
    source = saved_source(customer_id)
    out = io.StringIO()

    call_command("sandbox_dr", "expire-card", source=source, stdout=out)

    assert "now expired" in out.getvalue()
    made = fixtures.checkout(api, customer_id, [one_off()], sourceId=source)
    assert api.refused("POST", "/orders", {"checkoutId": made["id"]}).code == "source_expired"


def test_new_source_makes_a_card_saved_or_single_use(api, customer_id):
    out = io.StringIO()

    call_command("sandbox_dr", "new-source", customer=customer_id, stdout=out)
    call_command("sandbox_dr", "new-source", single_use=True, stdout=out)

    saved, single = DRSource.objects.order_by("created_at", "id")
    assert {saved.customer_id, single.customer_id} == {customer_id, None}
    assert {source.reusable for source in (saved, single)} == {True, False}
    with pytest.raises(CommandError, match="No Digital River customer"):
        call_command("sandbox_dr", "new-source", customer="nobody")


def test_the_pay_command_pays_with_a_saved_source(api, annual, customer_id):
    source = saved_source(customer_id)
    made = fixtures.session(api, customer_id, [recurring(annual)])

    output = fixtures.pay(made["id"], source=source)

    assert f"source {source}" in output


def test_admin_expires_a_sources_card(admin_client, api, customer_id):
    source = saved_source(customer_id)

    admin_client.post("/admin/sandbox/drsource/", {"action": "expire", "_selected_action": [source]})

    order = fixtures.checkout(api, customer_id, [one_off()], sourceId=source)
    assert api.refused("POST", "/orders", {"checkoutId": order["id"]}).code == "source_expired"
    assert order_with_source(api, customer_id, [one_off()])["state"] == "accepted"
