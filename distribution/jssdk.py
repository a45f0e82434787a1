"""What the H5 campaign page hands to the JS-SDK (SPEC §6), signed on the server for
each request: ``wx.config`` with the jsapi signature of the page's own URL, and each
card's ``cardExt`` signed over the ``wx_card`` api_ticket. The tickets themselves
never leave the server."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlsplit

from django.conf import settings

import wechat
from wechat import errors as wx
from wechat import signatures

log = logging.getLogger("distribution")

WECHAT_JSSDK = "https://res.wx.qq.com/open/js/jweixin-1.6.0.js"
JS_API_LIST = ["addCard"]


def jssdk_url() -> str:
    """Where the page loads the JS-SDK: ``WECHAT_JSSDK_URL``, else the sandbox's
    stand-in when WeChat is the sandbox, else WeChat's own."""
    configured = getattr(settings, "WECHAT_JSSDK_URL", "")
    if configured:
        return configured
    base = settings.WECHAT_API_BASE
    if base.rstrip("/").endswith("/sandbox"):
        return base.rstrip("/") + "/jssdk/jweixin.js"
    return WECHAT_JSSDK


def jssdk_origin() -> str | None:
    parts = urlsplit(jssdk_url())
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def card_ext(*, api_ticket: str, card_id: str, outer_str: str) -> str:
    """One card's cardExt (a JSON string): timestamp, nonce_str, the signature over
    the sorted values of api_ticket, timestamp, card_id, nonce_str (no code, no
    openid: friend coupons have neither), and the channel's outer_str."""
    timestamp = str(int(time.time()))
    nonce = signatures.new_nonce()
    signature = signatures.card_ext_signature(
        api_ticket=api_ticket, timestamp=timestamp, card_id=card_id, nonce_str=nonce
    )
    ext = {"timestamp": timestamp, "nonce_str": nonce, "signature": signature}
    if outer_str:
        ext["outer_str"] = outer_str
    return json.dumps(ext, separators=(",", ":"))


def page_signatures(
    *, merchant, url: str, card_ids: list[str], outer_str: str
) -> dict | None:
    """``{"config": {...wx.config}, "cardList": [{cardId, cardExt}]}`` for the page
    at ``url``, or None when WeChat gives no ticket now (the page then says so)."""
    client = wechat.for_merchant(merchant)
    try:
        jsapi = client.ticket.jsapi()
        wx_card = client.ticket.wx_card()
    except wx.WeChatError as exc:
        log.warning("no JS-SDK ticket for %s: %s", merchant.appid, exc.errcode)
        return None
    config = signatures.jsapi_config(appid=merchant.appid, jsapi_ticket=jsapi, url=url)
    config["jsApiList"] = list(JS_API_LIST)
    return {
        "config": config,
        "cardList": [
            {
                "cardId": card_id,
                "cardExt": card_ext(
                    api_ticket=wx_card, card_id=card_id, outer_str=outer_str
                ),
            }
            for card_id in card_ids
        ],
    }
