"""The headline flow in a real browser: the editor's live preview, submission,
approval in the sandbox, the card approved in the list (issue: friend coupons)."""

from __future__ import annotations

import statistics

import pytest

from cards.models import CardStatus, FriendCard
from portal.demo import DEMO_PASSWORD
from tests.factories import png

pytestmark = [pytest.mark.e2e, pytest.mark.celery_worker]


def _sign_in(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def test_create_preview_submit_approve(
    page, live_server, live_demo, sandbox, celery_worker_process, screenshots, tmp_path
):
    base = live_server.url
    logo, dish = tmp_path / "logo.png", tmp_path / "dish.png"
    logo.write_bytes(png((255, 255, 255), (120, 120)))
    dish.write_bytes(png((200, 80, 40), (400, 200)))

    _sign_in(page, base, "demo_staff")
    page.goto(f"{base}/admin/cards/friendcard/add/")
    page.check("input[name=card_type][value=CASH]")
    page.fill("[name=reduce_cost]", "50")
    page.fill("[name=least_cost]", "500")
    page.set_input_files("[data-upload-for=logo_url]", str(logo))
    page.wait_for_function("document.querySelector('[name=logo_url]').value !== ''")
    page.set_input_files("[data-upload-for=text_image_1_url]", str(dish))
    page.wait_for_function(
        "document.querySelector('[name=text_image_1_url]').value !== ''"
    )
    page.fill("[name=text_image_1_text]", "招牌菜品，欢迎品尝")
    page.fill("[name=description]", "不可与其他优惠同享")

    title = page.locator("[data-preview-title]")
    page.wait_for_function(
        "document.querySelector('[data-preview-title]').textContent === '全场满500减50'"
    )
    assert title.text_content() == "全场满500减50"
    assert page.locator("[data-preview-unit]").text_content() == "0.6"
    assert page.locator("[data-preview-summary]").text_content() == "消费满500元可用"
    page.fill("[data-preview-quantity]", "1000")
    page.wait_for_function(
        "document.querySelector('[data-preview-price]').textContent === '600.0'"
    )
    page.wait_for_selector("[data-preview-ok]:not([hidden])")

    # A field error shows inline while typing, in the user's language.
    page.fill("[name=brand_name]", "一二三四五六七八九十一二三")
    page.wait_for_selector(".live-error[data-error-for=brand_name]")
    assert "12" in page.locator(".live-error[data-error-for=brand_name]").text_content()
    page.screenshot(path=str(screenshots / "card-editor-error.png"), full_page=True)
    page.fill("[name=brand_name]", "演示小馆")
    page.wait_for_selector(".live-error[data-error-for=brand_name]", state="detached")

    # How long after the last keystroke the preview is on screen.
    delays = []
    for text in ("5", "50", "55", "50"):
        page.fill("[name=reduce_cost]", text)
        page.wait_for_function(
            "(() => { const r = document.querySelector('.card-editor').dataset;"
            " return Number(r.renderedAt) > Number(r.lastInputAt); })()"
        )
        data = page.evaluate(
            "Object.assign({}, document.querySelector('.card-editor').dataset)"
        )
        delays.append(float(data["renderedAt"]) - float(data["lastInputAt"]))
    print(
        f"\npreview on screen after the last keystroke: median {statistics.median(delays):.0f} ms, max {max(delays):.0f} ms"
    )
    page.wait_for_function(
        "document.querySelector('[data-preview-title]').textContent === '全场满500减50'"
    )
    page.screenshot(path=str(screenshots / "card-editor.png"), full_page=True)

    page.click("[data-submit-card]")
    page.wait_for_selector("[data-card-status]")
    card = FriendCard.objects.get(merchant=live_demo["Demo Bistro"])
    assert card.status == CardStatus.IN_REVIEW and card.title == "全场满500减50"

    sandbox.control("POST", f"cards/{card.card_id}/review", json={"approve": True})
    # The event travels: sandbox → portal receiver → Celery worker → handler.
    page.goto(f"{base}/admin/cards/friendcard/")
    for _ in range(50):
        card.refresh_from_db()
        if card.status == CardStatus.APPROVED:
            break
        page.wait_for_timeout(200)
    page.reload()
    row = page.locator("#result_list tbody tr").first
    assert "全场满500减50" in row.text_content()
    assert "已通过" in row.text_content() or "Approved" in row.text_content()
    page.screenshot(path=str(screenshots / "card-list-approved.png"), full_page=True)
