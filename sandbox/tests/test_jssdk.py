"""The JS-SDK stand-in's endpoints over HTTP (SPEC §6): wx.config's jsapi signature,
addCard's cardExt signatures and receive, consumeAndShareCard, CORS. The signatures
are computed here from SPEC's formulas with hashlib, and the seeds' vectors hold.
The browser drives the same endpoints in tests/e2e/test_sandbox_jssdk.py."""

# The fixtures come from test_codes; pytest passes them in by name.
# ruff: noqa: F811

from __future__ import annotations

import hashlib
import json
import time

import requests

from sandbox.tests.helpers import (  # noqa: F401  (fixtures)
    APPID,
    api,
    callback,
    images,
    new_card,
    pushes,
    receive,
)

PAGE = "https://shop.example.com/c/spring/?from=poster"


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (WeChat's protocol)


def ticket(api, kind: str) -> str:
    return api.get(f"cgi-bin/ticket/getticket?type={kind}")["ticket"]


def config_body(api, url: str = PAGE, apis=("addCard",), **changes) -> dict:
    jsapi = ticket(api, "jsapi")
    timestamp, nonce = int(time.time()), "n0nce"
    body = {
        "appId": APPID,
        "timestamp": timestamp,
        "nonceStr": nonce,
        "signature": sha1(
            f"jsapi_ticket={jsapi}&noncestr={nonce}&timestamp={timestamp}&url={url}"
        ),
        "url": url,
        "jsApiList": list(apis),
    }
    body.update(changes)
    return body


def card_ext(api_ticket: str, card_id: str, nonce: str = "abc", **extra) -> str:
    timestamp = str(int(time.time()))
    values = [api_ticket, timestamp, card_id, nonce, extra.get("openid", "")]
    ext = {
        "timestamp": timestamp,
        "nonce_str": nonce,
        "signature": sha1("".join(sorted(v for v in values if v))),
        **extra,
    }
    return json.dumps(ext)


def jssdk(sandbox, path: str, body: dict, origin: str = "https://shop.example.com"):
    response = requests.post(
        sandbox.base_url + "jssdk/" + path,
        json=body,
        headers={"Origin": origin},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    return response.json()


def session(sandbox, api, apis=("addCard", "consumeAndShareCard")) -> str:
    answer = jssdk(sandbox, "config", config_body(api, apis=apis))
    assert answer["errMsg"] == "config:ok", answer
    return answer["session"]


# --- the seeds' vectors ---------------------------------------------------------------
def test_the_sandboxs_signatures_hold_the_seeds_vectors():
    from sandbox.backends import jssdk as backend

    # SPEC §6 / seed 002 "签名说明"
    assert (
        backend.card_ext_signature(
            api_ticket="ojZ8YtyVyr30HheH3CM73y7h4jJE",
            timestamp=1404896688,
            card_id="pjZ8Yt1XGILfi-FUsewpnnolGgZk",
            code="1434008071",
            nonce_str="123",
        )
        == "f137ab68b7f8112d20ee528ab6074564e2796250"
    )
    # WeChat's JS-SDK guide, appendix 1 (the jsapi signature's own example)
    assert (
        backend.jsapi_signature(
            jsapi_ticket="sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3"
            "-Sl-HhTdfl2fzFy1AOcHKP7qg",
            noncestr="Wm3WZYTPz0wzccnW",
            timestamp=1414587457,
            url="http://mp.weixin.qq.com?params=value#fragment",
        )
        == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    )


# --- the script and CORS ----------------------------------------------------------------
def test_the_script_is_plain_javascript(sandbox):
    response = requests.get(sandbox.base_url + "jssdk/jweixin.js", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/javascript")
    for name in ("config", "ready", "error", "addCard", "consumeAndShareCard"):
        assert f"{name}: function" in response.text


def test_cors_is_allowed_on_the_jssdk_endpoints_only(sandbox, api):
    preflight = requests.options(
        sandbox.base_url + "jssdk/config",
        headers={
            "Origin": "https://shop.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    control = requests.options(
        sandbox.base_url + "control/codes",
        headers={"Origin": "https://shop.example.com"},
        timeout=10,
    )
    assert "Access-Control-Allow-Origin" not in control.headers


# --- wx.config --------------------------------------------------------------------------
def test_config_checks_the_jsapi_signature_of_the_pages_url(sandbox, api):
    good = jssdk(sandbox, "config", config_body(api))
    assert good["errMsg"] == "config:ok" and good["session"]
    # the fragment is not part of the signed URL
    body = config_body(api)
    body["url"] = PAGE + "#top"
    assert jssdk(sandbox, "config", body)["errMsg"] == "config:ok"
    # another page, another timestamp, the wx_card ticket instead of jsapi: refused
    for tampered in (
        {**config_body(api), "url": PAGE + "&x=1"},
        {**config_body(api), "timestamp": 1},
        {**config_body(api), "signature": "0" * 40},
        {**config_body(api), "signature": None},
    ):
        answer = jssdk(sandbox, "config", tampered)
        assert answer == {"errMsg": "config:invalid signature"}, tampered
    card_ticket = ticket(api, "wx_card")
    wrong_ticket = config_body(api)
    wrong_ticket["signature"] = sha1(
        f"jsapi_ticket={card_ticket}&noncestr={wrong_ticket['nonceStr']}"
        f"&timestamp={wrong_ticket['timestamp']}&url={PAGE}"
    )
    assert (
        jssdk(sandbox, "config", wrong_ticket)["errMsg"] == "config:invalid signature"
    )
    assert jssdk(sandbox, "config", {**config_body(api), "appId": "wxnobody"}) == {
        "errMsg": "config:invalid appid"
    }


# --- wx.addCard -------------------------------------------------------------------------
def test_add_card_checks_then_receives_with_outer_str(sandbox, api, new_card):
    card_id = new_card(stock=3)
    wx_card = ticket(api, "wx_card")
    ext = card_ext(wx_card, card_id, outer_str="campaign-spring")
    entry = [{"cardId": card_id, "cardExt": ext}]
    check = jssdk(
        sandbox, "addcard", {"session": session(sandbox, api), "cardList": entry}
    )
    assert check["errMsg"] == "addCard:ok"
    assert check["cards"][0]["title"] == "鞋类满500减50"
    assert check["labels"]["add"]
    assert pushes("user_get_card") == []  # nothing received before the user agrees

    done = jssdk(
        sandbox,
        "addcard",
        {"session": session(sandbox, api), "cardList": entry, "openid": "o_h5"},
    )
    assert done["errMsg"] == "addCard:ok"
    [item] = done["cardList"]
    assert set(item) == {"cardId", "cardExt", "isSuccess", "code"}
    assert item["cardId"] == card_id and item["cardExt"] == ext
    assert item["isSuccess"] is True
    decrypted = api.post("card/code/decrypt", {"encrypt_code": item["code"]})
    assert decrypted["errcode"] == 0
    [event] = pushes("user_get_card")
    assert (
        event["FromUserName"] == "o_h5" and event["UserCardCode"] == decrypted["code"]
    )
    assert event["OuterStr"] == "campaign-spring" and event["OuterId"] == "0"
    assert event["SourceScene"] == "SOURCE_SCENE_JSAPI"

    # the same cardExt cannot be used twice (WeChat: repeated timestamp/nonce fail)
    again = jssdk(
        sandbox,
        "addcard",
        {"session": session(sandbox, api), "cardList": entry, "openid": "o_h5"},
    )
    assert again["errMsg"] == "addCard:fail cardExt used already"


def test_add_card_refuses_a_wrong_signature_as_wechat_does(sandbox, api, new_card):
    card_id = new_card(stock=3)
    wx_card, jsapi = ticket(api, "wx_card"), ticket(api, "jsapi")
    good = json.loads(card_ext(wx_card, card_id))
    last = "1" if good["signature"].endswith("0") else "0"  # never the same signature
    tampered = dict(good, signature=good["signature"][:-1] + last)
    wrong_ticket = json.loads(card_ext(jsapi, card_id))  # signed with jsapi: a bug
    other_card = json.loads(card_ext(wx_card, new_card()))  # signed for another card
    for ext in (tampered, wrong_ticket, other_card, dict(good, nonce_str="other")):
        answer = jssdk(
            sandbox,
            "addcard",
            {
                "session": session(sandbox, api),
                "cardList": [{"cardId": card_id, "cardExt": json.dumps(ext)}],
                "openid": "o_h5",
            },
        )
        assert answer["errMsg"] == "addCard:fail signature error", ext
    for ext, err in (
        ("not json", "addCard:fail invalid cardExt"),
        (json.dumps({"timestamp": "1"}), "addCard:fail invalid cardExt"),
        (card_ext(wx_card, card_id, code="1434008071"), "addCard:fail invalid cardExt"),
    ):
        answer = jssdk(
            sandbox,
            "addcard",
            {
                "session": session(sandbox, api),
                "cardList": [{"cardId": card_id, "cardExt": ext}],
            },
        )
        assert answer["errMsg"] == err
    unknown = jssdk(
        sandbox,
        "addcard",
        {
            "session": session(sandbox, api),
            "cardList": [{"cardId": "pNo", "cardExt": "{}"}],
        },
    )
    assert unknown["errMsg"] == "addCard:fail invalid card_id"
    assert pushes("user_get_card") == []


def test_add_card_needs_a_verified_config_listing_it(sandbox, api, new_card):
    card_id = new_card(stock=3)
    entry = [{"cardId": card_id, "cardExt": card_ext(ticket(api, "wx_card"), card_id)}]
    for sess in ("", "forged", session(sandbox, api, apis=("chooseCard",))):
        answer = jssdk(sandbox, "addcard", {"session": sess, "cardList": entry})
        assert answer == {"errMsg": "addCard:permission denied"}


def test_a_refused_receive_is_not_a_success(sandbox, api, new_card):
    card_id = new_card(stock=3)
    wx_card = ticket(api, "wx_card")
    for _ in range(3):  # get_limit 3
        receive(sandbox, card_id, "o_h5")
    mine = card_ext(wx_card, card_id, nonce="n1", openid="o_h5")
    fixed = card_ext(wx_card, card_id, nonce="n2", openid="o_someone")
    done = jssdk(
        sandbox,
        "addcard",
        {
            "session": session(sandbox, api),
            "cardList": [
                {"cardId": card_id, "cardExt": mine},
                {"cardId": card_id, "cardExt": fixed},
            ],
            "openid": "o_h5",
        },
    )
    assert [c["isSuccess"] for c in done["cardList"]] == [False, False]
    assert [c["code"] for c in done["cardList"]] == ["", ""]
    assert [d["errcode"] for d in done["details"]] == [45033, 40003]


# --- wx.consumeAndShareCard ----------------------------------------------------------------
def test_consume_and_share_shows_the_gift(sandbox, api, new_card):
    card_id = new_card(stock=3)  # consume_share_self_num 1
    got = receive(sandbox, card_id, "o_alice")
    sess = session(sandbox, api)
    body = {"session": sess, "cardId": card_id, "code": got["code"]}
    assert jssdk(sandbox, "consume-share", body)["errMsg"] == (
        "consumeAndShareCard:fail the code is not consumed"
    )
    api.mark(got["code"], "o_bob")
    assert api.consume(got["code"], openid="o_bob")["errcode"] == 0
    answer = jssdk(sandbox, "consume-share", body)
    assert answer["errMsg"] == "consumeAndShareCard:ok"
    [gift] = answer["gifts"]
    assert gift["cardId"] == card_id and gift["openid"] == "o_bob"
    by_encrypted = jssdk(
        sandbox, "consume-share", {**body, "code": got["encrypt_code"]}
    )
    assert by_encrypted["gifts"] == answer["gifts"]
    denied = jssdk(
        sandbox,
        "consume-share",
        {**body, "session": session(sandbox, api, ("addCard",))},
    )
    assert denied == {"errMsg": "consumeAndShareCard:permission denied"}
