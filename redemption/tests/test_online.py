"""Online redemption, the coupon's own H5 page (issue 10 §5), over real HTTP: the
page at the live server, the sandbox behind it, the coupon links the sandbox makes."""

from __future__ import annotations

import re
import time
from html import unescape
from urllib.parse import quote

import pytest
import requests

import wechat
from cards import services as card_services
from cards.models import CardStatus
from coins import services as coin_services
from redemption import online
from redemption.models import Channel, RedemptionAttempt
from tests.factories import cash_card, process_events

A = RedemptionAttempt.Outcome


def make_online_card(bistro, sandbox, live_url: str):
    """An approved CASH card of Demo Bistro whose center_url is the online page,
    valid at two stores, 20 units of stock, a gift after use (consume_share_self_num)."""
    merchant, logo, pic = bistro
    definition = cash_card(logo, pic, stores=(100001, 100002))
    base = definition["cash"]["base_info"]
    base["center_title"] = "立即使用"
    base["center_url"] = f"{live_url}/u/{merchant.appid}/"
    card = card_services.card_submit(
        card=card_services.card_draft_save(merchant=merchant, definition=definition)
    )
    sandbox.control("POST", f"cards/{card.card_id}/review", json={"approve": True})
    process_events()
    coin_services.coin_account_activate(merchant=merchant)
    process_events()
    card.refresh_from_db()
    order = coin_services.stock_order_quote(merchant=merchant, card=card, quantity=20)
    coin_services.stock_order_confirm(order_id=order.pk)
    card.refresh_from_db()
    assert card.status == CardStatus.APPROVED and card.quantity == 20
    return card


@pytest.fixture
def online_card(bistro, sandbox, live_server):
    return make_online_card(bistro, sandbox, live_server.url)


class Phone:
    """A customer's phone: one cookie jar, the page's forms sent back as a browser
    sends them (CSRF token and hidden fields, form-encoded)."""

    def __init__(self, lang: str = "zh-CN"):
        self.http = requests.Session()
        self.http.headers["Accept-Language"] = lang
        self.page: requests.Response | None = None

    def open(self, url: str) -> requests.Response:
        self.page = self.http.get(url, timeout=20)
        return self.page

    def fields(self) -> dict:
        html = self.page.text
        found = dict(
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
        )
        return {k: unescape(v) for k, v in found.items()}

    def press(self, action: str, **extra) -> requests.Response:
        data = {**self.fields(), "action": action, **extra}
        self.page = self.http.post(
            self.page.url.split("?")[0],
            data=data,
            headers={"Referer": self.page.url},
            timeout=20,
        )
        return self.page


def link_of(sandbox, openid: str, code: str) -> str:
    return sandbox.control("GET", f"users/{openid}/coupon-link", params={"code": code})[
        "url"
    ]


def received_with_plus(online_card, receive, openid: str) -> dict:
    for _ in range(30):  # most encrypt_codes are base64 with a "+"
        got = receive(online_card, openid)
        if "+" in got["encrypt_code"]:
            return got
    raise AssertionError("no encrypt_code with a '+' in 30 receives")


def codes_of(sandbox, openid: str) -> list[dict]:
    return sandbox.control("GET", "codes", params={"openid": openid})["codes"]


def test_the_coupon_link_redeems_for_the_openid_and_the_gift_arrives(
    online_card, receive, sandbox
):
    got = received_with_plus(online_card, receive, "o_owner")
    url = link_of(sandbox, "o_owner", got["code"])
    assert "%2B" in url and "+" not in url.split("?", 1)[1]
    phone = Phone()
    page = phone.open(url)
    assert page.status_code == 200, page.text
    assert "全场满500减50" in page.text and "data-use-now" in page.text
    assert "可使用" in page.text or "Ready to use" in page.text
    assert got["code"] not in page.text  # the page never shows the code before use
    assert page.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    # Two stores: the customer chooses one.
    store = online_card.merchant.stores.get(poi_id="100002")
    page = phone.press("use")
    assert page.status_code == 400 and "data-store" in page.text  # no store chosen
    page = phone.press("use", store=str(store.pk))
    assert page.status_code == 200 and "data-held" in page.text
    held = next(c for c in codes_of(sandbox, "o_owner") if c["code"] == got["code"])
    assert held["mark_openid"] == "o_owner"
    before = {c["code"] for c in codes_of(sandbox, "o_owner")}
    page = phone.press("confirm")
    assert page.status_code == 200 and "data-success" in page.text, page.text
    assert "/u/" in page.url and "/r/" in page.url
    # The result's URL does not carry the coupon's encrypt_code readably.
    token = page.url.split("/r/")[1].rstrip("/")
    assert got["encrypt_code"] not in page.url and "o_owner" not in token
    tampered = page.url.replace(token, token[:-6] + "AAAAAA")
    assert phone.http.get(tampered, timeout=20).status_code == 404
    assert got["code"] in page.text and store.name in unescape(page.text)
    # The JS-SDK is loaded, wx.config signed for this page, for the gift.
    assert 'src="' + sandbox.base_url + 'jssdk/jweixin.js"' in page.text
    assert "consumeAndShareCard" in page.text
    assert (
        sandbox.base_url.rstrip("/").rsplit("/", 1)[0]
        in page.headers["Content-Security-Policy"]
        .split("script-src", 1)[1]
        .split(";")[0]
    )
    attempt = RedemptionAttempt.objects.get(outcome=A.CONSUMED)
    assert attempt.channel == Channel.ONLINE and attempt.openid == "o_owner"
    assert attempt.store == store
    codes = codes_of(sandbox, "o_owner")
    mine = next(c for c in codes if c["code"] == got["code"])
    assert mine["status"] == "CONSUMED"
    # consume_share_self_num 1: the consumer received a new code of the card.
    gifts = [c for c in codes if c["code"] not in before]
    assert len(gifts) == 1, gifts
    assert gifts[0]["card_id"] == got["card_id"] and gifts[0]["status"] == "NORMAL"
    assert sandbox.calls("card/code/consume") == 1
    assert online_card.merchant.codes.get(code=got["code"]).status == "CONSUMED"


def test_a_double_tap_on_confirm_consumes_once(online_card, receive, sandbox):
    got = receive(online_card, "o_owner")
    phone = Phone()
    phone.open(link_of(sandbox, "o_owner", got["code"]))
    store = online_card.merchant.stores.get(poi_id="100001")
    phone.press("use", store=str(store.pk))
    fields = phone.fields()
    first = phone.press("confirm")
    assert "data-success" in first.text
    second = phone.http.post(
        first.url.split("/r/")[0] + "/",
        data={**fields, "action": "confirm"},
        headers={"Referer": first.url},
        timeout=20,
    )
    assert second.status_code == 200 and "data-success" in second.text

    def attempt_of(url):
        return online.token_data(url.split("/r/")[1].rstrip("/"))["a"]

    assert attempt_of(second.url) == attempt_of(first.url)  # the same answer
    assert sandbox.calls("card/code/consume") == 1
    assert RedemptionAttempt.objects.count() == 1


def test_a_second_friend_is_refused_while_the_first_holds_the_mark(
    online_card, receive, sandbox
):
    got = receive(online_card, "o_owner")
    store = online_card.merchant.stores.get(poi_id="100001")
    first, second = Phone(), Phone()
    first.open(link_of(sandbox, "o_friend_a", got["code"]))
    assert "data-held" in first.press("use", store=str(store.pk)).text
    page = second.open(link_of(sandbox, "o_friend_b", got["code"]))
    assert page.status_code == 200
    assert "有人正在" in page.text or "Someone else is using" in page.text
    page = second.press("use", store=str(store.pk))
    assert page.status_code == 409 and 'data-reason="marked_by_other"' in page.text
    page = second.press("confirm", store=str(store.pk))
    assert page.status_code == 409 and "data-success" not in page.text
    assert sandbox.calls("card/code/consume") == 0
    # The second friend's Cancel releases nothing of the first's.
    assert "data-cancel" not in page.text
    page = second.press("cancel")
    assert page.status_code == 409 and "data-released" not in page.text
    held = next(c for c in codes_of(sandbox, "o_owner") if c["code"] == got["code"])
    assert held["mark_openid"] == "o_friend_a"
    # The first friend cancels: the mark is released, the second can use it.
    page = first.press("cancel")
    assert page.status_code == 200 and "data-released" in page.text
    held = next(c for c in codes_of(sandbox, "o_owner") if c["code"] == got["code"])
    assert not held["mark_openid"]
    second.open(link_of(sandbox, "o_friend_b", got["code"]))
    assert "data-held" in second.press("use", store=str(store.pk)).text
    page = second.press("confirm")
    assert "data-success" in page.text
    attempt = RedemptionAttempt.objects.get(outcome=A.CONSUMED)
    assert attempt.openid == "o_friend_b"
    # The first friend's page now says it is redeemed, nothing more to do.
    page = first.open(link_of(sandbox, "o_friend_a", got["code"]))
    assert (
        'data-reason="already_consumed"' in page.text
        and "data-use-now" not in page.text
    )


def test_the_page_speaks_english_when_asked(online_card, receive, sandbox):
    got = receive(online_card, "o_owner")
    url = link_of(sandbox, "o_owner", got["code"])
    assert "Use now" in Phone("en").open(url).text
    assert "立即使用" in Phone("zh-CN").open(url).text
    wechat_en = requests.get(
        url,
        headers={"User-Agent": "Mozilla/5.0 MicroMessenger/8.0.40 Language/en"},
        timeout=20,
    )
    assert "Use now" in wechat_en.text
    assert "立即使用" in requests.get(url, timeout=20).text  # zh by default


def test_another_merchants_card_is_refused_and_nothing_is_said(
    online_card, receive, sandbox, live_server, live_demo
):
    got = receive(online_card, "o_owner")
    url = link_of(sandbox, "o_owner", got["code"])
    other = live_demo["Other Shop"]
    # The same link at another merchant's page: 404, nothing of the card shown.
    foreign = url.replace(f"/u/{online_card.merchant.appid}/", f"/u/{other.appid}/")
    page = requests.get(foreign, timeout=20)
    assert page.status_code == 404
    assert (
        "全场满500减50" not in page.text and online_card.merchant.name not in page.text
    )
    assert "不能在此页面使用" in page.text or "cannot be used on this page" in page.text
    assert sandbox.calls("card/code/decrypt") == 0
    # An unknown shop.
    page = requests.get(
        url.replace(online_card.merchant.appid, "wx00nobody"), timeout=20
    )
    assert page.status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "",
        "card_id=pX&openid=o_x",
        "card_id={card}&encrypt_code=&openid=o_x",
        "card_id={card}&encrypt_code=garbage%3D%3D&openid=o_x",
        "card_id={card}&encrypt_code=%B2%E2%CA%D4&openid=o_x",  # GBK bytes
        "card_id={card}&encrypt_code={plus_as_space}&openid=o_x",  # decoded twice
        "card_id={card}&encrypt_code={twice_encoded}&openid=o_x",  # not decoded
        "card_id={card}&card_id={card}&encrypt_code={enc}&openid=o_x",
        "card_id={card}&encrypt_code={enc}&openid=o%20x%3Cscript%3E",
        "card_id={card}&encrypt_code={enc}&openid=o_x&pad=" + "a" * 5000,
    ],
)
def test_bad_links_get_a_page_in_words_and_400(online_card, receive, sandbox, query):
    got = received_with_plus(online_card, receive, "o_owner")
    enc = got["encrypt_code"]
    query = query.format(
        card=online_card.card_id,
        enc=quote(enc, safe=""),
        plus_as_space=quote(enc.replace("+", " "), safe=""),
        twice_encoded=quote(quote(enc, safe=""), safe=""),
    )
    base = (
        f"{sandbox.base_url.rsplit('/sandbox/', 1)[0]}/u/{online_card.merchant.appid}/"
    )
    page = requests.get(base + "?" + query, timeout=20)
    assert page.status_code == 400, (query, page.status_code)
    assert "data-online-problem" in page.text and "Traceback" not in page.text
    assert re.search(r"data-message>[^<]{5,}<", page.text)
    assert sandbox.calls("card/code/consume") == 0


def test_a_ten_megabyte_query_is_a_400_page(online_card):
    from django.test import Client

    page = Client().get(
        f"/u/{online_card.merchant.appid}/",
        QUERY_STRING="card_id=x&encrypt_code=" + "A" * (10 * 1024 * 1024),
    )
    assert page.status_code == 400 and b"data-online-problem" in page.content


def test_a_forged_code_in_the_form_is_never_used(online_card, receive, sandbox):
    """The POST carries only the link's values: the code comes from decrypt. A form
    naming another encrypt_code redeems that coupon, never a typed code."""
    mine = receive(online_card, "o_owner")
    other = receive(online_card, "o_someone")
    phone = Phone()
    phone.open(link_of(sandbox, "o_owner", mine["code"]))
    store = online_card.merchant.stores.get(poi_id="100001")
    page = phone.press("use", store=str(store.pk), code=other["code"])
    assert "data-held" in page.text
    page = phone.press("confirm", code=other["code"])
    assert "data-success" in page.text
    assert RedemptionAttempt.objects.get().code == mine["code"]
    other_code = [
        c for c in codes_of(sandbox, "o_someone") if c["code"] == other["code"]
    ]
    assert other_code[0]["status"] == "NORMAL"


def test_a_lost_consume_answer_is_checked_and_settled_without_a_second_consume(
    online_card, receive, sandbox
):
    got = receive(online_card, "o_owner")
    phone = Phone()
    phone.open(link_of(sandbox, "o_owner", got["code"]))
    store = online_card.merchant.stores.get(poi_id="100001")
    phone.press("use", store=str(store.pk))
    # WeChat holds the answer past the portal's 2 s and applies the consume late.
    sandbox.fault("timeout", path="card/code/consume", remaining=1, latency_ms=2500)
    page = phone.press("confirm")
    assert page.status_code == 200 and "data-checking" in page.text, page.text
    status_url = re.search(r'"status_url": "([^"]+)"', page.text).group(1)
    base = page.url.split("/u/")[0]
    deadline = time.monotonic() + 20
    answer = {}
    while time.monotonic() < deadline:
        answer = phone.http.get(base + status_url, timeout=20).json()
        if answer["state"] != "checking":
            break
        time.sleep(0.3)
    assert answer["state"] == "consumed", answer
    assert "data-success" in phone.http.get(page.url, timeout=20).text
    assert sandbox.calls("card/code/consume") == 1
    attempt = RedemptionAttempt.objects.get()
    assert attempt.outcome == A.CONSUMED and attempt.channel == Channel.ONLINE


def test_a_coupon_redeemed_meanwhile_is_refused_in_words_at_confirm(
    online_card, receive, sandbox
):
    """The customer holds the mark; it is released and the code redeemed elsewhere
    (WeChat's back office, say): Confirm says "already redeemed" in words, and
    offers nothing more to tap."""
    got = receive(online_card, "o_owner")
    phone = Phone()
    phone.open(link_of(sandbox, "o_owner", got["code"]))
    store = online_card.merchant.stores.get(poi_id="100001")
    phone.press("use", store=str(store.pk))
    wechat.for_merchant(online_card.merchant).code.mark(
        got["code"], card_id=online_card.card_id, openid="o_owner", is_mark=False
    )
    wechat.for_merchant(online_card.merchant).code.consume(got["code"])
    page = phone.press("confirm")
    assert page.status_code == 409
    assert "这张券已经核销过了。" in page.text  # Reason.ALREADY_CONSUMED, in Chinese
    assert 'data-reason="already_consumed"' in page.text
    assert "data-final" in page.text and "data-confirm" not in page.text
    assert sandbox.calls("card/code/consume") == 1  # the back office's, not ours


def test_requests_are_rate_limited_per_openid(online_card, receive, sandbox, settings):
    settings.ONLINE_RATE_OPENID = 3
    got = receive(online_card, "o_owner")
    url = link_of(sandbox, "o_owner", got["code"])
    answers = [requests.get(url, timeout=20).status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    page = requests.get(url, timeout=20)
    assert "data-online-problem" in page.text


def test_parse_link_decodes_exactly_once():
    link = online.parse_link("card_id=pA&encrypt_code=ab%2Bc+d%2F%3D&openid=o_1&x=1")
    assert link == {"card_id": "pA", "encrypt_code": "ab+c+d/=", "openid": "o_1"}
    with pytest.raises(online.BadLink):
        online.parse_link("card_id=pA&encrypt_code=%C0%AF&openid=o_1")


def test_the_card_editor_shows_the_online_link_beside_the_main_button_link(demo, login):
    page = login("demo_owner").get("/admin/cards/friendcard/add/")
    assert page.status_code == 200
    html = page.content.decode()
    found = re.search(
        r'value="([^"]+)" readonly data-copy-source data-online-url', html
    )
    assert found and found.group(1) == "http://testserver/u/wx0000000000de0001/"
    assert "data-copy-button" in html
    # The link opens the page (a link without a coupon: the page says so, 400).
    page = login("demo_owner").get("/u/wx0000000000de0001/")
    assert page.status_code == 400 and b"data-online-problem" in page.content


def test_requests_are_rate_limited_per_ip(demo, settings):
    from django.test import Client

    settings.ONLINE_RATE_IP = 2
    phone = Client(REMOTE_ADDR="203.0.113.9")
    answers = [phone.get("/u/wx0000000000de0001/").status_code for _ in range(3)]
    assert answers == [400, 400, 429]
    # Another phone is not limited by this one.
    assert (
        Client(REMOTE_ADDR="203.0.113.10").get("/u/wx0000000000de0001/").status_code
        == 400
    )
