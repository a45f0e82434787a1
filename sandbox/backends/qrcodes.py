"""``card/qrcode/create`` and scanning a card's QR code (SPEC §6, seed 000 生成二维码接口).

Friend coupons take ``QR_CARD`` only. A QR code is permanent (``expire_seconds``
absent) or lives 60–1800 s of sandbox time; ``is_unique_code`` gives one code,
once; ``outer_id`` / ``outer_str`` come back in the ``user_get_card`` of each scan.
A card not approved yet gets a QR code only when the account has a test whitelist:
the QR is then for testing, and only whitelisted users can receive by scanning it.
"""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from urllib.parse import quote

from django.db import transaction

from .. import exceptions as exc
from ..models import Account, Card, Code, QRCode, WhitelistEntry
from . import carddef, clock, codes
from .cards import InvalidCardId, InvalidParam
from .users import openid_checked

MIN_EXPIRE, MAX_EXPIRE = 60, 1800


class QRCodeState:
    VALID = "valid"
    EXPIRED = "expired"
    USED = "used"


def _new_ticket() -> str:
    """Shaped like WeChat's (``gQH…AA==``): standard base64, so ``+ / =`` occur and
    ``show_qrcode_url`` must percent-encode it."""
    return base64.b64encode(b"\x81\x01" + secrets.token_bytes(41)).decode("ascii")


def _whole(value, *, field: str) -> int:
    if isinstance(value, str) and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidParam(f"invalid param hint: [{field}]")
    return value


def _card_args(body: dict) -> dict:
    action = body.get("action_name")
    if action == "QR_MULTIPLE_CARD":
        # Friend coupons cannot be handed out several at a time (SPEC §6).
        raise exc.InvalidCardType(
            "invalid card type hint: [action_name] friend coupons take QR_CARD only"
        )
    if action != "QR_CARD":
        raise exc.InvalidActionInfo("invalid actioninfo hint: [action_name]")
    info = body.get("action_info")
    card = info.get("card") if isinstance(info, dict) else None
    if not isinstance(card, dict):
        raise exc.InvalidActionInfo("invalid actioninfo hint: [action_info.card]")
    return card


def qrcode_create(account: Account, body: dict) -> QRCode:
    """``card/qrcode/create`` → the stored QR code (its answer: ``qrcode_answer``).

    40053 no QR_CARD action_info; 40071 QR_MULTIPLE_CARD (friend coupons take
    QR_CARD only), expire_seconds outside 60–1800, a custom ``code``, a bad
    is_unique_code / outer_id / outer_str / openid; 41012 no card_id; 40073 not
    this account's card; 40078 deleted, or not approved (without a test
    whitelist, or with is_unique_code); 40079 the card has ended; 45031
    is_unique_code without stock."""
    args = _card_args(body)
    card_id = args.get("card_id")
    if card_id in (None, ""):
        raise exc.MissingCardId()
    card = Card.objects.filter(account=account, card_id=card_id).first()
    if card is None:
        raise InvalidCardId()
    expire = body.get("expire_seconds")
    if expire is not None:
        expire = _whole(expire, field="expire_seconds")
        if not MIN_EXPIRE <= expire <= MAX_EXPIRE:
            raise InvalidParam("invalid param hint: [expire_seconds] 60 to 1800")
    unique = args.get("is_unique_code", False)
    if not isinstance(unique, bool):
        raise InvalidParam("invalid param hint: [is_unique_code]")
    channel = codes.channel_checked(args.get("outer_id", 0), args.get("outer_str", ""))
    if args.get("code") not in (None, ""):
        raise InvalidParam(
            "invalid param hint: [code] friend coupons have no custom code"
        )
    openid = args.get("openid") or ""
    if openid:
        openid_checked(openid)

    if card.status == Card.Status.DELETE:
        raise exc.InvalidCardStatus("invalid card status hint: the card is deleted")
    if card.status != Card.Status.VERIFY_OK:
        if unique:
            raise exc.InvalidCardStatus(
                "invalid card status hint: is_unique_code needs an approved card"
            )
        if not WhitelistEntry.objects.filter(account=account).exists():
            raise exc.InvalidCardStatus(
                "invalid card status hint: the card is not approved (set a test "
                "whitelist to test it)"
            )
    now = clock.now()
    if carddef.validity(card).ended(now):
        raise exc.CodeOutsideValidity("invalid time hint: the card has ended")
    if unique and card.quantity <= 0:
        raise exc.StockEmpty()
    return QRCode.objects.create(
        account=account,
        card=card,
        ticket=_new_ticket(),
        slug=secrets.token_urlsafe(16),
        expire_seconds=expire,
        expires_at=now + timedelta(seconds=expire) if expire else None,
        is_unique_code=unique,
        outer_id=channel.outer_id,
        outer_str=channel.outer_str,
        openid=openid,
        created_at=now,
    )


def qrcode_url(qr: QRCode, base_url: str) -> str:
    """What the QR encodes (WeChat's http://weixin.qq.com/q/…): the sandbox's
    simulated phone, as if the user scanned it in WeChat."""
    return f"{base_url.rstrip('/')}/q/{qr.slug}"


def qrcode_show_url(qr: QRCode, base_url: str) -> str:
    return (
        f"{base_url.rstrip('/')}/cgi-bin/showqrcode?ticket={quote(qr.ticket, safe='')}"
    )


def qrcode_answer(qr: QRCode, base_url: str) -> dict:
    answer = {
        "ticket": qr.ticket,
        "url": qrcode_url(qr, base_url),
        "show_qrcode_url": qrcode_show_url(qr, base_url),
    }
    if qr.expire_seconds:
        answer["expire_seconds"] = qr.expire_seconds
    return answer


def qrcode_find(key: str) -> QRCode | None:
    """The QR code with this ticket or URL slug."""
    if not key:
        return None
    return (
        QRCode.objects.select_related("card", "account").filter(ticket=key).first()
        or QRCode.objects.select_related("card", "account").filter(slug=key).first()
    )


def qrcode_state(qr: QRCode) -> str:
    if qr.is_unique_code and qr.used_at is not None:
        return QRCodeState.USED
    if qr.expires_at is not None and qr.expires_at <= clock.now():
        return QRCodeState.EXPIRED
    return QRCodeState.VALID


def qrcode_scan(qr: QRCode, *, openid: str, wait: bool = False) -> Code:
    """A user scans the QR code in WeChat and receives its card with the QR's
    channel (``user_get_card`` carries OuterId, OuterStr). 40079 expired; 40003
    the QR names another openid; 40116 a unique-code QR already used; and every
    refusal of a receive (``codes.check_receivable``)."""
    openid = openid_checked(openid)
    if qr.expires_at is not None and qr.expires_at <= clock.now():
        raise exc.CodeOutsideValidity("invalid time hint: the QR code has expired")
    if qr.openid and qr.openid != openid:
        raise exc.InvalidOpenid("invalid openid hint: the QR code is for another user")
    channel = codes.Channel(
        outer_id=qr.outer_id, outer_str=qr.outer_str, source_scene=codes.SCENE_QRCODE
    )
    with transaction.atomic():
        if qr.is_unique_code:
            # The one code of a unique-code QR: claimed here, given back (rolled
            # back) if the receive is refused.
            claimed = QRCode.objects.filter(pk=qr.pk, used_at__isnull=True).update(
                used_at=clock.now()
            )
            if not claimed:
                raise exc.CodeUsedQRCode(
                    "invalid code hint: this unique-code QR was received already"
                )
        return codes.code_receive(
            qr.card, openid=openid, channel=channel, qrcode=qr, wait=wait
        )
