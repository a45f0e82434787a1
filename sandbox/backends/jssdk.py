"""What WeChat's JS-SDK checks and does on the user's phone (SPEC §6): ``wx.config``
(the jsapi signature of the page's URL), ``wx.addCard`` (each cardExt's signature
over the card owner's wx_card api_ticket; then the receive) and
``wx.consumeAndShareCard`` (the gift after an online consume).

The signatures are computed here from SPEC §6, on purpose apart from the portal's
``wechat.signatures``: a signing bug in the portal must fail here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field

from django.core import signing
from django.db import IntegrityError

from .. import exceptions as exc
from ..models import Account, Card, Code, Ticket
from . import clock, codes

SESSION_SALT = "sandbox.jssdk.config"
SESSION_MAX_AGE = 7200  # a page's config holds as long as a ticket does

# errMsg texts the JS-SDK answers with. WeChat's own for the first three; the
# sandbox's (documented in the README) where WeChat's pages name none.
CONFIG_OK = "config:ok"
CONFIG_BAD_SIGNATURE = "config:invalid signature"
CONFIG_BAD_APPID = "config:invalid appid"
SIGNATURE_ERROR = "fail signature error"
PERMISSION_DENIED = "permission denied"
BAD_CARD_EXT = "fail invalid cardExt"
BAD_CARD_ID = "fail invalid card_id"
CARD_EXT_USED = "fail cardExt used already"
BAD_CARD_LIST = "fail invalid cardList"


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()  # noqa: S324 (WeChat's protocol)


def _live_tickets(account: Account, kind: str) -> list[str]:
    """The account's tickets of ``kind`` that have not expired, newest first."""
    return list(
        Ticket.objects.filter(account=account, kind=kind, expires_at__gt=clock.now())
        .order_by("-expires_at")
        .values_list("ticket", flat=True)
    )


def _matches(expected: str, given) -> bool:
    return isinstance(given, str) and hmac.compare_digest(
        expected.encode(), given.lower().encode()
    )


# --- wx.config ---------------------------------------------------------------------
def jsapi_signature(*, jsapi_ticket: str, noncestr: str, timestamp, url: str) -> str:
    """SPEC §6: sha1 of ``jsapi_ticket=…&noncestr=…&timestamp=…&url=…`` (the URL
    without ``#…``), keys in that order, values as they are."""
    page = url.split("#", 1)[0]
    return _sha1(
        f"jsapi_ticket={jsapi_ticket}&noncestr={noncestr}&timestamp={timestamp}"
        f"&url={page}"
    )


@dataclass(frozen=True)
class ConfigResult:
    err_msg: str
    session: str = ""


def config_verify(body: dict) -> ConfigResult:
    """``wx.config``: the signature must be the page URL's over one of the
    account's live jsapi tickets. On success a session token (signed by the
    sandbox) says which appid and which APIs the page may use."""
    account = Account.objects.filter(appid=str(body.get("appId") or "")).first()
    if account is None:
        return ConfigResult(CONFIG_BAD_APPID)
    timestamp, nonce = body.get("timestamp"), body.get("nonceStr")
    url, signature = body.get("url"), body.get("signature")
    if not all(isinstance(v, str | int) and str(v) for v in (timestamp, nonce)) or (
        not isinstance(url, str) or not url
    ):
        return ConfigResult(CONFIG_BAD_SIGNATURE)
    for ticket in _live_tickets(account, "jsapi"):
        expected = jsapi_signature(
            jsapi_ticket=ticket, noncestr=str(nonce), timestamp=timestamp, url=url
        )
        if _matches(expected, signature):
            apis = body.get("jsApiList")
            apis = (
                [a for a in apis if isinstance(a, str)]
                if isinstance(apis, list)
                else []
            )
            session = signing.dumps(
                {"appid": account.appid, "apis": apis}, salt=SESSION_SALT
            )
            return ConfigResult(CONFIG_OK, session)
    return ConfigResult(CONFIG_BAD_SIGNATURE)


def session_apis(session) -> tuple[str, list[str]] | None:
    """(appid, jsApiList) of a live config session, or None."""
    if not isinstance(session, str) or not session:
        return None
    try:
        data = signing.loads(session, salt=SESSION_SALT, max_age=SESSION_MAX_AGE)
    except signing.BadSignature:
        return None
    return data.get("appid", ""), list(data.get("apis") or [])


# --- wx.addCard ----------------------------------------------------------------------
def card_ext_signature(
    *, api_ticket: str, timestamp, card_id: str, code="", openid="", nonce_str=""
) -> str:
    """SPEC §6: sha1 of the sorted non-empty values of api_ticket, timestamp,
    card_id, code, openid, nonce_str, concatenated."""
    values = [api_ticket, timestamp, card_id, code, openid, nonce_str]
    return _sha1("".join(sorted(str(v) for v in values if v not in (None, ""))))


@dataclass
class CardRequest:
    """One entry of addCard's cardList, checked."""

    card_id: str
    card_ext: str
    card: Card | None = None
    ext: dict = field(default_factory=dict)
    error: str = ""  # the errMsg tail when the entry is refused


def _parse_ext(raw) -> dict | None:
    if not isinstance(raw, str):
        return None
    try:
        ext = json.loads(raw)
    except ValueError:
        return None
    return ext if isinstance(ext, dict) else None


def card_requests(card_list) -> list[CardRequest] | None:
    """Each cardList entry with its card and cardExt checked (signature over the
    card owner's live wx_card tickets); None when cardList is not a list."""
    if not isinstance(card_list, list) or not card_list:
        return None
    checked = []
    for entry in card_list:
        entry = entry if isinstance(entry, dict) else {}
        request = CardRequest(
            card_id=str(entry.get("cardId") or ""), card_ext=entry.get("cardExt")
        )
        checked.append(request)
        request.card = (
            Card.objects.select_related("account")
            .filter(card_id=request.card_id)
            .first()
        )
        if request.card is None:
            request.error = BAD_CARD_ID
            continue
        ext = _parse_ext(request.card_ext)
        if ext is None or not ext.get("timestamp") or not ext.get("signature"):
            request.error = BAD_CARD_EXT
            continue
        if ext.get("code"):  # friend coupons have no custom codes (SPEC §6)
            request.error = BAD_CARD_EXT
            continue
        request.ext = ext
        tickets = _live_tickets(request.card.account, "wx_card")
        if not any(
            _matches(
                card_ext_signature(
                    api_ticket=ticket,
                    timestamp=ext.get("timestamp"),
                    card_id=request.card_id,
                    code=ext.get("code") or "",
                    openid=ext.get("openid") or "",
                    nonce_str=ext.get("nonce_str") or "",
                ),
                ext.get("signature"),
            )
            for ticket in tickets
        ):
            request.error = SIGNATURE_ERROR
            continue
        if Code.objects.filter(card_ext_signature=ext["signature"].lower()).exists():
            request.error = CARD_EXT_USED
    return checked


@dataclass(frozen=True)
class Added:
    card_id: str
    card_ext: str
    code: Code | None
    refusal: exc.SandboxAPIError | None = None


def add_cards(requests: list[CardRequest], *, openid: str) -> list[Added]:
    """Receive each checked card for ``openid`` (OuterStr = cardExt's outer_str):
    the refusals of a receive (stock, get_limit, …) leave that entry unreceived."""
    added = []
    for request in requests:
        try:
            fixed = str(request.ext.get("openid") or "")
            if fixed and fixed != openid:
                raise exc.InvalidOpenid(
                    "invalid openid hint: the cardExt names another user"
                )
            channel = codes.channel_checked(
                0,
                request.ext.get("outer_str") or "",
                source_scene=codes.SCENE_JSAPI,
            )
            code = codes.code_receive(
                request.card,
                openid=openid,
                channel=channel,
                card_ext_signature=str(request.ext["signature"]).lower(),
            )
        except exc.SandboxAPIError as refusal:
            added.append(Added(request.card_id, request.card_ext, None, refusal))
        except IntegrityError:  # the same cardExt, received meanwhile
            added.append(
                Added(
                    request.card_id,
                    request.card_ext,
                    None,
                    exc.InvalidArgs(CARD_EXT_USED),
                )
            )
        else:
            added.append(Added(request.card_id, request.card_ext, code))
    return added


# --- wx.consumeAndShareCard ------------------------------------------------------------
def consumed_code(card_id, code_value) -> Code | None:
    """The code named by ``code`` (the code or its encrypt_code) of ``card_id``."""
    if (
        not isinstance(card_id, str)
        or not isinstance(code_value, str)
        or not code_value
    ):
        return None
    rows = Code.objects.select_related("card", "account").filter(card__card_id=card_id)
    return (
        rows.filter(code=code_value).first()
        or rows.filter(encrypt_code=code_value).first()
    )
