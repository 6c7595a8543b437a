"""`manage.py dr_verify_signature`: a saved test event checked step by step, exit 0 or 1."""

import base64
import hashlib
import hmac
import io

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError

from vendors.digitalriver.signature import sign

SECRET = "whsec_test_live_check"
NOW = 1_800_000_000
# Spacing and a non-ASCII byte as Digital River might send them: checked as bytes, never re-serialised.
BODY = b'{ "id": "evt-saved", "type": "order.accepted", "data": {"object": {"name": "Caf\xc3\xa9"}} }'


@pytest.fixture
def body_file(tmp_path):
    path = tmp_path / "event.json"
    path.write_bytes(BODY)
    return path


def run(*args) -> tuple[int, str]:
    """(exit code, output) of the command."""
    out = io.StringIO()
    try:
        call_command("dr_verify_signature", *args, stdout=out, stderr=io.StringIO())
    except CommandError as error:
        return error.returncode, out.getvalue() + str(error)
    return 0, out.getvalue()


def check(body_file, header, *args, secrets=(SECRET,)) -> tuple[int, str]:
    secret_args = [arg for secret in secrets for arg in ("--secret", secret)]
    return run("--body", str(body_file), "--header", header, *secret_args, "--now", str(NOW), *args)


def test_a_good_header_verifies_step_by_step(body_file):
    code, output = check(body_file, sign(SECRET, BODY, NOW - 20))

    assert code == 0
    assert "[ok]   header present" in output
    assert "[ok]   parsed as 'prefixed': timestamp part 't=1799999980', 1 signature part(s)" in output
    assert "[ok]   timestamp: 1799999980 (2027-01-15 07:59:40 UTC), 20s before now, within 300s" in output
    assert "[ok]   signature, secret 1 of 1: matches" in output
    assert "Verified: the header is in format 'prefixed'." in output
    assert SECRET not in output


def test_the_exit_code_is_1_on_failure_and_0_on_success(body_file):
    base = ["manage.py", "dr_verify_signature", "--body", str(body_file), "--secret", SECRET]
    execute_from_command_line([*base, "--header", sign(SECRET, BODY, NOW), "--now", str(NOW)])

    with pytest.raises(SystemExit) as exited:
        execute_from_command_line([*base, "--header", sign("whsec_other", BODY, NOW), "--now", str(NOW)])
    assert exited.value.code == 1


@pytest.mark.parametrize("header", ["", "   "])
def test_a_missing_header(body_file, header):
    code, output = check(body_file, header)

    assert code == 1
    assert "[FAIL] header present" in output and "no header" in output


def test_a_malformed_header(body_file):
    code, output = check(body_file, "sha256=0123456789abcdef")

    assert code == 1
    assert "[FAIL] parsed as 'prefixed'" in output
    assert "[skip] timestamp: not parsed" in output and "[skip] signature: not parsed" in output
    assert "does not parse" in output and "No other known format verifies this header." in output


@pytest.mark.parametrize("offset,words", [(-3600, "3600s before now"), (901, "901s after now")])
def test_a_stale_timestamp_says_how_far_off(body_file, offset, words):
    header = sign(SECRET, BODY, NOW + offset)

    code, output = check(body_file, header)

    assert code == 1
    assert f"[FAIL] timestamp: {NOW + offset} " in output and f"{words}, tolerance 300s" in output
    assert "--no-tolerance" in output
    assert "[ok]   signature, secret 1 of 1: matches" in output  # the rest is still checked
    assert f"the timestamp is {abs(offset)}s off" in output


def test_the_tolerance_can_be_widened_or_skipped_for_a_saved_event(body_file):
    header = sign(SECRET, BODY, NOW - 3600)

    assert check(body_file, header, "--tolerance", "4000")[0] == 0
    code, output = check(body_file, header, "--no-tolerance")
    assert code == 0 and "[skip] timestamp: 1799996400" in output and "not checked (--no-tolerance)" in output
    with pytest.raises(CommandError):  # one or the other
        call_command("dr_verify_signature", "--body", "x", "--tolerance", "5", "--no-tolerance")


def test_a_wrong_secret(body_file):
    code, output = check(body_file, sign("whsec_other", BODY, NOW), secrets=(SECRET, "whsec_previous"))

    assert code == 1
    assert "[FAIL] signature, secret 1 of 2: does not match" in output
    assert "[FAIL] signature, secret 2 of 2: does not match" in output
    assert "test and live keys have different secrets" in output
    assert "no secret matches the signature" in output


def test_any_of_several_secrets_may_match(body_file):
    code, output = check(body_file, sign(SECRET, BODY, NOW), secrets=("whsec_new", SECRET))

    assert code == 0
    assert "[FAIL] signature, secret 1 of 2: does not match" in output
    assert "[ok]   signature, secret 2 of 2: matches" in output


@pytest.mark.parametrize(
    "sent_in,checked_in",
    [("plain", "prefixed"), ("timestamp-prefixed", "prefixed"), ("prefixed", "plain")],
)
def test_the_format_the_header_looks_like_is_named(body_file, sent_in, checked_in):
    code, output = check(body_file, sign(SECRET, BODY, NOW, fmt=sent_in), "--format", checked_in)

    assert code == 1
    assert f"[FAIL] parsed as {checked_in!r}" in output
    assert f"[ok]   other format {sent_in!r}" in output and "verifies with secret 1" in output
    assert f"The header looks like format {sent_in!r}: set DIGITALRIVER_SIGNATURE_FORMAT={sent_in}." in output
    assert check(body_file, sign(SECRET, BODY, NOW, fmt=sent_in), "--format", sent_in)[0] == 0


def test_another_format_that_parses_but_does_not_match_is_not_named(body_file):
    code, output = check(body_file, sign("whsec_other", BODY, NOW, fmt="plain"))

    assert code == 1
    assert "other format 'plain' (<unix>, <base64>): parses, but no secret matches" in output
    assert "looks like format" not in output


def test_the_settings_are_the_defaults(body_file, settings):
    settings.DIGITALRIVER_SIGNATURE_FORMAT = "plain"
    settings.DIGITALRIVER_WEBHOOK_SECRETS = ["whsec_new", SECRET]
    settings.DIGITALRIVER_WEBHOOK_TOLERANCE_SECONDS = 10
    header = sign(SECRET, BODY, NOW - 5, fmt="plain")

    code, output = run("--body", str(body_file), "--header", header, "--now", str(NOW))
    assert code == 0
    assert "Format 'plain'" in output and "2 secret(s) from DIGITALRIVER_WEBHOOK_SECRETS" in output
    assert "within 10s" in output
    assert run("--body", str(body_file), "--header", header, "--now", str(NOW + 20))[0] == 1


def test_the_body_is_checked_byte_for_byte(body_file, tmp_path):
    header = sign(SECRET, BODY, NOW)
    resaved = tmp_path / "resaved.json"
    resaved.write_bytes(BODY + b"\n")

    code, output = check(resaved, header)
    assert code == 1 and "It matches without the file's trailing newline" in output
    reserialised = tmp_path / "reserialised.json"
    reserialised.write_bytes(BODY.replace(b": ", b":"))
    assert check(reserialised, header)[0] == 1


def test_a_signature_over_the_bare_timestamp_is_recognised_but_not_accepted(body_file):
    bare = base64.b64encode(hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).digest())

    code, output = check(body_file, f"t={NOW}, v0={bare.decode()}")

    assert code == 1
    assert f"It matches when only '{NOW}' is signed, not 't={NOW}' as sent" in output


def test_the_header_may_be_pasted_with_its_name(body_file):
    assert check(body_file, f"DigitalRiver-Signature: {sign(SECRET, BODY, NOW)}")[0] == 0


def test_unreadable_body_or_no_secret(tmp_path, settings):
    code, output = run("--body", str(tmp_path / "missing.json"), "--header", "x", "--secret", SECRET)
    assert code == 1 and "Cannot read the body file" in output
    (tmp_path / "e.json").write_bytes(BODY)
    settings.DIGITALRIVER_WEBHOOK_SECRETS = []
    code, output = run("--body", str(tmp_path / "e.json"), "--header", sign(SECRET, BODY, NOW))
    assert code == 1 and "No signing secret" in output
