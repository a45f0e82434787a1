"""Recharges (SPEC §5): a WeChat Pay order for coins, recorded before it is asked
for, polled with back-off until paid, failed or abandoned, settled exactly once —
and only on WeChat's own answer to a read (getorder, getorderlist), never on a push.
"""

from __future__ import annotations

import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from portal.models import Merchant
from wechat import errors as wx
from wechat.api.coin import OrderInfo

from ..models import CoinEvent, Problem, Recharge
from .account import refresh_quietly
from .common import (
    IN_FLIGHT_STUCK,
    client_for,
    coin_event,
    parse_coin_count,
    unknown_margin,
)

log = logging.getLogger("coins")

R = Recharge.Status
# Recharge polling: quick at first, slower later (seconds after each poll).
POLL_SCHEDULE = (2, 2, 2, 3, 3, 5, 5, 10, 10, 15, 30, 60)
PAID = {"ORDER_STATUS_SUCC", "ORDER_STATUS_FINANCE_SUCC", "ORDER_STATUS_HAS_RECEIPT"}
UNPAID = {"ORDER_STATUS_ROLLBACK", "ORDER_STATUS_HAS_REFUND"}
WXPAY = "ORDER_TYPE_WXPAY"
BULK_POLL_MIN = 5  # this many due recharges of one merchant: one getorderlist walk
OPEN = (R.WAITING, R.ABANDONED)  # what a paid or failed answer may still settle


def _give_up_after() -> timedelta:
    return timedelta(seconds=getattr(settings, "RECHARGE_POLL_GIVE_UP_SECONDS", 1800))


# --- create ----------------------------------------------------------------------------------
def recharge_create(*, merchant: Merchant, coin_count, actor=None) -> Recharge:
    """card/pay/recharge → a WeChat Pay order whose QR code the merchant scans.

    The recharge is recorded (``sending``) before WeChat is asked. A lost answer
    leaves it ``unknown``: the poller then finds WeChat's order in getorderlist, or
    proves there is none — it never asks WeChat for a second order.
    Raises WeChatError when WeChat refused (the recharge is kept, failed).
    """
    coin_count = parse_coin_count(coin_count)
    recharge = Recharge.objects.create(
        merchant=merchant,
        coin_count=coin_count,
        status=R.SENDING,
        sent_at=timezone.now(),
        created_by=actor,
    )
    try:
        order = client_for(merchant).coin.recharge(coin_count)
    except wx.UnknownOutcome:
        _became_unknown(recharge)
        recharge.refresh_from_db()
        return recharge
    except wx.WeChatError as exc:  # refused, or never reached WeChat
        problem = Problem.NOT_SENT if exc.errcode is None else Problem.REFUSED
        Recharge.objects.filter(pk=recharge.pk, status=R.SENDING).update(
            status=R.FAILED,
            problem=problem,
            errcode=exc.errcode,
            settled_at=timezone.now(),
            settled_by="portal",
        )
        raise
    now = timezone.now()
    Recharge.objects.filter(pk=recharge.pk, status=R.SENDING).update(
        status=R.WAITING,
        order_id=order.order_id,
        qrcode_url=order.qrcode_url,
        next_poll_at=now + timedelta(seconds=POLL_SCHEDULE[0]),
    )
    coin_event(
        merchant,
        CoinEvent.Kind.RECHARGE_CREATED,
        actor=actor,
        recharge=recharge,
        answer={"order_id": order.order_id},
    )
    recharge.refresh_from_db()
    return recharge


def _became_unknown(recharge: Recharge, *, first_poll: float = 2) -> None:
    if Recharge.objects.filter(pk=recharge.pk, status=R.SENDING).update(
        status=R.UNKNOWN, next_poll_at=timezone.now() + timedelta(seconds=first_poll)
    ):
        coin_event(
            recharge.merchant,
            CoinEvent.Kind.RECHARGE_UNKNOWN,
            recharge=recharge,
            message=str(wx.UnknownOutcome().message),
        )


# --- settle ----------------------------------------------------------------------------------
def recharge_settle(
    *, recharge: Recharge, wechat_status: str, source: str, refresh: bool = True
) -> bool:
    """Record a paid or failed recharge exactly once, on WeChat's answer to a read.
    Returns True when this call settled it. ``refresh=False``: the caller refreshes
    the balance once for many."""
    if wechat_status in PAID:
        status, kind = R.PAID, CoinEvent.Kind.RECHARGE_PAID
    elif wechat_status in UNPAID:
        status, kind = R.FAILED, CoinEvent.Kind.RECHARGE_FAILED
    else:
        return False
    with transaction.atomic():
        settled = Recharge.objects.filter(pk=recharge.pk, status__in=OPEN).update(
            status=status,
            wechat_status=wechat_status,
            settled_at=timezone.now(),
            settled_by=source,
            next_poll_at=None,
        )
        if settled:
            coin_event(
                recharge.merchant,
                kind,
                recharge=recharge,
                source=source,
                answer={"status": wechat_status},
            )
            log.info(
                "recharge %s of %s: %s coins %s (%s)",
                recharge.pk,
                recharge.merchant.appid,
                recharge.coin_count,
                status,
                source,
            )
    if settled and status == R.PAID and refresh:
        transaction.on_commit(lambda: refresh_quietly(recharge.merchant))
    return bool(settled)


def recharges_settle_many(
    *, merchant: Merchant, statuses: dict[str, str], source: str
) -> set[str]:
    """recharge_settle for many at once (one transaction, one UPDATE per outcome);
    returns the order ids this call settled. Exactly once, as for one."""
    outcomes = {
        R.PAID: (CoinEvent.Kind.RECHARGE_PAID, PAID),
        R.FAILED: (CoinEvent.Kind.RECHARGE_FAILED, UNPAID),
    }
    done: set[str] = set()
    now = timezone.now()
    with transaction.atomic():
        for status, (kind, wechat_statuses) in outcomes.items():
            order_ids = [o for o, s in statuses.items() if s in wechat_statuses]
            if not order_ids:
                continue
            open_ = Recharge.objects.filter(
                merchant=merchant, order_id__in=order_ids, status__in=OPEN
            )
            rows = list(open_.select_for_update().values_list("pk", "order_id"))
            if not rows:
                continue
            by_wechat_status: dict[str, list[int]] = {}
            for pk, order_id in rows:
                by_wechat_status.setdefault(statuses[order_id], []).append(pk)
            for wechat_status, pks in by_wechat_status.items():
                Recharge.objects.filter(pk__in=pks, status__in=OPEN).update(
                    status=status,
                    wechat_status=wechat_status,
                    settled_at=now,
                    settled_by=source,
                    next_poll_at=None,
                )
            CoinEvent.objects.bulk_create(
                CoinEvent(
                    merchant=merchant,
                    kind=kind,
                    recharge_id=pk,
                    source=source,
                    wechat_answer={"status": statuses[order_id]},
                )
                for pk, order_id in rows
            )
            done.update(order_id for _, order_id in rows)
            log.info(
                "%s recharges of %s %s (%s)", len(rows), merchant.appid, status, source
            )
    return done


# --- poll ------------------------------------------------------------------------------------
def recharge_poll(recharge: Recharge, *, refresh: bool = True) -> str:
    """Ask WeChat (getorder) about one waiting recharge; settle it or plan the next
    poll with back-off; give up after RECHARGE_POLL_GIVE_UP_SECONDS."""
    try:
        info = client_for(recharge.merchant).coin.get_order(recharge.order_id)
    except wx.WeChatError as exc:
        log.warning("getorder %s failed: %s", recharge.order_id, exc)
        info = None
    return _after_poll(recharge, info.status if info else None, refresh=refresh)


def recharge_check(*, recharge_id: int, source: str = "hint") -> bool:
    """Read one recharge's order at WeChat now, whatever its state (a push said it
    moved; an abandoned recharge paid late is still settled). True if settled."""
    recharge = Recharge.objects.select_related("merchant").get(pk=recharge_id)
    if recharge.status not in OPEN or not recharge.order_id:
        return False
    try:
        info = client_for(recharge.merchant).coin.get_order(recharge.order_id)
    except wx.WeChatError as exc:
        log.warning("getorder %s failed: %s", recharge.order_id, exc)
        return False
    return recharge_settle(recharge=recharge, wechat_status=info.status, source=source)


def _after_poll(recharge: Recharge, wechat_status: str | None, *, refresh: bool) -> str:
    """Settle on WeChat's answer, or give up, or plan the next poll (back-off)."""
    if wechat_status and recharge_settle(
        recharge=recharge, wechat_status=wechat_status, source="poll", refresh=refresh
    ):
        return wechat_status
    now = timezone.now()
    if now - recharge.created_at > _give_up_after():
        with transaction.atomic():
            if Recharge.objects.filter(pk=recharge.pk, status=R.WAITING).update(
                status=R.ABANDONED,
                settled_at=now,
                settled_by="poll",
                next_poll_at=None,
            ):
                coin_event(
                    recharge.merchant,
                    CoinEvent.Kind.RECHARGE_ABANDONED,
                    recharge=recharge,
                    source="poll",
                )
        return "abandoned"
    step = POLL_SCHEDULE[min(recharge.poll_count, len(POLL_SCHEDULE) - 1)]
    Recharge.objects.filter(pk=recharge.pk, status__in=(R.WAITING, R.UNKNOWN)).update(
        poll_count=F("poll_count") + 1, next_poll_at=now + timedelta(seconds=step)
    )
    return wechat_status or "error"


def _wxpay_orders_since(merchant: Merchant, since) -> list[OrderInfo] | None:
    """Every WeChat Pay order of the merchant created since ``since`` (getorderlist,
    50 a call, oldest first); None when WeChat could not be read."""
    orders: list[OrderInfo] = []
    try:
        offset, client = 0, client_for(merchant)
        while True:
            page = client.coin.get_order_list(
                offset=offset,
                count=50,
                order_type=WXPAY,
                ascending=True,
                begin_time=int(since.timestamp()),
            )
            orders.extend(page.orders)
            offset += len(page.orders)
            if not page.orders or offset >= page.total:
                return orders
    except wx.WeChatError as exc:
        log.warning("getorderlist for %s failed: %s", merchant.appid, exc)
        return None


def _poll_bulk(recharges: list[Recharge]) -> None:
    """Recharges of one merchant read from WeChat's ledger in one walk (many waiting
    ones, or any whose creation is unknown) instead of one getorder each."""
    merchant = recharges[0].merchant
    since = min(r.sent_at or r.created_at for r in recharges) - timedelta(minutes=1)
    orders = _wxpay_orders_since(merchant, since)
    if orders is None:
        for recharge in recharges:
            _after_poll(recharge, None, refresh=False)
        return
    unknown = [r for r in recharges if r.status == R.UNKNOWN]
    if unknown:
        _resolve_unknown(merchant, unknown, orders)
        still = set(
            Recharge.objects.filter(
                pk__in=[r.pk for r in unknown], status=R.UNKNOWN
            ).values_list("pk", flat=True)
        )
        for recharge in unknown:
            if recharge.pk in still:
                _after_poll(recharge, None, refresh=False)
    # The walk tells about every waiting recharge in it, due or not: settle them all.
    statuses = {o.order_id: o.status for o in orders}
    settled = recharges_settle_many(merchant=merchant, statuses=statuses, source="poll")
    for recharge in recharges:
        if recharge.status == R.WAITING and recharge.order_id not in settled:
            _after_poll(recharge, None, refresh=False)


def _resolve_unknown(
    merchant: Merchant, unknown: list[Recharge], orders: list[OrderInfo]
) -> None:
    """Recharges whose creation answer was lost, matched to WeChat's orders: an order
    of the same amount, created after the request was sent and known to no other
    recharge, is theirs (oldest first, one each). None after the margin: WeChat never
    created one (SPEC §5)."""
    linked = set(
        Recharge.objects.filter(
            merchant=merchant, order_id__in=[o.order_id for o in orders]
        ).values_list("order_id", flat=True)
    )
    free = [o for o in orders if o.order_id not in linked]
    now = timezone.now()
    for recharge in sorted(unknown, key=lambda r: (r.sent_at or r.created_at, r.pk)):
        sent = recharge.sent_at or recharge.created_at
        # A recharge of the same amount still being created may own the order we
        # would take: wait until its own answer is in.
        if Recharge.objects.filter(
            merchant=merchant, status=R.SENDING, coin_count=recharge.coin_count
        ).exists():
            continue
        match = next(
            (
                o
                for o in free
                if o.pay_coin_count == recharge.coin_count
                and (
                    o.create_time is None
                    or o.create_time >= sent - timedelta(minutes=1)
                )
            ),
            None,
        )
        if match is not None:
            free.remove(match)
            _link(recharge, match)
        elif now > sent + unknown_margin():
            _not_created(recharge, now)


def _not_created(recharge: Recharge, now) -> None:
    if Recharge.objects.filter(pk=recharge.pk, status=R.UNKNOWN).update(
        status=R.FAILED,
        problem=Problem.NOT_CREATED,
        settled_at=now,
        settled_by="poll",
        next_poll_at=None,
    ):
        coin_event(
            recharge.merchant,
            CoinEvent.Kind.RECHARGE_NOT_CREATED,
            recharge=recharge,
            source="poll",
            message=str(Problem.NOT_CREATED.label),
        )


def _link(recharge: Recharge, order: OrderInfo) -> None:
    """The order WeChat created for a recharge whose answer was lost: attached, then
    settled like any other (its QR code came only in the lost answer)."""
    now = timezone.now()
    if Recharge.objects.filter(pk=recharge.pk, status=R.UNKNOWN).update(
        status=R.WAITING,
        order_id=order.order_id,
        problem=Problem.QR_LOST,
        next_poll_at=now + timedelta(seconds=POLL_SCHEDULE[0]),
    ):
        recharge.status, recharge.order_id = R.WAITING, order.order_id
        coin_event(
            recharge.merchant,
            CoinEvent.Kind.RECHARGE_FOUND,
            recharge=recharge,
            source="poll",
            answer={"order_id": order.order_id, "status": order.status},
        )


def _unstick_sending(now) -> None:
    """Recharges left ``sending`` (the web process died while WeChat was asked)."""
    for recharge in Recharge.objects.select_related("merchant").filter(
        status=R.SENDING, sent_at__lt=now - IN_FLIGHT_STUCK
    )[:200]:
        _became_unknown(recharge, first_poll=0)


def recharges_poll_due(*, limit: int = 2000, threads: int = 16) -> int:
    """Beat: poll every waiting (or unknown) recharge whose time has come, in parallel.

    Each one is claimed first (its next poll moved on by a conditional update), so
    two overlapping beats never ask WeChat twice about the same recharge.
    """
    _unstick_sending(timezone.now())
    now = timezone.now()
    polled = Q(status__in=(R.WAITING, R.UNKNOWN), next_poll_at__lte=now)
    due = list(
        Recharge.objects.filter(polled)
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
    Recharge.objects.filter(polled, pk__in=due).update(next_poll_at=lease)
    claimed = list(
        Recharge.objects.select_related("merchant").filter(
            pk__in=due, status__in=(R.WAITING, R.UNKNOWN), next_poll_at=lease
        )
    )
    by_merchant: dict[int, list[Recharge]] = {}
    for recharge in claimed:
        by_merchant.setdefault(recharge.merchant_id, []).append(recharge)
    jobs: list = []
    for group in by_merchant.values():
        if len(group) >= BULK_POLL_MIN or any(r.status == R.UNKNOWN for r in group):
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
        if Recharge.objects.filter(
            pk__in=[r.pk for r in group], status=R.PAID
        ).exists():
            refresh_quietly(group[0].merchant)
    return len(claimed)


def _poll_one(recharge: Recharge) -> None:
    recharge_poll(recharge, refresh=False)


def recharges_look_now(*, merchant: Merchant, order_id: str) -> list[int]:
    """A push said order ``order_id`` moved: its recharge (and any whose creation is
    unknown) is polled at once. Returns the ids of the open recharges to read
    directly (abandoned ones are no longer polled)."""
    now = timezone.now()
    Recharge.objects.filter(
        Q(order_id=order_id, status=R.WAITING) | Q(status=R.UNKNOWN),
        merchant=merchant,
    ).update(next_poll_at=now)
    return list(
        Recharge.objects.filter(
            merchant=merchant, order_id=order_id, status=R.ABANDONED
        ).values_list("pk", flat=True)
    )
