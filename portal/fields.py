"""Secrets encrypted at rest (SPEC §2: a merchant's appsecret, event token, AES key).

Fernet (AES-128-CBC + HMAC-SHA256) from the ``cryptography`` package with the key(s)
in FIELD_ENCRYPTION_KEY. Several comma-separated keys rotate: the first encrypts,
all decrypt. Values never reach logs or pages: ``Secret`` hides itself in repr, str,
``%s``, f-strings and every template (Django escapes through ``str``), so a secret
that slips into a page, a log line or an exception message shows ``********``. Code
that needs the value uses it as the string it is: ``.encode()``, ``+``, ``join`` and
``json.dumps`` see the characters, and so does ``Secret.plain()``.
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


MASK = "********"


class Secret(str):
    """A decrypted secret: a real ``str`` to the code, hidden from repr, str and pages.

    ``str(secret)`` is the mask, not the value: templates, ``format_html``, logging's
    ``%s``, f-strings and the admin's ``display_for_field`` all go through ``str()``.
    The characters stay reachable for the code that signs and encrypts with them
    (``encode()``, concatenation, ``join``, ``json.dumps``); ``plain()`` gives them
    as an ordinary ``str``.
    """

    def __new__(cls, value: str = ""):
        # str(Secret) is the mask: copy the characters, never the mask.
        return super().__new__(
            cls, str.__str__(value) if isinstance(value, str) else value
        )

    def __repr__(self) -> str:
        return f"Secret('{MASK}')" if self else "Secret('')"

    def __str__(self) -> str:
        return MASK if self else ""

    def __html__(self) -> str:
        return str(self)

    def plain(self) -> str:
        """The characters, as a plain ``str`` (for an API that insists on ``str()``)."""
        return str.__str__(self)


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
        # Not str(value): a Secret's str() is its mask.
        return encrypt(value if isinstance(value, str) else str(value))
