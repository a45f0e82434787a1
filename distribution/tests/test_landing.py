"""The H5 campaign page /c/<slug>/ (SPEC §6) over HTTP: what it signs for each
request, checked with SPEC's formulas (hashlib, here) and by the sandbox's JS-SDK
endpoints — the ones its jweixin.js calls from the browser (tests/e2e has the
browser) — and the receive it brings, with its channel."""

from __future__ import annotations

import hashlib
import json
import re
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from django.core.exceptions import ValidationError

import wechat
from cards.models import FriendCard
from distribution import selectors, services
from distribution.models import Campaign
from distribution.tests.helpers import pushed
from redemption.models import Code
from tests.factories import process_events
from wechat import signatures


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 (WeChat's protocol)


@pytest.fixture
def campaign(stocked_card, poster, table):
    return services.campaign_save(
        merchant=stocked_card.merchant,
        title="Spring tasting",
        channel=table,
        cards=[stocked_card],
    )


def page_data(html: str) -> dict:
    found = re.search(
        r'<script id="campaign-data" type="application/json">(.*?)</script>', html, re.S
    )
    assert found, html[:2000]
    return json.loads(found.group(1))


def open_page(live_server, campaign, query: str = "") -> tuple[requests.Response, str]:
    url = f"{live_server.url}/c/{campaign.slug}/{query}"
    return requests.get(url, timeout=10, headers={"Accept-Language": "en"}), url


def test_the_card_ext_signature_is_speCs_vector():
    # SPEC §6's vector, through the function the page signs with.
    assert (
        signatures.card_ext_signature(
            api_ticket="ojZ8YtyVyr30HheH3CM73y7h4jJE",
            timestamp=1404896688,
            card_id="pjZ8Yt1XGILfi-FUsewpnnolGgZk",
            code="1434008071",
            nonce_str="123",
        )
        == "f137ab68b7f8112d20ee528ab6074564e2796250"
    )


def test_the_page_signs_wx_config_for_its_own_url_and_each_card_ext(
    campaign, stocked_card, table, live_server, sandbox
):
    merchant = stocked_card.merchant
    response, url = open_page(live_server, campaign, "?from=poster")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    data = page_data(response.text)["wx"]
    client = wechat.for_merchant(merchant)
    jsapi, wx_card = client.ticket.jsapi(), client.ticket.wx_card()
    assert jsapi not in response.text and wx_card not in response.text

    config = data["config"]
    assert config["appId"] == merchant.appid and config["jsApiList"] == ["addCard"]
    assert config["signature"] == sha1(
        f"jsapi_ticket={jsapi}&noncestr={config['nonceStr']}"
        f"&timestamp={config['timestamp']}&url={url}"
    )
    [entry] = data["cardList"]
    assert entry["cardId"] == stocked_card.card_id
    ext = json.loads(entry["cardExt"])
    assert set(ext) == {"timestamp", "nonce_str", "signature", "outer_str"}
    assert ext["outer_str"] == table.outer_str == "ch-2"
    assert abs(int(ext["timestamp"]) - time.time()) < 60
    assert ext["signature"] == sha1(
        "".join(
            sorted([wx_card, ext["timestamp"], stocked_card.card_id, ext["nonce_str"]])
        )
    )
    # Signed afresh for every request.
    again = page_data(open_page(live_server, campaign, "?from=poster")[0].text)["wx"]
    assert again["config"]["nonceStr"] != config["nonceStr"]
    assert json.loads(again["cardList"][0]["cardExt"])["nonce_str"] != ext["nonce_str"]


def jssdk(sandbox, path: str, body: dict) -> dict:
    answer = requests.post(sandbox.base_url + "jssdk/" + path, json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_sandboxs_js_sdk_accepts_the_page_and_the_receive_counts_for_its_channel(
    campaign, stocked_card, table, live_server, sandbox
):
    response, url = open_page(live_server, campaign)
    data = page_data(response.text)["wx"]
    config = jssdk(sandbox, "config", {**data["config"], "url": url})
    assert config["errMsg"] == "config:ok"
    # signed for this URL only
    elsewhere = jssdk(sandbox, "config", {**data["config"], "url": url + "?x=1"})
    assert elsewhere["errMsg"] == "config:invalid signature"

    added = jssdk(
        sandbox,
        "addcard",
        {"session": config["session"], "cardList": data["cardList"], "openid": "o_h5"},
    )
    assert added["errMsg"] == "addCard:ok"
    [item] = added["cardList"]
    assert item["isSuccess"] is True and item["code"]
    pushed("user_get_card", 1)
    code = Code.objects.get(card=stocked_card, openid="o_h5")
    assert (code.outer_id, code.outer_str) == (0, "ch-2")
    rows = {
        r.label: r.received
        for r in selectors.channel_figures(
            merchant=stocked_card.merchant, card=stocked_card
        )
    }
    assert rows == {"Window poster": 0, "Table 12": 1}

    # The same cardExt cannot receive twice; a tampered one is refused.
    twice = jssdk(
        sandbox,
        "addcard",
        {"session": config["session"], "cardList": data["cardList"], "openid": "o_2"},
    )
    assert twice["errMsg"] == "addCard:fail cardExt used already"
    fresh = page_data(open_page(live_server, campaign)[0].text)["wx"]["cardList"]
    ext = json.loads(fresh[0]["cardExt"])
    ext["signature"] = ext["signature"][::-1]
    tampered = [{"cardId": fresh[0]["cardId"], "cardExt": json.dumps(ext)}]
    refused = jssdk(
        sandbox,
        "addcard",
        {"session": config["session"], "cardList": tampered, "openid": "o_3"},
    )
    assert refused["errMsg"] == "addCard:fail signature error"


def test_the_page_loads_the_js_sdk_from_the_setting_and_allows_only_its_origin(
    campaign, live_server, sandbox, settings
):
    response, _ = open_page(live_server, campaign)
    sdk = sandbox.base_url + "jssdk/jweixin.js"
    assert f'<script src="{sdk}"></script>' in response.text
    policy = response.headers["Content-Security-Policy"]
    origin = live_server.url  # the sandbox is mounted on the live server here
    assert f"script-src 'self' {origin};" in policy
    assert f"connect-src 'self' {origin};" in policy
    assert "frame-ancestors 'none'" in policy

    settings.WECHAT_JSSDK_URL = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"
    response, _ = open_page(live_server, campaign)
    assert (
        '<script src="https://res.wx.qq.com/open/js/jweixin-1.6.0.js">' in response.text
    )
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self' https://res.wx.qq.com;" in policy
    # the admin keeps the portal's own policy
    assert (
        "script-src 'self';"
        in requests.get(live_server.url + "/accounts/login/", timeout=10).headers[
            "Content-Security-Policy"
        ]
    )


def test_the_page_says_when_wechat_gives_no_ticket(campaign, live_server, sandbox):
    from conftest import clear_test_cache

    clear_test_cache()  # no cached ticket
    sandbox.fault("http_500", path="cgi-bin/ticket/getticket", remaining=10)
    response, _ = open_page(live_server, campaign)
    assert response.status_code == 200
    assert "WeChat is not available right now" in response.text
    assert "jweixin.js" not in response.text
    assert page_data(response.text)["wx"] is None


def test_a_closed_or_unknown_page_is_not_found(campaign, live_server):
    Campaign.objects.filter(pk=campaign.pk).update(active=False)
    assert open_page(live_server, campaign)[0].status_code == 404
    assert (
        requests.get(live_server.url + "/c/nosuchpage/", timeout=10).status_code == 404
    )


def test_a_coupon_no_longer_approved_leaves_the_page(
    campaign, stocked_card, live_server
):
    FriendCard.objects.filter(pk=stocked_card.pk).update(status="CARD_STATUS_DELETE")
    response, _ = open_page(live_server, campaign)
    assert "There are no coupons on this page any more." in response.text
    assert page_data(response.text)["wx"] is None


def test_the_page_is_read_once_per_moment_and_a_change_shows(
    campaign, stocked_card, live_server, monkeypatch
):
    """A queue of customers on one poster: the page's campaign and coupons are read
    once per PAGE_TTL, not per customer; a saved change shows at once, and one the
    process did not see (a queryset update, another process) within PAGE_TTL."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from distribution import selectors

    monkeypatch.setattr(selectors, "PAGE_TTL", 1.0)
    assert open_page(live_server, campaign)[0].status_code == 200
    with CaptureQueriesContext(connection) as queries:
        selectors.campaign_page(campaign.slug)
    assert len(queries) == 0  # held
    campaign.title = "Summer tasting"
    campaign.save()
    assert "Summer tasting" in open_page(live_server, campaign)[0].text
    Campaign.objects.filter(pk=campaign.pk).update(title="Autumn tasting")
    deadline = time.monotonic() + 5
    while "Autumn tasting" not in open_page(live_server, campaign)[0].text:
        assert time.monotonic() < deadline, "the update never showed"
        time.sleep(0.2)


def test_the_five_day_rule_is_explained_in_the_merchants_time_zone(
    bistro, sandbox, live_server, poster
):
    from cards import services as card_services
    from tests.factories import cash_card

    merchant, logo, pic = bistro
    merchant.time_zone = "Asia/Shanghai"
    merchant.save(update_fields=["time_zone"])
    definition = cash_card(logo, pic, reduce=800)
    dates = definition["cash"]["base_info"]["date_info"]
    # Begins at midnight in Shanghai, 10 days ahead (the editor's days are local).
    shanghai = ZoneInfo("Asia/Shanghai")
    first_day = datetime.now(shanghai).date() + timedelta(days=10)
    begin = int(datetime.combine(first_day, datetime.min.time(), shanghai).timestamp())
    dates["begin_timestamp"], dates["end_timestamp"] = begin, begin + 20 * 86400 - 1
    card = card_services.card_submit(
        card=card_services.card_draft_save(merchant=merchant, definition=definition)
    )
    sandbox.control("POST", f"cards/{card.card_id}/review", json={"approve": True})
    process_events()
    card.refresh_from_db()
    page = services.campaign_save(
        merchant=merchant, title="Opening soon", channel=poster, cards=[card]
    )
    day = f"{first_day - timedelta(days=5):%Y-%m-%d}"  # e.g. 12-12 → 2026-12-07
    response, _ = open_page(live_server, page)
    assert f"You can receive this coupon from {day}." in response.text
    # and WeChat agrees: not before that day
    early = sandbox.http.post(
        sandbox.base_url + f"control/cards/{card.card_id}/receive",
        json={"openid": "o_early"},
        timeout=10,
    )
    assert early.status_code == 400 and early.json()["errcode"] == 40079


def test_bad_campaign_input_is_refused_on_its_field_and_writes_nothing(
    stocked_card, poster, other_channel, in_review_card
):
    merchant = stocked_card.merchant
    base = dict(merchant=merchant, title="Spring", channel=poster, cards=[stocked_card])
    for change, field in (
        ({"title": " "}, "title"),
        ({"title": "x" * 41}, "title"),
        ({"channel": other_channel}, "channel"),
        ({"cards": []}, "cards"),
        ({"cards": [in_review_card]}, "cards"),
    ):
        with pytest.raises(ValidationError) as refused:
            services.campaign_save(**{**base, **change})
        assert set(refused.value.message_dict) == {field}, change
    assert Campaign.objects.count() == 0
