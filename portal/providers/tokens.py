"""Where a provider's and a sub-merchant's access tokens come from (SPEC §4, §8).

``WeChatClient`` stays one class: these build its token source. The component
access token and each authorizer access token are ``CachedCredential``\\s in the
shared cache (one refresh at a time across processes, as every token); what WeChat
hands over that must outlive the cache — the latest ticket, the authorizer refresh
token — is read from and written to the database, encrypted.

Every read here is fresh from the database: a client built before a merchant was
revoked refuses its next call all the same.
"""

from __future__ import annotations

from wechat import errors
from wechat.client import WeChatClient
from wechat.tokens import AuthorizerTokenSource, ComponentTokenSource

from ..models import Merchant, Provider


def _provider_secrets(provider_id: int) -> dict:
    row = (
        Provider.objects.filter(pk=provider_id)
        .values(
            "component_appid",
            "component_appsecret",
            "component_token",
            "component_encoding_aes_key",
        )
        .first()
    )
    return row or {}


def _ticket(provider_id: int) -> str | None:
    value = (
        Provider.objects.filter(pk=provider_id)
        .values_list("verify_ticket", flat=True)
        .first()
    )
    return value or None


def component_client(
    provider: Provider, *, base_url: str, timeout: float, store=None, session=None
) -> WeChatClient:
    """The provider's client: ``client.component`` with the component access token."""
    return _component_client(
        provider.pk, base_url=base_url, timeout=timeout, store=store, session=session
    )


def _component_client(
    provider_id: int, *, base_url: str, timeout: float, store=None, session=None
) -> WeChatClient:
    from . import services

    secrets = _provider_secrets(provider_id)
    configured = all(
        secrets.get(k)
        for k in (
            "component_appid",
            "component_appsecret",
            "component_token",
            "component_encoding_aes_key",
        )
    )

    def check() -> None:
        if not configured:
            raise errors.ComponentNotConfigured(path="cgi-bin/component/")

    source = ComponentTokenSource(
        secrets.get("component_appsecret", ""),
        ticket=lambda: _ticket(provider_id),
        check=check,
        on_answer=lambda exc: services.provider_record_answer(
            provider_id=provider_id, error=exc
        ),
    )
    return WeChatClient(
        secrets.get("component_appid") or f"provider-{provider_id}",
        base_url=base_url,
        timeout=timeout,
        store=store,
        session=session,
        token_source=source,
    )


_REFUSALS = {
    Merchant.Authorization.REVOKED: errors.AuthorizationRevoked,
    Merchant.Authorization.REAUTHORIZE: errors.ReauthorizationNeeded,
    Merchant.Authorization.INSUFFICIENT: errors.PermissionsMissing,
}


def merchant_check(merchant_id: int) -> None:
    """Raise the typed error that says why nothing may be sent for the merchant
    (revoked, needs re-authorization, permissions missing); None when it may."""
    state = (
        Merchant.objects.filter(pk=merchant_id)
        .values_list("authorization", flat=True)
        .first()
    )
    refusal = _REFUSALS.get(state)
    if refusal is not None:
        raise refusal(path="")


def _refresh_token(merchant_id: int) -> str:
    value = (
        Merchant.objects.filter(pk=merchant_id)
        .values_list("authorizer_refresh_token", flat=True)
        .first()
    )
    return value or ""


def authorizer_token_source(
    merchant: Merchant, *, base_url: str, timeout: float, store=None
) -> AuthorizerTokenSource:
    """The token source of a sub-merchant served through its provider's component."""
    from . import services

    merchant_id, provider_id = merchant.pk, merchant.provider_id

    def component() -> WeChatClient:
        # Built only when a refresh needs it: a call with a cached token costs
        # the merchant's state and the cache, nothing more.
        return _component_client(
            provider_id, base_url=base_url, timeout=timeout, store=store
        )

    return AuthorizerTokenSource(
        component,
        key=f"provider-{provider_id}",
        refresh_token=lambda: _refresh_token(merchant_id),
        refresh_token_changed=lambda old, new: services.merchant_refresh_token_replace(
            merchant_id=merchant_id, old=old, new=new
        ),
        refresh_token_refused=lambda: services.merchant_needs_reauthorization(
            merchant_id=merchant_id
        ),
        check=lambda: merchant_check(merchant_id),
    )
