"""Secrets encrypted at rest (SPEC §2: a merchant's appsecret, event token, AES key).

Fernet (AES-128-CBC + HMAC-SHA256) from the ``cryptography`` package with the key(s)
in FIELD_ENCRYPTION_KEY. Several comma-separated keys rotate: the first encrypts,
all decrypt. Values never reach logs or pages: ``Secret`` hides itself in repr/str.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@lru_cache(maxsize=4)
def _fernet(keys: str) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.strip()) for k in keys.split(",") if k.strip()])
    except ValueError as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY must be Fernet keys (32 url-safe base64 bytes)"
        ) from exc


def encrypt(value: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted: FIELD_ENCRYPTION_KEY changed?"
        ) from exc


class Secret(str):
    """A decrypted secret: a real ``str`` to the code, hidden from repr and logs."""

    def __repr__(self) -> str:
        return "Secret('********')" if self else "Secret('')"


class EncryptedTextField(models.TextField):
    """A text column holding a Fernet token; Python sees the plaintext as ``Secret``."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return Secret("") if value == "" else value
        return Secret(decrypt(value))

    def to_python(self, value):
        if value is None or isinstance(value, Secret):
            return value
        return Secret(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(str(value))
