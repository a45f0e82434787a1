"""Coins in a real browser: open the account, quote and confirm stock inside the
countdown, a late confirm refused, a recharge paid on the sandbox's payment page with
the balance rising without a reload, and every movement in the ledger."""

from __future__ import annotations

import pytest

from cards import services as card_services
from coins.models import Recharge, StockOrder
from portal.demo import DEMO_PASSWORD
from tests.factories import process_events

pytestmark = [pytest.mark.e2e, pytest.mark.celery_worker]


def test_coins_end_to_end(
    page, live_server, bistro, sandbox, celery_worker_process, screenshots
):
    from tests.factories import cash_card

    merchant, logo, pic = bistro
    card = card_services.card_submit(
        card=card_services.card_draft_save(
            merchant=merchant, definition=cash_card(logo, pic)
        )
    )
    sandbox.control("POST", f"cards/{card.card_id}/review", json={"approve": True})
    process_events()
    base = live_server.url

    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "demo_staff")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")

    page.click("[data-activate-coins]")
    page.wait_for_selector("#section-coins [data-bind=total_coin]")
    assert (
        page.locator("#section-coins [data-bind=total_coin]")
        .text_content()
        .startswith("200")
    )

    # Buy 100 units (0.6 coins each) from the card's page, inside the countdown.
    page.goto(f"{base}/admin/cards/friendcard/{card.pk}/change/")
    page.click("[data-buy-stock]")
    page.fill("[name=quantity]", "100")
    page.click("[data-get-quote]")
    page.wait_for_selector("[data-countdown]")
    assert int(page.locator("[data-countdown]").text_content()) > 50
    page.screenshot(path=str(screenshots / "stock-quote.png"), full_page=True)
    page.click("[data-confirm-order]")
    page.wait_for_selector("[data-status=confirmed]", timeout=30_000)
    assert page.locator("[data-bind=card_stock]").text_content() == "100"

    # A quote confirmed after WeChat's 60 seconds is refused, with a one-click re-quote.
    page.goto(f"{base}/admin/coins/stockorder/add/?card={card.pk}")
    page.fill("[name=quantity]", "10")
    page.click("[data-get-quote]")
    page.wait_for_selector("[data-countdown]")
    sandbox.advance(61)
    page.click("[data-confirm-order]")
    page.wait_for_selector("[data-status=expired]", timeout=30_000)
    assert (
        "60"
        in page.locator("[data-show-when='expired failed'] .errornote").text_content()
    )
    page.click("[data-requote]")
    page.wait_for_selector("[data-countdown]")
    assert StockOrder.objects.filter(status="quoted").count() == 1

    # Recharge 50 coins through the sandbox's payment page; the balance rises live.
    page.goto(f"{base}/admin/coins/recharge/add/")
    page.fill("[name=coin_count]", "50")
    page.click("[data-create-recharge]")
    page.wait_for_selector(".qr svg")
    before = page.locator("[data-balance]").text_content()
    page.screenshot(path=str(screenshots / "recharge-qr.png"), full_page=True)
    with page.context.expect_page() as payment_tab:
        page.click("[data-sandbox-pay]")
    payment = payment_tab.value
    payment.wait_for_load_state()
    payment.click("button[name=decision][value=pay]")
    payment.wait_for_load_state()
    payment.close()
    page.wait_for_selector("[data-status=paid]", timeout=30_000)
    page.wait_for_function(
        f"document.querySelector('[data-balance]').textContent !== '{before}'",
        timeout=30_000,
    )
    assert Recharge.objects.get().status == Recharge.Status.PAID
    page.screenshot(path=str(screenshots / "recharge-paid.png"), full_page=True)

    # Every movement is in the ledger.
    page.goto(f"{base}/admin/coins/ledgerentry/")
    page.click("[data-sync-ledger]")
    page.wait_for_selector("#ledger tbody tr")
    rows = page.locator("#ledger tbody").text_content()
    for kind in ("平台赠送", "券点兑换库存", "充值"):
        assert kind in rows, rows
    page.screenshot(path=str(screenshots / "ledger.png"), full_page=True)
