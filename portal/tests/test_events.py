"""The event receiver (SPEC §10): pushes from the sandbox over real HTTP."""

from __future__ import annotations

import time

import pytest
import requests
from django.urls import reverse

from portal import events
from portal.models import WeChatEvent
from wechat.signatures import server_signature


def _url(live_server, merchant) -> str:
    return live_server.url + reverse("wechat_events", args=[merchant.appid])


def _signed(merchant, **extra) -> dict:
    timestamp, nonce = str(int(time.time())), "n0nce"
    return {
        "timestamp": timestamp,
        "nonce": nonce,
        "signature": server_signature(merchant.event_token, timestamp, nonce),
        **extra,
    }


def test_url_check_echoes_only_with_a_valid_signature(live_demo, live_server):
    shop = live_demo["Other Shop"]
    ok = requests.get(_url(live_server, shop), params=_signed(shop, echostr="hello-42"))
    assert ok.status_code == 200 and ok.text == "hello-42"
    forged = _signed(shop, echostr="hello-42")
    forged["signature"] = "0" * 40
    bad = requests.get(_url(live_server, shop), params=forged)
    assert bad.status_code == 403 and "hello-42" not in bad.text
    assert requests.get(live_server.url + "/wechat/events/wxnobody/").status_code == 404


@pytest.mark.parametrize("merchant_name", ["Other Shop", "Demo Bistro"])
def test_a_push_from_the_sandbox_is_stored_once(live_demo, sandbox, merchant_name):
    """Other Shop receives plain pushes, Demo Bistro encrypted ones (safe mode)."""
    merchant = live_demo[merchant_name]
    result = sandbox.control(
        "POST",
        "events",
        json={
            "appid": merchant.appid,
            "event": "card_pass_check",
            "fields": {"CardId": "pCard123", "RefuseReason": "非法"},
        },
    )
    assert result["status"] == "delivered" and result["attempts"] == 1
    event = WeChatEvent.objects.get(merchant=merchant)
    assert event.event == "card_pass_check"
    assert event.payload["CardId"] == "pCard123"
    assert event.payload["RefuseReason"] == "非法"
    assert event.encrypted is (merchant_name == "Demo Bistro")
    assert "<Encrypt>" not in event.raw and "pCard123" in event.raw


def test_a_replayed_push_is_acknowledged_and_not_stored_twice(live_demo, live_server):
    shop = live_demo["Other Shop"]
    body = (
        b"<xml><ToUserName><![CDATA[gh_1]]></ToUserName>"
        b"<FromUserName><![CDATA[o_user_1]]></FromUserName>"
        b"<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        b"<Event><![CDATA[user_get_card]]></Event><CardId><![CDATA[pA]]></CardId>"
        b"<UserCardCode><![CDATA[123456789012]]></UserCardCode></xml>"
    )
    params = _signed(shop)
    for _ in range(4):  # WeChat's first try and its three retries
        response = requests.post(_url(live_server, shop), params=params, data=body)
        assert response.status_code == 200 and response.text == "success"
    assert WeChatEvent.objects.filter(merchant=shop).count() == 1


def test_a_forged_push_is_403_and_nothing_is_stored(live_demo, live_server):
    shop = live_demo["Other Shop"]
    params = _signed(shop)
    params["signature"] = server_signature(
        "not-the-token", params["timestamp"], "n0nce"
    )
    body = b"<xml><MsgType>event</MsgType><Event>card_pass_check</Event></xml>"
    assert (
        requests.post(_url(live_server, shop), params=params, data=body).status_code
        == 403
    )
    # An encrypted push with a bad msg_signature is refused too.
    bistro = live_demo["Demo Bistro"]
    enc = _signed(bistro, encrypt_type="aes", msg_signature="0" * 40)
    enc_body = b"<xml><ToUserName>x</ToUserName><Encrypt>AAAA</Encrypt></xml>"
    assert (
        requests.post(_url(live_server, bistro), params=enc, data=enc_body).status_code
        == 403
    )
    assert not WeChatEvent.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><MsgType>event</MsgType><Event>card_pass",
        b"not xml at all",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml><Event>&a;</Event></xml>',
    ],
)
def test_malformed_xml_is_400(live_demo, live_server, body):
    shop = live_demo["Other Shop"]
    response = requests.post(_url(live_server, shop), params=_signed(shop), data=body)
    assert response.status_code == 400
    assert not WeChatEvent.objects.exists()


def test_handlers_run_once_and_unknown_events_are_kept(live_demo, sandbox):
    shop = live_demo["Other Shop"]
    seen = []

    @events.handler("test_event_kind")
    def remember(event):
        seen.append(event.payload["CardId"])

    for name in ("test_event_kind", "brand_new_event_type"):
        sandbox.control(
            "POST",
            "events",
            json={"appid": shop.appid, "event": name, "fields": {"CardId": name}},
        )
    known = WeChatEvent.objects.get(event="test_event_kind")
    unknown = WeChatEvent.objects.get(event="brand_new_event_type")
    # The task may run twice (a retry, a second worker): the handler runs once.
    assert events.event_process(known.pk) == WeChatEvent.Status.HANDLED
    assert events.event_process(known.pk) is None
    assert seen == ["test_event_kind"]
    assert events.event_process(unknown.pk) == WeChatEvent.Status.IGNORED


def test_a_failing_handler_marks_the_event_failed_not_lost(live_demo, sandbox):
    shop = live_demo["Other Shop"]

    @events.handler("test_failing_kind")
    def explode(event):
        raise RuntimeError("boom")

    sandbox.control(
        "POST", "events", json={"appid": shop.appid, "event": "test_failing_kind"}
    )
    event = WeChatEvent.objects.get(event="test_failing_kind")
    assert events.event_process(event.pk) == WeChatEvent.Status.FAILED
    event.refresh_from_db()
    assert "boom" in event.error


def test_events_show_in_the_admin_of_their_merchant_only(live_demo, sandbox, login):
    bistro = live_demo["Demo Bistro"]
    sandbox.control(
        "POST",
        "events",
        json={
            "appid": bistro.appid,
            "event": "user_get_card",
            "fields": {"CardId": "pZ"},
        },
    )
    event = WeChatEvent.objects.get()
    url = reverse("admin:portal_wechatevent_change", args=[event.pk])
    page = login("demo_staff").get(url)
    assert page.status_code == 200 and "pZ" in page.content.decode()
    assert login("other_staff").get(url).status_code == 404
    listing = login("demo_staff").get(reverse("admin:portal_wechatevent_changelist"))
    assert "user_get_card" in listing.content.decode()


def test_an_unreachable_portal_is_retried_three_times(live_demo, sandbox):
    shop = live_demo["Other Shop"]
    sandbox.control(
        "POST",
        "accounts",
        json={
            "appid": shop.appid,
            "secret": shop.appsecret,
            "token": shop.event_token,
            "callback_url": "http://127.0.0.1:9/wechat/events/x/",
        },
    )
    result = sandbox.control(
        "POST", "events", json={"appid": shop.appid, "event": "card_pass_check"}
    )
    assert result["status"] == "failed" and result["attempts"] == 4
