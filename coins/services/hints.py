"""WeChat's ``card_pay_order`` pushes (SPEC §10): hints, never proof.

A push that says coins moved makes the portal read WeChat sooner — the recharge
is polled now, the stock order is read now, the ledger is synced — and only those
reads move money. A forged or replayed push can cause nothing but a harmless read.
"""

from __future__ import annotations

from django.core.cache import cache

from portal.jobs import enqueue
from portal.models import Merchant

from ..models import StockOrder
from .account import schedule_balance_refresh
from .recharges import recharges_look_now

POLL_KICK_WINDOW = 1  # seconds: one poll task for a burst of pushes
LEDGER_SYNC_WINDOW = 5  # seconds: one ledger sync per merchant for a burst


def on_card_pay_order(*, merchant: Merchant, payload: dict) -> None:
    """card_pay_order: look at WeChat now about the order it names."""
    order_id = str(payload.get("OrderId", ""))[:255]
    if not order_id:
        return
    for recharge_id in recharges_look_now(merchant=merchant, order_id=order_id):
        enqueue("coins.check_recharge", recharge_id)
    if cache.add("coins:poll-kick", 1, POLL_KICK_WINDOW):
        enqueue("coins.poll_recharges")
    order = (
        StockOrder.objects.filter(merchant=merchant, quote_id=order_id)
        .exclude(status=StockOrder.Status.CONFIRMED)
        .values_list("pk", flat=True)
        .first()
    )
    if order is not None:
        enqueue("coins.check_stock_order", order)
    if cache.add(f"coins:ledger-sync:{merchant.pk}", 1, LEDGER_SYNC_WINDOW):
        enqueue("coins.sync_ledger", merchant.pk, countdown=LEDGER_SYNC_WINDOW)
    schedule_balance_refresh(merchant)
