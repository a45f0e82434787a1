"""Coins (券点) and stock (SPEC §5): activate, quote, balance, confirm, recharge, orders.

Amounts are ``Decimal``: WeChat writes them as JSON strings or numbers, never floats
here. Confirm and recharge are not safe to repeat: a lost answer raises
``UnknownOutcome`` and is settled by reading (getorder / getorderlist / card/get).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from .base import BaseAPI


def _dec(value) -> Decimal:
    return Decimal(str(value if value not in (None, "") else "0"))


def _time(value) -> datetime | None:
    seconds = int(value or 0)
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None


@dataclass(frozen=True)
class Quote:
    order_id: str
    price: Decimal
    free_coin: Decimal
    pay_coin: Decimal


@dataclass(frozen=True)
class Balance:
    free_coin: Decimal
    pay_coin: Decimal
    total_coin: Decimal


@dataclass(frozen=True)
class RechargeOrder:
    order_id: str
    qrcode_url: str
    qrcode_buffer: str


@dataclass(frozen=True)
class OrderInfo:
    order_id: str
    status: str
    order_type: str
    create_time: datetime | None
    pay_finish_time: datetime | None
    desc: str
    free_coin_count: Decimal
    pay_coin_count: Decimal
    refund_free_coin_count: Decimal
    refund_pay_coin_count: Decimal
    openid: str

    @classmethod
    def from_wechat(cls, info: dict) -> OrderInfo:
        return cls(
            order_id=str(info["order_id"]),
            status=str(info.get("status", "")),
            order_type=str(info.get("order_type", "")),
            create_time=_time(info.get("create_time")),
            pay_finish_time=_time(info.get("pay_finish_time")),
            desc=str(info.get("desc", "")),
            free_coin_count=_dec(info.get("free_coin_count")),
            pay_coin_count=_dec(info.get("pay_coin_count")),
            refund_free_coin_count=_dec(info.get("refund_free_coin_count")),
            refund_pay_coin_count=_dec(info.get("refund_pay_coin_count")),
            openid=str(info.get("openid", "")),
        )


@dataclass(frozen=True)
class OrderPage:
    total: int
    orders: list[OrderInfo]


class CoinAPI(BaseAPI):
    def activate(self) -> Decimal:
        """``card/pay/activate``: open the coin account; the reward (200 the first
        time, 0 after). Doc: 开通券点账户接口. Safe to repeat."""
        data = self.client.call(
            "GET", "card/pay/activate", safe_to_retry=True, decimals=True
        )
        return _dec(data.get("reward"))

    def get_pay_price(self, card_id: str, quantity: int) -> Quote:
        """``card/pay/getpayprice``: a quote valid once, within 60 s (SPEC §5).
        Safe to repeat: an unused quote simply dies."""
        data = self.client.call(
            "POST",
            "card/pay/getpayprice",
            json_body={"card_id": card_id, "quantity": quantity},
            safe_to_retry=True,
            decimals=True,
        )
        return Quote(
            order_id=str(data["order_id"]),
            price=_dec(data.get("price")),
            free_coin=_dec(data.get("free_coin")),
            pay_coin=_dec(data.get("pay_coin")),
        )

    def coins_info(self) -> Balance:
        """``card/pay/getcoinsinfo``: free, paid and total coins."""
        data = self.client.call(
            "GET", "card/pay/getcoinsinfo", safe_to_retry=True, decimals=True
        )
        return Balance(
            free_coin=_dec(data.get("free_coin")),
            pay_coin=_dec(data.get("pay_coin")),
            total_coin=_dec(data.get("total_coin")),
        )

    def confirm(self, card_id: str, order_id: str, quantity: int) -> None:
        """``card/pay/confirm``: turn the quoted coins into stock. Irreversible and
        NOT safe to repeat: a lost answer raises UnknownOutcome (settle by reading)."""
        self.client.call(
            "POST",
            "card/pay/confirm",
            json_body={"card_id": card_id, "order_id": order_id, "quantity": quantity},
        )

    def recharge(self, coin_count: int) -> RechargeOrder:
        """``card/pay/recharge``: a WeChat Pay order for ``coin_count`` coins (1 coin =
        1 yuan) with the QR code's URL. Not repeated blindly: it would make a second
        order."""
        data = self.client.call(
            "POST", "card/pay/recharge", json_body={"coin_count": coin_count}
        )
        return RechargeOrder(
            order_id=str(data["order_id"]),
            qrcode_url=str(data.get("qrcode_url", "")),
            qrcode_buffer=str(data.get("qrcode_buffer", "")),
        )

    def get_order(self, order_id: str) -> OrderInfo:
        """``card/pay/getorder``: one order's status (SPEC §5 statuses)."""
        data = self.client.call(
            "POST",
            "card/pay/getorder",
            json_body={"order_id": order_id},
            safe_to_retry=True,
            decimals=True,
        )
        return OrderInfo.from_wechat(data["order_info"])

    def get_order_list(
        self,
        *,
        offset: int = 0,
        count: int = 50,
        order_type: str | None = None,
        exclude_status: str | None = None,
        ascending: bool = False,
        begin_time: int | None = None,
        end_time: int | None = None,
    ) -> OrderPage:
        """``card/pay/getorderlist``: one page of the coin ledger (default: last week)."""
        body: dict = {
            "offset": offset,
            "count": count,
            "sort_info": {
                "sort_key": "SORT_BY_TIME",
                "sort_type": "SORT_ASC" if ascending else "SORT_DESC",
            },
        }
        if order_type:
            body["order_type"] = order_type
        if exclude_status:
            body["nor_filter"] = {"status": exclude_status}
        if begin_time is not None:
            body["begin_time"] = begin_time
        if end_time is not None:
            body["end_time"] = end_time
        data = self.client.call(
            "POST",
            "card/pay/getorderlist",
            json_body=body,
            safe_to_retry=True,
            decimals=True,
        )
        return OrderPage(
            total=int(data.get("total_num", 0)),
            orders=[OrderInfo.from_wechat(o) for o in data.get("order_list", [])],
        )
