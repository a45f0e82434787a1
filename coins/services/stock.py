"""Stock orders (SPEC §5): a 60-second quote (getpayprice), then one irreversible
confirm, whose lost answer stays *unknown* until WeChat's ledger proves it."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cards.models import CardEvent, CardStatus, FriendCard
from portal.jobs import enqueue
from portal.models import Merchant
from wechat import errors as wx

from ..models import CoinAccount, CoinEvent, Problem, StockOrder
from .account import refresh_quietly
from .common import (
    IN_FLIGHT_STUCK,
    QUOTE_SECONDS,
    client_for,
    coin_event,
    next_check_in,
    parse_quantity,
    unknown_margin,
)

log = logging.getLogger("coins")

S = StockOrder.Status
QUANTITY_SUCC = "ORDER_STATUS_QUANTITY_SUCC"
# WeChat's statuses of a REDUCE order that say the stock was not (or no longer) added.
NOT_ADDED = {"ORDER_STATUS_ROLLBACK"}


# --- quote ---------------------------------------------------------------------------
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
    quote = client_for(merchant).coin.get_pay_price(card.card_id, quantity)
    now = timezone.now()
    order = StockOrder.objects.create(
        merchant=merchant,
        card=card,
        quantity=quantity,
        quote_id=quote.order_id,
        price=quote.price,
        free_coin=quote.free_coin,
        pay_coin=quote.pay_coin,
        quoted_at=now,
        expires_at=now + timedelta(seconds=QUOTE_SECONDS),
        created_by=actor,
    )
    coin_event(
        merchant,
        CoinEvent.Kind.QUOTED,
        actor=actor,
        stock_order=order,
        answer={
            "price": str(quote.price),
            "free_coin": str(quote.free_coin),
            "pay_coin": str(quote.pay_coin),
        },
    )
    # The deadline lives in the database; this task only moves the state on time
    # (and the beat sweep catches it if the task is lost).
    enqueue("coins.expire_stock_order", order.pk, countdown=QUOTE_SECONDS + 1)
    return order


def stock_order_requote(*, order: StockOrder, actor=None) -> StockOrder:
    """A new quote for the same card and quantity (one click after an expiry)."""
    return stock_order_quote(
        merchant=order.merchant, card=order.card, quantity=order.quantity, actor=actor
    )


# --- confirm ---------------------------------------------------------------------------
def stock_order_confirm_request(*, order: StockOrder, actor=None) -> StockOrder:
    """The merchant's click: hand the confirm to a task, once. A second click (or a
    click on an expired quote) changes nothing."""
    now = timezone.now()
    if order.expires_at <= now:
        stock_orders_expire_due(order_ids=[order.pk])
        order.refresh_from_db()
        return order
    requested = StockOrder.objects.filter(
        pk=order.pk,
        status=S.QUOTED,
        confirm_requested_at__isnull=True,
        expires_at__gt=now,
    ).update(confirm_requested_at=now, problem="")
    if requested:
        coin_event(
            order.merchant,
            CoinEvent.Kind.CONFIRM_REQUESTED,
            actor=actor,
            stock_order=order,
        )
        enqueue("coins.confirm_stock_order", order.pk)
    order.refresh_from_db()
    return order


def stock_order_confirm(*, order_id: int) -> str:
    """The confirm task: card/pay/confirm at most once per quote.

    Claimed by ``QUOTED → CONFIRMING`` (with the time it is sent) while the quote is
    valid: a retried task, a second worker or a second click finds nothing to claim.
    """
    now = timezone.now()
    claimed = StockOrder.objects.filter(
        pk=order_id, status=S.QUOTED, expires_at__gt=now
    ).update(status=S.CONFIRMING, sent_at=now)
    order = StockOrder.objects.select_related("merchant", "card").get(pk=order_id)
    if not claimed:
        if order.status == S.QUOTED:  # past its deadline
            stock_orders_expire_due(order_ids=[order_id])
            order.refresh_from_db()
        return order.status
    try:
        client_for(order.merchant).coin.confirm(
            order.card.card_id, order.quote_id, order.quantity
        )
    except wx.UnknownOutcome:
        return _became_unknown(order)
    except wx.TransportError:
        # Never reached WeChat (connection refused): nothing happened, the quote
        # may be confirmed again while it lasts.
        StockOrder.objects.filter(pk=order_id, status=S.CONFIRMING).update(
            status=S.QUOTED, confirm_requested_at=None, problem=Problem.NOT_SENT
        )
        return S.QUOTED
    except wx.WeChatError as exc:
        return _confirm_refused(order, exc)
    _confirmed(order, source="confirm")
    return S.CONFIRMED


def _became_unknown(order: StockOrder, *, first_check: timedelta | None = None) -> str:
    """The answer was lost: unknown, read again with back-off (never sent again)."""
    first_check = next_check_in(0) if first_check is None else first_check
    moved = StockOrder.objects.filter(pk=order.pk, status=S.CONFIRMING).update(
        status=S.UNKNOWN,
        next_check_at=timezone.now() + first_check,
        check_count=0,
    )
    if moved:
        coin_event(
            order.merchant,
            CoinEvent.Kind.CONFIRM_UNKNOWN,
            stock_order=order,
            message=str(wx.UnknownOutcome().message),
        )
        enqueue(
            "coins.settle_stock_order", order.pk, countdown=first_check.total_seconds()
        )
    return S.UNKNOWN


def _confirm_refused(order: StockOrder, exc: wx.WeChatError) -> str:
    if exc.is_(wx.E.ALREADY_USED):
        # "Already used": only our own confirm could have used it, and its answer
        # is what we did not see. WeChat's ledger says what happened.
        _became_unknown(order)
        return stock_order_settle(order_id=order.pk)
    if exc.is_(wx.E.INVALID_TIME):
        status, problem = S.EXPIRED, Problem.WECHAT_SAYS_EXPIRED
    elif exc.is_(wx.E.NOT_ENOUGH_COINS):
        status, problem = S.FAILED, Problem.NOT_ENOUGH_COINS
    else:
        status, problem = S.FAILED, Problem.REFUSED
    if StockOrder.objects.filter(pk=order.pk, status=S.CONFIRMING).update(
        status=status, problem=problem, errcode=exc.errcode
    ):
        coin_event(
            order.merchant,
            CoinEvent.Kind.CONFIRM_REFUSED,
            stock_order=order,
            message=str(Problem(problem).label),
            answer={"errcode": exc.errcode, "errmsg": exc.errmsg},
        )
    return status


def _confirmed(order: StockOrder, *, source: str) -> bool:
    """Record the stock WeChat added, once, from whatever state the order is in (a
    success that arrives late is applied: SPEC §5). The card's stock grows in the
    same transaction as the order's state."""
    late = order.status not in (S.CONFIRMING, S.UNKNOWN)
    message = _("%(quantity)s units for %(price)s coins") % {
        "quantity": order.quantity,
        "price": order.price,
    }
    with transaction.atomic():
        moved = (
            StockOrder.objects.filter(pk=order.pk)
            .exclude(status=S.CONFIRMED)
            .update(
                status=S.CONFIRMED,
                confirmed_at=timezone.now(),
                problem="",
                error="",
                next_check_at=None,
            )
        )
        if not moved:
            return False
        FriendCard.objects.filter(pk=order.card_id).update(
            quantity=F("quantity") + order.quantity,
            total_quantity=F("total_quantity") + order.quantity,
        )
        CardEvent.objects.create(
            card_id=order.card_id,
            kind=CardEvent.Kind.STOCK_ADDED,
            source=source,
            message=message,
        )
        coin_event(
            order.merchant,
            CoinEvent.Kind.CONFIRM_LATE if late else CoinEvent.Kind.CONFIRMED,
            stock_order=order,
            source=source,
            message=message,
        )
    log.info(
        "stock order %s of %s: %s units added (%s%s)",
        order.pk,
        order.merchant.appid,
        order.quantity,
        source,
        ", late" if late else "",
    )
    transaction.on_commit(lambda: refresh_quietly(order.merchant))
    return True


# --- unknown outcomes --------------------------------------------------------------------
def stock_order_settle(*, order_id: int, hint: bool = False) -> str:
    """Read WeChat's ledger (getorder on the quote's order id) about a confirm whose
    answer was lost, and record what it proves. Never confirms again.

    An order WeChat does not have proves nothing while the quote could still be
    applied (its 60 s plus a margin): it stays unknown and is read again later.
    ``hint=True`` (a push said something about this order): the order is read
    whatever its state, and a success WeChat confirms is applied even to a failed
    or expired order.
    """
    order = StockOrder.objects.select_related("merchant", "card").get(pk=order_id)
    if order.status == S.CONFIRMED or (order.status != S.UNKNOWN and not hint):
        return order.status
    try:
        info = client_for(order.merchant).coin.get_order(order.quote_id)
    except wx.TransportError:
        return _check_later(order)
    except wx.WeChatError as exc:
        if not exc.is_(wx.E.FORMAT_ERROR):  # 40071: WeChat has no such order
            log.warning("getorder %s failed: %s", order.quote_id, exc)
            return _check_later(order)
        info = None
    if info is not None and info.status == QUANTITY_SUCC:
        _confirmed(order, source="hint" if hint else "settled")
        return S.CONFIRMED
    if order.status != S.UNKNOWN:
        return order.status  # a hint WeChat does not bear out changes nothing
    still_possible = timezone.now() < order.expires_at + unknown_margin()
    if (info is None or info.status not in NOT_ADDED) and still_possible:
        return _check_later(order)
    if StockOrder.objects.filter(pk=order.pk, status=S.UNKNOWN).update(
        status=S.FAILED, problem=Problem.NOT_APPLIED, next_check_at=None
    ):
        coin_event(
            order.merchant,
            CoinEvent.Kind.CONFIRM_REFUSED,
            stock_order=order,
            message=str(Problem.NOT_APPLIED.label),
            source="settled",
            answer={"status": info.status if info else None},
        )
    return S.FAILED


def _check_later(order: StockOrder) -> str:
    StockOrder.objects.filter(pk=order.pk, status=S.UNKNOWN).update(
        check_count=F("check_count") + 1,
        next_check_at=timezone.now() + next_check_in(order.check_count + 1),
    )
    return order.status


def stock_orders_settle_unknown(*, limit: int = 200) -> int:
    """Beat: confirms in flight too long (their worker died) become unknown; unknown
    ones whose next read is due are read. Returns how many were settled."""
    now = timezone.now()
    stuck = StockOrder.objects.filter(status=S.CONFIRMING).filter(
        Q(sent_at__lt=now - IN_FLIGHT_STUCK)
        | Q(sent_at__isnull=True, confirm_requested_at__lt=now - IN_FLIGHT_STUCK)
    )
    for order in stuck.select_related("merchant")[:limit]:
        _became_unknown(order, first_check=timedelta(0))
    now = timezone.now()
    due = StockOrder.objects.filter(status=S.UNKNOWN).filter(
        Q(next_check_at__lte=now) | Q(next_check_at__isnull=True)
    )
    settled = 0
    for pk in due.order_by("next_check_at").values_list("pk", flat=True)[:limit]:
        if stock_order_settle(order_id=pk) != S.UNKNOWN:
            settled += 1
    return settled


def stock_orders_expire_due(*, order_ids=None) -> int:
    """Quotes past their 60 s, never confirmed, are expired (the state only)."""
    due = StockOrder.objects.filter(status=S.QUOTED, expires_at__lte=timezone.now())
    if order_ids is not None:
        due = due.filter(pk__in=order_ids)
    expired = 0
    for order in due.select_related("merchant")[:1000]:
        if StockOrder.objects.filter(pk=order.pk, status=S.QUOTED).update(
            status=S.EXPIRED, problem=Problem.QUOTE_EXPIRED
        ):
            coin_event(
                order.merchant,
                CoinEvent.Kind.EXPIRED,
                stock_order=order,
                source="clock",
            )
            expired += 1
    return expired


# --- what the pages show -------------------------------------------------------------------
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
