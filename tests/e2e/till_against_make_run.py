"""The till as a new user walks it, against a running `make run` (issue 10's "done
when", the till part).

    PORT=8000 SANDBOX_PORT=8001 .venv/bin/python tests/e2e/till_against_make_run.py

A WeChat user receives the demo's coupon (made in WeChat's back office) in the
sandbox console's WeChat user panel; demo_cashier signs in (landing on the till),
chooses the store once, types the code, Enter, Enter → redeemed, sees it in the
till's last redemptions and in the history; the same code again is refused in words.
Then demo_owner makes an API key for a POS on the keys page (shown once) and the POS
redeems a second code with it over HTTP (the README's curl), the same
Idempotency-Key answering the same attempt; the history shows the device. Exits
non-zero on failure.
"""

from __future__ import annotations

import os
import sys
import time

import requests
from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from against_make_run import ARGS, BASE, CHROMIUM, SANDBOX, step
from distribution_against_make_run import PASSWORD

APPID = "wx0000000000de0001"  # Demo Bistro


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
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        cards = requests.get(
            SANDBOX + "control/cards", params={"appid": APPID}, timeout=10
        ).json()["cards"]
        demo = next(c for c in cards if c["title"] == "全场满100减10")
        card_id = demo["card_id"]
        assert demo["status"] == "CARD_STATUS_VERIFY_OK" and demo["quantity"] > 0, demo
        step(f"the demo's coupon is at WeChat, approved with stock ({card_id})")

        openid = f"o_till_walk_{int(time.time())}"
        phone = browser.new_context(locale="zh-CN").new_page()
        phone.set_default_timeout(20_000)
        phone.goto(SANDBOX + f"console/user?appid={APPID}&openid={openid}")
        phone.select_option("select[name=card_id]", card_id)
        phone.click("form[action$='receive'] button[type=submit]")
        phone.wait_for_load_state("networkidle")
        codes = requests.get(
            SANDBOX + "control/codes", params={"openid": openid}, timeout=10
        ).json()["codes"]
        assert len(codes) == 1, codes
        code = codes[0]["code"]
        assert phone.locator(f"article.coupon[data-code='{code}']").count() == 1
        step(
            f"{openid} received code {code} in the sandbox console's WeChat user panel"
        )

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

        till.goto(f"{BASE}/redemption/history/")
        row = till.locator("tr", has_text=code[-4:]).first
        expect(row).to_be_visible()
        assert "demo_cashier" in row.text_content(), row.text_content()
        step("the attempt is in the history (the cashier sees their store's)")

        # A POS at the till: the owner makes it a key, shown once.
        owner = sign_in(browser, "demo_owner")
        owner.goto(f"{BASE}/redemption/keys/")
        device = f"POS {int(time.time())}"
        owner.fill("input[name=name]", device)
        owner.select_option("select[name=store]", label="Demo Bistro · People's Square")
        owner.click("[data-create-key]")
        raw = owner.locator("[data-raw-key]").input_value()
        assert raw.startswith("fct_"), raw
        owner.reload()
        assert raw not in owner.content()
        step(f"demo_owner made the key {raw[:8]}… for {device!r}, shown once")

        second = requests.post(
            SANDBOX + f"control/cards/{card_id}/receive",
            json={"openid": openid + "_2"},
            timeout=10,
        ).json()["code"]
        pos = {"Authorization": f"Bearer {raw}"}
        looked = requests.post(
            f"{BASE}/api/redemption/lookup",
            json={"code": second},
            headers=pos,
            timeout=30,
        )
        assert looked.status_code == 200 and looked.json()["can_consume"], looked.text
        key = {**pos, "Idempotency-Key": f"walk-{second}"}
        first = requests.post(
            f"{BASE}/api/redemption/consume",
            json={"code": second},
            headers=key,
            timeout=30,
        )
        assert first.status_code == 200, first.text
        again = requests.post(
            f"{BASE}/api/redemption/consume",
            json={"code": second},
            headers=key,
            timeout=30,
        )
        assert again.json()["attempt_id"] == first.json()["attempt_id"], again.text
        step(
            "the POS redeemed a second code with its key; the same key, the same answer"
        )

        owner.goto(f"{BASE}/redemption/history/")
        expect(owner.locator("tr", has_text=second).first).to_contain_text(device)
        step("the history shows the device's redemption")
        browser.close()
    print("till walk: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
