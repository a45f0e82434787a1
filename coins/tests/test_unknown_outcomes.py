"""Lost answers of unsafe coin calls (SPEC §5 "unknown outcomes"), against the live
sandbox with each fault kind: the portal converges to WeChat's state, nothing is
sent twice, nothing is doubled, and "WeChat has not seen it yet" is never taken
as proof while the call could still land."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

import wechat
from coins import services, tasks
from coins.models import CoinEvent, LedgerEntry, Problem, Recharge, StockOrder
from tests.factories import process_events

# WeChat applied the call, then its answer was lost: late (the client gave up
# first), as an HTTP 500, or as a dropped connection.
APPLIED = ["timeout", "http_500_after", "reset_after"]
# The answer was lost and the call was never applied.
NOT_APPLIED = ["http_500", "reset"]


def _lose_the_answer(sandbox, kind: str, path: str) -> None:
    fields = {"latency_ms": 3000} if kind == "timeout" else {}  # client gives up at 2 s
    sandbox.fault(kind, path=path, remaining=1, **fields)


def _stock_at_wechat(card) -> int:
    return wechat.for_merchant(card.merchant).card.get(card.card_id).quantity


def _beat_settles(order) -> None:
    """The beat sweep, once the order's next read is due."""
    StockOrder.objects.filter(pk=order.pk).update(next_check_at=timezone.now())
    services.stock_orders_settle_unknown()
    order.refresh_from_db()


# --- card/pay/confirm -----------------------------------------------------------------
@pytest.mark.parametrize("kind", APPLIED)
def test_a_confirm_applied_at_wechat_converges_to_confirmed(coins_on, sandbox, kind):
    card = coins_on
    order = services.stock_order_quote(merchant=card.merchant, card=card, quantity=3)
    _lose_the_answer(sandbox, kind, "card/pay/confirm")
    assert services.stock_order_confirm(order_id=order.pk) == StockOrder.Status.UNKNOWN
    order.refresh_from_db()
    assert order.status == StockOrder.Status.UNKNOWN  # "checking with WeChat"
    assert sandbox.wait_calls("card/pay/confirm", card.merchant.appid, 1) == 1
    _beat_settles(order)
    assert order.status == StockOrder.Status.CONFIRMED
    card.refresh_from_db()
    assert card.quantity == 3 == _stock_at_wechat(card)
    assert sandbox.calls("card/pay/confirm") == 1  # never sent again
    _beat_settles(order)  # more sweeps change nothing
    card.refresh_from_db()
    assert card.quantity == 3
    assert CoinEvent.objects.filter(kind="confirmed").count() == 1


@pytest.mark.parametrize("kind", NOT_APPLIED)
def test_a_confirm_wechat_never_applied_stays_unknown_until_it_cannot_land(
    coins_on, sandbox, kind
):
    card = coins_on
    order = services.stock_order_quote(merchant=card.merchant, card=card, quantity=3)
    _lose_the_answer(sandbox, kind, "card/pay/confirm")
    assert services.stock_order_confirm(order_id=order.pk) == StockOrder.Status.UNKNOWN
    _beat_settles(order)
    # WeChat has no such order yet, but the quote still lives: that proves nothing.
    assert order.status == StockOrder.Status.UNKNOWN and order.check_count >= 1
    # Past the quote's 60 s and the margin, its absence is proof.
    StockOrder.objects.filter(pk=order.pk).update(
        expires_at=timezone.now() - timedelta(minutes=2)
    )
    _beat_settles(order)
    assert order.status == StockOrder.Status.FAILED
    assert order.problem == Problem.NOT_APPLIED
    card.refresh_from_db()
    assert card.quantity == 0 == _stock_at_wechat(card)
    assert sandbox.calls("card/pay/confirm") == 1


def test_a_success_that_lands_after_the_order_was_failed_is_applied(coins_on, sandbox):
    """The reproduction of issue 8 §4: WeChat applies the confirm at 12 s, after the
    portal had given up; its push makes the portal read, and the read decides."""
    card = coins_on
    order = services.stock_order_quote(merchant=card.merchant, card=card, quantity=3)
    sandbox.fault("timeout", path="card/pay/confirm", remaining=1, latency_ms=4000)
    assert services.stock_order_confirm(order_id=order.pk) == StockOrder.Status.UNKNOWN
    # Suppose the margin passed while WeChat was still sitting on the request.
    StockOrder.objects.filter(pk=order.pk).update(
        expires_at=timezone.now() - timedelta(minutes=2)
    )
    _beat_settles(order)
    assert order.status == StockOrder.Status.FAILED
    assert sandbox.wait_calls("card/pay/confirm", card.merchant.appid, 1, 8) == 1
    # WeChat's card_pay_order push arrives: a hint, which triggers a read.
    for _ in range(50):
        process_events()
        if CoinEvent.objects.filter(kind="confirm_late").exists():
            break
        tasks.check_stock_order(order.pk)  # what the worker runs for the hint
    order.refresh_from_db()
    assert order.status == StockOrder.Status.CONFIRMED
    card.refresh_from_db()
    assert card.quantity == 3 == _stock_at_wechat(card)
    late = CoinEvent.objects.get(kind="confirm_late")
    assert late.stock_order_id == order.pk


def test_the_ledger_sync_applies_a_success_nobody_pushed(coins_on, sandbox):
    card = coins_on
    sandbox.control(
        "POST",
        "accounts",
        json={
            "appid": card.merchant.appid,
            "secret": card.merchant.appsecret,
            "callback_url": "",
        },
    )
    order = services.stock_order_quote(merchant=card.merchant, card=card, quantity=4)
    sandbox.fault("reset_after", path="card/pay/confirm", remaining=1)
    services.stock_order_confirm(order_id=order.pk)
    StockOrder.objects.filter(pk=order.pk).update(
        status=StockOrder.Status.FAILED, problem=Problem.NOT_APPLIED
    )  # what an older portal had booked
    services.ledger_sync(merchant=card.merchant)
    order.refresh_from_db()
    assert order.status == StockOrder.Status.CONFIRMED
    card.refresh_from_db()
    assert card.quantity == 4 == _stock_at_wechat(card)


def test_a_forged_push_for_a_failed_order_moves_nothing(coins_on, sandbox):
    card = coins_on
    order = services.stock_order_quote(merchant=card.merchant, card=card, quantity=2)
    StockOrder.objects.filter(pk=order.pk).update(status=StockOrder.Status.FAILED)
    services.on_card_pay_order(
        merchant=card.merchant,
        payload={
            "OrderId": order.quote_id,
            "Status": "ORDER_STATUS_QUANTITY_SUCC",
            "OrderType": "ORDER_TYPE_REDUCE",
        },
    )
    assert tasks.check_stock_order(order.pk) == StockOrder.Status.FAILED
    card.refresh_from_db()
    assert card.quantity == 0
    assert not LedgerEntry.objects.filter(order_id=order.quote_id).exists()


@pytest.mark.celery_worker
def test_a_worker_killed_mid_confirm_converges_on_its_own(
    coins_on, sandbox, live_server
):
    """SIGKILL while WeChat is applying the confirm: the order is left confirming;
    the beat sweep finds it in flight too long, reads WeChat, and records the stock."""
    import os
    import signal
    import time

    from conftest import start_celery_worker, stop_celery_worker

    card = coins_on
    order = services.stock_order_quote(merchant=card.merchant, card=card, quantity=6)
    sandbox.fault("latency", path="card/pay/confirm", latency_ms=2500, remaining=1)
    proc, log = start_celery_worker(live_server.url)
    try:
        services.stock_order_confirm_request(order=order)
        for _ in range(600):  # the worker takes the task (slowly on a loaded machine)
            order.refresh_from_db()
            if order.status == StockOrder.Status.CONFIRMING:
                break
            time.sleep(0.05)
        assert order.status == StockOrder.Status.CONFIRMING
        time.sleep(1)  # the confirm is at WeChat, which takes 2.5 s to answer
        for child in _children(proc.pid):
            os.kill(child, signal.SIGKILL)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        stop_celery_worker(proc, log)
    assert sandbox.wait_calls("card/pay/confirm", card.merchant.appid, 1) == 1
    order.refresh_from_db()
    assert order.status == StockOrder.Status.CONFIRMING  # nobody will answer it
    # 30 s later (the sweep's "in flight too long"), the beat runs:
    StockOrder.objects.filter(pk=order.pk).update(
        sent_at=timezone.now() - timedelta(seconds=31)
    )
    services.stock_orders_settle_unknown()
    order.refresh_from_db()
    assert order.status == StockOrder.Status.CONFIRMED
    card.refresh_from_db()
    assert card.quantity == 6 == _stock_at_wechat(card)
    assert sandbox.calls("card/pay/confirm") == 1


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


# --- card/pay/recharge ------------------------------------------------------------------
def _quiet(sandbox, merchant) -> None:
    """No pushes: only the poller learns anything."""
    sandbox.control(
        "POST",
        "accounts",
        json={
            "appid": merchant.appid,
            "secret": merchant.appsecret,
            "callback_url": "",
        },
    )


def _poll_now(recharge) -> None:
    Recharge.objects.filter(pk=recharge.pk).update(next_poll_at=timezone.now())
    services.recharges_poll_due()
    recharge.refresh_from_db()


def _wechat_recharges(merchant) -> list:
    page = wechat.for_merchant(merchant).coin.get_order_list(
        offset=0,
        count=50,
        order_type="ORDER_TYPE_WXPAY",
        ascending=True,
        begin_time=int((timezone.now() - timedelta(hours=1)).timestamp()),
    )
    return page.orders


@pytest.mark.parametrize("kind", APPLIED)
def test_a_recharge_created_at_wechat_is_found_not_created_again(
    coins_on, sandbox, kind
):
    merchant = coins_on.merchant
    _quiet(sandbox, merchant)
    _lose_the_answer(sandbox, kind, "card/pay/recharge")
    recharge = services.recharge_create(merchant=merchant, coin_count=30)
    assert recharge.status == Recharge.Status.UNKNOWN and recharge.order_id is None
    assert sandbox.wait_calls("card/pay/recharge", merchant.appid, 1) == 1
    _poll_now(recharge)
    orders = _wechat_recharges(merchant)
    assert len(orders) == 1  # the orphan is ours now, and no second one was made
    assert recharge.status == Recharge.Status.WAITING
    assert recharge.order_id == orders[0].order_id
    assert recharge.problem == Problem.QR_LOST
    sandbox.control(
        "POST", f"recharges/{recharge.order_id}/pay", json={"success": True}
    )
    _poll_now(recharge)
    assert recharge.status == Recharge.Status.PAID
    account = services.coin_balance_refresh(merchant=merchant)
    assert account.pay_coin == Decimal(30)
    assert sandbox.calls("card/pay/recharge") == 1
    assert CoinEvent.objects.filter(kind="recharge_paid").count() == 1


@pytest.mark.parametrize("kind", NOT_APPLIED)
def test_a_recharge_wechat_never_created_fails_once_it_cannot_appear(
    coins_on, sandbox, kind
):
    merchant = coins_on.merchant
    _quiet(sandbox, merchant)
    _lose_the_answer(sandbox, kind, "card/pay/recharge")
    recharge = services.recharge_create(merchant=merchant, coin_count=30)
    assert recharge.status == Recharge.Status.UNKNOWN
    _poll_now(recharge)
    assert recharge.status == Recharge.Status.UNKNOWN  # not yet proof
    Recharge.objects.filter(pk=recharge.pk).update(
        sent_at=timezone.now() - timedelta(minutes=2)
    )
    _poll_now(recharge)
    assert recharge.status == Recharge.Status.FAILED
    assert recharge.problem == Problem.NOT_CREATED
    assert _wechat_recharges(merchant) == []
    assert sandbox.calls("card/pay/recharge") == 1


def test_a_recharge_of_a_dead_web_process_is_settled_by_the_poller(coins_on, sandbox):
    """The request died between recording and answer (the row says 'sending')."""
    merchant = coins_on.merchant
    _quiet(sandbox, merchant)
    stuck = Recharge.objects.create(
        merchant=merchant,
        coin_count=12,
        status=Recharge.Status.SENDING,
        sent_at=timezone.now() - timedelta(minutes=2),
    )
    services.recharges_poll_due()
    stuck.refresh_from_db()
    assert stuck.status == Recharge.Status.FAILED  # WeChat has no 12-coin order
    assert sandbox.calls("card/pay/recharge") == 0


def test_a_forged_paid_push_credits_nothing(coins_on, sandbox):
    """Issue 8 §3: a card_pay_order saying SUCC for a recharge WeChat still has
    waiting only makes the portal read; WeChat's answer (waiting) decides."""
    merchant = coins_on.merchant
    _quiet(sandbox, merchant)
    recharge = services.recharge_create(merchant=merchant, coin_count=99)
    services.on_card_pay_order(
        merchant=merchant,
        payload={
            "OrderId": recharge.order_id,
            "Status": "ORDER_STATUS_SUCC",
            "OrderType": "ORDER_TYPE_WXPAY",
            "PayCoinCount": "99",
        },
    )
    tasks.poll_recharges()
    recharge.refresh_from_db()
    assert recharge.status == Recharge.Status.WAITING
    assert not LedgerEntry.objects.filter(order_id=recharge.order_id).exists()
    assert services.coin_balance_refresh(merchant=merchant).pay_coin == 0
    assert not CoinEvent.objects.filter(kind="recharge_paid").exists()
