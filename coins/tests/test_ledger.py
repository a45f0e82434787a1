"""The local ledger: sync, filters, keyset pages, CSV, reconciliation, T+1 refunds."""

from __future__ import annotations

import csv
import io
import random
from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

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


def test_ledger_page_filters_export_and_scope(demo, login):
    merchant = demo["Demo Bistro"]
    _fill(merchant, 60)
    client = login("demo_staff")
    page = client.get(
        reverse("admin:coins_ledgerentry_changelist"), {"type": "ORDER_TYPE_WXPAY"}
    )
    html = page.content.decode()
    assert page.status_code == 200 and "data-next-page" not in html
    table = html.split('<table id="ledger">', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == 21  # header + 20 recharges
    csv_response = client.get(
        reverse("admin:coins_ledgerentry_export"),
        {"exclude": "ORDER_STATUS_FINANCE_SUCC"},
    )
    rows = list(
        csv.reader(io.StringIO(b"".join(csv_response.streaming_content).decode()))
    )
    assert rows[0][0] == "order_id" and len(rows) == 1
    all_rows = client.get(reverse("admin:coins_ledgerentry_export"))
    assert (
        len(
            list(csv.reader(io.StringIO(b"".join(all_rows.streaming_content).decode())))
        )
        == 61
    )
    other = (
        login("other_staff")
        .get(reverse("admin:coins_ledgerentry_changelist"))
        .content.decode()
    )
    assert "o1<" not in other and "No orders yet" in other
    assert (
        login("demo_cashier")
        .get(reverse("admin:coins_ledgerentry_changelist"))
        .status_code
        == 302
    )


def test_unused_cards_are_not_touched_by_the_refund(coins_on):
    assert FriendCard.objects.get(pk=coins_on.pk).quantity == 0
