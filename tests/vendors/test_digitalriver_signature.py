"""The DigitalRiver-Signature header (how the sandbox signs, how the back office verifies, in the
configured format) and the DigitalRiver-Version header on every API call."""

import base64
import hashlib
import hmac
import time

import pytest

from billing.models import EventState, RejectedWebhook, WebhookEvent
from vendors.digitalriver.signature import FORMATS, SignatureError, parse, sign, verify
from vendors.sandbox.digitalriver import views as sandbox_dr
from vendors.sandbox.digitalriver.events import deliver
from vendors.sandbox.digitalriver.models import DREvent

SECRET = "whsec_current"
OLD_SECRET = "whsec_previous"
BODY = b'{"id":"evt-1","type":"order.accepted","data":{"object":{"id":"1001"}}}'
NOW = 1_800_000_000


def _code(header, body=BODY, secrets=(SECRET,), now=NOW, **kwargs) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(header, body, list(secrets), now=now, **kwargs)
    return caught.value.code


def test_sign_is_the_connectors_hmac_over_timestamp_part_and_body():
    header = sign(SECRET, BODY, NOW)

    expected = base64.b64encode(
        hmac.new(SECRET.encode(), f"t={NOW}.".encode() + BODY, hashlib.sha256).digest()
    )
    assert header == f"t={NOW}, v0={expected.decode()}"
    assert parse(header) == (f"t={NOW}", NOW, [expected.decode()])


def test_a_fresh_signature_verifies():
    verify(sign(SECRET, BODY, NOW), BODY, [SECRET], now=NOW + 299)
    verify(sign(SECRET, BODY, NOW), BODY, [SECRET], now=NOW - 10)


@pytest.mark.parametrize(
    "header,body,now,code",
    [
        (sign(SECRET, BODY, NOW - 301), BODY, NOW, "stale_timestamp"),
        (sign(SECRET, BODY, NOW + 301), BODY, NOW, "stale_timestamp"),
        (sign("whsec_wrong", BODY, NOW), BODY, NOW, "bad_signature"),
        (sign(SECRET, BODY, NOW), BODY + b" ", NOW, "bad_signature"),
        (sign(SECRET, BODY, NOW).replace(f"t={NOW}", f"t={NOW + 1}"), BODY, NOW, "bad_signature"),
    ],
)
def test_stale_or_wrong_signature_fails_verification(header, body, now, code):
    assert _code(header, body, now=now) == code


def test_the_tolerance_is_the_callers():
    header = sign(SECRET, BODY, NOW - 600)

    assert _code(header) == "stale_timestamp"
    verify(header, BODY, [SECRET], now=NOW, tolerance=900)


def test_old_secret_verifies_during_rotation():
    signed_with_old = sign(OLD_SECRET, BODY, NOW)

    verify(signed_with_old, BODY, [SECRET, OLD_SECRET], now=NOW)
    verify(sign(SECRET, BODY, NOW), BODY, [SECRET, OLD_SECRET], now=NOW)
    assert _code(signed_with_old, secrets=[SECRET]) == "bad_signature"


@pytest.mark.parametrize("header", ["", "   "])
def test_a_missing_signature(header):
    assert _code(header) == "missing_signature"


@pytest.mark.parametrize(
    "header", ["t=123", "v0=abc", "t=abc, v0=xyz", "t=123,", "garbage", f"t={NOW}, v1=abc=def"]
)
def test_a_malformed_signature(header):
    assert _code(header) == "malformed_signature"


def test_any_of_several_signatures_may_match():
    good = sign(SECRET, BODY, NOW).split(", ")[1]

    verify(f"t={NOW}, v0=bm90LWl0, {good}", BODY, [SECRET], now=NOW)


def test_empty_secrets_verify_nothing():
    assert _code(sign(SECRET, BODY, NOW), secrets=["", ""]) == "bad_signature"
    with pytest.raises(ValueError):
        sign("", BODY, NOW)


# --- Formats -------------------------------------------------------------------------------------


def _b64(message: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest()).decode()


@pytest.mark.parametrize(
    "fmt,header",
    [
        ("prefixed", f"t={NOW}, v0={_b64(f't={NOW}.'.encode() + BODY)}"),
        ("timestamp-prefixed", f"t={NOW}, {_b64(f't={NOW}.'.encode() + BODY)}"),
        ("plain", f"{NOW}, {_b64(f'{NOW}.'.encode() + BODY)}"),
    ],
)
def test_each_format_signs_the_timestamp_part_as_it_appears(fmt, header):
    assert sign(SECRET, BODY, NOW, fmt=fmt) == header
    timestamp_part = header.split(", ")[0]
    assert parse(header, fmt) == (timestamp_part, NOW, [header.split(", ")[1].removeprefix("v0=")])
    verify(header, BODY, [SECRET], now=NOW, fmt=fmt)


def test_the_default_format_is_prefixed():
    assert sign(SECRET, BODY, NOW) == sign(SECRET, BODY, NOW, fmt="prefixed")
    assert set(FORMATS) == {"prefixed", "timestamp-prefixed", "plain"}


@pytest.mark.parametrize("signed_in", list(FORMATS))
@pytest.mark.parametrize("verified_in", list(FORMATS))
def test_verification_is_strict_to_the_format_and_formats_are_disjoint(signed_in, verified_in):
    header = sign(SECRET, BODY, NOW, fmt=signed_in)
    if signed_in == verified_in:
        verify(header, BODY, [SECRET], now=NOW, fmt=verified_in)
    else:
        assert _code(header, fmt=verified_in) == "malformed_signature"


def test_plain_headers_split_like_the_connector_but_tolerate_spacing():
    digest = sign(SECRET, BODY, NOW, fmt="plain").split(", ")[1]

    verify(f"{NOW},{digest}", BODY, [SECRET], now=NOW, fmt="plain")
    verify(f" {NOW} ,  {digest} ", BODY, [SECRET], now=NOW, fmt="plain")


def test_other_schemes_next_to_v0_are_skipped_in_the_prefixed_format():
    header = sign(SECRET, BODY, NOW)

    verify(f"{header}, v1=deadbeef", BODY, [SECRET], now=NOW)
    assert _code(f"t={NOW}, v1=deadbeef") == "malformed_signature"


@pytest.mark.parametrize("header", [f"t={NOW}, v0=not base64!", f"t=+{NOW}, v0=abc=", "t=١٢٣, v0=abc="])
def test_garbage_in_a_part_is_malformed(header):
    assert _code(header) == "malformed_signature"


def test_an_unknown_format_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown signature format"):
        sign(SECRET, BODY, NOW, fmt="stripe")
    with pytest.raises(ValueError, match="unknown signature format"):
        verify(sign(SECRET, BODY, NOW), BODY, [SECRET], now=NOW, fmt="stripe")


def test_no_tolerance_skips_only_the_timestamp():
    old = sign(SECRET, BODY, NOW - 86_400)

    verify(old, BODY, [SECRET], now=NOW, tolerance=None)
    assert _code(old, secrets=["whsec_wrong"], tolerance=None) == "bad_signature"


# --- The setting drives the sandbox's signing and the webhook's verification -------------------------


def _deliver_one() -> WebhookEvent:
    event = DREvent.objects.create(
        type="plan.created", data={"object": {"id": "p"}, "previousAttributes": {}}
    )
    assert deliver(event), DREvent.objects.get(pk=event.pk).last_error
    return WebhookEvent.objects.get()


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_the_format_setting_switches_sandbox_signing_and_webhook_verification(fmt, settings):
    settings.DIGITALRIVER_SIGNATURE_FORMAT = fmt

    received = _deliver_one()

    assert received.state == EventState.RECEIVED and received.event_id
    parse(received.signature, fmt)  # in that format, and only that one
    for other in set(FORMATS) - {fmt}:
        with pytest.raises(SignatureError):
            parse(received.signature, other)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sent_in,expected_in", [("plain", "prefixed"), ("prefixed", "plain"), ("timestamp-prefixed", "plain")]
)
def test_the_webhook_refuses_a_header_in_another_format(sent_in, expected_in, settings, client):
    settings.DIGITALRIVER_SIGNATURE_FORMAT = expected_in
    body = b'{"id":"evt-format","type":"plan.created","data":{"object":{}}}'
    header = sign(settings.DIGITALRIVER_WEBHOOK_SECRETS[0], body, int(time.time()), fmt=sent_in)

    response = client.post(
        "/webhooks/digitalriver/", body, content_type="application/json", HTTP_DIGITALRIVER_SIGNATURE=header
    )

    assert response.status_code == 400
    rejected = RejectedWebhook.objects.get()
    assert rejected.reason == "malformed_signature" and not WebhookEvent.objects.exists()


# --- DigitalRiver-Version --------------------------------------------------------------------------


@pytest.fixture
def versions_seen(monkeypatch) -> list:
    """The DigitalRiver-Version header of each request the sandbox's Digital River API authorises."""
    seen = []
    authorize = sandbox_dr._authorize

    def spying(request):
        seen.append(request.headers.get("DigitalRiver-Version"))
        authorize(request)

    monkeypatch.setattr(sandbox_dr, "_authorize", spying)
    return seen


def test_every_api_call_sends_the_pinned_version(dr, vendor_sandbox, versions_seen, settings):
    assert settings.DIGITALRIVER_API_VERSION == "2021-12-13"

    dr.get_plan("no-such-plan")
    dr.ensure_customer("cust-version", email="v@example.com", name="V")

    assert versions_seen and set(versions_seen) == {"2021-12-13"}
    assert vendor_sandbox.requests("digitalriver").count() == len(versions_seen)


def test_the_version_setting_changes_the_header(dr, versions_seen, settings):
    settings.DIGITALRIVER_API_VERSION = "2099-01-01"
    dr.get_plan("no-such-plan")
    settings.DIGITALRIVER_API_VERSION = ""
    dr.get_plan("no-such-plan")

    assert versions_seen == ["2099-01-01", None]
