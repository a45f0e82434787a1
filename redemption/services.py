"""Redemption (SPEC §7): look a code up, consume it at most once, settle lost answers,
and keep the local record of codes from WeChat's events — which are hints (SPEC §10):
a push that says a code moved only makes the portal read it (code/get).

The promise — a code is consumed at most once whatever the number of tills, clicks,
retries, workers or lost answers — rests on three things:

* an attempt is a row, written before WeChat is called; it *claims* the code by
  setting ``sent_at``, which a partial unique index allows for one attempt of a code
  at a time (``redemption_one_in_flight_per_code``);
* a code the portal knows is consumed, or being consumed, is answered from the
  database, without calling WeChat;
* a consume whose answer was lost is settled by ``code/get``, never by consuming
  again; a success WeChat shows later is applied to the attempt that asked for it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

import wechat
from cards import services as card_services
from cards.models import FriendCard
from portal.models import Merchant, Store
from wechat import errors as wx

from .models import (
    Channel,
    Code,
    CodeEvent,
    CodeStatus,
    ConsumeSource,
    Reason,
    RedemptionAttempt,
    TillKey,
)

log = logging.getLogger("redemption")

A = RedemptionAttempt.Outcome
# WeChat's codes are up to 20 characters (SPEC §7; the sandbox's are 12 digits).
_CODE = re.compile(r"[0-9A-Za-z]{4,20}")
# How long a second attempt waits for the one with WeChat before answering "in progress".
IN_FLIGHT_WAIT = 3.0
# A consume still "with WeChat" this long after it was sent: its sender died.
IN_FLIGHT_STUCK = timedelta(seconds=30)
CHECK_SCHEDULE = (2, 3, 5, 10, 15, 30, 60)
KEY_PREFIX = "fct_"
RATE_PER_MINUTE = 120  # consumes + lookups per API key

_STATUS_REASON = {
    CodeStatus.CONSUMED: Reason.ALREADY_CONSUMED,
    CodeStatus.EXPIRE: Reason.EXPIRED,
    CodeStatus.GIFTING: Reason.DELETED,
    CodeStatus.GIFT_TIMEOUT: Reason.DELETED,
    CodeStatus.DELETE: Reason.DELETED,
    CodeStatus.UNAVAILABLE: Reason.UNAVAILABLE,
}
_ERRCODE_REASON = {
    wx.E.ALREADY_USED: Reason.ALREADY_CONSUMED,
    wx.E.INVALID_TIME: Reason.EXPIRED,
    wx.E.CODE_DELETED_OR_GIFTING: Reason.DELETED,
    wx.E.CODE_UNAVAILABLE: Reason.UNAVAILABLE,
    wx.E.INVALID_CODE: Reason.INVALID_CODE,
    wx.E.MARKED_BY_OTHER: Reason.MARKED_BY_OTHER,
    wx.E.CODE_NOT_MARKED: Reason.NOT_MARKED,
    wx.E.SYSTEM_BUSY: Reason.WECHAT_BUSY,
}


def normalize_code(text) -> str | None:
    """The code as typed or scanned (spaces and dashes a scanner or a cashier adds
    are dropped), or None when it cannot be a WeChat code: ASCII letters and digits
    only, 4–20 of them."""
    value = re.sub(r"[\s\-]", "", str(text or ""))
    return value if value.isascii() and _CODE.fullmatch(value) else None


# --- lookup ----------------------------------------------------------------------------
@dataclass
class Lookup:
    """What a till shows about a code before it is consumed."""

    code: str
    card: FriendCard | None = None
    status: str = ""
    can_consume: bool = False
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    valid_here: bool = True
    outside_time_limit: bool = False
    reason: str = ""
    errcode: int | None = None
    record: Code | None = None

    @property
    def message(self) -> str:
        if self.reason:
            return str(Reason(self.reason).label)
        return _("This coupon can be redeemed.")


def code_lookup(
    *, merchant: Merchant, code: str, store: Store | None, openid: str | None = None
) -> Lookup:
    """Read the code at WeChat (code/get, check_consume false) and say whether it can
    be consumed here: status, validity dates, the store check (SPEC §7: a card's
    location_id_list must hold the till's store), a mark by another WeChat user than
    ``openid`` (at a till: any mark — the customer is using it on their phone)."""
    value = normalize_code(code)
    if value is None:
        return Lookup(code=str(code or "")[:64], reason=Reason.INVALID_CODE)
    try:
        info = wechat.for_merchant(merchant).code.get(value, check_consume=False)
    except wx.TransportError:
        return Lookup(code=value, reason=Reason.WECHAT_BUSY)
    except wx.WeChatError as exc:
        return Lookup(
            code=value,
            reason=_ERRCODE_REASON.get(exc.code, Reason.INVALID_CODE),
            errcode=exc.errcode,
        )
    try:
        card = card_services.card_for_wechat_id(merchant=merchant, card_id=info.card_id)
    except (wx.WeChatError, ValidationError):
        return Lookup(code=value, reason=Reason.INVALID_CODE)
    record = _record_status(merchant=merchant, card=card, info=info)
    lookup = Lookup(
        code=value,
        card=card,
        status=info.status,
        can_consume=info.can_consume,
        valid_from=info.begin_time or card.begin_at,
        valid_to=info.end_time or card.end_at,
        record=record,
    )
    now = timezone.now()
    if store is not None:
        lookup.valid_here = store.poi_id in card_services.card_location_ids(card)
    lookup.outside_time_limit = _outside_time_limit(card, timezone.localtime(now))
    if info.status in _STATUS_REASON:
        lookup.reason = _STATUS_REASON[info.status]
    elif (lookup.valid_from and now < lookup.valid_from) or (
        lookup.valid_to and now > lookup.valid_to
    ):
        lookup.reason = Reason.EXPIRED
    elif not lookup.valid_here:
        lookup.reason = Reason.NOT_VALID_HERE
    elif info.mark_openid and info.mark_openid != openid:
        lookup.reason = Reason.MARKED_BY_OTHER
    lookup.can_consume = info.can_consume and not lookup.reason
    return lookup


def _outside_time_limit(card: FriendCard, now: datetime) -> bool:
    """SPEC §7: time_limit is shown and warned about, not enforced."""
    limits = (card.type_block.get("advanced_info") or {}).get("time_limit") or []
    if not limits:
        return False
    day = (
        "MONDAY",
        "TUESDAY",
        "WEDNESDAY",
        "THURSDAY",
        "FRIDAY",
        "SATURDAY",
        "SUNDAY",
    )[now.weekday()]
    minutes = now.hour * 60 + now.minute
    for limit in limits:
        if not isinstance(limit, dict) or limit.get("type") not in (day, "HOLIDAY"):
            continue
        if "begin_hour" not in limit:
            return False  # the whole day
        begin = int(limit.get("begin_hour", 0)) * 60 + int(limit.get("begin_minute", 0))
        end = int(limit.get("end_hour", 23)) * 60 + int(limit.get("end_minute", 59))
        if begin <= minutes <= end:
            return False
    return True


def _record_status(*, merchant: Merchant, card: FriendCard, info) -> Code:
    """The local record of a code, made to say what WeChat just said."""
    record, _created = Code.objects.get_or_create(
        merchant=merchant,
        code=info.code,
        defaults={"card": card, "openid": info.openid[:64], "status": info.status},
    )
    if info.status in CodeStatus.values and record.status != info.status:
        changes = {"status": info.status}
        if info.status == CodeStatus.CONSUMED and not record.consumed_at:
            changes["consumed_at"] = timezone.now()
        Code.objects.filter(pk=record.pk).update(**changes)
        record.refresh_from_db()
    return record


# --- consume ---------------------------------------------------------------------------
class KeyReused(Exception):
    """An Idempotency-Key already answered for another code: its answer is not this
    code's (a POS that reuses keys must not read "redeemed" for a code that was not)."""

    def __init__(self, attempt: RedemptionAttempt):
        self.attempt = attempt
        super().__init__("idempotency key reused")


class InProgress(Exception):
    """The same Idempotency-Key is being answered by a concurrent request."""

    def __init__(self, attempt: RedemptionAttempt | None = None):
        self.attempt = attempt
        super().__init__("in progress")


def code_consume(
    *,
    merchant: Merchant,
    code: str,
    store: Store | None,
    channel: str = Channel.TILL,
    user=None,
    api_key: TillKey | None = None,
    idempotency_key: str | None = None,
    openid: str | None = None,
) -> RedemptionAttempt:
    """Consume a code (card/code/consume), at most once. Returns the finished attempt
    (consumed, refused with its reason, or unknown: WeChat's answer was lost and the
    code is being checked). Offline at a till ``{code}``; online (the customer's
    phone) ``{code, openid}`` — that openid must hold the mark.

    With ``idempotency_key``: the same key returns the same attempt (its answer); a
    concurrent duplicate raises InProgress.
    """
    if idempotency_key:
        previous = RedemptionAttempt.objects.filter(
            merchant=merchant, idempotency_key=idempotency_key
        ).first()
        if previous is not None:
            return _same_answer(previous, code)
    value = normalize_code(code)
    try:
        attempt = RedemptionAttempt.objects.create(
            merchant=merchant,
            code=value or str(code or "")[:64],
            store=store,
            channel=channel,
            user=user,
            api_key=api_key,
            idempotency_key=idempotency_key or None,
            openid=(openid or "")[:64],
        )
    except IntegrityError:  # the same key, a hair earlier
        previous = RedemptionAttempt.objects.get(
            merchant=merchant, idempotency_key=idempotency_key
        )
        return _same_answer(previous, code)
    if value is None:
        return _refuse(attempt, Reason.INVALID_CODE)
    known = _answer_from_the_database(attempt)
    if known is not None:
        return known
    lookup = code_lookup(merchant=merchant, code=value, store=store, openid=openid)
    if lookup.card is not None:
        RedemptionAttempt.objects.filter(pk=attempt.pk).update(
            card=lookup.card, code_ref=lookup.record
        )
        attempt.card, attempt.code_ref = lookup.card, lookup.record
    online = openid is not None
    if lookup.reason:
        if lookup.reason == Reason.ALREADY_CONSUMED:
            _give_to_a_lost_attempt(attempt)
        return _refuse(attempt, lookup.reason, errcode=lookup.errcode)
    while not _claim(attempt):
        # Another attempt holds the code: its answer is ours too, unless it
        # finished without consuming — then this one takes its turn.
        known = _answer_from_the_database(attempt)
        if known is not None:
            return known
    if RedemptionAttempt.objects.filter(
        merchant=merchant, code=value, outcome=A.CONSUMED
    ).exists():  # consumed by the attempt that held the code just before us
        _learned_consumed(attempt)
        return _refuse(attempt, Reason.ALREADY_CONSUMED)
    client = wechat.for_merchant(merchant)
    try:
        client.code.consume(
            value, card_id=lookup.card.card_id, openid=openid if online else None
        )
    except wx.UnknownOutcome as exc:
        RedemptionAttempt.objects.filter(pk=attempt.pk, outcome=A.PENDING).update(
            outcome=A.UNKNOWN,
            reason=Reason.CHECKING,
            wechat_answer={"lost": exc.errmsg},
            next_check_at=timezone.now() + timedelta(seconds=CHECK_SCHEDULE[0]),
        )
        return attempt_settle(attempt_id=attempt.pk)
    except wx.TransportError:
        # WeChat was never reached: nothing happened; the cashier may try again.
        return _refuse(attempt, Reason.WECHAT_BUSY)
    except wx.WeChatError as exc:
        reason = _ERRCODE_REASON.get(exc.code, Reason.INVALID_CODE)
        if reason == Reason.ALREADY_CONSUMED:
            _learned_consumed(attempt)
            _give_to_a_lost_attempt(attempt)
        return _refuse(
            attempt, reason, errcode=exc.errcode, answer={"errcode": exc.errcode}
        )
    return _consumed(attempt)


def _same_answer(previous: RedemptionAttempt, code) -> RedemptionAttempt:
    asked = normalize_code(code) or str(code or "")[:64]
    if asked != previous.code:
        raise KeyReused(previous)
    if previous.outcome == A.PENDING and previous.finished_at is None:
        raise InProgress(previous)
    return previous


def _in_flight(attempt: RedemptionAttempt):
    return (
        RedemptionAttempt.objects.filter(
            merchant_id=attempt.merchant_id,
            code=attempt.code,
            outcome__in=[A.PENDING, A.UNKNOWN],
            sent_at__isnull=False,
        )
        .exclude(pk=attempt.pk)
        .first()
    )


def _answer_from_the_database(attempt: RedemptionAttempt) -> RedemptionAttempt | None:
    """A code known consumed → already consumed; one being consumed by another
    attempt → wait (briefly) for that answer. None: nothing known, ask WeChat."""
    deadline = time.monotonic() + IN_FLIGHT_WAIT
    while True:
        record = Code.objects.filter(
            merchant_id=attempt.merchant_id, code=attempt.code
        ).first()
        if record is not None and record.status == CodeStatus.CONSUMED:
            RedemptionAttempt.objects.filter(pk=attempt.pk).update(
                code_ref=record, card_id=record.card_id
            )
            return _refuse(attempt, Reason.ALREADY_CONSUMED)
        if _in_flight(attempt) is None:
            return None
        if time.monotonic() >= deadline:
            return _refuse(attempt, Reason.IN_PROGRESS)
        time.sleep(0.05)


def _claim(attempt: RedemptionAttempt) -> bool:
    """Take the code for this attempt: one attempt of a code with WeChat at a time
    (the partial unique index refuses a second)."""
    try:
        with transaction.atomic():
            return bool(
                RedemptionAttempt.objects.filter(
                    pk=attempt.pk, outcome=A.PENDING, sent_at__isnull=True
                ).update(sent_at=timezone.now())
            )
    except IntegrityError:
        return False


def _refuse(
    attempt: RedemptionAttempt, reason: str, *, errcode=None, answer=None
) -> RedemptionAttempt:
    RedemptionAttempt.objects.filter(
        pk=attempt.pk, outcome__in=[A.PENDING, A.UNKNOWN]
    ).update(
        outcome=A.REFUSED,
        reason=reason,
        errcode=errcode,
        wechat_answer=answer,
        finished_at=timezone.now(),
        next_check_at=None,
    )
    attempt.refresh_from_db()
    return attempt


def _consumed(attempt: RedemptionAttempt, *, late: bool = False) -> RedemptionAttempt:
    """WeChat consumed the code for this attempt: the attempt and the code record say
    so, in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        moved = (
            RedemptionAttempt.objects.filter(pk=attempt.pk)
            .exclude(outcome=A.CONSUMED)
            .update(
                outcome=A.CONSUMED,
                reason="",
                late=late,
                finished_at=now,
                next_check_at=None,
            )
        )
        if moved:
            record = (
                attempt.code_ref
                or Code.objects.filter(
                    merchant_id=attempt.merchant_id, code=attempt.code
                ).first()
            )
            if record is None and attempt.card_id:
                record = Code.objects.create(
                    merchant_id=attempt.merchant_id,
                    card_id=attempt.card_id,
                    code=attempt.code,
                )
            if record is not None:
                Code.objects.filter(pk=record.pk).update(
                    status=CodeStatus.CONSUMED,
                    consumed_at=F("consumed_at") if record.consumed_at else now,
                    consume_source=ConsumeSource.FROM_API,
                    consumed_location_id=attempt.store.poi_id if attempt.store else "",
                    consumed_by_openid=attempt.openid or record.openid,
                )
                if late:
                    CodeEvent.objects.create(
                        code=record,
                        kind=CodeEvent.Kind.CONSUMED_LATE,
                        source="settled",
                        message=_("Attempt %(id)s redeemed it after all.")
                        % {"id": attempt.pk},
                    )
    if moved:
        log.info(
            "code %s… of merchant %s redeemed (attempt %s%s)",
            attempt.code[:4],
            attempt.merchant_id,
            attempt.pk,
            ", late" if late else "",
        )
    attempt.refresh_from_db()
    return attempt


def _give_to_a_lost_attempt(attempt: RedemptionAttempt) -> None:
    """WeChat now says consumed and no attempt of ours has it: an earlier consume of
    ours whose answer was lost (unknown, or closed "not confirmed" because code/get
    still said NORMAL then) went through late — it is that attempt's (as code_check
    does on a push, which may never come). The retry is told "already redeemed" with
    when and where, the till's own redemption."""
    ours = RedemptionAttempt.objects.filter(
        merchant_id=attempt.merchant_id, code=attempt.code
    ).exclude(pk=attempt.pk)
    if ours.filter(outcome=A.CONSUMED).exists():
        return
    lost = (
        ours.filter(sent_at__isnull=False)
        .filter(Q(outcome=A.UNKNOWN) | Q(reason=Reason.NOT_CONFIRMED))
        .order_by("-sent_at")
        .first()
    )
    if lost is not None:
        _consumed(lost, late=lost.outcome != A.UNKNOWN)


def _learned_consumed(attempt: RedemptionAttempt) -> None:
    """WeChat says the code is already consumed (40099): the record says so too."""
    Code.objects.filter(merchant_id=attempt.merchant_id, code=attempt.code).exclude(
        status=CodeStatus.CONSUMED
    ).update(status=CodeStatus.CONSUMED, consumed_at=timezone.now())


# --- lost answers ------------------------------------------------------------------------
def attempt_settle(*, attempt_id: int) -> RedemptionAttempt:
    """A consume whose answer was lost: code/get says what happened (never consume
    again). CONSUMED → this attempt consumed it; NORMAL → it did not (the cashier may
    try again; a consume WeChat applies later still finds its attempt, see
    code_check); no answer → still unknown, read again with back-off."""
    attempt = RedemptionAttempt.objects.select_related(
        "merchant", "store", "code_ref"
    ).get(pk=attempt_id)
    if attempt.outcome != A.UNKNOWN:
        return attempt
    try:
        info = wechat.for_merchant(attempt.merchant).code.get(
            attempt.code, check_consume=False
        )
    except wx.WeChatError as exc:
        if isinstance(exc, wx.TransportError) or exc.is_(wx.E.SYSTEM_BUSY):
            step = CHECK_SCHEDULE[min(attempt.check_count + 1, len(CHECK_SCHEDULE) - 1)]
            RedemptionAttempt.objects.filter(pk=attempt.pk, outcome=A.UNKNOWN).update(
                check_count=F("check_count") + 1,
                next_check_at=timezone.now() + timedelta(seconds=step),
            )
            attempt.refresh_from_db()
            return attempt
        return _refuse(attempt, Reason.INVALID_CODE, errcode=exc.errcode)
    if info.status == CodeStatus.CONSUMED:
        return _consumed(attempt)
    if info.status == CodeStatus.NORMAL:
        return _refuse(attempt, Reason.NOT_CONFIRMED, answer={"status": info.status})
    return _refuse(
        attempt,
        _STATUS_REASON.get(info.status, Reason.UNAVAILABLE),
        answer={"status": info.status},
    )


def attempts_settle_unknown(*, limit: int = 200) -> int:
    """Beat: consumes left with WeChat by a dead sender become unknown; unknown ones
    whose next read is due are read. Returns how many were settled."""
    now = timezone.now()
    RedemptionAttempt.objects.filter(
        outcome=A.PENDING, sent_at__lt=now - IN_FLIGHT_STUCK
    ).update(outcome=A.UNKNOWN, reason=Reason.CHECKING, next_check_at=now)
    now = timezone.now()
    settled = 0
    due = RedemptionAttempt.objects.filter(outcome=A.UNKNOWN).filter(
        Q(next_check_at__lte=now) | Q(next_check_at__isnull=True)
    )
    for pk in due.values_list("pk", flat=True)[:limit]:
        if attempt_settle(attempt_id=pk).outcome != A.UNKNOWN:
            settled += 1
    return settled


# --- WeChat's pushes (hints) ---------------------------------------------------------------
def code_received(*, merchant: Merchant, payload: dict) -> Code | None:
    """user_get_card: a customer received a code (with its channel). Recorded as a
    fact about distribution; nothing is redeemed on its word."""
    card_id, value = (
        str(payload.get("CardId", "")),
        str(payload.get("UserCardCode", "")),
    )
    if not card_id or normalize_code(value) is None:
        return None
    try:
        card = card_services.card_for_wechat_id(merchant=merchant, card_id=card_id)
    except (wx.WeChatError, ValidationError):
        log.warning("user_get_card for a card WeChat does not give %s", merchant.appid)
        return None
    outer_id = str(payload.get("OuterId", "")).strip()
    fields = {
        "card": card,
        "openid": str(payload.get("FromUserName", ""))[:64],
        "outer_id": int(outer_id)
        if outer_id.isascii() and outer_id.isdigit() and int(outer_id) < 2**31
        else None,
        "outer_str": str(payload.get("OuterStr", ""))[:128],
        "given_by_friend": str(payload.get("IsGiveByFriend", "0")) == "1",
        "friend_openid": str(payload.get("FriendUserName", ""))[:64],
        "received_at": _push_time(payload),
    }
    record, created = Code.objects.get_or_create(
        merchant=merchant, code=value, defaults=fields
    )
    if not created and record.received_at is None:
        Code.objects.filter(pk=record.pk).update(**fields)
        record.refresh_from_db()
    if created:
        CodeEvent.objects.create(
            code=record,
            kind=CodeEvent.Kind.RECEIVED,
            source="event",
            wechat_answer={
                k: payload.get(k) for k in ("OuterId", "OuterStr", "IsGiveByFriend")
            },
        )
    return record


def code_check(
    *, merchant: Merchant, code: str, payload: dict | None = None
) -> Code | None:
    """A push said a code moved (user_consume_card, user_del_card): read it at WeChat
    and record what WeChat says. A consume the portal did not make is recorded with
    its source; one an attempt of ours made but lost the answer of is given to it."""
    value = normalize_code(code)
    if value is None:
        return None
    try:
        info = wechat.for_merchant(merchant).code.get(value, check_consume=False)
    except wx.WeChatError as exc:
        log.warning("code/get after a push failed for %s: %s", merchant.appid, exc)
        return None
    try:
        card = card_services.card_for_wechat_id(merchant=merchant, card_id=info.card_id)
    except (wx.WeChatError, ValidationError):
        return None
    was = (
        Code.objects.filter(merchant=merchant, code=value)
        .values_list("status", flat=True)
        .first()
    )
    record = _record_status(merchant=merchant, card=card, info=info)
    if info.status != CodeStatus.CONSUMED:
        return record
    ours = RedemptionAttempt.objects.filter(merchant=merchant, code=value)
    if ours.filter(outcome=A.CONSUMED).exists():
        return record
    lost = (
        ours.filter(sent_at__isnull=False)
        .filter(Q(outcome=A.UNKNOWN) | Q(reason=Reason.NOT_CONFIRMED))
        .order_by("-sent_at")
        .first()
    )
    if lost is not None:  # our consume, whose answer was lost, went through
        lost.code_ref = record
        _consumed(lost, late=lost.outcome != A.UNKNOWN)
        return record
    if was == CodeStatus.CONSUMED and record.consume_source:
        return record  # already recorded
    payload = payload or {}
    source = str(payload.get("ConsumeSource", ""))
    staff = payload.get("StaffOpenId") or payload.get("FromUserName") or ""
    Code.objects.filter(pk=record.pk).update(
        consume_source=source if source in ConsumeSource.values else "",
        consumed_location_id=str(payload.get("LocationId", ""))[:32],
        consumed_by_openid=str(staff)[:64],
        consumed_at=_push_time(payload) if payload else timezone.now(),
    )
    CodeEvent.objects.create(
        code=record,
        kind=CodeEvent.Kind.CONSUMED_ELSEWHERE,
        source=source or "code/get",
        wechat_answer={"status": info.status},
    )
    return record


def _push_time(payload: dict) -> datetime:
    value = str(payload.get("CreateTime", "")).strip()
    if value.isascii() and value.isdigit() and 0 < int(value) < 4_102_444_800:
        return datetime.fromtimestamp(int(value), tz=UTC)
    return timezone.now()


# --- online (the customer's phone) -------------------------------------------------------
def online_open(
    *, merchant: Merchant, encrypt_code: str, card_id: str, openid: str | None = None
) -> Lookup:
    """The coupon link WeChat opened (SPEC §7): the code comes only from WeChat's
    decrypt (40075 → invalid), and a card of another merchant is refused. A mark
    held by ``openid`` itself is not "someone else's"."""
    try:
        value = wechat.for_merchant(merchant).code.decrypt(encrypt_code)
    except wx.TransportError:
        return Lookup(code="", reason=Reason.WECHAT_BUSY)
    except wx.WeChatError:
        return Lookup(code="", reason=Reason.INVALID_CODE)
    lookup = code_lookup(merchant=merchant, code=value, store=None, openid=openid)
    if lookup.card is None or (card_id and lookup.card.card_id != card_id):
        return Lookup(code="", reason=Reason.INVALID_CODE)
    return lookup


def online_mark(
    *, merchant: Merchant, lookup: Lookup, openid: str, mark: bool = True
) -> str:
    """Hold the code for this WeChat user (5 minutes), or release it. Returns the
    reason it could not be done ("" when done)."""
    try:
        wechat.for_merchant(merchant).code.mark(
            lookup.code, card_id=lookup.card.card_id, openid=openid, is_mark=mark
        )
    except wx.TransportError:
        return Reason.WECHAT_BUSY
    except wx.WeChatError as exc:
        if exc.is_(wx.E.UNMARK_BY_OTHER):
            return ""  # someone else holds it: nothing of ours to release
        return _ERRCODE_REASON.get(exc.code, Reason.INVALID_CODE)
    return ""


# --- till keys -----------------------------------------------------------------------------
def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def till_key_create(*, merchant: Merchant, store: Store, name: str, actor=None):
    """A new API key for a device of ``store``: returns ``(key, raw)``; the raw key is
    shown once and only its hash is kept."""
    if store.merchant_id != merchant.pk:
        raise ValidationError({"store": _("This store belongs to another merchant.")})
    name = (name or "").strip()[:80]
    if not name:
        raise ValidationError({"name": _("Give the device a name, like “Till 1”.")})
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = TillKey.objects.create(
        merchant=merchant,
        store=store,
        name=name,
        prefix=raw[:12],
        key_hash=_hash(raw),
        created_by=actor,
    )
    return key, raw


def till_key_revoke(*, key: TillKey) -> None:
    TillKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def till_key_authenticate(raw: str) -> TillKey | None:
    """The active key with this value (compared by its hash), or None."""
    if not raw or not raw.startswith(KEY_PREFIX) or len(raw) > 100:
        return None
    key = (
        TillKey.objects.select_related("merchant", "store")
        .filter(key_hash=_hash(raw), revoked_at__isnull=True)
        .first()
    )
    if key is None:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > timedelta(seconds=30):
        TillKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def rate_limited(*, key: TillKey) -> bool:
    """True when the key made more than RATE_PER_MINUTE calls this minute."""
    limit = getattr(settings, "REDEMPTION_RATE_PER_MINUTE", RATE_PER_MINUTE)
    bucket = f"redemption:rate:{key.pk}:{int(time.time() // 60)}"
    cache.add(bucket, 0, 120)
    try:
        return cache.incr(bucket) > limit
    except ValueError:
        return False
