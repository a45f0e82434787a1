"""The coin account and its balance (SPEC §5: activate, getcoinsinfo)."""

from __future__ import annotations

import logging

from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.jobs import enqueue
from portal.models import Merchant
from wechat import errors as wx

from ..models import CoinAccount, CoinEvent
from .common import client_for, coin_event

log = logging.getLogger("coins")

BALANCE_REFRESH_WINDOW = 2  # seconds


def coin_account_activate(*, merchant: Merchant, actor=None) -> CoinAccount:
    """card/pay/activate (once per appid; 200 free coins the first time)."""
    reward = client_for(merchant).coin.activate()
    account, _created = CoinAccount.objects.get_or_create(merchant=merchant)
    activated = CoinAccount.objects.filter(
        pk=account.pk, activated_at__isnull=True
    ).update(activated_at=timezone.now())
    if activated:
        coin_event(
            merchant,
            CoinEvent.Kind.ACTIVATED,
            actor=actor,
            answer={"reward": str(reward)},
            message=_("%(reward)s free coins") % {"reward": reward},
        )
    return coin_balance_refresh(merchant=merchant)


def coin_balance_refresh(*, merchant: Merchant) -> CoinAccount:
    """getcoinsinfo → the cached balance (an account WeChat says is not open stays so)."""
    account, _created = CoinAccount.objects.get_or_create(merchant=merchant)
    try:
        balance = client_for(merchant).coin.coins_info()
    except wx.WeChatError as exc:
        if exc.is_(wx.E.NO_PAYMENT_PERMISSION):
            CoinAccount.objects.filter(pk=account.pk).update(activated_at=None)
            account.refresh_from_db()
            return account
        raise
    CoinAccount.objects.filter(pk=account.pk).update(
        free_coin=balance.free_coin,
        pay_coin=balance.pay_coin,
        total_coin=balance.total_coin,
        balance_at=timezone.now(),
        activated_at=account.activated_at or timezone.now(),
    )
    account.refresh_from_db()
    return account


def refresh_quietly(merchant: Merchant) -> None:
    """The balance, read again; a failure is logged, never raised (the beat reads
    it again later)."""
    try:
        coin_balance_refresh(merchant=merchant)
    except wx.WeChatError as exc:
        log.warning("balance refresh for %s failed: %s", merchant.appid, exc)


def schedule_balance_refresh(merchant: Merchant) -> None:
    """One getcoinsinfo for a burst of coin movements: the first of a window
    schedules a refresh at its end, which sees every movement by then."""
    if cache.add(f"coins:balance-refresh:{merchant.pk}", 1, BALANCE_REFRESH_WINDOW):
        enqueue("coins.refresh_balance", merchant.pk, countdown=BALANCE_REFRESH_WINDOW)
