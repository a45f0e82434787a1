"""card/create, get, update, delete, batchget and review, over real HTTP against the
live sandbox — with raw requests, the control API, the console and wechatpy."""

from __future__ import annotations

import io
import time

import pytest
import requests

from sandbox.tests.helpers import Api, Callback, base_of, cash_card, gift_card

APPID = "wx000000005a0dca01"
OTHER_APPID = "wx000000005a0dca02"
SECRET = "sandbox-cards-secret-0123456789"
DAY = 86400


# --- helpers ---------------------------------------------------------------------
@pytest.fixture
def callback():
    server = Callback()
    yield server
    server.close()


@pytest.fixture
def api(sandbox, callback):
    sandbox.account(APPID, SECRET, callback_url=callback.url, auto_review_seconds=0)
    return Api(sandbox, APPID)


@pytest.fixture
def images(api) -> list[str]:
    return [api.upload(color) for color in ("red", "green", "blue")]


def wait_for(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while not (result := predicate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return result


def pushes(event: str) -> list:
    from sandbox.models import Push

    return list(Push.objects.filter(event=event).order_by("created_at"))


# --- create / get ----------------------------------------------------------------
def test_create_then_get_adds_wechats_derived_fields(api, images):
    card = cash_card(images)
    before = int(time.time())
    card_id = api.create(card)
    assert card_id.startswith("p") and len(card_id) == 28

    got = api.get(card_id)
    assert got["card_type"] == "CASH"
    base = got["cash"]["base_info"]
    assert base["id"] == card_id
    # SPEC §3.2 rule 1: accept_category of ≤ 5 characters and least_cost.
    assert base["title"] == "鞋类满500减50"
    assert base["status"] == "CARD_STATUS_NOT_VERIFY"
    assert base["sku"] == {"quantity": 0, "total_quantity": 0}
    assert before - 5 <= base["create_time"] <= base["update_time"] <= before + 60
    assert base["brand_name"] == "微信餐厅"
    assert base["date_info"] == card["cash"]["base_info"]["date_info"]
    assert got["cash"]["reduce_cost"] == 5000
    assert got["cash"]["advanced_info"] == card["cash"]["advanced_info"]


def test_a_gift_card_gets_its_own_title(api, images):
    card = gift_card(images)
    got = api.get(api.create(card))
    assert got["card_type"] == "GIFT"
    assert got["gift"]["base_info"]["title"] == "买蛋糕送蛋挞"  # SPEC §3.2 gift rule 1
    assert got["gift"]["gift_name"] == "蛋挞"


def test_derived_fields_sent_by_a_client_are_ignored(api, images):
    card = cash_card(images)
    base_of(card)["title"] = "随便写的标题"
    got = api.get(api.create(card))
    assert base_of(got)["title"] == "鞋类满500减50"


def _over_90_days(card):
    dates = base_of(card)["date_info"]
    dates["end_timestamp"] = dates["begin_timestamp"] + 91 * DAY


def _no_location(card):
    base_of(card).pop("location_id_list")


def _foreign_logo(card):
    base_of(card)["logo_url"] = "http://mmbiz.qpic.cn/mmbiz/not-uploaded-here/0"


@pytest.mark.parametrize(
    ("spoil", "errcode", "field"),
    [
        (_over_90_days, 40079, "date_info"),
        (_no_location, 41025, "location_id_list"),
        (_foreign_logo, 40141, "logo_url"),
    ],
)
def test_create_refusals_have_wechats_errcodes(api, images, spoil, errcode, field):
    card = cash_card(images)
    spoil(card)
    data = api.post("card/create", {"card": card})
    assert data["errcode"] == errcode
    assert "hint: [" in data["errmsg"] and field in data["errmsg"]
    assert "card_id" not in data


def test_accept_category_on_a_gift_is_refused(api, images):
    # SPEC §3.1: accept_category is a CASH threshold only.
    card = gift_card(images)
    card["gift"]["advanced_info"]["use_condition"]["accept_category"] = "鞋类"
    data = api.post("card/create", {"card": card})
    assert data == {
        "errcode": 40071,
        "errmsg": "invalid param hint: [advanced_info.use_condition.accept_category]",
    }


@pytest.mark.parametrize(
    ("reduce_cost", "title"),
    [(60000, None), (50000, None), (49999, "全场满500减499.99"), (100, "全场满500减1")],
)
def test_the_reduction_must_stay_below_the_minimum_spend(
    api, images, reduce_cost, title
):
    # SPEC §3.5 Decision: 全场满500减600 is refused on reduce_cost (40071); so is
    # 满500减500; one fen less is a card.
    card = cash_card(images)
    card["cash"]["reduce_cost"] = reduce_cost
    card["cash"]["advanced_info"]["use_condition"] = {"least_cost": 50000}
    data = api.post("card/create", {"card": card})
    if title is None:
        assert data == {"errcode": 40071, "errmsg": "invalid param hint: [reduce_cost]"}
    else:
        assert data["errcode"] == 0, data
        assert base_of(api.get(data["card_id"]))["title"] == title


def test_summary_and_price_tiers_come_from_the_thresholds(sandbox, api, images):
    # SPEC §3.3 and §3.4, as the control API lists the cards.
    examples = [
        ({}, "50元代金券", "无起用金额限制,全场通用,不限品类"),
        ({"accept_category": "蛋挞"}, "蛋挞减50元", "适用于蛋挞"),
        ({"reject_category": "蛋糕"}, "50元代金券", "不适用于蛋糕"),
        ({"least_cost": 50000}, "全场满500减50", "消费满500元可用"),
        (
            {"can_use_with_other_discount": False},
            "50元代金券",
            "无起用金额限制,全场通用,不限品类",
        ),
    ]
    for condition, _, _ in examples:
        card = cash_card(images)
        card["cash"]["advanced_info"]["use_condition"] = condition
        api.create(card)
    listed = sandbox.control("GET", "cards", params={"appid": APPID})["cards"]
    assert [(row["title"], row["summary"]) for row in listed] == [
        (title, summary) for _, title, summary in examples
    ]


@pytest.mark.parametrize("body", [{}, {"card": "CASH"}, {"card": []}])
def test_create_without_a_card_object_is_47001(api, body):
    assert api.post("card/create", body)["errcode"] == 47001


def test_create_needs_a_valid_token(sandbox, api, images):
    response = requests.post(
        sandbox.base_url + "card/create",
        params={"access_token": "nope"},
        json={"card": cash_card(images)},
        timeout=5,
    ).json()
    assert response["errcode"] == 40001


def test_unknown_and_other_accounts_cards_are_40073(sandbox, api, images):
    card_id = api.create(cash_card(images))
    sandbox.account(OTHER_APPID, SECRET)
    other = Api(sandbox, OTHER_APPID)
    for body in ({"card_id": card_id}, {"card_id": "pNoSuchCard"}, {}):
        data = other.post("card/get", body)
        assert data == {"errcode": 40073, "errmsg": "invalid card id"}
    assert other.post("card/delete", {"card_id": card_id})["errcode"] == 40073
    assert api.get(card_id)["cash"]["base_info"]["status"] == "CARD_STATUS_NOT_VERIFY"


# --- update ----------------------------------------------------------------------
def _approve(sandbox, card_id: str) -> None:
    sandbox.control("POST", f"cards/{card_id}/review", json={"approve": True})


def test_update_answers_send_check_as_the_rules_decide(sandbox, api, images):
    card_id = api.create(cash_card(images))
    _approve(sandbox, card_id)
    quiet = {"base_info": {"service_phone": "020-12345678"}}
    reviewed = {"base_info": {"logo_url": api.upload("white")}}

    data = api.post("card/update", {"card_id": card_id, "cash": quiet})
    assert data == {"errcode": 0, "errmsg": "ok", "send_check": False}
    got = api.get(card_id)
    assert base_of(got)["service_phone"] == "020-12345678"
    assert base_of(got)["status"] == "CARD_STATUS_VERIFY_OK"
    assert base_of(got)["brand_name"] == "微信餐厅"  # the rest is kept

    data = api.post("card/update", {"card_id": card_id, "cash": reviewed})
    assert data == {"errcode": 0, "errmsg": "ok", "send_check": True}
    got = api.get(card_id)
    assert base_of(got)["logo_url"] == reviewed["base_info"]["logo_url"]
    assert base_of(got)["status"] == "CARD_STATUS_NOT_VERIFY"
    assert base_of(got)["title"] == "鞋类满500减50"


def test_update_may_widen_validity_but_not_narrow_it(api, images):
    card = cash_card(images, days=30)
    card_id = api.create(card)
    dates = base_of(card)["date_info"]

    def with_end(end: int) -> dict:
        return {"base_info": {"date_info": {**dates, "end_timestamp": end}}}

    # SPEC §3.5: the validity may only widen (40079).
    narrower = with_end(dates["end_timestamp"] - DAY)
    data = api.post("card/update", {"card_id": card_id, "cash": narrower})
    assert data == {
        "errcode": 40079,
        "errmsg": "invalid time hint: [base_info.date_info]",
    }

    too_wide = with_end(dates["begin_timestamp"] + 91 * DAY)
    assert (
        api.post("card/update", {"card_id": card_id, "cash": too_wide})["errcode"]
        == 40079
    )

    wider = with_end(dates["end_timestamp"] + 10 * DAY)
    data = api.post("card/update", {"card_id": card_id, "cash": wider})
    assert data["errcode"] == 0
    got = base_of(api.get(card_id))["date_info"]
    assert got["end_timestamp"] == dates["end_timestamp"] + 10 * DAY


def test_brand_name_cannot_be_updated(api, images):
    card = cash_card(images)
    card_id = api.create(card)
    update = {"base_info": {"brand_name": "别的餐厅"}}
    data = api.post("card/update", {"card_id": card_id, "cash": update})
    # SPEC §3.5: brand_name is not updatable; WeChat reads that as the JSON's shape.
    assert data == {
        "errcode": 47001,
        "errmsg": "data format error hint: [base_info.brand_name]",
    }
    assert base_of(api.get(card_id))["brand_name"] == "微信餐厅"


@pytest.mark.parametrize(
    "body",
    [
        {"gift": {"base_info": {"service_phone": "1"}}},
        {"cash": "nope"},
        {},
    ],
)
def test_update_block_must_match_the_cards_type(api, images, body):
    card_id = api.create(cash_card(images))
    data = api.post("card/update", {"card_id": card_id, **body})
    assert data["errcode"] == 47001


def test_deleted_card_shows_delete_and_cannot_be_updated(api, images):
    card_id = api.create(cash_card(images))
    assert api.post("card/delete", {"card_id": card_id}) == {
        "errcode": 0,
        "errmsg": "ok",
    }
    assert base_of(api.get(card_id))["status"] == "CARD_STATUS_DELETE"
    update = {"card_id": card_id, "cash": {"base_info": {"service_phone": "1234"}}}
    assert api.post("card/update", update)["errcode"] == 40073
    assert api.post("card/delete", {"card_id": card_id})["errcode"] == 40073


# --- batchget --------------------------------------------------------------------
def test_batchget_pages_and_filters_by_status(sandbox, api, images):
    ids = [api.create(cash_card(images)) for _ in range(4)]
    _approve(sandbox, ids[1])
    sandbox.control(
        "POST", f"cards/{ids[2]}/review", json={"approve": False, "reason": "图片模糊"}
    )
    api.post("card/delete", {"card_id": ids[3]})

    everything = api.post("card/batchget", {"offset": 0, "count": 50})
    assert everything == {
        "errcode": 0,
        "errmsg": "ok",
        "card_id_list": ids,
        "total_num": 4,
    }
    page = api.post("card/batchget", {"offset": 1, "count": 2})
    assert page["card_id_list"] == ids[1:3] and page["total_num"] == 4

    ok_or_fail = api.post(
        "card/batchget",
        {
            "offset": 0,
            "count": 10,
            "status_list": ["CARD_STATUS_VERIFY_OK", "CARD_STATUS_VERIFY_FAIL"],
        },
    )
    assert ok_or_fail["card_id_list"] == ids[1:3] and ok_or_fail["total_num"] == 2
    deleted = api.post(
        "card/batchget",
        {"offset": 0, "count": 10, "status_list": ["CARD_STATUS_DELETE"]},
    )
    assert deleted["card_id_list"] == [ids[3]]


@pytest.mark.parametrize(
    "body",
    [
        {"offset": 0, "count": 0},
        {"offset": 0, "count": 51},
        {"offset": -1, "count": 10},
        {"offset": 0},
        {"offset": 0, "count": 10, "status_list": ["CARD_STATUS_WHATEVER"]},
    ],
)
def test_batchget_refuses_bad_arguments(api, body):
    assert api.post("card/batchget", body)["errcode"] == 40071


# --- review ----------------------------------------------------------------------
def test_manual_review_through_the_control_api_pushes_the_event(
    sandbox, api, images, callback
):
    card_id = api.create(cash_card(images))
    answer = sandbox.control("POST", f"cards/{card_id}/review", json={"approve": True})
    assert answer["card_id"] == card_id
    assert answer["status"] == "CARD_STATUS_VERIFY_OK"
    assert answer["push"]["status"] == "delivered" and answer["push"]["attempts"] == 1
    assert base_of(api.get(card_id))["status"] == "CARD_STATUS_VERIFY_OK"

    [push] = pushes("card_pass_check")
    assert push.account.appid == APPID and f"<CardId><![CDATA[{card_id}]]>" in push.xml
    [received] = callback.received
    assert "<Event><![CDATA[card_pass_check]]></Event>" in received["body"]
    assert card_id in received["body"] and "signature" in received["query"]

    listed = sandbox.control("GET", "cards", params={"appid": APPID})["cards"]
    assert listed == [
        {
            "card_id": card_id,
            "appid": APPID,
            "card_type": "CASH",
            "title": "鞋类满500减50",
            "summary": "适用于鞋类,不适用于阿迪达斯;消费满500元可用",
            "status": "CARD_STATUS_VERIFY_OK",
            "quantity": 0,
            "total_quantity": 0,
            "refuse_reason": "",
        }
    ]


def test_rejection_carries_the_refuse_reason(sandbox, api, images, callback):
    card_id = api.create(cash_card(images))
    answer = sandbox.control(
        "POST",
        f"cards/{card_id}/review",
        json={"approve": False, "reason": "图片含有违规内容"},
    )
    assert answer["status"] == "CARD_STATUS_VERIFY_FAIL"
    assert base_of(api.get(card_id))["status"] == "CARD_STATUS_VERIFY_FAIL"
    [push] = pushes("card_not_pass_check")
    assert "<RefuseReason><![CDATA[图片含有违规内容]]></RefuseReason>" in push.xml
    assert "图片含有违规内容" in callback.received[0]["body"]
    [listed] = sandbox.control("GET", "cards", params={"appid": APPID})["cards"]
    assert listed["refuse_reason"] == "图片含有违规内容"


def test_control_review_refuses_bad_requests(sandbox, api, images):
    card_id = api.create(cash_card(images))
    url = sandbox.base_url + f"control/cards/{card_id}/review"
    assert requests.post(url, json={"approve": "yes"}, timeout=5).status_code == 400
    assert requests.post(url, json={}, timeout=5).status_code == 400
    missing = sandbox.base_url + "control/cards/pNoSuchCard/review"
    assert requests.post(missing, json={"approve": True}, timeout=5).status_code == 404
    api.post("card/delete", {"card_id": card_id})
    assert requests.post(url, json={"approve": True}, timeout=5).status_code == 400
    assert pushes("card_pass_check") == []


def test_auto_review_happens_by_sandbox_time(sandbox, api, images, callback):
    sandbox.account(APPID, SECRET, callback_url=callback.url, auto_review_seconds=30)
    card_id = api.create(cash_card(images))
    sandbox.advance(29)
    assert base_of(api.get(card_id))["status"] == "CARD_STATUS_NOT_VERIFY"
    sandbox.advance(2)
    # Any API call runs the ticker first: the card is approved before the answer.
    assert base_of(api.get(card_id))["status"] == "CARD_STATUS_VERIFY_OK"
    assert len(pushes("card_pass_check")) == 1
    assert wait_for(lambda: callback.received), "the event reached the callback"
    assert card_id in callback.received[0]["body"]
    # An update that needs review puts it back in review, due 30 s later again.
    update = {"base_info": {"logo_url": api.upload("white")}}
    assert api.post("card/update", {"card_id": card_id, "cash": update})["send_check"]
    assert base_of(api.get(card_id))["status"] == "CARD_STATUS_NOT_VERIFY"
    sandbox.advance(31)
    assert base_of(api.get(card_id))["status"] == "CARD_STATUS_VERIFY_OK"
    assert wait_for(lambda: len(callback.received) == 2)


def test_auto_review_by_the_ticker_without_any_call(sandbox, api, images, callback):
    from sandbox.backends import ticker
    from sandbox.models import Card, Push

    sandbox.account(APPID, SECRET, callback_url=callback.url, auto_review_seconds=30)
    card_id = api.create(cash_card(images))
    sandbox.advance(31)
    ticker.tick()
    card = Card.objects.get(card_id=card_id)
    assert card.status == Card.Status.VERIFY_OK and card.review_due_at is None
    assert wait_for(
        lambda: Push.objects.filter(
            event="card_pass_check", status=Push.Status.DELIVERED
        ).exists()
    )


def test_manual_only_when_the_delay_is_zero(sandbox, api, images):
    from sandbox.backends import ticker

    card_id = api.create(cash_card(images))  # the api account: auto_review 0
    sandbox.advance(3600)  # an hour: the access token still lives
    ticker.tick()
    assert base_of(api.get(card_id))["status"] == "CARD_STATUS_NOT_VERIFY"
    assert pushes("card_pass_check") == []


# --- console ---------------------------------------------------------------------
def test_console_lists_cards_and_reviews_them(sandbox, api, images, client):
    from django.contrib.messages import get_messages

    first = api.create(cash_card(images))
    second = api.create(gift_card(images))
    page = requests.get(sandbox.base_url + "console/", timeout=5).text
    assert first in page and second in page
    assert page.index(second) < page.index(first)  # newest first
    assert "鞋类满500减50" in page and "买蛋糕送蛋挞" in page
    assert page.count('value="approve"') == 2

    response = client.post(
        f"/sandbox/console/cards/{first}/review", {"decision": "approve"}
    )
    assert response.status_code == 302
    assert "delivered" in " ".join(str(m) for m in get_messages(response.wsgi_request))
    response = client.post(
        f"/sandbox/console/cards/{second}/review",
        {"decision": "reject", "reason": "兑换商品不明确"},
    )
    assert response.status_code == 302
    assert base_of(api.get(first))["status"] == "CARD_STATUS_VERIFY_OK"
    assert base_of(api.get(second))["status"] == "CARD_STATUS_VERIFY_FAIL"
    page = requests.get(sandbox.base_url + "console/", timeout=5).text
    assert "兑换商品不明确" in page and 'value="approve"' not in page
    assert "card_pass_check" in page and "card_not_pass_check" in page


def test_console_needs_a_reason_to_reject(sandbox, api, images, client):
    card_id = api.create(cash_card(images))
    client.post(f"/sandbox/console/cards/{card_id}/review", {"decision": "reject"})
    assert base_of(api.get(card_id))["status"] == "CARD_STATUS_NOT_VERIFY"


def test_reset_forgets_cards(sandbox, api, images):
    api.create(cash_card(images))
    sandbox.control("POST", "reset")
    assert sandbox.control("GET", "cards")["cards"] == []


# --- an existing SDK -------------------------------------------------------------
def test_wechatpy_creates_and_reads_a_card(sandbox, api):
    from PIL import Image
    from wechatpy import WeChatClient

    from sandbox.tests.helpers import WeChatHostSession

    client = WeChatClient(APPID, SECRET)
    client._http = WeChatHostSession(sandbox.base_url)

    def upload(color: str) -> str:
        buffer = io.BytesIO()
        Image.new("RGB", (8, 8), color).save(buffer, format="JPEG")
        buffer.seek(0)
        buffer.name = f"{color}.jpg"
        return client.media.upload_image(buffer)

    card = cash_card([upload(c) for c in ("red", "green", "blue")])
    card_id = client.card.create({"card": card})
    got = client.card.get(card_id)
    assert got["cash"]["base_info"]["title"] == "鞋类满500减50"
    assert got["cash"]["base_info"]["status"] == "CARD_STATUS_NOT_VERIFY"
    listed = client.card.batch_get(offset=0, count=10)
    assert listed["card_id_list"] == [card_id]
    client.card.update(
        {"card_id": card_id, "cash": {"base_info": {"service_phone": "400-1234"}}}
    )
    assert client.card.get(card_id)["cash"]["base_info"]["service_phone"] == "400-1234"
    client.card.delete(card_id)
    assert client.card.get(card_id)["cash"]["base_info"]["status"] == (
        "CARD_STATUS_DELETE"
    )
