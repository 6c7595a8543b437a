"""The admin's Sandbox section: the emulated vendors apart from the business, gone when the sandbox is off."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _section(html: str) -> str:
    """The Sandbox section's markup (empty when there is none)."""
    if 'id="sandbox-section"' not in html:
        return ""
    return html.split('id="sandbox-section"', 1)[1].split("</section>", 1)[0]


def _outside(html: str) -> str:
    section = _section(html)
    return html.replace(section, "") if section else html


def test_the_index_lists_the_sandbox_apart_from_the_business(admin_client):
    html = admin_client.get(reverse("admin:index")).content.decode()
    section = _section(html)
    assert "emulated vendors, not business data" in section
    assert reverse("admin:sandbox_fault_changelist") in section
    assert reverse("admin:partner_customer_changelist") not in section
    # The business models are listed, the sandbox's only inside its section.
    assert reverse("admin:partner_customer_changelist") in _outside(html)
    assert reverse("admin:sandbox_fault_changelist") not in _outside(html)


def test_the_sidebar_keeps_the_sandbox_in_its_own_section(admin_client):
    html = admin_client.get(reverse("admin:partner_customer_changelist")).content.decode()
    sidebar = html.split('id="nav-sidebar"', 1)[1].split("</nav>", 1)[0]
    assert reverse("admin:sandbox_clock_changelist") in _section(sidebar)
    assert reverse("admin:sandbox_clock_changelist") not in _outside(sidebar)
    assert reverse("admin:partner_partner_changelist") in _outside(sidebar)


def test_the_sandbox_app_page_shows_only_its_section(admin_client):
    html = admin_client.get(reverse("admin:app_list", args=["sandbox"])).content.decode()
    assert reverse("admin:sandbox_fault_changelist") in _section(html)
    assert "permission to view or edit" not in html


def test_no_sandbox_section_when_the_sandbox_is_off(admin_client, settings):
    settings.SANDBOX_ENABLED = False
    for url in (reverse("admin:index"), reverse("admin:partner_customer_changelist")):
        html = admin_client.get(url).content.decode()
        assert 'id="sandbox-section"' not in html
        assert "/admin/sandbox/" not in html
        assert reverse("admin:partner_customer_changelist") in html
