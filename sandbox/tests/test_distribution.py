"""card/qrcode/create, scanning QR codes (the control API and the simulated phone),
card/testwhitelist/set — over real HTTP against the live sandbox, with raw requests,
wechatpy and the portal's client (SPEC §6)."""

# The fixtures come from test_codes; pytest passes them in by name.
# ruff: noqa: F811

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import pytest
import requests

from sandbox.tests.helpers import (  # noqa: F401  (fixtures)
    APPID,
    DAY,
    OK,
    SECRET,
    api,
    callback,
    images,
    new_card,
    pushes,
    receive,
)


def qr_body(card_id: str, **card) -> dict:
    expire = card.pop("expire_seconds", None)
    body = {
        "action_name": "QR_CARD",
        "action_info": {"card": {"card_id": card_id, **card}},
    }
    if expire is not None:
        body["expire_seconds"] = expire
    return body


def scan(sandbox, ticket: str, openid: str) -> requests.Response:
    return requests.post(
        sandbox.base_url + f"control/qrcodes/{ticket}/scan",
        json={"openid": openid},
        timeout=10,
    )


# --- card/qrcode/create -------------------------------------------------------------
def test_a_qr_code_answers_wechats_shape_and_scans_with_its_channel(
    sandbox, api, new_card
):
    card_id = new_card(stock=5)
    data = api.post(
        "card/qrcode/create",
        qr_body(card_id, expire_seconds=1800, outer_id=12, outer_str="window-poster"),
    )
    assert data["errcode"] == 0, data
    assert set(data) == {
        "errcode",
        "errmsg",
        "ticket",
        "url",
        "show_qrcode_url",
        "expire_seconds",
    }
    assert data["expire_seconds"] == 1800
    assert data["ticket"].startswith("gQ") and data["ticket"].endswith("==")
    show = urlsplit(data["show_qrcode_url"])
    assert show.path.endswith("/cgi-bin/showqrcode")
    assert show.query == "ticket=" + quote(data["ticket"], safe="")
    image = requests.get(data["show_qrcode_url"], timeout=10)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")

    answer = scan(sandbox, data["ticket"], "o_alice")
    assert answer.status_code == 200, answer.text
    got = answer.json()
    assert set(got) == {"card_id", "code", "encrypt_code", "openid"}
    [event] = pushes("user_get_card")
    assert event["FromUserName"] == "o_alice" and event["UserCardCode"] == got["code"]
    assert event["OuterId"] == "12" and event["OuterStr"] == "window-poster"
    assert event["SourceScene"] == "SOURCE_SCENE_QRCODE"
    assert api.quantity(card_id) == 4
    # a permanent QR code has no expire_seconds
    permanent = api.post("card/qrcode/create", qr_body(card_id))
    assert permanent["errcode"] == 0 and "expire_seconds" not in permanent


@pytest.mark.parametrize(
    ("change", "errcode"),
    [
        ({"action_name": "QR_MULTIPLE_CARD"}, 40071),
        ({"action_name": "QR_SCENE"}, 40053),
        ({"action_name": None}, 40053),
        ({"action_info": {}}, 40053),
        ({"expire_seconds": 59}, 40071),
        ({"expire_seconds": 1801}, 40071),
        ({"expire_seconds": "soon"}, 40071),
        ({"card": {"outer_id": 2**31}}, 40071),
        ({"card": {"outer_id": -1}}, 40071),
        ({"card": {"outer_str": "x" * 129}}, 40071),
        ({"card": {"is_unique_code": "yes"}}, 40071),
        ({"card": {"code": "198374613512"}}, 40071),
        ({"card": {"card_id": None}}, 41012),
        ({"card": {"card_id": "pNoSuchCard"}}, 40073),
    ],
)
def test_qrcode_create_refusals(sandbox, api, new_card, change, errcode):
    card_id = new_card(stock=1)
    body = qr_body(card_id)
    for key, value in change.items():
        if key == "card":
            body["action_info"]["card"].update(value)
        elif value is None:
            body.pop(key)
        else:
            body[key] = value
    data = api.post("card/qrcode/create", body)
    assert data["errcode"] == errcode, data
    assert "ticket" not in data
    assert sandbox.control("GET", "qrcodes", params={"appid": APPID})["qrcodes"] == []


def test_the_limits_of_expire_seconds_and_outer_id_are_accepted(sandbox, api, new_card):
    card_id = new_card(stock=1)
    for body in (
        qr_body(card_id, expire_seconds=60),
        qr_body(card_id, expire_seconds=1800),
        qr_body(card_id, outer_id=2**31 - 1, outer_str="y" * 128),
        qr_body(card_id, outer_id=0),
    ):
        assert api.post("card/qrcode/create", body)["errcode"] == 0, body


def test_qrcode_create_and_the_cards_status(sandbox, api, new_card):
    in_review = new_card(approve=False)
    refused = api.post("card/qrcode/create", qr_body(in_review))
    assert refused["errcode"] == 40078 and "whitelist" in refused["errmsg"]
    # With a test whitelist, a card in review gets a QR code for testing…
    assert api.post("card/testwhitelist/set", {"openid": ["o_tester"]}) == OK
    test_qr = api.post("card/qrcode/create", qr_body(in_review, outer_id=3))
    assert test_qr["errcode"] == 0
    # …that only whitelisted users can receive by.
    assert scan(sandbox, test_qr["ticket"], "o_tester").status_code == 200
    stranger = scan(sandbox, test_qr["ticket"], "o_stranger")
    assert stranger.status_code == 400 and stranger.json()["errcode"] == 40078
    # is_unique_code needs an approved card with stock
    unique = api.post("card/qrcode/create", qr_body(in_review, is_unique_code=True))
    assert unique["errcode"] == 40078
    empty = new_card(stock=0)
    assert (
        api.post("card/qrcode/create", qr_body(empty, is_unique_code=True))["errcode"]
        == 45031
    )
    assert api.post("card/qrcode/create", qr_body(empty))["errcode"] == 0

    ended = new_card(stock=1, days=1)
    deleted = new_card(stock=1)
    assert api.post("card/delete", {"card_id": deleted}) == OK
    assert api.post("card/qrcode/create", qr_body(deleted))["errcode"] == 40078
    sandbox.advance(2 * DAY)
    api = api.__class__(sandbox, APPID)
    assert api.post("card/qrcode/create", qr_body(ended))["errcode"] == 40079


def test_a_unique_code_qr_scanned_twice_gives_one_code(sandbox, api, new_card):
    card_id = new_card(stock=5)
    data = api.post("card/qrcode/create", qr_body(card_id, is_unique_code=True))
    first = scan(sandbox, data["ticket"], "o_alice")
    second = scan(sandbox, data["ticket"], "o_bob")
    again = scan(sandbox, data["ticket"], "o_alice")
    assert first.status_code == 200
    assert second.status_code == 400 and second.json()["errcode"] == 40116
    assert again.status_code == 400 and again.json()["errcode"] == 40116
    assert (
        len(sandbox.control("GET", "codes", params={"card_id": card_id})["codes"]) == 1
    )
    assert api.quantity(card_id) == 4


def test_a_refused_scan_leaves_a_unique_code_qr_unused(sandbox, api, new_card):
    card_id = new_card(stock=5)  # get_limit 3
    for _ in range(3):
        receive(sandbox, card_id, "o_alice")
    data = api.post("card/qrcode/create", qr_body(card_id, is_unique_code=True))
    assert scan(sandbox, data["ticket"], "o_alice").json()["errcode"] == 45033
    assert scan(sandbox, data["ticket"], "o_bob").status_code == 200


def test_an_expired_qr_code_refuses(sandbox, api, new_card):
    card_id = new_card(stock=5)
    data = api.post("card/qrcode/create", qr_body(card_id, expire_seconds=60))
    assert scan(sandbox, data["ticket"], "o_alice").status_code == 200
    sandbox.advance(61)
    late = scan(sandbox, data["ticket"], "o_bob")
    assert late.status_code == 400 and late.json()["errcode"] == 40079
    listed = sandbox.control("GET", "qrcodes", params={"card_id": card_id})["qrcodes"]
    assert [q["state"] for q in listed] == ["expired"]


def test_a_qr_code_for_one_openid(sandbox, api, new_card):
    card_id = new_card(stock=5)
    data = api.post("card/qrcode/create", qr_body(card_id, openid="o_vip"))
    assert scan(sandbox, data["ticket"], "o_other").json()["errcode"] == 40003
    assert scan(sandbox, data["ticket"], "o_vip").status_code == 200


def test_the_simulated_phone_receives_as_if_scanned(sandbox, api, new_card):
    card_id = new_card(stock=5)
    data = api.post(
        "card/qrcode/create",
        qr_body(card_id, is_unique_code=True, outer_id=7, outer_str="table-7"),
    )
    phone = requests.Session()
    page = phone.get(data["url"], timeout=10)
    assert page.status_code == 200 and "鞋类满500减50" in page.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    done = phone.post(
        data["url"],
        data={"csrfmiddlewaretoken": token, "openid": "o_phone"},
        headers={"Referer": data["url"]},
        timeout=10,
    )
    assert done.status_code == 200
    code = re.search(r'data-received="(\d{12})"', done.text)[1]
    [event] = pushes("user_get_card")
    assert event["UserCardCode"] == code and event["FromUserName"] == "o_phone"
    assert event["OuterId"] == "7" and event["OuterStr"] == "table-7"
    used = phone.get(data["url"], timeout=10).text
    assert "csrfmiddlewaretoken" not in used  # nothing more to receive
    assert requests.get(sandbox.base_url + "q/nope", timeout=10).status_code == 404
    console = requests.get(sandbox.base_url + "console/", timeout=10).text
    assert "table-7" in console


def test_the_scan_control_api_knows_the_url_slug_too(sandbox, api, new_card):
    card_id = new_card(stock=5)
    data = api.post("card/qrcode/create", qr_body(card_id))
    slug = data["url"].rsplit("/", 1)[1]
    assert scan(sandbox, slug, "o_alice").status_code == 200
    assert scan(sandbox, "nope", "o_alice").status_code == 404


# --- card/testwhitelist/set ---------------------------------------------------------
def test_the_whitelist_is_replaced_whole_and_holds_ten(sandbox, api, new_card):
    in_review = new_card(approve=False)
    assert api.post("card/testwhitelist/set", {"openid": ["o_a", "o_b"]}) == OK
    assert receive(sandbox, in_review, "o_a")["code"]  # any status, no stock needed
    assert (
        api.post("card/testwhitelist/set", {"openid": ["o_c"], "username": ["eddy"]})
        == OK
    )
    listed = sandbox.control("GET", "whitelist", params={"appid": APPID})
    assert listed["openid"] == ["o_c"] and listed["username"] == ["eddy"]
    gone = requests.post(
        sandbox.base_url + f"control/cards/{in_review}/receive",
        json={"openid": "o_a"},
        timeout=10,
    )
    assert gone.status_code == 400 and gone.json()["errcode"] == 40078
    # a username stands for its user's openid
    users = sandbox.control("GET", "users", params={"appid": APPID})["users"]
    eddy = next(u for u in users if u["username"] == "eddy")
    assert eddy["whitelisted"] is True
    assert receive(sandbox, in_review, eddy["openid"])["code"]

    eleven = {
        "openid": [f"o_{i}" for i in range(6)],
        "username": [f"u{i}" for i in range(5)],
    }
    too_many = api.post("card/testwhitelist/set", eleven)
    assert too_many["errcode"] == 40053
    assert sandbox.control("GET", "whitelist", params={"appid": APPID})["openid"] == [
        "o_c"
    ]  # nothing changed
    ten = {
        "openid": [f"o_{i}" for i in range(5)],
        "username": [f"u{i}" for i in range(5)],
    }
    assert api.post("card/testwhitelist/set", ten) == OK
    assert api.post("card/testwhitelist/set", {"openid": "o_a"})["errcode"] == 40071
    assert api.post("card/testwhitelist/set", {}) == OK  # empties it
    assert sandbox.control("GET", "whitelist", params={"appid": APPID})["openids"] == []


def test_a_defined_user_gives_its_username_its_openid(sandbox, api, new_card):
    sandbox.control(
        "POST", "users", json={"appid": APPID, "openid": "o_eddy", "username": "eddy"}
    )
    assert api.post("card/testwhitelist/set", {"username": ["eddy"]}) == OK
    assert sandbox.control("GET", "whitelist", params={"appid": APPID})["openids"] == [
        "o_eddy"
    ]


# --- SDKs, unchanged ------------------------------------------------------------------
def test_wechatpy_create_qrcode_and_set_test_whitelist(sandbox, api, new_card):
    from wechatpy import WeChatClient

    from sandbox.tests.helpers import WeChatHostSession

    card_id = new_card(stock=3)
    client = WeChatClient(APPID, SECRET)
    client._http = WeChatHostSession(sandbox.base_url)
    ticket = client.card.create_qrcode(
        {
            "action_name": "QR_CARD",
            "expire_seconds": 1800,
            "action_info": {
                "card": {
                    "card_id": card_id,
                    "is_unique_code": False,
                    "outer_str": "12b",
                }
            },
        }
    )
    assert scan(sandbox, ticket, "o_sdk").status_code == 200
    assert pushes("user_get_card")[-1]["OuterStr"] == "12b"
    assert (
        client.card.set_test_whitelist(openids=["o_a"], usernames=["afdvvf"])["errcode"]
        == 0
    )
    assert sandbox.control("GET", "whitelist", params={"appid": APPID})["username"] == [
        "afdvvf"
    ]


def test_the_portals_client_makes_qr_codes_and_whitelists(sandbox, api, new_card):
    from wechat import errors

    card_id = new_card(stock=3)
    client = sandbox.client(APPID, SECRET)
    qr = client.card.qrcode_create(
        card_id, expire_seconds=600, outer_id=5, outer_str="A"
    )
    assert qr.expire_seconds == 600 and qr.url and qr.show_qrcode_url and qr.ticket
    assert scan(sandbox, qr.ticket, "o_client").status_code == 200
    event = pushes("user_get_card")[-1]
    assert (event["OuterId"], event["OuterStr"]) == ("5", "A")
    forever = client.card.qrcode_create(card_id)
    assert forever.expire_seconds is None
    with pytest.raises(errors.WeChatError) as bad:
        client.card.qrcode_create(card_id, expire_seconds=59)
    assert bad.value.errcode == 40071
    client.card.testwhitelist_set(openids=["o_x"], usernames=["eddy"])
    assert sandbox.control("GET", "whitelist", params={"appid": APPID})["openid"] == [
        "o_x"
    ]
    with pytest.raises(errors.WeChatError) as many:
        client.card.testwhitelist_set(openids=[f"o_{i}" for i in range(11)])
    assert many.value.errcode == 40053
