"""The demo's coupon (portal/demo.py): made in WeChat's back office, so `make run`'s
first user can receive it in the sandbox console and redeem it at once; the portal
imports it on the first lookup of one of its codes (issue 10 §2)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from cards.models import CardStatus, FriendCard
from portal.demo import seed_demo
from portal.models import Store
from redemption import services
from redemption.models import RedemptionAttempt


def _demo_card_id(sandbox, appid: str) -> str:
    codes = sandbox.control("GET", f"codes?appid={appid}")["codes"]
    assert codes == []
    from sandbox.models import Card

    (card,) = Card.objects.filter(account__appid=appid)
    return card.card_id


def test_the_demo_coupon_is_received_imported_and_redeemed(
    live_demo, sandbox, live_server
):
    bistro = live_demo["Demo Bistro"]
    card_id = _demo_card_id(sandbox, bistro.appid)
    assert not FriendCard.objects.filter(card_id=card_id).exists()
    got = sandbox.control(
        "POST", f"cards/{card_id}/receive", json={"openid": "o_first_customer"}
    )
    store = Store.objects.get(merchant=bistro, poi_id="100001")
    lookup = services.code_lookup(merchant=bistro, code=got["code"], store=store)
    assert lookup.can_consume, lookup.reason
    imported = FriendCard.objects.get(merchant=bistro, card_id=card_id)
    assert imported.status == CardStatus.APPROVED and imported.title == "全场满100减10"
    attempt = services.code_consume(merchant=bistro, code=got["code"], store=store)
    assert attempt.outcome == RedemptionAttempt.Outcome.CONSUMED
    # Its main button opens the merchant's online redemption page.
    link = sandbox.control(
        "GET", f"users/o_first_customer/coupon-link?code={got['code']}"
    )["url"]
    parts = urlsplit(link)
    assert parts.path == f"/u/{bistro.appid}/"
    assert parse_qs(parts.query)["card_id"] == [card_id]


def test_seeding_again_makes_no_second_demo_coupon(live_demo, sandbox, live_server):
    from sandbox.models import Card

    seed_demo(portal_url=live_server.url)
    assert (
        Card.objects.filter(account__appid=live_demo["Demo Bistro"].appid).count() == 1
    )
