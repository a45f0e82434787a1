"""What redemption does with WeChat's pushes (SPEC §7, §10). They run in the worker:
a receive is recorded (with its channel); a consume or a deletion is a hint that
makes the portal read the code (code/get) — WeChat's answer is what is recorded."""

from __future__ import annotations

from portal import events

from . import services


@events.handler("user_get_card", calls_wechat=True)
def on_user_get_card(event) -> None:
    services.code_received(merchant=event.merchant, payload=event.payload)


@events.handler("user_consume_card", calls_wechat=True)
def on_user_consume_card(event) -> None:
    services.code_check(
        merchant=event.merchant,
        code=str(event.payload.get("UserCardCode", "")),
        payload=event.payload,
    )


@events.handler("user_del_card", calls_wechat=True)
def on_user_del_card(event) -> None:
    services.code_check(
        merchant=event.merchant, code=str(event.payload.get("UserCardCode", ""))
    )
