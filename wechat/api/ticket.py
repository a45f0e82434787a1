"""JS-SDK tickets (SPEC §4, §6): jsapi for wx.config, wx_card for cardExt signatures."""

from __future__ import annotations

from .base import BaseAPI

KINDS = ("jsapi", "wx_card")


class TicketAPI(BaseAPI):
    def fetch(self, kind: str) -> tuple[str, int]:
        """``cgi-bin/ticket/getticket?type=…``: a new ticket and its lifetime (7200 s)."""
        if kind not in KINDS:
            raise ValueError(f"unknown ticket type {kind!r}")
        data = self.client.call(
            "GET", "cgi-bin/ticket/getticket", params={"type": kind}, safe_to_retry=True
        )
        return data["ticket"], int(data.get("expires_in", 7200))

    def get(self, kind: str) -> str:
        """The cached ticket of ``kind``, refreshed once across processes (WeChat
        rations getticket calls)."""
        return self.client.credential(f"ticket:{kind}", lambda: self.fetch(kind)).get()

    def jsapi(self) -> str:
        return self.get("jsapi")

    def wx_card(self) -> str:
        return self.get("wx_card")
