"""How WeChat signs and encrypts what it pushes (SPEC §10), the sandbox's own
implementation: the sandbox is WeChat and imports nothing of the portal (SPEC §12),
so a bug in the portal's decryption (wechat/crypto.py) shows up against this one.

* plain mode: ``signature`` = sha1 of the sorted token, timestamp, nonce;
* safe mode: key = base64decode(EncodingAESKey + "="), 32 bytes, IV = its first 16;
  16 random bytes + the XML's length (4 bytes, big-endian) + the XML (UTF-8) + the
  appid, padded PKCS#7-style to a multiple of 32 bytes, AES-256-CBC, base64;
  ``msg_signature`` = sha1 of the sorted token, timestamp, nonce and Encrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import string
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_NONCE = string.ascii_letters + string.digits


class BadKey(ValueError):
    """An EncodingAESKey that is not 43 base64 characters of a 32-byte key (-40004)."""

    errcode = -40004


def sha1_sorted(*values: str) -> str:
    joined = "".join(sorted(str(v) for v in values))
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()  # noqa: S324 (WeChat's protocol)


def nonce(n: int = 10) -> str:
    return "".join(secrets.choice(_NONCE) for _ in range(n))


def aes_key(encoding_aes_key: str) -> bytes:
    try:
        key = base64.b64decode((encoding_aes_key + "=").encode("ascii"), validate=True)
    except (binascii.Error, UnicodeError, TypeError, AttributeError):
        raise BadKey("EncodingAESKey is not base64") from None
    if len(key) != 32:
        raise BadKey("EncodingAESKey must decode to 32 bytes")
    return key


def encrypt(xml: str, *, encoding_aes_key: str, appid: str) -> str:
    """The ``Encrypt`` value WeChat puts in a safe-mode push."""
    key = aes_key(encoding_aes_key)
    body = xml.encode("utf-8")
    data = secrets.token_bytes(16) + struct.pack(">I", len(body)) + body
    data += appid.encode("utf-8")
    pad = 32 - len(data) % 32
    data += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()
