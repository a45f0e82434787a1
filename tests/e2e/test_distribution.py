"""Distribution in a real browser (Playwright + Debian's chromium), under the pages'
real Content-Security-Policy: the campaign page /c/<slug>/ signs wx.config and
each cardExt on the server, the sandbox's JS-SDK checks them and receives (the
receive lands in the portal with its channel); a tampered signature is refused; the
page explains itself outside WeChat; the printable QR code is A6 or A4."""

from __future__ import annotations

import json
import re
import time

import pytest
from playwright.sync_api import expect

from portal.demo import DEMO_PASSWORD

pytestmark = [pytest.mark.e2e]

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@pytest.fixture
def strict_page(browser):
    """A phone-sized page under the site's real policy."""
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.add_init_script(RECORD_VIOLATIONS)
    yield page
    context.close()


@pytest.fixture
def campaign(stocked_card):
    from distribution import services

    merchant = stocked_card.merchant
    services.channel_create(merchant=merchant, name="Window poster")
    table = services.channel_create(merchant=merchant, name="Table 12")
    return services.campaign_save(
        merchant=merchant, title="春季品鉴", channel=table, cards=[stocked_card]
    )


def wait_pushes(event: str, count: int) -> None:
    from distribution.tests.helpers import pushed

    pushed(event, count)


def test_the_campaign_page_receives_through_the_sandboxs_js_sdk(
    strict_page, live_server, sandbox, campaign, stocked_card
):
    from redemption.models import Code

    page = strict_page
    page.goto(f"{live_server.url}/c/{campaign.slug}/?from=window")
    expect(page.locator("h1.campaign-title")).to_have_text("春季品鉴")
    expect(page.locator("[data-sandbox-note]")).to_be_visible()
    expect(page.locator("[data-outside-wechat]")).to_be_hidden()
    button = page.locator(f'[data-add-card="{stocked_card.card_id}"]')
    expect(button).to_be_enabled()  # wx.config accepted the page's signature
    button.click()
    page.locator("[data-wx-sandbox=openid]").fill("o_browser")
    page.locator("[data-wx-sandbox=confirm]").click()
    result = page.locator(f'[data-result-for="{stocked_card.card_id}"]')
    expect(result).to_have_text("已添加到您的卡包。")
    expect(result).to_have_attribute("data-ok", "true")
    expect(button).to_be_disabled()  # its cardExt is used
    assert page.evaluate("window.__cspViolations") == []

    wait_pushes("user_get_card", 1)
    code = Code.objects.get(card=stocked_card, openid="o_browser")
    assert (code.outer_id, code.outer_str) == (0, "ch-2")


def test_a_tampered_signature_is_refused_by_the_sandboxs_js_sdk(
    strict_page, live_server, sandbox, campaign, stocked_card
):
    from portal.models import WeChatEvent

    page = strict_page

    def tamper(route):
        response = route.fetch()
        html = response.text()
        found = re.search(
            r'(<script id="campaign-data" [^>]*>)(.*?)(</script>)', html, re.S
        )
        data = json.loads(found.group(2))
        ext = json.loads(data["wx"]["cardList"][0]["cardExt"])
        ext["signature"] = ext["signature"][::-1]
        data["wx"]["cardList"][0]["cardExt"] = json.dumps(ext)
        html = html.replace(found.group(2), json.dumps(data).replace("</", "<\\/"))
        route.fulfill(response=response, body=html)

    page.route(f"**/c/{campaign.slug}/", tamper)
    page.goto(f"{live_server.url}/c/{campaign.slug}/")
    button = page.locator(f'[data-add-card="{stocked_card.card_id}"]')
    expect(button).to_be_enabled()
    button.click()
    result = page.locator(f'[data-result-for="{stocked_card.card_id}"]')
    expect(result).to_have_text("微信未能添加这张券。请刷新页面后重试。")
    assert page.locator("[data-wx-sandbox=overlay]").count() == 0
    time.sleep(0.5)
    assert not WeChatEvent.objects.filter(event="user_get_card").exists()


def test_outside_wechat_the_page_says_to_open_it_in_wechat(
    strict_page, live_server, sandbox, campaign, settings
):
    # WeChat's own JS-SDK, as a browser outside WeChat gets it: it has no sandbox.
    settings.WECHAT_JSSDK_URL = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"
    page = strict_page
    page.route(
        "https://res.wx.qq.com/open/js/jweixin-1.6.0.js",
        lambda route: route.fulfill(
            content_type="application/javascript",
            body="window.wx={config:function(){},ready:function(){},error:function(){},"
            "addCard:function(){}};",
        ),
    )
    page.goto(f"{live_server.url}/c/{campaign.slug}/")
    expect(page.locator("[data-outside-wechat]")).to_be_visible()
    expect(page.locator("[data-outside-wechat]")).to_contain_text(
        "请在微信中打开此页面"
    )
    expect(page.locator("[data-add-card]")).to_be_disabled()
    assert page.evaluate("window.__cspViolations") == []


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "demo_staff")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def _pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    return [(float(w), float(h)) for w, h in boxes]


def test_the_qr_code_prints_on_one_a6_or_a4_sheet(
    browser, live_server, sandbox, stocked_card
):
    from distribution import services

    channel = services.channel_create(merchant=stocked_card.merchant, name="Window")
    qr = services.qrcode_create(
        merchant=stocked_card.merchant, card=stocked_card, channel=channel
    )
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    _sign_in(page, live_server.url)
    sizes = {"a6": (297.6, 419.5), "a4": (595.3, 841.9)}  # points
    for size, (width, height) in sizes.items():
        page.goto(
            f"{live_server.url}/admin/distribution/qrcode/{qr.pk}/print/?size={size}"
        )
        expect(page.locator(".sheet-title")).to_have_text(stocked_card.title)
        assert page.evaluate("window.__cspViolations") == []
        page.emulate_media(media="print")
        expect(page.locator(".print-tools")).to_be_hidden()
        [(w, h)] = _pdf_pages(page.pdf(prefer_css_page_size=True))
        assert abs(w - width) < 2 and abs(h - height) < 2, (size, w, h)
        page.emulate_media(media="screen")
    context.close()
