"""The `DigitalRiver-Signature` webhook header: made by the sandbox, checked by the back office.

Digital River documents the header and that it holds a timestamp and a signature made with the
webhook's signing secret, not how it is computed (vendors.md section 3). Its own connector
(digitalriver-connectors/sfcc_link_digitalriver, drHooksHelper.js) splits the header on ", "
into a timestamp part and a signature, and compares the signature with
base64(HMAC-SHA256(secret, timestamp_part + "." + raw_body)). That is what is done here.

ASSUMPTION (SILENT at Digital River): the parts carry the prefixes `t=` and `v0=`, as in
`t=1700000000, v0=<base64>`. Verification takes the timestamp part as it appears in the header
(with or without `t=`), and the signature with or without `v0=`, so that a header without
prefixes verifies as well. Check against a real test event before going live.

This module imports nothing of the project: the sandbox (signer) and the billing app
(verifier) both use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable

HEADER = "DigitalRiver-Signature"
DEFAULT_TOLERANCE = 300


class SignatureError(Exception):
    """A webhook whose signature does not hold; `code` says why.

    - `missing_signature`: no header, or an empty one;
    - `malformed_signature`: the header is not `t=<unix>, v0=<signature>`;
    - `stale_timestamp`: the timestamp is further than the tolerance from now (either way);
    - `bad_signature`: no signature matches the body under any of the secrets.
    """

    def __init__(self, code: str, message: str = ""):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message or code


def _digest(secret: str, timestamp_part: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp_part.encode() + b"." + body, hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value for `body` sent at `timestamp` (Unix seconds): `t=<unix>, v0=<base64>`."""
    if not secret:
        raise ValueError("A webhook signing secret is needed to sign.")
    timestamp_part = f"t={int(timestamp)}"
    return f"{timestamp_part}, v0={_digest(secret, timestamp_part, body)}"


def parse(header: str) -> tuple[str, int, list[str]]:
    """(timestamp part as sent, timestamp, signatures) from a header; SignatureError if malformed."""
    if not header or not header.strip():
        raise SignatureError("missing_signature", f"no {HEADER} header")
    parts = [part.strip() for part in header.split(",")]
    if len(parts) < 2 or not all(parts):
        raise SignatureError("malformed_signature", "expected 't=<unix>, v0=<signature>'")
    timestamp_part, *signatures = parts
    digits = timestamp_part.removeprefix("t=")
    if not digits.isdigit():
        raise SignatureError("malformed_signature", "the timestamp is not a number of seconds")
    values = [signature.removeprefix("v0=") for signature in signatures]
    if any("=" in value.rstrip("=") for value in values):  # another scheme (v1=...) or garbage
        raise SignatureError("malformed_signature", "unknown signature scheme")
    return timestamp_part, int(digits), values


def verify(
    header: str,
    body: bytes,
    secrets: Iterable[str],
    *,
    now: int,
    tolerance: int = DEFAULT_TOLERANCE,
) -> None:
    """Raise SignatureError unless `header` signs `body` with one of `secrets`, made near `now`.

    Several secrets verify during a rotation (the old one keeps working for 12 hours at
    Digital River). `now` is Unix seconds of the receiver's real clock.
    """
    timestamp_part, timestamp, signatures = parse(header)
    if abs(int(now) - timestamp) > tolerance:
        raise SignatureError(
            "stale_timestamp", f"signed {int(now) - timestamp:+d}s from now, tolerance {tolerance}s"
        )
    for secret in secrets:
        if not secret:
            continue
        expected = _digest(secret, timestamp_part, body)
        if any(hmac.compare_digest(expected, signature) for signature in signatures):
            return
    raise SignatureError("bad_signature", "no signature matches the body")
