"""The merchant side of redemption in a real browser: the owner reads the history of
codes really consumed in the sandbox (in Chinese and in English), filters it, sees
it on a 375 px phone; then makes an API key for a till and sees it once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from portal.demo import DEMO_PASSWORD
from portal.models import Store
from redemption import services
from redemption.models import Channel, TillKey

pytestmark = [pytest.mark.e2e]


def _sign_in(page, base, username="demo_owner"):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def test_owner_reads_filters_and_exports_the_history(
    browser, page, live_server, stocked_card, receive, screenshots
):
    from django.contrib.auth import get_user_model

    merchant = stocked_card.merchant
    square = Store.objects.get(merchant=merchant, poi_id="100001")
    jingan = Store.objects.get(merchant=merchant, poi_id="100002")
    owner = get_user_model().objects.get(username="demo_owner")
    key, _raw = services.till_key_create(merchant=merchant, store=square, name="POS 1")
    first, second = (
        receive(stocked_card, "o_e1")["code"],
        receive(stocked_card, "o_e2")["code"],
    )
    services.code_consume(merchant=merchant, code=first, store=square, user=owner)
    services.code_consume(
        merchant=merchant, code=second, store=square, channel=Channel.API, api_key=key
    )
    services.code_consume(merchant=merchant, code=first, store=jingan, user=owner)
    base = live_server.url

    _sign_in(page, base)  # the browser asks for Chinese (zh-CN)
    # From the dashboard: today's figures and the way to the history.
    expect(
        page.locator("#section-redemption [data-bind=redemptions_today]")
    ).to_have_text("2")
    page.click("#section-redemption [data-history-link]")
    expect(page.locator("h1")).to_have_text("核销记录")
    expect(page.locator("tr[data-attempt]")).to_have_count(2)  # today's consumed
    page.click("[data-clear-filters]")
    expect(page.locator("tr[data-attempt]")).to_have_count(3)
    expect(page.locator("#history")).to_contain_text("这张券已经核销过了。")
    expect(page.locator("#nav-sidebar")).to_contain_text("收银设备 API 密钥")

    # Filter by the device, then by a bad date (refused in words).
    page.select_option("select[name=who]", f"k{key.pk}")
    page.click("[data-history-filters] button[type=submit]")
    expect(page.locator("tr[data-attempt]")).to_have_count(1)
    expect(page.locator("tr[data-attempt] [data-who]")).to_have_text("POS 1")
    page.goto(f"{base}/redemption/history/?from=2026-12-09&to=2026-12-01")
    expect(page.locator("[data-field-error=to]")).to_have_text("结束日期早于开始日期。")

    # In English.
    page.goto(f"{base}/redemption/history/")
    page.select_option("#language-switch", "en")
    expect(page.locator("h1")).to_have_text("Redemption history")
    page.select_option("select[name=outcome]", "refused")
    page.click("[data-history-filters] button[type=submit]")
    expect(page.locator("tr[data-attempt]")).to_have_count(1)
    expect(page.locator("tr[data-attempt]")).to_contain_text(
        "This coupon has already been redeemed."
    )
    with page.expect_download() as download:
        page.click("[data-export-csv]")
    path = download.value.path()
    data = Path(path).read_bytes()
    assert (
        data.startswith("\ufeff".encode())
        and b"Redeemed" not in data.split(b"\n", 1)[0]
    )
    assert data.decode("utf-8-sig").count("\n") == 2  # header + the one refused

    # On a phone: the filters wrap and the table scrolls inside its box.
    phone = browser.new_context(
        locale="zh-CN", viewport={"width": 375, "height": 812}, is_mobile=True
    )
    mobile = phone.new_page()
    _sign_in(mobile, base)
    mobile.goto(f"{base}/redemption/history/")
    expect(mobile.locator("tr[data-attempt]")).to_have_count(3)
    width = mobile.evaluate("document.documentElement.scrollWidth")
    assert width <= 375 + 1, width  # no sideways scroll of the page
    mobile.screenshot(
        path=str(screenshots / "redemption-history-375.png"), full_page=True
    )
    phone.close()


def test_owner_makes_a_key_and_sees_it_once(page, live_server, demo, screenshots):
    base = live_server.url
    _sign_in(page, base)
    page.goto(f"{base}/redemption/keys/")
    expect(page.locator("[data-keys] [data-empty]")).to_be_visible()
    page.fill("input[name=name]", "1 号收银台")
    page.click("[data-create-key]")
    raw = page.locator("[data-raw-key]").input_value()
    assert re.fullmatch(r"fct_[\w-]{40,}", raw)
    expect(page.locator("[data-curl]")).to_contain_text(f"Bearer {raw}")
    page.screenshot(
        path=str(screenshots / "redemption-key-created.png"), full_page=True
    )
    key = TillKey.objects.get(name="1 号收银台")
    assert services.till_key_authenticate(raw) == key

    page.reload()
    expect(page.locator("[data-key-gone]")).to_be_visible()
    assert raw not in page.content()
    page.click("[data-key-created] .actions-row a")
    expect(page.locator(f"tr[data-key='{key.pk}']")).to_contain_text("1 号收银台")
    assert raw not in page.content()

    page.click(f"tr[data-key='{key.pk}'] [data-revoke]")
    page.click("[data-confirm-revoke]")
    expect(page.locator(f"tr[data-key='{key.pk}'] [data-revoked]")).to_be_visible()
    assert services.till_key_authenticate(raw) is None
