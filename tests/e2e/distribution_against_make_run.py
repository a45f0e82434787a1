"""Distribution as a new user walks it, against a running `make run` (issue 11's
"done when"; CI's smoke test runs it after against_make_run.py).

    PORT=8000 SANDBOX_PORT=8001 .venv/bin/python tests/e2e/distribution_against_make_run.py

Signs in as demo_owner, makes a coupon (editor, sandbox approval, stock), names the
channels "Window poster" and "Table 12", makes a QR code for the window poster and
prints it (A6, checked in the PDF), scans it on the sandbox's simulated phone, makes
a campaign page for table 12, opens it on a phone-sized browser and receives a second
coupon through the sandbox's JS-SDK, then sees both receives, each with its channel,
on the card's page (the pushes go sandbox → portal → Celery worker). Exits non-zero
on failure.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time

import requests
from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from against_make_run import ARGS, BASE, CHROMIUM, SANDBOX, png, step

PASSWORD = "demo-pass-2026"


def make_coupon(page, tmp: str) -> tuple[str, str]:
    """A new approved cash coupon with stock → (its portal page, its WeChat id)."""
    logo = png(os.path.join(tmp, "logo.png"), (120, 120), (250, 250, 250))
    dish = png(os.path.join(tmp, "dish.png"), (400, 200), (40, 120, 200))
    page.goto(f"{BASE}/admin/cards/friendcard/add/")
    page.fill("[name=reduce_cost]", "30")
    page.fill("[name=least_cost]", "300")
    page.set_input_files("[data-upload-for=logo_url]", logo)
    expect(page.locator("[name=logo_url]")).not_to_have_value("")
    page.set_input_files("[data-upload-for=text_image_1_url]", dish)
    expect(page.locator("[name=text_image_1_url]")).not_to_have_value("")
    page.fill("[name=text_image_1_text]", "春季新品")
    page.fill("[name=description]", "不可与其他优惠同享")
    expect(page.locator("[data-preview-title]")).to_have_text("全场满300减30")
    page.click("[data-submit-card]")
    page.wait_for_selector("[data-card-status]")
    card_url = page.url
    cards = requests.get(SANDBOX + "control/cards", timeout=10).json()["cards"]
    card_id = [
        c["card_id"]
        for c in cards
        if c["title"] == "全场满300减30" and c["status"] == "CARD_STATUS_NOT_VERIFY"
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
    page.fill("[name=quantity]", "20")
    page.click("[data-get-quote]")
    page.wait_for_selector("[data-countdown]")
    page.click("[data-confirm-order]")
    page.wait_for_selector("[data-status=confirmed]", timeout=30_000)
    return card_url, card_id


def channel(page, name: str) -> None:
    page.goto(f"{BASE}/admin/distribution/channel/")
    if page.locator("#result_list").get_by_role("link", name=name, exact=True).count():
        return
    page.goto(f"{BASE}/admin/distribution/channel/add/")
    page.fill("[name=name]", name)
    page.click("input[name=_save]")
    listed = page.locator("#result_list").get_by_role("link", name=name, exact=True)
    expect(listed).to_be_visible()


def received(page, name: str) -> str:
    """The card page's "received" figure of a channel."""
    row = page.locator("[data-channel-table] tbody tr", has_text=name)
    return row.locator("[data-received]").inner_text()


def main() -> int:
    if not os.path.exists(CHROMIUM):
        print("chromium is not installed: the browser walk is skipped")
        return 0
    tmp = tempfile.mkdtemp()
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

        card_url, card_id = make_coupon(owner, tmp)
        card_pk = re.search(r"/friendcard/(\d+)/", card_url).group(1)
        step(f"coupon 全场满300减30 approved with 20 units ({card_id})")

        channel(owner, "Window poster")
        channel(owner, "Table 12")
        step("channels: Window poster, Table 12")

        owner.goto(f"{BASE}/admin/distribution/qrcode/add/?card={card_pk}")
        owner.select_option("[name=channel]", label="Window poster")
        owner.check("input[name=validity][value=permanent]")
        owner.click("[data-make-qrcode]")
        owner.wait_for_selector("[data-qr-svg] svg")
        qr_page = owner.url
        with owner.context.expect_page() as tab:
            owner.click("[data-print-a6]")
        sheet = tab.value
        sheet.wait_for_load_state()
        expect(sheet.locator(".sheet-title")).to_have_text("全场满300减30")
        expect(sheet.locator(".sheet-qr svg")).to_be_visible()
        pdf = sheet.pdf(prefer_css_page_size=True)
        [box] = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
        width, height = float(box[0]), float(box[1])
        assert abs(width - 297.6) < 2 and abs(height - 419.5) < 2, box
        sheet.close()
        step(f"QR code for the window poster printed on one A6 sheet ({qr_page})")

        owner.goto(qr_page)
        with owner.context.expect_page() as tab:
            owner.click("[data-sandbox-phone]")
        phone = tab.value
        phone.wait_for_load_state()
        phone.fill("[name=openid]", f"o_window_{int(time.time())}")
        phone.click("button[type=submit]")
        expect(phone.locator("[data-received]")).to_be_visible()
        phone.close()
        step("scanned on the sandbox's simulated phone: received")

        owner.goto(f"{BASE}/admin/distribution/campaign/add/")
        owner.fill("[name=title]", "春季品鉴")
        owner.select_option("[name=channel]", label="Table 12")
        owner.check(f"input[name=cards][value='{card_pk}']")
        owner.click("input[name=_continue]")
        url = owner.locator("[data-page-url]").get_attribute("href")
        step(f"campaign page for table 12: {url}")

        visitor = browser.new_context(
            locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True
        ).new_page()
        visitor.set_default_timeout(20_000)
        visitor.goto(url)
        button = visitor.locator(f'[data-add-card="{card_id}"]')
        expect(button).to_be_enabled()
        button.click()
        visitor.fill("[data-wx-sandbox=openid]", f"o_table_{int(time.time())}")
        visitor.click("[data-wx-sandbox=confirm]")
        expect(visitor.locator(f'[data-result-for="{card_id}"]')).to_have_text(
            "已添加到您的卡包。"
        )
        step("received a second coupon on the campaign page through the sandbox JS-SDK")

        deadline = time.monotonic() + 60
        while True:
            owner.goto(card_url)
            window, table = (
                received(owner, "Window poster"),
                received(owner, "Table 12"),
            )
            if (window, table) == ("1", "1"):
                break
            assert time.monotonic() < deadline, (window, table)
            time.sleep(1)
        rows = owner.locator("[data-channel-table]").inner_text()
        step("the card's page shows both receives with their channels:\n" + rows)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
