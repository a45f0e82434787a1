"""The sandbox's JS-SDK in a real browser (SPEC §6): a merchant's page on another
origin, under a strict Content-Security-Policy (no inline script, no inline
style), loads /sandbox/jssdk/jweixin.js, calls wx.config and wx.addCard; the
overlay asks for the openid; a good signature receives the card (user_get_card
with the cardExt's outer_str), a tampered one fails with WeChat's errMsg.

Signatures are made here with hashlib from SPEC's formulas, as a merchant would."""

# The fixtures come from sandbox.tests.helpers; pytest passes them in by name.
# ruff: noqa: F811

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from sandbox.tests.helpers import (  # noqa: F401  (fixtures)
    APPID,
    api,
    callback,
    images,
    new_card,
    pushes,
    receive,
)

pytestmark = pytest.mark.e2e

PAGE_JS = """
var data = JSON.parse(document.getElementById("wx-data").textContent);
var state = document.getElementById("state");
var result = document.getElementById("result");
function out(kind, res) { result.textContent = JSON.stringify({kind: kind, res: res}); }
wx.config(data.config);
wx.ready(function () { state.textContent = "ready"; });
wx.error(function (res) { state.textContent = "error " + res.errMsg; });
document.getElementById("add").addEventListener("click", function () {
  wx.addCard({
    cardList: data.cardList,
    success: function (res) { out("success", res); },
    fail: function (res) { out("fail", res); },
    cancel: function (res) { out("cancel", res); }
  });
});
document.getElementById("gift").addEventListener("click", function () {
  wx.consumeAndShareCard({
    cardId: data.share.cardId,
    code: data.share.code,
    success: function (res) { out("success", res); },
    fail: function (res) { out("fail", res); }
  });
});
"""

PAGE_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Spring campaign</title>
<script type="application/json" id="wx-data">{data}</script>
<script src="{sdk}"></script>
<script src="/page.js" defer></script>
</head><body>
<button id="add" type="button">Receive</button>
<button id="gift" type="button">Gift</button>
<pre id="state"></pre><pre id="result"></pre>
</body></html>"""


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (WeChat's protocol)


class MerchantPage:
    """The merchant's H5 page, served from its own origin."""

    def __init__(self, sandbox_base: str):
        page = self
        self.html = ""
        sandbox_origin = "{0.scheme}://{0.netloc}".format(urlsplit(sandbox_base))

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path = urlsplit(self.path).path
                if path == "/page.html":
                    body, kind = page.html, "text/html; charset=utf-8"
                elif path == "/page.js":
                    body, kind = PAGE_JS, "application/javascript"
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header(
                    "Content-Security-Policy",
                    f"default-src 'self'; script-src 'self' {sandbox_origin}; "
                    f"connect-src {sandbox_origin}; style-src 'self'",
                )
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/page.html?from=poster"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def merchant_page(sandbox):
    page = MerchantPage(sandbox.base_url)
    yield page
    page.close()


def ticket(api, kind: str) -> str:
    return api.get(f"cgi-bin/ticket/getticket?type={kind}")["ticket"]


def prepare(sandbox, api, page, card_id: str, *, tamper: bool = False, share=None):
    jsapi, wx_card = ticket(api, "jsapi"), ticket(api, "wx_card")
    timestamp, nonce = int(time.time()), "pageNonce1"
    config = {
        "appId": APPID,
        "timestamp": timestamp,
        "nonceStr": nonce,
        "signature": sha1(
            f"jsapi_ticket={jsapi}&noncestr={nonce}&timestamp={timestamp}&url={page.url}"
        ),
        "jsApiList": ["addCard", "consumeAndShareCard"],
    }
    ext_nonce = "cardNonce1"
    signature = sha1("".join(sorted([wx_card, str(timestamp), card_id, ext_nonce])))
    if tamper:
        signature = signature[::-1]
    ext = json.dumps(
        {
            "timestamp": str(timestamp),
            "nonce_str": ext_nonce,
            "signature": signature,
            "outer_str": "spring-h5",
        }
    )
    data = {
        "config": config,
        "cardList": [{"cardId": card_id, "cardExt": ext}],
        "share": share or {},
    }
    page.html = PAGE_HTML.format(
        data=json.dumps(data).replace("</", "<\\/"),
        sdk=sandbox.base_url + "jssdk/jweixin.js",
    )


def result(browser_page) -> dict:
    # Locator waits, not wait_for_function: the page's CSP forbids eval.
    expect(browser_page.locator("#result")).not_to_be_empty()
    return json.loads(browser_page.locator("#result").text_content())


def ready(browser_page) -> None:
    expect(browser_page.locator("#state")).to_have_text("ready")


def test_add_card_with_good_signatures_receives_the_card(
    sandbox, api, new_card, merchant_page, page
):
    card_id = new_card(stock=3)
    prepare(sandbox, api, merchant_page, card_id)
    page.goto(merchant_page.url)
    ready(page)
    page.click("#add")
    page.locator("[data-wx-sandbox=card]").wait_for()
    assert "鞋类满500减50" in page.locator("[data-wx-sandbox=overlay]").text_content()
    page.fill("[data-wx-sandbox=openid]", "o_browser")
    page.click("[data-wx-sandbox=confirm]")
    answer = result(page)
    assert answer["kind"] == "success"
    assert answer["res"]["errMsg"] == "addCard:ok"
    [item] = answer["res"]["cardList"]
    assert item["cardId"] == card_id and item["isSuccess"] is True and item["code"]
    assert page.locator("[data-wx-sandbox=overlay]").count() == 0
    decrypted = api.post("card/code/decrypt", {"encrypt_code": item["code"]})
    [event] = pushes("user_get_card")
    assert event["FromUserName"] == "o_browser"
    assert event["UserCardCode"] == decrypted["code"]
    assert event["OuterStr"] == "spring-h5"


def test_a_tampered_card_signature_fails_with_wechats_errmsg(
    sandbox, api, new_card, merchant_page, page
):
    card_id = new_card(stock=3)
    prepare(sandbox, api, merchant_page, card_id, tamper=True)
    page.goto(merchant_page.url)
    ready(page)
    page.click("#add")
    answer = result(page)
    assert answer == {"kind": "fail", "res": {"errMsg": "addCard:fail signature error"}}
    assert page.locator("[data-wx-sandbox=overlay]").count() == 0
    assert pushes("user_get_card") == []


def test_a_config_signed_for_another_url_fails_and_denies_add_card(
    sandbox, api, new_card, merchant_page, page
):
    card_id = new_card(stock=3)
    prepare(sandbox, api, merchant_page, card_id)
    page.goto(merchant_page.url.replace("from=poster", "from=elsewhere"))
    expect(page.locator("#state")).to_have_text("error config:invalid signature")
    page.click("#add")
    assert result(page) == {
        "kind": "fail",
        "res": {"errMsg": "addCard:permission denied"},
    }


def test_cancel_in_the_overlay(sandbox, api, new_card, merchant_page, page):
    card_id = new_card(stock=3)
    prepare(sandbox, api, merchant_page, card_id)
    page.goto(merchant_page.url)
    ready(page)
    page.click("#add")
    page.click("[data-wx-sandbox=cancel]")
    assert result(page) == {"kind": "cancel", "res": {"errMsg": "addCard:cancel"}}
    assert pushes("user_get_card") == []


def test_consume_and_share_shows_the_gift(sandbox, api, new_card, merchant_page, page):
    card_id = new_card(stock=3)  # consume_share_self_num 1
    got = receive(sandbox, card_id, "o_alice")
    assert api.mark(got["code"], "o_bob")["errcode"] == 0
    assert api.consume(got["code"], openid="o_bob")["errcode"] == 0
    prepare(
        sandbox,
        api,
        merchant_page,
        card_id,
        share={"cardId": card_id, "code": got["code"]},
    )
    page.goto(merchant_page.url)
    ready(page)
    page.click("#gift")
    page.locator("[data-wx-sandbox=gift]").wait_for()
    page.click("[data-wx-sandbox=ok]")
    assert result(page) == {
        "kind": "success",
        "res": {"errMsg": "consumeAndShareCard:ok"},
    }
