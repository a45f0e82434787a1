from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..client import WeChatClient


class BaseAPI:
    def __init__(self, client: WeChatClient):
        self.client = client
