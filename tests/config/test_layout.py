"""The layout the README and docs/architecture.md describe is the layout of the code: the folders
of the architecture screen, the same rooms in each vendor folder, `make help` listing every target,
and no module past about 400 lines without a reason written here."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The rooms every vendor folder under subscriptions/ has (a module or a package of that name).
VENDOR_ROOMS = ["models", "rules", "services", "handlers", "selectors", "admin", "api", "forms", "tasks"]
DASHBOARD_ROOMS = ["views", "urls", "parts", "selectors"]

# Modules past 450 lines, each with the reason it stays whole. A new one fails until it is split
# or its reason is written here; one that shrank below the limit must leave the list.
LONG_MODULES = {
    "vendors/digitalriver/client.py": "one method per Digital River call the back office makes, on "
    "one transport; the objects it answers and their parsers are in objects.py",
    "vendors/sandbox/digitalriver/views.py": "Digital River's API as the emulator serves it: one view "
    "per documented endpoint, with the logic in the folder's topic modules",
    "vendors/sandbox/digitalriver/lifecycle.py": "a subscription's whole life at Digital River "
    "(activation, reminders, invoices, failed payments, lapse) is one state machine",
    "vendors/sandbox/digitalriver/checkouts.py": "checkout sessions, checkouts and orders share "
    "their acquisition and renewal checks",
    "vendors/sandbox/digitalriver/models.py": "Digital River's objects, one table each, as its "
    "schema describes them",
    "vendors/sandbox/digitalriver/render.py": "the JSON of each Digital River object, one function each",
    "vendors/sandbox/digitalriver/admin.py": "one admin page per Digital River object, with the "
    "sandbox bank's controls",
    "billing/services/acquisition.py": "a checkout from its creation to its payment: one operation "
    "in steps that share their checks",
    "billing/services/renewals.py": "the renewal run: due renewals, grouping, ordering and the moves "
    "of a renewal",
    "billing/dashboard_selectors.py": "the billing pages' reads, each a fixed number of queries",
    "billing/views.py": "the billing pages of the dashboard, one view per page",
    "billing/models.py": "Digital River's plans, products, checkouts, subscriptions, renewals and "
    "notices with their transition tables",
    "billing/api.py": "the billing endpoints, one viewset per resource",
    "partner/services.py": "partners, customers, members and subaccounts: one service per operation",
    "partner/admin.py": "partners, customers, members and subaccounts in the admin",
    "partner/views.py": "the partner pages of the dashboard, one view per page",
    "core/operations.py": "the Operation protocol (lease, backoff, unknown outcomes) in one place",
    "core/management/commands/vendor_check.py": "the go-live check of every vendor, read-only",
    "subscriptions/cloudflare/handlers.py": "one handler per Cloudflare call",
    "subscriptions/acme/api.py": "the contract endpoints (order, end, SANs, credentials, drift, sync), "
    "its certificates and the subaccount's account settings",
    "subscriptions/cloudflare/api.py": "the zone, add-on and catalog endpoints",
    "subscriptions/cloudflare/dashboard/views.py": "the zone and add-on pages, one view per page",
    "vendors/digicert/client.py": "one client for the DigiCert calls the back office makes",
    "reconciliation/actions.py": "what staff may do about each kind of finding, one action each",
}
LIMIT = 450


def _tracked_python() -> list[str]:
    out = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [
        p for p in out.stdout.split() if "/migrations/" not in p and not p.startswith(("tests/", "bench/"))
    ]


def _has_room(folder: Path, room: str) -> bool:
    return (folder / f"{room}.py").is_file() or (folder / room / "__init__.py").is_file()


@pytest.mark.parametrize("vendor", ["acme", "cloudflare"])
def test_each_vendor_folder_has_the_same_rooms(vendor):
    """Everything about one vendor is one folder, laid out like the other (subscriptions/<vendor>/)."""
    folder = ROOT / "subscriptions" / vendor
    assert [room for room in VENDOR_ROOMS if not _has_room(folder, room)] == []
    assert [room for room in DASHBOARD_ROOMS if not _has_room(folder / "dashboard", room)] == []


@pytest.mark.parametrize("vendor", ["digicert", "cloudflare", "digitalriver"])
def test_each_vendor_has_a_client_package_and_an_emulator_folder(vendor):
    """One package per vendor (vendors/<vendor>/client.py) and one sandbox folder per emulator."""
    assert (ROOT / "vendors" / vendor / "client.py").is_file()
    assert _has_room(ROOT / "vendors" / "sandbox" / vendor, "models")
    assert (ROOT / "vendors" / "sandbox" / vendor / "views.py").is_file()


def test_the_architecture_screen_names_every_top_level_package():
    """The README's architecture screen lists every package of the project, and only those."""
    readme = (ROOT / "README.md").read_text()
    screen = readme.split("## Architecture in a screen", 1)[1].split("```")[1]
    named = {m.group(1) for m in re.finditer(r"^([a-z_]+)/", screen, re.MULTILINE)}
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} | {"templates", "tests", "bench"}
    assert named == packages


def test_make_help_lists_every_target():
    """Every Makefile target says what it does (`##`), so `make help` lists them all."""
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z][a-z-]*):(?![^#\n]*=)", makefile, re.MULTILINE))
    helped = set(re.findall(r"^([a-z][a-z-]*):[^\n]*##", makefile, re.MULTILINE))
    assert targets and targets == helped


def test_no_module_past_the_limit_without_a_reason():
    """A module past about 400 lines is split by topic, or says here why it stays whole."""
    sizes = {path: len((ROOT / path).read_text().splitlines()) for path in _tracked_python()}
    long = {path for path, size in sizes.items() if size > LIMIT}
    assert sorted(long - LONG_MODULES.keys()) == [], "split these or give the reason in LONG_MODULES"
    assert sorted(LONG_MODULES.keys() - long) == [], "these are short now: take them off LONG_MODULES"
