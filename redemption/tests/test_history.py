"""The redemption history, today's counts and a card's codes (issue 10 §6): the rows
come from codes really received and consumed in the sandbox (real HTTP), except the
pagination and date tests, which need many rows or rows of chosen days."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

import wechat
from cards.models import FriendCard
from portal.models import Membership, Merchant, Store
from redemption import selectors, services
from redemption.models import Channel, Reason, RedemptionAttempt

A = RedemptionAttempt.Outcome
SHANGHAI = ZoneInfo("Asia/Shanghai")
HISTORY = "/redemption/history/"


def _user(username):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username)


def _attempt_ids(response) -> list[int]:
    return [
        int(x) for x in re.findall(r'data-attempt="(\d+)"', response.content.decode())
    ]


@pytest.fixture
def redeemed(stocked_card, receive, sandbox):
    """Demo Bistro's attempts, made for real: the owner consumes one code at the
    People's Square till, a device (API key) another; the cashier retries the first
    (already redeemed), tries a code at Jing'an where the card is not valid, and
    types a code WeChat does not know."""
    merchant = stocked_card.merchant
    square = Store.objects.get(merchant=merchant, poi_id="100001")
    jingan = Store.objects.get(merchant=merchant, poi_id="100002")
    owner, cashier = _user("demo_owner"), _user("demo_cashier")
    key, _raw = services.till_key_create(merchant=merchant, store=square, name="Till 1")
    first, second, third = (receive(stocked_card, f"o_h{i}")["code"] for i in range(3))
    made = {
        "owner": services.code_consume(
            merchant=merchant, code=first, store=square, user=owner
        ),
        "device": services.code_consume(
            merchant=merchant,
            code=second,
            store=square,
            channel=Channel.API,
            api_key=key,
        ),
        "again": services.code_consume(
            merchant=merchant, code=first, store=square, user=cashier
        ),
        "not_here": services.code_consume(
            merchant=merchant, code=third, store=jingan, user=cashier
        ),
        "unknown_code": services.code_consume(
            merchant=merchant, code="999999999999", store=jingan, user=cashier
        ),
    }
    assert made["owner"].outcome == made["device"].outcome == A.CONSUMED
    assert made["again"].reason == Reason.ALREADY_CONSUMED
    assert made["not_here"].reason == Reason.NOT_VALID_HERE
    assert made["unknown_code"].reason == Reason.INVALID_CODE
    return {
        "merchant": merchant,
        "card": stocked_card,
        "square": square,
        "jingan": jingan,
        "key": key,
        "codes": (first, second, third),
        **made,
    }


def test_owner_sees_every_attempt_newest_first_in_words(redeemed, login):
    page = login("demo_owner").get(HISTORY)
    assert page.status_code == 200
    html = page.content.decode()
    order = [redeemed[k].pk for k in ("unknown_code", "not_here", "again", "device")]
    assert _attempt_ids(page) == [*order, redeemed["owner"].pk]
    first = redeemed["codes"][0]
    assert f"<code data-code>{first}</code>" in html  # whole for an auditor
    assert "This coupon is not valid at this store." in html
    assert "This coupon has already been redeemed." in html
    assert "No coupon of this merchant has this code." in html
    assert ">Till 1<" in html and ">demo_owner<" in html and ">demo_cashier<" in html
    assert "Machine (API key)" in html and redeemed["card"].title in html
    assert ">40056<" in html  # WeChat's errcode of the unknown code
    assert "People&#x27;s Square" in html or "People's Square" in html
    assert 'data-empty="' not in html
    # Nothing consumed elsewhere yet: no such section.
    assert "data-consumed-elsewhere" not in html


def test_the_history_is_the_merchants_own(redeemed, login):
    other = login("other_staff").get(HISTORY)
    assert other.status_code == 200
    assert _attempt_ids(other) == []
    assert 'data-empty="none-yet"' in other.content.decode()
    assert redeemed["codes"][0] not in other.content.decode()
    # Filters naming Demo Bistro's store or card are not choices for Other Shop.
    refused = login("other_staff").get(
        HISTORY, {"store": redeemed["square"].pk, "card": redeemed["card"].pk}
    )
    assert refused.status_code == 400 and _attempt_ids(refused) == []
    csv_text = b"".join(
        login("other_staff").get(reverse("redemption:history_csv")).streaming_content
    ).decode("utf-8-sig")
    assert len(csv_text.strip().splitlines()) == 1  # the header only
    # A page link of Demo Bistro's does not open Other Shop's history either.
    owner_page = login("demo_owner").get(HISTORY, {"after": "x"})
    assert owner_page.status_code == 400


def test_each_filter(redeemed, login):
    client = login("demo_owner")
    r = redeemed

    def ids(**query):
        response = client.get(HISTORY, query)
        assert response.status_code == 200, response.content.decode()[:500]
        return set(_attempt_ids(response))

    everything = {
        r[k].pk for k in ("owner", "device", "again", "not_here", "unknown_code")
    }
    assert ids() == everything
    assert ids(store=r["square"].pk) == {r["owner"].pk, r["device"].pk, r["again"].pk}
    assert ids(store=r["jingan"].pk) == {r["not_here"].pk, r["unknown_code"].pk}
    assert ids(who=f"k{r['key'].pk}") == {r["device"].pk}
    assert ids(who=f"u{_user('demo_owner').pk}") == {r["owner"].pk}
    cashier = {r["again"].pk, r["not_here"].pk, r["unknown_code"].pk}
    assert ids(who=f"u{_user('demo_cashier').pk}") == cashier
    assert ids(channel="api") == {r["device"].pk}
    assert ids(card=r["card"].pk) == everything - {r["unknown_code"].pk}
    assert ids(outcome="consumed") == {r["owner"].pk, r["device"].pk}
    assert ids(outcome="refused") == cashier
    assert ids(outcome="refused", reason="not_valid_here") == {r["not_here"].pk}
    assert ids(code=r["codes"][0]) == {r["owner"].pk, r["again"].pk}
    today = timezone.localtime().date()
    assert ids(**{"from": today.isoformat(), "to": today.isoformat()}) == everything
    tomorrow = (today + timedelta(days=1)).isoformat()
    none = client.get(HISTORY, {"from": tomorrow})
    assert _attempt_ids(none) == []
    assert 'data-empty="no-matches"' in none.content.decode()  # not "none yet"
    yesterday = (today - timedelta(days=1)).isoformat()
    assert ids(to=yesterday) == set()
    # A choice that is not one (a key id of nobody) is refused in words.
    bad = client.get(HISTORY, {"who": "k999999"})
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()


def test_days_are_the_merchants_and_bad_dates_are_refused_in_words(demo, login):
    bistro = demo["Demo Bistro"]
    store = bistro.stores.get(poi_id="100001")

    def at(local: datetime) -> RedemptionAttempt:
        attempt = RedemptionAttempt.objects.create(
            merchant=bistro,
            code="123412341234",
            store=store,
            channel=Channel.TILL,
            outcome=A.REFUSED,
            reason=Reason.EXPIRED,
        )
        RedemptionAttempt.objects.filter(pk=attempt.pk).update(created_at=local)
        return attempt

    # 00:30 on Dec 2 in Shanghai is still Dec 1 in UTC: it belongs to Dec 2.
    late = at(datetime(2026, 12, 2, 0, 30, tzinfo=SHANGHAI))
    early = at(datetime(2026, 12, 1, 23, 30, tzinfo=SHANGHAI))
    client = login("demo_owner")
    assert _attempt_ids(
        client.get(HISTORY, {"from": "2026-12-02", "to": "2026-12-02"})
    ) == [late.pk]
    assert _attempt_ids(client.get(HISTORY, {"to": "2026-12-01"})) == [early.pk]
    for query, words in (
        ({"from": "2026-13-01"}, "Give a day as YYYY-MM-DD, like 2026-12-01."),
        ({"to": "yesterday"}, "Give a day as YYYY-MM-DD, like 2026-12-01."),
        ({"from": "1999-12-31"}, "Give a day between 2000-01-01 and 2099-12-31."),
        (
            {"from": "2026-12-02", "to": "2026-12-01"},
            "The end date is before the start date.",
        ),
    ):
        response = client.get(HISTORY, query)
        assert response.status_code == 400, query
        html = response.content.decode()
        assert words in html and 'data-empty="invalid"' in html, query
        assert "data-export-csv" not in html
    zh = client.get(HISTORY, {"from": "2026-13-01"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert zh.status_code == 400 and "YYYY-MM-DD" in zh.content.decode()


def test_csv_has_a_bom_translated_headings_and_local_time(redeemed, login):
    client = login("demo_owner")
    response = client.get(
        reverse("redemption:history_csv"),
        {"store": redeemed["square"].pk},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    raw = b"".join(response.streaming_content)
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, lines = rows[0], rows[1:]
    assert header[0] == "时间 (Asia/Shanghai)", header
    assert header[1:4] == ["券码", "券", "门店"] and "微信错误码" in header, header
    assert len(lines) == 3  # the store filter holds
    owner = redeemed["owner"]
    line = next(x for x in lines if x[-1] == str(owner.pk))
    local = owner.created_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
    assert line[0] == local and line[1] == owner.code and line[4] == "demo_owner"
    refused = next(x for x in lines if x[-1] == str(redeemed["again"].pk))
    assert refused[6] == "被拒绝", refused
    assert refused[7] == "这张券已经核销过了。", refused
    # A cashier's history is on screen only.
    assert (
        login("demo_cashier").get(reverse("redemption:history_csv")).status_code == 403
    )


def test_pages_seek_and_cost_the_same_few_queries(demo, login):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    bistro = demo["Demo Bistro"]
    stores = list(bistro.stores.all())
    people = [_user("demo_cashier"), _user("demo_owner"), _user("demo_staff")]
    keys = [
        services.till_key_create(merchant=bistro, store=s, name=f"POS {s.poi_id}")[0]
        for s in stores
    ]
    cards = [
        FriendCard.objects.create(
            merchant=bistro, card_type="CASH", title=f"Card {n}", card_id=f"p{n}"
        )
        for n in range(5)
    ]
    RedemptionAttempt.objects.bulk_create(
        RedemptionAttempt(
            merchant=bistro,
            code=f"{i:012d}",
            store=stores[i % 2],
            card=cards[i % 5],
            channel=Channel.API if i % 3 == 0 else Channel.TILL,
            api_key=keys[i % 2] if i % 3 == 0 else None,
            user=None if i % 3 == 0 else people[i % 3],
            outcome=A.REFUSED,
            reason=Reason.INVALID_CODE,
        )
        for i in range(120)
    )
    client = login("demo_owner")
    client.get(HISTORY)  # the session's first request picks the merchant
    seen, query, pages, counts = [], {}, 0, []
    while True:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(HISTORY, query)
        counts.append(len(queries))
        assert response.status_code == 200
        ids = _attempt_ids(response)
        seen += ids
        pages += 1
        link = re.search(r'href="\?([^"]+)" data-next-page', response.content.decode())
        if not link:
            break
        query = dict(
            pair.split("=", 1)
            for pair in link.group(1).replace("&amp;", "&").split("&")
        )
        from urllib.parse import unquote

        query = {k: unquote(v) for k, v in query.items()}
    assert pages == 3 and len(seen) == 120 and len(set(seen)) == 120
    # No query per row: a page of 50 and the last page of 20 cost the same (the
    # first page also reads the codes consumed elsewhere).
    assert counts[1] == counts[2] and counts[0] == counts[1] + 1 <= 12, counts
    assert seen == sorted(seen, reverse=True)  # newest first, no gap, no repeat
    # A forged or foreign page link is refused in words.
    forged = client.get(HISTORY, {"after": "2026-01-01T00:00:00+00:00|5"})
    assert (
        forged.status_code == 400
        and "This page link is not valid" in forged.content.decode()
    )
    other = Merchant.objects.get(name="Other Shop")
    page_of_other = selectors.encode_cursor(
        RedemptionAttempt(merchant=other, created_at=timezone.now(), pk=1)
    )
    assert client.get(HISTORY, {"after": page_of_other}).status_code == 400


def test_cashier_sees_their_stores_with_codes_masked(redeemed, login):
    membership = Membership.objects.get(
        merchant=redeemed["merchant"], user__username="demo_cashier"
    )
    # The owner binds the cashier to Jing'an on the existing staff page.
    owner = login("demo_owner")
    change = reverse("admin:portal_membership_change", args=[membership.pk])
    form = owner.get(change)
    assert form.status_code == 200 and 'name="stores"' in form.content.decode()
    saved = owner.post(
        change,
        {"role": "cashier", "stores": [redeemed["jingan"].pk], "is_active": "on"},
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert list(membership.stores.all()) == [redeemed["jingan"]]

    page = login("demo_cashier").get(HISTORY)
    assert page.status_code == 200
    html = page.content.decode()
    assert set(_attempt_ids(page)) == {
        redeemed["not_here"].pk,
        redeemed["unknown_code"].pk,
    }
    third = redeemed["codes"][2]
    assert third not in html and f"••••••••{third[-4:]}" in html
    assert "data-export-csv" not in html
    assert 'name="who"' not in html  # no filter by colleague
    # A store outside theirs is not even a choice.
    assert (
        login("demo_cashier").get(HISTORY, {"store": redeemed["square"].pk}).status_code
        == 400
    )
    # Unbound again (= every store): everything.
    membership.stores.clear()
    assert len(_attempt_ids(login("demo_cashier").get(HISTORY))) == 5


def test_dashboard_counts_today_per_store_and_per_cashier(redeemed, login, sandbox):
    r = redeemed
    merchant = r["merchant"]
    # One more consumed today, by the cashier at People's Square.
    code = sandbox.control(
        "POST", f"cards/{r['card'].card_id}/receive", json={"openid": "o_more"}
    )["code"]
    services.code_consume(
        merchant=merchant, code=code, store=r["square"], user=_user("demo_cashier")
    )
    counts = selectors.today_counts(merchant=merchant)
    assert counts.count == 3
    assert counts.by_store == [("Demo Bistro · People's Square", 3)]
    assert sorted((label, n) for label, n, _ch in counts.by_who) == [
        ("Till 1", 1),
        ("demo_cashier", 1),
        ("demo_owner", 1),
    ]
    assert (
        selectors.today_counts(merchant=Merchant.objects.get(name="Other Shop")).count
        == 0
    )
    # One till's store only (what the till page shows), and a cashier's scope.
    assert selectors.today_counts(merchant, store=r["jingan"]).count == 0
    assert selectors.today_counts(merchant, store=r["square"]).count == 3
    jingan_only = selectors.StoreScope(frozenset({r["jingan"].pk}))
    assert selectors.today_counts(merchant, scope=jingan_only).by_store == []
    # Tomorrow nothing is today's.
    tomorrow = selectors.today_counts(
        merchant=merchant, now=timezone.now() + timedelta(days=1)
    )
    assert tomorrow.count == 0

    html = login("demo_owner").get(reverse("admin:index")).content.decode()
    assert '<span data-bind="redemptions_today">3</span>' in html
    assert "data-today-stores" in html and "data-today-who" in html
    assert "data-history-link" in html and "outcome=consumed" in html
    empty = login("other_staff").get(reverse("admin:index")).content.decode()
    assert "data-redemptions-empty" in empty


def test_consumed_elsewhere_and_the_cards_codes(redeemed, login, sandbox):
    r = redeemed
    merchant, card = r["merchant"], r["card"]
    third = r["codes"][2]
    # Someone redeems the third code in WeChat's back office; its push is a hint.
    wechat.for_merchant(merchant).code.consume(third, card_id=card.card_id)
    services.code_check(
        merchant=merchant, code=third, payload={"ConsumeSource": "FROM_MP"}
    )
    client = login("demo_owner")
    html = client.get(HISTORY).content.decode()
    assert "data-consumed-elsewhere" in html and f'data-elsewhere="{third}"' in html
    assert "WeChat&#x27;s back office" in html or "WeChat's back office" in html
    # Not one of the portal's attempts: no new attempt row.
    assert RedemptionAttempt.objects.filter(merchant=merchant).count() == 5

    page = client.get(reverse("admin:cards_friendcard_change", args=[card.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "data-card-codes" in html and "card-distribution" in html
    assert "<dd data-issued>3</dd>" in html
    assert '<dd data-status-count="CONSUMED">3</dd>' in html
    assert "<dd data-through-portal>2</dd>" in html
    assert "<dd data-elsewhere>1</dd>" in html
    assert "<dd data-refused>2</dd>" in html
    for code in r["codes"]:
        assert f'data-code="{code}"' in html
    assert f"/redemption/history/?card={card.pk}" in html


def test_unknown_attempts_are_marked(demo, login):
    bistro = demo["Demo Bistro"]
    RedemptionAttempt.objects.create(
        merchant=bistro,
        code="555566667777",
        channel=Channel.TILL,
        store=bistro.stores.first(),
        outcome=A.UNKNOWN,
        reason=Reason.CHECKING,
    )
    html = login("demo_owner").get(HISTORY).content.decode()
    assert 'data-outcome="unknown" class="checking"' in html
    assert "data-checking" in html and "Checking with WeChat" in html
    assert "We are checking whether the coupon was redeemed." in html


def test_the_sidebar_shows_history_and_keys_to_the_right_roles(demo, login):
    owner = login("demo_owner").get(HISTORY).content.decode()
    assert 'href="/redemption/keys/"' in owner and 'id="nav-sidebar"' in owner
    staff = login("demo_staff").get(HISTORY).content.decode()
    assert 'href="/redemption/history/"' in staff
    assert 'href="/redemption/keys/"' not in staff
    cashier = login("demo_cashier").get(HISTORY)
    assert cashier.status_code == 200
    assert 'id="nav-sidebar"' not in cashier.content.decode()
    assert 'href="/redemption/"' in cashier.content.decode()  # back to the till
