"""Distribution's writes (SPEC §6): channels, QR codes, the test whitelist and the
campaign pages. Each leaves a ``DistributionEvent``; none calls WeChat inside a
transaction.

QR codes are recorded before ``card/qrcode/create`` is sent and finished with its
answer. WeChat cannot list the QR codes it made, so an answer that is lost cannot be
settled by reading: the client retries the call (it is safe to repeat), and when no
answer comes at all the QR code is recorded as not made. WeChat may then hold a QR
code the portal does not know, but nobody can scan it: the link inside a QR code
(``url``) is only ever handed out in the answer that was lost, and its ticket is
not guessable. Receives by a QR code made anywhere (the portal, WeChat's back office,
another tool) still count for their channel, by the OuterId / OuterStr they carry.
"""

from __future__ import annotations

import logging
import secrets
import string
from datetime import timedelta

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

import wechat
from cards.models import CardImage, CardStatus, FriendCard
from portal.models import Merchant
from wechat import errors as wx

from . import rules
from .models import (
    Campaign,
    Channel,
    ChannelSequence,
    DistributionEvent,
    QRCode,
    Whitelist,
)

log = logging.getLogger("distribution")

K = DistributionEvent.Kind
# A QR code still "asking WeChat" this long after it was sent: its sender died.
STUCK_AFTER = timedelta(seconds=60)
SLUG_ALPHABET = string.ascii_lowercase + string.digits
WHITELIST_LOCK_SECONDS = 60


def _event(merchant: Merchant, kind: str, actor=None, **fields) -> DistributionEvent:
    return DistributionEvent.objects.create(
        merchant=merchant, kind=kind, actor=actor, **fields
    )


def _actor(actor):
    return actor if getattr(actor, "pk", None) else None


# --- channels ------------------------------------------------------------------------
@transaction.atomic
def channel_create(*, merchant: Merchant, name: str, actor=None) -> Channel:
    """A new channel with the merchant's next outer_id (1, 2, 3 …, never reused).

    The id is taken by incrementing the merchant's ``ChannelSequence`` row: the
    UPDATE holds that row until this transaction ends, so a concurrent creation
    waits and then takes the next id. Raises ValidationError on ``name`` (empty,
    too long, or already a channel of this merchant)."""
    errors = rules.channel_name_errors(name)
    if errors:
        raise ValidationError(errors)
    name = name.strip()
    ChannelSequence.objects.get_or_create(merchant=merchant)
    ChannelSequence.objects.filter(merchant=merchant).update(
        last_outer_id=F("last_outer_id") + 1
    )
    outer_id = ChannelSequence.objects.values_list("last_outer_id", flat=True).get(
        merchant=merchant
    )
    try:
        with transaction.atomic():
            channel = Channel.objects.create(
                merchant=merchant,
                name=name,
                outer_id=outer_id,
                outer_str=rules.outer_str_for(outer_id),
                created_by=_actor(actor),
            )
    except IntegrityError:
        raise ValidationError(
            {"name": _("This merchant already has a channel with this name.")}
        ) from None
    _event(
        merchant,
        K.CHANNEL_CREATED,
        _actor(actor),
        channel=channel,
        details={"name": name, "outer_id": outer_id, "outer_str": channel.outer_str},
    )
    return channel


@transaction.atomic
def channel_rename(*, channel: Channel, name: str, actor=None) -> Channel:
    """Only the name changes: outer_id and outer_str are what past receives carry."""
    errors = rules.channel_name_errors(name)
    if errors:
        raise ValidationError(errors)
    name, old = name.strip(), channel.name
    if name == old:
        return channel
    try:
        with transaction.atomic():
            Channel.objects.filter(pk=channel.pk).update(name=name)
    except IntegrityError:
        raise ValidationError(
            {"name": _("This merchant already has a channel with this name.")}
        ) from None
    channel.name = name
    _event(
        channel.merchant,
        K.CHANNEL_RENAMED,
        _actor(actor),
        channel=channel,
        details={"from": old, "to": name},
    )
    return channel


# --- QR codes ------------------------------------------------------------------------
def whitelist_size(merchant: Merchant) -> int:
    found = Whitelist.objects.filter(merchant=merchant).first()
    return found.size if found else 0


def qrcode_input_errors(
    *,
    merchant: Merchant,
    card: FriendCard | None,
    channel: Channel | None,
    expire_seconds=None,
    is_unique_code: bool = False,
) -> tuple[int | None, dict[str, str]]:
    """(expire_seconds parsed, errors by field) for a QR code the merchant asks for."""
    errors: dict[str, str] = {}
    seconds, more = rules.parse_expire_seconds(expire_seconds)
    errors.update(more)
    if card is None or card.merchant_id != merchant.pk:
        errors["card"] = _("Choose one of this merchant's coupons.")
    else:
        now = timezone.now()
        errors.update(
            rules.qrcode_errors(
                submitted=card.is_submitted,
                approved=card.status == CardStatus.APPROVED,
                deleted=card.status == CardStatus.DELETED,
                ended=card.end_at is not None and card.end_at <= now,
                quantity=card.quantity,
                whitelist_size=whitelist_size(merchant),
                is_unique_code=bool(is_unique_code),
            )
        )
    if channel is None or channel.merchant_id != merchant.pk:
        errors["channel"] = _("Choose one of this merchant's channels.")
    return seconds, errors


# Words for errcodes on this path, where the general table's words are about codes.
_QRCODE_REFUSALS = {
    wx.E.CODE_DELETED_OR_GIFTING: (
        "card",
        gettext_lazy(
            "WeChat says this coupon cannot be handed out: it is deleted, or not "
            "approved and the account has no test whitelist."
        ),
    ),
    wx.E.INVALID_TIME: ("card", gettext_lazy("WeChat says this coupon has ended.")),
    wx.E.INVALID_CARD_ID: ("card", gettext_lazy("WeChat does not know this coupon.")),
    wx.E.NO_STOCK: (
        "is_unique_code",
        gettext_lazy("WeChat says this coupon has no stock left: buy stock first."),
    ),
}


def qrcode_refusal(errcode: int | None) -> tuple[str | None, str]:
    """(field, words) for WeChat's refusal of a QR code, in the current language."""
    known = _QRCODE_REFUSALS.get(errcode)
    if known is not None:
        return known[0], str(known[1])
    return None, wx.WeChatError(errcode).message


def qrcode_problem(qr: QRCode) -> str:
    """Why a QR code was not made, in the reader's language ("" when it was)."""
    if qr.status == QRCode.Status.SENDING:
        return ""
    if qr.answer_lost:
        return _(
            "WeChat did not answer, so no QR code was made that anyone could scan. "
            "Make it again."
        )
    if qr.status == QRCode.Status.FAILED:
        return qrcode_refusal(qr.errcode)[1]
    return ""


def qrcode_create(
    *,
    merchant: Merchant,
    card: FriendCard | None,
    channel: Channel | None,
    expire_seconds=None,
    is_unique_code: bool = False,
    actor=None,
) -> QRCode:
    """``card/qrcode/create`` (QR_CARD, SPEC §6) for ``card`` and ``channel`` →
    the QR code, ready to print.

    Bad input raises ValidationError by field and writes nothing. The QR code is
    recorded before WeChat is called; a refusal raises ValidationError (on the
    field it belongs to) and leaves it "not made" with the errcode; a lost answer
    leaves it "not made" too (see the module's docstring) and raises
    ValidationError without a field."""
    seconds, errors = qrcode_input_errors(
        merchant=merchant,
        card=card,
        channel=channel,
        expire_seconds=expire_seconds,
        is_unique_code=is_unique_code,
    )
    if errors:
        raise ValidationError(errors)
    actor = _actor(actor)
    now = timezone.now()
    with transaction.atomic():
        qr = QRCode.objects.create(
            merchant=merchant,
            card=card,
            channel=channel,
            expire_seconds=seconds,
            is_unique_code=bool(is_unique_code),
            for_testing=card.status != CardStatus.APPROVED,
            status=QRCode.Status.SENDING,
            created_by=actor,
            sent_at=now,
        )
        _event(merchant, K.QRCODE_SENT, actor, qrcode=qr, channel=channel)
    try:
        answer = wechat.for_merchant(merchant).card.qrcode_create(
            card.card_id,
            expire_seconds=seconds,
            is_unique_code=bool(is_unique_code),
            outer_id=channel.outer_id,
            outer_str=channel.outer_str,
        )
    except wx.TransportError as exc:
        _qrcode_lost(qr, actor, str(exc.errmsg))
        raise ValidationError(qrcode_problem(qr)) from None
    except wx.WeChatError as exc:
        with transaction.atomic():
            QRCode.objects.filter(pk=qr.pk).update(
                status=QRCode.Status.FAILED,
                errcode=exc.errcode,
                answered_at=timezone.now(),
            )
            _event(
                merchant,
                K.QRCODE_REFUSED,
                actor,
                qrcode=qr,
                channel=channel,
                wechat_answer={"errcode": exc.errcode},
            )
        field, words = qrcode_refusal(exc.errcode)
        raise ValidationError({field: words} if field else words) from None
    # Applied whatever the state: a success that arrives late still counts.
    with transaction.atomic():
        QRCode.objects.filter(pk=qr.pk).update(
            status=QRCode.Status.READY,
            ticket=answer.ticket,
            url=answer.url,
            show_qrcode_url=answer.show_qrcode_url,
            errcode=None,
            answer_lost=False,
            answered_at=timezone.now(),
            # Counted from when it was sent: never shown valid after WeChat's end.
            expires_at=now + timedelta(seconds=seconds) if seconds else None,
        )
        _event(
            merchant,
            K.QRCODE_READY,
            actor,
            qrcode=qr,
            channel=channel,
            wechat_answer={"expire_seconds": answer.expire_seconds},
        )
    qr.refresh_from_db()
    return qr


def _qrcode_lost(qr: QRCode, actor, what: str) -> None:
    with transaction.atomic():
        changed = QRCode.objects.filter(pk=qr.pk, status=QRCode.Status.SENDING).update(
            status=QRCode.Status.FAILED, answer_lost=True, answered_at=timezone.now()
        )
        if changed:
            _event(
                qr.merchant,
                K.QRCODE_LOST,
                actor,
                qrcode=qr,
                channel_id=qr.channel_id,
                details={"transport": what},
            )
    qr.refresh_from_db()


def qrcodes_fail_stuck(*, limit: int = 200) -> int:
    """QR codes still asking WeChat long after they were sent (their web process
    died mid-call) are recorded as not made; returns how many."""
    due = QRCode.objects.filter(
        status=QRCode.Status.SENDING, sent_at__lt=timezone.now() - STUCK_AFTER
    ).select_related("merchant")[:limit]
    done = 0
    for qr in due:
        _qrcode_lost(qr, None, "no answer recorded")
        done += qr.answer_lost
    return done


# --- the test whitelist ----------------------------------------------------------------
def whitelist_set(*, merchant: Merchant, openids, usernames, actor=None) -> Whitelist:
    """Replace the whole test whitelist (``card/testwhitelist/set``, SPEC §6).

    Bad input raises ValidationError by field and sends nothing. The local list
    changes only when WeChat confirmed it; a lost answer marks it in doubt (WeChat
    holds the old list or the new one: sending the list again settles it, since a
    replacement can be repeated). One replacement at a time per merchant."""
    ids, names, errors = rules.whitelist_clean(openids, usernames)
    if errors:
        raise ValidationError(errors)
    actor = _actor(actor)
    lock = f"distribution:whitelist:{merchant.pk}"
    if not cache.add(lock, 1, WHITELIST_LOCK_SECONDS):
        raise ValidationError(
            _(
                "Another change of the test whitelist is on its way. Try again in a moment."
            )
        )
    try:
        previous = Whitelist.objects.filter(merchant=merchant).first()
        before = {
            "openids": list(previous.openids) if previous else [],
            "usernames": list(previous.usernames) if previous else [],
        }
        sent = {"openids": ids, "usernames": names}
        try:
            wechat.for_merchant(merchant).card.testwhitelist_set(
                openids=ids, usernames=names
            )
        except wx.TransportError:
            with transaction.atomic():
                Whitelist.objects.update_or_create(
                    merchant=merchant, defaults={"in_doubt": True}
                )
                _event(
                    merchant,
                    K.WHITELIST_LOST,
                    actor,
                    details={**sent, "before": before},
                )
            raise ValidationError(
                _(
                    "WeChat did not answer: it holds either the old list or this one. "
                    "Save again to be sure."
                )
            ) from None
        except wx.WeChatError as exc:
            _event(
                merchant,
                K.WHITELIST_REFUSED,
                actor,
                details=sent,
                wechat_answer={"errcode": exc.errcode},
            )
            if exc.errcode == wx.E.INVALID_JSON:  # WeChat's answer to more than 10
                raise ValidationError(
                    {
                        "openids": _(
                            "WeChat refused the list: at most %(max)d test users in "
                            "all."
                        )
                        % {"max": rules.WHITELIST_MAX}
                    }
                ) from None
            raise ValidationError(exc.message) from None
        with transaction.atomic():
            whitelist, _created = Whitelist.objects.update_or_create(
                merchant=merchant,
                defaults={
                    "openids": ids,
                    "usernames": names,
                    "in_doubt": False,
                    "updated_by": actor,
                },
            )
            _event(merchant, K.WHITELIST_SET, actor, details={**sent, "before": before})
        return whitelist
    finally:
        cache.delete(lock)


# --- campaign pages -------------------------------------------------------------------
def _new_slug() -> str:
    return "".join(secrets.choice(SLUG_ALPHABET) for _ in range(10))


def campaign_input_errors(
    *, merchant: Merchant, title: str, channel: Channel | None, cards, banner
) -> dict[str, str]:
    errors: dict[str, str] = {}
    title = (title or "").strip()
    if not title:
        errors["title"] = _("Give the page a title.")
    elif len(title) > rules.CAMPAIGN_TITLE_MAX:
        errors["title"] = _("At most %(n)d characters.") % {
            "n": rules.CAMPAIGN_TITLE_MAX
        }
    if channel is None or channel.merchant_id != merchant.pk:
        errors["channel"] = _("Choose one of this merchant's channels.")
    cards = list(cards or [])
    if not cards:
        errors["cards"] = _("Choose at least one approved coupon.")
    elif any(
        c.merchant_id != merchant.pk or c.status != CardStatus.APPROVED for c in cards
    ):
        errors["cards"] = _("Only this merchant's approved coupons can be on the page.")
    if banner is not None and (
        not isinstance(banner, CardImage) or banner.merchant_id != merchant.pk
    ):
        errors["banner"] = _("Upload the banner again.")
    return errors


@transaction.atomic
def campaign_save(
    *,
    merchant: Merchant,
    campaign: Campaign | None = None,
    title: str,
    channel: Channel | None,
    cards,
    banner: CardImage | None = None,
    active: bool = True,
    actor=None,
) -> Campaign:
    """Create or change a campaign page; its address (slug) is made once, at random.
    Raises ValidationError by field and writes nothing when the input is wrong."""
    cards = list(cards or [])
    errors = campaign_input_errors(
        merchant=merchant, title=title, channel=channel, cards=cards, banner=banner
    )
    if campaign is not None and campaign.merchant_id != merchant.pk:
        errors["__all__"] = _("This page belongs to another merchant.")
    if errors:
        raise ValidationError(errors)
    fields = {
        "title": title.strip(),
        "channel": channel,
        "banner": banner,
        "active": bool(active),
    }
    if campaign is None:
        for attempt in range(5):
            try:
                with transaction.atomic():
                    campaign = Campaign.objects.create(
                        merchant=merchant,
                        slug=_new_slug(),
                        created_by=_actor(actor),
                        **fields,
                    )
                break
            except IntegrityError:  # the slug was taken: draw another
                if attempt == 4:
                    raise
    else:
        for name, value in fields.items():
            setattr(campaign, name, value)
        campaign.save()
    campaign.cards.set(cards)
    _event(
        merchant,
        K.CAMPAIGN_SAVED,
        _actor(actor),
        campaign=campaign,
        channel=channel,
        details={
            "title": fields["title"],
            "cards": [c.card_id for c in cards],
            "active": fields["active"],
        },
    )
    return campaign
