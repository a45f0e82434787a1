"""The till page (issue 10 §3) as the server renders it: who lands there, the store
chosen once (only one the membership allows), and what the page's script needs."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from portal.models import Membership, Store

pytestmark = pytest.mark.django_db


def _stores(merchant_name: str):
    return Store.objects.filter(merchant__name=merchant_name).order_by("poi_id")


def test_a_cashier_lands_on_the_till(demo, client):
    from portal.demo import DEMO_PASSWORD

    answer = client.post(
        reverse("login"),
        {"username": "demo_cashier", "password": DEMO_PASSWORD},
        follow=True,
    )
    assert answer.redirect_chain[-1][0] == reverse("redemption:home")
    assert b"data-till-store" in answer.content


def test_the_store_is_chosen_once_and_kept(demo, login):
    cashier = login("demo_cashier")
    page = cashier.get(reverse("redemption:home"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "data-till-no-store" in html and "data-till-code" not in html
    assert set(re.findall(r'<option value="(\d+)"', html)) == {
        str(s.pk) for s in _stores("Demo Bistro")
    }
    square = _stores("Demo Bistro").get(poi_id="100001")
    chosen = cashier.post(reverse("redemption:choose_store"), {"store": square.pk})
    assert chosen.status_code == 302
    page = cashier.get(reverse("redemption:home")).content.decode()
    assert "data-till-code" in page and "data-till-camera" in page
    assert f'<option value="{square.pk}" selected>' in page
    for name in ("lookup", "consume", "recent"):
        assert reverse(f"api:redemption_{name}") in page
    strings = json.loads(
        re.search(
            r'id="till-strings" type="application/json">(.*?)</script>', page
        ).group(1)
    )
    assert strings["checking"] and strings["outcomes"]["consumed"]
    assert "vendor/html5-qrcode/html5-qrcode.min.js" in page
    # No inline script: only files, and the JSON data block.
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page)
    assert all('type="application/json"' in attrs for attrs in inline), inline


def test_a_store_of_another_merchant_or_not_allowed_is_not_chosen(demo, login):
    cashier = login("demo_cashier")
    foreign = _stores("Other Shop").first()
    cashier.post(reverse("redemption:choose_store"), {"store": foreign.pk})
    assert (
        "data-till-code" not in cashier.get(reverse("redemption:home")).content.decode()
    )
    jingan = _stores("Demo Bistro").get(poi_id="100002")
    membership = Membership.objects.get(user__username="demo_cashier")
    membership.stores.set([jingan])
    square = _stores("Demo Bistro").get(poi_id="100001")
    cashier.post(reverse("redemption:choose_store"), {"store": square.pk})
    page = cashier.get(reverse("redemption:home")).content.decode()
    # Bound to one store: that one, without a choice.
    assert "data-till-code" in page and "data-till-store-name" in page
    assert jingan.name in page.replace("&#x27;", "'") and 'id="till-store"' not in page


def test_staff_and_owners_may_use_the_till_and_strangers_may_not(demo, login, client):
    for username in ("demo_owner", "demo_staff"):
        assert login(username).get(reverse("redemption:home")).status_code == 200
    answer = client.get(reverse("redemption:home"))
    assert answer.status_code == 302 and reverse("login") in answer["Location"]
    assert (
        client.post(reverse("redemption:choose_store"), {"store": 1}).status_code == 302
    )


def test_the_history_link_is_there(demo, login):
    store = _stores("Demo Bistro").first()
    login_client = login("demo_cashier")
    login_client.post(reverse("redemption:choose_store"), {"store": store.pk})
    page = login_client.get(reverse("redemption:home")).content.decode()
    assert "data-till-history" in page
    assert 'href="/redemption/history/"' in page


def test_the_page_speaks_chinese(demo, login):
    cashier = login("demo_cashier")
    cashier.post(
        reverse("redemption:choose_store"),
        {"store": _stores("Demo Bistro").first().pk},
    )
    page = cashier.get(reverse("redemption:home"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    html = page.content.decode()
    assert "核销券码" in html and "摄像头扫码" in html and "本店最近 20 次核销" in html
