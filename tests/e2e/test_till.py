"""The till page in a real browser (Playwright + Debian's chromium): demo_cashier signs
in, chooses the store, types a code a WeChat user received in the sandbox, Enter,
Enter → redeemed; a double Enter redeems once; the camera button is there; the page
works at 375 px, keyboard only, in Chinese and English."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from portal.demo import DEMO_PASSWORD

pytestmark = [pytest.mark.e2e]


def _sign_in(page, base: str, username: str = "demo_cashier") -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _choose_store(page, base: str, name: str) -> None:
    page.goto(f"{base}/redemption/")
    page.select_option("[data-till-store]", label=name)
    page.click("[data-till-store-submit]")
    expect(page.locator("[data-till-code]")).to_be_focused()


STORE = "Demo Bistro · People's Square"


def test_a_cashier_redeems_with_the_keyboard_alone(
    page, live_server, stocked_card, receive, sandbox, screenshots
):
    from redemption.models import RedemptionAttempt

    first, second = receive(stocked_card, "o_till_1"), receive(stocked_card, "o_till_2")
    _sign_in(page, live_server.url)
    assert page.url.rstrip("/").endswith("/redemption")  # cashiers land on the till
    _choose_store(page, live_server.url, STORE)
    expect(page.locator("[data-till-camera]")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    expect(page.locator("h1")).to_have_text("核销券码")

    field = page.locator("[data-till-code]")
    field.type(first["code"])  # as a scanner types it
    field.press("Enter")
    coupon = page.locator("[data-till-coupon]")
    expect(coupon).to_be_visible()
    expect(coupon.locator("[data-till-f=title]")).to_have_text(stocked_card.title)
    expect(page.locator("[data-till-consume]")).to_be_enabled()
    expect(page.locator("[data-till-store-check]")).to_have_text("✓ 本店可用")
    field.press("Enter")
    result = page.locator("[data-till-result]")
    expect(result).to_have_attribute("data-outcome", "consumed")
    expect(result).to_contain_text(stocked_card.title)
    expect(result).to_contain_text("请给顾客")
    page.set_viewport_size({"width": 375, "height": 812})
    page.screenshot(path=str(screenshots / "till-375-redeemed.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    expect(field).to_have_value("")
    expect(field).to_be_focused()
    expect(coupon).to_be_hidden()
    rows = page.locator("[data-till-recent-rows] tr[data-outcome=consumed]")
    expect(rows).to_have_count(1)

    # A double Enter (a bouncing key, an impatient cashier): one consume.
    field.type(second["code"])
    field.press("Enter")
    expect(page.locator("[data-till-consume]")).to_be_enabled()
    field.press("Enter")
    field.press("Enter")
    expect(result).to_have_attribute("data-outcome", "consumed")
    page.wait_for_timeout(800)
    assert sandbox.calls("card/code/consume") == 2
    assert RedemptionAttempt.objects.filter(code=second["code"]).count() == 1
    assert RedemptionAttempt.objects.filter(outcome="consumed").count() == 2

    # The same code again: refused in words, when and where.
    field.type(first["code"])
    field.press("Enter")
    refusal = page.locator("[data-till-refusal]")
    expect(refusal).to_be_visible()
    expect(refusal).to_have_attribute("data-reason", "already_consumed")
    expect(refusal).to_contain_text("已被核销")
    expect(page.locator("[data-till-consume]")).to_be_disabled()

    page.set_viewport_size({"width": 375, "height": 812})
    page.wait_for_timeout(300)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width  # nothing sticks out on a phone
    page.screenshot(path=str(screenshots / "till-375.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})  # a 10" tablet, landscape
    page.screenshot(path=str(screenshots / "till-tablet.png"), full_page=True)


def test_the_till_in_english_with_a_store_bound_cashier(
    browser, live_server, stocked_card, receive, sandbox
):
    from portal.models import Membership, Store

    membership = Membership.objects.get(user__username="demo_cashier")
    membership.stores.set([Store.objects.get(poi_id="100002")])  # Jing'an only
    got = receive(stocked_card, "o_till_en")
    context = browser.new_context(locale="en-US", bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        _sign_in(page, live_server.url)
        page.goto(f"{live_server.url}/redemption/")
        expect(page.locator("[data-till-store-name]")).to_have_text(
            "Demo Bistro · Jing'an"
        )  # bound to one store: chosen for them
        expect(page.locator("h1")).to_have_text("Redeem a code")
        field = page.locator("[data-till-code]")
        expect(field).to_be_focused()
        field.type(got["code"])
        field.press("Enter")
        refusal = page.locator("[data-till-refusal]")
        expect(refusal).to_have_attribute("data-reason", "not_valid_here")
        expect(refusal).to_contain_text("not valid at this store")
        expect(page.locator("[data-till-consume]")).to_be_disabled()
        field.press("Escape")
        expect(page.locator("[data-till-coupon]")).to_be_hidden()
        assert sandbox.calls("card/code/consume") == 0
    finally:
        context.close()


RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def test_the_till_and_its_camera_work_under_the_real_policy(
    browser, live_server, live_demo, sandbox
):
    """The vendored html5-qrcode loads under the strict CSP; with no camera (a
    headless browser has none) the page says so and the field keeps working."""
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.add_init_script(RECORD_VIOLATIONS)
    try:
        _sign_in(page, live_server.url)
        _choose_store(page, live_server.url, STORE)
        assert page.evaluate("typeof Html5Qrcode") == "function"
        page.click("[data-till-camera]")
        expect(page.locator("[data-till-camera-box]")).to_be_visible()
        expect(page.locator("[data-till-camera-note]")).to_have_text(
            "此处无法使用摄像头。请手动输入券码。"
        )
        page.click("[data-till-camera-stop]")
        expect(page.locator("[data-till-camera-box]")).to_be_hidden()
        assert page.evaluate("window.__cspViolations") == []
    finally:
        context.close()
