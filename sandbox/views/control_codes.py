"""The control API's users and codes (README "Sandbox control API"): play WeChat's
users — receive a card, tap a coupon, consume it elsewhere — as JSON.

A refusal WeChat would show the user answers HTTP 400 ``{"errcode", "errmsg"}``
(the errmsg says why in words); a malformed request answers 400 ``{"error"}``.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.urls import reverse

from .. import exceptions as exc
from ..backends import cards, clock, codes, qrcodes, users
from ..models import Account, Card, Code, QRCode
from .control import _bad, _body, control


def refused(error: exc.SandboxAPIError, status: int = 400) -> JsonResponse:
    return JsonResponse(error.as_json(), status=status)


def received_json(code: Code) -> dict:
    return {
        "card_id": code.card.card_id,
        "code": code.code,
        "encrypt_code": code.encrypt_code,
        "openid": code.openid,
    }


def code_json(code: Code) -> dict:
    now = clock.now()
    return {
        "code": code.code,
        "card_id": code.card.card_id,
        "appid": code.account.appid,
        "openid": code.openid,
        "status": codes.effective_status(code, code.card, now),
        "mark_openid": codes.active_mark(code, now),
        "encrypt_code": code.encrypt_code,
        "outer_id": code.outer_id,
        "outer_str": code.outer_str,
        "source_scene": code.source_scene,
        "gift_of": code.gift_of.code if code.gift_of_id else None,
        "received_at": code.received_at.isoformat(),
        "consumed_at": code.consumed_at.isoformat() if code.consumed_at else None,
        "consumed_by": code.consumed_by,
        "consume_source": code.consume_source,
    }


def _channel(data: dict) -> codes.Channel:
    friend = data.get("friend_openid") or ""
    if friend:
        users.openid_checked(friend)
    return codes.channel_checked(
        data.get("outer_id", 0),
        data.get("outer_str", ""),
        source_scene=str(data.get("source_scene") or codes.SCENE_CONSOLE)[:40],
        friend_user_name=friend,
    )


@control(["POST"])
def card_receive(request, card_id: str):
    """POST {"openid", "outer_id"?, "outer_str"?, "friend_openid"?, "source_scene"?}:
    the user receives the card as from a scan; user_get_card is delivered before
    the answer {"card_id", "code", "encrypt_code", "openid"}."""
    data = _body(request)
    card = Card.objects.select_related("account").filter(card_id=card_id).first()
    if card is None:
        return refused(cards.InvalidCardId(), status=404)
    try:
        code = codes.code_receive(
            card, openid=data.get("openid"), channel=_channel(data), wait=True
        )
    except exc.SandboxAPIError as error:
        return refused(error)
    return JsonResponse(received_json(code))


@control(["GET"])
def codes_list(request):
    """GET ?appid=&card_id=&openid= (each optional): the codes users hold."""
    rows = codes.codes_of(
        appid=request.GET.get("appid", ""),
        card_id=request.GET.get("card_id", ""),
        openid=request.GET.get("openid", ""),
    )
    return JsonResponse({"codes": [code_json(code) for code in rows]})


def _code_or_404(value: str) -> Code | None:
    return Code.objects.select_related("card", "account").filter(code=value).first()


@control(["POST"])
def code_consume(request, code: str):
    """POST {"source": "FROM_MP"|"FROM_MOBILE_HELPER", "location_id"?,
    "staff_openid"?}: the code is consumed elsewhere than by the API (the MP back
    office, a staff member's phone); pushes user_consume_card with that source."""
    data = _body(request)
    found = _code_or_404(code)
    if found is None:
        return refused(exc.InvalidSerialCode(), status=404)
    location_id = data.get("location_id")
    if location_id is not None and (
        isinstance(location_id, bool) or not isinstance(location_id, int)
    ):
        raise ValueError("location_id must be an integer")
    try:
        done = codes.consume_elsewhere(
            found,
            source=str(data.get("source", "")),
            location_id=location_id,
            staff_openid=str(data.get("staff_openid") or ""),
        )
    except exc.SandboxAPIError as error:
        return refused(error)
    return JsonResponse(code_json(done))


@control(["POST"])
def code_status(request, code: str):
    """POST {"status": "DELETE"|"GIFTING"|…}: what a user does in WeChat (delete
    the coupon from the wallet pushes user_del_card; give it away …)."""
    data = _body(request)
    found = _code_or_404(code)
    if found is None:
        return refused(exc.InvalidSerialCode(), status=404)
    try:
        done = codes.code_set_status(found, str(data.get("status", "")))
    except exc.SandboxAPIError as error:
        return refused(error)
    return JsonResponse(code_json(done))


@control(["GET"])
def coupon_link(request, openid: str):
    """GET ?code=: the URL the user's tap on the coupon opens (center_url, else
    custom_url, with card_id, encrypt_code percent-encoded and openid)."""
    found = _code_or_404(request.GET.get("code", ""))
    if found is None:
        return refused(exc.InvalidSerialCode(), status=404)
    try:
        users.openid_checked(openid)
    except exc.SandboxAPIError as error:
        return refused(error)
    try:
        url = codes.coupon_link(found, openid=openid)
    except codes.NoCouponLink as error:
        return _bad(str(error))
    return JsonResponse(
        {
            "url": url,
            "code": found.code,
            "card_id": found.card.card_id,
            "openid": openid,
        }
    )


def _account(appid: str) -> Account | None:
    return Account.objects.filter(appid=appid).first() if appid else None


def user_json(user, whitelisted: set[str]) -> dict:
    return {
        "openid": user.openid,
        "username": user.username,
        "nickname": user.nickname,
        "whitelisted": user.openid in whitelisted,
    }


@control(["GET", "POST"])
def users_view(request):
    """GET ?appid=: the account's users. POST {"appid", "openid"?, "username"?,
    "nickname"?}: define one (an openid is derived from a username if absent)."""
    if request.method == "POST":
        data = _body(request)
        account = _account(str(data.get("appid") or ""))
        if account is None:
            return _bad("unknown appid", 404)
        try:
            user = users.user_save(
                account,
                openid=str(data.get("openid") or ""),
                username=str(data.get("username") or ""),
                nickname=str(data.get("nickname") or ""),
            )
        except exc.SandboxAPIError as error:
            return refused(error)
        return JsonResponse(
            user_json(user, users.whitelist_openids(account)), status=201
        )
    account = _account(request.GET.get("appid", ""))
    if account is None:
        return _bad("unknown appid", 404)
    listed = users.whitelist_openids(account)
    return JsonResponse(
        {"users": [user_json(user, listed) for user in account.users.all()]}
    )


@control(["GET"])
def whitelist_view(request):
    """GET ?appid=: the account's test whitelist as card/testwhitelist/set set it."""
    account = _account(request.GET.get("appid", ""))
    if account is None:
        return _bad("unknown appid", 404)
    entries = list(account.whitelist.all())
    return JsonResponse(
        {
            "openid": [e.openid for e in entries if not e.username],
            "username": [e.username for e in entries if e.username],
            "openids": sorted({e.openid for e in entries}),
        }
    )


# --- QR codes (SPEC §6) ------------------------------------------------------------
def qrcode_json(qr: QRCode, base_url: str) -> dict:
    return {
        **qrcodes.qrcode_answer(qr, base_url),
        "appid": qr.account.appid,
        "card_id": qr.card.card_id,
        "is_unique_code": qr.is_unique_code,
        "outer_id": qr.outer_id,
        "outer_str": qr.outer_str,
        "openid": qr.openid,
        "state": qrcodes.qrcode_state(qr),
        "expires_at": qr.expires_at.isoformat() if qr.expires_at else None,
    }


@control(["GET"])
def qrcodes_list(request):
    """GET ?appid=&card_id= (each optional): the QR codes card/qrcode/create made."""
    rows = QRCode.objects.select_related("card", "account").order_by("created_at", "id")
    if request.GET.get("appid"):
        rows = rows.filter(account__appid=request.GET["appid"])
    if request.GET.get("card_id"):
        rows = rows.filter(card__card_id=request.GET["card_id"])
    base = request.build_absolute_uri(reverse("sandbox:index"))
    return JsonResponse({"qrcodes": [qrcode_json(qr, base) for qr in rows]})


@control(["POST"])
def qrcode_scan(request, ticket: str):
    """POST {"openid"}: the user scans the QR code (its ticket, or its url's last
    part) in WeChat → the receive's answer, as cards/<card_id>/receive."""
    data = _body(request)
    qr = qrcodes.qrcode_find(ticket)
    if qr is None:
        return _bad("unknown ticket", 404)
    try:
        code = qrcodes.qrcode_scan(qr, openid=data.get("openid"), wait=True)
    except exc.SandboxAPIError as error:
        return refused(error)
    return JsonResponse(received_json(code))
