"""The `DigitalRiver-Signature` webhook header: made by the sandbox, checked by the back office.

Digital River documents the header and that it holds a timestamp and a signature made with the
webhook's signing secret, not how it is computed (vendors.md section 3). Its own connector
(digitalriver-connectors/sfcc_link_digitalriver, drHooksHelper.js) splits the header on ", "
into a timestamp part and a signature, and compares the signature with
base64(HMAC-SHA256(secret, timestamp_part + "." + raw_body)). That is what is done here, in
every format: the timestamp part is signed exactly as it appears in the header.

SILENT at Digital River: what the two parts look like. The format is therefore a setting,
DIGITALRIVER_SIGNATURE_FORMAT, one of FORMATS:

- `prefixed`: `t=<unix>, v0=<base64>` (the default; what the sandbox has always sent);
- `timestamp-prefixed`: `t=<unix>, <base64>`;
- `plain`: `<unix>, <base64>` (the connector's own comment: `[{timestamp}, {signature}]`).

The connector compares its result with the second part as it is, so a real header whose
signature carried `v0=` would never verify there: `plain` or `timestamp-prefixed` is what the
connector supports. The formats are disjoint (a header parses in at most one). Verification is
strict to the configured format; more signatures may follow the first (", "-separated), any one
matching is enough, and in `prefixed` parts of another scheme (`v1=...`) are skipped.
`manage.py dr_verify_signature` checks a real test event saved to a file against a format and
names the format it looks like: run it before going live.

This module imports nothing of the project: the sandbox (signer) and the billing app
(verifier) both use it, each passing settings.DIGITALRIVER_SIGNATURE_FORMAT.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable

HEADER = "DigitalRiver-Signature"
DEFAULT_TOLERANCE = 300

PREFIXED = "prefixed"
TIMESTAMP_PREFIXED = "timestamp-prefixed"
PLAIN = "plain"
DEFAULT_FORMAT = PREFIXED
# Format name -> (prefix of the timestamp part, prefix of each signature, how it reads).
FORMATS: dict[str, tuple[str, str, str]] = {
    PREFIXED: ("t=", "v0=", "t=<unix>, v0=<base64>"),
    TIMESTAMP_PREFIXED: ("t=", "", "t=<unix>, <base64>"),
    PLAIN: ("", "", "<unix>, <base64>"),
}

_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_OTHER_SCHEME = re.compile(r"v[0-9]+=")


class SignatureError(Exception):
    """A webhook whose signature does not hold; `code` says why.

    - `missing_signature`: no header, or an empty one;
    - `malformed_signature`: the header is not in the configured format;
    - `stale_timestamp`: the timestamp is further than the tolerance from now (either way);
    - `bad_signature`: no signature matches the body under any of the secrets.
    """

    def __init__(self, code: str, message: str = ""):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message or code


def check_format(fmt: str) -> str:
    """`fmt` if it is a known format; ValueError naming the known ones otherwise."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown signature format {fmt!r}; known: {', '.join(FORMATS)}")
    return fmt


def digest(secret: str, timestamp_part: str, body: bytes) -> str:
    """base64(HMAC-SHA256(secret, timestamp_part + "." + body)): the signature of one header."""
    mac = hmac.new(secret.encode(), timestamp_part.encode() + b"." + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def sign(secret: str, body: bytes, timestamp: int, *, fmt: str = DEFAULT_FORMAT) -> str:
    """The header value for `body` sent at `timestamp` (Unix seconds), in format `fmt`."""
    timestamp_prefix, signature_prefix, _ = FORMATS[check_format(fmt)]
    if not secret:
        raise ValueError("A webhook signing secret is needed to sign.")
    timestamp_part = f"{timestamp_prefix}{int(timestamp)}"
    return f"{timestamp_part}, {signature_prefix}{digest(secret, timestamp_part, body)}"


def parse(header: str, fmt: str = DEFAULT_FORMAT) -> tuple[str, int, list[str]]:
    """(timestamp part as sent, timestamp, signatures) from a header in format `fmt`.

    SignatureError `missing_signature` for an empty header, `malformed_signature` when it is
    not in `fmt`.
    """
    timestamp_prefix, signature_prefix, shape = FORMATS[check_format(fmt)]
    if not header or not header.strip():
        raise SignatureError("missing_signature", f"no {HEADER} header")
    parts = [part.strip() for part in header.split(",")]
    if len(parts) < 2 or not all(parts):
        raise SignatureError("malformed_signature", f"expected {shape!r} ({fmt})")
    timestamp_part, *rest = parts
    digits = timestamp_part.removeprefix(timestamp_prefix) if timestamp_prefix else timestamp_part
    if not (timestamp_part.startswith(timestamp_prefix) and digits.isascii() and digits.isdigit()):
        raise SignatureError(
            "malformed_signature", f"the timestamp part is not {timestamp_prefix}<unix> ({fmt})"
        )
    signatures = []
    for part in rest:
        if signature_prefix and _OTHER_SCHEME.match(part) and not part.startswith(signature_prefix):
            continue  # another scheme next to ours (v1=...): not ours to check
        value = part.removeprefix(signature_prefix) if part.startswith(signature_prefix) else None
        if value is None or not _BASE64.fullmatch(value):
            raise SignatureError(
                "malformed_signature", f"a signature part is not {signature_prefix}<base64> ({fmt})"
            )
        signatures.append(value)
    if not signatures:
        raise SignatureError("malformed_signature", f"no {signature_prefix}<base64> signature ({fmt})")
    return timestamp_part, int(digits), signatures


def matches(timestamp_part: str, signatures: Iterable[str], body: bytes, secret: str) -> bool:
    """Whether one of `signatures` is `body`'s signature under `secret` (constant-time compare)."""
    if not secret:
        return False
    expected = digest(secret, timestamp_part, body)
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


def verify(
    header: str,
    body: bytes,
    secrets: Iterable[str],
    *,
    now: int,
    tolerance: int | None = DEFAULT_TOLERANCE,
    fmt: str = DEFAULT_FORMAT,
) -> None:
    """Raise SignatureError unless `header` (format `fmt`) signs `body` with one of `secrets`, near `now`.

    Several secrets verify during a rotation (the old one keeps working for 12 hours at
    Digital River). `now` is Unix seconds of the receiver's real clock; a `tolerance` of None
    skips the timestamp check (only for diagnosing saved events, never for live traffic).
    """
    timestamp_part, timestamp, signatures = parse(header, fmt)
    if tolerance is not None and abs(int(now) - timestamp) > tolerance:
        raise SignatureError(
            "stale_timestamp", f"signed {int(now) - timestamp:+d}s from now, tolerance {tolerance}s"
        )
    if not any(matches(timestamp_part, signatures, body, secret) for secret in secrets):
        raise SignatureError("bad_signature", "no signature matches the body")
