"""Check a real Digital River test event's DigitalRiver-Signature header, step by step.

How Digital River formats the header is SILENT (vendors/digitalriver/signature.py). Before going
live, send a test event, save its raw body byte for byte (never re-serialised JSON: one space more
changes the signature) and copy its header, then:

    manage.py dr_verify_signature --body event.json --header "t=..., v0=..." --secret whsec_...

Steps: header present, parsed in the format (DIGITALRIVER_SIGNATURE_FORMAT or --format), timestamp
within the tolerance, signature matched by one of the secrets (several --secret allowed; default
DIGITALRIVER_WEBHOOK_SECRETS). When nothing matches, the other known formats are tried and the
one the header looks like is named. Exit code 0 when it verifies, 1 otherwise. A saved event is
old by the time it is checked: --no-tolerance, or --now with the Unix time it arrived.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from vendors.digitalriver.signature import FORMATS, HEADER, SignatureError, matches, parse

OK, FAIL, SKIP = "ok", "FAIL", "skip"


class Command(BaseCommand):
    help = (
        "Check a saved Digital River test event (raw body file + DigitalRiver-Signature header) "
        "against the signature format, step by step. Exit 0 when it verifies, 1 otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--body", required=True, metavar="FILE", help="The raw body, byte for byte ('-': stdin)."
        )
        parser.add_argument("--header", default="", metavar="VALUE", help=f"The {HEADER} header's value.")
        parser.add_argument(
            "--secret",
            action="append",
            dest="secrets",
            metavar="SECRET",
            help="A webhook signing secret; repeat for several (default: DIGITALRIVER_WEBHOOK_SECRETS).",
        )
        parser.add_argument(
            "--format",
            dest="fmt",
            choices=list(FORMATS),
            help="The format to check (default: DIGITALRIVER_SIGNATURE_FORMAT).",
        )
        window = parser.add_mutually_exclusive_group()
        window.add_argument(
            "--tolerance",
            type=int,
            metavar="SECONDS",
            help="How far the timestamp may be from now (default: DIGITALRIVER_WEBHOOK_TOLERANCE_SECONDS).",
        )
        window.add_argument("--no-tolerance", action="store_true", help="Do not check the timestamp.")
        parser.add_argument(
            "--now", type=int, metavar="UNIX", help="What 'now' is, Unix seconds (default: the clock)."
        )

    def handle(self, *args, body, header, secrets, fmt, tolerance, no_tolerance, now, **options):
        fmt = fmt or settings.DIGITALRIVER_SIGNATURE_FORMAT
        if fmt not in FORMATS:
            raise CommandError(f"Unknown format {fmt!r}; known: {', '.join(FORMATS)}.")
        raw = self._read(body)
        if secrets is None:
            secrets = list(settings.DIGITALRIVER_WEBHOOK_SECRETS)
            source = "DIGITALRIVER_WEBHOOK_SECRETS"
        else:
            source = "--secret"
        secrets = [secret for secret in secrets if secret]
        if not secrets:
            raise CommandError("No signing secret: give --secret or set DIGITALRIVER_WEBHOOK_SECRETS.")
        if not no_tolerance and tolerance is None:
            tolerance = settings.DIGITALRIVER_WEBHOOK_TOLERANCE_SECONDS
        now = int(time.time()) if now is None else now
        header = header.strip()
        if header.lower().startswith(HEADER.lower() + ":"):
            header = header[len(HEADER) + 1 :].strip()

        self.stdout.write(f"Format {fmt!r}: {FORMATS[fmt][2]}")
        self.stdout.write(f"Body: {body}, {len(raw)} bytes; {len(secrets)} secret(s) from {source}")
        failure = self._check(raw, header, secrets, fmt, tolerance, now)
        if failure:
            raise CommandError(f"The signature does not verify: {failure}.", returncode=1)
        self.stdout.write(self.style.SUCCESS(f"Verified: the header is in format {fmt!r}."))

    # --- The steps -----------------------------------------------------------------------------

    def _check(self, raw: bytes, header: str, secrets: list[str], fmt: str, tolerance, now: int) -> str:
        """Print each step; the reason it fails, or "" when everything passed."""
        if not header:
            self._step("header present", FAIL, f"no {HEADER} value (--header)")
            return "no header"
        self._step("header present", OK, f"{len(header)} characters")

        try:
            timestamp_part, timestamp, signatures = parse(header, fmt)
        except SignatureError as error:
            self._step(f"parsed as {fmt!r}", FAIL, error.message)
            self._step("timestamp", SKIP, "not parsed")
            self._step("signature", SKIP, "not parsed")
            self._other_formats(raw, header, secrets, fmt)
            return f"the header is not in format {fmt!r}"
        self._step(
            f"parsed as {fmt!r}",
            OK,
            f"timestamp part {timestamp_part!r}, {len(signatures)} signature part(s)",
        )

        stale = self._timestamp(timestamp, tolerance, now)

        matched = [
            number
            for number, secret in enumerate(secrets, 1)
            if matches(timestamp_part, signatures, raw, secret)
        ]
        for number in range(1, len(secrets) + 1):
            outcome = (OK, "matches") if number in matched else (FAIL, "does not match")
            self._step(f"signature, secret {number} of {len(secrets)}", *outcome)
        if not matched:
            self._other_formats(raw, header, secrets, fmt)
            self._hints(raw, timestamp_part, timestamp, signatures, secrets)
            return "no secret matches the signature"
        if stale:
            return stale
        return ""

    def _timestamp(self, timestamp: int, tolerance, now: int) -> str:
        """Step 3; the reason it fails, or ""."""
        when = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        offset = now - timestamp
        off = f"{abs(offset)}s {'before' if offset >= 0 else 'after'} now"
        if tolerance is None:
            self._step("timestamp", SKIP, f"{timestamp} ({when}), {off}; not checked (--no-tolerance)")
            return ""
        if abs(offset) > tolerance:
            self._step("timestamp", FAIL, f"{timestamp} ({when}), {off}, tolerance {tolerance}s")
            self.stdout.write(
                "       A saved event is old by now: --no-tolerance, or --now <unix time it arrived>, "
                "checks the rest."
            )
            return f"the timestamp is {abs(offset)}s off, tolerance {tolerance}s"
        self._step("timestamp", OK, f"{timestamp} ({when}), {off}, within {tolerance}s")
        return ""

    def _other_formats(self, raw: bytes, header: str, secrets: list[str], fmt: str) -> None:
        """Step 5: which other known format the header verifies in, if any."""
        found = False
        for other, (_, _, shape) in FORMATS.items():
            if other == fmt:
                continue
            try:
                timestamp_part, _, signatures = parse(header, other)
            except SignatureError:
                self._step(f"other format {other!r} ({shape})", "--", "does not parse")
                continue
            secret = next(
                (n for n, s in enumerate(secrets, 1) if matches(timestamp_part, signatures, raw, s)), None
            )
            if secret is None:
                self._step(f"other format {other!r} ({shape})", "--", "parses, but no secret matches")
                continue
            found = True
            self._step(f"other format {other!r} ({shape})", OK, f"verifies with secret {secret}")
            self.stdout.write(
                self.style.WARNING(
                    f"The header looks like format {other!r}: set DIGITALRIVER_SIGNATURE_FORMAT={other}."
                )
            )
        if not found:
            self.stdout.write("       No other known format verifies this header.")

    def _hints(self, raw, timestamp_part, timestamp, signatures, secrets) -> None:
        """What else could explain a header that parses but matches no secret."""
        if raw.endswith((b"\n", b"\r")):
            stripped = raw.rstrip(b"\r\n")
            if any(matches(timestamp_part, signatures, stripped, secret) for secret in secrets):
                self.stdout.write(
                    self.style.WARNING(
                        "       It matches without the file's trailing newline: the file gained it when "
                        "saved. Save the body byte for byte."
                    )
                )
                return
        digits = str(timestamp)
        if timestamp_part != digits and any(matches(digits, signatures, raw, s) for s in secrets):
            self.stdout.write(
                self.style.WARNING(
                    f"       It matches when only {digits!r} is signed, not {timestamp_part!r} as sent: "
                    "no known format does that; vendors/digitalriver/signature.py needs a new one."
                )
            )
            return
        self.stdout.write(
            "       Check the secret (test and live keys have different secrets; after a rotation the old "
            "one works for 12 hours) and that the body is the raw bytes as received."
        )

    def _step(self, name: str, outcome: str, detail: str) -> None:
        style = {OK: self.style.SUCCESS, FAIL: self.style.ERROR}.get(outcome, str)
        self.stdout.write(f"{style(f'[{outcome}]'.ljust(6))} {name}: {detail}")

    def _read(self, body: str) -> bytes:
        if body == "-":
            return sys.stdin.buffer.read()
        try:
            return Path(body).read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read the body file {body}: {error.strerror}.") from error
