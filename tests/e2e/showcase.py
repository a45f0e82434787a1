"""A merchant with something in every state, for the page screenshots and the
layout tests: coupons approved, rejected (with WeChat's reason), in review and an
invalid draft; the coin account open, a stock quote, a recharge waiting, the ledger
synced and WeChat's events received. Built through the services and the sandbox (its
control API over HTTP), as a user would get there."""

from __future__ import annotations

import time

from cards import services as cards
from coins import services as coins
from portal import events
from portal.models import WeChatEvent
from tests.factories import cash_card, png

REJECT_REASON = "图片与商户经营内容不符，请更换后重新提交"


def handle_events() -> None:
    """What the Celery worker does with the events the sandbox pushed."""
    for pk in WeChatEvent.objects.filter(
        status=WeChatEvent.Status.RECEIVED
    ).values_list("pk", flat=True):
        events.event_process(pk)


def build(merchant, control) -> dict:
    """``control(method, path, json=None)`` calls the sandbox's control API."""
    # Reviews only by hand here: a coupon stays in review until the test says.
    account = next(
        a
        for a in control("GET", "accounts")["accounts"]
        if a["appid"] == merchant.appid
    )
    control("POST", "accounts", {**account, "auto_review_seconds": 0})
    logo = cards.card_image_upload(
        merchant=merchant, content=png((255, 255, 255), (120, 120)), filename="l.png"
    ).wechat_url
    pic = cards.card_image_upload(
        merchant=merchant, content=png((200, 80, 40), (400, 200)), filename="d.png"
    ).wechat_url

    def submitted(**kw):
        card = cards.card_draft_save(
            merchant=merchant, definition=cash_card(logo, pic, **kw)
        )
        return cards.card_submit(card=card)

    approved = submitted()
    control("POST", f"cards/{approved.card_id}/review", {"approve": True})
    rejected = submitted(reduce=1000, least=10000)
    control(
        "POST",
        f"cards/{rejected.card_id}/review",
        {"approve": False, "reason": REJECT_REASON},
    )
    in_review = submitted(reduce=2000, least=0)
    invalid = cash_card(logo, pic, reduce=3000, least=20000)
    invalid["cash"]["base_info"]["logo_url"] = ""
    invalid["cash"]["base_info"]["brand_name"] = "一二三四五六七八九十一二三"
    draft = cards.card_draft_save(merchant=merchant, definition=invalid)
    handle_events()

    coins.coin_account_activate(merchant=merchant)
    handle_events()
    approved.refresh_from_db()
    order = coins.stock_order_quote(merchant=merchant, card=approved, quantity=100)
    paid = coins.recharge_create(merchant=merchant, coin_count=20)
    control("POST", f"recharges/{paid.order_id}/pay", {"success": True})
    recharge = coins.recharge_create(merchant=merchant, coin_count=50)
    for _ in range(50):  # the payment's event arrives asynchronously
        handle_events()
        paid.refresh_from_db()
        if paid.status != paid.Status.WAITING:
            break
        time.sleep(0.1)
    coins.ledger_sync(merchant=merchant)
    for card in (approved, rejected, in_review, draft):
        card.refresh_from_db()
    event = WeChatEvent.objects.filter(merchant=merchant, event="card_pass_check")
    return {
        "event": event.values_list("pk", flat=True).first(),
        "approved": approved,
        "rejected": rejected,
        "in_review": in_review,
        "draft": draft,
        "order": order,
        "recharge": recharge,
        "paid_recharge": paid,
        "built_at": time.time(),
    }
