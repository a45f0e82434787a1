"""Issue 12's "done when", walked in a browser against a running `make run`:

    PORT=8000 SANDBOX_PORT=8001 .venv/bin/python tests/e2e/provider_against_make_run.py

demo_provider opens the provider console, adds a merchant through the sandbox's
authorization page (Dumpling House), enters a store and submits a coupon for it;
the console shows every sub-merchant with its state; revoking in the sandbox's
console marks it revoked in the portal. Exits non-zero on failure. Run it on a
fresh `make run` (a second run finds Dumpling House onboarded already and
re-authorizes it).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time

import requests
from PIL import Image
from playwright.sync_api import expect, sync_playwright

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
DUMPLING = "wx0000000000de0013"


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
    shots = os.environ.get("SCREENSHOTS", tmp)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_context(locale="zh-CN").new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{BASE}/accounts/login/")
        page.fill("#id_username", "demo_provider")
        page.fill("#id_password", "demo-pass-2026")
        page.click("button[type=submit]")
        page.wait_for_url(f"{BASE}/admin/")
        page.click("[data-provider-console]")
        page.wait_for_selector("#sub-merchants")
        for _ in range(40):  # WeChat's first ticket arrives within seconds
            if not page.locator("[data-provider-alert]").count():
                break
            time.sleep(0.5)
            page.reload()
        assert not page.locator("[data-provider-alert]").count(), page.locator(
            "[data-provider-alert]"
        ).text_content()
        names = page.locator(
            "#sub-merchants tbody tr td:first-child a"
        ).all_text_contents()
        step(f"the console lists {names}; WeChat's ticket is in")

        page.click("[data-add-merchant]")
        page.wait_for_selector("[data-provider-name]")
        page.check(f"input[name=authorizer_appid][value={DUMPLING}]")
        page.screenshot(path=os.path.join(shots, "authorization-page.png"))
        page.click("[data-authorize]")
        page.wait_for_url(f"{BASE}/admin/")
        assert "Dumpling House" in page.locator("#section-merchant").text_content()
        step(
            "Dumpling House authorized Demo Provider on the sandbox's page: its dashboard"
        )

        page.goto(f"{BASE}/admin/portal/store/")
        if "400001" not in page.content():
            page.goto(f"{BASE}/admin/portal/store/add/")
            page.fill("[name=poi_id]", "400001")
            page.fill("[name=name]", "Dumpling House · Nanjing")
            page.click("[name=_save]")
            page.wait_for_url(f"{BASE}/admin/portal/store/")
        page.goto(f"{BASE}/admin/cards/friendcard/add/")
        page.fill("[name=reduce_cost]", "10")
        page.fill("[name=least_cost]", "100")
        page.fill("[name=brand_name]", "饺子馆")
        page.set_input_files("[data-upload-for=logo_url]", logo)
        # Waits that read the page, not strings evaluated in it (the CSP forbids eval).
        expect(page.locator("[name=logo_url]")).not_to_have_value("")
        page.set_input_files("[data-upload-for=text_image_1_url]", dish)
        expect(page.locator("[name=text_image_1_url]")).not_to_have_value("")
        page.fill("[name=text_image_1_text]", "手工水饺")
        page.fill("[name=description]", "不可与其他优惠同享")
        expect(page.locator("[data-preview-title]")).to_have_text("全场满100减10")
        page.click("[data-submit-card]")
        page.wait_for_selector("[data-card-status]")
        cards = requests.get(
            SANDBOX + "control/cards", params={"appid": DUMPLING}, timeout=10
        ).json()["cards"]
        assert any(c["title"] == "全场满100减10" for c in cards), cards
        step("a store, then a coupon submitted to WeChat for Dumpling House")

        page.goto(f"{BASE}/provider/")
        rows = page.locator("#sub-merchants tbody tr")
        states = {
            rows.nth(i).get_attribute("data-merchant"): rows.nth(i).get_attribute(
                "data-state"
            )
            for i in range(rows.count())
        }
        assert states.get(DUMPLING) == "active", states
        page.screenshot(path=os.path.join(shots, "console.png"), full_page=True)
        step(f"the console shows every sub-merchant with its state: {states}")

        console = page.context.new_page()
        console.goto(f"{SANDBOX}console/")
        console.click(f"[data-revoke='{DUMPLING}']")
        console.wait_for_load_state()
        for _ in range(20):
            page.goto(f"{BASE}/provider/")
            row = page.locator(f"tr[data-merchant='{DUMPLING}']")
            if row.get_attribute("data-state") == "revoked":
                break
            time.sleep(0.5)
        assert row.get_attribute("data-state") == "revoked"
        page.screenshot(path=os.path.join(shots, "console-revoked.png"), full_page=True)
        step("revoked in the sandbox's console: revoked in the portal's console")
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
