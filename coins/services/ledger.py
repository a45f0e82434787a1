"""The local copy of WeChat's coin ledger (getorderlist, SPEC §5), what it adds up
to, and what it proves: a ledger line is WeChat's own word, so a confirm or a
recharge it shows as done is recorded as done, whatever the portal believed."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, DecimalField, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from portal.models import Merchant
from wechat import errors as wx
from wechat.api.coin import OrderInfo

from ..models import CoinAccount, LedgerEntry, Recharge, StockOrder
from ..selectors import MOVEMENTS, ledger_line
from .account import coin_balance_refresh
from .common import client_for
from .recharges import OPEN, recharges_settle_many
from .stock import QUANTITY_SUCC, _confirmed

log = logging.getLogger("coins")


def _ledger_fields(info: OrderInfo) -> dict:
    return {
        "order_type": info.order_type,
        "status": info.status,
        "create_time": info.create_time or timezone.now(),
        "pay_finish_time": info.pay_finish_time,
        "desc": info.desc[:200],
        "free_coin_count": info.free_coin_count,
        "pay_coin_count": info.pay_coin_count,
        "refund_free_coin_count": info.refund_free_coin_count,
        "refund_pay_coin_count": info.refund_pay_coin_count,
        "openid": info.openid[:64],
    }


def ledger_upsert(*, merchant: Merchant, orders: list[OrderInfo]) -> int:
    """One local row per WeChat order (as getorderlist gave it): new ones created,
    changed ones updated. Returns how many rows were written."""
    if not orders:
        return 0
    existing = {
        e.order_id: e
        for e in LedgerEntry.objects.filter(
            merchant=merchant, order_id__in=[o.order_id for o in orders]
        )
    }
    new, changed = [], 0
    for info in orders:
        fields = _ledger_fields(info)
        entry = existing.get(info.order_id)
        if entry is None:
            new.append(LedgerEntry(merchant=merchant, order_id=info.order_id, **fields))
        elif any(getattr(entry, k) != v for k, v in fields.items()):
            LedgerEntry.objects.filter(pk=entry.pk).update(
                **fields, synced_at=timezone.now()
            )
            changed += 1
    LedgerEntry.objects.bulk_create(new, ignore_conflicts=True)
    if new or changed:
        ledger_restate_balances(
            merchant=merchant,
            since=min(_ledger_fields(o)["create_time"] for o in orders),
        )
    return len(new) + changed


def ledger_restate_balances(
    *, merchant: Merchant, since: datetime | None = None
) -> int:
    """``balance_after`` of every row from ``since`` on (all rows when None), oldest
    first, from the balance after the row before it. New orders land at the end, so
    a sync restates only them; a change to an old order restates what follows it.
    One merchant's restatements run one at a time (its coin account row is locked).
    Returns how many rows changed."""
    with transaction.atomic():
        CoinAccount.objects.select_for_update().filter(merchant=merchant).first()
        rows = LedgerEntry.objects.filter(merchant=merchant)
        balance = Decimal(0)
        if since is not None:
            before = rows.filter(create_time__lt=since).order_by("-create_time", "-id")
            previous = before.values_list("balance_after", flat=True).first()
            if previous is None and before.exists():
                since = None  # the rows before were never stated: start from the top
            else:
                balance = previous or Decimal(0)
        todo = rows if since is None else rows.filter(create_time__gte=since)
        changed, batch = 0, []
        for entry in todo.order_by("create_time", "id").iterator(chunk_size=2000):
            line = ledger_line(entry)
            balance += line.total if line.counted else Decimal(0)
            if entry.balance_after != balance:
                entry.balance_after = balance
                batch.append(entry)
            if len(batch) >= 2000:
                LedgerEntry.objects.bulk_update(batch, ["balance_after"])
                changed, batch = changed + len(batch), []
        if batch:
            LedgerEntry.objects.bulk_update(batch, ["balance_after"])
            changed += len(batch)
    return changed


def _apply_what_it_proves(*, merchant: Merchant, orders: list[OrderInfo]) -> None:
    """Stock WeChat added and recharges it settled, recorded locally if they were
    not (a late success, a lost answer, a lost push: SPEC §5)."""
    added = [o.order_id for o in orders if o.status == QUANTITY_SUCC]
    if added:
        for order in (
            StockOrder.objects.select_related("merchant", "card")
            .filter(merchant=merchant, quote_id__in=added)
            .exclude(status=StockOrder.Status.CONFIRMED)
        ):
            _confirmed(order, source="ledger")
    statuses = {
        o.order_id: o.status for o in orders if o.order_type == "ORDER_TYPE_WXPAY"
    }
    if (
        statuses
        and Recharge.objects.filter(
            merchant=merchant, order_id__in=list(statuses), status__in=OPEN
        ).exists()
    ):
        recharges_settle_many(merchant=merchant, statuses=statuses, source="ledger")


def ledger_sync(*, merchant: Merchant, since: datetime | None = None) -> int:
    """getorderlist, page by page, into the local ledger (SPEC §5).

    From a day before the newest local order (status changes and T+1 refunds land
    late), or from the account's opening when the ledger is empty.
    """
    if since is None:
        newest = (
            LedgerEntry.objects.filter(merchant=merchant)
            .order_by("-create_time")
            .first()
        )
        account = CoinAccount.objects.filter(merchant=merchant).first()
        if newest is not None:
            since = newest.create_time - timedelta(days=1)
        elif account and account.activated_at:
            since = account.activated_at - timedelta(days=1)
        else:
            since = timezone.now() - timedelta(days=7)
    client = client_for(merchant)
    begin = int(since.timestamp())
    offset, written = 0, 0
    while True:
        # No end_time: WeChat's own "now" ends the window.
        page = client.coin.get_order_list(
            offset=offset, count=50, ascending=True, begin_time=begin
        )
        written += ledger_upsert(merchant=merchant, orders=page.orders)
        _apply_what_it_proves(merchant=merchant, orders=page.orders)
        offset += len(page.orders)
        if not page.orders or offset >= page.total:
            return written


def ledgers_sync_all() -> int:
    """Beat: sync the ledger of every activated coin account."""
    total = 0
    for account in CoinAccount.objects.filter(
        activated_at__isnull=False
    ).select_related("merchant"):
        try:
            total += ledger_sync(merchant=account.merchant)
        except wx.WeChatError as exc:
            log.warning("ledger sync for %s failed: %s", account.merchant.appid, exc)
    return total


def ledger_local_balance(*, merchant: Merchant) -> dict[str, Decimal]:
    """The balance the local ledger adds up to (free, pay, total), by the one table
    of what each order type moves (coins.selectors.MOVEMENTS)."""
    sums = {}
    for part in ("free", "pay"):
        whens = []
        for order_type, move in MOVEMENTS.items():
            field = getattr(move, part)
            if not field:
                continue
            condition = Q(order_type=order_type)
            if move.statuses is not None:
                condition &= Q(status__in=sorted(move.statuses))
            whens.append(When(condition, then=F(field) * move.sign))
        sums[part] = Coalesce(
            Sum(
                Case(
                    *whens,
                    default=Value(Decimal(0)),
                    output_field=DecimalField(max_digits=16, decimal_places=2),
                )
            ),
            Value(Decimal(0)),
            output_field=DecimalField(max_digits=16, decimal_places=2),
        )
    totals = LedgerEntry.objects.filter(merchant=merchant).aggregate(**sums)
    free, pay = Decimal(totals["free"]), Decimal(totals["pay"])
    return {"free_coin": free, "pay_coin": pay, "total_coin": free + pay}


def reconcile(*, merchant: Merchant) -> dict:
    """Local ledger vs WeChat's getcoinsinfo; a difference is flagged."""
    ledger_sync(merchant=merchant)
    account = coin_balance_refresh(merchant=merchant)
    local = ledger_local_balance(merchant=merchant)
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
        "checked_at": timezone.now(),
    }
