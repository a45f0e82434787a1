"""POST /api/cards/preview and /api/cards/images (SPEC §3.2–3.5)."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from tests.factories import cash_card, png

PREVIEW = "/api/cards/preview"


def _preview(client, card, **extra):
    return client.post(
        PREVIEW + extra.pop("query", ""),
        data=json.dumps({"card": card}),
        content_type="application/json",
        **extra,
    )


def test_preview_shows_what_wechat_will_derive(bistro, login):
    _merchant, logo, pic = bistro
    response = _preview(
        login("demo_staff"), cash_card(logo, pic), query="?quantity=100"
    )
    assert response.status_code == 200
    data = response.json()
    assert data["title"] == "全场满500减50"
    assert data["summary"] == "消费满500元可用"
    assert data["usage_note"] == "可与其他优惠共享"
    assert data["unit_price"] == "0.6"
    assert data["price"] == "60.0" and data["quantity"] == 100
    assert data["color_hex"] == "#63b359"
    assert data["errors"] == {}


def test_preview_errors_are_per_field_and_translated(bistro, login):
    _merchant, logo, pic = bistro
    card = cash_card(logo, pic, days=120)
    card["cash"]["base_info"]["brand_name"] = "一二三四五六七八九十一二三"  # 13 汉字
    client = login("demo_staff")
    en = _preview(client, card, HTTP_ACCEPT_LANGUAGE="en").json()["errors"]
    assert "base_info.brand_name" in en and "base_info.date_info" in str(list(en))
    zh = _preview(client, card, HTTP_ACCEPT_LANGUAGE="zh-hans").json()["errors"]
    assert zh["base_info.brand_name"] != en["base_info.brand_name"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh["base_info.brand_name"][0])


def test_images_of_another_merchant_and_foreign_stores_are_refused(bistro, login):
    from cards import services

    merchant, _logo, pic = bistro
    other = merchant.__class__.objects.get(name="Other Shop")
    foreign = services.card_image_upload(
        merchant=other, content=png(), filename="x.png"
    )
    card = cash_card(foreign.wechat_url, pic, stores=(200001,))
    errors = _preview(login("demo_staff"), card).json()["errors"]
    assert "base_info.logo_url" in errors
    assert "base_info.location_id_list" in errors


@pytest.mark.parametrize(
    "garbage", [None, 5, "card", [], {"card_type": "MEMBER"}, {"cash": 7}]
)
def test_preview_never_fails_on_garbage(bistro, login, garbage):
    response = _preview(login("demo_staff"), garbage)
    assert response.status_code == 200
    assert response.json()["errors"]


def test_preview_needs_a_signed_in_card_user_and_csrf(bistro, login):
    _merchant, logo, pic = bistro
    assert _preview(Client(), cash_card(logo, pic)).status_code == 401
    assert _preview(login("demo_cashier"), cash_card(logo, pic)).status_code == 403
    strict = login("demo_staff")
    strict.handler.enforce_csrf_checks = True
    assert _preview(strict, cash_card(logo, pic)).status_code == 403


def test_image_upload_goes_to_wechat_and_checks_the_file(bistro, login, sandbox):
    client = login("demo_staff")
    ok = client.post("/api/cards/images", {"file": _file("a.png", png())})
    assert ok.status_code == 201
    assert ok.json()["url"].startswith(sandbox.base_url + "media/")
    gif = client.post(
        "/api/cards/images", {"file": _file("a.gif", b"GIF89a" + b"0" * 50)}
    )
    assert gif.status_code == 400 and gif.json()["field"] == "file"
    big = client.post(
        "/api/cards/images", {"file": _file("b.png", png() + b"0" * 1_100_000)}
    )
    assert big.status_code == 400 and "1 MB" in big.json()["message"]
    assert (
        sandbox.calls("cgi-bin/media/uploadimg") == 3
    )  # two from the fixture, one here


def _file(name: str, content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def test_the_api_is_documented(bistro, login):
    schema = login("demo_staff").get(reverse("api:openapi-json")).json()
    assert "/api/cards/preview" in schema["paths"]


def test_preview_gives_each_error_its_code_and_wechats_errcode(bistro, login):
    """Clients switch on codes, not on words: the preview gives the stable codes
    the rules compute, and the errcode WeChat would answer (SPEC §11: a brand name
    over 12 characters is a format error, 40071; validity over 90 days, 40079)."""
    _merchant, logo, pic = bistro
    client = login("demo_staff")
    long_brand = cash_card(logo, pic)
    long_brand["cash"]["base_info"]["brand_name"] = "一二三四五六七八九十一二三"
    data = _preview(client, long_brand, query="?quantity=0").json()
    assert data["codes"] == {
        "base_info.brand_name": ["too_long"],
        "quantity": ["out_of_range"],
    }
    assert data["errcode"] == 40071
    long_validity = _preview(client, cash_card(logo, pic, days=120)).json()
    assert data["codes"].keys() != long_validity["codes"].keys()
    assert long_validity["errcode"] == 40079
    assert _preview(client, cash_card(logo, pic)).json()["errcode"] == 0
