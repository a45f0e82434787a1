"""WeChat's SHA-1 signatures: URL check, card ``cardExt``/``cardSign`` and JS-SDK.

Pure functions with no Django dependency. Every check compares in constant time
(``hmac.compare_digest``) so that a caller cannot learn a valid signature one byte
at a time from response timings.

SHA-1 is what WeChat's protocol mandates for these signatures (SPEC §6, §10); it
is not our choice of primitive, hence the ``noqa: S324`` below.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import time

__all__ = [
    "card_ext_signature",
    "check_server_signature",
    "choose_card_signature",
    "constant_time_equals",
    "jsapi_config",
    "jsapi_signature",
    "new_nonce",
    "server_signature",
    "sha1_of_sorted",
]

_NONCE_ALPHABET = string.ascii_letters + string.digits


def _sha1_hex(text: str) -> str:
    """Return the lowercase hex SHA-1 of ``text`` encoded as UTF-8."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()  # noqa: S324 (WeChat's protocol)


def sha1_of_sorted(*values: str) -> str:
    """Return the hex SHA-1 of ``values`` sorted as strings and joined with ``""``.

    This is the scheme behind the URL check and ``msg_signature`` (SPEC §10) and
    the card signatures (SPEC §6). Values that are not text are converted with
    ``str()`` first, so an ``int`` timestamp sorts exactly like its decimal string;
    text is taken as it is (a stored secret's ``str()`` is its mask). Sorting is by
    code point, like WeChat's (and Python's) plain string sort.
    """
    return _sha1_hex("".join(sorted(_text(value) for value in values)))


def _text(value) -> str:
    return str.__str__(value) if isinstance(value, str) else str(value)


def constant_time_equals(a: str, b: str) -> bool:
    """Return whether ``a == b``, in time that does not depend on where they differ.

    Non-ASCII text is compared by its UTF-8 bytes; a non-``str`` argument (for
    example ``None`` from a missing query parameter) is never equal.
    """
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def server_signature(token: str, timestamp: str, nonce: str) -> str:
    """Return the URL-check signature ``sha1(sorted(token, timestamp, nonce))``.

    SPEC §10: WeChat sends it as ``signature`` on the GET that validates the
    callback URL, and on every push in plaintext mode.
    """
    return sha1_of_sorted(token, timestamp, nonce)


def check_server_signature(
    token: str, timestamp: str, nonce: str, signature: str
) -> bool:
    """Return whether ``signature`` is WeChat's URL-check signature (SPEC §10).

    Constant time. A missing (empty or ``None``) timestamp, nonce or signature is
    always ``False``, so the caller may pass ``request.GET.get(...)`` directly
    and echo ``echostr`` only when this returns ``True``.
    """
    if not token or not timestamp or not nonce or not signature:
        return False
    return constant_time_equals(server_signature(token, timestamp, nonce), signature)


def _sorted_values_signature(*values: str | int | None) -> str:
    """Return ``sha1_of_sorted`` of the values that are neither ``None`` nor ``""``."""
    present = [_text(value) for value in values if value is not None and value != ""]
    return sha1_of_sorted(*present)


def card_ext_signature(
    *,
    api_ticket: str,
    timestamp: str | int,
    card_id: str,
    code: str = "",
    openid: str = "",
    nonce_str: str = "",
) -> str:
    """Return the ``signature`` of a card's ``cardExt`` for JS-SDK ``addCard``.

    SPEC §6: the hex SHA-1 of the **values** (not ``key=value`` pairs) of
    api_ticket, timestamp, card_id, code, openid and nonce_str, leaving out the
    empty ones, sorted as strings and concatenated. ``api_ticket`` is the
    ``wx_card`` ticket (SPEC §4), not the jsapi ticket.
    """
    return _sorted_values_signature(
        api_ticket, timestamp, card_id, code, openid, nonce_str
    )


def choose_card_signature(
    *,
    api_ticket: str,
    appid: str,
    timestamp: str | int,
    nonce_str: str,
    location_id: str | int = "",
    card_id: str = "",
    card_type: str = "",
) -> str:
    """Return the ``cardSign`` for JS-SDK ``chooseCard``.

    SPEC §6: same scheme as ``cardExt`` (sorted non-empty values, concatenated,
    hex SHA-1) over api_ticket, appid, location_id, timestamp, nonce_str,
    card_id and card_type.
    """
    return _sorted_values_signature(
        api_ticket, appid, location_id, timestamp, nonce_str, card_id, card_type
    )


def jsapi_signature(
    *, jsapi_ticket: str, noncestr: str, timestamp: str | int, url: str
) -> str:
    """Return the ``wx.config`` signature for the page at ``url``.

    The hex SHA-1 of ``jsapi_ticket=…&noncestr=…&timestamp=…&url=…`` with the keys
    in that (ASCII) order and the values unescaped, as WeChat's JS-SDK
    documentation specifies; ``url`` is the page's full URL without its
    ``#fragment`` (which the browser never sends). SPEC §6 (H5 ``addCard``).
    """
    page_url = url.split("#", 1)[0]
    return _sha1_hex(
        f"jsapi_ticket={jsapi_ticket}&noncestr={noncestr}"
        f"&timestamp={timestamp}&url={page_url}"
    )


def new_nonce(n: int = 16) -> str:
    """Return ``n`` random ASCII letters and digits from ``secrets`` (a CSPRNG).

    Raises ``ValueError`` if ``n`` is less than 1.
    """
    if n < 1:
        raise ValueError("a nonce needs at least one character")
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(n))


def jsapi_config(
    *,
    appid: str,
    jsapi_ticket: str,
    url: str,
    timestamp: int | str | None = None,
    noncestr: str | None = None,
) -> dict[str, int | str]:
    """Return the signed part of ``wx.config``: appId, timestamp, nonceStr, signature.

    ``timestamp`` defaults to ``int(time.time())`` and ``noncestr`` to a fresh
    16-character ``new_nonce()``; the returned dict carries exactly the values
    that were signed, so the page can pass it to ``wx.config`` unchanged (adding
    ``jsApiList``). The jsapi ticket itself is never included.
    """
    if timestamp is None:
        timestamp = int(time.time())
    if noncestr is None:
        noncestr = new_nonce()
    return {
        "appId": appid,
        "timestamp": timestamp,
        "nonceStr": noncestr,
        "signature": jsapi_signature(
            jsapi_ticket=jsapi_ticket, noncestr=noncestr, timestamp=timestamp, url=url
        ),
    }
