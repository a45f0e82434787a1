"""A provider onboards a merchant in a real browser (SPEC §8): demo_provider →
*Add a merchant* → the sandbox's authorization page → back → the new sub-merchant's
dashboard → a store → a coupon submitted for it; then the merchant revokes the
authorization in the sandbox's console and the portal's console says so."""

from __future__ import annotations

import pytest

from cards.models import CardStatus, FriendCard
from portal.demo import DEMO_PASSWORD
from portal.models import Merchant, Provider
from tests.factories import png

pytestmark = [pytest.mark.e2e]

DUMPLING = "wx0000000000de0013"


def test_onboard_dumpling_house_and_submit_a_coupon(
    page, live_server, live_demo, sandbox, screenshots, tmp_path
):
    base = live_server.url
    provider = Provider.objects.get(name="Demo Provider")
    sandbox.control("POST", f"components/{provider.component_appid}/push-ticket")

    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "demo_provider")
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    page.click("[data-provider-console]")
    page.wait_for_selector("#sub-merchants")
    assert page.locator("#sub-merchants tbody tr").count() == 2

    page.click("[data-add-merchant]")
    page.wait_for_selector("[data-provider-name]")
    assert page.locator("[data-provider-name]").text_content() == "Demo Provider"
    assert page.is_checked("input[name=func_id][value='8']")
    assert page.is_checked("input[name=func_id][value='13']")
    page.screenshot(path=str(screenshots / "provider-authorization-page.png"))
    page.check(f"input[name=authorizer_appid][value={DUMPLING}]")
    page.click("[data-authorize]")
    page.wait_for_url(f"{base}/admin/")
    assert "Dumpling House" in page.locator("#section-merchant").text_content()
    merchant = Merchant.objects.get(appid=DUMPLING)
    assert merchant.authorization == Merchant.Authorization.ACTIVE

    # Its first store, then a coupon, submitted to WeChat with its authorizer token.
    page.goto(f"{base}/admin/portal/store/add/")
    page.fill("[name=poi_id]", "400001")
    page.fill("[name=name]", "Dumpling House · Nanjing")
    page.click("[name=_save]")
    page.wait_for_url(f"{base}/admin/portal/store/")

    logo, dish = tmp_path / "logo.png", tmp_path / "dish.png"
    logo.write_bytes(png((255, 255, 255), (120, 120)))
    dish.write_bytes(png((200, 80, 40), (400, 200)))
    page.goto(f"{base}/admin/cards/friendcard/add/")
    page.check("input[name=card_type][value=CASH]")
    page.fill("[name=reduce_cost]", "10")
    page.fill("[name=least_cost]", "100")
    page.fill("[name=brand_name]", "饺子馆")
    page.set_input_files("[data-upload-for=logo_url]", str(logo))
    page.wait_for_function("document.querySelector('[name=logo_url]').value !== ''")
    page.set_input_files("[data-upload-for=text_image_1_url]", str(dish))
    page.wait_for_function(
        "document.querySelector('[name=text_image_1_url]').value !== ''"
    )
    page.fill("[name=text_image_1_text]", "手工水饺")
    page.fill("[name=description]", "不可与其他优惠同享")
    page.wait_for_function(
        "document.querySelector('[data-preview-title]').textContent === '全场满100减10'"
    )
    page.click("[data-submit-card]")
    page.wait_for_selector("[data-card-status]")
    card = FriendCard.objects.get(merchant=merchant)
    assert card.status == CardStatus.IN_REVIEW and card.title == "全场满100减10"
    at_wechat = sandbox.control("GET", "cards", params={"appid": DUMPLING})["cards"]
    assert [c["card_id"] for c in at_wechat] == [card.card_id]
    page.screenshot(path=str(screenshots / "provider-first-coupon.png"), full_page=True)

    # The console shows all three; the merchant revokes in WeChat (the sandbox).
    page.goto(f"{base}/provider/")
    assert page.locator("#sub-merchants tbody tr").count() == 3
    console = page.context.new_page()
    console.goto(f"{base}/sandbox/console/#components")
    console.click(f"[data-revoke='{DUMPLING}']")
    console.wait_for_load_state()
    console.close()
    page.goto(f"{base}/provider/?state=revoked")
    row = page.locator(f"tr[data-merchant='{DUMPLING}']")
    assert row.get_attribute("data-state") == "revoked"
    page.screenshot(path=str(screenshots / "provider-console.png"), full_page=True)
