"""/api/coins/: what the live pages poll (stock order countdown, recharge status, balance).

Every operation needs the coin capability (the router's); ``request.auth`` is the
tenant, whose ``get_or_404`` looks objects up among the merchant's own only.
"""

from __future__ import annotations

from django.utils import timezone

from portal.api import PortalRouter
from portal.labels import source_label
from portal.roles import Capability

from . import display, selectors, services
from .models import CoinAccount, Recharge, StockOrder
from .schemas import BalanceWithWaitingOut, RechargeOut, StockOrderOut

router = PortalRouter(tags=["coins"], capability=Capability.COINS)


def _balance(merchant) -> dict:
    account = CoinAccount.objects.filter(merchant=merchant).first()
    if account is None:
        return {
            "activated": False,
            "free_coin": "0",
            "pay_coin": "0",
            "total_coin": "0",
        }
    return {
        "activated": account.activated_at is not None,
        "free_coin": str(account.free_coin),
        "pay_coin": str(account.pay_coin),
        "total_coin": str(account.total_coin),
    }


@router.get("/balance", response=BalanceWithWaitingOut, url_name="coins_balance")
def balance(request):
    """The balance WeChat last reported (free, paid, total) and the recharges still
    waiting for their payment (the dashboard shows both, live)."""
    merchant = request.auth.merchant
    return {
        **_balance(merchant),
        "recharges_waiting": selectors.recharges_waiting_count(merchant=merchant),
    }


@router.get(
    "/stock-orders/{order_id}", response=StockOrderOut, url_name="coins_stock_order"
)
def stock_order(request, order_id: int):
    """A stock order's state, for the countdown page."""
    order = request.auth.get_or_404(
        StockOrder.objects.select_related("card"), pk=order_id
    )
    short = services.shortfall(order=order)
    return {
        "status": order.status,
        "status_label": order.get_status_display(),
        "seconds_left": services.seconds_left(order, timezone.now()),
        # In the reader's language, from the status and errcode (not stored text).
        "error": display.stock_order_message(order),
        "shortfall": str(short),
        "recharge_coins": services.coins_to_recharge(short),
        "can_confirm": order.status == StockOrder.Status.QUOTED and not short,
        "price": str(order.price),
        "quantity": order.quantity,
        "card_stock": order.card.quantity,
        "balance": _balance(request.auth.merchant),
    }


@router.get("/recharges/{recharge_id}", response=RechargeOut, url_name="coins_recharge")
def recharge(request, recharge_id: int):
    """A recharge's state and the balance, for the QR code page."""
    item = request.auth.get_or_404(Recharge.objects.all(), pk=recharge_id)
    return {
        "status": item.status,
        "status_label": item.get_status_display(),
        "settled_by": item.settled_by,
        "problem": item.problem_message,
        "settled_by_label": source_label(item.settled_by) or None,
        "balance": _balance(request.auth.merchant),
    }
