"""A sub-merchant's whole product through its provider (SPEC §8): cards, their
review pushed through the component, coins and stock — and a revocation arriving
while a confirm is in flight."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection
from django.urls import reverse

import wechat
from cards import services as card_services
from cards.models import CardStatus
from coins import services as coin_services
from coins.models import StockOrder
from portal.models import Merchant
from portal.tests.provider_helpers import push_ticket, sub_merchant
from tests.factories import cash_card, png, process_events
from wechat import errors as wx


@pytest.fixture
def tea_card(sandbox, provider):
    """Tea House (served through Demo Provider): an approved coupon, coins open."""
    push_ticket(sandbox, provider)
    tea = sub_merchant("Tea House")
    logo = card_services.card_image_upload(
        merchant=tea, content=png(), filename="l.png"
    )
    pic = card_services.card_image_upload(
        merchant=tea, content=png((200, 80, 40), (64, 32)), filename="p.png"
    )
    card = card_services.card_submit(
        card=card_services.card_draft_save(
            merchant=tea,
            definition=cash_card(logo.wechat_url, pic.wechat_url, stores=(300001,)),
        )
    )
    assert card.status == CardStatus.IN_REVIEW
    # The review event comes to the provider's events URL, for Tea House.
    sandbox.control("POST", f"cards/{card.card_id}/review", json={"approve": True})
    process_events()
    card.refresh_from_db()
    assert card.status == CardStatus.APPROVED
    coin_services.coin_account_activate(merchant=tea)
    process_events()
    return card


def _stock_at_wechat(sandbox, card) -> int:
    cards = sandbox.control("GET", "cards", params={"appid": card.merchant.appid})
    return next(c["quantity"] for c in cards["cards"] if c["card_id"] == card.card_id)


def test_a_sub_merchant_runs_its_coupons_through_the_provider(sandbox, tea_card):
    tea = tea_card.merchant
    # Only Tea House's own token was ever used for it: its AppSecret is unknown here.
    assert tea.appsecret == "" and sandbox.calls("cgi-bin/token", tea.appid) == 0
    order = coin_services.stock_order_quote(merchant=tea, card=tea_card, quantity=10)
    assert coin_services.stock_order_confirm(order_id=order.pk) == "confirmed"
    tea_card.refresh_from_db()
    assert tea_card.quantity == 10 == _stock_at_wechat(sandbox, tea_card)


def test_unauthorized_mid_flow_settles_the_confirm_and_refuses_new_calls(
    sandbox, provider, tea_card, login
):
    tea = tea_card.merchant
    order = coin_services.stock_order_quote(merchant=tea, card=tea_card, quantity=10)
    sandbox.fault("latency", appid=tea.appid, path="card/pay/confirm", latency_ms=1500)
    result = {}

    def confirm():
        try:
            result["status"] = coin_services.stock_order_confirm(order_id=order.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=confirm)
    thread.start()
    time.sleep(0.4)  # the confirm is on its way to WeChat
    revoked = sandbox.control(
        "POST",
        f"components/{provider.component_appid}/revoke",
        json={"authorizer_appid": tea.appid},
    )
    assert revoked["push"]["status"] == "delivered"
    thread.join(30)
    sandbox.control("DELETE", "faults")
    # The confirm in flight settled, and the portal says what WeChat holds.
    order.refresh_from_db()
    assert order.status in (StockOrder.Status.CONFIRMED, StockOrder.Status.FAILED)
    assert result["status"] == order.status
    tea_card.refresh_from_db()
    at_wechat = _stock_at_wechat(sandbox, tea_card)
    assert tea_card.quantity == at_wechat
    assert at_wechat == (10 if order.status == StockOrder.Status.CONFIRMED else 0)
    tea.refresh_from_db()
    assert tea.authorization == Merchant.Authorization.REVOKED
    # New calls are refused in words, before anything is sent.
    calls = sandbox.calls("card/pay/getpayprice", tea.appid)
    with pytest.raises(wx.AuthorizationRevoked) as refused:
        coin_services.stock_order_quote(merchant=tea, card=tea_card, quantity=5)
    assert "revoked" in refused.value.message
    assert sandbox.calls("card/pay/getpayprice", tea.appid) == calls
    # Its data stays visible, read-only.
    client = login("demo_provider")
    client.post(reverse("provider:merchant_enter", args=[tea.pk]))
    listing = client.get(reverse("admin:cards_friendcard_changelist"))
    assert listing.status_code == 200 and tea_card.title in listing.content.decode()
    page = client.get(reverse("admin:cards_friendcard_change", args=[tea_card.pk]))
    assert page.status_code == 200
    buy = client.post(reverse("admin:coins_stockorder_add"), {"card": tea_card.pk})
    assert buy.status_code == 403
    assert wechat.for_merchant(tea).token_source.cache_key.startswith("authorizer:")
