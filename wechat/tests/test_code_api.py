"""client.code against the live sandbox over real HTTP (SPEC §7): typed results,
errcodes as typed errors, and a consume whose answer is lost is never re-sent."""

from __future__ import annotations

import io
import time

import pytest

from wechat import errors

APPID = "wx00000000c0de0001"
SECRET = "code-api-test-secret-0123456789a"


def _jpeg(color: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
def client(sandbox):
    sandbox.account(APPID, SECRET, auto_review_seconds=0)
    return sandbox.client(APPID, SECRET)


@pytest.fixture
def card_id(sandbox, client) -> str:
    """An approved card with stock 5, valid from a minute ago, without a gift."""
    from sandbox.tests.helpers import cash_card

    images = [client.media.upload_image(_jpeg(c)).url for c in ("red", "green", "blue")]
    card = cash_card(images, begin=int(time.time()) - 60)
    card["cash"]["advanced_info"]["consume_share_self_num"] = 0
    card_id = client.card.create(card)
    sandbox.control("POST", f"cards/{card_id}/review", json={"approve": True})
    client.coin.activate()
    quote = client.coin.get_pay_price(card_id, 5)
    client.coin.confirm(card_id=card_id, order_id=quote.order_id, quantity=5)
    return card_id


def receive(sandbox, card_id: str, openid: str) -> dict:
    return sandbox.control("POST", f"cards/{card_id}/receive", json={"openid": openid})


def test_get_decrypt_mark_consume_typed(sandbox, client, card_id):
    got = receive(sandbox, card_id, "o_alice")
    assert client.code.decrypt(got["encrypt_code"]) == got["code"]
    info = client.code.get(got["code"], card_id=card_id)
    assert (info.code, info.card_id, info.openid) == (got["code"], card_id, "o_alice")
    assert (info.status, info.can_consume, info.mark_openid) == ("NORMAL", True, "")
    assert info.begin_time and info.end_time and info.begin_time < info.end_time

    client.code.mark(got["code"], card_id=card_id, openid="o_bob")
    client.code.mark(got["code"], card_id=card_id, openid="o_bob")  # again: ok
    assert client.code.get(got["code"]).mark_openid == "o_bob"
    with pytest.raises(errors.WeChatError) as other:
        client.code.mark(got["code"], card_id=card_id, openid="o_carol")
    assert other.value.errcode == 40146 and other.value.message
    with pytest.raises(errors.WeChatError) as not_marked:
        client.code.consume(got["code"], openid="o_carol")
    assert not_marked.value.errcode == 40003

    done = client.code.consume(got["code"], openid="o_bob")
    assert done == type(done)(card_id=card_id, openid="o_alice")
    with pytest.raises(errors.WeChatError) as twice:
        client.code.consume(got["code"])
    assert twice.value.errcode == 40099 and "redeemed" in twice.value.message
    consumed = client.code.get(got["code"], check_consume=False)
    assert (consumed.status, consumed.can_consume) == ("CONSUMED", False)
    with pytest.raises(errors.WeChatError) as abnormal:
        client.code.get(got["code"])
    assert abnormal.value.errcode == 40127


def test_unknown_codes_and_bad_encrypt_codes(sandbox, client, card_id):
    with pytest.raises(errors.WeChatError) as unknown:
        client.code.get("111122223333", check_consume=False)
    assert unknown.value.errcode == 40056
    with pytest.raises(errors.WeChatError) as bad:
        client.code.decrypt("not-an-encrypt-code")
    assert bad.value.errcode == 40075


def test_unavailable(sandbox, client, card_id):
    got = receive(sandbox, card_id, "o_alice")
    client.code.unavailable(got["code"], reason="refund")
    assert client.code.get(got["code"], check_consume=False).status == "UNAVAILABLE"


def test_a_lost_consume_answer_is_unknown_and_never_sent_again(sandbox, card_id):
    client = sandbox.client(APPID, SECRET, timeout=0.5)
    got = receive(sandbox, card_id, "o_alice")
    client.access_token()
    sandbox.fault(
        "timeout", appid=APPID, path="card/code/consume", latency_ms=1500, remaining=1
    )
    with pytest.raises(errors.UnknownOutcome):
        client.code.consume(got["code"])
    assert sandbox.wait_calls("card/code/consume", APPID, 1, timeout=10) == 1
    time.sleep(1.2)  # the late answer lands; still a single consume call
    assert sandbox.calls("card/code/consume", APPID) == 1
    assert client.code.get(got["code"], check_consume=False).status == "CONSUMED"


def test_reads_are_retried_through_a_busy_sandbox(sandbox, client, card_id):
    got = receive(sandbox, card_id, "o_alice")
    sandbox.fault("errcode_-1", appid=APPID, path="card/code/get", remaining=1)
    assert client.code.get(got["code"]).status == "NORMAL"
    assert sandbox.calls("card/code/get", APPID) == 2
    sandbox.fault("http_500", appid=APPID, path="card/code/consume", remaining=1)
    with pytest.raises(errors.UnknownOutcome):
        client.code.consume(got["code"])
    assert sandbox.calls("card/code/consume", APPID) == 1
    assert client.code.get(got["code"]).status == "NORMAL"  # the 500 did nothing
