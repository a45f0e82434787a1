"""What the coin pages say, in the reader's language (issue 9): messages come from the
status and WeChat's errcode when the page renders, never from text a worker stored in
its own language; Confirm waits for enough coins; 43008 offers to open the account;
stored sources are words."""

from __future__ import annotations

import time

from django.urls import reverse
from django.utils import translation

from coins import services, tasks
from coins.models import Problem, Recharge, StockOrder
from tests.factories import process_events


def test_an_expiry_stored_by_a_chinese_worker_reads_in_english(
    coins_on, sandbox, login
):
    order = services.stock_order_quote(
        merchant=coins_on.merchant, card=coins_on, quantity=10
    )
    sandbox.advance(61)  # WeChat's 60 seconds are over; ours are not
    with translation.override("zh-hans"):  # the Celery worker's language
        assert services.stock_order_confirm(order_id=order.pk) == "expired"
    order.refresh_from_db()
    # Nothing in the worker's language is stored: a code and WeChat's errcode.
    assert order.problem == Problem.WECHAT_SAYS_EXPIRED and order.errcode == 40079
    client = login("demo_staff")
    status = client.get(
        reverse("api:coins_stock_order", args=[order.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).json()
    assert status["error"].startswith("WeChat says the quote has expired")
    page = client.get(
        reverse("admin:coins_stockorder_change", args=[order.pk]),
        HTTP_ACCEPT_LANGUAGE="en",
    ).content.decode()
    assert "WeChat says the quote has expired" in page and "批价" not in page
    zh = client.get(
        reverse("api:coins_stock_order", args=[order.pk]),
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    ).json()
    assert "批价已过期" in zh["error"]


def test_confirm_waits_for_enough_coins_and_the_recharge_is_the_way(
    coins_on, sandbox, login
):
    # 400 units at 0.6 coins = 240 coins; the account has 200.
    order = services.stock_order_quote(
        merchant=coins_on.merchant, card=coins_on, quantity=400
    )
    client = login("demo_staff")
    page = client.get(
        reverse("admin:coins_stockorder_change", args=[order.pk])
    ).content.decode()
    confirm = page.split("data-confirm-order", 1)[1].split(">", 1)[0]
    assert "disabled" in confirm
    link = page.split("data-recharge-link", 1)[0].rsplit("<a", 1)[1]
    assert "btn-primary" in link and "?coins=40" in link
    status = client.get(reverse("api:coins_stock_order", args=[order.pk])).json()
    assert status["can_confirm"] is False and status["recharge_coins"] == 40
    assert status["shortfall"] == "40.00"

    enough = services.stock_order_quote(
        merchant=coins_on.merchant, card=coins_on, quantity=100
    )
    page = client.get(
        reverse("admin:coins_stockorder_change", args=[enough.pk])
    ).content.decode()
    confirm = page.split("data-confirm-order", 1)[1].split(">", 1)[0]
    assert "disabled" not in confirm
    assert client.get(reverse("api:coins_stock_order", args=[enough.pk])).json()[
        "can_confirm"
    ]
    assert StockOrder.objects.filter(status="quoted").count() == 2


def test_no_payment_permission_offers_to_open_the_coin_account(
    approved_card, sandbox, login
):
    client = login("demo_staff")
    add = reverse("admin:coins_stockorder_add")
    page = client.post(
        add, {"card": approved_card.pk, "quantity": "10"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    html = page.content.decode()
    assert "data-needs-account" in html and "data-activate-coins" in html
    assert f'name="next" value="{add}"' in html
    back = client.post(reverse("admin:coins_coins_activate"), {"next": add})
    assert back.status_code == 302 and back["Location"] == add
    # Somewhere else than this site is not a way back.
    elsewhere = client.post(
        reverse("admin:coins_coins_activate"), {"next": "https://evil.example/"}
    )
    assert elsewhere["Location"] == reverse("admin:index")


def test_settled_by_and_the_waiting_count_are_words_and_live(coins_on, sandbox, login):
    merchant = coins_on.merchant
    client = login("demo_staff")
    recharge = services.recharge_create(merchant=merchant, coin_count=50)
    assert client.get("/api/coins/balance").json()["recharges_waiting"] == 1
    sandbox.control(
        "POST", f"recharges/{recharge.order_id}/pay", json={"success": True}
    )
    for _ in range(50):
        process_events()  # the push: a hint that makes the poller look now
        tasks.poll_recharges()
        recharge.refresh_from_db()
        if recharge.status == Recharge.Status.PAID:
            break
        time.sleep(0.1)
    assert recharge.settled_by == "poll"
    assert client.get("/api/coins/balance").json()["recharges_waiting"] == 0
    listing = client.get(
        reverse("admin:coins_recharge_changelist"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "向微信查询" in listing and ">poll<" not in listing
    status = client.get(
        reverse("api:coins_recharge", args=[recharge.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).json()
    assert status["settled_by"] == "poll"
    assert status["settled_by_label"] == "Asked WeChat"


def test_paid_coins_are_not_already_paid_in_chinese(coins_on, login):
    client = login("demo_staff")
    home = client.get(reverse("admin:index"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = home.content.decode()
    assert "付费券点" in text and "免费券点" in text
    section = text.split('id="section-coins"')[1].split("</section>")[0]
    assert "已支付" not in section
