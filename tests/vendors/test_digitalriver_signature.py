"""The DigitalRiver-Signature header: how the sandbox signs and how the back office verifies."""

import base64
import hashlib
import hmac

import pytest

from vendors.digitalriver_signature import SignatureError, parse, sign, verify

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


def test_prefixes_are_optional_when_verifying():
    digest = sign(SECRET, BODY, NOW).split("v0=")[1]
    bare_timestamp = base64.b64encode(
        hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).digest()
    ).decode()

    verify(f"t={NOW}, {digest}", BODY, [SECRET], now=NOW)
    verify(f"{NOW}, {bare_timestamp}", BODY, [SECRET], now=NOW)


def test_any_of_several_signatures_may_match():
    good = sign(SECRET, BODY, NOW).split(", ")[1]

    verify(f"t={NOW}, v0=bm90LWl0, {good}", BODY, [SECRET], now=NOW)


def test_empty_secrets_verify_nothing():
    assert _code(sign(SECRET, BODY, NOW), secrets=["", ""]) == "bad_signature"
    with pytest.raises(ValueError):
        sign("", BODY, NOW)
