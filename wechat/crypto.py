"""WeChat message encryption ("safe mode", WXBizMsgCrypt), SPEC §10.

A reimplementation of Tencent's WXBizMsgCrypt sample on the ``cryptography``
package (AES-256-CBC from ``cryptography.hazmat``; no hand-written AES). No
Django dependency: the callback view and the sandbox both use it.

The scheme (SPEC §10):

* key = base64decode(EncodingAESKey + "=") — 32 bytes; IV = key[:16];
* plaintext = 16 random bytes + 4-byte big-endian length of the XML + XML (UTF-8)
  + appid, PKCS#7-padded to a multiple of **32** bytes (WeChat's block size, not
  AES's 16), then AES-256-CBC, then base64;
* msg_signature = sha1 of sorted(token, timestamp, nonce, Encrypt) concatenated.

There is no MAC over the ciphertext besides ``msg_signature``, which needs the
token: ``decrypt_message`` therefore checks the signature (in constant time)
before it decrypts anything.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import struct
import xml.etree.ElementTree as ET

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .signatures import sha1_of_sorted

__all__ = [
    "BLOCK_SIZE",
    "DECRYPT_AES_ERROR",
    "ENCRYPT_AES_ERROR",
    "GEN_RETURN_XML_ERROR",
    "ILLEGAL_AES_KEY",
    "PARSE_XML_ERROR",
    "VALIDATE_APPID_ERROR",
    "VALIDATE_SIGNATURE_ERROR",
    "CryptoError",
    "MessageCrypto",
]

# Tencent's error codes (WXBizMsgCrypt's ierror.py), SPEC §10.
VALIDATE_SIGNATURE_ERROR = -40001
PARSE_XML_ERROR = -40002
COMPUTE_SIGNATURE_ERROR = -40003
ILLEGAL_AES_KEY = -40004
VALIDATE_APPID_ERROR = -40005
ENCRYPT_AES_ERROR = -40006
DECRYPT_AES_ERROR = -40007
ILLEGAL_BUFFER = -40008
ENCODE_BASE64_ERROR = -40009
DECODE_BASE64_ERROR = -40010
GEN_RETURN_XML_ERROR = -40011

_CODE_NAMES = {
    VALIDATE_SIGNATURE_ERROR: "ValidateSignature_Error",
    PARSE_XML_ERROR: "ParseXml_Error",
    COMPUTE_SIGNATURE_ERROR: "ComputeSignature_Error",
    ILLEGAL_AES_KEY: "IllegalAesKey",
    VALIDATE_APPID_ERROR: "ValidateAppid_Error",
    ENCRYPT_AES_ERROR: "EncryptAES_Error",
    DECRYPT_AES_ERROR: "DecryptAES_Error",
    ILLEGAL_BUFFER: "IllegalBuffer",
    ENCODE_BASE64_ERROR: "EncodeBase64_Error",
    DECODE_BASE64_ERROR: "DecodeBase64_Error",
    GEN_RETURN_XML_ERROR: "GenReturnXml_Error",
}

#: WeChat pads to 32-byte blocks (SPEC §10), although AES's block is 16 bytes.
BLOCK_SIZE = 32
_RANDOM_PREFIX_SIZE = 16
_LENGTH_SIZE = 4
_AES_BLOCK = 16


class CryptoError(Exception):
    """A safe-mode failure; ``code`` is Tencent's WXBizMsgCrypt error code.

    The message never contains key material or decrypted data.
    """

    code: int

    def __init__(self, code: int, message: str = "") -> None:
        self.code = code
        name = _CODE_NAMES.get(code, "Error")
        super().__init__(f"{code} {name}" + (f": {message}" if message else ""))


class _DoctypeForbiddenError(Exception):
    """Raised from inside the XML parser when the document declares a DOCTYPE."""


class _NoDoctypeTreeBuilder(ET.TreeBuilder):
    """A TreeBuilder that refuses any DOCTYPE, hence any ENTITY declaration.

    The parser calls ``doctype()`` as soon as it meets ``<!DOCTYPE``, before the
    internal subset (where entities are declared) is read, so neither external
    entities (XXE) nor entity expansion ("billion laughs") can happen.
    """

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise _DoctypeForbiddenError


def _parse_xml(body: str | bytes) -> ET.Element:
    """Return the root element of ``body``; CryptoError(-40002) if it is not
    well-formed XML or contains a DOCTYPE/ENTITY declaration."""
    # S314: this parser refuses DOCTYPE (hence ENTITY), which is what defusedxml
    # guards against; the stdlib parser never fetches external resources.
    parser = ET.XMLParser(target=_NoDoctypeTreeBuilder())  # noqa: S314
    try:
        parser.feed(body)
        return parser.close()
    except _DoctypeForbiddenError:
        raise CryptoError(PARSE_XML_ERROR, "DOCTYPE/ENTITY is not allowed") from None
    except (ET.ParseError, ValueError, TypeError) as exc:
        raise CryptoError(PARSE_XML_ERROR, "body is not well-formed XML") from exc


def _cdata(value: str) -> str:
    """Return ``value`` wrapped in a CDATA section (refuses ``]]>``)."""
    if "]]>" in value:
        raise CryptoError(GEN_RETURN_XML_ERROR, "value cannot be put in CDATA")
    return f"<![CDATA[{value}]]>"


class MessageCrypto:
    """Encrypt and decrypt WeChat pushes and replies in safe mode (SPEC §10).

    One instance per (token, EncodingAESKey, appid); instances hold no mutable
    state and are safe to share between threads.
    """

    def __init__(self, token: str, encoding_aes_key: str, appid: str) -> None:
        """Derive the AES key from ``encoding_aes_key`` (43 base64 characters).

        Raises ``CryptoError(-40004)`` unless ``base64decode(key + "=")`` gives
        exactly 32 bytes, and ``ValueError`` if ``token`` or ``appid`` is empty
        (an empty appid would make the appid check vacuous).
        """
        if not token:
            raise ValueError("token must not be empty")
        if not appid:
            raise ValueError("appid must not be empty")
        try:
            key = base64.b64decode(
                (encoding_aes_key + "=").encode("ascii"), validate=True
            )
        except (binascii.Error, UnicodeError, TypeError, AttributeError):
            raise CryptoError(ILLEGAL_AES_KEY, "EncodingAESKey is not base64") from None
        if len(key) != 32:
            raise CryptoError(ILLEGAL_AES_KEY, "EncodingAESKey must decode to 32 bytes")
        self.token = token
        self.appid = appid
        self._appid_bytes = appid.encode("utf-8")
        self._key = key
        self._iv = key[:_AES_BLOCK]

    def __repr__(self) -> str:
        return f"<MessageCrypto appid={self.appid!r}>"

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._iv))

    # -- the Encrypt field ---------------------------------------------------

    def encrypt(self, plaintext: str, *, random_prefix: bytes | None = None) -> str:
        """Return the base64 ``Encrypt`` value for ``plaintext`` (SPEC §10).

        ``random_prefix`` (16 bytes) is for reproducible test vectors only; by
        default 16 fresh bytes come from ``secrets``, so two encryptions of the
        same text differ. The decoded ciphertext is always a non-empty multiple
        of 32 bytes.
        """
        if random_prefix is None:
            random_prefix = secrets.token_bytes(_RANDOM_PREFIX_SIZE)
        elif len(random_prefix) != _RANDOM_PREFIX_SIZE:
            raise ValueError("random_prefix must be 16 bytes")
        xml = plaintext.encode("utf-8")
        data = (
            bytes(random_prefix) + struct.pack(">I", len(xml)) + xml + self._appid_bytes
        )
        pad = BLOCK_SIZE - len(data) % BLOCK_SIZE  # 1..32, never 0
        data += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        ciphertext = encryptor.update(data) + encryptor.finalize()
        return base64.b64encode(ciphertext).decode("ascii")

    def decrypt(self, encrypted: str) -> str:
        """Return the XML inside an ``Encrypt`` value (SPEC §10).

        Raises ``CryptoError(-40007)`` for bad base64, a length that is not a
        positive multiple of 16, bad PKCS#7 padding (must be 1..32 bytes of the
        same value), an impossible XML length or XML that is not UTF-8; and
        ``CryptoError(-40005)`` if the trailing appid is not ``self.appid``.
        This does **not** authenticate the message: check ``msg_signature``
        first (``decrypt_message`` does).
        """
        try:
            ciphertext = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise CryptoError(DECRYPT_AES_ERROR, "Encrypt is not base64") from None
        if not ciphertext or len(ciphertext) % _AES_BLOCK:
            raise CryptoError(DECRYPT_AES_ERROR, "bad ciphertext length")
        decryptor = self._cipher().decryptor()
        data = decryptor.update(ciphertext) + decryptor.finalize()

        pad = data[-1]
        if not 1 <= pad <= BLOCK_SIZE or pad > len(data):
            raise CryptoError(DECRYPT_AES_ERROR, "bad padding")
        if not hmac.compare_digest(data[-pad:], bytes([pad]) * pad):
            raise CryptoError(DECRYPT_AES_ERROR, "bad padding")
        content = data[_RANDOM_PREFIX_SIZE:-pad]
        if len(content) < _LENGTH_SIZE:
            raise CryptoError(DECRYPT_AES_ERROR, "message too short")
        (xml_length,) = struct.unpack(">I", content[:_LENGTH_SIZE])
        if xml_length > len(content) - _LENGTH_SIZE:
            raise CryptoError(DECRYPT_AES_ERROR, "bad XML length")
        xml = content[_LENGTH_SIZE : _LENGTH_SIZE + xml_length]
        from_appid = content[_LENGTH_SIZE + xml_length :]
        if not hmac.compare_digest(from_appid, self._appid_bytes):
            raise CryptoError(VALIDATE_APPID_ERROR, "appid does not match")
        try:
            return xml.decode("utf-8")
        except UnicodeDecodeError:
            raise CryptoError(DECRYPT_AES_ERROR, "XML is not UTF-8") from None

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        """Return ``msg_signature``: sha1 hex of sorted(token, timestamp, nonce,
        encrypted) concatenated (SPEC §10)."""
        return sha1_of_sorted(self.token, timestamp, nonce, encrypted)

    # -- whole envelopes -----------------------------------------------------

    def encrypt_message(self, xml: str, *, timestamp: str, nonce: str) -> str:
        """Return the safe-mode envelope for ``xml`` (a reply, or a push).

        ``<xml><Encrypt>…</Encrypt><MsgSignature>…</MsgSignature>
        <TimeStamp>…</TimeStamp><Nonce>…</Nonce></xml>`` on one line, signed with
        ``timestamp`` and ``nonce``; ``decrypt_message`` with the same timestamp,
        nonce and the embedded MsgSignature returns ``xml``. Raises
        ``CryptoError(-40011)`` if the timestamp is not decimal digits or the
        nonce cannot be put in CDATA.
        """
        timestamp = str(timestamp)
        if not (timestamp.isascii() and timestamp.isdigit()):
            raise CryptoError(GEN_RETURN_XML_ERROR, "timestamp must be digits")
        nonce_cdata = _cdata(nonce)
        encrypted = self.encrypt(xml)
        msg_signature = self.signature(timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt>{_cdata(encrypted)}</Encrypt>"
            f"<MsgSignature>{_cdata(msg_signature)}</MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce>{nonce_cdata}</Nonce></xml>"
        )

    def decrypt_message(
        self,
        body: str | bytes,
        *,
        msg_signature: str,
        timestamp: str,
        nonce: str,
    ) -> str:
        """Return the XML carried by a safe-mode ``body``, once it is authenticated.

        ``msg_signature``, ``timestamp`` and ``nonce`` are the query parameters of
        WeChat's POST. Raises ``CryptoError`` with -40002 if the body is not
        XML, declares a DOCTYPE/ENTITY, or has no ``<Encrypt>``; -40001 if
        ``msg_signature`` does not match (checked in constant time, before any
        decryption); then whatever ``decrypt`` raises (-40007, -40005).
        """
        root = _parse_xml(body)
        node = root.find("Encrypt")
        encrypted = node.text if node is not None else None
        if not encrypted:
            raise CryptoError(PARSE_XML_ERROR, "no <Encrypt> in the body")
        expected = self.signature(timestamp, nonce, encrypted)
        if not isinstance(msg_signature, str) or not hmac.compare_digest(
            expected.encode("ascii"), msg_signature.encode("utf-8")
        ):
            raise CryptoError(VALIDATE_SIGNATURE_ERROR, "msg_signature mismatch")
        return self.decrypt(encrypted)
