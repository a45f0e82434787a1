"""WeChat's card_pay_order pushes (SPEC §10) and the dashboard's coin section."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal import dashboard, events
from portal.roles import Capability, can

from . import selectors, services
from .models import CoinAccount, StockOrder


@events.handler("card_pay_order", inline=True)
def on_card_pay_order(event) -> None:
    services.on_card_pay_order(merchant=event.merchant, payload=event.payload)


@dashboard.register(order=5)  # the balance comes first
def coins_section(request):
    if not can(request.role, Capability.COINS):
        return None
    merchant = request.merchant
    account = CoinAccount.objects.filter(merchant=merchant).first()
    activated = bool(account and account.activated_at)
    waiting = selectors.recharges_waiting_count(merchant=merchant)
    quoted = StockOrder.objects.filter(
        merchant=merchant, status=StockOrder.Status.QUOTED
    ).count()
    alerts = []
    if not activated:
        alerts.append(
            {
                "level": "warning",
                "text": _(
                    "The coin account is not open yet: stock cannot be bought "
                    "until it is."
                ),
                "url": "#section-coins",
                "action": _("Open the coin account"),
            }
        )
    if quoted:
        alerts.append(
            {
                "level": "warning",
                "text": ngettext(
                    "%(n)d stock quote waits for your confirmation (quotes last 60 "
                    "seconds).",
                    "%(n)d stock quotes wait for your confirmation (quotes last 60 "
                    "seconds).",
                    quoted,
                )
                % {"n": quoted},
                "url": reverse("admin:coins_stockorder_changelist")
                + "?status__exact=quoted",
                "action": _("Open"),
            }
        )
    return {
        "key": "coins",
        "title": _("Coin balance"),
        "template": "coins/dashboard_section.html",
        "span": 4,
        "account": account,
        "activated": activated,
        "waiting": waiting,
        "quoted": quoted,
        "alerts": alerts,
        "waiting_url": reverse("admin:coins_recharge_changelist")
        + "?status__exact=waiting",
        "activate_url": reverse("admin:coins_coins_activate"),
        "balance_url": reverse("api:coins_balance"),
        "buy_url": reverse("admin:coins_stockorder_add"),
        "recharge_url": reverse("admin:coins_recharge_add"),
        "ledger_url": reverse("admin:coins_ledgerentry_changelist"),
    }
