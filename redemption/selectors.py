"""Redemption's reads for the merchant (SPEC §7, issue 10 §6): the history of every
attempt, today's counts, a card's codes, the stores a cashier may see.

Every function takes the merchant and scopes to it: another merchant's rows are
never read. Pages seek on the (merchant, created_at, id) index (keyset), so the
100 000th attempt costs what the first does, and no page counts the whole history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core import signing
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from cards.models import FriendCard
from portal.models import Membership, Merchant, Store
from portal.roles import Role

from .models import Code, CodeEvent, CodeStatus, RedemptionAttempt, TillKey

A = RedemptionAttempt.Outcome
PAGE_SIZE = 50


class InvalidCursor(ValueError):
    """A page link whose ``after`` was not made by this portal for this merchant."""


# --- who sees which stores ----------------------------------------------------------
@dataclass(frozen=True)
class StoreScope:
    """The stores a user's history covers: ``None`` = every store of the merchant
    (and the attempts made at no store: online ones); otherwise only these ids."""

    store_ids: frozenset[int] | None = None

    @property
    def everything(self) -> bool:
        return self.store_ids is None


def store_scope(*, merchant: Merchant, user, role: str | None) -> StoreScope:
    """A cashier sees the history of their stores (Membership.stores; none bound =
    every store, as at the till). Everyone else who may redeem sees it all."""
    if role != Role.CASHIER:
        return StoreScope()
    ids = frozenset(
        Membership.stores.through.objects.filter(
            membership__merchant=merchant, membership__user=user
        ).values_list("store_id", flat=True)
    )
    return StoreScope(ids or None)


def visible_stores(*, merchant: Merchant, scope: StoreScope) -> QuerySet:
    stores = Store.objects.filter(merchant=merchant).order_by("name")
    if not scope.everything:
        stores = stores.filter(pk__in=scope.store_ids)
    return stores


# --- the history ---------------------------------------------------------------------
@dataclass(frozen=True)
class HistoryFilters:
    begin: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive
    store_id: int | None = None
    user_id: int | None = None
    api_key_id: int | None = None
    channel: str = ""
    card_id: int | None = None
    outcome: str = ""
    reason: str = ""
    code: str = ""


def day_bounds(day: date | None, *, next_day: bool = False) -> datetime | None:
    """Local midnight of ``day`` (or of the day after) in the current time zone —
    the merchant's, activated per request."""
    if day is None:
        return None
    day += timedelta(days=1 if next_day else 0)
    return timezone.make_aware(datetime.combine(day, time.min))


def history_queryset(
    *, merchant: Merchant, filters: HistoryFilters, scope: StoreScope = StoreScope()
) -> QuerySet:
    """The merchant's attempts matching ``filters``, newest first, with what a row
    shows joined in (card, store, cashier, device): no query per row."""
    rows = RedemptionAttempt.objects.filter(merchant=merchant)
    if not scope.everything:
        rows = rows.filter(store_id__in=scope.store_ids)
    f = filters
    if f.begin:
        rows = rows.filter(created_at__gte=f.begin)
    if f.end:
        rows = rows.filter(created_at__lt=f.end)
    for field, value in (
        ("store_id", f.store_id),
        ("user_id", f.user_id),
        ("api_key_id", f.api_key_id),
        ("card_id", f.card_id),
    ):
        if value is not None:
            rows = rows.filter(**{field: value})
    for field, value in (
        ("channel", f.channel),
        ("outcome", f.outcome),
        ("reason", f.reason),
        ("code", f.code),
    ):
        if value:
            rows = rows.filter(**{field: value})
    return (
        rows.select_related("card", "store", "user", "api_key")
        .defer(
            "wechat_answer",
            "card__definition",
            "card__synced_definition",
            "card__last_error",
        )
        .order_by("-created_at", "-id")
    )


def _signer(merchant: Merchant) -> signing.Signer:
    return signing.Signer(salt=f"redemption.history.{merchant.pk}")


def encode_cursor(attempt: RedemptionAttempt) -> str:
    """The keyset position after ``attempt``, signed: a page link cannot be forged
    or carried to another merchant."""
    return _signer(attempt.merchant).sign(
        f"{attempt.created_at.isoformat()}|{attempt.pk}"
    )


def decode_cursor(cursor: str, *, merchant: Merchant) -> tuple[datetime, int]:
    try:
        when, pk = _signer(merchant).unsign(cursor).rsplit("|", 1)
        return datetime.fromisoformat(when), int(pk)
    except (signing.BadSignature, ValueError):
        raise InvalidCursor(cursor) from None


def history_page(
    *,
    merchant: Merchant,
    filters: HistoryFilters,
    scope: StoreScope = StoreScope(),
    after: str = "",
    size: int = PAGE_SIZE,
) -> tuple[list[RedemptionAttempt], str | None]:
    """One page of the history after the keyset ``after``, and the next cursor."""
    rows = history_queryset(merchant=merchant, filters=filters, scope=scope)
    if after:
        when, pk = decode_cursor(after, merchant=merchant)
        rows = rows.filter(Q(created_at__lt=when) | Q(created_at=when, id__lt=pk))
    page = list(rows[: size + 1])
    for row in page:
        row.merchant = merchant  # the cursor's signer; no query
    next_cursor = encode_cursor(page[size - 1]) if len(page) > size else None
    return page[:size], next_cursor


def history_is_empty(*, merchant: Merchant, scope: StoreScope = StoreScope()) -> bool:
    """No attempt at all (the empty state), as opposed to none matching filters."""
    rows = RedemptionAttempt.objects.filter(merchant=merchant)
    if not scope.everything:
        rows = rows.filter(store_id__in=scope.store_ids)
    return not rows.exists()


def consumed_elsewhere(
    *, merchant: Merchant, filters: HistoryFilters, limit: int = 20
) -> list[CodeEvent]:
    """Codes of the merchant consumed outside this portal (WeChat's back office, the
    helper app) — no attempt of ours exists for them — newest first."""
    events = CodeEvent.objects.filter(
        code__merchant=merchant, kind=CodeEvent.Kind.CONSUMED_ELSEWHERE
    )
    if filters.begin:
        events = events.filter(at__gte=filters.begin)
    if filters.end:
        events = events.filter(at__lt=filters.end)
    if filters.card_id is not None:
        events = events.filter(code__card_id=filters.card_id)
    if filters.code:
        events = events.filter(code__code=filters.code)
    return list(
        events.select_related("code", "code__card")
        .defer("code__card__definition", "code__card__synced_definition")
        .order_by("-at", "-id")[:limit]
    )


def who_label(attempt: RedemptionAttempt) -> str:
    """Who asked: the cashier, the device (API key name) or the customer's openid."""
    if attempt.api_key_id and attempt.api_key is not None:
        return attempt.api_key.name
    if attempt.user_id and attempt.user is not None:
        return attempt.user.get_username()
    return attempt.openid or "—"


def who_choices(*, merchant: Merchant) -> list[tuple[str, str]]:
    """The cashier/device filter's choices: ``u<id>`` for a member, ``k<id>`` for an
    API key of the merchant."""
    users = (
        Membership.objects.filter(merchant=merchant)
        .select_related("user")
        .order_by("user__username")
    )
    keys = TillKey.objects.filter(merchant=merchant).order_by("name")
    return [
        *((f"u{m.user_id}", m.user.get_username()) for m in users),
        *((f"k{k.pk}", f"{k.name} ({k.prefix}…)") for k in keys),
    ]


# --- today ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TodayCounts:
    count: int
    by_store: list[tuple[str, int]]
    by_who: list[tuple[str, int, str]]  # (label, count, channel)
    elsewhere: int
    day: date


def today_counts(
    merchant: Merchant,
    *,
    scope: StoreScope = StoreScope(),
    store: Store | None = None,
    now=None,
) -> TodayCounts:
    """Today's redemptions (local day of the merchant's time zone): how many codes
    were consumed through the portal, per store and per cashier/device, and how many
    were consumed elsewhere (WeChat's back office, the helper app). Three grouped
    queries, whatever the number of rows. ``store``: one store's only (a till);
    ``scope``: the stores a cashier may see."""
    now = timezone.localtime(now or timezone.now())
    day = now.date()
    begin, end = day_bounds(day), day_bounds(day, next_day=True)
    consumed = RedemptionAttempt.objects.filter(
        merchant=merchant, outcome=A.CONSUMED, created_at__gte=begin, created_at__lt=end
    )
    if not scope.everything:
        consumed = consumed.filter(store_id__in=scope.store_ids)
    if store is not None:
        consumed = consumed.filter(store=store)
    by_store = [
        (row["store__name"] or "", row["n"])
        for row in consumed.values("store__name").annotate(n=Count("id")).order_by("-n")
    ]
    by_who = []
    for row in (
        consumed.values("api_key__name", "user__username", "channel")
        .annotate(n=Count("id"))
        .order_by("-n")
    ):
        label = row["api_key__name"] or row["user__username"] or ""
        by_who.append((label, row["n"], row["channel"]))
    elsewhere = 0
    if scope.everything and store is None:
        elsewhere = CodeEvent.objects.filter(
            code__merchant=merchant,
            kind=CodeEvent.Kind.CONSUMED_ELSEWHERE,
            at__gte=begin,
            at__lt=end,
        ).count()
    return TodayCounts(
        count=sum(n for _label, n in by_store),
        by_store=by_store,
        by_who=by_who,
        elsewhere=elsewhere,
        day=day,
    )


# --- a card's codes ------------------------------------------------------------------
@dataclass(frozen=True)
class CardCodes:
    issued: int
    by_status: list[tuple[str, str, int]]  # (status, label, count)
    through_portal: int
    elsewhere: int
    refused: int
    latest: list[Code]


def card_codes(*, merchant: Merchant, card: FriendCard, limit: int = 10) -> CardCodes:
    """A card's codes: how many were issued, how many stand in each status, how the
    consumed ones were redeemed (through this portal or elsewhere), the attempts
    refused, and the latest codes."""
    codes = Code.objects.filter(merchant=merchant, card=card)
    counts = dict(
        codes.values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    attempts = RedemptionAttempt.objects.filter(merchant=merchant, card=card)
    figures = attempts.aggregate(
        portal=Count("id", filter=Q(outcome=A.CONSUMED)),
        refused=Count("id", filter=Q(outcome=A.REFUSED)),
    )
    elsewhere = CodeEvent.objects.filter(
        code__merchant=merchant, code__card=card, kind=CodeEvent.Kind.CONSUMED_ELSEWHERE
    ).count()
    latest = list(
        codes.order_by("-received_at", "-id").only(
            "code",
            "status",
            "outer_id",
            "outer_str",
            "received_at",
            "consumed_at",
            "consume_source",
            "given_by_friend",
        )[:limit]
    )
    return CardCodes(
        issued=sum(counts.values()),
        by_status=[
            (value, str(label), counts[value])
            for value, label in CodeStatus.choices
            if counts.get(value)
        ],
        through_portal=figures["portal"],
        elsewhere=elsewhere,
        refused=figures["refused"],
        latest=latest,
    )
