"""API schemas of the coins app: what the live pages poll."""

from __future__ import annotations

from ninja import Schema


class BalanceOut(Schema):
    """Coins as decimal strings ("200.00"): exact, never a float."""

    activated: bool
    free_coin: str
    pay_coin: str
    total_coin: str


class BalanceWithWaitingOut(BalanceOut):
    recharges_waiting: int


class StockOrderOut(Schema):
    status: str
    status_label: str
    seconds_left: int
    error: str
    shortfall: str
    recharge_coins: int
    can_confirm: bool
    price: str
    quantity: int
    card_stock: int
    balance: BalanceOut


class RechargeOut(Schema):
    status: str
    status_label: str
    settled_by: str
    settled_by_label: str | None = None
    problem: str = ""
    balance: BalanceOut
