"""Support staff schedule a downgrade from the billing subscription's admin page, as the dashboard
and API do: one service, the same agreement, the lower price from the end of the paid period (counted
on the sandbox's ledger); a refusal is an admin error message with nothing changed; only staff with
the billing permission; and the scheduled downgrade can be cancelled before it takes effect."""

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from billing.models import BillingSubscription
from billing.services import changes
from billing.services.acquisition import OrderLine
from billing.tasks import fulfil_ready_orders_task, run_renewals_task
from core.models import AuditEvent
from tests.conftest import system_actor
from tests.factories import MembershipFactory, StaffFactory
from tests.sandbox_helpers import advance_vendor_clock, dr_captures_by_subscription, vendor_request_count

pytestmark = pytest.mark.django_db


@pytest.fixture
def billed_zone(checkout, pay, zone_product, pro_zone_product, add_zone):
    """A zone on PARTNERS_BIZ at 250.00 a month, billed by the back office; Pro at 100.00 is cheaper."""
    zone = add_zone()
    pay(checkout(OrderLine(zone_product, options={"zone": zone.pk})))
    return BillingSubscription.objects.get()


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def _change_page(client, subscription) -> str:
    return client.get(
        reverse("admin:billing_billingsubscription_change", args=[subscription.pk])
    ).content.decode()


def _action(client, action, subscription, *, confirm=False, **data):
    data = {"action": action, "_selected_action": [subscription.pk], **data}
    if confirm:
        data["_confirm"] = "yes"
    return client.post(reverse("admin:billing_billingsubscription_changelist"), data, follow=confirm)


def _schedule(client, subscription, product):
    return _action(client, "schedule_downgrade_selected", subscription, confirm=True, product=product.pk)


def _unchanged(subscription):
    subscription.refresh_from_db()
    return (
        subscription.scheduled_change,
        subscription.product_id,
        subscription.price,
        AuditEvent.objects.count(),
        vendor_request_count(),
    )


def _renew_over_the_period_end(run_tasks):
    run_tasks(advance_vendor_clock, days=32)
    run_tasks(run_renewals_task)
    run_tasks(fulfil_ready_orders_task)


def _charged(subscription) -> list[Decimal]:
    return [amount for _, amount in dr_captures_by_subscription()[subscription.subscription_id]]


def test_the_form_page_says_when_and_at_which_price_and_changes_nothing(admin_client, billed_zone):
    page = _change_page(admin_client, billed_zone)
    assert 'value="schedule_downgrade_selected"' in page and "Schedule downgrade" in page
    assert "Scheduled downgrade" in page and "None." in page
    before = _unchanged(billed_zone)

    form = _action(admin_client, "schedule_downgrade_selected", billed_zone).content.decode()

    end = f"{billed_zone.current_period_end_date:%Y-%m-%d}"
    assert (
        f"Takes effect at the end of the paid period ({end}); the new price 100.00 USD applies from then; "
        "until then the customer keeps what they paid for."
    ) in form
    offered = form.split('<fieldset class="module aligned">')[1].split("</fieldset>")[0]  # the form's choices
    assert "Pro zone, monthly (100.00 USD)" in offered and "Business zone" not in offered
    assert 'name="_confirm"' in form
    assert _unchanged(billed_zone) == before


def test_scheduled_from_the_admin_the_lower_price_applies_from_the_next_period(
    admin_client, superuser, billed_zone, pro_zone_product, run_tasks
):
    done = run_tasks(_schedule, admin_client, billed_zone, pro_zone_product)

    end = f"{billed_zone.current_period_end_date:%Y-%m-%d}"
    assert f"downgrade to Pro zone, monthly scheduled: it takes effect on {end}, at 100.00 USD" in (
        done.content.decode()
    )
    billed_zone.refresh_from_db()
    assert billed_zone.scheduled_change == {"product": pro_zone_product.pk}
    event = AuditEvent.objects.filter(action="billing.downgrade_scheduled").get()
    assert (event.actor, event.face, event.object_id) == (superuser, "admin", str(billed_zone.pk))
    page = _change_page(admin_client, billed_zone)
    assert f"Pro zone, monthly at 100.00 USD from {end}, the end of the paid period" in page
    assert 'value="cancel_scheduled_downgrade_selected"' in page
    assert 'value="schedule_downgrade_selected"' not in page

    _renew_over_the_period_end(run_tasks)

    billed_zone.refresh_from_db()
    assert (billed_zone.product, billed_zone.price, billed_zone.scheduled_change) == (
        pro_zone_product,
        Decimal("100.00"),
        {},
    )
    assert _charged(billed_zone) == [Decimal("250.00"), Decimal("100.00")]
    billed_zone.provisioned.refresh_from_db()
    assert billed_zone.provisioned.rate_plan_id == "PARTNERS_PRO"


def test_a_product_that_is_not_cheaper_is_refused_as_an_error_message_and_nothing_changes(
    admin_client, billed_zone, zone_product, run_tasks
):
    before = _unchanged(billed_zone)

    refused = run_tasks(_schedule, admin_client, billed_zone, zone_product)

    body = refused.content.decode()
    assert "A downgrade moves to a lower-priced product of the same plan" in body and "[invalid]" in body
    assert 'class="error"' in body
    assert _unchanged(billed_zone) == before


def test_staff_without_the_billing_permission_can_neither_see_nor_use_it(
    client, billed_zone, pro_zone_product, run_tasks
):
    client.force_login(StaffFactory(permissions=["view_billingsubscription"]))
    page = _change_page(client, billed_zone)
    assert "schedule_downgrade_selected" not in page and "cancel_scheduled_downgrade_selected" not in page
    before = _unchanged(billed_zone)

    run_tasks(_schedule, client, billed_zone, pro_zone_product)
    run_tasks(_action, client, "cancel_scheduled_downgrade_selected", billed_zone, confirm=True)

    assert _unchanged(billed_zone) == before


def test_the_scheduled_downgrade_is_cancelled_and_the_price_stays(
    admin_client, superuser, billed_zone, pro_zone_product, run_tasks
):
    run_tasks(_schedule, admin_client, billed_zone, pro_zone_product)
    page = _action(admin_client, "cancel_scheduled_downgrade_selected", billed_zone).content.decode()
    assert escape("The downgrade to Pro zone, monthly at 100.00 USD from") in page
    assert "it renews on Business zone, monthly at 250.00 USD" in page

    done = run_tasks(_action, admin_client, "cancel_scheduled_downgrade_selected", billed_zone, confirm=True)

    assert "scheduled downgrade cancelled; it renews at 250.00 USD" in done.content.decode()
    billed_zone.refresh_from_db()
    assert billed_zone.scheduled_change == {}
    event = AuditEvent.objects.filter(action="billing.downgrade_cancelled").get()
    assert (event.actor, event.face, event.changes["scheduled_change"]) == (
        superuser,
        "admin",
        [{"product": pro_zone_product.pk}, {}],
    )
    assert 'value="schedule_downgrade_selected"' in _change_page(admin_client, billed_zone)

    _renew_over_the_period_end(run_tasks)

    billed_zone.refresh_from_db()
    assert billed_zone.price == Decimal("250.00") and _charged(billed_zone) == [Decimal("250.00")] * 2


def test_cancelling_when_none_is_scheduled_is_refused_per_row(admin_client, billed_zone, run_tasks):
    page = _action(admin_client, "cancel_scheduled_downgrade_selected", billed_zone).content.decode()
    assert "No downgrade is scheduled." in page and 'name="_confirm"' not in page
    before = _unchanged(billed_zone)

    forced = run_tasks(
        _action, admin_client, "cancel_scheduled_downgrade_selected", billed_zone, confirm=True
    )

    assert "[no_downgrade_scheduled]" in forced.content.decode()
    assert _unchanged(billed_zone) == before


# --- The dashboard and the API cancel it too --------------------------------------------------------


def test_the_dashboard_cancels_the_scheduled_downgrade(billed_zone, pro_zone_product, run_tasks):
    run_tasks(changes.schedule_downgrade, system_actor(), billed_zone, pro_zone_product)
    page = reverse("dashboard:billing-subscription", args=[billed_zone.pk])
    url = reverse("dashboard:billing-subscription-cancel-downgrade", args=[billed_zone.pk])
    biller, technician = Client(), Client()
    biller.force_login(MembershipFactory(partner=billed_zone.partner, role="billing").user)
    technician.force_login(MembershipFactory(partner=billed_zone.partner, role="technician").user)
    assert url in biller.get(page).content.decode() and url not in technician.get(page).content.decode()
    before = _unchanged(billed_zone)
    assert technician.post(url).status_code == 403 and _unchanged(billed_zone) == before

    done = run_tasks(biller.post, url, follow=True)

    assert "Scheduled downgrade cancelled: it renews on Business zone, monthly at 250.00 USD" in (
        done.content.decode()
    )
    billed_zone.refresh_from_db()
    assert billed_zone.scheduled_change == {}
    assert AuditEvent.objects.filter(action="billing.downgrade_cancelled", face="dashboard").exists()


def test_the_api_cancels_the_scheduled_downgrade_202_and_409_when_none(
    api, billed_zone, pro_zone_product, run_tasks
):
    client = api.as_user(MembershipFactory(partner=billed_zone.partner, role="billing").user)
    url = f"/api/v1/billing/subscriptions/{billed_zone.pk}/"
    assert client.post(url + "downgrade/", {"product": pro_zone_product.pk}).status_code == 202

    done = client.post(url + "cancel-downgrade/")

    assert done.status_code == 202 and done.json()["scheduled_change"] == {}
    again = client.post(url + "cancel-downgrade/")
    assert again.status_code == 409 and again.json()["code"] == "no_downgrade_scheduled"
