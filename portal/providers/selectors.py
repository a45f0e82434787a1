"""Reads for providers: who may use which provider, its state in words, and the
console's page of sub-merchants (SPEC §8).

The console is built for hundreds of sub-merchants: a page costs a fixed number
of queries whatever the number of merchants (the page's ids first — filtered and
sorted in the database — then one grouped query per kind of figure for those ids).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import (
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from cards.models import CardStatus, FriendCard
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
    user is one of its owners (the platform operator owns every one): one query."""
    if not user.is_authenticated or not user.is_active:
        return {}
    if user.is_superuser:
        return {p.pk: (p, True) for p in Provider.objects.order_by("name")}
    staff = (
        ProviderStaff.objects.filter(user=user)
        .select_related("provider")
        .order_by("provider__name")
    )
    return {
        s.provider_id: (s.provider, s.role == ProviderStaff.Role.OWNER) for s in staff
    }


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


def _count(queryset, column: str = "pk"):
    """A correlated count (0 when none) over ``queryset`` filtered by OuterRef."""
    return Coalesce(
        Subquery(
            queryset.order_by()
            .values("merchant_id")
            .annotate(n=Count(column))
            .values("n")[:1],
            output_field=IntegerField(),
        ),
        Value(0),
    )


def _alert_filters(now: datetime) -> dict:
    cards = FriendCard.objects.filter(merchant=OuterRef("pk"))
    approved = cards.filter(status=CardStatus.APPROVED)
    return {
        "rejected": Exists(cards.filter(status=CardStatus.REJECTED)),
        "low_balance": Q(
            coin_account__activated_at__isnull=False,
            coin_account__total_coin__lt=low_balance(),
        ),
        "low_stock": Exists(approved.filter(quantity__lt=low_stock())),
        "expiring": Exists(
            approved.filter(
                end_at__gte=now, end_at__lt=now + timedelta(days=EXPIRING_DAYS)
            )
        ),
        "token": ~Q(authorization=A.ACTIVE),
    }


def _with_sort_key(queryset, sort: str, now: datetime):
    """Only the figure the page is sorted by is computed for every merchant."""
    key = sort.lstrip("-")
    if key == "balance":
        return queryset.annotate(
            balance=Coalesce("coin_account__total_coin", Value(Decimal(0)))
        )
    if key == "review":
        return queryset.annotate(
            in_review=_count(
                FriendCard.objects.filter(
                    merchant=OuterRef("pk"), status=CardStatus.IN_REVIEW
                )
            )
        )
    if key == "stock":
        return queryset.annotate(
            stock=Coalesce(
                Subquery(
                    FriendCard.objects.filter(
                        merchant=OuterRef("pk"), status=CardStatus.APPROVED
                    )
                    .order_by()
                    .values("merchant_id")
                    .annotate(s=Sum("quantity"))
                    .values("s")[:1],
                    output_field=IntegerField(),
                ),
                Value(0),
            )
        )
    if key == "redemptions":
        _today, week = _periods(now)
        return queryset.annotate(
            redemptions_week=_count(
                WeChatEvent.objects.filter(
                    merchant=OuterRef("pk"), event=CONSUMED, received_at__gte=week
                )
            )
        )
    if key == "last_event":
        return queryset.annotate(
            last_event_at=Subquery(
                WeChatEvent.objects.filter(merchant=OuterRef("pk"))
                .order_by("-received_at")
                .values("received_at")[:1]
            )
        )
    return queryset


@dataclass
class Row:
    merchant: Merchant
    state_words: str = ""
    balance: Decimal | None = None
    coins_open: bool = False
    in_review: int = 0
    approved: int = 0
    rejected: int = 0
    stock: int = 0
    expiring: int = 0
    low_stock: int = 0
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
    """One page of the provider's sub-merchants with their figures and alerts."""
    now = now or timezone.now()
    merchants = Merchant.objects.filter(provider=provider)
    filters = _alert_filters(now)
    summary = merchants.aggregate(
        **{f"alert_{name}": Count("pk", filter=f) for name, f in filters.items()},
        **{f"state_{s}": Count("pk", filter=Q(authorization=s)) for s in A.values},
    )
    chosen = merchants
    q = (q or "").strip()
    if q:
        chosen = chosen.filter(Q(name__icontains=q) | Q(appid__icontains=q))
    if state in A.values:
        chosen = chosen.filter(authorization=state)
    if alert in filters:
        chosen = chosen.filter(filters[alert])
    sort = sort if sort in SORTS else "name"
    ordered = _with_sort_key(chosen, sort, now).order_by(*SORTS[sort], "pk")
    paginator = Paginator(ordered.values_list("pk", flat=True), PAGE_SIZE)
    page_obj = paginator.get_page(page)
    ids = list(page_obj.object_list)
    rows = _rows(ids, now)
    return ConsolePage(
        rows=rows,
        page=page_obj,
        total=paginator.count,
        alert_counts={name: summary[f"alert_{name}"] for name in filters},
        state_counts={s: summary[f"state_{s}"] for s in A.values},
    )


def _rows(ids: list[int], now: datetime) -> list[Row]:
    """The figures of the page's merchants: two queries whatever the page holds —
    the merchants with their coins, redemptions and last event (correlated to
    the page's rows only), and their cards' figures grouped by merchant."""
    if not ids:
        return []
    today, week = _periods(now)
    events = WeChatEvent.objects.filter(merchant=OuterRef("pk"))
    newest = events.order_by("-received_at", "-pk")
    merchants = {
        m.pk: m
        for m in Merchant.objects.filter(pk__in=ids)
        .select_related("coin_account")
        .only(  # what a row shows (never a secret)
            "pk",
            "name",
            "appid",
            "authorization",
            "func_ids",
            "coin_account__activated_at",
            "coin_account__total_coin",
        )
        .annotate(
            redeemed_today=_count(
                events.filter(event=CONSUMED, received_at__gte=today)
            ),
            redeemed_week=_count(events.filter(event=CONSUMED, received_at__gte=week)),
            newest_at=Subquery(newest.values("received_at")[:1]),
            newest_event=Subquery(newest.values("event")[:1]),
            newest_type=Subquery(newest.values("msg_type")[:1]),
        )
    }
    rows = {}
    for pk in ids:
        merchant = merchants.get(pk)
        if merchant is None:
            continue
        row = rows[pk] = Row(merchant=merchant)
        account = getattr(merchant, "coin_account", None)
        if account is not None:
            row.coins_open = account.activated_at is not None
            row.balance = account.total_coin
        row.redemptions_today = merchant.redeemed_today
        row.redemptions_week = merchant.redeemed_week
        row.last_event_at = merchant.newest_at
        row.last_event = merchant.newest_event or merchant.newest_type or ""
    soon = now + timedelta(days=EXPIRING_DAYS)
    card_figures = (
        FriendCard.objects.filter(merchant_id__in=ids)
        .values("merchant_id")
        .annotate(
            in_review=Count("pk", filter=Q(status=CardStatus.IN_REVIEW)),
            approved=Count("pk", filter=Q(status=CardStatus.APPROVED)),
            rejected=Count("pk", filter=Q(status=CardStatus.REJECTED)),
            stock=Sum("quantity", filter=Q(status=CardStatus.APPROVED)),
            low_stock=Count(
                "pk", filter=Q(status=CardStatus.APPROVED, quantity__lt=low_stock())
            ),
            expiring=Count(
                "pk",
                filter=Q(status=CardStatus.APPROVED, end_at__gte=now, end_at__lt=soon),
            ),
        )
        .order_by()
    )
    for figures in card_figures:
        row = rows.get(figures.pop("merchant_id"))
        if row is not None:
            for name, value in figures.items():
                setattr(row, name, value or 0)
    for row in rows.values():
        row.state_words = merchant_state_words(row.merchant)
        row.alerts = _alerts(row)
    return list(rows.values())


def _alerts(row: Row) -> list[str]:
    alerts = []
    if row.rejected:
        alerts.append("rejected")
    if row.coins_open and row.balance is not None and row.balance < low_balance():
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


def provider_history(*, provider: Provider, limit: int = 20):
    return (
        ProviderEvent.objects.filter(provider=provider)
        .select_related("merchant", "actor")
        .order_by("-at", "-pk")[:limit]
    )


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
    if q:
        cards = cards.filter(Q(title__icontains=q) | Q(brand_name__icontains=q))
    if status in CardStatus.values:
        cards = cards.filter(status=status)
    return Paginator(cards, PAGE_SIZE).get_page(page)
