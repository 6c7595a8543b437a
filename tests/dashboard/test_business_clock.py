"""The dashboard shows the one clock the product goes by, as the admin does: once, and how far it runs
ahead of real time after the sandbox clock was moved."""

import pytest
from django.urls import reverse

from tests.sandbox_helpers import advance_vendor_clock

pytestmark = pytest.mark.django_db


def test_every_dashboard_page_shows_the_business_clock_once(owner_client):
    page = owner_client.get(reverse("dashboard:home")).content.decode()
    assert page.count('id="business-clock"') == 1 and "ahead of real time" not in page


def test_after_moving_the_sandbox_clock_the_dashboard_says_how_far_ahead(owner_client, sandbox):
    advance_vendor_clock(days=31)
    page = owner_client.get(reverse("dashboard:customers")).content.decode()
    assert page.count('id="business-clock"') == 1 and "31d 0h 0m ahead of real time" in page
