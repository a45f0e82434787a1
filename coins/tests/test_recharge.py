"""Recharges by WeChat Pay: polled with back-off, settled exactly once (SPEC §5)."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from coins import services, tasks
from coins.models import CoinAccount, CoinEvent, Recharge
from tests.factories import process_events


def _no_callback(sandbox, merchant):
    """WeChat's pushes go nowhere: only the poller can learn of the payment."""
    sandbox.control(
        "POST",
        "accounts",
        json={
            "appid": merchant.appid,
            "secret": merchant.appsecret,
            "callback_url": "",
        },
    )


def _due_now(recharge):
    Recharge.objects.filter(pk=recharge.pk).update(next_poll_at=timezone.now())


def test_a_recharge_is_settled_by_polling_once(coins_on, sandbox):
    merchant = coins_on.merchant
    _no_callback(sandbox, merchant)
    recharge = services.recharge_create(merchant=merchant, coin_count="100")
    assert recharge.status == Recharge.Status.WAITING
    assert recharge.qrcode_url.startswith("weixin://wxpay/bizpayurl?pr=")
    _due_now(recharge)
    assert services.recharges_poll_due() == 1  # not paid yet: back-off
    recharge.refresh_from_db()
    assert recharge.status == Recharge.Status.WAITING and recharge.poll_count == 1
    sandbox.control(
        "POST", f"recharges/{recharge.order_id}/pay", json={"success": True}
    )
    _due_now(recharge)
    services.recharges_poll_due()
    recharge.refresh_from_db()
    assert recharge.status == Recharge.Status.PAID and recharge.settled_by == "poll"
    account = CoinAccount.objects.get(merchant=merchant)
    assert account.pay_coin == Decimal(100) and account.total_coin == Decimal(300)
    _due_now(recharge)
    assert services.recharges_poll_due() == 0  # settled: never polled again
    assert CoinEvent.objects.filter(kind="recharge_paid").count() == 1


def test_the_push_makes_the_poller_look_now_and_nothing_is_credited_twice(
    coins_on, sandbox
):
    merchant = coins_on.merchant
    recharge = services.recharge_create(merchant=merchant, coin_count=50)
    later = timezone.now() + timedelta(hours=1)
    Recharge.objects.filter(pk=recharge.pk).update(next_poll_at=later)
    sandbox.control(
        "POST", f"recharges/{recharge.order_id}/pay", json={"success": True}
    )
    for _ in range(50):  # the push arrives asynchronously
        process_events()
        recharge.refresh_from_db()
        if recharge.next_poll_at < later:
            break
        time.sleep(0.1)
    # The push did not settle it (SPEC §10): it made the next poll due now.
    assert recharge.status == Recharge.Status.WAITING
    assert recharge.next_poll_at <= timezone.now()
    tasks.poll_recharges()  # the task the push enqueued, as the worker runs it
    recharge.refresh_from_db()
    assert recharge.status == Recharge.Status.PAID and recharge.settled_by == "poll"
    # The poller comes by anyway, and the push is delivered again: nothing changes.
    services.recharge_poll(recharge)
    services.on_card_pay_order(
        merchant=merchant,
        payload={
            "OrderId": recharge.order_id,
            "Status": "ORDER_STATUS_FINANCE_SUCC",
            "OrderType": "ORDER_TYPE_WXPAY",
        },
    )
    tasks.poll_recharges()
    assert CoinEvent.objects.filter(kind="recharge_paid").count() == 1
    account = services.coin_balance_refresh(merchant=merchant)
    assert account.pay_coin == Decimal(50)


def test_a_failed_payment_adds_nothing(coins_on, sandbox):
    merchant = coins_on.merchant
    _no_callback(sandbox, merchant)
    recharge = services.recharge_create(merchant=merchant, coin_count=10)
    sandbox.control(
        "POST", f"recharges/{recharge.order_id}/pay", json={"success": False}
    )
    _due_now(recharge)
    services.recharges_poll_due()
    recharge.refresh_from_db()
    assert recharge.status == Recharge.Status.FAILED
    assert services.coin_balance_refresh(merchant=merchant).pay_coin == 0


def test_polling_backs_off_and_gives_up(coins_on, sandbox, settings):
    merchant = coins_on.merchant
    _no_callback(sandbox, merchant)
    recharge = services.recharge_create(merchant=merchant, coin_count=10)
    gaps = []
    for _ in range(len(services.POLL_SCHEDULE)):
        _due_now(recharge)
        before = timezone.now()
        services.recharges_poll_due()
        recharge.refresh_from_db()
        gaps.append(round((recharge.next_poll_at - before).total_seconds()))
    assert gaps == sorted(gaps) and gaps[0] <= 3 and gaps[-1] >= 59
    Recharge.objects.filter(pk=recharge.pk).update(
        created_at=timezone.now()
        - timedelta(seconds=settings.RECHARGE_POLL_GIVE_UP_SECONDS + 1)
    )
    _due_now(recharge)
    services.recharges_poll_due()
    recharge.refresh_from_db()
    assert recharge.status == Recharge.Status.ABANDONED
    # A push about it is only a reason to read WeChat, which still says waiting.
    services.on_card_pay_order(
        merchant=merchant,
        payload={"OrderId": recharge.order_id, "Status": "ORDER_STATUS_FINANCE_SUCC"},
    )
    assert services.recharge_check(recharge_id=recharge.pk) is False
    recharge.refresh_from_db()
    assert recharge.status == Recharge.Status.ABANDONED
    # Paid after all (late): the read the next push triggers settles it, once.
    sandbox.control(
        "POST", f"recharges/{recharge.order_id}/pay", json={"success": True}
    )
    assert services.recharge_check(recharge_id=recharge.pk) is True
    assert services.recharge_check(recharge_id=recharge.pk) is False
    recharge.refresh_from_db()
    assert recharge.status == Recharge.Status.PAID
    assert CoinEvent.objects.filter(kind="recharge_paid").count() == 1


@pytest.mark.parametrize(
    "bad", ["0", "-5", "abc", "100001", "", "2.5", "①", "²", "１０", "١٢٣", "𝟗"]
)
def test_bad_recharge_amounts_are_refused_and_nothing_is_written(
    coins_on, sandbox, bad
):
    with pytest.raises(ValidationError) as caught:
        services.recharge_create(merchant=coins_on.merchant, coin_count=bad)
    assert "coin_count" in caught.value.message_dict
    assert not Recharge.objects.exists()
    assert sandbox.calls("card/pay/recharge") == 0


@pytest.mark.celery_worker
def test_a_worker_killed_mid_poll_and_the_next_poll_settles(
    coins_on, sandbox, live_server
):
    """Both workers listen on queues of their own: the hints that the setup's
    pushes queued (a poll, a ledger sync) reach neither, so nothing but the two
    polls this test sends can touch the recharge."""
    from conftest import start_celery_worker, stop_celery_worker

    merchant = coins_on.merchant
    _no_callback(sandbox, merchant)
    recharge = services.recharge_create(merchant=merchant, coin_count=30)
    sandbox.control(
        "POST", f"recharges/{recharge.order_id}/pay", json={"success": True}
    )
    # A worker takes this poll, and dies in the middle of it.
    doomed_queue = f"doomed-{os.getpid()}"
    doomed, log = start_celery_worker(
        live_server.url,
        queue=doomed_queue,
        RECHARGE_POLL_LEASE_SECONDS="1",
        WECHAT_TIMEOUT="10",
    )
    try:
        sandbox.fault("latency", path="card/pay/getorder", latency_ms=4000, remaining=1)
        _due_now(recharge)
        marked = Recharge.objects.get(pk=recharge.pk).next_poll_at
        tasks.poll_recharges.apply_async(queue=doomed_queue)
        for _ in range(150):  # the doomed worker claims the recharge …
            if Recharge.objects.get(pk=recharge.pk).next_poll_at != marked:
                break
            time.sleep(0.1)
        assert Recharge.objects.get(pk=recharge.pk).next_poll_at != marked
        time.sleep(1.0)  # … and waits for getorder's answer (4 s late)
        os.kill(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
    finally:
        stop_celery_worker(doomed, log)
    recharge.refresh_from_db()
    assert recharge.status == Recharge.Status.WAITING  # the killed poll settled nothing
    # The dead poller's lease (1 s) has run out: the next beat tick, on a worker
    # that lives, settles it.
    survivor_queue = f"survivor-{os.getpid()}"
    survivor, log = start_celery_worker(live_server.url, queue=survivor_queue)
    try:
        tasks.poll_recharges.apply_async(queue=survivor_queue)
        for _ in range(100):
            recharge.refresh_from_db()
            if recharge.status != Recharge.Status.WAITING:
                break
            time.sleep(0.1)
    finally:
        stop_celery_worker(survivor, log)
    assert recharge.status == Recharge.Status.PAID
    assert CoinEvent.objects.filter(kind="recharge_paid").count() == 1
    # The sandbox answers the dead poll's call when its 4 s are up (to nobody):
    # let it, or it runs against the next test's database.
    for _ in range(100):
        if sandbox.calls("card/pay/getorder") >= 2:
            break
        time.sleep(0.1)
    assert sandbox.calls("card/pay/getorder") == 2  # the dead poll's, and the next


def test_many_waiting_recharges_are_read_in_bulk(coins_on, sandbox):
    merchant = coins_on.merchant
    _no_callback(sandbox, merchant)
    recharges = [
        services.recharge_create(merchant=merchant, coin_count=1) for _ in range(7)
    ]
    paid = recharges[:5]
    for recharge in paid:
        sandbox.control(
            "POST", f"recharges/{recharge.order_id}/pay", json={"success": True}
        )
    Recharge.objects.update(next_poll_at=timezone.now())
    assert services.recharges_poll_due() == 7
    assert sandbox.calls("card/pay/getorder") == 0
    assert sandbox.calls("card/pay/getorderlist") == 1
    statuses = dict(Recharge.objects.values_list("pk", "status"))
    assert [statuses[r.pk] for r in recharges] == ["paid"] * 5 + ["waiting"] * 2
    assert CoinAccount.objects.get(merchant=merchant).pay_coin == Decimal(5)
