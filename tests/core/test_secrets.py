"""Secrets are encrypted at rest with keys other than SECRET_KEY, rotate, and never leak."""

import logging

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from core.secrets import Secret, SecretDecryptionError, decrypt, encrypt, mask
from partner.models import Partner
from tests.factories import PartnerFactory


def test_secret_is_stored_as_ciphertext_not_plaintext(db):
    partner = PartnerFactory(digicert_api_key="plain-partner-key-123456")
    with connection.cursor() as cursor:
        cursor.execute("SELECT digicert_api_key FROM partner_partner WHERE id = %s", [partner.pk])
        stored = cursor.fetchone()[0]
    assert "plain-partner-key" not in stored
    assert Partner.objects.get(pk=partner.pk).digicert_api_key.reveal() == "plain-partner-key-123456"


def test_secret_str_and_repr_are_masked():
    secret = Secret.from_plaintext("abcdefghijklmnop1234")
    assert str(secret) == "••••••••1234"
    assert "abcdef" not in repr(secret) and "abcdef" not in f"{secret}"


def test_mask_hides_short_secrets_entirely():
    assert mask("short") == "••••••••"
    assert mask("") == ""


def test_wrong_encryption_key_raises_instead_of_returning_garbage(settings):
    token = encrypt("the-secret")
    settings.SECRET_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(SecretDecryptionError):
        decrypt(token)


def test_old_key_still_decrypts_during_rotation(settings):
    old_only = settings.SECRET_ENCRYPTION_KEYS[1]
    settings.SECRET_ENCRYPTION_KEYS = [old_only]
    token = encrypt("rotating")
    settings.SECRET_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), old_only]
    assert decrypt(token) == "rotating"


def test_rotate_secrets_command_reencrypts_with_newest_key(db, settings):
    old = settings.SECRET_ENCRYPTION_KEYS[1]
    settings.SECRET_ENCRYPTION_KEYS = [old]
    partner = PartnerFactory(digicert_api_key="key-to-rotate-123456")
    new = Fernet.generate_key().decode()
    settings.SECRET_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_secrets")
    settings.SECRET_ENCRYPTION_KEYS = [new]  # the old key is gone: only the new one may decrypt
    assert Partner.objects.get(pk=partner.pk).digicert_api_key.reveal() == "key-to-rotate-123456"


def test_log_records_never_carry_credentials(caplog):
    from core.logging import RedactSecretsFilter

    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "sent X-PARTNER-APIKEY: %s", ("abc123secret",), None
    )
    RedactSecretsFilter().filter(record)
    assert "abc123secret" not in record.getMessage()
