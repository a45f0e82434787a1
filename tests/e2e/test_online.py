"""Online redemption in a real browser (Playwright + Debian's chromium), phone-sized
(375 px), in Chinese, under the page's real Content-Security-Policy: the coupon link
the sandbox gives for a received code opens the portal's H5 page; Use now, Confirm,
redeemed, and the sandbox's JS-SDK shows the consume-share gift; a second friend is
refused while the first holds the mark."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from redemption.models import RedemptionAttempt
from redemption.tests.test_online import codes_of, link_of, make_online_card

pytestmark = [pytest.mark.e2e]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@pytest.fixture
def online_card(bistro, sandbox, live_server):
    return make_online_card(bistro, sandbox, live_server.url)


@pytest.fixture
def phone(browser):
    """A phone-sized page (375 px) under the site's real policy, in Chinese."""

    def _new():
        context = browser.new_context(
            locale="zh-CN", viewport={"width": 375, "height": 812}, is_mobile=True
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.add_init_script(RECORD_VIOLATIONS)
        return page

    contexts = []
    yield _new
    for context in contexts:
        context.close()


def test_the_coupon_link_is_redeemed_on_the_phone_and_the_gift_shown(
    phone,
    sandbox,
    online_card,
    receive,
    screenshots,
):
    got = receive(online_card, "o_owner")
    before = {c["code"] for c in codes_of(sandbox, "o_owner")}
    page = phone()
    page.goto(link_of(sandbox, "o_owner", got["code"]))
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("[data-coupon-title]")).to_have_text("全场满500减50")
    expect(page.locator("[data-coupon-status]")).to_have_text("可使用")
    expect(page.locator("[data-use-now]")).to_have_text("立即使用")
    page.locator("[data-store]").select_option(label="Demo Bistro · Jing'an")
    page.screenshot(path=str(screenshots / "online-375.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide at 375px"
    page.locator("[data-use-now]").click()
    expect(page.locator("[data-held]")).to_be_visible()
    page.locator("[data-confirm]").click()
    expect(page.locator("[data-success]")).to_be_visible()
    expect(page.locator("[data-redeemed-code]")).to_have_text(got["code"])
    expect(page.locator("[data-redeemed-store]")).to_have_text("Demo Bistro · Jing'an")
    # The sandbox's JS-SDK: wx.config accepted the signature, consumeAndShareCard
    # shows the gift (a new code of the card for the consumer).
    gift = page.locator("[data-wx-sandbox=gift]")
    expect(gift).to_be_visible()
    page.screenshot(path=str(screenshots / "online-done-375.png"), full_page=True)
    page.locator("[data-wx-sandbox=ok]").click()
    expect(page.locator("[data-gift-note]")).to_be_visible()
    assert page.evaluate("window.__cspViolations") == []
    codes = codes_of(sandbox, "o_owner")
    mine = next(c for c in codes if c["code"] == got["code"])
    assert mine["status"] == "CONSUMED"
    new = [c for c in codes if c["code"] not in before]
    assert len(new) == 1 and new[0]["status"] == "NORMAL"
    attempt = RedemptionAttempt.objects.get()
    assert attempt.outcome == "consumed" and attempt.openid == "o_owner"


def test_a_second_friend_is_refused_while_the_first_holds_the_mark(
    phone,
    sandbox,
    online_card,
    receive,
    screenshots,
):
    got = receive(online_card, "o_owner")
    first, second = phone(), phone()
    first.goto(link_of(sandbox, "o_friend_a", got["code"]))
    first.locator("[data-store]").select_option(label="Demo Bistro · People's Square")
    first.locator("[data-use-now]").click()
    expect(first.locator("[data-held]")).to_be_visible()

    second.goto(link_of(sandbox, "o_friend_b", got["code"]))
    message = second.locator("[data-message]")
    expect(message).to_have_text("有人正在微信中使用这张券。")
    second.locator("[data-store]").select_option(label="Demo Bistro · People's Square")
    second.locator("[data-use-now]").click()
    expect(second.locator("[data-online]")).to_have_attribute(
        "data-reason", "marked_by_other"
    )
    expect(second.locator("[data-held]")).to_have_count(0)
    second.screenshot(path=str(screenshots / "online-marked-375.png"), full_page=True)

    # The first friend cancels: the second may use it now.
    first.locator("[data-cancel]").click()
    expect(first.locator("[data-released]")).to_be_visible()
    second.goto(link_of(sandbox, "o_friend_b", got["code"]))
    expect(second.locator("[data-message]")).to_have_count(0)
    second.locator("[data-store]").select_option(label="Demo Bistro · People's Square")
    second.locator("[data-use-now]").click()
    second.locator("[data-confirm]").click()
    expect(second.locator("[data-success]")).to_be_visible()
    assert RedemptionAttempt.objects.get().openid == "o_friend_b"
    assert sandbox.calls("card/code/consume") == 1


def test_a_lost_answer_shows_checking_then_settles_by_itself(
    phone, sandbox, online_card, receive
):
    got = receive(online_card, "o_owner")
    page = phone()
    page.goto(link_of(sandbox, "o_owner", got["code"]))
    page.locator("[data-store]").select_option(label="Demo Bistro · Jing'an")
    page.locator("[data-use-now]").click()
    expect(page.locator("[data-held]")).to_be_visible()
    # WeChat holds the consume's answer past the portal's 2 s, and applies it late.
    sandbox.fault("timeout", path="card/code/consume", remaining=1, latency_ms=2500)
    page.locator("[data-confirm]").click()
    expect(page.locator("[data-checking]")).to_be_visible()
    # The page asks again by itself (code/get), and shows the answer: redeemed.
    expect(page.locator("[data-success]")).to_be_visible(timeout=20_000)
    assert sandbox.calls("card/code/consume") == 1
    assert page.evaluate("window.__cspViolations") == []
