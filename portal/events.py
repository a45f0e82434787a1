"""Events WeChat pushes (SPEC §10): verify, store once, acknowledge, hand to handlers.

Apps register handlers in ``AppConfig.ready()``::

    from portal import events

    @events.handler("card_pass_check")
    def on_pass(event): ...

The receiver answers WeChat as soon as the event is stored; handlers run in a Celery
task that claims the event with a conditional update, so a retried task or a
second worker never handles it twice. An event type nobody handles is stored,
acknowledged and marked "no handler" — never an error.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from wechat import xmlutil
from wechat.crypto import CryptoError, MessageCrypto
from wechat.signatures import check_server_signature

from .models import Merchant, WeChatEvent

log = logging.getLogger(__name__)

_HANDLERS: dict[str, list[Callable[[WeChatEvent], None]]] = defaultdict(list)
# Event types whose handlers are all quick database work: run in the receiving
# request (no broker hop), still well inside WeChat's 5 s.
_INLINE: set[str] = set()
# Handlers that read WeChat: never inside a transaction.
_OUTSIDE_TRANSACTION: set[Callable] = set()


class SignatureError(Exception):
    """The push is not from WeChat (or not for this merchant): answer 403."""


def handler(event_name: str, *, inline: bool = False, calls_wechat: bool = False):
    """Register ``fn(event)`` for an event type. ``inline=True``: the handler only
    touches the database and runs in the request that receives the push.
    ``calls_wechat=True``: the handler reads WeChat (a hint it checks), so it runs
    outside any transaction — no lock is held while WeChat answers — and keeps its
    own transactions."""

    def decorator(fn: Callable[[WeChatEvent], None]):
        if fn not in _HANDLERS[event_name]:
            _HANDLERS[event_name].append(fn)
        if inline:
            _INLINE.add(event_name)
        if calls_wechat:
            if inline:
                raise ValueError("a handler that calls WeChat cannot run inline")
            _OUTSIDE_TRANSACTION.add(fn)
        return fn

    return decorator


def handlers_for(event_name: str) -> list[Callable[[WeChatEvent], None]]:
    return list(_HANDLERS.get(event_name, ()))


def url_check(
    merchant: Merchant, *, signature: str, timestamp: str, nonce: str
) -> bool:
    """GET URL check: True when WeChat signed it with the merchant's token."""
    token = merchant.event_token
    return bool(token) and check_server_signature(token, timestamp, nonce, signature)


TIMESTAMP_WINDOW = 300  # seconds either side of now (SPEC §10)
LATEST_CREATE_TIME = 4_102_444_800  # 2100-01-01: beyond it a CreateTime is not a time


@dataclass(frozen=True)
class Keys:
    """What verifies a push (SPEC §8, §10): the token and EncodingAESKey, the appid
    an encrypted push must end with, whether plain pushes are accepted, and the
    scope its nonces are counted in.

    A merchant's own pushes use its keys; a provider's component endpoint and its
    sub-merchants' events use the provider's, with the component appid.
    """

    scope: str
    token: str = field(repr=False)
    encoding_aes_key: str = field(repr=False)
    appid: str
    plain_allowed: bool

    @classmethod
    def of_merchant(cls, merchant: Merchant) -> Keys:
        return cls(
            scope=str(merchant.pk),
            token=merchant.event_token,
            encoding_aes_key=merchant.encoding_aes_key,
            appid=merchant.appid,
            plain_allowed=merchant.event_mode == Merchant.EventMode.PLAIN,
        )

    @classmethod
    def of_provider(cls, provider) -> Keys:
        """Always safe mode; the trailing appid is the component appid."""
        return cls(
            scope=f"provider:{provider.pk}",
            token=provider.component_token,
            encoding_aes_key=provider.component_encoding_aes_key,
            appid=provider.component_appid,
            plain_allowed=False,
        )


def decode(target: Merchant | Keys, body: bytes, query) -> tuple[str, dict, bool]:
    """Verify and decode a push: ``(xml, parsed, encrypted)``.

    SPEC §10: a merchant in safe mode accepts only encrypted pushes verified by
    ``msg_signature``; plain ones only where it chose plain mode. The timestamp must
    be within 5 minutes of now, and a (timestamp, nonce) is accepted with one body
    only (WeChat's retries repeat the same body; a signed query string replayed with
    another body is refused). Raises SignatureError (403) or xmlutil.XMLError (400).
    ``target``: a merchant (its own keys) or the ``Keys`` to verify with.
    """
    keys = target if isinstance(target, Keys) else Keys.of_merchant(target)
    token = keys.token
    timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
    if not token:
        raise SignatureError("the receiver has no event token")
    if not _fresh(timestamp):
        raise SignatureError("timestamp outside the 5-minute window")
    encrypted = query.get("encrypt_type") == "aes"
    if not encrypted and not keys.plain_allowed:
        raise SignatureError("safe mode: plain push refused")
    if encrypted:
        if not keys.encoding_aes_key or not keys.appid:
            raise SignatureError("no EncodingAESKey for an encrypted push")
        xmlutil.parse(body)  # the envelope itself: UTF-8, no declarations
        try:
            crypto = MessageCrypto(token, keys.encoding_aes_key, keys.appid)
        except CryptoError:
            raise SignatureError("the stored EncodingAESKey is not usable") from None
        try:
            xml = crypto.decrypt_message(
                body,
                msg_signature=query.get("msg_signature", ""),
                timestamp=timestamp,
                nonce=nonce,
            )
        except CryptoError as exc:
            if exc.code == -40002:  # the envelope itself is not XML
                raise xmlutil.XMLError(str(exc)) from None
            raise SignatureError(f"crypto error {exc.code}") from None
    else:
        if not check_server_signature(
            token, timestamp, nonce, query.get("signature", "")
        ):
            raise SignatureError("bad signature")
        xml = body
    parsed = xmlutil.parse(xml)
    _create_time(parsed)
    _accept_nonce_once(keys.scope, timestamp, nonce, body)
    text = xml if isinstance(xml, str) else xml.decode("utf-8")
    return text, parsed, encrypted


def _fresh(timestamp: str) -> bool:
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return False
    return abs(time.time() - int(timestamp)) <= TIMESTAMP_WINDOW


def _create_time(parsed: dict) -> int:
    """WeChat's CreateTime (seconds): absent → 0; anything but a plausible time → 400."""
    value = parsed.get("CreateTime", "")
    if value in ("", None):
        return 0
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or int(text) > LATEST_CREATE_TIME:
        raise xmlutil.XMLError("CreateTime is not a time")
    return int(text)


def _accept_nonce_once(scope: str, timestamp: str, nonce: str, body) -> None:
    """One body per signed (timestamp, nonce), for as long as the timestamp is
    accepted (the shared cache: every web process sees it)."""
    raw = body if isinstance(body, bytes) else body.encode("utf-8")
    digest = hashlib.sha256(raw).hexdigest()
    key = (
        "wechat:push-nonce:"
        + hashlib.sha256(f"{scope}|{timestamp}|{nonce}".encode()).hexdigest()
    )
    if cache.add(key, digest, 2 * TIMESTAMP_WINDOW):
        return
    if cache.get(key) != digest:
        raise SignatureError("a signed query string replayed with another body")


# What tells one event from another of the same user and second (SPEC §10): the
# event's own ids and Status in the readable part, and a digest of every field —
# WeChat's retries repeat a push exactly, anything else is another event.
_KEY_FIELDS = (
    "CardId",
    "UserCardCode",
    "OrderId",
    "Status",
    "MsgId",
    "AuthorizerAppid",
)


def dedupe_key(parsed: dict) -> str:
    parts = [
        parsed.get("FromUserName", ""),
        str(parsed.get("CreateTime", "")),
        parsed.get("MsgType", ""),
        parsed.get("Event", ""),
        *(f"{f}={parsed[f]}" for f in _KEY_FIELDS if parsed.get(f)),
    ]
    canonical = json.dumps(parsed, sort_keys=True, ensure_ascii=False, default=str)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]
    return ("|".join(str(p) for p in parts)[:220] + "|" + digest)[:255]


def event_receive(
    *, merchant: Merchant, xml: str, parsed: dict, encrypted: bool
) -> tuple[WeChatEvent, bool]:
    """Store an event once; returns ``(event, created)``. A repeat of the same push
    (WeChat's retries) returns the stored event with ``created=False``."""
    try:
        create_time = _create_time(parsed)
    except xmlutil.XMLError:
        create_time = 0
    key = dedupe_key(parsed)
    inline = str(parsed.get("Event", "")) in _INLINE
    try:
        # Inline events are stored and handled in one transaction: one write burst
        # per push (SQLite serialises writers; a thousand pushes at once add up).
        with transaction.atomic():
            event = WeChatEvent.objects.create(
                merchant=merchant,
                event=str(parsed.get("Event", ""))[:64],
                msg_type=str(parsed.get("MsgType", ""))[:32],
                from_user=str(parsed.get("FromUserName", ""))[:64],
                create_time=create_time,
                dedupe_key=key,
                encrypted=encrypted,
                raw=xml,
                payload=parsed,
            )
            if inline:
                _process_inline(event.pk)
    except IntegrityError:
        return WeChatEvent.objects.get(merchant=merchant, dedupe_key=key), False
    if not inline:
        from .tasks import process_event

        transaction.on_commit(lambda: process_event.delay(event.pk))
    return event, True


def _process_inline(event_id: int) -> None:
    # Handlers run in savepoints: a failing one marks the event failed, and the
    # event itself is kept either way.
    try:
        with transaction.atomic():
            event_process(event_id)
    except Exception:
        log.exception("inline handling of event %s failed", event_id)


def event_process(event_id: int) -> str | None:
    """Run the handlers of one event, once: claimed by a conditional update.

    Returns the final status, or None when someone else holds the event.
    """
    claimed = WeChatEvent.objects.filter(
        pk=event_id, status=WeChatEvent.Status.RECEIVED
    ).update(status=WeChatEvent.Status.PROCESSING)
    if not claimed:
        return None
    event = WeChatEvent.objects.select_related("merchant").get(pk=event_id)
    handlers = handlers_for(event.event or event.msg_type)
    status, error = WeChatEvent.Status.HANDLED, ""
    if not handlers:
        status = WeChatEvent.Status.IGNORED
    for fn in handlers:
        try:
            if fn in _OUTSIDE_TRANSACTION:
                fn(event)
            else:
                with transaction.atomic():
                    fn(event)
        except Exception as exc:  # one bad handler must not lose the event
            log.exception("handler %s failed for event %s", fn.__name__, event_id)
            status, error = WeChatEvent.Status.FAILED, f"{fn.__name__}: {exc}"
    WeChatEvent.objects.filter(pk=event_id).update(
        status=status, error=error, handled_at=timezone.now()
    )
    return status


def events_redispatch(*, older_than: timedelta = timedelta(seconds=30)) -> int:
    """Re-enqueue events whose task was lost (stuck in received or processing)."""
    from .tasks import process_event

    now = timezone.now()
    WeChatEvent.objects.filter(
        status=WeChatEvent.Status.PROCESSING, received_at__lt=now - timedelta(minutes=5)
    ).update(status=WeChatEvent.Status.RECEIVED)
    stuck = list(
        WeChatEvent.objects.filter(
            status=WeChatEvent.Status.RECEIVED, received_at__lt=now - older_than
        ).values_list("pk", flat=True)[:500]
    )
    for pk in stuck:
        process_event.delay(pk)
    return len(stuck)
