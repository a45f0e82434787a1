"""WeChat users' codes (SPEC §6, §7): receiving a card, and the code APIs
``card/code/get``, ``decrypt``, ``mark``, ``consume`` and ``unavailable``, with the
``user_get_card`` / ``user_consume_card`` pushes and the consume-share gift.

A code's status changes only by conditional UPDATEs (``… WHERE status='NORMAL'``):
of two concurrent consumes of one code exactly one succeeds, on PostgreSQL and on
SQLite alike. A receive locks its card row, so stock and ``get_limit`` hold under
concurrent receives. Time is sandbox time (``clock``): marks last 5 minutes of it.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlsplit, urlunsplit

from django.db import IntegrityError, transaction
from django.db.models import F, Q

from .. import exceptions as exc
from ..models import Account, Card, Code, Push, QRCode
from . import carddef, clock, push
from .cards import InvalidParam
from .users import is_whitelisted, openid_checked, user_touch

MARK_SECONDS = 300  # SPEC §7: a mark holds a code for 5 minutes
CODE_DIGITS = 12  # SPEC §7: the sandbox's codes are 12 digits
GIFT_OUTER_STR = "consume_share"  # SPEC §7 (decision)
MAX_OUTER_ID = 2**31 - 1
MAX_OUTER_STR = 128

# SourceScene of user_get_card: the sandbox's own values (WeChat documents none).
SCENE_CONSOLE = "SOURCE_SCENE_SANDBOX"
SCENE_QRCODE = "SOURCE_SCENE_QRCODE"
SCENE_JSAPI = "SOURCE_SCENE_JSAPI"
SCENE_CONSUME_SHARE = "SOURCE_SCENE_CONSUME_SHARE"

# ConsumeSource of user_consume_card (SPEC §7).
FROM_API = "FROM_API"
CONSUME_SOURCES = (FROM_API, "FROM_MP", "FROM_MOBILE_HELPER")
DEFAULT_STAFF_OPENID = "o_sandbox_staff"


class NoCouponLink(ValueError):
    """The card has neither center_url nor custom_url."""


# --- helpers ---------------------------------------------------------------------
def _new_code() -> str:
    return str(10 ** (CODE_DIGITS - 1) + secrets.randbelow(9 * 10 ** (CODE_DIGITS - 1)))


def _new_encrypt_code() -> str:
    """An opaque token, one per code: standard base64 of 32 random bytes, so it
    ends in ``=`` and most often holds ``+`` or ``/`` — which a link must
    percent-encode and a reader must decode exactly once (SPEC §7)."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


_STATE_FIELDS = (
    "status",
    "mark_openid",
    "mark_expires_at",
    "consumed_at",
    "consumed_by",
    "consume_source",
    "location_id",
    "staff_openid",
)


def _reload(code: Code) -> None:
    """Re-read the code's state, keeping its card and account (unchanged)."""
    code.refresh_from_db(fields=_STATE_FIELDS)


def effective_status(code: Code, card: Card, now: datetime) -> str:
    """The status WeChat reports: a NORMAL code past its card's end is EXPIRE."""
    if code.status == Code.Status.NORMAL and carddef.validity(card).ended(now):
        return Code.Status.EXPIRE
    return code.status


def active_mark(code: Code, now: datetime) -> str:
    """The openid holding the code's mark now, or ""."""
    if code.mark_openid and code.mark_expires_at and code.mark_expires_at > now:
        return code.mark_openid
    return ""


def _code_value(body: dict) -> str:
    value = body.get("code")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise exc.InvalidSerialCode()
    return value.strip()


def code_find(account: Account, body: dict) -> Code:
    """The account's code named by ``code`` (and ``card_id`` when given), or 40056:
    a code never received, another account's, or of another card."""
    value = _code_value(body)
    code = (
        Code.objects.select_related("card", "account")
        .filter(account=account, code=value)
        .first()
    )
    card_id = body.get("card_id")
    if code is None or (card_id not in (None, "") and card_id != code.card.card_id):
        raise exc.InvalidSerialCode()
    return code


def _check_usable(code: Code, now: datetime) -> None:
    """A code that may be marked or consumed now, else WeChat's errcode (SPEC §7):
    40099 consumed, 40078 being given, 40127 deleted or unavailable, 40079 outside
    its card's validity."""
    status = effective_status(code, code.card, now)
    if status == Code.Status.CONSUMED:
        raise exc.CodeConsumed()
    if status in (Code.Status.GIFTING, Code.Status.GIFT_TIMEOUT):
        raise exc.InvalidCardStatus("invalid card status hint: the code is being given")
    if status in (Code.Status.DELETE, Code.Status.UNAVAILABLE):
        raise exc.CodeAbnormal()
    if status == Code.Status.EXPIRE:
        raise exc.CodeOutsideValidity("invalid time hint: the code has expired")
    if not carddef.validity(code.card).started(now):
        raise exc.CodeOutsideValidity("invalid time hint: the code is not valid yet")


# --- receiving (SPEC §6) -----------------------------------------------------------
@dataclass(frozen=True)
class Channel:
    """Where a receive came from: it comes back in ``user_get_card``."""

    outer_id: int = 0
    outer_str: str = ""
    source_scene: str = SCENE_CONSOLE
    friend_user_name: str = ""  # set: IsGiveByFriend 1


def channel_checked(outer_id=0, outer_str="", **fields) -> Channel:
    """outer_id an integer 0–2³¹−1 (digits accepted), outer_str ≤ 128 characters
    (SPEC §6), else 40071."""
    if outer_id in (None, ""):
        outer_id = 0
    if isinstance(outer_id, str) and outer_id.isdigit() and len(outer_id) <= 10:
        outer_id = int(outer_id)
    if (
        isinstance(outer_id, bool)
        or not isinstance(outer_id, int)
        or not 0 <= outer_id <= MAX_OUTER_ID
    ):
        raise InvalidParam("invalid param hint: [outer_id]")
    if outer_str is None:
        outer_str = ""
    if not isinstance(outer_str, str) or len(outer_str) > MAX_OUTER_STR:
        raise InvalidParam("invalid param hint: [outer_str]")
    return Channel(outer_id=outer_id, outer_str=outer_str, **fields)


def check_receivable(
    card: Card, *, openid: str, whitelisted: bool, now: datetime, limits: bool = True
) -> None:
    """May ``openid`` receive ``card`` now (SPEC §6)? Raises the refusal:
    40078 deleted, or not approved for a user off the test whitelist; 40079 ended,
    or earlier than 5 days before it begins; 45033 at get_limit; 45031 no stock
    (a whitelisted user needs none). ``limits=False`` (the consume-share gift)
    skips the 5-day rule and get_limit."""
    if card.status == Card.Status.DELETE:
        raise exc.InvalidCardStatus("invalid card status hint: the card is deleted")
    if card.status != Card.Status.VERIFY_OK and not whitelisted:
        raise exc.InvalidCardStatus(
            "invalid card status hint: the card is not approved (only test "
            "whitelist users may receive it)"
        )
    dates = carddef.validity(card)
    if dates.ended(now):
        raise exc.CodeOutsideValidity("invalid time hint: the card has ended")
    opens = dates.receivable_from()
    if limits and opens is not None and now < opens:
        raise exc.CodeOutsideValidity(
            "invalid time hint: the card can be received from "
            f"{carddef.china_date(opens)}"
        )
    if limits:
        held = Code.objects.filter(card=card, openid=openid).count()
        if held >= carddef.get_limit(card):
            raise exc.GetLimitExceeded()
    if card.quantity <= 0 and not whitelisted:
        raise exc.StockEmpty()


def code_receive(
    card: Card,
    *,
    openid: str,
    channel: Channel | None = None,
    qrcode: QRCode | None = None,
    gift_of: Code | None = None,
    card_ext_signature: str | None = None,
    limits: bool = True,
    wait: bool = False,
) -> Code:
    """A user receives a card (a scan, addCard, the console or the gift): a new
    12-digit code and its encrypt_code; one unit of stock taken when there is
    any; ``user_get_card`` pushed once committed (``wait``: before returning).
    Raises the refusal of ``check_receivable``."""
    openid = openid_checked(openid)
    channel = channel or Channel()
    now = clock.now()
    with transaction.atomic():
        card = (
            Card.objects.select_for_update(of=("self",))
            .select_related("account")
            .get(pk=card.pk)
        )
        account = card.account
        whitelisted = is_whitelisted(account, openid)
        check_receivable(
            card, openid=openid, whitelisted=whitelisted, now=now, limits=limits
        )
        if card.quantity > 0:
            taken = Card.objects.filter(pk=card.pk, quantity__gt=0).update(
                quantity=F("quantity") - 1
            )
            if not taken and not whitelisted:
                raise exc.StockEmpty()
        code = _code_create(
            account=account,
            card=card,
            openid=openid,
            channel=channel,
            qrcode=qrcode,
            gift_of=gift_of,
            card_ext_signature=card_ext_signature,
            received_at=now,
        )
        user_touch(account, openid)
        transaction.on_commit(lambda: _push_received(code, wait=wait))
    return code


def _code_create(**fields) -> Code:
    channel: Channel = fields.pop("channel")
    fields.update(
        outer_id=channel.outer_id,
        outer_str=channel.outer_str,
        source_scene=channel.source_scene,
        is_give_by_friend=bool(channel.friend_user_name),
        friend_user_name=channel.friend_user_name,
    )
    for attempt in range(5):
        try:
            with transaction.atomic():
                return Code.objects.create(
                    code=_new_code(), encrypt_code=_new_encrypt_code(), **fields
                )
        except IntegrityError:
            if attempt == 4 or (
                fields.get("card_ext_signature")
                and Code.objects.filter(
                    card_ext_signature=fields["card_ext_signature"]
                ).exists()
            ):
                raise
    raise AssertionError("unreachable")


def received_fields(code: Code) -> dict:
    """The fields of ``user_get_card`` (SPEC §6, §10)."""
    return {
        "CardId": code.card.card_id,
        "IsGiveByFriend": int(code.is_give_by_friend),
        "UserCardCode": code.code,
        "FriendUserName": code.friend_user_name,
        "OuterId": code.outer_id,
        "OldUserCardCode": "",
        "OuterStr": code.outer_str,
        "IsRestoreMemberCard": 0,
        "IsRecommendByFriend": 0,
        "SourceScene": code.source_scene,
    }


def _push_received(code: Code, *, wait: bool) -> Push:
    return push.push_event(
        code.account,
        event="user_get_card",
        fields=received_fields(code),
        from_user=code.openid,
        wait=wait,
    )


# --- card/code/get, decrypt --------------------------------------------------------
def _flag(value, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "")
    return bool(value)


def code_get(account: Account, body: dict) -> dict:
    """``card/code/get``: the code's card and validity, owner, status, whether it
    can be consumed, who marks it and how often that user used this card.
    check_consume (default true) turns an abnormal status into 40127."""
    code = code_find(account, body)
    now = clock.now()
    status = effective_status(code, code.card, now)
    dates = carddef.validity(code.card)
    if _flag(body.get("check_consume"), True) and status != Code.Status.NORMAL:
        raise exc.CodeAbnormal()
    marker = active_mark(code, now)
    use_count = (
        Code.objects.filter(
            card=code.card, status=Code.Status.CONSUMED, consumed_by=marker
        ).count()
        if marker
        else 0
    )
    return {
        "card": {
            "card_id": code.card.card_id,
            "begin_time": dates.begin or 0,
            "end_time": dates.end or 0,
        },
        "openid": code.openid,
        "can_consume": status == Code.Status.NORMAL and dates.started(now),
        "user_card_status": status,
        "mark_openid": marker,
        "use_count": use_count,
    }


def code_decrypt(account: Account, body: dict) -> str:
    """``card/code/decrypt``: the code of this account's encrypt_code, exactly as
    given (a link's percent-encoding undone once, no ``+`` → space), else 40075."""
    value = body.get("encrypt_code")
    if not isinstance(value, str) or not value:
        raise exc.InvalidEncryptCode()
    code = (
        Code.objects.filter(account=account, encrypt_code=value)
        .values_list("code", flat=True)
        .first()
    )
    if code is None:
        raise exc.InvalidEncryptCode()
    return code


# --- card/code/mark ----------------------------------------------------------------
def code_mark(account: Account, body: dict) -> None:
    """``card/code/mark``: is_mark true (the default) locks a usable code to
    ``openid`` for 5 minutes (the same openid again: ok, the 5 minutes start
    again; another openid while it holds: 40146). is_mark false releases it
    (another openid's mark: 40416; no mark held: ok)."""
    code = code_find(account, body)
    openid = body.get("openid")
    if not isinstance(openid, str) or not openid:
        raise exc.InvalidOpenid()
    now = clock.now()
    rows = Code.objects.filter(pk=code.pk)
    if not _flag(body.get("is_mark"), True):
        released = rows.filter(mark_openid=openid, mark_expires_at__gt=now).update(
            mark_openid="", mark_expires_at=None
        )
        if not released:
            _reload(code)
            if active_mark(code, now):
                raise exc.UnmarkByOther()
        return
    for _attempt in range(2):
        _check_usable(code, now)
        free = Q(mark_openid="") | Q(mark_openid=openid) | Q(mark_expires_at__lte=now)
        free |= Q(mark_expires_at__isnull=True)
        if (
            rows.filter(free, status=Code.Status.NORMAL).update(
                mark_openid=openid,
                mark_expires_at=now + timedelta(seconds=MARK_SECONDS),
            )
            == 1
        ):
            return
        _reload(code)
        if code.status == Code.Status.NORMAL and active_mark(code, now) not in (
            "",
            openid,
        ):
            raise exc.CodeMarkedByOther()
    raise exc.SystemBusy()


# --- card/code/consume -------------------------------------------------------------
def code_consume(account: Account, body: dict) -> Code:
    """``card/code/consume``: offline ``{code}`` or online ``{code, openid}`` (which
    needs the code marked by that openid, else 40003). 40099 already consumed,
    40079 outside its validity, 40078 being given, 40127 deleted or unavailable.
    ``location_id`` (a sandbox extension) comes back in the push as LocationId."""
    code = code_find(account, body)
    openid = body.get("openid")
    if openid in (None, ""):
        openid = None
    elif not isinstance(openid, str):
        raise exc.InvalidOpenid()
    location_id = body.get("location_id")
    if isinstance(location_id, str) and location_id.isdigit():
        location_id = int(location_id)
    if isinstance(location_id, bool) or not isinstance(location_id, int | None):
        raise InvalidParam("invalid param hint: [location_id]")
    return consume(code, online_openid=openid, source=FROM_API, location_id=location_id)


def consume(
    code: Code,
    *,
    online_openid: str | None = None,
    source: str = FROM_API,
    location_id: int | None = None,
    staff_openid: str = "",
) -> Code:
    """Consume ``code`` once: claimed by ``UPDATE … WHERE status='NORMAL'`` (and,
    online, the mark held by that openid), so a concurrent second consume finds it
    CONSUMED (40099). Then ``user_consume_card`` is pushed (FromUserName = who
    consumed: the online openid, else the code's owner) and the consumer receives
    the consume-share gift, stock permitting."""
    for _attempt in range(3):
        now = clock.now()
        _check_usable(code, now)
        if online_openid is not None and active_mark(code, now) != online_openid:
            raise exc.InvalidOpenid("invalid openid hint: the code is not marked by it")
        consumer = online_openid or code.openid
        rows = Code.objects.filter(pk=code.pk, status=Code.Status.NORMAL)
        if online_openid is not None:
            rows = rows.filter(mark_openid=online_openid, mark_expires_at__gt=now)
        claimed = rows.update(
            status=Code.Status.CONSUMED,
            consumed_at=now,
            consumed_by=consumer,
            consume_source=source,
            location_id=location_id,
            staff_openid=staff_openid,
            mark_openid="",
            mark_expires_at=None,
        )
        _reload(code)
        if claimed:
            break
    else:
        raise exc.SystemBusy()
    push.push_event(
        code.account,
        event="user_consume_card",
        fields=consumed_fields(code),
        from_user=code.consumed_by,
        wait=False,
    )
    gift_give(code)
    return code


def consumed_fields(code: Code) -> dict:
    """The fields of ``user_consume_card`` (SPEC §7, §10)."""
    fields = {
        "CardId": code.card.card_id,
        "UserCardCode": code.code,
        "ConsumeSource": code.consume_source,
        "LocationName": "",
        "StaffOpenId": code.staff_openid,
        "VerifyCode": "",
        "RemarkAmount": "",
        "OuterStr": code.outer_str,
    }
    if code.location_id is not None:
        fields["LocationId"] = code.location_id
    return fields


def consume_elsewhere(
    code: Code, *, source: str, location_id: int | None = None, staff_openid: str = ""
) -> Code:
    """A consume the portal did not make (SPEC §7): in the MP back office
    (FROM_MP) or by a staff member's phone (FROM_MOBILE_HELPER, with the staff
    member's openid in StaffOpenId). Same rules and pushes as the API's."""
    if source not in CONSUME_SOURCES or source == FROM_API:
        raise ValueError("source must be FROM_MP or FROM_MOBILE_HELPER")
    if source == "FROM_MOBILE_HELPER":
        staff_openid = staff_openid or DEFAULT_STAFF_OPENID
    return consume(
        code, source=source, location_id=location_id, staff_openid=staff_openid
    )


def gift_give(consumed: Code) -> Code | None:
    """The consume-share gift (SPEC §7): the consumer receives a code of the same
    card (consume_share_self_num) or of the other card (consume_share_card_list),
    with OuterStr ``consume_share``; no gift without stock or approval."""
    rule = carddef.gift(consumed.card)
    if rule is None:
        return None
    card = consumed.card
    if rule.card_id is not None:
        card = Card.objects.filter(
            account=consumed.account, card_id=rule.card_id
        ).first()
        if card is None:
            return None
    try:
        return code_receive(
            card,
            openid=consumed.consumed_by,
            channel=Channel(outer_str=GIFT_OUTER_STR, source_scene=SCENE_CONSUME_SHARE),
            gift_of=consumed,
            limits=False,
        )
    except exc.SandboxAPIError:
        return None


# --- card/code/unavailable, and the user's own actions ------------------------------
def code_unavailable(account: Account, body: dict) -> Code:
    """``card/code/unavailable``: the code becomes UNAVAILABLE, irreversibly
    (40099 consumed; 40127 already deleted or unavailable; 40078 being given)."""
    code = code_find(account, body)
    done = Code.objects.filter(pk=code.pk, status=Code.Status.NORMAL).update(
        status=Code.Status.UNAVAILABLE, mark_openid="", mark_expires_at=None
    )
    _reload(code)
    if not done:
        if code.status == Code.Status.CONSUMED:
            raise exc.CodeConsumed()
        if code.status in (Code.Status.GIFTING, Code.Status.GIFT_TIMEOUT):
            raise exc.InvalidCardStatus()
        raise exc.CodeAbnormal()
    return code


def code_set_status(code: Code, status: str) -> Code:
    """Act out WeChat's other paths (the control API): a user deletes the coupon
    from the wallet (DELETE, pushes ``user_del_card``) or gives it (GIFTING, …).
    CONSUMED only by a consume; a consumed code stays consumed."""
    if status not in Code.Status.values or status == Code.Status.CONSUMED:
        raise ValueError("status must be one of " + ", ".join(_settable()))
    changed = (
        Code.objects.filter(pk=code.pk)
        .exclude(status=Code.Status.CONSUMED)
        .update(status=status, mark_openid="", mark_expires_at=None)
    )
    if not changed:
        raise exc.CodeConsumed()
    _reload(code)
    if status == Code.Status.DELETE:
        push.push_event(
            code.account,
            event="user_del_card",
            fields={"CardId": code.card.card_id, "UserCardCode": code.code},
            from_user=code.openid,
            wait=True,
        )
    return code


def _settable() -> list[str]:
    return [s for s in Code.Status.values if s != Code.Status.CONSUMED]


# --- what the user sees -------------------------------------------------------------
def coupon_link(code: Code, *, openid: str) -> str:
    """The URL a tap on the coupon opens (SPEC §7, seed 000 "获取自定义外链参数"):
    the card's center_url (else custom_url) with card_id, encrypt_code (percent-
    encoded: ``+`` → %2B, ``/`` → %2F, ``=`` → %3D) and the tapping user's openid.
    Friend coupons are shared: any openid may open it."""
    url = carddef.link(code.card)
    if not url:
        raise NoCouponLink("the card has neither center_url nor custom_url")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    added = "&".join(
        f"{key}={quote(value, safe='')}"
        for key, value in (
            ("card_id", code.card.card_id),
            ("encrypt_code", code.encrypt_code),
            ("openid", openid),
        )
    )
    query = f"{parts.query}&{added}" if parts.query else added
    return urlunsplit(parts._replace(query=query))


def codes_of(*, appid: str = "", card_id: str = "", openid: str = "") -> list[Code]:
    rows = Code.objects.select_related("card", "account").order_by("received_at", "id")
    if appid:
        rows = rows.filter(account__appid=appid)
    if card_id:
        rows = rows.filter(card__card_id=card_id)
    if openid:
        rows = rows.filter(openid=openid)
    return list(rows)
