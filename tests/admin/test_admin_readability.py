"""Support staff read the admin: audit changes in words, the customer's timeline, times with
seconds, one clock after moving the sandbox clock, long names that wrap instead of widening pages."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from core import audit
from core.actor import Actor, Face
from partner import services
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
SECONDS = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
LONG_NAME = "Very long customer name " + "x" * 176  # 200 characters


def _changed(partner):
    return audit.record(
        Actor.system(Face.ADMIN),
        "partner.updated",
        partner,
        partner_id=partner.pk,
        changes={"org_contact_email": ["old@example.test", "new@example.test"], "country": [None, "DE"]},
    )


def test_an_audit_row_reads_field_before_to_after_with_the_field_names(admin_client, partner):
    event = _changed(partner)
    html = admin_client.get(reverse("admin:partner_partner_change", args=[partner.pk])).content.decode()
    # One line per field, named by the model's verbose name, not a JSON dict.
    assert "organization contact e-mail: old@example.test → new@example.test<br>country: DE" in html
    assert "{&#x27;org_contact_email&#x27;" not in html and "[&#x27;old@example.test" not in html
    page = admin_client.get(reverse("admin:core_auditevent_change", args=[event.pk])).content.decode()
    assert "organization contact e-mail: old@example.test → new@example.test" in page
    assert "&quot;org_contact_email&quot;" not in page  # the raw JSON is not shown


def test_audit_lines_show_every_field_to_staff(partner):
    event = _changed(partner)
    event.changes = {"reference": ["old-ref", "new-ref"]}  # left out of the reseller's dashboard
    assert audit.change_lines(event) == ["reference: old-ref → new-ref"]


def test_the_admin_customer_page_shows_that_customers_timeline(admin_client, staff, partner):
    customer = CustomerFactory(partner=partner)
    other = CustomerFactory(partner=partner)
    actor = Actor(staff, Face.ADMIN)
    services.update_customer(actor, customer, contact_name="Ada Lovelace")
    services.update_customer(actor, other, contact_name="Somebody Else")
    html = admin_client.get(reverse("admin:partner_customer_change", args=[customer.pk])).content.decode()
    panel = html.split('id="customer-timeline"', 1)[1].split("</ol>", 1)[0]
    assert "contact name: — → Ada Lovelace" in panel
    assert "updated at" not in panel  # the entry's own time says it
    assert staff.username in panel
    assert "Somebody Else" not in panel  # another customer's history stays on its own page
    assert SECONDS.search(panel)


def test_a_customer_without_history_says_so(admin_client, partner):
    customer = CustomerFactory.build(partner=partner)
    customer.save()  # no service: no audit event, no operation
    html = admin_client.get(reverse("admin:partner_customer_change", args=[customer.pk])).content.decode()
    assert "Nothing recorded yet." in html


def test_times_show_seconds_in_lists_and_pages(admin_client, partner):
    customer = CustomerFactory(partner=partner)
    customer.created_at = timezone.now().replace(second=42, microsecond=0)
    customer.save()
    listing = admin_client.get(reverse("admin:partner_customer_changelist")).content.decode()
    assert f"{customer.created_at:%Y-%m-%d %H:%M}:42" in listing
    event = _changed(partner)
    page = admin_client.get(reverse("admin:core_auditevent_change", args=[event.pk])).content.decode()
    assert f"{event.created_at:%Y-%m-%d %H:%M:%S}" in page


def _clocks(html: str) -> list[str]:
    return re.findall(r'class="business-clock".*?</div>', html, re.S)


def test_every_admin_page_shows_the_one_business_clock(admin_client, partner):
    for url in (reverse("admin:index"), reverse("admin:partner_partner_change", args=[partner.pk])):
        (clock,) = _clocks(admin_client.get(url).content.decode())
        assert "Business time" in clock and SECONDS.search(clock)
        assert "ahead of real time" not in clock


def test_after_moving_the_sandbox_clock_a_page_shows_one_clock_labelled(admin_client):
    admin_client.get(reverse("admin:sandbox_clock_changelist"))  # creates the clock's row
    response = admin_client.post(
        reverse("admin:sandbox_clock_changelist"),
        {"action": "advance_thirty_one_days", "_selected_action": [1]},
        follow=True,
    )
    html = response.content.decode()
    (clock,) = _clocks(html)
    assert "sandbox clock, 31d 0h 0m ahead of real time" in clock
    shown = SECONDS.search(clock).group()
    expected = timezone.now() + timedelta(days=31)
    assert abs(timezone.datetime.fromisoformat(shown).replace(tzinfo=expected.tzinfo) - expected) < timedelta(
        minutes=1
    )
    # The moved time appears once: the clock row shows the offset and when it was moved (real time).
    assert html.count(shown[:16]) == 1
    assert "sandbox now" not in html


def test_long_names_wrap_in_admin_lists_and_the_renewals_page(admin_client, partner):
    CustomerFactory(partner=partner, name=LONG_NAME)
    html = admin_client.get(reverse("admin:partner_customer_changelist")).content.decode()
    assert LONG_NAME in html
    assert "core/admin.css" in html  # the admin's overrides are loaded on every page
    from django.contrib.staticfiles import finders

    admin_css = Path(finders.find("core/admin.css")).read_text()
    assert "#result_list td" in admin_css and "overflow-wrap: anywhere" in admin_css
    assert "#changelist .results" in admin_css and "overflow-x: auto" in admin_css
