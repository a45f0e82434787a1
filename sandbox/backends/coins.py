"""Coins (券点) and stock as WeChat keeps them (SPEC §5, §3.4, §3.6, §10).

The seven ``card/pay/…`` APIs, the payment of recharges (by the control API, the
console or the simulated payment page), the ``card_pay_order`` event pushed for every
coin movement, and the T+1 refund of an expired card's stock (a ticker hook).

Coins are yuan with two decimals, always ``Decimal``. Balances change only by
conditional UPDATEs on the coin account row, locked first (before any card row) in
every transaction that moves coins. ``ROUND(…, 2)`` around each F() sum keeps
SQLite — which stores decimals as doubles — on the exact two-decimal value, so
that a comparison such as "at least 1.8 coins" never fails by a rounding error.

One module on purpose: every function here reads or moves the same three tables
under the same locking order.
"""

from __future__ import annotations

import base64
import io
import re
import secrets
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import qrcode
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.db.models.functions import Round

from .. import exceptions as exc
from ..models import Account, Card, CoinAccount, CoinOrder, Push, Quote
from . import clock, push, rules, ticker
from .cards import TYPE_KEYS, InvalidCardId, InvalidParam

ACTIVATION_REWARD = Decimal(200)
QUOTE_TTL = 60
MAX_QUANTITY = 100_000_000
MAX_RECHARGE = 100_000
ORDER_LIST_MAX = 50
DEFAULT_LIST_DAYS = 7
REFUND_AFTER = timedelta(days=1)
# The refund scan reads card definitions: at most once per this many sandbox seconds
# (per process), since the ticker runs before every API call.
REFUND_SCAN_SECONDS = 5
PAYER_OPENID = "o_sandbox_payer"
EVENT = "card_pay_order"
PAY_URL = "weixin://wxpay/bizpayurl?pr="
# Recharge order ids look like WeChat's: this prefix, the Unix time, random digits.
ORDER_ID_PREFIX = "1000057901"

DESC_REWARD = "平台赠送"
DESC_RECHARGE = "微信支付充值"
DESC_REDUCE = "券点兑换库存"
DESC_REFUND = "库存回退券点"

_DIGITS = re.compile(r"[0-9]+")


class UnknownRecharge(LookupError):
    """No recharge with that order_id / pay token (the control API answers 404)."""


class RechargeNotWaiting(Exception):
    """The recharge was already paid or failed (the control API answers 409)."""


# --- helpers ---------------------------------------------------------------------
def coin_text(value: Decimal) -> str:
    """A coin amount as WeChat writes it: exact, no trailing zeros ("0.6", "200")."""
    return format(Decimal(value).normalize(), "f")


def _whole(value, *, lo: int, hi: int, field: str) -> int:
    """An int or ASCII digit string in lo..hi (WeChat takes either), else 40071."""
    if isinstance(value, str) and _DIGITS.fullmatch(value) and len(value) <= 12:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidParam(f"invalid param hint: [{field}]")
    return value


def _coin_account(account: Account, *, for_update: bool = False) -> CoinAccount:
    """The account's coin account, or 43008 before ``card/pay/activate``."""
    rows = (
        CoinAccount.objects.select_for_update() if for_update else CoinAccount.objects
    )
    coins = rows.filter(account=account).first()
    if coins is None:
        raise exc.CoinAccountNotActivated()
    return coins


def _move(coins: CoinAccount, *, free: Decimal, pay: Decimal) -> bool:
    """Add ``free`` and ``pay`` (negative: spend) to the balance, only if neither
    goes below zero; True when it did."""
    rows = CoinAccount.objects.filter(pk=coins.pk)
    if free < 0:
        rows = rows.filter(free_coin__gte=-free)
    if pay < 0:
        rows = rows.filter(pay_coin__gte=-pay)
    return bool(
        rows.update(
            free_coin=Round(F("free_coin") + free, 2),
            pay_coin=Round(F("pay_coin") + pay, 2),
        )
    )


def _order_number(now: datetime) -> str:
    """28 digits, as WeChat's: prefix + Unix time + 8 random digits."""
    tail = "".join(secrets.choice("0123456789") for _ in range(8))
    return f"{ORDER_ID_PREFIX}{int(now.timestamp()):010d}{tail}"


def _order_create(**fields) -> CoinOrder:
    """A ledger line with a fresh 28-digit order_id (drawn again on a collision)."""
    for _attempt in range(3):
        try:
            with transaction.atomic():
                return CoinOrder.objects.create(
                    order_id=_order_number(fields["create_time"]), **fields
                )
        except IntegrityError:
            continue
    return CoinOrder.objects.create(
        order_id=_order_number(fields["create_time"]), **fields
    )


def _split(balance_free: Decimal, price: Decimal) -> tuple[Decimal, Decimal]:
    """Free coins are spent first (SPEC §3.4): (free part, pay part) of ``price``."""
    free = min(max(balance_free, Decimal(0)), price)
    return free, price - free


# --- events (SPEC §10) -------------------------------------------------------------
def order_event_fields(order: CoinOrder) -> dict:
    """The card_pay_order event's fields for a ledger line."""
    return {
        "OrderId": order.order_id,
        "Status": order.status,
        "CreateOrderTime": int(order.create_time.timestamp()),
        "PayFinishTime": _seconds(order.pay_finish_time),
        "Desc": order.desc,
        "FreeCoinCount": coin_text(order.free_coin_count),
        "PayCoinCount": coin_text(order.pay_coin_count),
        "RefundFreeCoinCount": coin_text(order.refund_free_coin_count),
        "RefundPayCoinCount": coin_text(order.refund_pay_coin_count),
        "OrderType": order.order_type,
        "Memo": order.desc,
    }


def _push_order(order: CoinOrder, *, wait: bool) -> Push:
    """Push card_pay_order for a committed ledger line (``wait``: deliver first)."""
    return push.push_event(
        order.account,
        event=EVENT,
        fields=order_event_fields(order),
        from_user=order.openid,
        wait=wait,
    )


def _seconds(moment: datetime | None) -> int:
    return int(moment.timestamp()) if moment else 0


# --- card/pay/activate -----------------------------------------------------------
def coin_activate(account: Account) -> Decimal:
    """``card/pay/activate``: opens the coin account with 200 free coins and returns
    the reward; every later call returns 0 (the reward is given once)."""
    now = clock.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                coins = CoinAccount.objects.create(
                    account=account, activated_at=now, free_coin=ACTIVATION_REWARD
                )
        except IntegrityError:  # already open: the one-to-one row exists
            return Decimal(0)
        order = _order_create(
            account=account,
            order_type=CoinOrder.Type.SYS_ADD,
            status=CoinOrder.Status.FINANCE_SUCC,
            create_time=now,
            pay_finish_time=now,
            desc=DESC_REWARD,
            free_coin_count=coins.free_coin,
        )
    _push_order(order, wait=False)
    return ACTIVATION_REWARD


# --- card/pay/getcoinsinfo -------------------------------------------------------
def coin_balance(account: Account) -> CoinAccount:
    """``card/pay/getcoinsinfo``: free_coin, pay_coin, total_coin (43008 before
    activation)."""
    return _coin_account(account)


# --- card/pay/getpayprice --------------------------------------------------------
def quote_create(account: Account, body: dict) -> Quote:
    """``card/pay/getpayprice``: the price of ``quantity`` units of stock for an
    approved card of this account, split free-first against the current balance.
    The quote is given even when the balance is short (confirm refuses then)."""
    coins = _coin_account(account)
    card = _card_of(account, body.get("card_id"))
    quantity = _whole(body.get("quantity"), lo=1, hi=MAX_QUANTITY, field="quantity")
    if card.status != Card.Status.VERIFY_OK:
        raise InvalidParam("card status error, the card is not approved")
    price = rules.unit_price(card.definition) * quantity
    free, pay = _split(coins.free_coin, price)
    now = clock.now()
    return Quote.objects.create(
        account=account,
        order_id=secrets.token_urlsafe(120),
        card=card,
        quantity=quantity,
        price=price,
        free_coin=free,
        pay_coin=pay,
        created_at=now,
        expires_at=now + timedelta(seconds=QUOTE_TTL),
    )


def _card_of(account: Account, card_id) -> Card:
    if not isinstance(card_id, str) or not card_id:
        raise InvalidCardId()
    card = Card.objects.filter(account=account, card_id=card_id).first()
    if card is None:
        raise InvalidCardId()
    return card


# --- card/pay/confirm ------------------------------------------------------------
def quote_confirm(account: Account, body: dict) -> CoinOrder:
    """``card/pay/confirm``: exchanges a quote's coins for its stock, once.

    40071 unknown order_id or a card_id / quantity other than the quote's (or a card
    no longer approved); 40099 already confirmed; 40079 older than 60 s; 40202 the
    balance is below the price. The split is computed again against the balance at
    confirm time, free coins first. Of two concurrent confirms of one quote exactly
    one succeeds (the quote is claimed by a conditional UPDATE)."""
    _coin_account(account)
    order_id = body.get("order_id")
    if not isinstance(order_id, str) or not order_id:
        raise exc.InvalidOrderId()
    quote = (
        Quote.objects.select_related("card")
        .filter(account=account, order_id=order_id)
        .first()
    )
    if quote is None:
        raise exc.InvalidOrderId()
    if body.get("card_id") != quote.card.card_id:
        raise InvalidParam("invalid param hint: [card_id] not the quote's card")
    quantity = _whole(body.get("quantity"), lo=1, hi=MAX_QUANTITY, field="quantity")
    if quantity != quote.quantity:
        raise InvalidParam("invalid param hint: [quantity] not the quote's quantity")
    if quote.used_at is not None:
        raise exc.CoinOrderUsed()
    now = clock.now()
    if now > quote.expires_at:
        raise exc.CoinOrderExpired()
    order = _confirm(account, quote, now)
    _push_order(order, wait=False)
    return order


@transaction.atomic
def _confirm(account: Account, quote: Quote, now: datetime) -> CoinOrder:
    coins = _coin_account(account, for_update=True)
    if coins.free_coin + coins.pay_coin < quote.price:
        raise exc.CoinNotEnough()
    claimed = Quote.objects.filter(pk=quote.pk, used_at__isnull=True).update(
        used_at=now
    )
    if not claimed:
        raise exc.CoinOrderUsed()
    free, pay = _split(coins.free_coin, quote.price)
    if not _move(coins, free=-free, pay=-pay):
        raise exc.CoinNotEnough()
    stocked = Card.objects.filter(
        pk=quote.card_id, status=Card.Status.VERIFY_OK
    ).update(
        quantity=F("quantity") + quote.quantity,
        total_quantity=F("total_quantity") + quote.quantity,
    )
    if not stocked:
        raise InvalidParam("card status error, the card is not approved")
    return CoinOrder.objects.create(
        account=account,
        order_id=quote.order_id,
        order_type=CoinOrder.Type.REDUCE,
        status=CoinOrder.Status.QUANTITY_SUCC,
        create_time=now,
        pay_finish_time=now,
        desc=DESC_REDUCE,
        free_coin_count=free,
        pay_coin_count=pay,
        card_id=quote.card_id,
        quantity=quote.quantity,
    )


# --- card/pay/recharge -----------------------------------------------------------
def recharge_create(account: Account, body: dict) -> CoinOrder:
    """``card/pay/recharge``: a WAITING recharge of ``coin_count`` (1–100000) coins,
    1 coin = 1 yuan, paid later by scanning its QR (the sandbox: the control API,
    the console or the payment page)."""
    _coin_account(account)
    coin_count = _whole(
        body.get("coin_count"), lo=1, hi=MAX_RECHARGE, field="coin_count"
    )
    return _order_create(
        account=account,
        order_type=CoinOrder.Type.WXPAY,
        status=CoinOrder.Status.WAITING,
        create_time=clock.now(),
        desc=DESC_RECHARGE,
        pay_coin_count=Decimal(coin_count),
        pay_token=secrets.token_urlsafe(12),
    )


def recharge_qrcode_url(order: CoinOrder) -> str:
    return PAY_URL + (order.pay_token or "")


def recharge_qrcode_png(order: CoinOrder) -> str:
    """The QR of the payment link as a base64 PNG (``qrcode_buffer``)."""
    buffer = io.BytesIO()
    qrcode.make(recharge_qrcode_url(order)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def recharge_find(*, order_id: str = "", pay_token: str = "") -> CoinOrder:
    """The recharge with this order_id or payment token, or UnknownRecharge."""
    order = None
    if order_id or pay_token:
        lookup = {"order_id": order_id} if order_id else {"pay_token": pay_token}
        order = (
            CoinOrder.objects.select_related("account")
            .filter(order_type=CoinOrder.Type.WXPAY, **lookup)
            .first()
        )
    if order is None:
        raise UnknownRecharge(order_id or pay_token)
    return order


def recharge_settle(
    order: CoinOrder, *, success: bool, wait: bool = True
) -> tuple[CoinOrder, Push]:
    """The payer pays (FINANCE_SUCC: pay coins += coin_count) or the payment fails
    (ROLLBACK: no coins); pushes card_pay_order (``wait``: delivered first).
    RechargeNotWaiting when it was already settled."""
    order = _settle(order.pk, success=success, now=clock.now())
    return order, _push_order(order, wait=wait)


@transaction.atomic
def _settle(pk: int, *, success: bool, now: datetime) -> CoinOrder:
    order = CoinOrder.objects.select_related("account").get(pk=pk)
    coins = _coin_account(order.account, for_update=True)
    if success:
        fields = {
            "status": CoinOrder.Status.FINANCE_SUCC,
            "pay_finish_time": now,
            "openid": PAYER_OPENID,
        }
    else:
        fields = {"status": CoinOrder.Status.ROLLBACK}
    claimed = CoinOrder.objects.filter(pk=pk, status=CoinOrder.Status.WAITING).update(
        **fields
    )
    if not claimed:
        raise RechargeNotWaiting(order.order_id)
    if success:
        _move(coins, free=Decimal(0), pay=order.pay_coin_count)
    order.refresh_from_db()
    return order


def recharges_settle_all(account: Account, *, success: bool = True) -> int:
    """Settle every WAITING recharge of the account (benchmarks); returns how many.
    Their events are delivered in the background by a few threads at once, as
    WeChat's servers push concurrently."""
    waiting = CoinOrder.objects.filter(
        account=account,
        order_type=CoinOrder.Type.WXPAY,
        status=CoinOrder.Status.WAITING,
    ).values_list("pk", flat=True)
    pushes = []
    now = clock.now()
    for pk in list(waiting):
        try:
            order = _settle(pk, success=success, now=now)
        except RechargeNotWaiting:
            continue  # settled meanwhile by someone else
        pushes.append(
            push.push_create(
                account,
                event=EVENT,
                fields=order_event_fields(order),
                from_user=order.openid,
            ).pk
        )
    if pushes:
        threading.Thread(
            target=_deliver_all,
            args=(pushes,),
            daemon=True,
            name=push.PUSH_THREAD,
        ).start()
    return len(pushes)


PUSH_THREADS = 8


def _deliver_all(push_ids: list[int]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from django.db import close_old_connections

    def deliver(item) -> None:
        try:
            push.push_deliver(item)
        finally:
            close_old_connections()

    try:
        rows = list(
            Push.objects.select_related("account")
            .filter(pk__in=push_ids)
            .order_by("pk")
        )
        with ThreadPoolExecutor(max_workers=PUSH_THREADS) as pool:
            list(pool.map(deliver, rows))
    finally:
        close_old_connections()


def recharges_waiting(account: Account) -> int:
    return CoinOrder.objects.filter(
        account=account,
        order_type=CoinOrder.Type.WXPAY,
        status=CoinOrder.Status.WAITING,
    ).count()


# --- card/pay/getorder, card/pay/getorderlist ------------------------------------
def order_info(order: CoinOrder) -> dict:
    """The ``order_info`` object; coin counts are strings, as WeChat writes them."""
    return {
        "order_id": order.order_id,
        "status": order.status,
        "create_time": int(order.create_time.timestamp()),
        "pay_finish_time": _seconds(order.pay_finish_time),
        "desc": order.desc,
        "free_coin_count": coin_text(order.free_coin_count),
        "pay_coin_count": coin_text(order.pay_coin_count),
        "refund_free_coin_count": coin_text(order.refund_free_coin_count),
        "refund_pay_coin_count": coin_text(order.refund_pay_coin_count),
        "openid": order.openid,
        "order_type": order.order_type,
    }


def order_get(account: Account, body: dict) -> CoinOrder:
    """``card/pay/getorder``: this account's ledger line (a quote not confirmed is no
    order: 40071)."""
    _coin_account(account)
    order_id = body.get("order_id")
    if isinstance(order_id, int) and not isinstance(order_id, bool):
        order_id = str(order_id)
    if not isinstance(order_id, str) or not order_id:
        raise exc.InvalidOrderId()
    order = CoinOrder.objects.filter(account=account, order_id=order_id).first()
    if order is None:
        raise exc.InvalidOrderId()
    return order


def order_list(account: Account, body: dict) -> tuple[int, list[CoinOrder]]:
    """``card/pay/getorderlist``: (total_num, the page) of the ledger lines created
    between begin_time and end_time (default: the last 7 days up to now), newest
    first unless SORT_ASC; ``order_type`` keeps one type, ``nor_filter.status``
    leaves one status out."""
    _coin_account(account)
    offset = _whole(body.get("offset", 0), lo=0, hi=2**31 - 1, field="offset")
    count = _whole(
        body.get("count", ORDER_LIST_MAX), lo=1, hi=ORDER_LIST_MAX, field="count"
    )
    now = clock.now()
    default_begin = now - timedelta(days=DEFAULT_LIST_DAYS)
    begin, end = (
        int(moment.timestamp())
        if body.get(key) in (None, "")
        else _whole(body[key], lo=0, hi=2**31 - 1, field=key)
        for key, moment in (("begin_time", default_begin), ("end_time", now))
    )
    orders = CoinOrder.objects.filter(
        account=account,
        create_time__gte=datetime.fromtimestamp(begin, UTC),
        # Whole seconds, as the client sees create_time: end_time is inclusive.
        create_time__lt=datetime.fromtimestamp(end + 1, UTC),
    )
    order_type = body.get("order_type")
    if order_type not in (None, ""):
        if order_type not in CoinOrder.Type.values:
            raise InvalidParam("invalid param hint: [order_type]")
        orders = orders.filter(order_type=order_type)
    nor_filter = body.get("nor_filter")
    if nor_filter not in (None, ""):
        if not isinstance(nor_filter, dict):
            raise InvalidParam("invalid param hint: [nor_filter]")
        status = nor_filter.get("status")
        if status not in (None, ""):
            if status not in CoinOrder.Status.values:
                raise InvalidParam("invalid param hint: [nor_filter.status]")
            orders = orders.exclude(status=status)
    ascending = _ascending(body.get("sort_info"))
    ordering = ("create_time", "id") if ascending else ("-create_time", "-id")
    total = orders.count()
    return total, list(orders.order_by(*ordering)[offset : offset + count])


def _ascending(sort_info) -> bool:
    if sort_info in (None, ""):
        return False
    if not isinstance(sort_info, dict):
        raise InvalidParam("invalid param hint: [sort_info]")
    if sort_info.get("sort_key", "SORT_BY_TIME") not in ("SORT_BY_TIME", ""):
        raise InvalidParam("invalid param hint: [sort_info.sort_key]")
    sort_type = sort_info.get("sort_type") or "SORT_DESC"
    if sort_type not in ("SORT_ASC", "SORT_DESC"):
        raise InvalidParam("invalid param hint: [sort_info.sort_type]")
    return sort_type == "SORT_ASC"


# --- T+1 refund (SPEC §3.6) ------------------------------------------------------
_scan = {"last": None}


def _end_timestamp(card: Card) -> int | None:
    block = card.definition.get(TYPE_KEYS.get(card.card_type, ""))
    try:
        end = block["base_info"]["date_info"]["end_timestamp"]
    except (KeyError, TypeError):
        return None
    if isinstance(end, str) and _DIGITS.fullmatch(end):
        end = int(end)
    return end if isinstance(end, int) and not isinstance(end, bool) else None


@ticker.register
def refunds_due(now: datetime) -> None:
    """Refund the stock left on cards that ended at least a day ago as coins:
    quantity × unit price, back to free coins up to what that card took of them,
    the rest to pay coins. Once per card: the stock is claimed by a conditional
    UPDATE and a unique constraint allows one refund order per card."""
    last = _scan["last"]
    if last is not None and 0 <= (now - last).total_seconds() < REFUND_SCAN_SECONDS:
        return
    _scan["last"] = now
    cutoff = (now - REFUND_AFTER).timestamp()
    candidates = (
        Card.objects.filter(quantity__gt=0, account__coin_account__isnull=False)
        .exclude(coin_orders__order_type=CoinOrder.Type.REFUND)
        .only("pk", "card_type", "definition")
    )
    for card in list(candidates):  # read first: the refunds write
        end = _end_timestamp(card)
        if end is not None and end <= cutoff:
            order = _refund(card.pk, now)
            if order is not None:
                # The tick may run before an API call: WeChat pushes asynchronously.
                _push_order(order, wait=False)


@transaction.atomic
def _refund(card_pk: int, now: datetime) -> CoinOrder | None:
    # The coin account is locked before the card, as in every coin transaction.
    account_id = (
        Card.objects.filter(pk=card_pk).values_list("account_id", flat=True).first()
    )
    coins = (
        CoinAccount.objects.select_for_update().filter(account_id=account_id).first()
    )
    card = Card.objects.select_for_update().filter(pk=card_pk).first()
    if coins is None or card is None or card.quantity <= 0:
        return None
    if card.coin_orders.filter(order_type=CoinOrder.Type.REFUND).exists():
        return None
    amount = rules.unit_price(card.definition) * card.quantity
    sums = card.coin_orders.aggregate(
        spent=Sum("free_coin_count", filter=Q(order_type=CoinOrder.Type.REDUCE)),
        refunded=Sum(
            "refund_free_coin_count", filter=Q(order_type=CoinOrder.Type.REFUND)
        ),
    )
    free_left = (sums["spent"] or Decimal(0)) - (sums["refunded"] or Decimal(0))
    free, pay = _split(free_left, amount)
    claimed = Card.objects.filter(pk=card.pk, quantity=card.quantity).update(quantity=0)
    if not claimed:
        return None
    _move(coins, free=free, pay=pay)
    return _order_create(
        account_id=card.account_id,
        order_type=CoinOrder.Type.REFUND,
        status=CoinOrder.Status.HAS_REFUND,
        create_time=now,
        pay_finish_time=now,
        desc=DESC_REFUND,
        refund_free_coin_count=free,
        refund_pay_coin_count=pay,
        card=card,
        quantity=card.quantity,
    )
