"""Codes (SPEC §7): get, decrypt, mark, consume, unavailable.

Doc: 朋友的券 → 核销朋友的券 (seed 000: 查询Code接口, Code解码接口, Mark(占用)Code接口,
线下核销Code接口, 线上核销Code接口) and 卡券 → 设置卡券失效接口 (seed 002).
``consume`` and ``unavailable`` change a code for good: a lost answer raises
``UnknownOutcome`` and is settled by ``get`` (check_consume false), never by
sending them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from .base import BaseAPI


def _time(value) -> datetime | None:
    seconds = int(value or 0)
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds > 0 else None


@dataclass(frozen=True)
class CodeInfo:
    """What ``card/code/get`` says about a code."""

    code: str
    card_id: str
    openid: str  # who received it
    status: str  # user_card_status: NORMAL, CONSUMED, EXPIRE, GIFTING, …
    can_consume: bool
    begin_time: datetime | None
    end_time: datetime | None
    mark_openid: str  # "" when nobody holds a mark
    use_count: int


@dataclass(frozen=True)
class Consumed:
    """What ``card/code/consume`` answers."""

    card_id: str
    openid: str


class CodeAPI(BaseAPI):
    def get(
        self, code: str, *, card_id: str | None = None, check_consume: bool = True
    ) -> CodeInfo:
        """``card/code/get`` (查询Code接口). 40056 for a code never received; with
        ``check_consume`` true an abnormal code raises 40127, with false it comes
        back with its status and ``can_consume`` false. Safe to retry (a read)."""
        body: dict = {"code": code, "check_consume": check_consume}
        if card_id:
            body["card_id"] = card_id
        data = self.client.call(
            "POST", "card/code/get", json_body=body, safe_to_retry=True
        )
        card = data.get("card") or {}
        return CodeInfo(
            code=code,
            card_id=str(card.get("card_id", card_id or "")),
            openid=str(data.get("openid", "")),
            status=str(data.get("user_card_status", "")),
            can_consume=bool(data.get("can_consume", False)),
            begin_time=_time(card.get("begin_time")),
            end_time=_time(card.get("end_time")),
            mark_openid=str(data.get("mark_openid") or ""),
            use_count=int(data.get("use_count") or 0),
        )

    def decrypt(self, encrypt_code: str) -> str:
        """``card/code/decrypt`` (Code解码接口): the real code. ``encrypt_code`` must
        be percent-decoded exactly once (SPEC §7), else 40075. Safe to retry."""
        data = self.client.call(
            "POST",
            "card/code/decrypt",
            json_body={"encrypt_code": encrypt_code},
            safe_to_retry=True,
        )
        return str(data["code"])

    def mark(
        self, code: str, *, card_id: str, openid: str, is_mark: bool = True
    ) -> None:
        """``card/code/mark`` (Mark(占用)Code接口): hold the code for ``openid`` for
        5 minutes (is_mark true) or release it. 40146 marked by another user,
        40416 unmark by another user. Safe to retry: the same mark again is ok."""
        self.client.call(
            "POST",
            "card/code/mark",
            json_body={
                "code": code,
                "card_id": card_id,
                "openid": openid,
                "is_mark": is_mark,
            },
            safe_to_retry=True,
        )

    def consume(
        self, code: str, *, card_id: str | None = None, openid: str | None = None
    ) -> Consumed:
        """``card/code/consume``: offline ``{code}`` (线下核销Code接口) or online
        ``{code, openid}`` (线上核销Code接口, needs that openid's mark, else 40003).
        40099 already consumed, 40079 outside its validity, 40078 / 40127 deleted,
        unavailable or being given. NOT safe to retry: a lost answer raises
        ``UnknownOutcome``; settle it with ``get(check_consume=False)``."""
        body: dict = {"code": code}
        if card_id:
            body["card_id"] = card_id
        if openid:
            body["openid"] = openid
        data = self.client.call("POST", "card/code/consume", json_body=body)
        return Consumed(
            card_id=str((data.get("card") or {}).get("card_id", card_id or "")),
            openid=str(data.get("openid", "")),
        )

    def unavailable(
        self, code: str, *, reason: str = "", card_id: str | None = None
    ) -> None:
        """``card/code/unavailable`` (设置卡券失效接口): the code becomes
        UNAVAILABLE, irreversibly. NOT safe to retry (settle with ``get``)."""
        body: dict = {"code": code}
        if card_id:
            body["card_id"] = card_id
        if reason:
            body["reason"] = reason
        self.client.call("POST", "card/code/unavailable", json_body=body)
