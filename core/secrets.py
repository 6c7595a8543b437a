"""Secrets at rest: MultiFernet encryption with rotating keys, and masking for display."""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key: never return garbage."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("SECRET_ENCRYPTION_KEYS is empty: secrets cannot be stored.")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.SECRET_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError(
            "A stored secret cannot be decrypted with the configured SECRET_ENCRYPTION_KEYS."
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt a token with the newest key (it must decrypt with one of the keys)."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError("A stored secret cannot be rotated: no key decrypts it.") from exc


def mask(value: str | None, *, visible: int = 4) -> str:
    """Show only the last few characters of a secret; short secrets are hidden entirely."""
    if not value:
        return ""
    if len(value) <= visible * 3:
        return "•" * 8
    return "•" * 8 + value[-visible:]


class Secret:
    """A decrypted-on-demand secret. `str()` is masked so it cannot leak into logs or templates."""

    __slots__ = ("token",)

    def __init__(self, token: str):
        self.token = token

    @classmethod
    def from_plaintext(cls, plaintext: str) -> Secret:
        return cls(encrypt(plaintext))

    def reveal(self) -> str:
        return decrypt(self.token)

    @property
    def masked(self) -> str:
        return mask(self.reveal())

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return "<Secret>"

    def __eq__(self, other) -> bool:
        return isinstance(other, Secret) and other.token == self.token

    def __hash__(self) -> int:
        return hash(self.token)
