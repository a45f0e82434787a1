"""Reads for coins: the ledger's keyset pages (no COUNT, no OFFSET), what each order
did to the balance (signed, with the running balance) and the reconciliation as
last checked."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.core import signing
from django.db.models import (
    Case,
    DecimalField,
    F,
    Max,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce

from portal.models import Merchant

from .models import CoinAccount, LedgerEntry, Recharge

PAGE_SIZE = 50
ZERO = Decimal(0)
T, S = LedgerEntry.OrderType, LedgerEntry.OrderStatus
PAID_STATUSES = frozenset({S.SUCC, S.FINANCE_SUCC, S.HAS_RECEIPT})


@dataclass(frozen=True)
class Movement:
    """How an order of one type moves the balance (SPEC §5): the sign, the statuses
    in which it counted (None: every status) and the fields holding the free and
    the paid coins it moved (None: that part never moves)."""

    sign: int
    statuses: frozenset[str] | None
    free: str | None
    pay: str | None


# The rules of services.ledger_local_balance, per order type: a recharge counts
# once paid, a purchase once the stock is added; refunds and deductions always.
MOVEMENTS: dict[str, Movement] = {
    T.SYS_ADD: Movement(+1, frozenset({S.FINANCE_SUCC}), "free_coin_count", None),
    T.WXPAY: Movement(+1, PAID_STATUSES, None, "pay_coin_count"),
    T.REDUCE: Movement(
        -1, frozenset({S.QUANTITY_SUCC}), "free_coin_count", "pay_coin_count"
    ),
    T.REFUND: Movement(+1, None, "refund_free_coin_count", "refund_pay_coin_count"),
    T.SYS_REDUCE: Movement(-1, None, "free_coin_count", "pay_coin_count"),
}


class InvalidCursor(ValueError):
    """A page link whose ``after`` was not made by this portal for this merchant."""


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


def _signer(merchant: Merchant) -> signing.Signer:
    return signing.Signer(salt=f"coins.ledger.cursor.{merchant.pk}")


def encode_cursor(entry: LedgerEntry) -> str:
    """The keyset position after ``entry``, signed: a page link cannot be forged."""
    return _signer(entry.merchant).sign(f"{entry.create_time.isoformat()}|{entry.pk}")


def decode_cursor(cursor: str, *, merchant: Merchant) -> tuple[datetime, int]:
    """``(time, id)`` of a cursor ``encode_cursor`` made for ``merchant``.

    Raises InvalidCursor for anything else (edited, truncated, another merchant's).
    """
    try:
        when, pk = _signer(merchant).unsign(cursor).rsplit("|", 1)
        return datetime.fromisoformat(when), int(pk)
    except (signing.BadSignature, ValueError):
        raise InvalidCursor(cursor) from None


def ledger_page(
    *,
    merchant: Merchant,
    filters: LedgerFilters,
    after: str = "",
    size: int = PAGE_SIZE,
) -> tuple[list[LedgerEntry], str | None]:
    """One page after the keyset ``after``; returns the rows and the next cursor.

    Seeks on the (merchant, [type,] time, id) index: a page costs the same on the
    millionth row as on the first, and no page counts the whole ledger. Raises
    InvalidCursor for an ``after`` this portal did not make for this merchant.
    """
    rows = ledger_queryset(merchant=merchant, filters=filters)
    if after:
        when, pk = decode_cursor(after, merchant=merchant)
        if filters.ascending:
            rows = rows.filter(Q(create_time__gt=when) | Q(create_time=when, id__gt=pk))
        else:
            rows = rows.filter(Q(create_time__lt=when) | Q(create_time=when, id__lt=pk))
    page = list(rows[: size + 1])
    next_cursor = encode_cursor(page[size - 1]) if len(page) > size else None
    return page[:size], next_cursor


# --- what each order did to the balance -------------------------------------------
@dataclass(frozen=True)
class LedgerLine:
    """A ledger row as an accountant reads it: the signed free and paid coins it
    moved (+ credit, − debit), whether it counted (a waiting, failed or rolled-back
    order moved nothing: its amounts are shown, struck), and the total balance
    after it (None when not computed)."""

    entry: LedgerEntry
    free: Decimal
    pay: Decimal
    counted: bool
    balance: Decimal | None = None

    @property
    def total(self) -> Decimal:
        return self.free + self.pay


def _amount(entry, field: str | None) -> Decimal:
    return Decimal(getattr(entry, field) or 0) if field else ZERO


def ledger_line(entry: LedgerEntry, balance: Decimal | None = None) -> LedgerLine:
    """What ``entry`` moved, signed; see ``MOVEMENTS``."""
    move = MOVEMENTS.get(entry.order_type)
    if move is None:
        return LedgerLine(entry, ZERO, ZERO, counted=False, balance=balance)
    return LedgerLine(
        entry,
        move.sign * _amount(entry, move.free),
        move.sign * _amount(entry, move.pay),
        counted=move.statuses is None or entry.status in move.statuses,
        balance=balance,
    )


def _effect() -> Case:
    """SQL for the total coins a row moved (0 when it did not count)."""
    whens = []
    for order_type, move in MOVEMENTS.items():
        condition = Q(order_type=order_type)
        if move.statuses is not None:
            condition &= Q(status__in=sorted(move.statuses))
        parts = [F(f) for f in (move.free, move.pay) if f]
        amount = parts[0] if len(parts) == 1 else parts[0] + parts[1]
        whens.append(When(condition, then=amount * move.sign))
    return Case(
        *whens,
        default=Value(ZERO),
        output_field=DecimalField(max_digits=16, decimal_places=2),
    )


def _before(when: datetime, pk: int) -> Q:
    return Q(create_time__lt=when) | Q(create_time=when, id__lt=pk)


def ledger_balance_before(*, merchant: Merchant, when: datetime, pk: int) -> Decimal:
    """The total balance the local ledger adds up to before the row ``(when, pk)``."""
    total = LedgerEntry.objects.filter(_before(when, pk), merchant=merchant).aggregate(
        v=Coalesce(Sum(_effect()), Value(ZERO))
    )["v"]
    return Decimal(total)


def ledger_lines(*, merchant: Merchant, rows: list[LedgerEntry]) -> list[LedgerLine]:
    """``rows`` (one page, any filters, either order) with the running balance after
    each: the balance of the *whole* ledger, filtered-out orders included.

    The ledger sync states each row's balance (``balance_after``): a page then costs
    nothing more. Rows not stated yet (before their first sync) take two queries:
    the balance before the page's oldest row, and one pass of a window sum over the
    rows between its oldest and newest.
    """
    if not rows:
        return []
    if all(r.balance_after is not None for r in rows):
        return [ledger_line(r, r.balance_after) for r in rows]  # stated by the sync
    keys = sorted((r.create_time, r.pk) for r in rows)
    (lo_when, lo_pk), (hi_when, hi_pk) = keys[0], keys[-1]
    base = ledger_balance_before(merchant=merchant, when=lo_when, pk=lo_pk)
    span = LedgerEntry.objects.filter(merchant=merchant).filter(
        ~_before(lo_when, lo_pk),
        Q(create_time__lt=hi_when) | Q(create_time=hi_when, id__lte=hi_pk),
    )
    # The page's rows are picked by a window too: a plain filter on id would run
    # before the window sum and leave the filtered-out rows out of the balance.
    on_page = When(id__in=[r.pk for r in rows], then=Value(1))
    running = dict(
        span.annotate(
            run=Window(
                Sum(_effect()), order_by=[F("create_time").asc(), F("id").asc()]
            ),
            on_page=Window(
                Max(Case(on_page, default=Value(0))), partition_by=[F("id")]
            ),
        )
        .filter(on_page=1)
        .values_list("id", "run")
    )
    return [ledger_line(r, base + Decimal(running.get(r.pk) or 0)) for r in rows]


def ledger_export_lines(
    *, merchant: Merchant, filters: LedgerFilters
) -> Iterator[LedgerLine]:
    """Every row the filters select, in their order, with the running balance.

    Streams one pass over the whole ledger between the first and the last selected
    row (the filtered-out rows between them move the balance too), in the export's
    order; one aggregate gives the balance where the pass starts.
    """
    rows = ledger_queryset(merchant=merchant, filters=filters)
    oldest = rows.order_by("create_time", "id").first()
    newest = rows.order_by("-create_time", "-id").first()
    if oldest is None or newest is None:
        return
    between = LedgerEntry.objects.filter(merchant=merchant).filter(
        ~_before(oldest.create_time, oldest.pk),
        _before(newest.create_time, newest.pk) | Q(pk=newest.pk),
    )
    selected = _selector(filters)
    if filters.ascending:
        balance = ledger_balance_before(
            merchant=merchant, when=oldest.create_time, pk=oldest.pk
        )
        for entry in between.order_by("create_time", "id").iterator(chunk_size=2000):
            line = ledger_line(entry)
            balance += line.total if line.counted else ZERO
            if selected(entry):
                yield ledger_line(entry, balance)
        return
    after_newest = ledger_line(newest)
    balance = ledger_balance_before(
        merchant=merchant, when=newest.create_time, pk=newest.pk
    ) + (after_newest.total if after_newest.counted else ZERO)
    for entry in between.order_by("-create_time", "-id").iterator(chunk_size=2000):
        line = ledger_line(entry, balance)
        if selected(entry):
            yield line
        balance -= line.total if line.counted else ZERO


def _selector(filters: LedgerFilters):
    def selected(entry: LedgerEntry) -> bool:
        return (
            (not filters.order_type or entry.order_type == filters.order_type)
            and (not filters.exclude_status or entry.status != filters.exclude_status)
            and (not filters.begin or entry.create_time >= filters.begin)
            and (not filters.end or entry.create_time < filters.end)
        )

    return selected


def ledger_is_empty(*, merchant: Merchant) -> bool:
    """True before the first sync brought any order (not: no order matches)."""
    return not LedgerEntry.objects.filter(merchant=merchant).exists()


# --- reconciliation as last checked ------------------------------------------------
def reconciliation(*, merchant: Merchant, local: dict[str, Decimal]) -> dict | None:
    """The local ledger's balance ``local`` against the balance WeChat last reported
    (read, never fetched: GET pages write nothing); None before any report."""
    account = CoinAccount.objects.filter(merchant=merchant).first()
    if account is None or account.balance_at is None:
        return None
    remote = {
        "free_coin": account.free_coin,
        "pay_coin": account.pay_coin,
        "total_coin": account.total_coin,
    }
    diff = {k: remote[k] - local[k] for k in local}
    return {
        "local": local,
        "wechat": remote,
        "difference": diff,
        "matches": all(v == 0 for v in diff.values()),
        "checked_at": account.balance_at,
    }


def recharges_waiting_count(*, merchant: Merchant) -> int:
    """How many of the merchant's recharges still wait for their payment."""
    return Recharge.objects.filter(
        merchant=merchant, status=Recharge.Status.WAITING
    ).count()
