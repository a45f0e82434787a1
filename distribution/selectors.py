"""Distribution's reads: channel figures from the receives (redemption's codes), QR
codes per card, campaign pages and their coupons."""

from __future__ import annotations

import threading
import time
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cards.models import CardStatus, FriendCard
from portal.models import Merchant
from redemption.models import Code, CodeStatus

from . import rules
from .models import Campaign, Channel, QRCode, Whitelist


@dataclass(frozen=True)
class ChannelFigures:
    """One line of a channel table: who came by this channel and what they did."""

    label: str
    channel: Channel | None
    received: int
    consumed: int
    by_friends: int

    @property
    def rate(self) -> Decimal | None:
        return rules.consumption_rate(self.received, self.consumed)

    @property
    def key(self) -> str:
        """The channel's outer_id, or none / other / all."""
        if self.channel is not None:
            return str(self.channel.outer_id)
        return self.kind

    kind: str = ""


def _grouped(codes) -> list[dict]:
    return list(
        codes.values("outer_id", "outer_str").annotate(
            received=Count("pk"),
            consumed=Count("pk", filter=Q(status=CodeStatus.CONSUMED)),
            by_friends=Count("pk", filter=Q(given_by_friend=True)),
        )
    )


def _attribute(groups: list[dict], channels: list[Channel]) -> dict:
    """Sum grouped receives into {channel pk | NO_CHANNEL | OTHER_CHANNEL: [r, c, f]}."""
    by_id = {c.outer_id: c.pk for c in channels}
    by_str = {c.outer_str: c.pk for c in channels}
    totals: dict = {}
    for group in groups:
        key = rules.channel_of(
            group["outer_id"],
            group["outer_str"] or "",
            by_outer_id=by_id,
            by_outer_str=by_str,
        )
        line = totals.setdefault(key, [0, 0, 0])
        line[0] += group["received"]
        line[1] += group["consumed"]
        line[2] += group["by_friends"]
    return totals


def channel_figures(*, merchant: Merchant, card: FriendCard) -> list[ChannelFigures]:
    """Per channel of the merchant, the card's receives, redemptions and receives
    from friends (IsGiveByFriend), then receives without a channel and by channels
    the merchant does not have; a channel with no receive is listed with zeros.
    One grouped query over the card's codes."""
    channels = list(Channel.objects.filter(merchant=merchant).order_by("outer_id"))
    totals = _attribute(
        _grouped(Code.objects.filter(merchant=merchant, card=card)), channels
    )
    rows = [ChannelFigures(c.name, c, *totals.get(c.pk, (0, 0, 0))) for c in channels]
    for key, label in (
        (rules.NO_CHANNEL, _("No channel")),
        (rules.OTHER_CHANNEL, _("Other (not a channel of yours)")),
    ):
        if key in totals:
            rows.append(ChannelFigures(label, None, *totals[key], kind=key))
    return rows


def figures_total(rows: list[ChannelFigures]) -> ChannelFigures:
    return ChannelFigures(
        _("All channels"),
        None,
        sum(r.received for r in rows),
        sum(r.consumed for r in rows),
        sum(r.by_friends for r in rows),
        kind="all",
    )


def channel_totals(*, merchant: Merchant) -> dict[int, tuple[int, int]]:
    """{channel pk: (received, redeemed)} over all the merchant's cards."""
    channels = list(Channel.objects.filter(merchant=merchant))
    totals = _attribute(_grouped(Code.objects.filter(merchant=merchant)), channels)
    return {
        key: (line[0], line[1]) for key, line in totals.items() if isinstance(key, int)
    }


def card_qrcodes(*, merchant: Merchant, card: FriendCard, limit: int = 50):
    return (
        QRCode.objects.filter(merchant=merchant, card=card)
        .select_related("channel")
        .order_by("-created_at", "-pk")[:limit]
    )


def qrcode_state(qr: QRCode, now: datetime | None = None) -> str:
    """ready, expired, sending or failed: an expiring QR code's end is checked on
    read (the deadline is in the database)."""
    if (
        qr.status == QRCode.Status.READY
        and qr.expires_at is not None
        and qr.expires_at <= (now or timezone.now())
    ):
        return "expired"
    return qr.status


_TONES = {"ready": "tone-ok", "sending": "tone-warn", "failed": "tone-bad"}


def qrcode_tone(state: str) -> str:
    """The design system's badge tone for a QR code's state."""
    return _TONES.get(state, "tone-muted")


def qrcode_state_label(state: str) -> str:
    if state == "expired":
        return _("Expired")
    return str(QRCode.Status(state).label)


def whitelist_of(merchant: Merchant) -> Whitelist | None:
    return Whitelist.objects.filter(merchant=merchant).first()


def merchant_zone(merchant: Merchant) -> zoneinfo.ZoneInfo:
    """The merchant's time zone (its dates on public pages), else TIME_ZONE."""
    for name in (getattr(merchant, "time_zone", ""), settings.TIME_ZONE):
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
            continue
    return zoneinfo.ZoneInfo("UTC")


def receivable_from(card: FriendCard, now: datetime | None = None) -> datetime | None:
    """When customers may start receiving ``card`` (SPEC §3.6), if not yet."""
    return rules.receivable_from(card.begin_at, now or timezone.now())


# The campaign page is what a queue of customers scanning one poster opens: its
# campaign and coupons are read once per PAGE_TTL seconds per process, not once per
# customer (bench/distribution.py: the page then costs about what /api/ping does).
# Any save of a campaign, card, channel or merchant in this process drops the
# snapshot at once; a change another process makes (or a queryset .update()) shows
# within PAGE_TTL. Only the reads are shared: every request is signed on its own.
PAGE_TTL = 2.0
_PAGES: dict[str, tuple[float, Campaign | None, list[FriendCard]]] = {}
_PAGES_LOCK = threading.Lock()
_PAGES_MAX = 1000


def campaign_page(slug: str) -> tuple[Campaign | None, list[FriendCard]]:
    """The open campaign ``slug`` and the coupons customers can still receive on
    it (campaign_public, campaign_cards), as of at most PAGE_TTL seconds ago."""
    now = time.monotonic()
    held = _PAGES.get(slug)
    if held is not None and now - held[0] < PAGE_TTL:
        return held[1], held[2]
    campaign = campaign_public(slug)
    cards = campaign_cards(campaign) if campaign is not None else []
    with _PAGES_LOCK:
        if len(_PAGES) >= _PAGES_MAX:
            _PAGES.clear()
        _PAGES[slug] = (now, campaign, cards)
    return campaign, cards


def forget_pages(**_kwargs) -> None:
    """Drop every held campaign page (a signal receiver: something they show changed)."""
    with _PAGES_LOCK:
        _PAGES.clear()


def campaign_public(slug: str) -> Campaign | None:
    """An open campaign page by its address, with its merchant, channel and banner."""
    return (
        Campaign.objects.select_related("merchant", "channel", "banner")
        .filter(slug=slug, active=True)
        .first()
    )


def campaign_cards(campaign: Campaign, now: datetime | None = None) -> list[FriendCard]:
    """The page's coupons customers can still receive: approved, not ended."""
    now = now or timezone.now()
    return list(
        campaign.cards.filter(merchant_id=campaign.merchant_id)
        .filter(status=CardStatus.APPROVED)
        .exclude(end_at__lte=now)
        .order_by("pk")
    )
