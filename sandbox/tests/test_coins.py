"""card/pay/…: coins and stock, recharges and their payment, card_pay_order events and
the T+1 refund, over real HTTP against the live sandbox (SPEC §5, §3.6, §10)."""

from __future__ import annotations

import base64
import io
import re
import threading
import time

import pytest
import requests

from sandbox.tests.helpers import DAY, SECRET, Api, Callback, cash_card
from wechat import xmlutil

APPID = "wx000000005a0dc01a"
OTHER_APPID = "wx000000005a0dc01b"
OK = {"errcode": 0, "errmsg": "ok"}


# --- helpers ---------------------------------------------------------------------
class CoinApi(Api):
    """WeChat's API of one account as raw HTTP, with the raw answer text kept
    (coin amounts must be exact JSON numbers, not just equal floats)."""

    def get(self, path: str) -> dict:  # card/pay/activate and getcoinsinfo are GETs
        response = requests.get(
            self.sandbox.base_url + path,
            params={"access_token": self.token},
            timeout=10,
        )
        self.last_text = response.text
        return response.json()

    def post(self, path: str, body) -> dict:
        response = requests.post(
            self.sandbox.base_url + path,
            params={"access_token": self.token},
            json=body,
            timeout=10,
        )
        self.last_text = response.text
        return response.json()

    def card(self, card_id: str) -> dict:
        data = self.post("card/get", {"card_id": card_id})
        assert data["errcode"] == 0, data
        return data["card"]["cash"]["base_info"]

    def quote(self, card_id: str, quantity) -> dict:
        data = self.post(
            "card/pay/getpayprice", {"card_id": card_id, "quantity": quantity}
        )
        assert data["errcode"] == 0, data
        return data

    def confirm(self, card_id: str, quote: dict, quantity) -> dict:
        body = {"card_id": card_id, "order_id": quote["order_id"], "quantity": quantity}
        return self.post("card/pay/confirm", body)

    def buy(self, card_id: str, quantity: int) -> dict:
        quote = self.quote(card_id, quantity)
        assert self.confirm(card_id, quote, quantity) == OK
        return quote

    def balance(self) -> dict:
        data = self.get("card/pay/getcoinsinfo")
        assert data["errcode"] == 0, data
        return data

    def order(self, order_id: str) -> dict:
        data = self.post("card/pay/getorder", {"order_id": order_id})
        assert data["errcode"] == 0, data
        return data["order_info"]

    def orders(self, **body) -> dict:
        data = self.post("card/pay/getorderlist", body)
        assert data["errcode"] == 0, data
        return data

    def recharge(self, coin_count: int) -> dict:
        data = self.post("card/pay/recharge", {"coin_count": coin_count})
        assert data["errcode"] == 0, data
        return data

    def refresh(self) -> CoinApi:
        """A new token (after moving sandbox time past the 7200 s of the last)."""
        return CoinApi(self.sandbox, self.appid)


def with_conditions(images: list[str], use_condition: dict, **dates) -> dict:
    card = cash_card(images, **dates)
    card["cash"]["advanced_info"]["use_condition"] = use_condition
    return card


CARD_06 = {"least_cost": 50000, "can_use_with_other_discount": True}
CARD_02 = {"can_use_with_other_discount": True}


def pay(sandbox, order_id: str, success: bool = True) -> dict:
    return sandbox.control(
        "POST", f"recharges/{order_id}/pay", json={"success": success}
    )


def pushes() -> list[dict]:
    """The card_pay_order events pushed, oldest first, as field dicts."""
    from sandbox.models import Push

    rows = Push.objects.filter(event="card_pay_order").order_by("created_at", "id")
    return [xmlutil.parse(row.xml) for row in rows]


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while not (result := predicate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


def pushes_settled() -> bool:
    """True once no push is still being delivered by a background thread."""
    from sandbox.models import Push

    return wait_for(lambda: not Push.objects.filter(status="pending").exists())


@pytest.fixture
def callback():
    server = Callback()
    yield server
    # Events are delivered in background threads: let them finish before the
    # test's rows are flushed under them.
    pushes_settled()
    server.close()


@pytest.fixture
def api(sandbox, callback) -> CoinApi:
    sandbox.account(APPID, SECRET, callback_url=callback.url, auto_review_seconds=0)
    return CoinApi(sandbox, APPID)


@pytest.fixture
def images(api) -> list[str]:
    return [api.upload(color) for color in ("red", "green", "blue")]


@pytest.fixture
def new_card(sandbox, api, images):
    """``new_card(CARD_06)`` → the card_id of an approved card of that unit price."""

    def make(use_condition: dict = CARD_06, approve: bool = True, **dates) -> str:
        card_id = api.create(with_conditions(images, use_condition, **dates))
        if approve:
            sandbox.control("POST", f"cards/{card_id}/review", json={"approve": True})
        return card_id

    return make


@pytest.fixture
def active(api) -> CoinApi:
    assert api.get("card/pay/activate") == {**OK, "reward": 200}
    return api


# --- activate / getcoinsinfo -----------------------------------------------------
def test_activation_rewards_200_free_coins_once(sandbox, api):
    assert sandbox.control("GET", "coins", params={"appid": APPID}) == {
        "activated": False,
        "free_coin": 0,
        "pay_coin": 0,
        "total_coin": 0,
        "recharges_waiting": 0,
    }
    assert api.get("card/pay/activate") == {**OK, "reward": 200}
    assert api.last_text == '{"errcode":0,"errmsg":"ok","reward":200}'
    assert api.get("card/pay/activate") == {**OK, "reward": 0}

    assert api.balance() == {**OK, "free_coin": 200, "pay_coin": 0, "total_coin": 200}
    assert '"free_coin":200,"pay_coin":0,"total_coin":200' in api.last_text
    listed = api.orders()
    assert listed["total_num"] == 1
    [reward] = listed["order_list"]
    assert reward["order_type"] == "ORDER_TYPE_SYS_ADD"
    assert reward["status"] == "ORDER_STATUS_FINANCE_SUCC"
    assert reward["free_coin_count"] == "200" and reward["pay_coin_count"] == "0"
    assert reward["desc"] == "平台赠送"
    assert api.order(reward["order_id"]) == reward
    control = sandbox.control("GET", "coins", params={"appid": APPID})
    assert control["activated"] is True and control["total_coin"] == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "card/pay/getcoinsinfo", None),
        ("POST", "card/pay/getpayprice", {"card_id": "pX", "quantity": 1}),
        ("POST", "card/pay/confirm", {"card_id": "pX", "order_id": "x", "quantity": 1}),
        ("POST", "card/pay/recharge", {"coin_count": 100}),
        ("POST", "card/pay/getorder", {"order_id": "1"}),
        ("POST", "card/pay/getorderlist", {}),
    ],
)
def test_coin_apis_need_an_activated_account(api, method, path, body):
    data = api.get(path) if method == "GET" else api.post(path, body)
    assert data["errcode"] == 43008 and "coin" in data["errmsg"]


# --- getpayprice -----------------------------------------------------------------
def test_quotes_are_exact_and_spend_free_coins_first(sandbox, active, new_card, images):
    api = active
    # SPEC §3.4: least_cost 0.6 coins a unit; can_use_with_other_discount alone 0.2.
    card_06, card_02 = new_card(CARD_06), new_card(CARD_02)

    quote = api.quote(card_06, 3)
    assert set(quote) == {
        "errcode",
        "errmsg",
        "order_id",
        "price",
        "free_coin",
        "pay_coin",
    }
    assert (quote["price"], quote["free_coin"], quote["pay_coin"]) == (
        "1.8",
        "1.8",
        "0",
    )
    assert len(quote["order_id"]) > 100
    assert api.quote(card_02, "1")["price"] == "0.2"  # a digit string is a number
    card_04 = new_card({"reject_category": "蛋糕"})  # a category: 0.4
    assert api.quote(card_04, 5)["price"] == "2"
    assert api.quote(card_04, 1)["price"] == "0.4"
    assert api.balance()["free_coin"] == 200  # a quote spends nothing

    api.confirm(card_06, quote, 3)
    assert api.balance() == {
        **OK,
        "free_coin": 198.2,
        "pay_coin": 0,
        "total_coin": 198.2,
    }
    assert '"free_coin":198.2,"pay_coin":0,"total_coin":198.2' in api.last_text

    recharge = api.recharge(10)
    pay(sandbox, recharge["order_id"])
    big = api.quote(card_06, 340)  # 204 coins: 198.2 free, then 5.8 paid
    assert (big["price"], big["free_coin"], big["pay_coin"]) == ("204", "198.2", "5.8")
    assert api.confirm(card_06, big, 340) == OK
    assert api.balance() == {**OK, "free_coin": 0, "pay_coin": 4.2, "total_coin": 4.2}
    assert '"free_coin":0,"pay_coin":4.2,"total_coin":4.2' in api.last_text
    order = api.order(big["order_id"])
    assert (order["free_coin_count"], order["pay_coin_count"]) == ("198.2", "5.8")
    assert api.card(card_06)["sku"] == {"quantity": 343, "total_quantity": 343}


def test_quote_refusals(sandbox, active, new_card):
    api = active
    approved = new_card(CARD_06)
    in_review = new_card(CARD_06, approve=False)
    sandbox.account(OTHER_APPID, SECRET, auto_review_seconds=0)
    other = CoinApi(sandbox, OTHER_APPID)
    other.get("card/pay/activate")

    for card_id in ("pNoSuchCard", "", None):
        data = api.post("card/pay/getpayprice", {"card_id": card_id, "quantity": 1})
        assert data == {"errcode": 40073, "errmsg": "invalid card id"}
    data = other.post("card/pay/getpayprice", {"card_id": approved, "quantity": 1})
    assert data["errcode"] == 40073
    data = api.post("card/pay/getpayprice", {"card_id": in_review, "quantity": 1})
    assert data["errcode"] == 40071 and "status" in data["errmsg"]
    for quantity in (0, -1, "abc", "1.5", 1.5, True, None, 100_000_001):
        body = {"card_id": approved, "quantity": quantity}
        assert api.post("card/pay/getpayprice", body)["errcode"] == 40071, quantity
    assert api.quote(approved, 100_000_000)["price"] == "60000000"


# --- confirm ---------------------------------------------------------------------
def test_a_quote_lives_60_seconds_of_sandbox_time(sandbox, active, new_card):
    api, card_id = active, new_card()
    late = api.quote(card_id, 1)
    sandbox.advance(61)
    assert api.confirm(card_id, late, 1) == {
        "errcode": 40079,
        "errmsg": "order expired",
    }
    just_in_time = api.quote(card_id, 2)
    sandbox.advance(59)
    assert api.confirm(card_id, just_in_time, 2) == OK
    assert api.card(card_id)["sku"] == {"quantity": 2, "total_quantity": 2}
    # An expired quote was never an order.
    assert api.post("card/pay/getorder", {"order_id": late["order_id"]}) == {
        "errcode": 40071,
        "errmsg": "invalid order_id",
    }


def test_a_quote_confirms_once_into_a_reduce_order(active, new_card):
    api, card_id = active, new_card()
    quote = api.quote(card_id, 3)
    assert (
        api.post("card/pay/getorder", {"order_id": quote["order_id"]})["errcode"]
        == 40071
    )
    assert api.confirm(card_id, quote, 3) == OK
    assert api.confirm(card_id, quote, 3) == {
        "errcode": 40099,
        "errmsg": "order has been used",
    }
    assert api.card(card_id)["sku"] == {"quantity": 3, "total_quantity": 3}
    order = api.order(quote["order_id"])
    assert order["order_type"] == "ORDER_TYPE_REDUCE"
    assert order["status"] == "ORDER_STATUS_QUANTITY_SUCC"
    assert order["free_coin_count"] == "1.8" and order["pay_coin_count"] == "0"
    assert order["desc"] == "券点兑换库存"
    assert api.balance()["free_coin"] == 198.2


def test_confirm_must_name_the_quotes_card_and_quantity(active, new_card):
    api, card_id, other_card = active, new_card(), new_card()
    quote = api.quote(card_id, 5)
    assert api.confirm(other_card, quote, 5)["errcode"] == 40071
    assert api.confirm(card_id, quote, 6)["errcode"] == 40071
    assert api.confirm(card_id, quote, "x")["errcode"] == 40071
    unknown = api.confirm(card_id, {"order_id": "not-a-quote"}, 5)
    assert unknown == {"errcode": 40071, "errmsg": "invalid order_id"}
    assert api.card(card_id)["sku"]["quantity"] == 0
    assert api.confirm(card_id, quote, "5") == OK  # the refusals did not use it


def test_two_concurrent_confirms_of_one_quote_add_stock_once(active, new_card):
    from sandbox.models import CoinOrder

    api, card_id = active, new_card()
    quote = api.quote(card_id, 100)  # 60 coins
    barrier = threading.Barrier(4)
    answers = []

    def confirm():
        barrier.wait()
        answers.append(api.confirm(card_id, quote, 100)["errcode"])

    threads = [threading.Thread(target=confirm) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers) == [0, 40099, 40099, 40099]
    assert api.card(card_id)["sku"] == {"quantity": 100, "total_quantity": 100}
    assert api.balance()["free_coin"] == 140
    assert CoinOrder.objects.filter(order_type="ORDER_TYPE_REDUCE").count() == 1


def test_confirm_refuses_when_coins_are_short_then_works_after_a_recharge(
    sandbox, active, new_card
):
    api, card_id = active, new_card()
    quote = api.quote(card_id, 400)  # 240 coins, the balance is 200
    assert (quote["price"], quote["free_coin"], quote["pay_coin"]) == (
        "240",
        "200",
        "40",
    )
    assert api.confirm(card_id, quote, 400) == {
        "errcode": 40202,
        "errmsg": "coin not enough",
    }
    assert api.card(card_id)["sku"]["quantity"] == 0
    assert api.balance()["total_coin"] == 200

    pay(sandbox, api.recharge(40)["order_id"])
    assert api.confirm(card_id, quote, 400) == OK  # still within its 60 s
    assert api.balance() == {**OK, "free_coin": 0, "pay_coin": 0, "total_coin": 0}
    order = api.order(quote["order_id"])
    assert (order["free_coin_count"], order["pay_coin_count"]) == ("200", "40")


def test_a_confirm_whose_answer_times_out_still_happens(sandbox, active, new_card):
    api, card_id = active, new_card()
    quote = api.quote(card_id, 10)
    sandbox.fault(
        "timeout", appid=APPID, path="card/pay/confirm", latency_ms=1500, remaining=1
    )
    with pytest.raises(requests.Timeout):
        requests.post(
            sandbox.base_url + "card/pay/confirm",
            params={"access_token": api.token},
            json={"card_id": card_id, "order_id": quote["order_id"], "quantity": 10},
            timeout=0.5,
        )
    # The answer is lost; the effect is not.
    assert sandbox.wait_calls("card/pay/confirm", APPID, 1, timeout=10) == 1
    order = api.order(quote["order_id"])
    assert order["order_type"] == "ORDER_TYPE_REDUCE"
    assert order["status"] == "ORDER_STATUS_QUANTITY_SUCC"
    assert api.card(card_id)["sku"]["quantity"] == 10
    assert api.confirm(card_id, quote, 10)["errcode"] == 40099


# --- recharge and its payment ----------------------------------------------------
def test_a_recharge_waits_then_is_paid_through_the_control_api(sandbox, active):
    from PIL import Image

    api = active
    recharge = api.recharge(100)
    assert set(recharge) == {
        "errcode",
        "errmsg",
        "order_id",
        "qrcode_url",
        "qrcode_buffer",
    }
    assert re.fullmatch(r"1000057901[0-9]{18}", recharge["order_id"])
    assert recharge["qrcode_url"].startswith("weixin://wxpay/bizpayurl?pr=")
    png = base64.b64decode(recharge["qrcode_buffer"])
    assert png.startswith(b"\x89PNG") and Image.open(io.BytesIO(png)).size[0] > 100

    waiting = api.order(recharge["order_id"])
    assert waiting["status"] == "ORDER_STATUS_WAITING"
    assert waiting["order_type"] == "ORDER_TYPE_WXPAY"
    assert waiting["pay_finish_time"] == 0 and waiting["pay_coin_count"] == "100"
    assert waiting["desc"] == "微信支付充值"
    coins = sandbox.control("GET", "coins", params={"appid": APPID})
    assert coins["recharges_waiting"] == 1

    answer = pay(sandbox, recharge["order_id"])
    assert answer["order_id"] == recharge["order_id"]
    assert answer["status"] == "ORDER_STATUS_FINANCE_SUCC"
    assert answer["push"]["event"] == "card_pay_order"
    paid = api.order(recharge["order_id"])
    assert paid["status"] == "ORDER_STATUS_FINANCE_SUCC"
    assert paid["pay_finish_time"] >= paid["create_time"] > 0
    assert paid["openid"] == "o_sandbox_payer" and paid["pay_coin_count"] == "100"
    assert api.balance() == {**OK, "free_coin": 200, "pay_coin": 100, "total_coin": 300}
    assert sandbox.control("GET", "coins", params={"appid": APPID}) == {
        "activated": True,
        "free_coin": 200,
        "pay_coin": 100,
        "total_coin": 300,
        "recharges_waiting": 0,
    }

    url = sandbox.base_url + f"control/recharges/{recharge['order_id']}/pay"
    assert requests.post(url, json={"success": True}, timeout=5).status_code == 409
    assert requests.post(url, json={"success": "yes"}, timeout=5).status_code == 400
    bad_json = requests.post(
        url, data="{nope", headers={"Content-Type": "application/json"}, timeout=5
    )
    assert bad_json.status_code == 400
    missing = sandbox.base_url + "control/recharges/100005790100000000000000000/pay"
    assert requests.post(missing, json={"success": True}, timeout=5).status_code == 404
    assert api.balance()["pay_coin"] == 100


def test_a_failed_payment_rolls_back_without_coins(sandbox, active):
    api = active
    recharge = api.recharge(50)
    assert pay(sandbox, recharge["order_id"], success=False)["status"] == (
        "ORDER_STATUS_ROLLBACK"
    )
    order = api.order(recharge["order_id"])
    assert order["status"] == "ORDER_STATUS_ROLLBACK" and order["pay_finish_time"] == 0
    assert api.balance()["pay_coin"] == 0
    url = sandbox.base_url + f"control/recharges/{recharge['order_id']}/pay"
    assert requests.post(url, json={"success": True}, timeout=5).status_code == 409


@pytest.mark.parametrize("coin_count", [0, 100_001, "x", 1.5, None, True])
def test_recharge_refuses_bad_coin_counts(active, coin_count):
    data = active.post("card/pay/recharge", {"coin_count": coin_count})
    assert data["errcode"] == 40071


def test_the_payment_page_pays(sandbox, active):
    api = active
    recharge = api.recharge(25)
    token = recharge["qrcode_url"].split("pr=", 1)[1]
    page_url = sandbox.base_url + "pay"
    browser = requests.Session()
    page = browser.get(page_url, params={"pr": token}, timeout=5)
    assert page.status_code == 200
    assert recharge["order_id"] in page.text and "25.00" in page.text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    paid = browser.post(
        sandbox.base_url + "pay/settle",
        data={"csrfmiddlewaretoken": csrf, "pr": token, "decision": "pay"},
        timeout=5,
    )
    assert paid.status_code == 200  # redirected back to the page
    assert 'data-status="ORDER_STATUS_FINANCE_SUCC"' in paid.text
    assert 'value="pay"' not in paid.text
    assert api.order(recharge["order_id"])["status"] == "ORDER_STATUS_FINANCE_SUCC"
    assert api.balance()["pay_coin"] == 25

    # Without the CSRF token the form is refused.
    other = api.recharge(5)
    other_token = other["qrcode_url"].split("pr=", 1)[1]
    refused = requests.post(
        sandbox.base_url + "pay/settle",
        data={"pr": other_token, "decision": "pay"},
        timeout=5,
    )
    assert refused.status_code == 403
    assert api.order(other["order_id"])["status"] == "ORDER_STATUS_WAITING"
    failed = browser.post(
        sandbox.base_url + "pay/settle",
        data={"csrfmiddlewaretoken": csrf, "pr": other_token, "decision": "fail"},
        timeout=5,
    )
    assert 'data-status="ORDER_STATUS_ROLLBACK"' in failed.text
    assert api.order(other["order_id"])["status"] == "ORDER_STATUS_ROLLBACK"
    assert api.balance()["pay_coin"] == 25
    unknown = requests.get(page_url, params={"pr": "nope"}, timeout=5)
    assert unknown.status_code == 404


def test_pay_all_settles_every_waiting_recharge(sandbox, active):
    api = active
    for count in (10, 20, 30):
        api.recharge(count)
    answer = sandbox.control(
        "POST", "recharges/pay-all", json={"appid": APPID, "success": True}
    )
    assert answer == {"paid": 3}
    assert api.balance()["pay_coin"] == 60
    assert (
        sandbox.control("GET", "coins", params={"appid": APPID})["recharges_waiting"]
        == 0
    )
    again = sandbox.control("POST", "recharges/pay-all", json={"appid": APPID})
    assert again == {"paid": 0}
    missing = requests.post(
        sandbox.base_url + "control/recharges/pay-all",
        json={"appid": "wxnobody"},
        timeout=5,
    )
    assert missing.status_code == 404


# --- getorderlist ----------------------------------------------------------------
def test_getorderlist_filters_sorts_and_pages(sandbox, active, new_card):
    api, card_id = active, new_card()
    reward = api.orders()["order_list"][0]["order_id"]
    sandbox.advance(100)
    paid = api.recharge(10)["order_id"]
    pay(sandbox, paid)
    sandbox.advance(100)
    failed = api.recharge(20)["order_id"]
    pay(sandbox, failed, success=False)
    sandbox.advance(100)
    reduce = api.buy(card_id, 1)["order_id"]
    newest_first = [reduce, failed, paid, reward]

    def ids(**body) -> list[str]:
        return [o["order_id"] for o in api.orders(**body)["order_list"]]

    everything = api.orders()
    assert everything["total_num"] == 4
    assert [o["order_id"] for o in everything["order_list"]] == newest_first
    assert everything["order_list"][1] == api.order(failed)
    desc = {"sort_key": "SORT_BY_TIME", "sort_type": "SORT_DESC"}
    assert ids(sort_info=desc) == newest_first
    asc = {"sort_key": "SORT_BY_TIME", "sort_type": "SORT_ASC"}
    assert ids(sort_info=asc) == newest_first[::-1]
    assert ids(order_type="ORDER_TYPE_WXPAY") == [failed, paid]
    assert ids(order_type="ORDER_TYPE_REFUND") == []
    assert ids(nor_filter={"status": "ORDER_STATUS_ROLLBACK"}) == [reduce, paid, reward]
    page = api.orders(offset=1, count=2)
    assert page["total_num"] == 4
    assert [o["order_id"] for o in page["order_list"]] == [failed, paid]

    paid_at = api.order(paid)["create_time"]
    failed_at = api.order(failed)["create_time"]
    assert ids(begin_time=str(paid_at), end_time=str(failed_at)) == [failed, paid]
    assert ids(begin_time=paid_at + 1, end_time=failed_at) == [failed]

    for body in (
        {"count": 0},
        {"count": 51},
        {"offset": -1},
        {"order_type": "ORDER_TYPE_WHATEVER"},
        {"nor_filter": {"status": "ORDER_STATUS_WHATEVER"}},
        {"sort_info": {"sort_key": "SORT_BY_TIME", "sort_type": "UP"}},
        {"begin_time": "yesterday"},
    ):
        assert api.post("card/pay/getorderlist", body)["errcode"] == 40071, body

    # By default only the last 7 days (of sandbox time) are listed.
    sandbox.advance(8 * DAY)
    later = api.refresh()
    assert later.orders()["total_num"] == 0
    assert later.orders(begin_time=0)["total_num"] == 4


# --- card_pay_order events -------------------------------------------------------
def test_every_coin_movement_pushes_card_pay_order(sandbox, active, new_card, callback):
    api, card_id = active, new_card()
    quote = api.buy(card_id, 2)
    paid = api.recharge(30)["order_id"]
    pay(sandbox, paid)
    failed = api.recharge(40)["order_id"]
    pay(sandbox, failed, success=False)

    events = pushes()
    assert [(e["OrderType"], e["Status"]) for e in events] == [
        ("ORDER_TYPE_SYS_ADD", "ORDER_STATUS_FINANCE_SUCC"),
        ("ORDER_TYPE_REDUCE", "ORDER_STATUS_QUANTITY_SUCC"),
        ("ORDER_TYPE_WXPAY", "ORDER_STATUS_FINANCE_SUCC"),
        ("ORDER_TYPE_WXPAY", "ORDER_STATUS_ROLLBACK"),
    ]
    reduce = events[1]
    assert reduce["OrderId"] == quote["order_id"]
    assert reduce["FreeCoinCount"] == "1.2" and reduce["PayCoinCount"] == "0"
    assert reduce["Desc"] == "券点兑换库存"
    assert set(reduce) >= {
        "ToUserName",
        "FromUserName",
        "CreateTime",
        "MsgType",
        "Event",
        "OrderId",
        "Status",
        "CreateOrderTime",
        "PayFinishTime",
        "Desc",
        "FreeCoinCount",
        "PayCoinCount",
        "RefundFreeCoinCount",
        "RefundPayCoinCount",
        "OrderType",
        "Memo",
    }
    recharge = events[2]
    assert recharge["OrderId"] == paid and recharge["PayCoinCount"] == "30"
    assert recharge["FromUserName"] == "o_sandbox_payer"
    assert int(recharge["PayFinishTime"]) >= int(recharge["CreateOrderTime"]) > 0
    assert events[3]["OrderId"] == failed and events[3]["PayFinishTime"] == "0"

    def delivered() -> int:
        bodies = " ".join(r["body"] for r in callback.received)
        return bodies.count("<Event><![CDATA[card_pay_order]]></Event>")

    assert wait_for(lambda: delivered() == 4), callback.received


# --- T+1 refund ------------------------------------------------------------------
def test_expired_stock_is_refunded_the_next_day_exactly_once(sandbox, active, new_card):
    from sandbox.backends import ticker

    api = active
    begin = int(time.time()) + 3600
    mostly_free = new_card(begin=begin, days=30)
    partly_paid = new_card(begin=begin, days=30)
    pay(sandbox, api.recharge(100)["order_id"])
    api.buy(mostly_free, 300)  # 180 free coins
    api.buy(partly_paid, 100)  # 20 free, 40 paid
    assert api.balance() == {**OK, "free_coin": 0, "pay_coin": 60, "total_coin": 60}

    end = begin + 30 * DAY
    sandbox.advance(end + DAY - time.time() - 120)  # not yet a whole day after
    api = api.refresh()
    ticker.tick()
    assert api.balance()["total_coin"] == 60
    assert api.card(mostly_free)["sku"]["quantity"] == 300

    sandbox.advance(180)
    ticker.tick()
    sandbox.advance(10)
    ticker.tick()  # a second tick finds nothing left to refund
    assert api.balance() == {**OK, "free_coin": 200, "pay_coin": 100, "total_coin": 300}
    assert api.card(mostly_free)["sku"] == {"quantity": 0, "total_quantity": 300}
    assert api.card(partly_paid)["sku"] == {"quantity": 0, "total_quantity": 100}
    refunds = api.orders(
        order_type="ORDER_TYPE_REFUND", sort_info={"sort_type": "SORT_ASC"}
    )
    assert refunds["total_num"] == 2
    splits = sorted(
        (o["refund_free_coin_count"], o["refund_pay_coin_count"])
        for o in refunds["order_list"]
    )
    assert splits == [("180", "0"), ("20", "40")]
    for order in refunds["order_list"]:
        assert order["status"] == "ORDER_STATUS_HAS_REFUND"
        assert order["desc"] == "库存回退券点"
    refund_events = [e for e in pushes() if e["OrderType"] == "ORDER_TYPE_REFUND"]
    assert len(refund_events) == 2
    assert {e["RefundPayCoinCount"] for e in refund_events} == {"0", "40"}


def test_cards_still_valid_or_without_coins_are_not_refunded(sandbox, api, new_card):
    from sandbox.backends import ticker
    from sandbox.models import CoinOrder

    card_id = new_card(days=30)
    assert api.get("card/pay/activate")["reward"] == 200
    api.buy(card_id, 10)
    sandbox.advance(29 * DAY)
    ticker.tick()
    assert not CoinOrder.objects.filter(order_type="ORDER_TYPE_REFUND").exists()
    assert api.refresh().card(card_id)["sku"]["quantity"] == 10


# --- control API, console, reset -------------------------------------------------
def test_control_coins_needs_a_known_appid(sandbox, api):
    url = sandbox.base_url + "control/coins"
    assert requests.get(url, params={"appid": "wxnobody"}, timeout=5).status_code == 404
    assert requests.get(url, timeout=5).status_code == 400


def test_console_shows_coins_and_pays_a_recharge(sandbox, active, client):
    from django.contrib.messages import get_messages

    api = active
    order_id = api.recharge(70)["order_id"]
    page = requests.get(sandbox.base_url + "console/", timeout=5).text
    assert 'id="coins"' in page and order_id in page
    assert f"/sandbox/console/recharges/{order_id}/pay" in page
    assert "200.00" in page  # the free balance

    response = client.post(
        f"/sandbox/console/recharges/{order_id}/pay", {"decision": "pay"}
    )
    assert response.status_code == 302
    told = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "delivered" in told
    assert api.order(order_id)["status"] == "ORDER_STATUS_FINANCE_SUCC"
    again = client.post(
        f"/sandbox/console/recharges/{order_id}/pay", {"decision": "pay"}
    )
    told = " ".join(str(m) for m in get_messages(again.wsgi_request))
    assert "already" in told
    assert api.balance()["pay_coin"] == 70
    page = requests.get(sandbox.base_url + "console/", timeout=5).text
    assert f"/sandbox/console/recharges/{order_id}/pay" not in page


def test_reset_forgets_coins(sandbox, active, new_card):
    active.buy(new_card(), 1)
    active.recharge(5)
    assert pushes_settled()
    sandbox.control("POST", "reset")
    assert sandbox.control("GET", "coins", params={"appid": APPID}) == {
        "activated": False,
        "free_coin": 0,
        "pay_coin": 0,
        "total_coin": 0,
        "recharges_waiting": 0,
    }
    again = active.refresh()
    assert again.get("card/pay/getcoinsinfo")["errcode"] == 43008
    assert again.get("card/pay/activate") == {**OK, "reward": 200}


def test_the_payment_page_in_chinese_says_order_not_sort(sandbox, active):
    """The payer's page in zh-hans: “Order” is 订单 (a payment order), never 排序
    (the verb “to sort” that a context-free translation gave)."""
    token = active.recharge(5)["qrcode_url"].split("pr=", 1)[1]
    page = requests.get(
        sandbox.base_url + "pay",
        params={"pr": token},
        headers={"Accept-Language": "zh-hans"},
        timeout=5,
    )
    assert page.status_code == 200
    assert "订单" in page.text and "排序" not in page.text
