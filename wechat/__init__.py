"""The WeChat API client. No Django models: per-domain APIs, token store, errors,
signatures and message crypto. ``wechat.for_merchant(merchant)`` builds a client."""

from __future__ import annotations


def for_merchant(merchant, **kwargs):
    """The client of one merchant, on the configured WeChat base (settings)."""
    from django.conf import settings

    from .client import WeChatClient

    return WeChatClient(
        merchant.appid,
        merchant.appsecret,
        base_url=kwargs.pop("base_url", settings.WECHAT_API_BASE),
        timeout=kwargs.pop("timeout", settings.WECHAT_TIMEOUT),
        **kwargs,
    )
