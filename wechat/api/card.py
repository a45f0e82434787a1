"""Card management (SPEC §3): create, get, update, delete, batchget; distribution
(SPEC §6): QR codes and the test whitelist."""

from __future__ import annotations

from dataclasses import dataclass, field

from .base import BaseAPI


@dataclass(frozen=True)
class CardInfo:
    """What ``card/get`` says about a card."""

    card_id: str
    card_type: str
    title: str
    status: str
    quantity: int
    total_quantity: int
    definition: dict = field(repr=False)  # the card object as WeChat holds it


@dataclass(frozen=True)
class CardList:
    card_ids: list[str]
    total: int


@dataclass(frozen=True)
class CardQRCode:
    """What ``card/qrcode/create`` answers: draw ``url`` as the QR code."""

    ticket: str
    url: str
    show_qrcode_url: str
    expire_seconds: int | None  # None: permanent


class CardAPI(BaseAPI):
    def create(self, card: dict) -> str:
        """``card/create`` with ``{"card": card}`` → the new card_id.

        Doc: 朋友的券 → 创建朋友的券接口. Not safe to retry blindly: a lost answer
        may have created the card (the caller finds it again with batchget).
        """
        data = self.client.call("POST", "card/create", json_body={"card": card})
        return data["card_id"]

    def get(self, card_id: str) -> CardInfo:
        """``card/get``: the card with its title, review status and stock."""
        data = self.client.call(
            "POST", "card/get", json_body={"card_id": card_id}, safe_to_retry=True
        )
        card = data["card"]
        card_type = card["card_type"]
        base = card.get(card_type.lower(), {}).get("base_info", {})
        sku = base.get("sku") or {}
        return CardInfo(
            card_id=base.get("id", card_id),
            card_type=card_type,
            title=base.get("title", ""),
            status=base.get("status", ""),
            quantity=int(sku.get("quantity", 0)),
            total_quantity=int(sku.get("total_quantity", 0)),
            definition=card,
        )

    def update(self, card_id: str, card_type: str, changes: dict) -> bool:
        """``card/update`` with only the fields that change → ``send_check``
        (True: the card went back to review). Doc: 更新朋友的券信息接口.

        Safe to retry: sending the same new values twice leaves the same card.
        """
        data = self.client.call(
            "POST",
            "card/update",
            json_body={"card_id": card_id, card_type.lower(): changes},
            safe_to_retry=True,
        )
        return bool(data.get("send_check", False))

    def delete(self, card_id: str) -> None:
        """``card/delete``: the card can no longer be received or used."""
        self.client.call(
            "POST", "card/delete", json_body={"card_id": card_id}, safe_to_retry=True
        )

    def batchget(
        self, *, offset: int = 0, count: int = 50, status_list: list[str] | None = None
    ) -> CardList:
        """``card/batchget``: card ids of the account, newest last."""
        body: dict = {"offset": offset, "count": count}
        if status_list:
            body["status_list"] = status_list
        data = self.client.call(
            "POST", "card/batchget", json_body=body, safe_to_retry=True
        )
        return CardList(
            card_ids=list(data.get("card_id_list", [])),
            total=int(data.get("total_num", 0)),
        )

    def qrcode_create(
        self,
        card_id: str,
        *,
        expire_seconds: int | None = None,
        is_unique_code: bool = False,
        outer_id: int | None = None,
        outer_str: str | None = None,
        openid: str | None = None,
    ) -> CardQRCode:
        """``card/qrcode/create`` with action ``QR_CARD`` (friend coupons take no
        other, SPEC §6). Doc: 朋友的券 → 投放朋友的券 → 生成二维码接口.
        ``expire_seconds`` 60–1800, None = permanent; ``outer_id`` (0–2³¹−1) and
        ``outer_str`` (≤ 128) come back in ``user_get_card``. Safe to retry: a
        second QR code of the same card is harmless."""
        card: dict = {"card_id": card_id, "is_unique_code": is_unique_code}
        if outer_id is not None:
            card["outer_id"] = outer_id
        if outer_str:
            card["outer_str"] = outer_str
        if openid:
            card["openid"] = openid
        body: dict = {"action_name": "QR_CARD", "action_info": {"card": card}}
        if expire_seconds is not None:
            body["expire_seconds"] = expire_seconds
        data = self.client.call(
            "POST", "card/qrcode/create", json_body=body, safe_to_retry=True
        )
        expires = data.get("expire_seconds")
        return CardQRCode(
            ticket=str(data["ticket"]),
            url=str(data["url"]),
            show_qrcode_url=str(data.get("show_qrcode_url", "")).strip(),
            expire_seconds=int(expires) if expires else None,
        )

    def testwhitelist_set(
        self, *, openids: list[str] | None = None, usernames: list[str] | None = None
    ) -> None:
        """``card/testwhitelist/set``: the whole test whitelist (full replacement, at
        most 10 openids and usernames in all). Doc: 朋友的券 → 设置测试白名单接口.
        Safe to retry: sending the same list twice leaves the same list."""
        self.client.call(
            "POST",
            "card/testwhitelist/set",
            json_body={
                "openid": list(openids or []),
                "username": list(usernames or []),
            },
            safe_to_retry=True,
        )
