"""Reads for coins: the ledger's keyset pages (no COUNT, no OFFSET) and its export."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from portal.models import Merchant

from .models import LedgerEntry, Recharge, StockOrder

PAGE_SIZE = 50


@dataclass(frozen=True)
class LedgerFilters:
    order_type: str = ""
    exclude_status: str = ""
    begin: datetime | None = None
    end: datetime | None = None
    ascending: bool = False


def ledger_queryset(
    *, merchant: Merchant, filters: LedgerFilters
) -> QuerySet[LedgerEntry]:
    """The merchant's ledger with WeChat's filters (SPEC §5), sorted by time."""
    rows = LedgerEntry.objects.filter(merchant=merchant)
    if filters.order_type:
        rows = rows.filter(order_type=filters.order_type)
    if filters.exclude_status:
        rows = rows.exclude(status=filters.exclude_status)
    if filters.begin:
        rows = rows.filter(create_time__gte=filters.begin)
    if filters.end:
        rows = rows.filter(create_time__lt=filters.end)
    order = ("create_time", "id") if filters.ascending else ("-create_time", "-id")
    return rows.order_by(*order)


def encode_cursor(entry: LedgerEntry) -> str:
    raw = f"{entry.create_time.isoformat()}|{entry.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, pk = raw.rsplit("|", 1)
        return datetime.fromisoformat(when), int(pk)
    except (ValueError, UnicodeDecodeError):
        return None


def ledger_page(
    *,
    merchant: Merchant,
    filters: LedgerFilters,
    after: str = "",
    size: int = PAGE_SIZE,
) -> tuple[list[LedgerEntry], str | None]:
    """One page after the keyset ``after``; returns the rows and the next cursor.

    Seeks on the (merchant, [type,] time, id) index: a page costs the same on the
    millionth row as on the first, and no page counts the whole ledger.
    """
    rows = ledger_queryset(merchant=merchant, filters=filters)
    position = decode_cursor(after) if after else None
    if position is not None:
        when, pk = position
        if filters.ascending:
            rows = rows.filter(Q(create_time__gt=when) | Q(create_time=when, id__gt=pk))
        else:
            rows = rows.filter(Q(create_time__lt=when) | Q(create_time=when, id__lt=pk))
    page = list(rows[: size + 1])
    next_cursor = encode_cursor(page[size - 1]) if len(page) > size else None
    return page[:size], next_cursor


def stock_orders_for(*, merchant: Merchant) -> QuerySet[StockOrder]:
    return StockOrder.objects.filter(merchant=merchant).select_related("card")


def recharges_for(*, merchant: Merchant) -> QuerySet[Recharge]:
    return Recharge.objects.filter(merchant=merchant)


def recharges_waiting_count(*, merchant: Merchant) -> int:
    """How many of the merchant's recharges still wait for their payment."""
    return Recharge.objects.filter(
        merchant=merchant, status=Recharge.Status.WAITING
    ).count()
