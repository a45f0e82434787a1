"""WeChat users and codes: receiving, card/code/get, decrypt, mark, consume,
unavailable, the pushes, the consume-share gift, faults, the control API and the
console's WeChat-user panel — over real HTTP against the live sandbox (SPEC §6, §7).

Expected answers come from SPEC and the seeds (seed 000 "线上核销", seed 002), never
from the sandbox's own code.
"""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests

from sandbox.tests.helpers import (
    SECRET,
    CodeApi,
    pushes,
    receive,
    refused,
)

APPID = "wx000000005a0dc0de"
OTHER_APPID = "wx000000005a0dc0df"
OK = {"errcode": 0, "errmsg": "ok"}
DAY = 86400


# --- helpers ---------------------------------------------------------------------
# --- receiving (SPEC §6) -----------------------------------------------------------
def test_a_receive_issues_a_12_digit_code_takes_stock_and_pushes_user_get_card(
    sandbox, api, new_card
):
    card_id = new_card(stock=5)
    got = receive(sandbox, card_id, "o_alice", outer_id=12, outer_str="window")
    assert set(got) == {"card_id", "code", "encrypt_code", "openid"}
    assert got["card_id"] == card_id and got["openid"] == "o_alice"
    assert re.fullmatch(r"[1-9][0-9]{11}", got["code"])
    assert got["encrypt_code"] and got["encrypt_code"] != got["code"]
    assert api.quantity(card_id) == 4

    [event] = pushes("user_get_card")
    assert event["FromUserName"] == "o_alice"
    assert event["CardId"] == card_id
    assert event["UserCardCode"] == got["code"]
    assert event["IsGiveByFriend"] == "0" and event["FriendUserName"] == ""
    assert event["OuterId"] == "12" and event["OuterStr"] == "window"
    assert event["SourceScene"]
    # delivered, signed, to the account's callback before the answer
    from sandbox.models import Push

    assert Push.objects.get(event="user_get_card").status == "delivered"


def test_codes_are_unique_and_each_receive_takes_one_unit(sandbox, api, new_card):
    card_id = new_card(stock=30)
    seen = {
        receive(sandbox, card_id, f"o_user_{i}")["code"] for i in range(25)
    }  # get_limit 3 each: 25 users
    assert len(seen) == 25
    assert api.quantity(card_id) == 5


def test_a_friend_receive_says_so(sandbox, api, new_card):
    card_id = new_card(stock=2)
    receive(sandbox, card_id, "o_bob", friend_openid="o_alice")
    [event] = pushes("user_get_card")
    assert event["IsGiveByFriend"] == "1" and event["FriendUserName"] == "o_alice"


def test_receive_refusals(sandbox, api, new_card):
    in_review = new_card(approve=False)
    response = refused(sandbox, in_review, "o_alice")
    assert response.json()["errcode"] == 40078
    assert "not approved" in response.json()["errmsg"]

    no_stock = new_card(stock=0)
    assert refused(sandbox, no_stock, "o_alice").json()["errcode"] == 45031

    limited = new_card(stock=10)  # get_limit 3 (the seed's example card)
    for _ in range(3):
        receive(sandbox, limited, "o_alice")
    assert refused(sandbox, limited, "o_alice").json()["errcode"] == 45033
    receive(sandbox, limited, "o_bob")  # the limit is per openid
    assert api.quantity(limited) == 6

    assert refused(sandbox, limited, "not an openid!").json()["errcode"] == 40003
    missing = requests.post(
        sandbox.base_url + "control/cards/pNoSuchCard/receive",
        json={"openid": "o_alice"},
        timeout=5,
    )
    assert missing.status_code == 404 and missing.json()["errcode"] == 40073
    bad = requests.post(
        sandbox.base_url + f"control/cards/{limited}/receive",
        json={"openid": "o_carol", "outer_id": -1},
        timeout=5,
    )
    assert bad.status_code == 400 and bad.json()["errcode"] == 40071
    assert len(pushes("user_get_card")) == 4  # refusals push nothing


def test_a_card_is_received_only_from_5_days_before_it_begins(sandbox, api, new_card):
    begin = int(time.time()) + 10 * DAY
    card_id = new_card(stock=3, begin=begin)
    early = refused(sandbox, card_id, "o_alice").json()
    assert early["errcode"] == 40079
    assert (
        time.strftime("%Y-%m-%d", time.gmtime(begin + 8 * 3600 - 5 * DAY))
        in (early["errmsg"])
    )
    sandbox.advance(5 * DAY + 120)
    assert receive(sandbox, card_id, "o_alice")["code"]


def test_a_card_that_ended_is_not_received(sandbox, api, new_card):
    card_id = new_card(stock=3, days=2)
    sandbox.advance(3 * DAY)
    assert refused(sandbox, card_id, "o_alice").json()["errcode"] == 40079


def test_receives_never_oversell_the_stock(sandbox, api, new_card):
    card_id = new_card(stock=5)
    results, barrier = [], threading.Barrier(8)

    def one(i):
        barrier.wait()
        response = requests.post(
            sandbox.base_url + f"control/cards/{card_id}/receive",
            json={"openid": f"o_rush_{i}"},
            timeout=30,
        )
        results.append(response.status_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [200] * 5 + [400] * 3
    assert api.quantity(card_id) == 0


# --- card/code/get -----------------------------------------------------------------
def test_code_get_answers_the_seeds_shape(sandbox, api, new_card):
    card_id = new_card()
    got = receive(sandbox, card_id, "o_alice")
    data = api.code(got["code"], check_consume=True, card_id=card_id)
    begin = api.post("card/get", {"card_id": card_id})["card"]["cash"]["base_info"][
        "date_info"
    ]
    assert data == {
        **OK,
        "card": {
            "card_id": card_id,
            "begin_time": begin["begin_timestamp"],
            "end_time": begin["end_timestamp"],
        },
        "openid": "o_alice",
        "can_consume": True,
        "user_card_status": "NORMAL",
        "mark_openid": "",
        "use_count": 0,
    }


def test_code_get_of_unknown_and_abnormal_codes(sandbox, api, new_card):
    card_id, other_card = new_card(), new_card()
    got = receive(sandbox, card_id, "o_alice")
    for check in (True, False, None):
        assert api.code("999999999999", check_consume=check)["errcode"] == 40056
    assert api.code(got["code"], card_id=other_card)["errcode"] == 40056
    assert api.post("card/code/get", {})["errcode"] == 40056

    assert api.consume(got["code"])["errcode"] == 0
    assert api.code(got["code"])["errcode"] == 40127  # check_consume defaults to true
    assert api.code(got["code"], check_consume=True)["errcode"] == 40127
    loose = api.code(got["code"], check_consume=False)
    assert loose["errcode"] == 0
    assert loose["can_consume"] is False and loose["user_card_status"] == "CONSUMED"


def test_a_code_of_another_account_is_unknown(sandbox, api, new_card):
    got = receive(sandbox, new_card(), "o_alice")
    sandbox.account(OTHER_APPID, SECRET)
    other = CodeApi(sandbox, OTHER_APPID)
    assert other.code(got["code"], check_consume=False)["errcode"] == 40056
    assert other.consume(got["code"])["errcode"] == 40056
    assert (
        other.post("card/code/decrypt", {"encrypt_code": got["encrypt_code"]})[
            "errcode"
        ]
        == 40075
    )
    assert api.code(got["code"])["user_card_status"] == "NORMAL"


def test_an_expired_code_is_expire(sandbox, api, new_card):
    got = receive(sandbox, new_card(days=2), "o_alice")
    sandbox.advance(3 * DAY)
    api = api.__class__(sandbox, APPID)  # the token died with the clock jump
    loose = api.code(got["code"], check_consume=False)
    assert loose["user_card_status"] == "EXPIRE" and loose["can_consume"] is False
    assert api.code(got["code"])["errcode"] == 40127
    assert api.consume(got["code"])["errcode"] == 40079


def test_a_code_not_valid_yet_cannot_be_consumed(sandbox, api, new_card):
    card_id = new_card(begin=int(time.time()) + 2 * DAY)
    got = receive(sandbox, card_id, "o_alice")  # within the 5 days before
    loose = api.code(got["code"], check_consume=False)
    assert loose["user_card_status"] == "NORMAL" and loose["can_consume"] is False
    assert api.consume(got["code"])["errcode"] == 40079
    assert api.mark(got["code"], "o_alice")["errcode"] == 40079


# --- card/code/decrypt -------------------------------------------------------------
def test_decrypt_takes_the_encrypt_code_exactly_once_decoded(sandbox, api, new_card):
    card_id = new_card(stock=40)
    with_plus = None
    for i in range(30):  # most encrypt_codes hold a "+" (base64)
        got = receive(sandbox, card_id, f"o_plus_{i}")
        assert got["encrypt_code"].endswith("=")
        if "+" in got["encrypt_code"]:
            with_plus = got
            break
    assert with_plus, "no encrypt_code with a '+' in 30 receives"
    encrypted = with_plus["encrypt_code"]
    data = api.post("card/code/decrypt", {"encrypt_code": encrypted})
    assert data == {**OK, "code": with_plus["code"]}
    # still percent-encoded (not decoded), or decoded twice ("+" became " "): 40075
    from urllib.parse import quote

    for wrong in (quote(encrypted, safe=""), encrypted.replace("+", " "), "", "x"):
        answer = api.post("card/code/decrypt", {"encrypt_code": wrong})
        assert answer["errcode"] == 40075, wrong
    assert api.post("card/code/decrypt", {})["errcode"] == 40075


# --- card/code/mark (seed 000 "Mark(占用)Code接口") -------------------------------
def test_mark_rules_and_its_five_minutes_of_sandbox_time(sandbox, api, new_card):
    card_id = new_card()
    code = receive(sandbox, card_id, "o_alice")["code"]
    assert api.mark(code, "o_bob", card_id=card_id) == OK
    assert api.mark(code, "o_bob") == OK  # the same openid again: ok
    assert api.code(code)["mark_openid"] == "o_bob"
    assert api.mark(code, "o_carol")["errcode"] == 40146
    assert api.mark(code, "o_carol", is_mark=False)["errcode"] == 40416
    assert api.post("card/code/mark", {"code": code})["errcode"] == 40003
    # is_mark absent means true
    assert api.post("card/code/mark", {"code": code, "openid": "o_bob"}) == OK

    sandbox.advance(299)
    assert api.mark(code, "o_carol")["errcode"] == 40146
    sandbox.advance(2)  # 5 minutes after the last mark: released by itself
    assert api.code(code)["mark_openid"] == ""
    assert api.mark(code, "o_carol") == OK
    assert api.mark(code, "o_carol", is_mark=False) == OK
    assert api.code(code)["mark_openid"] == ""
    assert api.mark(code, "o_bob") == OK


def test_mark_refuses_codes_that_cannot_be_used(sandbox, api, new_card):
    card_id = new_card()
    consumed = receive(sandbox, card_id, "o_alice")["code"]
    api.consume(consumed)
    assert api.mark(consumed, "o_alice")["errcode"] == 40099
    assert api.mark("123412341234", "o_alice")["errcode"] == 40056
    gone = receive(sandbox, card_id, "o_alice")["code"]
    assert api.post("card/code/unavailable", {"code": gone}) == OK
    assert api.mark(gone, "o_alice")["errcode"] == 40127


# --- card/code/consume ---------------------------------------------------------------
def test_online_consume_needs_the_consumers_mark(sandbox, api, new_card):
    card_id = new_card(consume_share_self_num=0)
    code = receive(sandbox, card_id, "o_alice")["code"]
    assert api.consume(code, openid="o_bob")["errcode"] == 40003  # not marked
    assert api.mark(code, "o_bob") == OK
    assert api.consume(code, openid="o_alice")["errcode"] == 40003  # bob's mark
    sandbox.advance(301)
    assert api.consume(code, openid="o_bob")["errcode"] == 40003  # mark ran out
    assert api.mark(code, "o_bob") == OK
    answer = api.consume(code, openid="o_bob")
    assert answer == {**OK, "card": {"card_id": card_id}, "openid": "o_alice"}
    assert api.consume(code, openid="o_bob")["errcode"] == 40099
    assert api.consume(code)["errcode"] == 40099

    [event] = pushes("user_consume_card")
    assert event["FromUserName"] == "o_bob"  # who consumed: the friend
    assert event["CardId"] == card_id and event["UserCardCode"] == code
    assert event["ConsumeSource"] == "FROM_API"
    assert "LocationId" not in event
    loose = api.code(code, check_consume=False)
    assert loose["user_card_status"] == "CONSUMED" and loose["mark_openid"] == ""


def test_offline_consume_ignores_marks_and_names_the_owner(sandbox, api, new_card):
    card_id = new_card(consume_share_self_num=0)
    code = receive(sandbox, card_id, "o_alice")["code"]
    api.mark(code, "o_bob")
    assert api.consume(code, location_id=272981040, card_id=card_id)["errcode"] == 0
    [event] = pushes("user_consume_card")
    assert event["FromUserName"] == "o_alice"
    assert event["LocationId"] == "272981040"
    assert api.consume("000000000000")["errcode"] == 40056
    assert api.post("card/code/consume", {})["errcode"] == 40056


def test_unavailable_is_irreversible(sandbox, api, new_card):
    card_id = new_card()
    code = receive(sandbox, card_id, "o_alice")["code"]
    assert api.post("card/code/unavailable", {"code": code, "reason": "退款"}) == OK
    assert api.code(code, check_consume=False)["user_card_status"] == "UNAVAILABLE"
    assert api.code(code)["errcode"] == 40127
    assert api.consume(code)["errcode"] == 40127
    assert api.post("card/code/unavailable", {"code": code})["errcode"] == 40127
    consumed = receive(sandbox, card_id, "o_alice")["code"]
    api.consume(consumed)
    assert api.post("card/code/unavailable", {"code": consumed})["errcode"] == 40099


def test_a_code_being_given_or_deleted_by_its_user(sandbox, api, new_card):
    card_id = new_card()
    code = receive(sandbox, card_id, "o_alice")["code"]
    sandbox.control("POST", f"codes/{code}/status", json={"status": "GIFTING"})
    assert api.consume(code)["errcode"] == 40078
    sandbox.control("POST", f"codes/{code}/status", json={"status": "DELETE"})
    assert api.consume(code)["errcode"] == 40127
    [deleted] = pushes("user_del_card")
    assert deleted["UserCardCode"] == code and deleted["FromUserName"] == "o_alice"


def test_two_concurrent_consumes_of_one_code_succeed_once(sandbox, api, new_card):
    card_id = new_card(consume_share_self_num=0)
    code = receive(sandbox, card_id, "o_alice")["code"]
    answers, barrier = [], threading.Barrier(6)

    def consume():
        barrier.wait()
        answers.append(api.consume(code)["errcode"])

    threads = [threading.Thread(target=consume) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == [0, 40099, 40099, 40099, 40099, 40099]
    assert len(pushes("user_consume_card")) == 1


def test_a_consume_whose_answer_times_out_still_happens(sandbox, api, new_card):
    card_id = new_card(consume_share_self_num=0)
    code = receive(sandbox, card_id, "o_alice")["code"]
    sandbox.fault(
        "timeout", appid=APPID, path="card/code/consume", latency_ms=1500, remaining=1
    )
    with pytest.raises(requests.Timeout):
        requests.post(
            sandbox.base_url + "card/code/consume",
            params={"access_token": api.token},
            json={"code": code},
            timeout=0.5,
        )
    # The answer is lost; the effect is not (settled by reading, SPEC §7).
    assert sandbox.wait_calls("card/code/consume", APPID, 1, timeout=10) == 1
    assert api.code(code, check_consume=False)["user_card_status"] == "CONSUMED"
    assert api.consume(code)["errcode"] == 40099


@pytest.mark.parametrize(
    "path", ["card/code/get", "card/code/consume", "card/code/mark"]
)
def test_faults_apply_to_the_code_apis(sandbox, api, new_card, path):
    card_id = new_card(consume_share_self_num=0)
    code = receive(sandbox, card_id, "o_alice")["code"]
    body = (
        {"code": code, "openid": "o_alice"} if path.endswith("mark") else {"code": code}
    )
    sandbox.fault("errcode_-1", appid=APPID, path=path, remaining=1)
    assert api.post(path, body)["errcode"] == -1
    sandbox.fault("http_500", appid=APPID, path=path, remaining=1)
    response = requests.post(
        sandbox.base_url + path,
        params={"access_token": api.token},
        json=body,
        timeout=5,
    )
    assert response.status_code == 500
    # Neither fault did anything: the code is as it was.
    assert api.code(code)["user_card_status"] == "NORMAL"
    assert api.code(code)["mark_openid"] == ""
    assert api.post(path, body)["errcode"] == 0


def test_code_apis_need_a_live_token(sandbox, api, new_card):
    code = receive(sandbox, new_card(), "o_alice")["code"]
    response = requests.post(
        sandbox.base_url + "card/code/consume",
        params={"access_token": "nope"},
        json={"code": code},
        timeout=5,
    ).json()
    assert response["errcode"] == 40001
    sandbox.fault("token_expired", appid=APPID, path="card/code/consume", remaining=1)
    assert api.consume(code)["errcode"] == 42001
    assert api.code(code)["errcode"] in (40001, 42001)  # the account's tokens died
    assert CodeApi(sandbox, APPID).code(code)["user_card_status"] == "NORMAL"


# --- the consume-share gift (SPEC §7) -------------------------------------------------
def test_the_consumer_receives_the_gift_of_the_same_card(sandbox, api, new_card):
    card_id = new_card(stock=2)  # consume_share_self_num 1 (the seed's card)
    code = receive(sandbox, card_id, "o_alice")["code"]
    assert api.mark(code, "o_bob") == OK
    assert api.consume(code, openid="o_bob")["errcode"] == 0
    gifts = sandbox.control("GET", "codes", params={"openid": "o_bob"})["codes"]
    assert len(gifts) == 1
    gift = gifts[0]
    assert gift["card_id"] == card_id and gift["status"] == "NORMAL"
    assert gift["outer_str"] == "consume_share" and gift["gift_of"] == code
    assert api.quantity(card_id) == 0
    received = pushes("user_get_card")
    assert received[-1]["FromUserName"] == "o_bob"
    assert received[-1]["UserCardCode"] == gift["code"]
    assert received[-1]["OuterStr"] == "consume_share"

    # no stock left: the next consume gives nothing
    assert api.consume(gift["code"])["errcode"] == 0
    assert (
        len(sandbox.control("GET", "codes", params={"card_id": card_id})["codes"]) == 2
    )


def test_the_gift_can_be_another_card(sandbox, api, new_card):
    other = new_card(stock=1, consume_share_self_num=0)
    card_id = new_card(
        stock=1,
        consume_share_self_num=0,
        consume_share_card_list=[{"card_id": other, "num": 1}],
    )
    code = receive(sandbox, card_id, "o_alice")["code"]
    assert api.consume(code)["errcode"] == 0  # offline: the owner consumed
    [gift] = sandbox.control("GET", "codes", params={"card_id": other})["codes"]
    assert gift["openid"] == "o_alice" and gift["outer_str"] == "consume_share"


# --- control API and console ------------------------------------------------------
def test_the_control_api_lists_codes_and_gives_the_coupon_link(sandbox, api, new_card):
    card_id = new_card(
        center_url="https://shop.example.com/use?from=wallet#top", stock=20
    )
    got = [receive(sandbox, card_id, f"o_link_{i}") for i in range(12)]
    listed = sandbox.control(
        "GET", "codes", params={"appid": APPID, "card_id": card_id}
    )["codes"]
    assert [c["code"] for c in listed] == [g["code"] for g in got]
    assert set(listed[0]) >= {
        "code",
        "card_id",
        "openid",
        "status",
        "mark_openid",
        "encrypt_code",
    }
    mine = sandbox.control("GET", "codes", params={"openid": "o_link_3"})["codes"]
    assert [c["code"] for c in mine] == [got[3]["code"]]

    for item in got:
        link = sandbox.control(
            "GET",
            "users/o_friend/coupon-link",
            params={"code": item["code"]},
        )["url"]
        parts = urlsplit(link)
        assert (parts.scheme, parts.netloc, parts.path, parts.fragment) == (
            "https",
            "shop.example.com",
            "/use",
            "top",
        )
        raw = dict(pair.split("=", 1) for pair in parts.query.split("&"))
        assert raw["from"] == "wallet" and raw["card_id"] == card_id
        assert raw["openid"] == "o_friend"
        assert not set("+/=") & set(raw["encrypt_code"])  # percent-encoded
        assert unquote(raw["encrypt_code"]) == item["encrypt_code"]  # once
        assert parse_qs(parts.query)["encrypt_code"] == [item["encrypt_code"]]
        decrypted = api.post(
            "card/code/decrypt", {"encrypt_code": item["encrypt_code"]}
        )
        assert decrypted["code"] == item["code"]


def test_a_consume_from_elsewhere_is_pushed_with_its_source(sandbox, api, new_card):
    card_id = new_card(consume_share_self_num=0)
    first = receive(sandbox, card_id, "o_alice")["code"]
    second = receive(sandbox, card_id, "o_bob")["code"]
    done = sandbox.control("POST", f"codes/{first}/consume", json={"source": "FROM_MP"})
    assert done["status"] == "CONSUMED" and done["consume_source"] == "FROM_MP"
    sandbox.control(
        "POST",
        f"codes/{second}/consume",
        json={
            "source": "FROM_MOBILE_HELPER",
            "staff_openid": "o_staff_1",
            "location_id": 400183234,
        },
    )
    mp, helper = pushes("user_consume_card")
    assert mp["ConsumeSource"] == "FROM_MP" and mp["FromUserName"] == "o_alice"
    assert helper["ConsumeSource"] == "FROM_MOBILE_HELPER"
    assert helper["StaffOpenId"] == "o_staff_1" and helper["LocationId"] == "400183234"
    assert api.consume(first)["errcode"] == 40099

    again = requests.post(
        sandbox.base_url + f"control/codes/{first}/consume",
        json={"source": "FROM_MP"},
        timeout=5,
    )
    assert again.status_code == 400 and again.json()["errcode"] == 40099
    third = receive(sandbox, card_id, "o_carol")["code"]
    bad = requests.post(
        sandbox.base_url + f"control/codes/{third}/consume",
        json={"source": "FROM_API"},
        timeout=5,
    )
    assert bad.status_code == 400 and "FROM_MP" in bad.json()["error"]


def test_the_control_api_refuses_cross_origin_requests(sandbox, api):
    response = requests.get(
        sandbox.base_url + "control/codes",
        headers={"Origin": "http://evil.example"},
        timeout=5,
    )
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers


def test_the_console_wallet_shows_codes_per_code_type(sandbox, api, new_card, client):
    from sandbox.barcodes import code128_widths

    text = new_card(code_type="CODE_TYPE_TEXT")
    qr = new_card(code_type="CODE_TYPE_QRCODE")
    bar = new_card(code_type="CODE_TYPE_BARCODE")
    codes = {
        kind: receive(sandbox, card_id, "o_wallet")["code"]
        for kind, card_id in (("text", text), ("qr", qr), ("bar", bar))
    }
    page = requests.get(
        sandbox.base_url + "console/user",
        params={"appid": APPID, "openid": "o_wallet"},
        timeout=10,
    ).text
    articles = dict(
        re.findall(
            r'<article class="coupon[^"]*" data-code="(\d+)"(.*?)</article>', page, re.S
        )
    )
    assert set(articles) == set(codes.values())
    assert "<svg" not in articles[codes["text"]]
    assert codes["text"] in articles[codes["text"]]
    assert "<svg" in articles[codes["qr"]] and "barcode" not in articles[codes["qr"]]
    bar_html = articles[codes["bar"]]
    assert f'data-code128="{codes["bar"]}"' in bar_html
    # Code 128 set C of 12 digits: start, 6 symbols, check, stop = 101 modules;
    # 3 bars per symbol and 4 in the stop pattern.
    assert sum(int(w) for w in code128_widths(codes["bar"])) == 101
    assert bar_html.count("<rect") == 1 + 8 * 3 + 4
    assert "http://www.qq.com?card_id=" in page.replace("&amp;", "&")


def test_the_console_receives_a_card_for_a_typed_openid(sandbox, api, new_card):
    card_id = new_card(stock=3)
    browser = requests.Session()
    page = browser.get(
        sandbox.base_url + "console/user",
        params={"appid": APPID, "openid": "o_typed"},
        timeout=10,
    )
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    done = browser.post(
        sandbox.base_url + "console/user/receive",
        data={
            "csrfmiddlewaretoken": token,
            "appid": APPID,
            "openid": "o_typed",
            "card_id": card_id,
            "outer_id": "7",
            "outer_str": "console",
        },
        headers={"Referer": sandbox.base_url + "console/user"},
        timeout=10,
    )
    assert done.status_code == 200
    [code] = sandbox.control("GET", "codes", params={"openid": "o_typed"})["codes"]
    assert code["outer_id"] == 7 and code["outer_str"] == "console"
    assert code["code"] in done.text
    assert "o_typed" in requests.get(sandbox.base_url + "console/", timeout=10).text


# --- an existing SDK, unchanged ---------------------------------------------------
def test_wechatpy_code_apis_work_unchanged(sandbox, api, new_card):
    from wechatpy import WeChatClient
    from wechatpy.exceptions import WeChatClientException

    from sandbox.tests.helpers import WeChatHostSession

    card_id = new_card(consume_share_self_num=0)
    got = receive(sandbox, card_id, "o_alice")
    client = WeChatClient(APPID, SECRET)
    client._http = WeChatHostSession(sandbox.base_url)

    assert client.card.decrypt_code(got["encrypt_code"]) == got["code"]
    info = client.card.get_code(got["code"], card_id=card_id)
    assert info["user_card_status"] == "NORMAL" and info["can_consume"] is True
    # wechatpy 1.8 has no mark_code: its generic POST, unchanged
    assert (
        client.card._post(
            "card/code/mark",
            data={
                "code": got["code"],
                "card_id": card_id,
                "openid": "o_bob",
                "is_mark": True,
            },
        )["errcode"]
        == 0
    )
    consumed = client.card.consume_code(got["code"])
    assert consumed["card"]["card_id"] == card_id
    with pytest.raises(WeChatClientException) as again:
        client.card.consume_code(got["code"])
    assert again.value.errcode == 40099
    assert (
        client.card.get_code(got["code"], check_consume=False)["user_card_status"]
        == "CONSUMED"
    )
    other = receive(sandbox, card_id, "o_alice")["code"]
    assert client.card.invalid_code(other)["errcode"] == 0
    with pytest.raises(WeChatClientException) as gone:
        client.card.get_code(other)
    assert gone.value.errcode == 40127
