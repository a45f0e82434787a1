"""Reads for providers: who may use which provider, its state in words, and the
console's page of sub-merchants (SPEC §8).

The console is built for hundreds of sub-merchants: a page costs a fixed number
of queries whatever the number of merchants (the page's ids first — filtered and
sorted in the database — then the figures of those ids only), written in SQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import (
    Q,
    QuerySet,
)
from django.http import Http404
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from cards.models import CardFigures, CardStatus, FriendCard
from wechat import errors as wx

from ..models import Merchant, Provider, ProviderEvent, ProviderStaff, WeChatEvent
from . import services

A = Merchant.Authorization
PAGE_SIZE = 50
TICKET_VALID = timedelta(hours=12)
CONSUMED = "user_consume_card"


def low_balance() -> Decimal:
    return Decimal(getattr(settings, "PROVIDER_LOW_BALANCE_COINS", 50))


def low_stock() -> int:
    return int(getattr(settings, "PROVIDER_LOW_STOCK_UNITS", 10))


EXPIRING_DAYS = 7


# --- who ---------------------------------------------------------------------------
def providers_for(*, user) -> QuerySet[Provider]:
    """The providers ``user`` works for (every one for the platform operator)."""
    if not user.is_authenticated or not user.is_active:
        return Provider.objects.none()
    if user.is_superuser:
        return Provider.objects.all()
    return Provider.objects.filter(staff__user=user).distinct()


def provider_memberships(*, user) -> dict[int, tuple[Provider, bool]]:
    """The providers ``user`` works for, by id and by name, each with whether the
    user is one of its owners (the platform operator owns every one): one query.

    On every provider page: written in SQL (the ORM spent more building this
    statement than the database spent answering it)."""
    if not user.is_authenticated or not user.is_active:
        return {}
    if user.is_superuser:
        return {p.pk: (p, True) for p in Provider.objects.order_by("name")}
    staff = Provider.objects.raw(
        f"SELECT p.*, s.role AS staff_role FROM {_PROVIDER} p "  # noqa: S608
        f"JOIN {_PROVIDER_STAFF} s ON s.provider_id = p.id "
        "WHERE s.user_id = %s ORDER BY p.name, p.id",
        [user.pk],
    )
    return {p.pk: (p, p.staff_role == ProviderStaff.Role.OWNER) for p in staff}


def provider_for(*, user, provider_id: int | None = None) -> Provider:
    """The provider the user acts for (the one asked for, else the first by
    name); 404 when the user works for none, or not for that one."""
    providers = providers_for(user=user)
    if provider_id is not None:
        provider = providers.filter(pk=provider_id).first()
    else:
        provider = providers.order_by("name").first()
    if provider is None:
        raise Http404
    return provider


def is_provider_owner(*, user, provider: Provider) -> bool:
    if user.is_superuser:
        return True
    return ProviderStaff.objects.filter(
        user=user, provider=provider, role=ProviderStaff.Role.OWNER
    ).exists()


def sub_merchant(*, provider: Provider, merchant_id: int) -> Merchant:
    """One of the provider's sub-merchants, or 404 (another provider's looks the
    same as none)."""
    merchant = Merchant.objects.filter(provider=provider, pk=merchant_id).first()
    if merchant is None:
        raise Http404
    return merchant


# --- states in words ---------------------------------------------------------------
def merchant_state_words(merchant: Merchant) -> str:
    """Why nothing may be done for the merchant, and what to do ("" when active)."""
    if merchant.authorization == A.REVOKED:
        return wx.AuthorizationRevoked().message
    if merchant.authorization == A.REAUTHORIZE:
        return str(wx.MESSAGES[61023])
    if merchant.authorization == A.INSUFFICIENT:
        return services.permissions_words(merchant.func_ids)
    return ""


@dataclass(frozen=True)
class ProviderStatus:
    ok: bool
    code: str  # configured | not_configured | waiting_for_ticket | ticket_old | errcode
    message: str


def provider_status(
    provider: Provider, *, now: datetime | None = None
) -> ProviderStatus:
    """The provider's own state at WeChat, in words (the console's first alert)."""
    now = now or timezone.now()
    if not provider.is_configured:
        return ProviderStatus(
            False, "not_configured", wx.ComponentNotConfigured().message
        )
    if provider.problem_errcode:
        return ProviderStatus(
            False,
            str(provider.problem_errcode),
            wx.WeChatError(provider.problem_errcode).message,
        )
    if provider.ticket_received_at is None:
        return ProviderStatus(
            False, "waiting_for_ticket", wx.ComponentTicketMissing().message
        )
    if provider.ticket_received_at + TICKET_VALID < now:
        return ProviderStatus(
            False,
            "ticket_old",
            _(
                "WeChat's latest ticket is more than 12 hours old: check that "
                "WeChat can reach the authorization event URL."
            ),
        )
    return ProviderStatus(True, "configured", _("Connected to WeChat's open platform."))


# --- the console ---------------------------------------------------------------------
SORTS = {
    "name": ("name",),
    "-name": ("-name",),
    "state": ("authorization", "name"),
    "balance": ("balance", "name"),
    "-balance": ("-balance", "name"),
    "review": ("in_review", "name"),
    "-review": ("-in_review", "name"),
    "stock": ("stock", "name"),
    "-stock": ("-stock", "name"),
    "redemptions": ("redemptions_week", "name"),
    "-redemptions": ("-redemptions_week", "name"),
    "last_event": ("last_event_at", "name"),
    "-last_event": ("-last_event_at", "name"),
}
ALERTS = ("rejected", "low_balance", "low_stock", "expiring", "token")


def _periods(now: datetime) -> tuple[datetime, datetime]:
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return today, today - timedelta(days=today.weekday())


@dataclass
class Row:
    merchant: SubMerchant
    state_words: str = ""
    balance: Decimal | None = None
    coins_open: bool = False
    in_review: int = 0
    approved: int = 0
    rejected: int = 0
    stock: int = 0
    expiring: int = 0
    low_stock: bool = False  # an approved coupon under the threshold
    redemptions_today: int = 0
    redemptions_week: int = 0
    last_event: str = ""
    last_event_at: datetime | None = None
    alerts: list[str] = field(default_factory=list)


@dataclass
class ConsolePage:
    rows: list[Row]
    page: object  # django Page
    total: int
    alert_counts: dict[str, int]
    state_counts: dict[str, int]


def console_page(
    *,
    provider: Provider,
    q: str = "",
    state: str = "",
    alert: str = "",
    sort: str = "name",
    page: int | str = 1,
    now: datetime | None = None,
) -> ConsolePage:
    """One page of the provider's sub-merchants with their figures and alerts.

    Five statements whatever the number of merchants (the summary, the count, the
    page's ids, their merchants with coins and events, their cards' figures),
    written in SQL: built by the ORM, their correlated subqueries and filtered
    aggregates cost the page several times what the database spends on them.
    """
    now = now or timezone.now()
    sql = _ConsoleSQL(provider.pk, now)
    summary = sql.summary()
    q = (q or "").strip()
    where, params = sql.where(q=q, state=state, alert=alert)
    sort = sort if sort in SORTS else "name"
    unfiltered = not q and state not in A.values and alert not in ALERTS
    # Unfiltered, the count is the summary's: every merchant has one state.
    known = sum(summary[f"state_{s}"] for s in A.values) if unfiltered else None
    paginator = Paginator(
        _PageIds(sql, where, params, sort, known, _page_asked(page)), PAGE_SIZE
    )
    page_obj = paginator.get_page(page)
    rows = sql.rows(list(page_obj.object_list))
    return ConsolePage(
        rows=rows,
        page=page_obj,
        total=paginator.count,
        alert_counts={name: summary[f"alert_{name}"] for name in ALERTS},
        state_counts={s: summary[f"state_{s}"] for s in A.values},
    )


# --- the console's SQL (portable: SQLite for the embedded stack, PostgreSQL) ----------
# Every fragment below is a constant of this module (table names, fixed expressions);
# every value is a parameter. (Hence the S608 waivers.)
_MERCHANT = Merchant._meta.db_table
_ACCOUNT = "coins_coinaccount"
_CARD = FriendCard._meta.db_table
_EVENT = WeChatEvent._meta.db_table
_FIGURES = CardFigures._meta.db_table
_PROVIDER = Provider._meta.db_table
_PROVIDER_STAFF = ProviderStaff._meta.db_table
_PROVIDER_EVENT = ProviderEvent._meta.db_table
_ROW_FIELDS = ("id", "name", "appid", "authorization", "func_ids")
_BALANCE_PLACES = Decimal(1).scaleb(-2)  # CoinAccount.total_coin: 2 places
# A search longer than every searched field matches nothing, and is not sent
# (SQLite refuses a LIKE pattern over 50,000 bytes).
_SEARCHED_LENGTH = max(
    Merchant._meta.get_field(name).max_length for name in ("name", "appid")
)


def _like(text: str) -> str:
    """``text`` for ``LIKE … ESCAPE '\\'``: its own % _ and \\ match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _decimal(value) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(_BALANCE_PLACES)


def _datetime(value) -> datetime | None:
    """A timestamp as the database gave it (SQLite: text in UTC), made aware."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


class _ConsoleSQL:
    """The statements of one console page, for one provider at one moment."""

    def __init__(self, provider_id: int, now: datetime):
        ops = connection.ops
        today, week = _periods(now)
        self.provider_id = provider_id
        self.now = ops.adapt_datetimefield_value(now)
        self.soon = ops.adapt_datetimefield_value(now + timedelta(days=EXPIRING_DAYS))
        self.today = ops.adapt_datetimefield_value(today)
        self.week = ops.adapt_datetimefield_value(week)

    # Per merchant m (with f, its card figures): an alert's condition, and its
    # parameters. The figures are read, not the cards (cards/figures.py). For
    # "expiring" (an approved coupon ends within 7 days) the first end decides
    # when it is still to come; only a merchant with an approved coupon already
    # ended and another still running has its cards looked at.
    def _expiring_cards(self, select: str) -> tuple[str, list]:
        return (
            f"SELECT {select} FROM {_CARD} c WHERE c.merchant_id = m.id "  # noqa: S608
            "AND c.status = %s AND c.end_at >= %s AND c.end_at < %s",
            [CardStatus.APPROVED, self.now, self.soon],
        )

    def _expiring(self) -> tuple[str, list]:
        """Whether merchant m has an approved coupon ending within 7 days."""
        cards, params = self._expiring_cards("1")
        return (
            "((f.first_end_at >= %s AND f.first_end_at < %s) OR "
            f"(f.first_end_at < %s AND f.last_end_at >= %s AND EXISTS({cards})))",
            [self.now, self.soon, self.now, self.now, *params],
        )

    def _expiring_count(self) -> tuple[str, list]:
        """How many of merchant m's approved coupons end within 7 days."""
        cards, params = self._expiring_cards("COUNT(*)")
        return (
            "(CASE WHEN f.first_end_at < %s AND f.last_end_at >= %s "
            f"THEN ({cards}) ELSE 0 END)",
            [self.soon, self.now, *params],
        )

    def _alert(self, name: str) -> tuple[str, list]:
        if name == "rejected":
            return "(f.rejected > 0)", []
        if name == "low_balance":
            return (
                "(a.activated_at IS NOT NULL AND a.total_coin < %s)",
                [low_balance()],
            )
        if name == "low_stock":
            return "(f.min_stock < %s)", [low_stock()]
        if name == "expiring":
            return self._expiring()
        return "(m.authorization <> %s)", [A.ACTIVE]  # token

    def _from(self) -> str:
        return (
            f"FROM {_MERCHANT} m LEFT JOIN {_ACCOUNT} a ON a.merchant_id = m.id "
            f"LEFT JOIN {_FIGURES} f ON f.merchant_id = m.id "
            "WHERE m.provider_id = %s"
        )

    def summary(self) -> dict[str, int]:
        columns, params = [], []
        for name in ALERTS:
            condition, more = self._alert(name)
            columns.append(f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)")
            params += more
        for value in A.values:
            columns.append("SUM(CASE WHEN m.authorization = %s THEN 1 ELSE 0 END)")
            params.append(value)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {', '.join(columns)} {self._from()}",
                [*params, self.provider_id],
            )
            values = cursor.fetchone()
        names = [f"alert_{n}" for n in ALERTS] + [f"state_{s}" for s in A.values]
        return {name: int(v or 0) for name, v in zip(names, values, strict=True)}

    def where(self, *, q: str, state: str, alert: str) -> tuple[str, list]:
        clauses, params = [self._from()], [self.provider_id]
        if len(q) > _SEARCHED_LENGTH:
            clauses.append("AND 1 = 0")  # longer than any name: nothing matches
        elif q:
            clauses.append(
                "AND (UPPER(m.name) LIKE UPPER(%s) ESCAPE '\\' "
                "OR UPPER(m.appid) LIKE UPPER(%s) ESCAPE '\\')"
            )
            params += [_like(q), _like(q)]
        if state in A.values:
            clauses.append("AND m.authorization = %s")
            params.append(state)
        if alert in ALERTS:
            condition, more = self._alert(alert)
            clauses.append(f"AND {condition}")
            params += more
        return " ".join(clauses), params

    def sort_key(self, sort: str) -> tuple[str, list]:
        """The ORDER BY of ``sort`` (a key of SORTS), and its parameters."""
        key, desc = sort.lstrip("-"), " DESC" if sort.startswith("-") else ""
        if key == "name":
            return f"m.name{desc}, m.id", []
        if key == "state":
            return "m.authorization, m.name, m.id", []
        expression, params = {
            "balance": ("COALESCE(a.total_coin, 0)", []),
            "review": ("COALESCE(f.in_review, 0)", []),
            "stock": ("COALESCE(f.stock, 0)", []),
            "redemptions": (
                f"(SELECT COUNT(*) FROM {_EVENT} e WHERE e.merchant_id = m.id "  # noqa: S608
                "AND e.event = %s AND e.received_at >= %s)",
                [CONSUMED, self.week],
            ),
            "last_event": (
                f"(SELECT MAX(e.received_at) FROM {_EVENT} e "  # noqa: S608
                "WHERE e.merchant_id = m.id)",
                [],
            ),
        }[key]
        return f"{expression}{desc}, m.name, m.id", params

    def count(self, where: str, params: list) -> int:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) {where}", params)
            return cursor.fetchone()[0]

    def ids(self, where: str, params: list, sort: str, offset: int, limit: int):
        return [row[0] for row in self._ids(where, params, sort, offset, limit)]

    def ids_and_total(
        self, where: str, params: list, sort: str, offset: int, limit: int
    ) -> tuple[list[int], int | None]:
        """A page's ids and how many match in all (None when the page is past
        the end: no row carries the total)."""
        found = self._ids(where, params, sort, offset, limit, total=True)
        return [row[0] for row in found], (found[0][1] if found else None)

    def _ids(self, where, params, sort, offset, limit, *, total=False) -> list:
        order, more = self.sort_key(sort)
        window = ", COUNT(*) OVER ()" if total else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT m.id{window} {where} ORDER BY {order} LIMIT %s OFFSET %s",
                [*params, *more, limit, offset],
            )
            return cursor.fetchall()

    def rows(self, ids: list[int]) -> list[Row]:
        """The page's merchants with their coins, card figures, redemptions and
        newest event: one statement."""
        if not ids:
            return []
        marks = ", ".join(["%s"] * len(ids))
        consumed = (
            f"(SELECT COUNT(*) FROM {_EVENT} e WHERE e.merchant_id = m.id "  # noqa: S608
            "AND e.event = %s AND e.received_at >= %s)"
        )
        newest = (
            f"(SELECT e.id FROM {_EVENT} e WHERE e.merchant_id = m.id "  # noqa: S608
            "ORDER BY e.received_at DESC, e.id DESC LIMIT 1)"
        )
        expiring, expiring_params = self._expiring_count()
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT m.{', m.'.join(_ROW_FIELDS)}, a.activated_at, a.total_coin, "  # noqa: S608
                f"{consumed}, {consumed}, le.received_at, le.event, le.msg_type, "
                "f.in_review, f.approved, f.rejected, f.stock, f.min_stock, "
                f"{expiring} "
                f"FROM {_MERCHANT} m LEFT JOIN {_ACCOUNT} a ON a.merchant_id = m.id "
                f"LEFT JOIN {_FIGURES} f ON f.merchant_id = m.id "
                f"LEFT JOIN {_EVENT} le ON le.id = {newest} "
                f"WHERE m.id IN ({marks})",
                [CONSUMED, self.today, CONSUMED, self.week, *expiring_params, *ids],
            )
            found = cursor.fetchall()
        balance_threshold, stock_threshold = low_balance(), low_stock()
        by_id = {}
        for values in found:
            merchant = SubMerchant(*values[:5])
            (activated, total, today, week, at, event, msg_type) = values[5:12]
            in_review, approved, rejected, stock, min_stock, expiring = values[12:]
            row = Row(merchant=merchant)
            row.coins_open = activated is not None
            row.balance = _decimal(total)
            row.redemptions_today, row.redemptions_week = int(today), int(week)
            row.last_event_at = _datetime(at)
            row.last_event = event or msg_type or ""
            row.in_review, row.approved = int(in_review or 0), int(approved or 0)
            row.rejected, row.stock = int(rejected or 0), int(stock or 0)
            row.low_stock = min_stock is not None and min_stock < stock_threshold
            row.expiring = int(expiring or 0)
            if merchant.authorization != A.ACTIVE:
                row.state_words = merchant_state_words(merchant)
            row.alerts = _alerts(row, balance_threshold)
            by_id[merchant.pk] = row
        return [by_id[pk] for pk in ids if pk in by_id]


class SubMerchant:
    """A console row's merchant: the columns a row shows, read as the database
    gave them (no model instance per row; never a secret)."""

    __slots__ = ("_func_ids", "appid", "authorization", "name", "pk")

    def __init__(self, pk, name, appid, authorization, func_ids):
        self.pk, self.name, self.appid = pk, name, appid
        self.authorization, self._func_ids = authorization, func_ids

    @property
    def id(self) -> int:
        return self.pk

    @property
    def func_ids(self) -> list[int]:
        """The granted permissions (JSON text on SQLite), read when asked for."""
        value = self._func_ids
        return json.loads(value) if isinstance(value, str) else list(value or [])

    def __str__(self) -> str:
        return self.name


def _page_asked(page) -> int:
    """The page number as Paginator.get_page will read it (else the first)."""
    try:
        number = int(page)
    except (TypeError, ValueError):
        return 1
    return number if 1 <= number <= 10**6 else 1  # (an OFFSET the database takes)


class _PageIds:
    """The filtered, sorted ids as Django's Paginator reads them: a count, and a
    slice fetched with LIMIT/OFFSET. Filtered, the count comes with the asked
    page's ids in one statement (a window count), unless that page is past the
    end."""

    def __init__(self, sql, where, params, sort, known: int | None, asked: int):
        self.sql, self.where, self.params, self.sort = sql, where, params, sort
        self.known, self.asked = known, asked
        self.fetched: tuple[int, list[int]] | None = None  # (offset, ids)

    def count(self) -> int:
        if self.known is None:
            offset = (self.asked - 1) * PAGE_SIZE
            ids, total = self.sql.ids_and_total(
                self.where, self.params, self.sort, offset, PAGE_SIZE
            )
            if total is None:
                total = self.sql.count(self.where, self.params)
            else:
                self.fetched = (offset, ids)
            self.known = total
        return self.known

    def __getitem__(self, index: slice) -> list[int]:
        start, stop = index.start or 0, index.stop
        if self.fetched is not None and self.fetched[0] == start:
            return self.fetched[1][: stop - start]
        return self.sql.ids(self.where, self.params, self.sort, start, stop - start)


def _alerts(row: Row, threshold: Decimal) -> list[str]:
    alerts = []
    if row.rejected:
        alerts.append("rejected")
    if row.coins_open and row.balance is not None and row.balance < threshold:
        alerts.append("low_balance")
    if row.low_stock:
        alerts.append("low_stock")
    if row.expiring:
        alerts.append("expiring")
    if row.merchant.authorization != A.ACTIVE:
        alerts.append("token")
    return alerts


def merchant_history(*, provider: Provider, merchant: Merchant, limit: int = 30):
    return (
        ProviderEvent.objects.filter(provider=provider, merchant=merchant)
        .select_related("actor")
        .order_by("-at", "-pk")[:limit]
    )


def provider_history(*, provider: Provider, limit: int = 20) -> list[tuple]:
    """The provider's latest changes as ``(at, kind, merchant name or None)``: a
    line of words each (never a secret), in SQL like the rest of the console."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT e.at, e.kind, m.name FROM {_PROVIDER_EVENT} e "  # noqa: S608
            f"LEFT JOIN {_MERCHANT} m ON m.id = e.merchant_id "
            "WHERE e.provider_id = %s ORDER BY e.at DESC, e.id DESC LIMIT %s",
            [provider.pk, limit],
        )
        return [(_datetime(at), kind, name) for at, kind, name in cursor.fetchall()]


def coupons_across(*, provider: Provider, q: str = "", status: str = "", page=1):
    """A provider's view of coupons across its sub-merchants: title search."""
    cards = (
        FriendCard.objects.filter(merchant__provider=provider)
        .select_related("merchant")
        .only(
            "pk",
            "title",
            "status",
            "quantity",
            "total_quantity",
            "end_at",
            "card_type",
            "merchant__name",
            "merchant__id",
        )
        .order_by("title", "merchant__name", "pk")
    )
    q = (q or "").strip()
    title_length = FriendCard._meta.get_field("title").max_length
    if len(q) > title_length:
        cards = cards.none()  # longer than any title: nothing matches
    elif q:
        cards = cards.filter(Q(title__icontains=q) | Q(brand_name__icontains=q))
    if status in CardStatus.values:
        cards = cards.filter(status=status)
    return Paginator(cards, PAGE_SIZE).get_page(page)
