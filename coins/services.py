"""Writes for coins and stock (SPEC §5). Money moves here: every step is claimed by a
conditional UPDATE, every movement leaves a CoinEvent, and a call whose answer was
lost is settled by reading WeChat, never by sending it again.
"""

from __future__ import annotations

import logging
import math
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import close_old_connections, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

import wechat
from cards import rules
from cards.models import CardEvent, CardStatus, FriendCard
from portal.models import Merchant
from wechat import errors as wx
from wechat.api.coin import OrderInfo

from .models import CoinAccount, CoinEvent, LedgerEntry, Recharge, StockOrder

log = logging.getLogger(__name__)

QUOTE_SECONDS = 60  # SPEC §5: a quote works once, within 60 s
MAX_QUANTITY = rules.MAX_STOCK_QUANTITY
MAX_RECHARGE = 100_000
# Recharge polling: quick at first, slower later (seconds after each poll).
POLL_SCHEDULE = (2, 2, 2, 3, 3, 5, 5, 10, 10, 15, 30, 60)
PAID = {"ORDER_STATUS_SUCC", "ORDER_STATUS_FINANCE_SUCC", "ORDER_STATUS_HAS_RECEIPT"}
UNPAID = {"ORDER_STATUS_ROLLBACK", "ORDER_STATUS_HAS_REFUND"}
NOT_ACTIVATED = 43008


def _event(merchant, kind, *, actor=None, stock_order=None, recharge=None, message="",
           answer=None, source="portal") -> CoinEvent:  # fmt: skip
    return CoinEvent.objects.create(
        merchant=merchant, kind=kind, actor=actor, stock_order=stock_order,
        recharge=recharge, message=message, wechat_answer=answer, source=source,
    )  # fmt: skip


def _client(merchant: Merchant):
    return wechat.for_merchant(merchant)


# --- input ---------------------------------------------------------------------------
def parse_quantity(value) -> int:
    """A stock quantity typed by a user: a whole number from 1 to 100,000,000."""
    text = str(value if value is not None else "").strip()
    if not text.isdigit():
        raise ValidationError(
            {"quantity": _("Enter the number of units as a whole number, like 100.")},
            code="not_a_number",
        )
    quantity = int(text)
    if not 1 <= quantity <= MAX_QUANTITY:
        raise ValidationError(
            {
                "quantity": _("Buy from 1 to %(max)s units at a time.")
                % {"max": f"{MAX_QUANTITY:,}"}
            },
            code="out_of_range",
        )
    return quantity


def parse_coin_count(value) -> int:
    """Coins to recharge (1 coin = 1 yuan): a whole number from 1 to 100,000."""
    text = str(value if value is not None else "").strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_RECHARGE:
        raise ValidationError(
            {
                "coin_count": _("Recharge a whole number of coins from 1 to %(max)s.")
                % {"max": f"{MAX_RECHARGE:,}"}
            },
            code="out_of_range",
        )
    return int(text)


# --- account and balance ----------------------------------------------------------------
def coin_account_activate(*, merchant: Merchant, actor=None) -> CoinAccount:
    """card/pay/activate (once per appid; 200 free coins the first time)."""
    reward = _client(merchant).coin.activate()
    account, _created = CoinAccount.objects.get_or_create(merchant=merchant)
    activated = CoinAccount.objects.filter(
        pk=account.pk, activated_at__isnull=True
    ).update(activated_at=timezone.now())
    if activated:
        _event(merchant, CoinEvent.Kind.ACTIVATED, actor=actor, answer={"reward": str(reward)},
               message=_("%(reward)s free coins") % {"reward": reward})  # fmt: skip
    return coin_balance_refresh(merchant=merchant)


def coin_balance_refresh(*, merchant: Merchant) -> CoinAccount:
    """getcoinsinfo → the cached balance (an account WeChat says is not open stays so)."""
    account, _created = CoinAccount.objects.get_or_create(merchant=merchant)
    try:
        balance = _client(merchant).coin.coins_info()
    except wx.WeChatError as exc:
        if exc.errcode == NOT_ACTIVATED:
            CoinAccount.objects.filter(pk=account.pk).update(activated_at=None)
            account.refresh_from_db()
            return account
        raise
    CoinAccount.objects.filter(pk=account.pk).update(
        free_coin=balance.free_coin,
        pay_coin=balance.pay_coin,
        total_coin=balance.total_coin,
        balance_at=timezone.now(),
        activated_at=account.activated_at or timezone.now(),
    )
    account.refresh_from_db()
    return account


def _refresh_quietly(merchant: Merchant) -> None:
    try:
        coin_balance_refresh(merchant=merchant)
    except wx.WeChatError as exc:
        log.warning("balance refresh for %s failed: %s", merchant.appid, exc)


# --- stock orders: quote → confirm ---------------------------------------------------------
def stock_order_quote(
    *, merchant: Merchant, card: FriendCard, quantity, actor=None
) -> StockOrder:
    """card/pay/getpayprice: a quote valid 60 s, recorded with its deadline."""
    quantity = parse_quantity(quantity)
    if card.merchant_id != merchant.pk:
        raise ValidationError({"card": _("This card belongs to another merchant.")})
    if card.status != CardStatus.APPROVED or not card.card_id:
        raise ValidationError(
            {"card": _("Stock can be bought only for an approved card.")}
        )
    quote = _client(merchant).coin.get_pay_price(card.card_id, quantity)
    now = timezone.now()
    order = StockOrder.objects.create(
        merchant=merchant, card=card, quantity=quantity, quote_id=quote.order_id,
        price=quote.price, free_coin=quote.free_coin, pay_coin=quote.pay_coin,
        quoted_at=now, expires_at=now + timedelta(seconds=QUOTE_SECONDS), created_by=actor,
    )  # fmt: skip
    _event(merchant, CoinEvent.Kind.QUOTED, actor=actor, stock_order=order,
           answer={"price": str(quote.price), "free_coin": str(quote.free_coin),
                   "pay_coin": str(quote.pay_coin)})  # fmt: skip
    from .tasks import expire_stock_order

    # The deadline lives in the database; this task only moves the state on time
    # (and the beat sweep catches it if the task is lost).
    transaction.on_commit(
        lambda: expire_stock_order.apply_async((order.pk,), countdown=QUOTE_SECONDS + 1)
    )
    return order


def stock_order_requote(*, order: StockOrder, actor=None) -> StockOrder:
    """A new quote for the same card and quantity (one click after an expiry)."""
    return stock_order_quote(
        merchant=order.merchant, card=order.card, quantity=order.quantity, actor=actor
    )


def stock_order_confirm_request(*, order: StockOrder, actor=None) -> StockOrder:
    """The merchant's click: hand the confirm to a task, once. A second click (or a
    click on an expired quote) changes nothing."""
    now = timezone.now()
    if order.expires_at <= now:
        stock_orders_expire_due(order_ids=[order.pk])
        order.refresh_from_db()
        return order
    requested = StockOrder.objects.filter(
        pk=order.pk, status=StockOrder.Status.QUOTED, confirm_requested_at__isnull=True,
        expires_at__gt=now,
    ).update(confirm_requested_at=now)  # fmt: skip
    if requested:
        _event(
            order.merchant,
            CoinEvent.Kind.CONFIRM_REQUESTED,
            actor=actor,
            stock_order=order,
        )
        from .tasks import confirm_stock_order

        transaction.on_commit(lambda: confirm_stock_order.delay(order.pk))
    order.refresh_from_db()
    return order


def stock_order_confirm(*, order_id: int) -> str:
    """The confirm task: card/pay/confirm exactly once per quote.

    Claimed by ``QUOTED → CONFIRMING`` while the quote is valid: a retried task, a
    second worker or a second click finds nothing to claim and returns.
    """
    claimed = StockOrder.objects.filter(
        pk=order_id, status=StockOrder.Status.QUOTED, expires_at__gt=timezone.now()
    ).update(status=StockOrder.Status.CONFIRMING)
    order = StockOrder.objects.select_related("merchant", "card").get(pk=order_id)
    if not claimed:
        if order.status == StockOrder.Status.QUOTED:  # past its deadline
            stock_orders_expire_due(order_ids=[order_id])
            order.refresh_from_db()
        return order.status
    try:
        _client(order.merchant).coin.confirm(
            order.card.card_id, order.quote_id, order.quantity
        )
    except wx.TransportError as exc:  # UnknownOutcome included: the answer was lost
        _move(order, StockOrder.Status.UNKNOWN, from_=(StockOrder.Status.CONFIRMING,),
              error=exc.message)  # fmt: skip
        _event(
            order.merchant,
            CoinEvent.Kind.CONFIRM_UNKNOWN,
            stock_order=order,
            message=exc.message,
        )
        from .tasks import settle_stock_order

        settle_stock_order.apply_async((order_id,), countdown=2)
        return StockOrder.Status.UNKNOWN
    except wx.WeChatError as exc:
        return _confirm_refused(order, exc)
    _confirmed(order, source="confirm")
    return StockOrder.Status.CONFIRMED


def _confirm_refused(order: StockOrder, exc: wx.WeChatError) -> str:
    if exc.errcode == 40099:
        # "Already used": our earlier confirm went through and its answer was lost.
        _move(order, StockOrder.Status.UNKNOWN, from_=(StockOrder.Status.CONFIRMING,))
        return stock_order_settle(order_id=order.pk)
    if exc.errcode == 40079:
        status, message = (
            StockOrder.Status.EXPIRED,
            _(
                "WeChat says the quote has expired (quotes last 60 seconds). Get a new quote."
            ),
        )
    elif exc.errcode == 40202:
        status, message = (
            StockOrder.Status.FAILED,
            _("There are not enough coins for this stock: recharge first."),
        )
    else:
        status, message = StockOrder.Status.FAILED, exc.message
    _move(order, status, from_=(StockOrder.Status.CONFIRMING,), error=message,
          errcode=exc.errcode)  # fmt: skip
    _event(order.merchant, CoinEvent.Kind.CONFIRM_REFUSED, stock_order=order, message=message,
           answer={"errcode": exc.errcode, "errmsg": exc.errmsg})  # fmt: skip
    return status


def _move(order, status, *, from_, error="", errcode=None) -> bool:
    return bool(
        StockOrder.objects.filter(pk=order.pk, status__in=from_).update(
            status=status, error=error[:300], errcode=errcode
        )
    )


def _confirmed(order: StockOrder, *, source: str) -> bool:
    """Record the stock WeChat added, once: the card's stock grows in the same
    transaction as the order's state."""
    with transaction.atomic():
        moved = StockOrder.objects.filter(
            pk=order.pk,
            status__in=[StockOrder.Status.CONFIRMING, StockOrder.Status.UNKNOWN],
        ).update(
            status=StockOrder.Status.CONFIRMED, confirmed_at=timezone.now(), error=""
        )
        if not moved:
            return False
        FriendCard.objects.filter(pk=order.card_id).update(
            quantity=F("quantity") + order.quantity,
            total_quantity=F("total_quantity") + order.quantity,
        )
        CardEvent.objects.create(
            card_id=order.card_id, kind=CardEvent.Kind.STOCK_ADDED, source=source,
            message=_("%(quantity)s units for %(price)s coins") % {
                "quantity": order.quantity, "price": order.price},
        )  # fmt: skip
        _event(order.merchant, CoinEvent.Kind.CONFIRMED, stock_order=order, source=source,
               message=_("%(quantity)s units for %(price)s coins") % {
                   "quantity": order.quantity, "price": order.price})  # fmt: skip
    transaction.on_commit(lambda: _refresh_quietly(order.merchant))
    return True


def stock_order_settle(*, order_id: int) -> str:
    """A confirm whose answer was lost: read WeChat's ledger (getorder on the quote's
    order id) and record what happened. Never confirms again."""
    order = StockOrder.objects.select_related("merchant", "card").get(pk=order_id)
    if order.status != StockOrder.Status.UNKNOWN:
        return order.status
    try:
        info = _client(order.merchant).coin.get_order(order.quote_id)
    except wx.TransportError:
        return StockOrder.Status.UNKNOWN  # still unknown; the beat sweep asks again
    except wx.WeChatError as exc:
        if exc.errcode != 40071:
            raise
        info = None  # WeChat has no such order: the confirm never happened
    if info is not None and info.status == "ORDER_STATUS_QUANTITY_SUCC":
        _confirmed(order, source="settled")
        return StockOrder.Status.CONFIRMED
    message = _("WeChat did not add the stock. Get a new quote to try again.")
    if _move(
        order,
        StockOrder.Status.FAILED,
        from_=(StockOrder.Status.UNKNOWN,),
        error=message,
    ):
        _event(order.merchant, CoinEvent.Kind.CONFIRM_REFUSED, stock_order=order,
               message=message, source="settled")  # fmt: skip
    return StockOrder.Status.FAILED


def stock_orders_expire_due(*, order_ids=None) -> int:
    """Quotes past their 60 s, never confirmed, are expired (the state only)."""
    due = StockOrder.objects.filter(
        status=StockOrder.Status.QUOTED, expires_at__lte=timezone.now()
    )
    if order_ids is not None:
        due = due.filter(pk__in=order_ids)
    expired = 0
    for order in due.select_related("merchant")[:1000]:
        if _move(order, StockOrder.Status.EXPIRED, from_=(StockOrder.Status.QUOTED,),
                 error=_("The quote expired (quotes last 60 seconds). Get a new quote.")):  # fmt: skip
            _event(
                order.merchant,
                CoinEvent.Kind.EXPIRED,
                stock_order=order,
                source="clock",
            )
            expired += 1
    return expired


def stock_orders_settle_unknown(*, older_than_seconds: int = 20) -> int:
    """Beat: settle confirms still unknown (and confirms stuck in flight)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    StockOrder.objects.filter(
        status=StockOrder.Status.CONFIRMING,
        confirm_requested_at__lt=cutoff - timedelta(minutes=2),
    ).update(status=StockOrder.Status.UNKNOWN)
    settled = 0
    for pk in StockOrder.objects.filter(status=StockOrder.Status.UNKNOWN).values_list(
        "pk", flat=True
    )[:200]:
        if stock_order_settle(order_id=pk) != StockOrder.Status.UNKNOWN:
            settled += 1
    return settled


# --- recharges ----------------------------------------------------------------------------
def recharge_create(*, merchant: Merchant, coin_count, actor=None) -> Recharge:
    """card/pay/recharge → a WeChat Pay order whose QR code the merchant scans."""
    coin_count = parse_coin_count(coin_count)
    order = _client(merchant).coin.recharge(coin_count)
    recharge = Recharge.objects.create(
        merchant=merchant, order_id=order.order_id, coin_count=coin_count,
        qrcode_url=order.qrcode_url, next_poll_at=timezone.now() + timedelta(seconds=POLL_SCHEDULE[0]),
        created_by=actor,
    )  # fmt: skip
    _event(merchant, CoinEvent.Kind.RECHARGE_CREATED, actor=actor, recharge=recharge,
           answer={"order_id": order.order_id})  # fmt: skip
    return recharge


def recharge_settle(
    *, recharge: Recharge, wechat_status: str, source: str, refresh: bool = True
) -> bool:
    """Record a paid or failed recharge exactly once (whoever learns it first: the
    poller or the card_pay_order event). Returns True when this call settled it.
    ``refresh=False``: the caller refreshes the balance once for many."""
    if wechat_status in PAID:
        status, kind = Recharge.Status.PAID, CoinEvent.Kind.RECHARGE_PAID
    elif wechat_status in UNPAID:
        status, kind = Recharge.Status.FAILED, CoinEvent.Kind.RECHARGE_FAILED
    else:
        return False
    with transaction.atomic():
        settled = Recharge.objects.filter(
            pk=recharge.pk, status__in=[Recharge.Status.WAITING, Recharge.Status.ABANDONED]
        ).update(status=status, wechat_status=wechat_status, settled_at=timezone.now(),
                 settled_by=source, next_poll_at=None)  # fmt: skip
        if settled:
            _event(recharge.merchant, kind, recharge=recharge, source=source,
                   answer={"status": wechat_status})  # fmt: skip
    if settled and status == Recharge.Status.PAID and refresh:
        transaction.on_commit(lambda: _refresh_quietly(recharge.merchant))
    return bool(settled)


BALANCE_REFRESH_WINDOW = 2  # seconds


def schedule_balance_refresh(merchant: Merchant) -> None:
    """One getcoinsinfo for a burst of coin events: the first event of a window
    schedules a refresh at its end, which sees every movement WeChat pushed by then."""
    from django.core.cache import cache

    from .tasks import refresh_balance

    if cache.add(f"coins:balance-refresh:{merchant.pk}", 1, BALANCE_REFRESH_WINDOW):
        transaction.on_commit(
            lambda: refresh_balance.apply_async(
                (merchant.pk,), countdown=BALANCE_REFRESH_WINDOW
            )
        )


def _give_up_after() -> timedelta:
    return timedelta(seconds=getattr(settings, "RECHARGE_POLL_GIVE_UP_SECONDS", 1800))


def recharge_poll(recharge: Recharge, *, refresh: bool = True) -> str:
    """Ask WeChat (getorder) about one waiting recharge; settle it or plan the next
    poll with back-off; give up after RECHARGE_POLL_GIVE_UP_SECONDS."""
    try:
        info = _client(recharge.merchant).coin.get_order(recharge.order_id)
    except wx.WeChatError as exc:
        log.warning("getorder %s failed: %s", recharge.order_id, exc)
        info = None
    return _after_poll(recharge, info.status if info else None, refresh=refresh)


def _after_poll(recharge: Recharge, wechat_status: str | None, *, refresh: bool) -> str:
    """Settle on WeChat's answer, or give up, or plan the next poll (back-off)."""
    if wechat_status and recharge_settle(
        recharge=recharge, wechat_status=wechat_status, source="poll", refresh=refresh
    ):
        return wechat_status
    now = timezone.now()
    if now - recharge.created_at > _give_up_after():
        with transaction.atomic():
            if Recharge.objects.filter(pk=recharge.pk, status=Recharge.Status.WAITING).update(
                status=Recharge.Status.ABANDONED, settled_at=now, settled_by="poll", next_poll_at=None
            ):  # fmt: skip
                _event(
                    recharge.merchant,
                    CoinEvent.Kind.RECHARGE_ABANDONED,
                    recharge=recharge,
                    source="poll",
                )
        return "abandoned"
    step = POLL_SCHEDULE[min(recharge.poll_count, len(POLL_SCHEDULE) - 1)]
    Recharge.objects.filter(pk=recharge.pk, status=Recharge.Status.WAITING).update(
        poll_count=F("poll_count") + 1, next_poll_at=now + timedelta(seconds=step)
    )
    return wechat_status or "error"


BULK_POLL_MIN = 5  # this many due recharges of one merchant: one getorderlist walk


def _poll_bulk(recharges: list[Recharge]) -> None:
    """Many waiting recharges of one merchant: read their statuses from the ledger
    (getorderlist, 50 a call) instead of one getorder each."""
    merchant = recharges[0].merchant
    since = min(r.created_at for r in recharges) - timedelta(minutes=1)
    statuses: dict[str, str] = {}
    try:
        offset, client = 0, _client(merchant)
        while True:
            page = client.coin.get_order_list(
                offset=offset, count=50, order_type="ORDER_TYPE_WXPAY", ascending=True,
                begin_time=int(since.timestamp()),
            )  # fmt: skip
            statuses.update((o.order_id, o.status) for o in page.orders)
            offset += len(page.orders)
            if not page.orders or offset >= page.total:
                break
    except wx.WeChatError as exc:
        log.warning("getorderlist for %s failed: %s", merchant.appid, exc)
    # The walk tells about every waiting recharge in it, due or not: settle them all.
    settled = recharges_settle_many(merchant=merchant, statuses=statuses, source="poll")
    for recharge in recharges:
        if recharge.order_id not in settled:
            _after_poll(recharge, None, refresh=False)


def recharges_settle_many(
    *, merchant: Merchant, statuses: dict[str, str], source: str
) -> set[str]:
    """recharge_settle for many at once (one transaction, one UPDATE per outcome);
    returns the order ids this call settled. Exactly once, as for one."""
    outcomes = {
        Recharge.Status.PAID: (CoinEvent.Kind.RECHARGE_PAID, [o for o, s in statuses.items() if s in PAID]),
        Recharge.Status.FAILED: (CoinEvent.Kind.RECHARGE_FAILED, [o for o, s in statuses.items() if s in UNPAID]),
    }  # fmt: skip
    done: set[str] = set()
    now = timezone.now()
    with transaction.atomic():
        for status, (kind, order_ids) in outcomes.items():
            if not order_ids:
                continue
            open_ = Recharge.objects.filter(
                merchant=merchant, order_id__in=order_ids,
                status__in=[Recharge.Status.WAITING, Recharge.Status.ABANDONED],
            )  # fmt: skip
            rows = list(open_.select_for_update().values_list("pk", "order_id"))
            if not rows:
                continue
            by_wechat_status: dict[str, list[int]] = {}
            for pk, order_id in rows:
                by_wechat_status.setdefault(statuses[order_id], []).append(pk)
            for wechat_status, pks in by_wechat_status.items():
                Recharge.objects.filter(pk__in=pks).update(
                    status=status, wechat_status=wechat_status, settled_at=now,
                    settled_by=source, next_poll_at=None,
                )  # fmt: skip
            CoinEvent.objects.bulk_create(
                CoinEvent(merchant=merchant, kind=kind, recharge_id=pk, source=source,
                          wechat_answer={"status": statuses[order_id]})
                for pk, order_id in rows
            )  # fmt: skip
            done.update(order_id for _, order_id in rows)
    return done


def recharges_poll_due(*, limit: int = 2000, threads: int = 16) -> int:
    """Beat: poll every waiting recharge whose time has come, in parallel.

    Each one is claimed first (its next poll moved on by a conditional update), so
    two overlapping beats never ask WeChat twice about the same recharge.
    """
    now = timezone.now()
    due = list(
        Recharge.objects.filter(status=Recharge.Status.WAITING, next_poll_at__lte=now)
        .order_by("next_poll_at")
        .values_list("pk", flat=True)[:limit]
    )
    if not due:
        return 0
    # One conditional UPDATE claims them all, marked with a lease of our own.
    lease = now + timedelta(
        seconds=settings.RECHARGE_POLL_LEASE_SECONDS,
        microseconds=secrets.randbelow(999_999),
    )
    Recharge.objects.filter(
        pk__in=due, status=Recharge.Status.WAITING, next_poll_at__lte=now
    ).update(next_poll_at=lease)
    claimed = list(
        Recharge.objects.select_related("merchant").filter(
            pk__in=due, status=Recharge.Status.WAITING, next_poll_at=lease
        )
    )
    by_merchant: dict[int, list[Recharge]] = {}
    for recharge in claimed:
        by_merchant.setdefault(recharge.merchant_id, []).append(recharge)
    jobs: list = []
    for group in by_merchant.values():
        if len(group) >= BULK_POLL_MIN:
            jobs.append((_poll_bulk, group))
        else:
            jobs.extend((_poll_one, recharge) for recharge in group)

    def run(job):
        fn, arg = job
        try:
            fn(arg)
        finally:
            close_old_connections()

    if len(jobs) <= 1 or threads <= 1:
        for fn, arg in jobs:
            fn(arg)
    else:
        with ThreadPoolExecutor(max_workers=min(threads, len(jobs))) as pool:
            list(pool.map(run, jobs))
    for group in by_merchant.values():  # one balance read per merchant that got paid
        if _settled_pks(group):
            _refresh_quietly(group[0].merchant)
    return len(claimed)


def _poll_one(recharge: Recharge) -> None:
    recharge_poll(recharge, refresh=False)


def _settled_pks(group: list[Recharge]) -> set[int]:
    return set(
        Recharge.objects.filter(
            pk__in=[r.pk for r in group], status=Recharge.Status.PAID
        ).values_list("pk", flat=True)
    )


# --- ledger ------------------------------------------------------------------------------
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
    """One local row per WeChat order: new ones created, changed ones updated."""
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
    return len(new) + changed


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
    client = _client(merchant)
    begin = int(since.timestamp())
    offset, written = 0, 0
    while True:
        # No end_time: WeChat's own "now" ends the window.
        page = client.coin.get_order_list(
            offset=offset, count=50, ascending=True, begin_time=begin
        )
        written += ledger_upsert(merchant=merchant, orders=page.orders)
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


# --- events ---------------------------------------------------------------------------------
def on_card_pay_order(*, merchant: Merchant, payload: dict) -> None:
    """card_pay_order (SPEC §10): settles a recharge or an unknown confirm sooner, and
    records the order in the ledger."""
    order_id = str(payload.get("OrderId", ""))
    status = str(payload.get("Status", ""))
    order_type = str(payload.get("OrderType", ""))
    if not order_id:
        return
    info = OrderInfo.from_wechat(
        {
            "order_id": order_id, "status": status, "order_type": order_type,
            "create_time": payload.get("CreateOrderTime"),
            "pay_finish_time": payload.get("PayFinishTime"), "desc": payload.get("Desc", ""),
            "free_coin_count": payload.get("FreeCoinCount"),
            "pay_coin_count": payload.get("PayCoinCount"),
            "refund_free_coin_count": payload.get("RefundFreeCoinCount"),
            "refund_pay_coin_count": payload.get("RefundPayCoinCount"),
        }
    )  # fmt: skip
    ledger_upsert(merchant=merchant, orders=[info])
    recharge = Recharge.objects.filter(merchant=merchant, order_id=order_id).first()
    if recharge is not None:
        if recharge_settle(
            recharge=recharge, wechat_status=status, source="event", refresh=False
        ):
            schedule_balance_refresh(merchant)
        return
    order = StockOrder.objects.filter(merchant=merchant, quote_id=order_id).first()
    if (
        order is not None
        and status == "ORDER_STATUS_QUANTITY_SUCC"
        and order.status in (StockOrder.Status.UNKNOWN, StockOrder.Status.CONFIRMING)
    ):
        _confirmed(order, source="event")
    schedule_balance_refresh(merchant)


# --- what the pages show --------------------------------------------------------------------
def shortfall(*, order: StockOrder) -> Decimal:
    """Coins missing for this order (0 when the balance covers it)."""
    account = CoinAccount.objects.filter(merchant=order.merchant).first()
    total = account.total_coin if account else Decimal(0)
    return max(Decimal(0), order.price - total)


def coins_to_recharge(missing: Decimal) -> int:
    """Whole coins to recharge for a shortfall (1 coin = 1 yuan, rounded up)."""
    return max(1, math.ceil(missing)) if missing > 0 else 0


def seconds_left(order: StockOrder, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return max(0, int((order.expires_at - now).total_seconds()))


def ledger_local_balance(*, merchant: Merchant) -> dict[str, Decimal]:
    """The balance the local ledger adds up to (free, pay, total)."""
    from django.db.models import Sum

    def total(expr, **filters):
        return LedgerEntry.objects.filter(merchant=merchant, **filters).aggregate(
            v=Sum(expr)
        )["v"] or Decimal(0)

    T = LedgerEntry.OrderType
    paid = [
        "ORDER_STATUS_SUCC",
        "ORDER_STATUS_FINANCE_SUCC",
        "ORDER_STATUS_HAS_RECEIPT",
    ]
    free = (
        total(
            "free_coin_count", order_type=T.SYS_ADD, status="ORDER_STATUS_FINANCE_SUCC"
        )
        - total(
            "free_coin_count", order_type=T.REDUCE, status="ORDER_STATUS_QUANTITY_SUCC"
        )
        + total("refund_free_coin_count", order_type=T.REFUND)
        - total("free_coin_count", order_type=T.SYS_REDUCE)
    )
    pay = (
        total("pay_coin_count", order_type=T.WXPAY, status__in=paid)
        - total(
            "pay_coin_count", order_type=T.REDUCE, status="ORDER_STATUS_QUANTITY_SUCC"
        )
        + total("refund_pay_coin_count", order_type=T.REFUND)
        - total("pay_coin_count", order_type=T.SYS_REDUCE)
    )
    return {"free_coin": free, "pay_coin": pay, "total_coin": free + pay}


def reconcile(*, merchant: Merchant) -> dict:
    """Local ledger vs WeChat's getcoinsinfo; a difference is flagged."""
    ledger_sync(merchant=merchant)
    account = coin_balance_refresh(merchant=merchant)
    local = ledger_local_balance(merchant=merchant)
    remote = {"free_coin": account.free_coin, "pay_coin": account.pay_coin,
              "total_coin": account.total_coin}  # fmt: skip
    diff = {k: remote[k] - local[k] for k in local}
    return {"local": local, "wechat": remote, "difference": diff,
            "matches": all(v == 0 for v in diff.values()), "checked_at": timezone.now()}  # fmt: skip
