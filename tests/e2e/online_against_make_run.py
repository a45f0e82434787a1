"""Online redemption as a new user walks it, against a running `make run` (issue 10
§5's "done when"; CI's smoke test runs it after distribution_against_make_run.py).

    PORT=8000 SANDBOX_PORT=8001 .venv/bin/python tests/e2e/online_against_make_run.py

Signs in as demo_owner, makes a coupon whose "Main button link" (center_url) is the
online redemption link the editor shows (copied from beside the field), with a gift
after use, has the sandbox approve it and buys stock; a WeChat user receives it
through the sandbox's control API; the coupon's link in the sandbox console's WeChat user panel
(the card's center_url + card_id, encrypt_code, openid; the same as the control
API's coupon-link) opens the portal's H5 page on a phone-sized browser: Use now, Confirm, redeemed; the sandbox's JS-SDK shows the
consume-share gift, and the sandbox's codes of that openid show it. Exits non-zero
on failure.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import requests
from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from against_make_run import ARGS, BASE, CHROMIUM, SANDBOX, png, step

PASSWORD = "demo-pass-2026"
TITLE = "全场满200减20"


def make_coupon(page, tmp: str) -> tuple[str, str]:
    """A new approved cash coupon with stock whose center_url is the online page →
    (the online link, its WeChat id)."""
    logo = png(os.path.join(tmp, "logo.png"), (120, 120), (250, 250, 250))
    dish = png(os.path.join(tmp, "dish.png"), (400, 200), (40, 160, 90))
    page.goto(f"{BASE}/admin/cards/friendcard/add/")
    link = page.locator("[data-online-url]").input_value()
    assert link == f"{BASE}/u/wx0000000000de0001/", link
    page.fill("[name=reduce_cost]", "20")
    page.fill("[name=least_cost]", "200")
    page.set_input_files("[data-upload-for=logo_url]", logo)
    expect(page.locator("[name=logo_url]")).not_to_have_value("")
    page.set_input_files("[data-upload-for=text_image_1_url]", dish)
    expect(page.locator("[name=text_image_1_url]")).not_to_have_value("")
    page.fill("[name=text_image_1_text]", "线上核销")
    page.fill("[name=description]", "不可与其他优惠同享")
    page.fill("[name=center_title]", "立即使用")
    page.fill("[name=center_url]", link)
    page.check("input[name=consume_share][value=self]")
    expect(page.locator("[data-preview-title]")).to_have_text(TITLE)
    page.click("[data-submit-card]")
    page.wait_for_selector("[data-card-status]")
    card_url = page.url
    cards = requests.get(SANDBOX + "control/cards", timeout=10).json()["cards"]
    card_id = [
        c["card_id"]
        for c in cards
        if c["title"] == TITLE and c["status"] == "CARD_STATUS_NOT_VERIFY"
    ][-1]
    requests.post(
        SANDBOX + f"control/cards/{card_id}/review", json={"approve": True}, timeout=10
    ).raise_for_status()
    page.wait_for_selector("[data-buy-stock]", state="visible", timeout=30_000)
    page.goto(f"{BASE}/admin/")
    if page.locator("[data-activate-coins]").count():
        page.click("[data-activate-coins]")
    page.goto(card_url)
    page.click("[data-buy-stock]")
    page.fill("[name=quantity]", "10")
    page.click("[data-get-quote]")
    page.wait_for_selector("[data-countdown]")
    page.click("[data-confirm-order]")
    page.wait_for_selector("[data-status=confirmed]", timeout=30_000)
    return link, card_id


def codes_of(openid: str) -> list[dict]:
    answer = requests.get(
        SANDBOX + "control/codes", params={"openid": openid}, timeout=10
    )
    answer.raise_for_status()
    return answer.json()["codes"]


def main() -> int:
    if not os.path.exists(CHROMIUM):
        print("chromium is not installed: the browser walk is skipped")
        return 0
    tmp = tempfile.mkdtemp()
    openid = f"o_online_{int(time.time())}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        owner = browser.new_context(locale="zh-CN").new_page()
        owner.set_default_timeout(20_000)
        owner.goto(f"{BASE}/accounts/login/")
        owner.fill("#id_username", "demo_owner")
        owner.fill("#id_password", PASSWORD)
        owner.click("button[type=submit]")
        owner.wait_for_url(f"{BASE}/admin/")
        step("signed in as demo_owner")

        link, card_id = make_coupon(owner, tmp)
        step(f"coupon {TITLE} approved with 10 units, center_url {link} ({card_id})")

        got = requests.post(
            SANDBOX + f"control/cards/{card_id}/receive",
            json={"openid": openid},
            timeout=10,
        )
        got.raise_for_status()
        code = got.json()["code"]
        url = requests.get(
            SANDBOX + f"control/users/{openid}/coupon-link",
            params={"code": code},
            timeout=10,
        ).json()["url"]
        assert url.startswith(link + "?"), url
        step(f"{openid} received code {code}; the coupon's link: {url[:80]}…")
        before = {c["code"] for c in codes_of(openid)}

        context = browser.new_context(
            locale="zh-CN", viewport={"width": 375, "height": 812}, is_mobile=True
        )
        context.set_default_timeout(20_000)
        console = context.new_page()
        console.goto(SANDBOX + f"console/user?appid=wx0000000000de0001&openid={openid}")
        tap = console.locator(f'a.coupon-link[href="{url}"]')
        expect(tap).to_have_count(1)
        with context.expect_page() as tab:
            tap.click()
        phone = tab.value
        phone.wait_for_load_state()
        step("tapped the coupon's link in the sandbox console's WeChat user panel")
        expect(phone.locator("[data-coupon-title]")).to_have_text(TITLE)
        if phone.locator("[data-store]").count():
            phone.locator("[data-store]").select_option(index=1)
        phone.click("[data-use-now]")
        expect(phone.locator("[data-held]")).to_be_visible()
        step("the H5 page opened; Use now reserved the coupon (mark)")
        phone.click("[data-confirm]")
        expect(phone.locator("[data-success]")).to_be_visible()
        expect(phone.locator("[data-redeemed-code]")).to_have_text(code)
        step("Confirm: redeemed (consume with the openid)")
        expect(phone.locator("[data-wx-sandbox=gift]")).to_be_visible()
        phone.click("[data-wx-sandbox=ok]")
        expect(phone.locator("[data-gift-note]")).to_be_visible()
        step("the sandbox's JS-SDK showed the consume-share gift")

        codes = codes_of(openid)
        mine = next(c for c in codes if c["code"] == code)
        assert mine["status"] == "CONSUMED", mine
        gifts = [c for c in codes if c["code"] not in before]
        assert len(gifts) == 1 and gifts[0]["status"] == "NORMAL", gifts
        step(
            f"the sandbox's codes of {openid}: {code} CONSUMED, gift {gifts[0]['code']}"
        )
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
