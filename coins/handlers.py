"""WeChat's card_pay_order pushes (SPEC §10) and the dashboard's coin section."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from portal import dashboard, events
from portal.roles import Capability, can

from . import services
from .models import CoinAccount, Recharge, StockOrder


@events.handler("card_pay_order", inline=True)
def on_card_pay_order(event) -> None:
    services.on_card_pay_order(merchant=event.merchant, payload=event.payload)


@dashboard.register(order=20)
def coins_section(request):
    if not can(request.role, Capability.COINS):
        return None
    merchant = request.merchant
    account = CoinAccount.objects.filter(merchant=merchant).first()
    return {
        "key": "coins",
        "title": _("Coins"),
        "template": "coins/dashboard_section.html",
        "account": account,
        "activated": bool(account and account.activated_at),
        "waiting": Recharge.objects.filter(
            merchant=merchant, status=Recharge.Status.WAITING
        ).count(),
        "quoted": StockOrder.objects.filter(
            merchant=merchant, status=StockOrder.Status.QUOTED
        ).count(),
        "activate_url": reverse("admin:coins_coins_activate"),
        "balance_url": reverse("api:coins_balance"),
        "buy_url": reverse("admin:coins_stockorder_add"),
        "recharge_url": reverse("admin:coins_recharge_add"),
        "ledger_url": reverse("admin:coins_ledgerentry_changelist"),
    }
