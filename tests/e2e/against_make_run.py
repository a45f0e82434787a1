"""The demo as a new user walks it, against a running `make run` (CI's smoke test).

    PORT=8000 SANDBOX_PORT=8001 .venv/bin/python tests/e2e/against_make_run.py

Signs in as demo_staff, creates a cash coupon in the editor (images uploaded, the
preview showing 全场满500减50 at 0.6), submits it, approves it in the sandbox, waits
for the approval to arrive (sandbox → portal → Celery worker), opens the coin account,
buys stock inside the countdown, recharges through the sandbox's payment page and sees
the balance rise, and finds the movements in the ledger. Exits non-zero on failure.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile

import requests
from PIL import Image
from playwright.sync_api import sync_playwright

PORT = int(os.environ.get("PORT", 8000))
SANDBOX_PORT = int(os.environ.get("SANDBOX_PORT", 8001))
BASE = f"http://127.0.0.1:{PORT}"
SANDBOX = f"http://127.0.0.1:{SANDBOX_PORT}/sandbox/"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def png(path: str, size, color) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    with open(path, "wb") as fh:
        fh.write(buffer.getvalue())
    return path


def step(text: str) -> None:
    print(f"  - {text}", flush=True)


def main() -> int:
    if not os.path.exists(CHROMIUM):
        print("chromium is not installed: the browser walk is skipped")
        return 0
    tmp = tempfile.mkdtemp()
    logo = png(os.path.join(tmp, "logo.png"), (120, 120), (255, 255, 255))
    dish = png(os.path.join(tmp, "dish.png"), (400, 200), (200, 80, 40))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        # wait_for_function evaluates strings in the page: not under the CSP.
        page = browser.new_context(locale="zh-CN", bypass_csp=True).new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{BASE}/accounts/login/")
        page.fill("#id_username", "demo_staff")
        page.fill("#id_password", "demo-pass-2026")
        page.click("button[type=submit]")
        page.wait_for_url(f"{BASE}/admin/")
        step("signed in as demo_staff")

        page.goto(f"{BASE}/admin/cards/friendcard/add/")
        page.fill("[name=reduce_cost]", "50")
        page.fill("[name=least_cost]", "500")
        page.set_input_files("[data-upload-for=logo_url]", logo)
        page.wait_for_function("document.querySelector('[name=logo_url]').value !== ''")
        page.set_input_files("[data-upload-for=text_image_1_url]", dish)
        page.wait_for_function(
            "document.querySelector('[name=text_image_1_url]').value !== ''"
        )
        page.fill("[name=text_image_1_text]", "招牌菜品")
        page.fill("[name=description]", "不可与其他优惠同享")
        page.wait_for_function(
            "document.querySelector('[data-preview-title]').textContent === '全场满500减50'"
        )
        assert page.locator("[data-preview-unit]").text_content() == "0.6"
        step("the preview says 全场满500减50 at 0.6 coins per unit")
        page.click("[data-submit-card]")
        page.wait_for_selector("[data-card-status]")
        card_url = page.url
        cards = requests.get(SANDBOX + "control/cards", timeout=10).json()["cards"]
        card_id = next(
            c["card_id"]
            for c in cards
            if c["title"] == "全场满500减50" and c["status"] == "CARD_STATUS_NOT_VERIFY"
        )
        requests.post(
            SANDBOX + f"control/cards/{card_id}/review",
            json={"approve": True},
            timeout=10,
        ).raise_for_status()
        # The card page shows the review when it arrives (it polls): no reload.
        page.wait_for_selector("[data-buy-stock]", state="visible", timeout=30_000)
        step("submitted, approved in the sandbox, approval received through the worker")

        page.goto(f"{BASE}/admin/")
        if page.locator("[data-activate-coins]").count():
            page.click("[data-activate-coins]")
        page.goto(card_url)
        page.click("[data-buy-stock]")
        page.fill("[name=quantity]", "100")
        page.click("[data-get-quote]")
        page.wait_for_selector("[data-countdown]")
        page.click("[data-confirm-order]")
        page.wait_for_selector("[data-status=confirmed]", timeout=30_000)
        step("100 units bought inside the 60-second countdown")

        page.goto(f"{BASE}/admin/coins/recharge/add/")
        page.fill("[name=coin_count]", "50")
        page.click("[data-create-recharge]")
        page.wait_for_selector(".qr svg")
        before = page.locator("[data-balance]").text_content()
        with page.context.expect_page() as tab:
            page.click("[data-sandbox-pay]")
        payment = tab.value
        payment.wait_for_load_state()
        payment.click("button[name=decision][value=pay]")
        payment.wait_for_load_state()
        page.wait_for_selector("[data-status=paid]", timeout=30_000)
        page.wait_for_function(
            f"document.querySelector('[data-balance]').textContent !== '{before}'",
            timeout=30_000,
        )
        step(
            f"recharged 50 coins on the sandbox's payment page; balance {before} → "
            f"{page.locator('[data-balance]').text_content()} without a reload"
        )

        page.goto(f"{BASE}/admin/coins/ledgerentry/")
        page.click("[data-sync-ledger]")
        page.wait_for_selector("#ledger tbody tr")
        rows = page.locator("#ledger tbody").text_content()
        for kind in ("平台赠送", "券点兑换库存", "充值"):
            assert kind in rows, rows
        step("every movement is in the ledger")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
