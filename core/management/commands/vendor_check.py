"""`manage.py vendor_check`: the go-live check, read-only calls to each configured vendor, a table.

One row per check per vendor (and per partner for DigiCert and Cloudflare, whose keys are the
partner's own): reachable, authenticated, right key type, API version, clock skew, and for
Digital River whether our webhook endpoint is registered. Only documented reads are made:

- DigiCert: `GET /account/settings` (parent or subaccount key) and `GET /account/reporting`
  (parent key only, so it tells the key's type);
- Cloudflare: `GET /accounts` (the first page, one account);
- Digital River: `GET /plans?limit=1` and `GET /webhooks` (a bare array, vendors.md section 3).

Exit 0 when every check passes, 1 otherwise, each failing row saying why. No secret is printed:
a key shows as its last four characters at most. The command ends with the assumption markers
(ASSUMPTION, SILENT) kept in vendors/ and README.md, and says what this run verified where.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from core.secrets import Secret, SecretDecryptionError
from partner.models import Partner
from partner.onboarding import missing_onboarding_items
from vendors.cloudflare.client import CloudflareClient
from vendors.digicert.client import DigiCertClient
from vendors.digitalriver.client import DigitalRiverClient
from vendors.errors import VendorError

OK, FAIL, SKIP = "ok", "FAIL", "skipped"
UNDECRYPTABLE = "cannot be decrypted with SECRET_ENCRYPTION_KEYS"

# Beyond this, signed webhooks (DIGITALRIVER_WEBHOOK_TOLERANCE_SECONDS) and cancel windows drift.
MAX_SKEW_SECONDS = 30.0

MARKERS = ("ASSUMPTION", "SILENT")
VENDOR_NAMES = {"digicert": "DigiCert", "cloudflare": "Cloudflare", "digitalriver": "Digital River"}
# Cloudflare's legacy Global API Key: 37 lowercase hex characters (API tokens are 40, base64url).
GLOBAL_API_KEY = re.compile(r"^[0-9a-f]{37}$")


@dataclass(frozen=True)
class Row:
    vendor: str
    subject: str
    check: str
    status: str
    detail: str


class Probe:
    """A client whose HTTP answers are kept (headers included) while its calls go through as usual."""

    def __init__(self, client):
        self.client = client
        self.responses: list = []
        client.session.hooks["response"].append(self._keep)

    def _keep(self, response, *args, **kwargs):
        self.responses.append((response, datetime.now(UTC)))
        return response

    def call(self, method: Callable, *args, **kwargs):
        """(result, None) or (None, VendorError)."""
        try:
            return method(*args, **kwargs), None
        except VendorError as error:
            return None, error

    def last_header(self, name: str) -> tuple[str | None, datetime | None]:
        for response, received in reversed(self.responses):
            if response.headers.get(name):
                return response.headers[name], received
        return None, None


class Command(BaseCommand):
    help = (
        "Go-live check: read-only calls to DigiCert, Cloudflare and Digital River with the configured "
        "base URLs and keys; a table of reachable, authenticated, key type, API version, clock skew "
        "and the Digital River webhook. Exit 1 when a check fails."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--partner",
            action="append",
            dest="partners",
            metavar="SLUG",
            help="Check this partner's DigiCert key and Cloudflare token (repeatable; default: every "
            "onboarded partner).",
        )

    def handle(self, *args, partners=None, **options):
        self._secrets: set[str] = set()
        rows: list[Row] = []
        chosen = self._partners(partners)
        if not chosen:
            for vendor in ("digicert", "cloudflare"):
                rows.append(
                    Row(vendor, "-", "partner keys", FAIL, "no onboarded partner: no key to check with")
                )
        for partner in chosen:
            rows += self._digicert(partner)
            rows += self._cloudflare(partner)
        rows += self._digitalriver()
        self._print_table(rows)
        self._print_assumptions(rows)
        failing = [row for row in rows if row.status == FAIL]
        if failing:
            raise CommandError(f"{len(failing)} check(s) failed.", returncode=1)
        self.stdout.write(self.style.SUCCESS("All vendor checks passed."))

    # --- Which partners ----------------------------------------------------------------------

    def _partners(self, slugs: list[str] | None) -> list[Partner]:
        if slugs:
            found = {p.slug: p for p in Partner.objects.filter(slug__in=slugs)}
            missing = [slug for slug in slugs if slug not in found]
            if missing:
                raise CommandError(f"No partner with slug {', '.join(missing)}.")
            return [found[slug] for slug in dict.fromkeys(slugs)]
        # Onboarded: the checklist is complete, customers apart (a new partner has none yet).
        return [
            partner
            for partner in Partner.objects.order_by("slug")
            if all(item.key == "customers" for item in missing_onboarding_items(partner))
        ]

    # --- DigiCert ----------------------------------------------------------------------------

    def _open(
        self, vendor: str, slug: str, stored, what: str, make_client, *, webhook: bool = False
    ) -> tuple[_rows, Probe | None, str]:
        """The rows of a vendor and key, and a probing client (None once the rows say why not)."""
        try:
            key = _plain(stored)
        except SecretDecryptionError:
            add = _rows(vendor, slug)
            add.not_configured(f"{what} {UNDECRYPTABLE}", webhook=webhook)
            return add, None, ""
        self._secrets.add(key)
        add = _rows(vendor, f"{slug} (key {self._hint(key)})")
        try:
            return add, Probe(make_client(key)), key
        except (ValueError, ImproperlyConfigured) as error:
            add.not_configured(_configuration_reason(error, what), webhook=webhook)
            return add, None, key

    def _digicert(self, partner: Partner) -> list[Row]:
        add, probe, _ = self._open(
            "digicert",
            partner.slug,
            partner.digicert_api_key,
            "the partner's DigiCert API key",
            DigiCertClient,
        )
        if probe is None:
            return add.rows
        _, error = probe.call(probe.client.get_account_settings)
        if not add.reachable_and_authenticated(probe, error, "GET /account/settings"):
            return add.rows
        _, error = probe.call(probe.client.reporting)
        if error is None:
            add(
                "right key type",
                OK,
                "parent (partner) key: GET /account/reporting answered (parent keys only)",
            )
        elif error.status == 403:
            add(
                "right key type",
                FAIL,
                f"wrong key type: GET /account/reporting refused ({error.code}), a subaccount key; "
                "the partner needs its parent key",
            )
        else:
            add("right key type", FAIL, f"could not tell the key type: {error}")
        add.version(
            _path_ends(settings.DIGICERT_BASE_URL, "/v1"),
            "v1 (from the base URL path; DigiCert sends no version header)",
            f"the base URL does not end in /v1 ({_origin(settings.DIGICERT_BASE_URL)}): "
            "the client speaks the Partner Subscriptions API v1",
        )
        add.clock(probe)
        return add.rows

    # --- Cloudflare --------------------------------------------------------------------------

    def _cloudflare(self, partner: Partner) -> list[Row]:
        add, probe, token = self._open(
            "cloudflare",
            partner.slug,
            partner.cloudflare_api_token,
            "the partner's Cloudflare API token",
            CloudflareClient,
        )
        if probe is None:
            return add.rows
        accounts, error = probe.call(probe.client.list_accounts, per_page=1)
        if not add.reachable_and_authenticated(probe, error, "GET /accounts"):
            if error is not None and error.status in (400, 401, 403) and GLOBAL_API_KEY.match(token):
                add.replace(
                    "right key type",
                    FAIL,
                    "looks like a Global API Key (37 hex characters): the client sends an API token "
                    "as Bearer",
                )
            return add.rows
        add(
            "right key type",
            OK,
            f"API token (Bearer) with account read: GET /accounts answered ({len(accounts)} on page 1)",
        )
        add.version(
            _path_ends(settings.CLOUDFLARE_BASE_URL, "/client/v4"),
            "v4 (from the base URL path /client/v4)",
            f"the base URL does not end in /client/v4 ({_origin(settings.CLOUDFLARE_BASE_URL)})",
        )
        add.clock(probe)
        return add.rows

    # --- Digital River -----------------------------------------------------------------------

    def _digitalriver(self) -> list[Row]:
        add, probe, key = self._open(
            "digitalriver", "global", settings.DIGITALRIVER_API_KEY, "DIGITALRIVER_API_KEY",
            DigitalRiverClient, webhook=True,
        )  # fmt: skip
        if probe is None:
            return add.rows
        _, error = probe.call(probe.client.list_plans, limit=1)
        if not add.reachable_and_authenticated(probe, error, "GET /plans", webhook=True):
            return add.rows
        if key.startswith("sk_test_"):
            add("right key type", OK, "secret key, test mode (sk_test_)")
        elif key.startswith("pk_"):
            add(
                "right key type", FAIL, "wrong key type: a public key (pk_); the API needs a secret key (sk_)"
            )
        elif key.startswith("sk_"):
            add("right key type", OK, "secret key, live mode (sk_)")
        else:
            add("right key type", FAIL, "wrong key type: not a secret key (expected sk_test_ or sk_)")
        pinned = settings.DIGITALRIVER_API_VERSION
        echoed, _ = probe.last_header("DigitalRiver-Version")
        if not pinned:
            add(
                "API version",
                FAIL,
                "no DIGITALRIVER_API_VERSION: answers follow the account's default version, "
                "not the 2021-12-13 shapes the client reads",
            )
        elif echoed and echoed != pinned:
            add("API version", FAIL, f"sent DigitalRiver-Version {pinned}, answered as {echoed}")
        else:
            add("API version", OK, f"{pinned} (DigitalRiver-Version sent on every call)")
        add.clock(probe)
        add(*self._webhook(probe))
        return add.rows

    def _webhook(self, probe: Probe) -> tuple[str, str, str]:
        """Our endpoint among Digital River's `GET /webhooks` (documented in its OpenAPI, H)."""
        ours = f"{settings.SITE_URL.rstrip('/')}{reverse('digitalriver-webhook')}"
        webhooks, error = probe.call(probe.client.list_webhooks)
        if error is not None:
            return "webhook registered", FAIL, f"could not read GET /webhooks: {error}"
        same = [w for w in webhooks if str(w.get("address") or "").rstrip("/") == ours.rstrip("/")]
        if not same:
            others = ", ".join(str(w.get("address")) for w in webhooks) or "none"
            return "webhook registered", FAIL, f"not registered: no webhook for {ours} (registered: {others})"
        if not any(w.get("enabled") is True for w in same):
            return "webhook registered", FAIL, f"registered but disabled: {ours}"
        version = next((w.get("apiVersion") for w in same if w.get("enabled") is True), None)
        return "webhook registered", OK, f"{ours}, enabled (apiVersion {version or 'not given'})"

    # --- Output ------------------------------------------------------------------------------

    def _hint(self, secret: str | None) -> str:
        return f"...{secret[-4:]}" if secret and len(secret) > 8 else "(none)" if not secret else "(short)"

    def _safe(self, text: str) -> str:
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "[redacted]")
        return text

    def _print_table(self, rows: list[Row]) -> None:
        header = Row("vendor", "subject", "check", "status", "detail")
        table = [header, *rows]
        widths = [
            max(len(getattr(row, name)) for row in table) for name in ("vendor", "subject", "check", "status")
        ]
        for row in table:
            cells = [row.vendor, row.subject, row.check, row.status]
            line = "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
            self.stdout.write(self._safe(f"{line}  {row.detail}").rstrip())

    def _print_assumptions(self, rows: list[Row]) -> None:
        markers = _assumption_markers()
        self.stdout.write("")
        self.stdout.write("Verified by this run, and what remains an assumption:")
        for vendor, name in VENDOR_NAMES.items():
            passed = sorted({row.check for row in rows if row.vendor == vendor and row.status == OK})
            base_url = {
                "digicert": settings.DIGICERT_BASE_URL,
                "cloudflare": settings.CLOUDFLARE_BASE_URL,
                "digitalriver": settings.DIGITALRIVER_BASE_URL,
            }[vendor]
            where = (
                "the embedded sandbox, not the real vendor"
                if "/sandbox/" in urlsplit(base_url).path
                else _origin(base_url) or "no base URL"
            )
            self.stdout.write(f"{name}: checked against {where}; passed: {', '.join(passed) or 'none'}")
            for location, text in markers.get(vendor, []):
                self.stdout.write(f"  assumption  {location}  {text}")
        for location, text in markers.get("", []):
            self.stdout.write(f"  assumption  {location}  {text}")


class _rows:
    """The rows of one vendor and subject, with the checks every vendor shares."""

    def __init__(self, vendor: str, subject: str):
        self.vendor, self.subject = vendor, subject
        self.rows: list[Row] = []

    def __call__(self, check: str, status: str, detail: str) -> None:
        self.rows.append(Row(self.vendor, self.subject, check, status, detail))

    def replace(self, check: str, status: str, detail: str) -> None:
        self.rows = [
            Row(self.vendor, self.subject, check, status, detail) if row.check == check else row
            for row in self.rows
        ]

    def not_configured(self, reason: str, *, webhook: bool = False) -> list[Row]:
        self("reachable", FAIL, f"not configured: {reason}")
        self._skip_rest("authenticated", webhook, "not configured")
        return self.rows

    def reachable_and_authenticated(
        self, probe: Probe, error: VendorError | None, call: str, *, webhook: bool = False
    ) -> bool:
        """The first read's answer: any HTTP answer is reachable; a 2xx is authenticated."""
        where = _origin(probe.client.base_url)
        if error is not None and error.status is None:
            self("reachable", FAIL, f"unreachable: {error} ({where})")
            self._skip_rest("authenticated", webhook, "unreachable")
            return False
        self("reachable", OK, f"{where} answered {call}")
        if error is None:
            self("authenticated", OK, f"{call} answered 2xx")
            return True
        if error.status in (401, 403):
            self(
                "authenticated",
                FAIL,
                f"authentication failed: {error.code} (HTTP {error.status}: {error.message})",
            )
        else:
            self("authenticated", FAIL, f"{call} failed: {error} (HTTP {error.status})")
        self._skip_rest("right key type", webhook, "authentication failed")
        return False

    def _skip_rest(self, first: str, webhook: bool, because: str) -> None:
        checks = ["authenticated", "right key type", "API version", "clock skew"]
        checks = checks[checks.index(first) :] + (["webhook registered"] if webhook else [])
        for check in checks:
            self(check, SKIP, f"not checked: {because}")

    def version(self, ok: bool, good: str, bad: str) -> None:
        self("API version", OK if ok else FAIL, good if ok else bad)

    def clock(self, probe: Probe) -> None:
        date, received = probe.last_header("Date")
        if not date:
            self("clock skew", FAIL, "not measurable: the vendor's answers carry no Date header")
            return
        try:
            theirs = email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError):
            self("clock skew", FAIL, f"not measurable: unreadable Date header {date!r}")
            return
        if theirs.tzinfo is None:
            theirs = theirs.replace(tzinfo=UTC)
        # The Date header has whole seconds: up to 1 s of apparent skew is rounding.
        skew = round((theirs - received).total_seconds()) + 0  # + 0: never "-0"
        text = f"{skew:+d} s (vendor's Date header minus our clock; limit {MAX_SKEW_SECONDS:g} s)"
        if abs(skew) > MAX_SKEW_SECONDS + 1:
            self("clock skew", FAIL, f"clock skew too large: {text}")
        else:
            self("clock skew", OK, text)


def _plain(value) -> str:
    """A stored secret's plaintext, "" when unset (SecretDecryptionError when it cannot be read)."""
    return value.reveal() if isinstance(value, Secret) else str(value or "")


def _configuration_reason(error: Exception, what: str) -> str:
    if isinstance(error, ImproperlyConfigured):
        return str(error)
    return f"{what} is empty"


def _origin(url: str) -> str:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else ""


def _path_ends(url: str, suffix: str) -> bool:
    return urlsplit(url or "").path.rstrip("/").endswith(suffix)


def _assumption_markers() -> dict[str, list[tuple[str, str]]]:
    """ASSUMPTION / SILENT markers in the vendor clients and README.md, by vendor ("" when general)."""
    root = Path(settings.BASE_DIR)
    clients = [path for path in sorted((root / "vendors").glob("**/*.py")) if "sandbox" not in path.parts]
    files = [*clients, root / "README.md"]
    found: dict[str, list[tuple[str, str]]] = {}
    for path in files:
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not any(marker in line for marker in MARKERS):
                continue
            found.setdefault(
                _vendor_of(path.relative_to(root).as_posix().removeprefix("vendors/"), line), []
            ).append((f"{path.relative_to(root)}:{number}", _shorten(line)))
    return found


def _vendor_of(filename: str, line: str) -> str:
    """The vendor a marker is about: its package under vendors/, else the vendor its line names."""
    for vendor in VENDOR_NAMES:
        if filename.startswith(vendor):
            return vendor
    lowered = line.lower()
    for vendor, name in VENDOR_NAMES.items():
        if name.lower() in lowered:
            return vendor
    return ""


def _shorten(line: str, width: int = 100) -> str:
    text = " ".join(line.strip().lstrip("#").strip().strip('"').split())
    return text if len(text) <= width else text[: width - 3] + "..."
