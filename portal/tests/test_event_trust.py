"""Trust in pushes (SPEC §10, issue 8 §3, §5, §6, §7): safe mode accepts only
encrypted pushes verified by msg_signature; a timestamp window and one body per
signed nonce; bodies that are not UTF-8 XML, entities and absurd numbers are 400;
arbitrary input is never a 500 and never stored twice."""

from __future__ import annotations

import time

import pytest
import requests
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from portal.models import Merchant, WeChatEvent
from wechat.crypto import MessageCrypto
from wechat.signatures import server_signature


def _url(merchant) -> str:
    return reverse("wechat_events", args=[merchant.appid])


def _plain_query(merchant, *, timestamp=None, nonce="n0nce") -> dict:
    timestamp = str(int(time.time())) if timestamp is None else str(timestamp)
    return {
        "timestamp": timestamp,
        "nonce": nonce,
        "signature": server_signature(merchant.event_token, timestamp, nonce),
    }


def _event_xml(order_id="ORD1", status="ORDER_STATUS_SUCC", create_time=None) -> str:
    create_time = int(time.time()) if create_time is None else create_time
    return (
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>"
        "<FromUserName><![CDATA[o_wechat]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[card_pay_order]]></Event>"
        f"<OrderId><![CDATA[{order_id}]]></OrderId><Status><![CDATA[{status}]]></Status>"
        "<OrderType><![CDATA[ORDER_TYPE_WXPAY]]></OrderType>"
        "<PayCoinCount>99</PayCoinCount></xml>"
    )


def _post(client, merchant, body, query) -> int:
    from urllib.parse import urlencode

    return client.post(
        f"{_url(merchant)}?{urlencode(query)}", data=body, content_type="text/xml"
    ).status_code


@pytest.fixture
def bistro(demo) -> Merchant:
    """Demo Bistro: safe mode (encrypted pushes)."""
    merchant = demo["Demo Bistro"]
    assert merchant.event_mode == Merchant.EventMode.SAFE
    return merchant


@pytest.fixture
def plain_shop(demo) -> Merchant:
    """Other Shop: the merchant chose plain mode."""
    merchant = demo["Other Shop"]
    assert merchant.event_mode == Merchant.EventMode.PLAIN
    return merchant


def test_a_plain_push_to_a_safe_mode_merchant_is_refused(bistro):
    """The reproduction of issue 8 §3 (there with timestamp=1000000000)."""
    client = Client()
    body = _event_xml().encode()
    assert _post(client, bistro, body, _plain_query(bistro)) == 403
    assert (
        _post(client, bistro, body, _plain_query(bistro, timestamp=1000000000)) == 403
    )
    assert not WeChatEvent.objects.exists()


def test_an_encrypted_push_to_a_safe_mode_merchant_is_accepted(bistro):
    crypto = MessageCrypto(bistro.event_token, bistro.encoding_aes_key, bistro.appid)
    timestamp, nonce = str(int(time.time())), "n1"
    encrypted = crypto.encrypt(_event_xml())
    body = f"<xml><ToUserName>gh_1</ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    query = {
        **_plain_query(bistro, timestamp=timestamp, nonce=nonce),
        "encrypt_type": "aes",
        "msg_signature": crypto.signature(timestamp, nonce, encrypted),
    }
    assert _post(Client(), bistro, body.encode(), query) == 200
    assert WeChatEvent.objects.get().encrypted is True
    # Tampered Encrypt under the same msg_signature: refused.
    tampered = body.replace(encrypted[:8], "A" * 8)
    assert _post(Client(), bistro, tampered.encode(), query) in (400, 403)
    assert WeChatEvent.objects.count() == 1


@pytest.mark.parametrize("skew", [-301, 301, -(10**6)])
def test_a_push_outside_the_five_minute_window_is_refused(plain_shop, skew):
    query = _plain_query(plain_shop, timestamp=int(time.time()) + skew)
    assert _post(Client(), plain_shop, _event_xml().encode(), query) == 403
    assert not WeChatEvent.objects.exists()


def test_a_signed_query_replayed_with_another_body_is_refused(plain_shop):
    client, query = Client(), _plain_query(plain_shop, nonce="once")
    # One body, written once: its CreateTime must not move to the next second
    # between the push and WeChat's retry (that would be another body).
    now = int(time.time())
    body = _event_xml("A", create_time=now).encode()
    assert _post(client, plain_shop, body, query) == 200
    # WeChat's retry (same query, same body): acknowledged, stored once.
    assert _post(client, plain_shop, body, query) == 200
    # The same signed query string with another body: a replay.
    other = _event_xml("B", create_time=now).encode()
    assert _post(client, plain_shop, other, query) == 403
    assert list(WeChatEvent.objects.values_list("payload__OrderId", flat=True)) == ["A"]


def test_three_pushes_of_one_order_are_three_events(plain_shop):
    """The dedupe key includes Status and the order's own fields (issue 8 §3)."""
    client, now = Client(), int(time.time())
    for i, status in enumerate(
        ["ORDER_STATUS_WAITING", "ORDER_STATUS_SUCC", "ORDER_STATUS_FINANCE_SUCC"]
    ):
        query = _plain_query(plain_shop, nonce=f"n{i}")
        body = _event_xml("ORD9", status, create_time=now).encode()
        assert _post(client, plain_shop, body, query) == 200
    assert WeChatEvent.objects.filter(merchant=plain_shop).count() == 3


@pytest.mark.parametrize(
    "body",
    [
        '<?xml version="1.0" encoding="GBK"?><xml><Event>x</Event></xml>'.encode("gbk"),
        '<?xml version="1.0" encoding="GBK"?><xml><Event>领取</Event></xml>'.encode(
            "gbk"
        ),
        "<xml><Event>x</Event></xml>".encode("utf-16"),
        b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaa">]><xml><E>&a;</E></xml>',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE xml [<!ENTITY a "b">]>'
        "<xml><E>&a;</E></xml>".encode("utf-16"),
        b"<xml><CreateTime>" + b"1" + b"0" * 30 + b"</CreateTime></xml>",
        b"<xml><CreateTime>-5</CreateTime></xml>",
        b"<xml><CreateTime>\xd9\xa1\xd9\xa2</CreateTime></xml>",
        b"not xml at all",
        b"<root/>",
        b"",
    ],
)
def test_bodies_that_are_not_wechat_xml_are_400_and_nothing_is_stored(plain_shop, body):
    assert _post(Client(), plain_shop, body, _plain_query(plain_shop)) == 400
    assert not WeChatEvent.objects.exists()


def test_a_huge_body_is_refused(plain_shop):
    body = b"<xml><Desc>" + b"x" * (10 * 1024 * 1024) + b"</Desc></xml>"
    assert _post(Client(), plain_shop, body, _plain_query(plain_shop)) in (400, 413)
    assert not WeChatEvent.objects.exists()


@pytest.mark.django_db
@settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=300).map(lambda t: t.encode("utf-8")),
        st.builds(
            lambda declaration, tag, text, n: (
                f"{declaration}<xml><{tag}>{text}</{tag}><CreateTime>{n}</CreateTime>"
                "<MsgType>event</MsgType><Event>card_pay_order</Event></xml>"
            ).encode(),
            st.sampled_from(
                ["", '<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-8"?>']
                + [f'<?xml version="1.0" encoding="{e}"?>' for e in ("GBK", "x", "")]
            ),
            st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,20}", fullmatch=True),
            st.text(
                alphabet=st.characters(
                    blacklist_categories=("Cs",), blacklist_characters="<&"
                ),
                max_size=100,
            ),
            st.one_of(
                st.integers(min_value=-(10**40), max_value=10**40), st.text(max_size=12)
            ),
        ),
        st.sampled_from(["utf-16", "gbk", "utf-32", "latin-1"]).map(
            lambda enc: "<xml><Event>领取</Event></xml>".encode(enc, errors="replace")
        ),
    ),
    signed=st.booleans(),
)
def test_arbitrary_pushes_are_never_a_server_error_nor_stored_twice(
    plain_shop, body, signed
):
    query = _plain_query(plain_shop, nonce="fuzz") if signed else {"timestamp": "x"}
    client = Client(raise_request_exception=False)
    first = _post(client, plain_shop, body, query)
    count = WeChatEvent.objects.count()
    again = _post(client, plain_shop, body, query)
    assert first in (200, 400, 403) and again in (200, 400, 403)
    assert WeChatEvent.objects.count() == count  # a repeat is never stored twice
    WeChatEvent.objects.all().delete()
    from conftest import clear_test_cache

    clear_test_cache()


def test_the_sandbox_pushes_are_still_accepted(live_demo, sandbox):
    """Both modes end to end: the sandbox (WeChat) signs with the real time."""
    for name in ("Demo Bistro", "Other Shop"):
        merchant = live_demo[name]
        result = sandbox.control(
            "POST",
            "events",
            json={
                "appid": merchant.appid,
                "event": "card_pass_check",
                "fields": {"CardId": "pX"},
            },
        )
        assert result["status"] == "delivered", result
    assert requests  # the live server served them over real HTTP


def test_the_owner_chooses_the_mode_and_safe_mode_needs_a_key(demo, login):
    from django.contrib.auth import get_user_model

    from portal.middleware import SESSION_KEY
    from portal.models import Membership

    shop = demo["Other Shop"]  # plain mode, no EncodingAESKey
    owner = get_user_model().objects.get(username="demo_owner")
    Membership.objects.create(user=owner, merchant=shop, role="owner")
    client = login("demo_owner")
    session = client.session
    session[SESSION_KEY] = shop.pk
    session.save()
    url = reverse("admin:portal_merchant_change", args=[shop.pk])
    answer = client.post(url, {"name": shop.name, "event_mode": "safe"})
    assert answer.status_code == 200  # the form again, with the error on the key
    assert "Safe mode needs the EncodingAESKey" in answer.content.decode()
    shop.refresh_from_db()
    assert shop.event_mode == Merchant.EventMode.PLAIN
    key = "k" * 43
    answer = client.post(
        url, {"name": shop.name, "event_mode": "safe", "encoding_aes_key": key}
    )
    assert answer.status_code == 302
    shop.refresh_from_db()
    assert shop.event_mode == Merchant.EventMode.SAFE and shop.encoding_aes_key == key


def test_the_operator_renaming_a_merchant_keeps_its_secrets(demo, client):
    """/ops/: a blank secret input means "keep it" (it never shows the value)."""
    from django.contrib.auth import get_user_model

    bistro = Merchant.objects.get(pk=demo["Demo Bistro"].pk)
    key, token = bistro.encoding_aes_key.plain(), bistro.event_token.plain()
    admin = get_user_model().objects.create_superuser("ops_root", "o@example.com", "x")
    client.force_login(admin, backend="django.contrib.auth.backends.ModelBackend")
    url = reverse("admin:portal_merchant_change", args=[bistro.pk])
    answer = client.post(
        url,
        {
            "name": "Demo Bistro 2",
            "appid": bistro.appid,
            "provider": "",
            "event_mode": "safe",
            "time_zone": "Asia/Shanghai",
        },
    )
    assert answer.status_code == 302, answer.content.decode()[:500]
    bistro.refresh_from_db()
    assert bistro.name == "Demo Bistro 2"
    assert (
        bistro.encoding_aes_key.plain() == key and bistro.event_token.plain() == token
    )
