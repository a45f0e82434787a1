"""Safe parsing of WeChat's XML messages (SPEC §10).

WeChat's messages are flat ``<xml><Name>value</Name>…</xml>`` documents in UTF-8
(a few events nest one level). Anything else is refused before it is parsed: a
body that is not UTF-8 (GBK, UTF-16 with or without a BOM), an XML declaration
naming another encoding, any DOCTYPE or ENTITY declaration (no entity expansion,
no external entities); defusedxml parses what is left.
"""

from __future__ import annotations

import re

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ENCODING = re.compile(rb"^\s*<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
MAX_BYTES = 512 * 1024


class XMLError(ValueError):
    """The body is not a WeChat XML message."""


def parse(body: bytes | str) -> dict:
    """The message as a dict of tag → text (nested elements → dicts)."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    if len(data) > MAX_BYTES:
        raise XMLError("message too large")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        raise XMLError("the message is not UTF-8") from None
    declared = _ENCODING.match(data)
    if declared and declared.group(1).lower().replace(b"_", b"-") not in (
        b"utf-8",
        b"utf8",
    ):
        raise XMLError("the message declares an encoding other than UTF-8")
    if _DECLARATION.search(data):
        raise XMLError("DOCTYPE and ENTITY declarations are not allowed")
    try:
        root = fromstring(data, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise XMLError(f"malformed XML: {type(exc).__name__}") from None
    if root.tag != "xml":
        raise XMLError("the root element must be <xml>")
    return _element(root)


def _element(node) -> dict:
    out: dict = {}
    for child in node:
        out[child.tag] = _element(child) if len(child) else (child.text or "")
    return out
