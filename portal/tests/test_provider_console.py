"""The provider console for hundreds of sub-merchants (SPEC §8), and tenancy between
providers: another provider's staff get 404 on every page and API of them."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cards.models import FriendCard
from coins.models import StockOrder
from portal.models import Merchant, Provider, ProviderStaff
from portal.tests import provider_factory

pytestmark = pytest.mark.django_db
A = Merchant.Authorization


@pytest.fixture
def acme(db):
    """A provider with its own staff member."""
    provider = Provider.objects.create(name="Acme Services")
    user = get_user_model().objects.create_user("acme_staff", password="x-long-pass-1")
    ProviderStaff.objects.create(provider=provider, user=user)
    return provider


@pytest.fixture
def acme_client(acme, login):
    return login("acme_staff")


def _rows(response) -> list:
    return response.context["data"].rows


def test_the_console_shows_every_sub_merchant_with_its_figures(acme, acme_client):
    expected = provider_factory.build(acme, 12)
    response = acme_client.get(reverse("provider:console"))
    assert response.status_code == 200
    rows = {row.merchant.appid: row for row in _rows(response)}
    assert set(rows) == {e.appid for e in expected}
    for e in expected:
        row = rows[e.appid]
        assert row.merchant.authorization == e.state
        assert row.coins_open == e.coins_open
        if e.coins_open:
            assert row.balance == e.balance
        assert (row.in_review, row.approved, row.rejected) == (
            e.in_review,
            e.approved,
            e.rejected,
        )
        assert row.stock == e.stock and row.expiring == e.expiring
        assert row.redemptions_today == e.redemptions_today
        assert row.redemptions_week == e.redemptions_today
        assert row.last_event == e.last_event
    html = response.content.decode()
    for e in expected:
        assert f'data-merchant="{e.appid}" data-state="{e.state}"' in html


def test_the_rows_show_the_figures_and_escape_every_name(acme, acme_client):
    expected = provider_factory.build(acme, 3)
    hostile = '<img src=x onerror="alert(1)"> & Co'
    Merchant.objects.filter(appid=expected[0].appid).update(name=hostile)
    html = acme_client.get(reverse("provider:console")).content.decode()
    assert hostile not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; Co</a>" in html
    for e in expected:
        row = html.split(f'data-merchant="{e.appid}"', 1)[1].split("</tr>", 1)[0]
        assert f'<td class="num" data-stock>{e.stock}</td>' in row
        assert f'<td class="num">{e.in_review} / {e.approved}</td>' in row
        if e.coins_open:
            assert f"data-balance>{e.balance:.2f}</td>" in row
        else:
            assert 'data-balance><span class="muted">not open</span>' in row
        assert (
            f'name="merchant" value="{Merchant.objects.get(appid=e.appid).pk}"' in row
        )


def test_recent_changes_name_the_merchant(acme, acme_client):
    from portal.models import ProviderEvent
    from portal.providers import services

    (expected,) = provider_factory.build(acme, 1)
    merchant = Merchant.objects.get(appid=expected.appid)
    Merchant.objects.filter(pk=merchant.pk).update(name='<i>Tea & "Co"</i>')
    services.provider_event(
        acme.pk, ProviderEvent.Kind.REVOKED, merchant_id=merchant.pk
    )
    at = timezone.localtime(ProviderEvent.objects.get(merchant=merchant).at)
    html = acme_client.get(reverse("provider:console")).content.decode()
    section = html.split('class="provider-history"', 1)[1]
    assert (
        "Merchant revoked the authorization — "
        "&lt;i&gt;Tea &amp; &quot;Co&quot;&lt;/i&gt;</li>"
    ) in section
    stamp = at.strftime("%Y-%m-%d %H:%M")
    assert (
        f'<time datetime="{at.replace(microsecond=0).isoformat()}">{stamp}</time>'
        in section
    )


def test_search_filters_and_alerts(acme, acme_client):
    expected = provider_factory.build(acme, 40)
    url = reverse("provider:console")

    def appids(**params):
        return {r.merchant.appid for r in _rows(acme_client.get(url, params))}

    assert appids(q="Shop 0007") == {expected[7].appid}
    assert appids(q=expected[12].appid) == {expected[12].appid}
    assert appids(state=A.REVOKED) == {
        e.appid for e in expected if e.state == A.REVOKED
    }
    assert appids(alert="rejected") == {e.appid for e in expected if e.rejected}
    assert appids(alert="token") == {e.appid for e in expected if e.state != A.ACTIVE}
    assert appids(alert="low_stock") == {e.appid for e in expected if e.low_stock}
    assert appids(alert="expiring") == {e.appid for e in expected if e.expiring}
    low = {e.appid for e in expected if e.coins_open and e.balance < 50}
    assert appids(alert="low_balance") == low
    counts = acme_client.get(url).context["data"].alert_counts
    assert counts["rejected"] == sum(1 for e in expected if e.rejected)
    assert counts["low_balance"] == len(low)


def test_sorting_and_pages(acme, acme_client):
    expected = provider_factory.build(acme, 60)
    url = reverse("provider:console")
    first = acme_client.get(url)
    assert first.context["data"].total == 60
    names = [r.merchant.name for r in _rows(first)]
    assert names == sorted(e.name for e in expected)[:50]
    second = acme_client.get(url, {"page": 2})
    assert [r.merchant.name for r in _rows(second)] == sorted(e.name for e in expected)[
        50:
    ]
    by_balance = acme_client.get(url, {"sort": "-balance"})
    balances = [r.balance or 0 for r in _rows(by_balance)]
    want = sorted((e.balance or 0 for e in expected), reverse=True)[:50]
    assert balances == want
    by_stock = acme_client.get(url, {"sort": "stock", "alert": "rejected"})
    stocks = [r.stock for r in _rows(by_stock)]
    assert stocks == sorted(e.stock for e in expected if e.rejected)


def test_a_filtered_count_is_right_on_every_page_and_past_the_end(acme, acme_client):
    """Filtered, the total comes with the page's ids (a window count), or on its
    own when the page asked for is past the end (Django then shows the last)."""
    expected = provider_factory.build(acme, 130)
    url = reverse("provider:console")
    shops = sorted(e.name for e in expected if e.state == A.ACTIVE)
    assert len(shops) > 100  # three pages
    for page, shown in (("1", shops[:50]), ("3", shops[100:]), ("9", shops[100:])):
        for asked in ({"state": A.ACTIVE}, {"q": "Shop", "state": A.ACTIVE}):
            data = acme_client.get(url, {**asked, "page": page}).context["data"]
            assert data.total == len(shops), (asked, page)
            assert [r.merchant.name for r in data.rows] == shown, (asked, page)
            assert data.page.paginator.num_pages == 3
    nothing = acme_client.get(url, {"q": "no such shop", "page": 2}).context["data"]
    assert (nothing.total, nothing.rows) == (0, [])


def test_every_sort_orders_by_its_figure_then_by_name(acme, acme_client):
    expected = {e.appid: e for e in provider_factory.build(acme, 30)}
    url = reverse("provider:console")
    figures = {
        "review": lambda e: e.in_review,
        "stock": lambda e: e.stock,
        "redemptions": lambda e: e.redemptions_today,  # all of them this week
        "balance": lambda e: e.balance or 0,
        "state": lambda e: e.state,
        "name": lambda e: "",
    }
    for key, figure in figures.items():
        for sort in (key, f"-{key}"):
            if sort == "-state":
                continue
            got = [
                r.merchant.appid for r in _rows(acme_client.get(url, {"sort": sort}))
            ]
            by_name = sorted(expected.values(), key=lambda e: e.name)
            if sort == "-name":
                by_name.reverse()
            want = sorted(by_name, key=figure, reverse=sort.startswith("-"))
            assert got == [e.appid for e in want], sort
    newest = _rows(acme_client.get(url, {"sort": "-last_event"}))
    stamps = [r.last_event_at for r in newest if r.last_event_at]
    assert stamps == sorted(stamps, reverse=True) and stamps


def test_search_ignores_case_and_takes_wildcards_literally(acme, acme_client):
    provider_factory.build(acme, 5)
    special = Merchant.objects.filter(provider=acme).order_by("name").first()
    Merchant.objects.filter(pk=special.pk).update(name="50% off_Shop \\ 全场")
    url = reverse("provider:console")

    def names(q):
        return [r.merchant.name for r in _rows(acme_client.get(url, {"q": q}))]

    assert names("shop 0001") == ["Shop 0001"]
    assert names("50%") == ["50% off_Shop \\ 全场"]
    assert names("f_s") == ["50% off_Shop \\ 全场"]
    assert names("\\ 全") == ["50% off_Shop \\ 全场"]
    assert names("%") == names("_") == ["50% off_Shop \\ 全场"]
    assert names("x%y") == []


def test_queries_per_page_do_not_grow_with_the_merchants(acme, acme_client):
    url = reverse("provider:console")
    provider_factory.build(acme, 5, prefix="Few")
    acme_client.get(url)  # warm (session, content types)
    with CaptureQueriesContext(connection) as few:
        acme_client.get(url, {"sort": "-redemptions"})
    provider_factory.build(acme, 120, prefix="Many")
    with CaptureQueriesContext(connection) as many:
        response = acme_client.get(url, {"sort": "-redemptions"})
    assert len(_rows(response)) == 50
    assert len(many.captured_queries) == len(few.captured_queries)


def test_entering_a_sub_merchant_acts_for_it(acme, acme_client):
    expected = provider_factory.build(acme, 3)
    merchant = Merchant.objects.get(appid=expected[1].appid)
    response = acme_client.post(reverse("provider:merchant_enter", args=[merchant.pk]))
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:index"
    )
    dashboard = acme_client.get(reverse("admin:index"))
    assert dashboard.context["current_merchant"] == merchant
    detail = acme_client.get(reverse("provider:merchant", args=[merchant.pk]))
    assert detail.status_code == 200 and merchant.appid in detail.content.decode()


# --- tenancy -----------------------------------------------------------------------------
def test_another_providers_staff_get_404_on_every_page_and_api_of_them(
    acme, acme_client, demo, login
):
    """demo_provider's sub-merchants, seen by Acme's staff: nothing."""
    provider_factory.build(acme, 2, prefix="Acme")
    tea = demo["Tea House"]
    card = FriendCard.objects.create(
        merchant=tea, card_type="CASH", title="Tea coupon", status="DRAFT"
    )
    now = timezone.now()
    order = StockOrder.objects.create(
        merchant=tea,
        card=card,
        quantity=1,
        quote_id="q-tea",
        price=1,
        free_coin=1,
        pay_coin=0,
        quoted_at=now,
        expires_at=now,
    )
    demo_provider = Provider.objects.get(name="Demo Provider")

    console = acme_client.get(reverse("provider:console"))
    assert tea.appid not in console.content.decode()
    assert "Tea House" not in console.content.decode()
    for name, args in (
        ("provider:merchant", [tea.pk]),
        ("admin:cards_friendcard_change", [card.pk]),
        ("admin:portal_store_change", [tea.stores.first().pk]),
    ):
        assert acme_client.get(reverse(name, args=args)).status_code == 404, name
    assert (
        acme_client.post(reverse("provider:merchant_enter", args=[tea.pk])).status_code
        == 404
    )
    asked = acme_client.get(reverse("provider:console"), {"provider": demo_provider.pk})
    assert asked.status_code == 404
    assert (
        acme_client.get(reverse("provider:coupons"), {"provider": demo_provider.pk})
    ).status_code == 404
    coupons = acme_client.get(reverse("provider:coupons"), {"q": "Tea"})
    assert "Tea coupon" not in coupons.content.decode()
    api = acme_client.get(reverse("api:coins_stock_order", args=[order.pk]))
    assert api.status_code == 404
    # The switcher refuses it too, and a forged session is re-checked.
    assert (
        acme_client.post(reverse("switch_merchant"), {"merchant": tea.pk}).status_code
        == 403
    )
    # demo_provider sees exactly its own.
    mine = login("demo_provider").get(reverse("provider:console"))
    assert sorted(r.merchant.name for r in _rows(mine)) == ["Noodle Bar", "Tea House"]
    assert (
        login("demo_provider")
        .get(
            reverse(
                "provider:merchant", args=[Merchant.objects.get(name="Acme 0000").pk]
            )
        )
        .status_code
        == 404
    )


def test_merchant_staff_and_strangers_have_no_console(demo, login):
    assert login("demo_staff").get(reverse("provider:console")).status_code == 404
    anonymous = login("demo_staff").__class__().get(reverse("provider:console"))
    assert anonymous.status_code == 302


def test_only_owners_keep_the_open_platform_settings(acme, acme_client):
    assert acme_client.get(reverse("provider:settings")).status_code == 403
    ProviderStaff.objects.filter(provider=acme).update(role=ProviderStaff.Role.OWNER)
    assert acme_client.get(reverse("provider:settings")).status_code == 200


def test_the_filters_keep_what_was_chosen(acme, acme_client):
    provider_factory.build(acme, 3)
    page = acme_client.get(
        reverse("provider:console"),
        {"state": A.REVOKED, "alert": "low_stock", "sort": "-balance"},
    ).content.decode()
    assert f'<option value="{A.REVOKED}" selected>' in page
    assert '<option value="low_stock" selected>' in page
    assert '<option value="-balance" selected>' in page
    form = page[page.index('class="provider-filters"') :]
    assert form[: form.index("</form>")].count(" selected>") == 3
    assert '<select name="state"><option value="">All</option>' in page


def test_select_options_escape_and_mark_the_chosen_one():
    from portal.templatetags.portal_ui import select_options

    html = select_options([("a", "A"), ('"><b>', "<i>x</i>"), (3, "three")], 3, "All")
    assert html == (
        '<option value="">All</option><option value="a">A</option>'
        '<option value="&quot;&gt;&lt;b&gt;">&lt;i&gt;x&lt;/i&gt;</option>'
        '<option value="3" selected>three</option>'
    )
    assert select_options({"k": "v"}, None) == '<option value="k">v</option>'
