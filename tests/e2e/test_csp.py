"""The Content-Security-Policy in a real browser: the main pages of the portal, the
operator's site and the sandbox load and work with no policy violation (scripts
and styles are files of the site; no inline script, no style attribute)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from portal.demo import DEMO_PASSWORD

pytestmark = [pytest.mark.e2e]

# Every violation the page reports (init scripts run outside the page's policy).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture
def strict_page(browser):
    """A page under the site's real policy (the shared ``page`` bypasses it)."""
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _approved_card(demo, sandbox):
    from cards import services as card_services
    from tests.factories import cash_card, png, process_events

    merchant = demo["Demo Bistro"]
    logo, pic = (
        card_services.card_image_upload(merchant=merchant, content=png(), filename=n)
        for n in ("logo.png", "dish.png")
    )
    card = card_services.card_submit(
        card=card_services.card_draft_save(
            merchant=merchant, definition=cash_card(logo.wechat_url, pic.wechat_url)
        )
    )
    sandbox.control("POST", f"cards/{card.card_id}/review", json={"approve": True})
    process_events()
    card.refresh_from_db()
    return card


def _sign_in(page, base, username, password=DEMO_PASSWORD):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def _visit(page, url, console) -> list[str]:
    console.clear()
    page.goto(url)
    page.wait_for_load_state("networkidle")
    found = page.evaluate("window.__cspViolations || []")
    return found + [m for m in console if "Content Security Policy" in m]


def test_main_pages_raise_no_csp_violation(
    strict_page, live_server, live_demo, sandbox
):
    from playwright.sync_api import expect

    from coins import services as coin_services

    page = strict_page
    base = live_server.url
    bistro = live_demo["Demo Bistro"]
    coin_services.coin_account_activate(merchant=bistro)
    recharge = coin_services.recharge_create(merchant=bistro, coin_count=10)
    card = _approved_card(live_demo, sandbox)
    order = coin_services.stock_order_quote(merchant=bistro, card=card, quantity=10)
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.add_init_script(RECORD_VIOLATIONS)

    violations = {}
    violations["login"] = _visit(page, f"{base}/accounts/login/", console)
    _sign_in(page, base, "demo_owner")
    pages = [
        "/admin/",
        "/admin/cards/friendcard/",
        "/admin/cards/friendcard/add/",
        "/admin/coins/ledgerentry/",
        "/admin/coins/ledgerentry/?from=2026-02-30",
        "/admin/coins/stockorder/add/",
        "/admin/coins/stockorder/",
        f"/admin/coins/stockorder/{order.pk}/change/",
        "/admin/coins/recharge/",
        f"/admin/cards/friendcard/{card.pk}/change/",
        f"/admin/cards/friendcard/{card.pk}/history/",
        "/admin/coins/recharge/add/",
        f"/admin/coins/recharge/{recharge.pk}/change/",
        f"/admin/portal/merchant/{bistro.pk}/change/",
        "/admin/portal/store/",
        "/admin/portal/membership/add/",
        "/admin/portal/wechatevent/",
        "/admin/no-such-page/",
        "/redemption/",
        "/api/docs",
        "/sandbox/console/",
        "/sandbox/pay?pr=" + recharge.qrcode_url.split("pr=", 1)[1],
    ]
    for path in pages:
        violations[path] = _visit(page, base + path, console)
    # The live preview works under the policy (a fetch to the API).
    page.goto(base + "/admin/cards/friendcard/add/")
    page.check("input[name=card_type][value=CASH]")
    page.fill("[name=reduce_cost]", "50")
    page.fill("[name=least_cost]", "500")
    expect(page.locator("[data-preview-title]")).to_have_text("全场满500减50")
    violations["editor typing"] = page.evaluate("window.__cspViolations")
    # Swagger UI renders from the bundled files.
    page.goto(base + "/api/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
    violations["swagger"] = page.evaluate("window.__cspViolations")

    get_user_model().objects.create_superuser("csp_root", "", "a-long-enough-pass-91")
    page.context.clear_cookies()
    _sign_in(page, base, "csp_root", "a-long-enough-pass-91")
    for path in (
        "/ops/",
        "/ops/portal/merchant/",
        f"/ops/portal/merchant/{bistro.pk}/change/",
        "/ops/auth/user/",
        "/ops/django_celery_beat/periodictask/add/",
    ):
        violations[path] = _visit(page, base + path, console)

    assert {path: found for path, found in violations.items() if found} == {}


def test_ledger_filters_fit_one_line_and_the_table_scrolls_in_its_box(
    strict_page, live_server, live_demo, screenshots
):
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from coins.models import LedgerEntry

    page = strict_page
    bistro = live_demo["Demo Bistro"]
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            merchant=bistro,
            order_id=f"phone-{i}",
            order_type="ORDER_TYPE_WXPAY",
            status="ORDER_STATUS_SUCC" if i % 3 else "ORDER_STATUS_ROLLBACK",
            create_time=timezone.now() - timedelta(hours=i),
            pay_coin_count=Decimal(10),
            desc="充值券点 · recharge",
        )
        for i in range(12)
    )
    base = live_server.url
    _sign_in(page, base, "demo_staff")
    page.goto(base + "/admin/coins/ledgerentry/")
    tops = page.locator(".ledger-filter").evaluate_all(
        "els => els.map(e => Math.round(e.getBoundingClientRect().top))"
    )
    assert len(tops) == 5 and len(set(tops)) == 1, tops  # one line at 1280 px
    page.screenshot(path=str(screenshots / "ledger-1280.png"), full_page=True)
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(base + "/admin/coins/ledgerentry/")
    box = page.locator(".ledger-scroll")
    inside = box.evaluate(
        "b => ({scroll: b.scrollWidth, width: b.clientWidth,"
        " right: b.getBoundingClientRect().right, view: window.innerWidth,"
        " overflow: getComputedStyle(b).overflowX})"
    )
    assert inside["overflow"] == "auto"
    assert inside["scroll"] > inside["width"]  # the table scrolls…
    assert inside["right"] <= inside["view"] + 1  # …inside a box that fits the phone
    assert page.locator("tr.not-counted").count() == 4  # failed recharges marked
    page.screenshot(path=str(screenshots / "ledger-375.png"), full_page=True)
