"""The WeChat API client. No Django models: per-domain APIs, token store, errors,
signatures and message crypto. ``wechat.for_merchant(merchant)`` builds a client."""

from __future__ import annotations


def for_merchant(merchant, **kwargs):
    """The client of one merchant, on the configured WeChat base (settings).

    One class either way (SPEC §4, §8): a merchant with its own AppSecret gets its
    token from ``cgi-bin/token``; a provider's sub-merchant through the provider's
    component (``api_authorizer_token`` with the refresh token kept in the portal).
    """
    from django.conf import settings

    from .client import WeChatClient

    base_url = kwargs.pop("base_url", settings.WECHAT_API_BASE)
    timeout = kwargs.pop("timeout", settings.WECHAT_TIMEOUT)
    if getattr(merchant, "via_component", False):
        from portal.providers.tokens import authorizer_token_source

        kwargs.setdefault(
            "token_source",
            authorizer_token_source(
                merchant, base_url=base_url, timeout=timeout, store=kwargs.get("store")
            ),
        )
        return WeChatClient(
            merchant.appid, base_url=base_url, timeout=timeout, **kwargs
        )
    return WeChatClient(
        merchant.appid, merchant.appsecret, base_url=base_url, timeout=timeout, **kwargs
    )


def for_provider(provider, **kwargs):
    """The provider's own client for WeChat's open platform (``client.component``),
    carrying the component access token (SPEC §8)."""
    from django.conf import settings

    from portal.providers.tokens import component_client

    return component_client(
        provider,
        base_url=kwargs.pop("base_url", settings.WECHAT_API_BASE),
        timeout=kwargs.pop("timeout", settings.WECHAT_TIMEOUT),
        **kwargs,
    )
