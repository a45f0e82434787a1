"""The main pages, photographed at 1280 and 375 px in English and 简体中文, and
checked for what a screenshot shows wrong: a page wider than the screen, a table
that does not fit its box on a desktop, a cell whose text is cut, a code (an enum,
a source, a colour code) shown where words belong on a Chinese page, a WeChat error
message in Chinese on an English page.

Used by tests/e2e/test_design.py (against the live test server), and by hand::

    .venv/bin/python tests/e2e/screens.py http://127.0.0.1:8000 var/screenshots
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

WIDTHS = (1280, 375)
LANGUAGES = {"en": "en-US", "zh": "zh-CN"}
PASSWORD = "demo-pass-2026"  # the demo's (portal.demo.DEMO_PASSWORD)

# Codes that must never be read as words on a page (they may appear inside <code>).
ENUM_CODE = re.compile(
    r"\b(?:CARD_STATUS_[A-Z_]+|ORDER_(?:TYPE|STATUS)_[A-Z_]+|CODE_TYPE_[A-Z_]+|"
    r"DATE_TYPE_[A-Z_]+|BIZ_SERVICE_[A-Z_]+|Color\d{3})\b"
)
SOURCE_CODES = {"portal", "event", "poll", "confirm", "settled", "clock"}

# Runs in the page: what is wrong with it, as a list of sentences.
PROBLEMS_JS = r"""
({desktop, lang, codes}) => {
  const out = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) {
    out.push(`page wider than the screen: ${doc.scrollWidth} > ${window.innerWidth}`);
  }
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && getComputedStyle(el).visibility !== "hidden";
  };
  if (desktop) {
    document.querySelectorAll(".results, .table-wrap").forEach((box) => {
      if (visible(box) && box.scrollWidth > box.clientWidth + 1) {
        out.push(`table does not fit its box: ${box.scrollWidth} > ${box.clientWidth}`);
      }
    });
  }
  document.querySelectorAll("td, th").forEach((cell) => {
    if (!visible(cell) || cell.closest("[hidden]")) return;
    const style = getComputedStyle(cell);
    if (style.overflowX !== "visible" && cell.scrollWidth > cell.clientWidth + 1) {
      out.push(`cell cut: ${cell.textContent.trim().slice(0, 40)}`);
    }
  });
  if (lang === "zh") {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const re = new RegExp(codes.enum, "g");
    while (walker.nextNode()) {
      const node = walker.currentNode;
      const el = node.parentElement;
      if (!el || el.closest("code, pre, script, style, option, [hidden], .swatch-code")) continue;
      if (!visible(el)) continue;
      const text = node.textContent;
      const found = text.match(re);
      if (found) out.push(`code shown as words: ${found[0]}`);
    }
    document.querySelectorAll("td").forEach((cell) => {
      const text = cell.textContent.trim();
      if (codes.sources.includes(text)) out.push(`source shown as a code: ${text}`);
    });
  }
  return out;
}
"""


def pages(showcase: dict) -> list[tuple[str, str, str]]:
    """(name, path, who): the main pages, with the showcase's objects."""
    card = "/admin/cards/friendcard/{}/change/"
    return [
        ("sign-in", "/accounts/login/", ""),
        ("dashboard", "/admin/", "demo_owner"),
        ("coupons", "/admin/cards/friendcard/", "demo_owner"),
        ("coupon-new", "/admin/cards/friendcard/add/", "demo_owner"),
        ("coupon-approved", card.format(showcase["approved"].pk), "demo_owner"),
        ("coupon-rejected", card.format(showcase["rejected"].pk), "demo_owner"),
        ("coupon-in-review", card.format(showcase["in_review"].pk), "demo_owner"),
        ("coupon-draft", card.format(showcase["draft"].pk), "demo_owner"),
        (
            "coupon-delete",
            f"/admin/cards/friendcard/{showcase['approved'].pk}/delete/",
            "demo_owner",
        ),
        ("buy-stock", "/admin/coins/stockorder/add/", "demo_owner"),
        (
            "stock-order",
            f"/admin/coins/stockorder/{showcase['order'].pk}/change/",
            "demo_owner",
        ),
        ("stock-orders", "/admin/coins/stockorder/", "demo_owner"),
        ("recharge-new", "/admin/coins/recharge/add/", "demo_owner"),
        (
            "recharge",
            f"/admin/coins/recharge/{showcase['recharge'].pk}/change/",
            "demo_owner",
        ),
        ("recharges", "/admin/coins/recharge/", "demo_owner"),
        ("ledger", "/admin/coins/ledgerentry/", "demo_owner"),
        (
            "settings",
            f"/admin/portal/merchant/{showcase['approved'].merchant_id}/change/",
            "demo_owner",
        ),
        ("events", "/admin/portal/wechatevent/", "demo_owner"),
        (
            "event",
            f"/admin/portal/wechatevent/{showcase['event']}/change/",
            "demo_owner",
        ),
        ("staff", "/admin/portal/membership/", "demo_owner"),
        ("stores", "/admin/portal/store/", "demo_owner"),
        ("till", "/redemption/", "demo_cashier"),
        ("not-found", "/admin/cards/friendcard/999999/change/", "demo_owner"),
    ]


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def capture(
    browser, base: str, showcase: dict, folder: Path, only: set[str] | None = None
) -> dict[str, list[str]]:
    """Every page at every width in both languages: screenshots into ``folder`` and
    ``{"zh-375-dashboard": [problems…]}`` for the pages where something is wrong.
    ``only``: page names to take (default: all)."""
    folder.mkdir(parents=True, exist_ok=True)
    codes = {"enum": ENUM_CODE.pattern, "sources": sorted(SOURCE_CODES)}
    found: dict[str, list[str]] = {}
    for lang, locale in LANGUAGES.items():
        for width in WIDTHS:
            contexts = {}
            try:
                for name, path, who in pages(showcase):
                    if only and name not in only:
                        continue
                    if who not in contexts:
                        context = browser.new_context(
                            locale=locale, viewport={"width": width, "height": 900}
                        )
                        page = context.new_page()
                        page.set_default_timeout(15_000)
                        if who:
                            _sign_in(page, base, who)
                        contexts[who] = (context, page)
                    page = contexts[who][1]
                    page.goto(base + path)
                    page.wait_for_load_state("networkidle")
                    key = f"{lang}-{width}-{name}"
                    page.screenshot(path=str(folder / f"{key}.png"), full_page=True)
                    problems = page.evaluate(
                        PROBLEMS_JS,
                        {"desktop": width >= 1024, "lang": lang, "codes": codes},
                    )
                    if problems:
                        found[key] = problems
            finally:
                for context, _page in contexts.values():
                    context.close()
    return found


if __name__ == "__main__":  # pragma: no cover - by hand against a running portal
    import os

    import django

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    django.setup()
    from playwright.sync_api import sync_playwright

    from cards.models import CardStatus, FriendCard
    from coins.models import Recharge, StockOrder
    from portal.models import WeChatEvent

    base, folder = sys.argv[1], Path(sys.argv[2])
    only = set(sys.argv[3].split(",")) if len(sys.argv) > 3 else None
    cards = FriendCard.objects.filter(merchant__name="Demo Bistro")
    showcase = {
        "approved": cards.filter(status=CardStatus.APPROVED).first(),
        "rejected": cards.filter(status=CardStatus.REJECTED).first(),
        "in_review": cards.filter(status=CardStatus.IN_REVIEW).first(),
        "draft": cards.filter(status=CardStatus.DRAFT).first(),
        "order": StockOrder.objects.filter(merchant__name="Demo Bistro").first(),
        "recharge": Recharge.objects.filter(merchant__name="Demo Bistro").first(),
        "event": WeChatEvent.objects.filter(merchant__name="Demo Bistro").first().pk,
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
        )
        for key, problems in capture(browser, base, showcase, folder, only).items():
            print(key, problems)
        browser.close()
