"""The local ledger: sync, filters, keyset pages, CSV, reconciliation, T+1 refunds."""

from __future__ import annotations

import csv
import io
import random
from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

import wechat
from cards.models import FriendCard
from coins import selectors, services
from coins.models import LedgerEntry
from tests.factories import process_events


def _movements(card, sandbox):
    merchant = card.merchant
    order = services.stock_order_quote(merchant=merchant, card=card, quantity=100)
    services.stock_order_confirm(order_id=order.pk)
    recharge = services.recharge_create(merchant=merchant, coin_count=20)
    sandbox.control(
        "POST", f"recharges/{recharge.order_id}/pay", json={"success": True}
    )
    return order, recharge


def test_sync_keeps_one_row_per_wechat_order_and_reconciles(coins_on, sandbox):
    merchant = coins_on.merchant
    order, recharge = _movements(coins_on, sandbox)
    services.ledger_sync(merchant=merchant)
    assert services.ledger_sync(merchant=merchant) == 0  # nothing new, nothing doubled
    assert LedgerEntry.objects.filter(merchant=merchant).count() == 3
    types = dict(
        LedgerEntry.objects.filter(merchant=merchant).values_list(
            "order_id", "order_type"
        )
    )
    assert types[order.quote_id] == "ORDER_TYPE_REDUCE"
    assert types[recharge.order_id] == "ORDER_TYPE_WXPAY"
    assert "ORDER_TYPE_SYS_ADD" in types.values()
    result = services.reconcile(merchant=merchant)
    assert result["matches"], result
    assert result["wechat"]["total_coin"] == Decimal("160.0")  # 200 − 60 + 20
    # A local row that went wrong is flagged.
    LedgerEntry.objects.filter(order_id=recharge.order_id).update(
        pay_coin_count=Decimal(25)
    )
    LedgerEntry.objects.filter(order_id=recharge.order_id).update(
        status="ORDER_STATUS_SUCC"
    )
    bad = services.ledger_local_balance(merchant=merchant)
    assert bad["total_coin"] == Decimal("165.0")


def test_the_t_plus_1_refund_arrives_in_the_ledger(coins_on, sandbox):
    card = coins_on
    merchant = card.merchant
    _movements(card, sandbox)
    end = card.definition["cash"]["base_info"]["date_info"]["end_timestamp"]
    days = (end - timezone.now().timestamp()) / 86400 + 1.2
    sandbox.advance(days * 86400)
    sandbox.control("GET", "clock")
    from sandbox.backends import ticker

    ticker.tick()
    ticker.tick()  # exactly once
    process_events()
    services.ledger_sync(merchant=merchant, since=timezone.now() - timedelta(days=3))
    refunds = LedgerEntry.objects.filter(
        merchant=merchant, order_type="ORDER_TYPE_REFUND"
    )
    assert refunds.count() == 1
    refund = refunds.get()
    assert refund.refund_free_coin_count + refund.refund_pay_coin_count == Decimal(
        "60.0"
    )
    assert services.reconcile(merchant=merchant)["matches"]


def _fill(merchant, n=130):
    base = timezone.now() - timedelta(days=10)
    types = ["ORDER_TYPE_WXPAY", "ORDER_TYPE_REDUCE", "ORDER_TYPE_SYS_ADD"]
    rng = random.Random(7)
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                merchant=merchant,
                order_id=f"o{i}",
                order_type=types[i % 3],
                status="ORDER_STATUS_FINANCE_SUCC",
                # Many rows share a second: the keyset must still be exact.
                create_time=base + timedelta(seconds=rng.randint(0, 40)),
                pay_coin_count=Decimal(i),
            )
            for i in range(n)
        ]
    )


def test_keyset_pages_cover_every_row_once_in_order(demo):
    merchant = demo["Demo Bistro"]
    _fill(merchant)
    for ascending in (False, True):
        filters = selectors.LedgerFilters(ascending=ascending)
        seen, after = [], ""
        while True:
            rows, after = selectors.ledger_page(
                merchant=merchant, filters=filters, after=after, size=25
            )
            seen += rows
            if not after:
                break
        assert len(seen) == 130 and len({r.pk for r in seen}) == 130
        keys = [(r.create_time, r.pk) for r in seen]
        assert keys == sorted(keys, reverse=not ascending)
    only = selectors.LedgerFilters(order_type="ORDER_TYPE_REDUCE")
    rows, _ = selectors.ledger_page(merchant=merchant, filters=only, size=200)
    assert {r.order_type for r in rows} == {"ORDER_TYPE_REDUCE"} and len(rows) == 43


def _table(response) -> str:
    html = response.content.decode()
    return html.split('<table id="ledger">', 1)[1].split("</table>", 1)[0]


def _csv(response) -> list[list[str]]:
    raw = b"".join(response.streaming_content)
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel on Chinese Windows
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


LEDGER = "admin:coins_ledgerentry_changelist"
EXPORT = "admin:coins_ledgerentry_export"


def test_ledger_page_filters_export_and_scope(demo, login):
    merchant = demo["Demo Bistro"]
    _fill(merchant, 60)
    client = login("demo_staff")
    page = client.get(reverse(LEDGER), {"type": "ORDER_TYPE_WXPAY"})
    table = _table(page)
    assert page.status_code == 200 and "data-next-page" not in page.content.decode()
    assert table.count("data-counted=") == 20  # 20 recharges
    none = _csv(client.get(reverse(EXPORT), {"exclude": "ORDER_STATUS_FINANCE_SUCC"}))
    assert len(none) == 1 and none[0][0] == "Time (Asia/Shanghai)"
    assert len(_csv(client.get(reverse(EXPORT)))) == 61
    other = login("other_staff").get(reverse(LEDGER))
    assert "o1<" not in other.content.decode()
    assert 'data-empty="not-synced"' in _table(other)
    assert login("demo_cashier").get(reverse(LEDGER)).status_code == 302


BAD_INPUT = [
    ({"from": "2026-02-30"}, "from"),
    ({"to": "2026-13-01"}, "to"),
    ({"from": "0001-01-01"}, "from"),
    ({"to": "9999-12-31"}, "to"),
    ({"from": "2026-03-10", "to": "2026-03-01"}, "to"),
    ({"type": "ORDER_TYPE_NOPE"}, "type"),
]


def _counts():
    from coins.models import CoinAccount, CoinEvent

    return (
        LedgerEntry.objects.count(),
        CoinEvent.objects.count(),
        CoinAccount.objects.count(),
    )


def test_bad_dates_and_values_are_refused_in_words_on_their_field(demo, login):
    _fill(demo["Demo Bistro"], 5)
    client = login("demo_staff")
    before = _counts()
    for params, field in BAD_INPUT:
        page = client.get(reverse(LEDGER), params)
        assert page.status_code == 400, params
        html = page.content.decode()
        label = html.split(f"field-{field} errors", 1)[1].split("</label>", 1)[0]
        assert 'class="errorlist" role="alert"' in label, params  # words on the field
        assert 'data-empty="invalid"' in _table(page)  # the page still renders
        export = client.get(reverse(EXPORT), params)
        assert export.status_code == 400 and not export.streaming, params
    assert _counts() == before  # nothing written


def test_a_crafted_page_cursor_is_refused_not_a_server_error(demo, login):
    import base64

    merchant = demo["Demo Bistro"]
    _fill(merchant, 60)
    client = login("demo_staff")
    first = client.get(reverse(LEDGER))
    link = first.content.decode().split('href="?', 2)[-1].split('"', 1)[0]
    assert "after=" in link  # a real next page link works
    assert (
        client.get(reverse(LEDGER) + "?" + link.replace("&amp;", "&")).status_code
        == 200
    )
    forged = [
        base64.urlsafe_b64encode(b"2026-01-01T00:00:00+00:00|99999999999999999999999")
        .decode()
        .rstrip("="),
        "not-a-cursor",
        "0001-01-01T00:00:00+14:00|1",
        link.split("after=", 1)[1][:-3] + "abc",
    ]
    for after in forged:
        page = client.get(reverse(LEDGER), {"after": after})
        assert page.status_code == 400, after
        assert "data-ledger-error" in page.content.decode()
    # Another merchant's (valid) cursor is refused as well.
    other = demo["Other Shop"]
    _fill(other, 60)
    theirs = selectors.ledger_page(
        merchant=other, filters=selectors.LedgerFilters(), size=5
    )[1]
    assert client.get(reverse(LEDGER), {"after": theirs}).status_code == 400


def _entry(merchant, order_id, order_type, status, minute, desc="", **amounts):
    base = timezone.make_aware(timezone.datetime(2026, 3, 1, 9, 0))
    return LedgerEntry.objects.create(
        merchant=merchant,
        order_id=order_id,
        order_type=order_type,
        status=status,
        desc=desc,
        create_time=base + timedelta(minutes=minute),
        **{k: Decimal(v) for k, v in amounts.items()},
    )


def _story(merchant):
    """The account opens (200 free), a recharge of 10 fails, one of 20 is paid,
    100 units of stock take 60, and a T+1 refund gives 30 back (SPEC §5)."""
    _entry(
        merchant,
        "gift",
        "ORDER_TYPE_SYS_ADD",
        "ORDER_STATUS_FINANCE_SUCC",
        0,
        free_coin_count=200,
    )
    _entry(
        merchant,
        "failed",
        "ORDER_TYPE_WXPAY",
        "ORDER_STATUS_ROLLBACK",
        1,
        pay_coin_count=10,
    )
    _entry(
        merchant, "paid", "ORDER_TYPE_WXPAY", "ORDER_STATUS_SUCC", 2, pay_coin_count=20
    )
    _entry(
        merchant,
        "stock",
        "ORDER_TYPE_REDUCE",
        "ORDER_STATUS_QUANTITY_SUCC",
        3,
        free_coin_count=60,
    )
    _entry(
        merchant,
        "refund",
        "ORDER_TYPE_REFUND",
        "ORDER_STATUS_HAS_REFUND",
        4,
        refund_free_coin_count=30,
    )


# (order, signed free, signed paid, counted, balance after), newest first.
STORY = [
    ("refund", "+30.00", "", True, "190.00"),
    ("stock", "\u221260.00", "", True, "160.00"),
    ("paid", "", "+20.00", True, "220.00"),
    ("failed", "", "+10.00", False, "200.00"),
    ("gift", "+200.00", "", True, "200.00"),
]


def _rows(table: str) -> list[tuple]:
    import re

    found = []
    for row in table.split("<tr class=")[1:]:
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        strip = [re.sub(r"<[^>]+>", "", c).strip() for c in cells]
        found.append(
            (strip[7], strip[4], strip[5], 'data-counted="yes"' in row, strip[6])
        )
    return found


def test_signed_amounts_running_balance_and_void_rows(demo, login):
    merchant = demo["Demo Bistro"]
    _story(merchant)
    client = login("demo_staff")
    page = client.get(reverse(LEDGER))
    table = _table(page)
    assert _rows(table) == STORY
    assert "<del>+10.00</del>" in table and "did not count" in table
    # Filtered: the balance is still the whole account's after each shown order.
    wxpay = _rows(_table(client.get(reverse(LEDGER), {"type": "ORDER_TYPE_WXPAY"})))
    assert wxpay == [STORY[2], STORY[3]]
    oldest = _rows(_table(client.get(reverse(LEDGER), {"sort": "asc"})))
    assert oldest == STORY[::-1]
    # Across keyset pages, both ways.
    for ascending in (False, True):
        filters = selectors.LedgerFilters(ascending=ascending)
        seen, after = [], ""
        while True:
            rows, after = selectors.ledger_page(
                merchant=merchant, filters=filters, after=after, size=2
            )
            seen += selectors.ledger_lines(merchant=merchant, rows=rows)
            if not after:
                break
        balances = [f"{line.balance:.2f}" for line in seen]
        expected = [b for *_, b in STORY]
        assert balances == (expected[::-1] if ascending else expected)
    empty = client.get(reverse(LEDGER), {"from": "2030-01-01"})
    assert 'data-empty="no-matches"' in _table(empty)


def test_the_running_balance_ends_where_the_local_ledger_adds_up(demo):
    """Every order type in every status: the per-row rules (signed amounts) and the
    ledger's balance (services.ledger_local_balance) agree."""
    merchant = demo["Demo Bistro"]
    minute = 0
    for order_type in LedgerEntry.OrderType.values:
        for status in LedgerEntry.OrderStatus.values:
            minute += 1
            _entry(
                merchant,
                f"{order_type}-{status}",
                order_type,
                status,
                minute,
                free_coin_count=minute,
                pay_coin_count=100 + minute,
                refund_free_coin_count=3,
                refund_pay_coin_count=5,
            )
    rows = list(LedgerEntry.objects.filter(merchant=merchant))
    lines = selectors.ledger_lines(merchant=merchant, rows=rows)
    newest = max(lines, key=lambda line: (line.entry.create_time, line.entry.pk))
    local = services.ledger_local_balance(merchant=merchant)
    assert newest.balance == local["total_coin"]
    assert sum(line.total for line in lines if line.counted) == local["total_coin"]


def test_csv_is_for_excel_translated_local_time_and_never_a_formula(demo, login):
    merchant = demo["Demo Bistro"]
    _story(merchant)
    evil = [
        '=HYPERLINK("http://x.example/","click")',
        "+1+1",
        "-2",
        "@SUM(A1)",
        "\tx",
        "\rx",
        "全场满500减50",
    ]
    for i, desc in enumerate(evil):
        _entry(
            merchant,
            f"evil{i}",
            "ORDER_TYPE_SYS_REDUCE",
            "ORDER_STATUS_SUCC",
            10 + i,
            free_coin_count=1,
            desc=desc,
        )
    client = login("demo_staff")
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/admin/"})
    rows = _csv(client.get(reverse(EXPORT), {"sort": "asc"}))
    header, body = rows[0], rows[1:]
    assert header[0] == "时间 (Asia/Shanghai)" and "余额" in header
    descs = [r[4] for r in body if r[-1].startswith("evil")]
    assert descs == ["'" + d if d[0] in "=+-@\t\r" else d for d in evil]
    gift = next(r for r in body if r[-1] == "gift")
    assert gift[0] == "2026-03-01 09:00:00"  # local time, as entered (Asia/Shanghai)
    assert gift[1] == "平台赠送" or gift[1] != "ORDER_TYPE_SYS_ADD"
    stock = next(r for r in body if r[-1] == "stock")
    assert stock[5] == "-60.00" and stock[7] == "160.00"  # numbers stay numbers
    failed = next(r for r in body if r[-1] == "failed")
    assert failed[3] == "否" and failed[6] == "10.00" and failed[7] == "200.00"
    assert body[-1][7] == "183.00"  # 190 − 7 deductions of 1


def test_reconcile_reads_on_get_and_checks_with_wechat_on_post(
    coins_on, sandbox, login
):
    from coins.models import CoinAccount

    merchant = coins_on.merchant
    # A recharge paid while WeChat's pushes go nowhere: only a sync will see it.
    sandbox.account(merchant.appid, merchant.appsecret.plain(), callback_url="")
    recharge = services.recharge_create(merchant=merchant, coin_count=20)
    sandbox.control(
        "POST", f"recharges/{recharge.order_id}/pay", json={"success": True}
    )
    client = login("demo_staff")
    url = reverse("admin:coins_ledgerentry_reconcile")

    def wechat_reads():
        return sum(
            sandbox.calls(p, merchant.appid)
            for p in ("card/pay/getorderlist", "card/pay/getcoinsinfo")
        )

    def state():
        account = CoinAccount.objects.get(merchant=merchant)
        return LedgerEntry.objects.count(), account.balance_at, account.total_coin

    reads, before = wechat_reads(), state()
    for _ in range(2):
        page = client.get(url)
        assert page.status_code == 200 and "data-reconcile=" in page.content.decode()
    assert (
        wechat_reads() == reads and state() == before
    )  # a GET asks and writes nothing
    done = client.post(url)
    assert done.status_code == 302 and done["Location"] == url
    assert wechat_reads() > reads
    rows, _at, total = state()
    at_wechat = wechat.for_merchant(merchant).coin.get_order_list(
        offset=0, count=50, ascending=True, begin_time=0
    )
    # Every WeChat order is in the local ledger now, the paid recharge included.
    assert rows == at_wechat.total and rows > before[0] and total == before[2] + 20
    page = client.get(url).content.decode()
    assert 'data-reconcile="ok"' in page
    strict = login("demo_staff")
    strict.handler.enforce_csrf_checks = True
    assert strict.post(url).status_code == 403  # the check is a CSRF-protected POST


def test_unused_cards_are_not_touched_by_the_refund(coins_on):
    assert FriendCard.objects.get(pk=coins_on.pk).quantity == 0


def test_the_sync_states_each_rows_balance_and_restates_after_a_late_change(
    coins_on, sandbox
):
    """The stored running balance equals the one added up from the past, after new
    orders and after an old order's status changes (a late payment)."""
    merchant = coins_on.merchant
    sandbox.account(merchant.appid, merchant.appsecret.plain(), callback_url="")
    first = services.recharge_create(merchant=merchant, coin_count=30)
    services.recharge_create(merchant=merchant, coin_count=5)
    services.ledger_sync(merchant=merchant)
    rows = list(
        LedgerEntry.objects.filter(merchant=merchant).order_by("-create_time", "-id")
    )
    assert all(r.balance_after is not None for r in rows)
    stored = [
        line.balance for line in selectors.ledger_lines(merchant=merchant, rows=rows)
    ]
    LedgerEntry.objects.filter(merchant=merchant).update(balance_after=None)
    added_up = [
        line.balance for line in selectors.ledger_lines(merchant=merchant, rows=rows)
    ]
    assert stored == added_up and stored[-1] == Decimal(200)  # the free coins first
    # The first recharge is paid later: its row counts now, and every later row moves.
    sandbox.control("POST", f"recharges/{first.order_id}/pay", json={"success": True})
    services.ledger_sync(merchant=merchant)
    rows = list(
        LedgerEntry.objects.filter(merchant=merchant).order_by("-create_time", "-id")
    )
    assert rows[0].balance_after == Decimal(230)
    assert services.ledger_local_balance(merchant=merchant)["total_coin"] == Decimal(
        230
    )
