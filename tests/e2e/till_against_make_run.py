"""The till as a new user walks it, against a running `make run` (issue 10's "done
when", the till part).

    PORT=8000 SANDBOX_PORT=8001 .venv/bin/python tests/e2e/till_against_make_run.py

demo_owner makes a coupon with stock (as distribution_against_make_run.py does), a
WeChat user receives it in the sandbox, demo_cashier signs in (landing on the till),
chooses the store once, types the code, Enter, Enter → redeemed, sees it in the
till's last redemptions; the same code again is refused in words. Exits non-zero on
failure.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import requests
from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from against_make_run import ARGS, BASE, CHROMIUM, SANDBOX, step
from distribution_against_make_run import PASSWORD, make_coupon


def sign_in(browser, username: str):
    page = browser.new_context(locale="zh-CN").new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{BASE}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def main() -> int:
    if not os.path.exists(CHROMIUM):
        print("chromium is not installed: the browser walk is skipped")
        return 0
    tmp = tempfile.mkdtemp()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        owner = sign_in(browser, "demo_owner")
        _card_url, card_id = make_coupon(owner, tmp)
        step(f"coupon approved with stock ({card_id})")

        openid = f"o_till_walk_{int(time.time())}"
        got = requests.post(
            SANDBOX + f"control/cards/{card_id}/receive",
            json={"openid": openid},
            timeout=10,
        )
        got.raise_for_status()
        code = got.json()["code"]
        step(f"{openid} received code {code} in the sandbox")

        till = sign_in(browser, "demo_cashier")
        assert "/redemption/" in till.url, till.url  # cashiers land on the till
        if till.locator("[data-till-store]").count():
            till.select_option(
                "[data-till-store]", label="Demo Bistro · People's Square"
            )
            till.click("[data-till-store-submit]")
        field = till.locator("[data-till-code]")
        expect(field).to_be_focused()
        step("demo_cashier is on the till, store chosen")

        field.type(code)
        field.press("Enter")
        expect(till.locator("[data-till-consume]")).to_be_enabled()
        field.press("Enter")
        result = till.locator("[data-till-result]")
        expect(result).to_have_attribute("data-outcome", "consumed")
        expect(field).to_have_value("")
        step("typed, Enter, Enter: redeemed")

        row = till.locator("[data-till-recent-rows] tr", has_text=code)
        expect(row).to_have_attribute("data-outcome", "consumed", timeout=15_000)
        step("the redemption is in the till's last 20")

        field.type(code)
        field.press("Enter")
        refusal = till.locator("[data-till-refusal]")
        expect(refusal).to_have_attribute("data-reason", "already_consumed")
        step("the same code again: already redeemed, in words")

        codes = requests.get(
            SANDBOX + "control/codes", params={"openid": openid}, timeout=10
        )
        status = [c["status"] for c in codes.json()["codes"] if c["code"] == code]
        assert status == ["CONSUMED"], status
        step("WeChat (the sandbox) has it consumed")
        browser.close()
    print("till walk: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
