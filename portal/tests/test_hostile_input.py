"""Hostile input never becomes a server error (SPEC §11: bad input gets a clear
error). A NUL character is refused in words before any lookup sees it (PostgreSQL
refuses U+0000 in every string: a search for ``a%00b`` was a 500 there), and the
console's parameters take anything."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client

from portal.models import Merchant

pytestmark = pytest.mark.django_db

NUL_WORDS = "NUL character"


@pytest.fixture
def provider_client(demo, login):
    return login("demo_provider")


@pytest.mark.parametrize(
    "path",
    [
        "/provider/?q=a%00b",
        "/provider/coupons/?q=%00",
        "/provider/?sort=name%00",
        "/admin/cards/friendcard/?q=a%00b",
        "/redemption/history/?code=%00",
        "/wechat/events/wx%00/",
    ],
)
def test_a_nul_in_a_page_request_is_a_400_in_words(provider_client, path):
    response = provider_client.get(path)
    assert response.status_code == 400, path
    assert NUL_WORDS in response.content.decode()


def test_the_400_page_speaks_the_users_language(provider_client):
    response = provider_client.get("/provider/?q=%00", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 400
    page = response.content.decode()
    assert '<html lang="zh-hans"' in page
    assert "空字符" in page  # "NUL character" in the zh-hans words


def test_a_nul_in_the_api_is_a_400_in_its_error_shape(demo, login):
    client = login("demo_staff")
    answer = client.get("/api/coins/balance?x=%00")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"
    assert NUL_WORDS in answer.json()["message"]
    # The JSON escape in a body, on a write.
    client.get("/admin/")  # the CSRF cookie
    answer = client.post(
        "/api/cards/preview",
        data=json.dumps({"card_type": "CASH", "title": "a\u0000b"}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=client.cookies[settings.CSRF_COOKIE_NAME].value,
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid"


def test_a_nul_in_a_form_or_a_cookie_writes_nothing(demo):
    from axes.models import AccessAttempt

    client = Client()
    answer = client.post(
        "/accounts/login/", {"username": "demo\x00staff", "password": "x"}
    )
    assert answer.status_code == 400
    assert not AccessAttempt.objects.exists()  # no failed login was recorded
    # A cookie's octal escape: unquoted, it is a NUL in the session key.
    cookie = f'{settings.SESSION_COOKIE_NAME}="abc\\000def"'
    assert client.get("/", HTTP_COOKIE=cookie).status_code == 400


def test_a_text_that_merely_shows_percent_00_is_taken(provider_client):
    # A typed "%00" is sent as %2500: it is text, searched for literally.
    response = provider_client.get("/provider/?q=%2500")
    assert response.status_code == 200
    assert response.context["q"] == "%00"


@pytest.mark.parametrize(
    "query",
    [
        {"page": "²"},
        {"page": "-5"},
        {"page": "9" * 40},
        {"page": "9" * 40, "q": "tea"},
        {"page": "²", "alert": "token"},
        {"page": "-5", "state": "active"},
        {"q": "茶" * 20000},
        {"q": "' OR 1=1; --"},
        {"sort": "name; DROP TABLE portal_merchant"},
        {"sort": "-"},
        {"alert": "nope"},
        {"state": "x" * 300},
    ],
)
def test_the_console_takes_any_parameter(provider_client, query):
    response = provider_client.get("/provider/", query)
    assert response.status_code == 200, query
    assert Merchant.objects.filter(name="Tea House").exists()


def test_a_search_longer_than_any_name_finds_nothing(provider_client):
    from cards.models import FriendCard

    FriendCard.objects.create(
        merchant=Merchant.objects.get(name="Tea House"),
        card_type="CASH",
        title="茶" * 9,
        status="DRAFT",
    )
    # SQLite refused the LIKE pattern (over 50,000 bytes): a server error.
    for text, name, found in (("茶" * 20000, "Tea" * 20000, 0), ("茶" * 3, "tea h", 1)):
        console = provider_client.get("/provider/", {"q": name})
        assert console.status_code == 200
        assert console.context["data"].total == found
        coupons = provider_client.get("/provider/coupons/", {"q": text})
        assert coupons.status_code == 200
        assert coupons.context["page"].paginator.count == found
    assert FriendCard.objects.count() == 1


def test_the_sandbox_answers_a_nul_as_wechat_does(sandbox):
    import requests

    answer = requests.get(
        sandbox.base_url + "cgi-bin/token",
        params={"grant_type": "client_credential", "appid": "wx\x00", "secret": "s"},
        timeout=10,
    )
    assert answer.status_code == 200
    assert answer.json()["errcode"] == 47001
