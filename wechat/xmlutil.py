"""Safe parsing of WeChat's XML messages (SPEC §10).

WeChat's messages are flat ``<xml><Name>value</Name>…</xml>`` documents (a few
events nest one level). A DOCTYPE or ENTITY declaration is refused outright: no
entity expansion (billion laughs) and no external entities (XXE).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
MAX_BYTES = 512 * 1024


class XMLError(ValueError):
    """The body is not a WeChat XML message."""


def parse(body: bytes | str) -> dict:
    """The message as a dict of tag → text (nested elements → dicts)."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    if len(data) > MAX_BYTES:
        raise XMLError("message too large")
    if _DECLARATION.search(data):
        raise XMLError("DOCTYPE and ENTITY declarations are not allowed")
    try:
        root = ET.fromstring(data)  # noqa: S314  (declarations refused above)
    except ET.ParseError as exc:
        raise XMLError(f"malformed XML: {exc}") from None
    if root.tag != "xml":
        raise XMLError("the root element must be <xml>")
    return _element(root)


def _element(node: ET.Element) -> dict:
    out: dict = {}
    for child in node:
        out[child.tag] = _element(child) if len(child) else (child.text or "")
    return out
