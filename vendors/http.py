"""The transport every vendor client shares: one session, a timeout on every call, classified errors."""

from __future__ import annotations

import email.utils
import logging
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from requests.adapters import HTTPAdapter
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

from vendors.errors import VendorError

logger = logging.getLogger("vendors")

USER_AGENT = "partner-backoffice/1.0"
REDACTED = "[redacted]"


def build_session() -> requests.Session:
    """A session that never retries on its own: a repeated POST could create a second object.

    Every client gets its session from here, looked up at construction time, so tests can
    replace this function to route all vendor traffic (see vendors.sandbox.testing).
    """
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


class VendorHTTP:
    """Base of the vendor clients: JSON over one session, every failure raised as a VendorError."""

    vendor = ""

    def __init__(self, base_url: str, *, timeout: float | None = None, secrets: tuple[str, ...] = ()):
        if not base_url:
            raise ImproperlyConfigured(f"No base URL configured for the {self.vendor} client.")
        self.base_url = base_url.rstrip("/")
        self.timeout = settings.VENDOR_TIMEOUT_SECONDS if timeout is None else timeout
        self.session = build_session()
        # Strings never to let out of the client: scrubbed from error messages and raw bodies.
        self._secrets = tuple(s for s in secrets if s)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.base_url}>"

    # --- Hooks for the vendor subclasses -----------------------------------------------------

    def _auth_headers(self) -> dict[str, str]:
        return {}

    def _error_code_and_message(self, body: Any) -> tuple[str, str] | None:
        """The vendor's error code and message from an error body, or None to fall back on HTTP."""
        return None

    def _check_success(self, body: Any, response: requests.Response) -> None:
        """Raise if a 2xx answer still reports a failure (envelopes with a success flag)."""

    # --- The call ----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict | None = None,
        headers: dict | None = None,
    ) -> Any:
        """Call the vendor once and return the parsed JSON body (None when empty)."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        all_headers = {"Accept": "application/json", **self._auth_headers(), **(headers or {})}
        started = time.monotonic()
        try:
            # No redirects: a redirect could carry our key header to another host.
            response = self.session.request(
                method,
                url,
                json=json,
                params=params,
                headers=all_headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            error = self._transport_error(exc)
            logger.warning(
                "%s %s %s failed after %.0f ms: %s (outcome unknown: %s)",
                self.vendor, method, path, _ms(started), error.code, error.outcome_unknown,
            )  # fmt: skip
            raise error from exc
        logger.info("%s %s %s -> %s (%.0f ms)", self.vendor, method, path, response.status_code, _ms(started))
        body = self._parse_body(response)
        if not 200 <= response.status_code < 300:
            raise self._http_error(response, body)
        if response.content and body is None:
            # The vendor acted on the request, but we cannot read what it did.
            raise VendorError(
                self.vendor,
                "invalid_response",
                f"HTTP {response.status_code} with a body that is not JSON",
                status=response.status_code,
                retryable=True,
                outcome_unknown=True,
            )
        self._check_success(body, response)
        return body

    # --- Classification ----------------------------------------------------------------------

    def _parse_body(self, response: requests.Response) -> Any:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def _http_error(self, response: requests.Response, body: Any) -> VendorError:
        status = response.status_code
        code, message = self._error_code_and_message(body) or (
            f"http_{status}",
            response.reason or f"HTTP {status}",
        )
        return VendorError(
            self.vendor,
            code,
            self._scrub(message),
            status=status,
            retryable=status in (408, 429) or status >= 500,
            # A gateway answering 502/504 could not tell whether the vendor behind it acted.
            outcome_unknown=status in (502, 504),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            raw=self._scrub(body),
        )

    def _transport_error(self, exc: requests.RequestException) -> VendorError:
        """Classify a failure without an HTTP answer; unknown outcome unless provably unsent."""
        if isinstance(exc, requests.ConnectTimeout):
            return self._no_answer(
                "connect_timeout", f"could not connect within {self.timeout:g}s", sent=False
            )
        if isinstance(exc, requests.Timeout):
            return self._no_answer("timeout", f"no answer within {self.timeout:g}s", sent=True)
        if isinstance(exc, requests.exceptions.SSLError):
            return self._no_answer("ssl_error", "TLS handshake failed", sent=False)
        if isinstance(exc, requests.ConnectionError):
            reason = exc.args[0] if exc.args else None
            if isinstance(reason, MaxRetryError):
                reason = reason.reason
            if isinstance(reason, NewConnectionError):  # refused, unreachable, DNS: nothing sent
                return self._no_answer("connection_error", "could not connect", sent=False)
            if isinstance(reason, ReadTimeoutError):  # timed out while reading the body
                return self._no_answer("timeout", f"no answer within {self.timeout:g}s", sent=True)
            return self._no_answer("connection_dropped", "connection dropped", sent=True)
        if isinstance(
            exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)
        ):
            return self._no_answer("connection_dropped", "connection broke mid-response", sent=True)
        # Invalid URL, missing schema and the like: a bug or misconfiguration, nothing was sent.
        return VendorError(self.vendor, "request_error", f"request not sent ({type(exc).__name__})")

    def _no_answer(self, code: str, message: str, *, sent: bool) -> VendorError:
        # Without an answer, trying again later may work; whether the vendor acted is known
        # only when the request provably never left.
        return VendorError(self.vendor, code, message, retryable=True, outcome_unknown=sent)

    def _unreadable(self, what: str, body: Any) -> VendorError:
        """A 2xx answer we cannot read: the vendor may have acted on it, so the outcome is unknown."""
        return VendorError(
            self.vendor,
            "invalid_response",
            f"unexpected {what} response",
            retryable=True,
            outcome_unknown=True,
            raw=self._scrub(body),
        )

    def _scrub(self, value: Any) -> Any:
        """Remove our own credentials from anything the vendor echoes back."""
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {key: self._scrub(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._scrub(item) for item in value]
        return value


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from a vendor's ISO 8601 ("...Z") or "YYYY-MM-DD HH:MM:SS" time; naive is UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_decimal(value: Any) -> Decimal | None:
    """A Decimal from a JSON number (through its text, so 0.1 stays 0.1), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def oldest_first(items: list[dict], time_field: str) -> list[dict]:
    """Items sorted by a vendor timestamp, oldest first; unreadable times last, order kept on ties."""

    def when(item: dict) -> datetime:
        return parse_time(item.get(time_field)) or _LAST

    return sorted(items, key=when)


_LAST = datetime.max.replace(tzinfo=UTC)


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000
