"""Many sub-merchants with known figures, written straight to the database (the
console's tests and bench/providers.py). Every figure is chosen here from the
merchant's index, so a test checks the console against these numbers, never
against the console's own reading."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from cards.models import CardStatus, CardType, FriendCard
from coins.models import CoinAccount, LedgerEntry
from portal.models import Merchant, Provider, WeChatEvent

A = Merchant.Authorization


@dataclass
class Expected:
    name: str
    appid: str
    state: str
    coins_open: bool
    balance: Decimal | None
    in_review: int = 0
    approved: int = 0
    rejected: int = 0
    stock: int = 0
    low_stock: int = 0
    expiring: int = 0
    redemptions_today: int = 0
    last_event: str = ""


def _state(i: int) -> str:
    if i % 17 == 5:
        return A.REVOKED
    if i % 23 == 7:
        return A.REAUTHORIZE
    if i % 29 == 3:
        return A.INSUFFICIENT
    return A.ACTIVE


def build(
    provider: Provider,
    count: int,
    *,
    cards_each: int = 6,
    ledger_each: int = 0,
    prefix: str = "Shop",
    start: int = 0,
) -> list[Expected]:
    """``count`` sub-merchants of ``provider`` with cards, coins, events and a
    ledger; returns what the console must show for each."""
    now = timezone.now()
    expected: list[Expected] = []
    merchants = []
    for i in range(start, start + count):
        merchants.append(
            Merchant(
                name=f"{prefix} {i:04d}",
                appid=f"wx{zlib.crc32(prefix.encode()) % 10**6:06d}{i:010d}",
                provider=provider,
                access=Merchant.Access.COMPONENT,
                authorization=_state(i),
                authorizer_refresh_token=f"refreshtoken@@@{prefix}{i}",
                func_ids=[8, 13],
            )
        )
    Merchant.objects.bulk_create(merchants)
    merchants = list(
        Merchant.objects.filter(appid__in=[m.appid for m in merchants]).order_by("name")
    )
    cards, accounts, events, ledger = [], [], [], []
    for offset, merchant in enumerate(merchants):
        i = start + offset
        coins_open = i % 4 != 0
        balance = Decimal((i * 37) % 500) if coins_open else None
        row = Expected(
            name=merchant.name,
            appid=merchant.appid,
            state=merchant.authorization,
            coins_open=coins_open,
            balance=balance,
        )
        if coins_open:
            accounts.append(
                CoinAccount(
                    merchant=merchant,
                    activated_at=now,
                    free_coin=balance,
                    pay_coin=0,
                    total_coin=balance,
                    balance_at=now,
                )
            )
        for j in range(cards_each):
            kind = j % 5
            status = {
                0: CardStatus.IN_REVIEW,
                1: CardStatus.APPROVED,
                2: CardStatus.APPROVED,
                3: CardStatus.REJECTED if i % 3 == 0 else CardStatus.DRAFT,
                4: CardStatus.DRAFT,
            }[kind]
            quantity = (i + j) % 50 if status == CardStatus.APPROVED else 0
            soon = (i + j) % 11 == 0
            # Some approved coupons ended weeks ago (WeChat keeps them approved).
            ended = (i + j) % 13 == 6 and not soon
            end = now + timedelta(days=-20 if ended else 3 if soon else 30)
            cards.append(
                FriendCard(
                    merchant=merchant,
                    card_type=CardType.CASH,
                    status=status,
                    card_id=None
                    if status == CardStatus.DRAFT
                    else f"p{merchant.appid[2:]}{j:03d}",
                    title=f"全场满{100 + j}减{10 + j % 7}",
                    brand_name=f"{prefix}{i}",
                    quantity=quantity,
                    total_quantity=quantity,
                    begin_at=now - timedelta(days=1),
                    end_at=end,
                )
            )
            if status == CardStatus.IN_REVIEW:
                row.in_review += 1
            elif status == CardStatus.APPROVED:
                row.approved += 1
                row.stock += quantity
                row.low_stock += quantity < 10
                row.expiring += soon
            elif status == CardStatus.REJECTED:
                row.rejected += 1
        for k in range(i % 3):  # redemptions today
            events.append(_event(merchant, "user_consume_card", f"t{k}"))
        row.redemptions_today = i % 3
        if i % 2 == 0:
            events.append(_event(merchant, "card_pass_check", "latest"))
            row.last_event = "card_pass_check"
        elif i % 3:
            row.last_event = "user_consume_card"
        for k in range(ledger_each):
            ledger.append(
                LedgerEntry(
                    merchant=merchant,
                    order_id=f"{merchant.appid}-{k}",
                    order_type=LedgerEntry.OrderType.REDUCE,
                    status=LedgerEntry.OrderStatus.QUANTITY_SUCC,
                    create_time=now - timedelta(hours=k),
                    free_coin_count=Decimal("1.5"),
                    pay_coin_count=0,
                    refund_free_coin_count=0,
                    refund_pay_coin_count=0,
                )
            )
        expected.append(row)
    CoinAccount.objects.bulk_create(accounts)
    FriendCard.objects.bulk_create(cards, batch_size=2000)
    WeChatEvent.objects.bulk_create(events, batch_size=2000)
    LedgerEntry.objects.bulk_create(ledger, batch_size=5000)
    # The redemptions just now; the "latest" event a second after them.
    WeChatEvent.objects.filter(
        merchant_id__in=[m.pk for m in merchants], event="card_pass_check"
    ).update(received_at=timezone.now() + timedelta(seconds=1))
    return expected


def _event(merchant: Merchant, name: str, key: str) -> WeChatEvent:
    return WeChatEvent(
        merchant=merchant,
        event=name,
        msg_type="event",
        from_user="o_factory",
        create_time=0,
        dedupe_key=f"{name}|{key}",
        raw="<xml/>",
        payload={"Event": name},
        status=WeChatEvent.Status.HANDLED,
    )
