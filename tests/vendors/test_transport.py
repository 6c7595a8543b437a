"""The shared transport: error classification, Retry-After, no retries, nothing secret let out."""

import logging
import pickle
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from tests.vendors.helpers import PARTNER_KEY, canned, new_subaccount
from vendors.digicert.client import DigiCertClient
from vendors.errors import VendorError
from vendors.http import build_session as real_build_session
from vendors.http import parse_retry_after
from vendors.sandbox.testing import route_vendors_to_sandbox


def _client():
    return DigiCertClient(PARTNER_KEY)


def _failure(**answer) -> VendorError:
    client = _client()
    canned(client, **answer)
    with pytest.raises(VendorError) as caught:
        client.get_account_settings()
    return caught.value


def test_vendor_error_reads_as_code_and_message():
    error = VendorError("digicert", "access_denied", "Partner key required", status=403)

    assert str(error) == "access_denied: Partner key required"
    assert "access_denied" in repr(error)


def test_vendor_error_survives_pickling():
    error = VendorError("cloudflare", "1225", "No access", status=403, retry_after=3.0, raw={"a": 1})

    copy = pickle.loads(pickle.dumps(error))

    assert (copy.vendor, copy.code, copy.status, copy.retry_after, copy.raw) == (
        "cloudflare",
        "1225",
        403,
        3.0,
        {"a": 1},
    )


def test_retry_after_accepts_seconds_and_http_dates():
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)

    assert parse_retry_after("7") == 7.0
    assert 55 <= parse_retry_after(in_a_minute) <= 60
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_sessions_never_retry_on_their_own():
    session = real_build_session()

    for adapter in session.adapters.values():
        assert adapter.max_retries.total == 0


def test_read_timeout_is_outcome_unknown():
    error = _failure(raises=requests.ReadTimeout("read timed out"))

    assert (error.code, error.retryable, error.outcome_unknown) == ("timeout", True, True)


def test_connect_timeout_is_not_outcome_unknown():
    error = _failure(raises=requests.ConnectTimeout("connect timed out"))

    assert (error.code, error.retryable, error.outcome_unknown) == ("connect_timeout", True, False)


def test_connection_refused_is_not_outcome_unknown():
    refused = MaxRetryError(None, "/", NewConnectionError(None, "Connection refused"))

    error = _failure(raises=requests.ConnectionError(refused))

    assert (error.code, error.retryable, error.outcome_unknown) == ("connection_error", True, False)


def test_connection_reset_after_send_is_outcome_unknown():
    reset = ProtocolError("Connection aborted.", ConnectionResetError(104, "Connection reset by peer"))

    error = _failure(raises=requests.ConnectionError(reset))

    assert (error.code, error.retryable, error.outcome_unknown) == ("connection_dropped", True, True)


def test_body_cut_short_is_outcome_unknown():
    error = _failure(raises=requests.exceptions.ChunkedEncodingError("IncompleteRead"))

    assert (error.code, error.retryable, error.outcome_unknown) == ("connection_dropped", True, True)


def test_connect_error_before_send_is_not_outcome_unknown(monkeypatch):
    """A real refused connection (nothing listens on the port) is known not to have reached the vendor."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base = f"http://127.0.0.1:{port}/"
    route_vendors_to_sandbox(monkeypatch, allow=[base])
    client = DigiCertClient(PARTNER_KEY, base_url=base)

    with pytest.raises(VendorError) as caught:
        new_subaccount(client)

    assert (caught.value.code, caught.value.outcome_unknown) == ("connection_error", False)


def test_http_errors_are_retryable_only_for_429_408_and_5xx():
    assert _failure(status=500, body="{}").retryable
    assert _failure(status=429, body="{}").retryable
    assert _failure(status=408, body="{}").retryable
    assert not _failure(status=400, body="{}").retryable
    assert not _failure(status=404, body="{}").retryable


def test_gateway_errors_are_outcome_unknown_but_vendor_errors_are_not():
    assert _failure(status=504, body="").outcome_unknown
    assert _failure(status=502, body="").outcome_unknown
    assert not _failure(status=500, body="").outcome_unknown
    assert not _failure(status=503, body="").outcome_unknown


def test_error_without_envelope_falls_back_to_http_status():
    error = _failure(status=503, body="<html>down</html>", headers={"Retry-After": "12"})

    assert (error.code, error.status, error.retry_after, error.raw) == ("http_503", 503, 12.0, None)


def test_digicert_single_error_object_is_understood_too():
    error = _failure(status=403, body='{"error": {"code": "access_denied", "message": "Parent key only"}}')

    assert (error.code, error.message) == ("access_denied", "Parent key only")


def test_success_that_is_not_json_is_outcome_unknown():
    error = _failure(status=200, body="<html>proxy</html>")

    assert (error.code, error.outcome_unknown) == ("invalid_response", True)


def test_redirects_are_not_followed():
    error = _failure(status=302, body="", headers={"Location": "https://elsewhere.example/"})

    assert (error.code, error.status) == ("http_302", 302)


def test_vendor_echo_of_the_key_is_scrubbed_from_message_and_raw():
    echoed = f'{{"errors": [{{"code": "invalid_api_key", "message": "bad key {PARTNER_KEY}"}}]}}'

    error = _failure(status=401, body=echoed)

    assert PARTNER_KEY not in error.message
    assert PARTNER_KEY not in str(error.raw)
    assert error.code == "invalid_api_key"


@pytest.mark.django_db
def test_vendor_calls_are_logged_without_keys(digicert, caplog):
    caplog.set_level(logging.DEBUG)

    created = new_subaccount(digicert)

    vendor_lines = [r.getMessage() for r in caplog.records if r.name == "vendors"]
    assert len(vendor_lines) == 1
    assert vendor_lines[0].startswith("digicert POST /account/subaccount -> 201 (")
    everything = " ".join(r.getMessage() for r in caplog.records)
    assert PARTNER_KEY not in everything
    assert created.api_key not in everything
