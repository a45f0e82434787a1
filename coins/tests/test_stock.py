"""Stock orders: the 60-second quote → confirm, exactly once (SPEC §5)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

import wechat
from cards.models import CardEvent
from coins import services, tasks
from coins.models import CoinAccount, CoinEvent, StockOrder
from tests.factories import process_events


def _stock_at_wechat(card) -> int:
    return wechat.for_merchant(card.merchant).card.get(card.card_id).quantity


def test_activation_gives_200_free_coins_once(approved_card, sandbox):
    merchant = approved_card.merchant
    account = services.coin_account_activate(merchant=merchant)
    assert account.activated_at and account.free_coin == Decimal(200)
    assert account.pay_coin == 0 and account.total_coin == Decimal(200)
    again = services.coin_account_activate(merchant=merchant)
    assert again.total_coin == Decimal(200)
    assert CoinEvent.objects.filter(kind="activated").count() == 1


def test_quote_then_confirm_adds_the_stock_once(coins_on, sandbox):
    card = coins_on
    order = services.stock_order_quote(
        merchant=card.merchant, card=card, quantity="100"
    )
    assert order.price == Decimal("60.0") and order.free_coin == Decimal("60.0")
    assert order.pay_coin == 0
    assert order.expires_at - order.quoted_at == timedelta(seconds=60)
    assert (
        services.stock_order_confirm(order_id=order.pk) == StockOrder.Status.CONFIRMED
    )
    card.refresh_from_db()
    assert card.quantity == 100 and card.total_quantity == 100
    assert _stock_at_wechat(card) == 100
    account = CoinAccount.objects.get(merchant=card.merchant)
    assert account.total_coin == Decimal("140.0")
    assert card.events.filter(kind=CardEvent.Kind.STOCK_ADDED).count() == 1
    # A retried task finds nothing to claim.
    assert (
        services.stock_order_confirm(order_id=order.pk) == StockOrder.Status.CONFIRMED
    )
    assert sandbox.calls("card/pay/confirm") == 1


def test_two_concurrent_confirms_make_one_confirm(coins_on, sandbox):
    card = coins_on
    order = services.stock_order_quote(merchant=card.merchant, card=card, quantity=10)
    barrier = threading.Barrier(3)
    results = []

    def confirm():
        try:
            barrier.wait()
            results.append(services.stock_order_confirm(order_id=order.pk))
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sandbox.calls("card/pay/confirm") == 1
    card.refresh_from_db()
    assert card.quantity == 10 and _stock_at_wechat(card) == 10
    assert CoinEvent.objects.filter(kind="confirmed").count() == 1


def test_a_second_click_on_confirm_requests_once(coins_on):
    card = coins_on
    order = services.stock_order_quote(merchant=card.merchant, card=card, quantity=1)
    first = services.stock_order_confirm_request(order=order)
    services.stock_order_confirm_request(order=order)
    # The task is enqueued in the same branch that writes this event: once.
    assert CoinEvent.objects.filter(kind="confirm_requested").count() == 1
    order.refresh_from_db()
    assert order.confirm_requested_at == first.confirm_requested_at


def test_a_quote_dead_at_wechat_after_60_seconds(coins_on, sandbox):
    card = coins_on
    order = services.stock_order_quote(merchant=card.merchant, card=card, quantity=5)
    sandbox.advance(61)  # WeChat's clock: the quote is dead, ours still thinks not
    assert services.stock_order_confirm(order_id=order.pk) == StockOrder.Status.EXPIRED
    order.refresh_from_db()
    assert "60 seconds" in order.problem_message and order.errcode == 40079
    card.refresh_from_db()
    assert card.quantity == 0
    fresh = services.stock_order_requote(order=order)
    assert fresh.pk != order.pk and fresh.status == StockOrder.Status.QUOTED
    assert (
        services.stock_order_confirm(order_id=fresh.pk) == StockOrder.Status.CONFIRMED
    )


def test_our_clock_expires_an_unconfirmed_quote_and_a_late_confirm_is_refused(
    coins_on, sandbox
):
    card = coins_on
    order = services.stock_order_quote(merchant=card.merchant, card=card, quantity=5)
    StockOrder.objects.filter(pk=order.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert tasks.expire_stock_order(order.pk) == 1
    order.refresh_from_db()
    assert order.status == StockOrder.Status.EXPIRED
    late = services.stock_order_confirm_request(order=order)
    assert late.status == StockOrder.Status.EXPIRED
    assert services.stock_order_confirm(order_id=order.pk) == StockOrder.Status.EXPIRED
    assert sandbox.calls("card/pay/confirm") == 0


def test_a_lost_confirm_answer_is_settled_by_reading_not_by_confirming_again(
    coins_on, sandbox
):
    card = coins_on
    order = services.stock_order_quote(merchant=card.merchant, card=card, quantity=7)
    # WeChat does the confirm but its answer comes after the client gave up (2 s).
    sandbox.fault("latency", path="card/pay/confirm", latency_ms=3000, remaining=1)
    assert services.stock_order_confirm(order_id=order.pk) == StockOrder.Status.UNKNOWN
    assert sandbox.wait_calls("card/pay/confirm", card.merchant.appid, 1) == 1
    time.sleep(1.5)  # the delayed confirm completes at the sandbox
    assert services.stock_order_settle(order_id=order.pk) == StockOrder.Status.CONFIRMED
    card.refresh_from_db()
    assert card.quantity == 7 and _stock_at_wechat(card) == 7
    assert sandbox.calls("card/pay/confirm") == 1
    assert CoinEvent.objects.filter(kind="confirm_unknown").count() == 1


def test_a_lost_answer_of_a_confirm_that_never_happened(coins_on, sandbox):
    card = coins_on
    order = services.stock_order_quote(merchant=card.merchant, card=card, quantity=3)
    sandbox.fault("http_500", path="card/pay/confirm", remaining=1)
    assert services.stock_order_confirm(order_id=order.pk) == StockOrder.Status.UNKNOWN
    # WeChat has no such order, but the quote could still land: not proof yet.
    assert services.stock_order_settle(order_id=order.pk) == StockOrder.Status.UNKNOWN
    StockOrder.objects.filter(pk=order.pk).update(
        expires_at=timezone.now() - timedelta(minutes=5)
    )
    assert services.stock_order_settle(order_id=order.pk) == StockOrder.Status.FAILED
    card.refresh_from_db()
    assert card.quantity == 0 and _stock_at_wechat(card) == 0


def test_too_few_coins_is_refused_with_the_shortfall(coins_on, sandbox):
    card = coins_on
    order = services.stock_order_quote(merchant=card.merchant, card=card, quantity=1000)
    assert order.price == Decimal("600.0")
    assert services.shortfall(order=order) == Decimal("400.0")
    assert services.coins_to_recharge(services.shortfall(order=order)) == 400
    assert services.stock_order_confirm(order_id=order.pk) == StockOrder.Status.FAILED
    order.refresh_from_db()
    assert order.errcode == 40202 and "recharge" in order.problem_message
    assert _stock_at_wechat(card) == 0


@pytest.mark.parametrize(
    "bad",
    [
        "0",
        "-5",
        "100000001",
        "abc",
        "1.5",
        "",
        None,
        "1e3",
        "²",
        "①",
        "１０",
        "١٢٣",
        "𝟗",
        "1 0",
        "9" * 200,
    ],
)
def test_bad_quantities_are_clear_errors_and_nothing_is_written(coins_on, sandbox, bad):
    card = coins_on
    with pytest.raises(ValidationError) as caught:
        services.stock_order_quote(merchant=card.merchant, card=card, quantity=bad)
    assert "quantity" in caught.value.message_dict
    assert not StockOrder.objects.exists()
    assert sandbox.calls("card/pay/getpayprice") == 0


@pytest.mark.celery_worker
def test_confirm_runs_in_a_real_worker_once(coins_on, sandbox, celery_worker_process):
    card = coins_on
    order = services.stock_order_quote(merchant=card.merchant, card=card, quantity=20)
    services.stock_order_confirm_request(order=order)
    tasks.confirm_stock_order.delay(order.pk)  # a duplicate delivery
    tasks.confirm_stock_order.delay(order.pk)
    for _ in range(100):
        order.refresh_from_db()
        if order.status == StockOrder.Status.CONFIRMED:
            break
        time.sleep(0.1)
    assert order.status == StockOrder.Status.CONFIRMED
    time.sleep(1)  # let the duplicates run
    assert sandbox.calls("card/pay/confirm") == 1
    card.refresh_from_db()
    assert card.quantity == 20
    process_events()
