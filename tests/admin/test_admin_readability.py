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
from tests.browser.conftest import CHROMIUM, browser_type_launch_args  # noqa: F401
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
    # One line per field, named by the model's verbose name, in the model's field order (the same on
    # PostgreSQL, whose jsonb reorders keys), not a JSON dict.
    assert "country: DE<br>organization contact e-mail: old@example.test → new@example.test" in html
    assert "{&#x27;org_contact_email&#x27;" not in html and "[&#x27;old@example.test" not in html
    page = admin_client.get(reverse("admin:core_auditevent_change", args=[event.pk])).content.decode()
    assert "organization contact e-mail: old@example.test → new@example.test" in page
    assert "&quot;org_contact_email&quot;" not in page  # the raw JSON is not shown
    listing = admin_client.get(reverse("admin:core_auditevent_changelist")).content.decode()
    assert "organization contact e-mail: old@example.test → new@example.test" in listing


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
    """Without a browser: the pages carry the classes and the stylesheets the rules that wrap them."""
    from django.contrib.staticfiles import finders

    CustomerFactory(partner=partner, name=LONG_NAME)
    html = admin_client.get(reverse("admin:partner_customer_changelist")).content.decode()
    assert LONG_NAME in html and "core/admin.css" in html  # the admin's overrides, on every page
    admin_css = Path(finders.find("core/admin.css")).read_text()
    assert "#result_list tbody th { min-width: 10rem; overflow-wrap: anywhere; }" in admin_css
    assert "#changelist .results" in admin_css and "overflow-x: auto" in admin_css
    dashboard_css = Path(finders.find("dashboard/dashboard.css")).read_text()
    assert ".table td.primary-cell { overflow-wrap: anywhere;" in dashboard_css
    assert ".toolbar select { max-width: min(100%, 22rem);" in dashboard_css


@pytest.fixture
def wide_names(transactional_db):
    """A partner whose customer has a 200-character name, with an annual renewal in the next weeks."""
    from tests import factories as bf
    from tests.factories import MembershipFactory, PartnerFactory, StaffFactory

    partner = PartnerFactory()
    customer = CustomerFactory(partner=partner, name=LONG_NAME)
    product = bf.product(partner, bf.plan("year"), name="ACME DV annual")
    bf.subscription(customer, product, renews_in_days=10)
    owner = MembershipFactory(partner=partner, role="owner").user
    return {"owner": owner, "staff": StaffFactory(is_superuser=True), "customer": customer}


def _signed_in(page, base, user, path):
    from tests.browser.conftest import PASSWORD

    page.goto(f"{base}{path}")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.locator("[type=submit]").first.click()
    page.wait_for_load_state()


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed")
def test_a_200_character_name_does_not_widen_the_pages(page, live_server, wide_names):
    page.set_viewport_size({"width": 1280, "height": 900})
    page_width = "document.documentElement.scrollWidth"
    _signed_in(page, live_server.url, wide_names["owner"], "/renewals/")
    for query in ("", "?view=calendar"):
        page.goto(f"{live_server.url}/renewals/{query}")
        assert LONG_NAME in page.content()
        assert page.evaluate(page_width) <= 1280, f"the renewals page{query} is wider than the window"
    page.context.clear_cookies()
    _signed_in(page, live_server.url, wide_names["staff"], "/admin/partner/customer/")
    assert page.evaluate(page_width) <= 1280
    # The name wraps in its cell; what does not fit scrolls inside the list, its right edge in view.
    name_cell = page.locator("#result_list th.field-name, #result_list td.field-name").first
    assert 10 * 16 <= name_cell.bounding_box()["width"] <= 400
    assert (
        page.locator("#changelist-form .results").bounding_box()["x"]
        + page.locator("#changelist-form .results").bounding_box()["width"]
        <= 1280
    )
    page.goto(f"{live_server.url}/admin/partner/customer/{wide_names['customer'].pk}/change/")
    assert LONG_NAME in page.content()
    assert page.evaluate(page_width) <= 1280
