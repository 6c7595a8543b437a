"""Browser journeys: Debian's chromium driven by Playwright against pytest-django's live server.

Vendor calls run as in production, over real HTTP to the sandbox served by the live server itself;
django-q2 runs tasks synchronously in tests, so the live server is its own worker (`held_worker`
holds them back when a journey wants to watch an operation in progress). Without /usr/bin/chromium
the journeys are skipped, unless REQUIRE_BROWSER_TESTS=1 (CI), where they fail.
"""

import os
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils.module_loading import import_string

from core import tasks as core_tasks
from tests.factories import CLOUDFLARE_TOKEN, DIGICERT_PARTNER_KEY, MembershipFactory
from tests.subscriptions.conftest import catalog  # noqa: F401  (the partner's Cloudflare catalog)
from vendors.sandbox.testing import route_vendors_to_sandbox

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results"
PASSWORD = "pass-1234-word"  # tests.factories.UserFactory's


@pytest.fixture(scope="session", autouse=True)
def _chromium():
    """Skip the journeys where Debian's chromium is missing; fail instead when CI requires them."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("REQUIRE_BROWSER_TESTS") == "1":
            pytest.fail(f"{CHROMIUM} is missing and REQUIRE_BROWSER_TESTS=1: install Debian's chromium.")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser journeys skipped.")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's chromium (playwright install cannot download browsers here), headless, no sandbox."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture
def vendors_over_http(live_server, settings, monkeypatch, transactional_db):
    """Every vendor client reaches the sandbox at the live server's URL, over real HTTP."""
    base = live_server.url
    settings.DIGICERT_BASE_URL = f"{base}/sandbox/digicert/v1"
    settings.CLOUDFLARE_BASE_URL = f"{base}/sandbox/cloudflare/client/v4"
    settings.DIGITALRIVER_BASE_URL = f"{base}/sandbox/digitalriver"
    settings.SITE_URL = base
    route_vendors_to_sandbox(monkeypatch, allow=[f"{base}/"])
    call_command("sandbox_register_key", vendor="digicert", key=DIGICERT_PARTNER_KEY, label="browser")
    call_command("sandbox_register_key", vendor="cloudflare", key=CLOUDFLARE_TOKEN, label="browser")
    return base


@pytest.fixture
def reseller(vendors_over_http, partner):
    """The owner of an onboarded partner, who signs in with a password."""
    return MembershipFactory(partner=partner, role="owner", user__first_name="Nora").user


@pytest.fixture
def page(page):
    page.set_default_timeout(15_000)
    return page


def _sign_in(page, url: str, user, button: str) -> None:
    page.goto(url)
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=button).click()
    page.wait_for_load_state()


@pytest.fixture
def sign_in(page, vendors_over_http):
    """Sign in to the dashboard, landing on `next_path`."""
    return lambda user, next_path="/": _sign_in(page, f"{vendors_over_http}{next_path}", user, "Sign in")


@pytest.fixture
def admin_sign_in(page, vendors_over_http):
    """Sign in to the admin, landing on `next_path`."""
    return lambda user, next_path="/admin/": _sign_in(
        page, f"{vendors_over_http}/admin/login/?next={next_path}", user, "Log in"
    )


@pytest.fixture
def shot(page):
    """Save a screenshot of the page under test-results/ (gitignored)."""

    def save(name: str):
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return save


@pytest.fixture
def held_worker(monkeypatch):
    """Queued tasks wait, as with a stopped worker, until `held_worker.run()` runs them."""
    queue = []

    def enqueue(func, *args, group=None, **kwargs):
        queue.append((func, args, kwargs))

    class Worker:
        def run(self) -> int:
            done = 0
            while queue:
                func, args, kwargs = queue.pop(0)
                import_string(func)(*args, **kwargs)
                done += 1
            return done

        @property
        def queued(self) -> int:
            return len(queue)

    monkeypatch.setattr(core_tasks, "async_task", enqueue)
    return Worker()
