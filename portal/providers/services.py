"""Writes for third-party providers (SPEC §8): settings, tickets, the provider's
alerts, onboarding (authorization → sub-merchant), and every change of a
sub-merchant's authorization. Each change leaves a ProviderEvent (never a secret).
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

import wechat
from wechat import errors as wx
from wechat.api.component import REQUIRED_FUNCS

from ..models import Merchant, Provider, ProviderEvent

log = logging.getLogger(__name__)

A = Merchant.Authorization
FUNC_NAMES = {
    8: gettext_lazy("cards and coupons (卡券, id 8)"),
    13: gettext_lazy("stores (门店, id 13)"),
}


def provider_event(
    provider_id: int,
    kind: str,
    *,
    merchant_id: int | None = None,
    actor=None,
    message: str = "",
    answer=None,
) -> ProviderEvent:
    return ProviderEvent.objects.create(
        provider_id=provider_id,
        merchant_id=merchant_id,
        kind=kind,
        actor=actor,
        message=message,
        wechat_answer=answer,
    )


# --- settings -------------------------------------------------------------------------
@transaction.atomic
def provider_update_settings(
    *,
    provider: Provider,
    actor=None,
    component_appid: str | None = None,
    component_appsecret: str = "",
    component_token: str = "",
    component_encoding_aes_key: str = "",
) -> Provider:
    """Replace any setting given; an empty secret keeps the stored one. A new
    component appid is another component: its ticket and alerts start over."""
    provider = Provider.objects.select_for_update().get(pk=provider.pk)
    changed = []
    fields = []
    if (
        component_appid is not None
        and component_appid.strip() != provider.component_appid
    ):
        provider.component_appid = component_appid.strip()
        provider.verify_ticket = ""
        provider.ticket_create_time = 0
        provider.ticket_received_at = None
        provider.problem_errcode = None
        provider.problem_at = None
        fields += [
            "component_appid",
            "verify_ticket",
            "ticket_create_time",
            "ticket_received_at",
            "problem_errcode",
            "problem_at",
        ]
        changed.append("component_appid")
    for name, value in (
        ("component_appsecret", component_appsecret),
        ("component_token", component_token),
        ("component_encoding_aes_key", component_encoding_aes_key),
    ):
        if value:
            setattr(provider, name, value)
            fields.append(name)
            changed.append(name)
    if not fields:
        return provider
    try:
        with transaction.atomic():
            provider.save(update_fields=fields)
    except IntegrityError as exc:
        raise ValidationError(
            {"component_appid": _("Another provider already has this component AppID.")}
        ) from exc
    provider_event(
        provider.pk,
        ProviderEvent.Kind.SETTINGS,
        actor=actor,
        message=", ".join(changed),  # names of what changed, never values
    )
    return provider


# --- tickets and provider alerts --------------------------------------------------------
def provider_ticket_store(*, provider: Provider, ticket: str, create_time: int) -> bool:
    """Keep WeChat's component_verify_ticket: the latest wins (a late retry of an
    older push never replaces a newer ticket). Returns whether it was kept."""
    first = provider.ticket_received_at is None
    kept = Provider.objects.filter(
        pk=provider.pk, ticket_create_time__lt=create_time
    ).update(
        verify_ticket=ticket,
        ticket_create_time=create_time,
        ticket_received_at=timezone.now(),
    )
    if kept and first:
        provider_event(provider.pk, ProviderEvent.Kind.TICKET_FIRST)
    return bool(kept)


def provider_record_answer(*, provider_id: int, error: Exception | None) -> None:
    """How WeChat answered the provider's component token request: a refusal that
    is the provider's (SPEC §8: 61004/61005/61006/61011/40125) becomes its alert;
    a success clears it. Never raises."""
    try:
        if error is None:
            if Provider.objects.filter(
                pk=provider_id, problem_errcode__isnull=False
            ).update(problem_errcode=None, problem_at=None):
                provider_event(provider_id, ProviderEvent.Kind.PROBLEM_CLEARED)
            return
        errcode = getattr(error, "errcode", None)
        if errcode not in wx.PROVIDER_ERRCODES:
            return
        if (
            Provider.objects.filter(pk=provider_id)
            .exclude(problem_errcode=errcode)
            .update(problem_errcode=errcode, problem_at=timezone.now())
        ):
            provider_event(
                provider_id,
                ProviderEvent.Kind.PROBLEM,
                message=error.message,
                answer={"errcode": errcode, "errmsg": getattr(error, "errmsg", "")},
            )
    except Exception:  # an alert must never turn a refusal into a crash
        log.exception("recording the provider's answer failed")


# --- onboarding ---------------------------------------------------------------------------
class OnboardingRefused(Exception):
    """The portal will not link this official account to this provider."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def missing_funcs(func_ids) -> list[int]:
    granted = set(func_ids or [])
    return [f for f in REQUIRED_FUNCS if f not in granted]


def permissions_words(func_ids) -> str:
    """What the merchant must still grant, in words ("" when nothing)."""
    missing = missing_funcs(func_ids)
    if not missing:
        return ""
    return _(
        "Insufficient permissions: the merchant must also grant %(what)s on WeChat's "
        "authorization page."
    ) % {"what": _(", ").join(str(FUNC_NAMES[f]) for f in missing)}


def authorization_link(
    *, provider: Provider, auth_code: str, actor=None, source: str = "callback"
) -> Merchant:
    """An authorization code (the page's redirect, or an authorized push) →
    ``api_query_auth`` → ``api_get_authorizer_info`` → the sub-merchant, created or
    re-linked, with its refresh token (encrypted), scopes and name (SPEC §8).

    Without scopes 8 and 13 it is kept as *insufficient permissions*. An official
    account the portal already serves otherwise (its own AppSecret, or another
    provider) is refused: OnboardingRefused. WeChat's refusals raise WeChatError.
    """
    client = wechat.for_provider(provider)
    authorization = client.component.query_auth(auth_code)
    info = client.component.get_authorizer_info(authorization.authorizer_appid)
    appid = authorization.authorizer_appid
    func_ids = sorted(set(authorization.func_ids) | set(info.func_ids))
    state = A.INSUFFICIENT if missing_funcs(func_ids) else A.ACTIVE
    details = {
        "nick_name": info.nick_name,
        "user_name": info.user_name,
        "principal_name": info.principal_name,
        "head_img": info.head_img,
        "business_info": info.business_info,
    }
    link = {
        "provider": provider,
        "appid": appid,
        "refresh_token": authorization.refresh_token,
        "details": details,
        "func_ids": func_ids,
        "state": state,
        "actor": actor,
        "source": source,
    }
    try:
        try:
            merchant = _link(**link)
        except IntegrityError:
            # The callback and WeChat's authorized push raced to create it: the
            # other one did; link to it.
            merchant = _link(**link)
    except OnboardingRefused as refused:
        provider_event(
            provider.pk,
            ProviderEvent.Kind.REFUSED,
            actor=actor,
            message=refused.message,
        )
        raise
    # The authorization's first access token comes with it: no refresh needed.
    if authorization.access_token and merchant.authorization == A.ACTIVE:
        wechat.for_merchant(merchant).prime_token(
            authorization.access_token, authorization.expires_in
        )
    return merchant


@transaction.atomic
def _link(
    *, provider, appid, refresh_token, details, func_ids, state, actor, source
) -> Merchant:
    now = timezone.now()
    merchant = Merchant.objects.select_for_update().filter(appid=appid).first()
    if merchant is not None and merchant.provider_id is None:
        raise OnboardingRefused(
            _(
                "This official account has its own AppSecret in this portal: the "
                "platform operator can switch it to your authorization."
            )
        )
    if merchant is not None and merchant.provider_id != provider.pk:
        raise OnboardingRefused(
            _(
                "This official account is already served by this portal (%(name)s) "
                "through someone else: the platform operator can attach it to your "
                "provider."
            )
            % {"name": merchant.name}
        )
    if merchant is not None and not merchant.via_component:
        raise OnboardingRefused(
            _(
                "This official account has its own AppSecret in this portal: the "
                "platform operator can switch it to your authorization."
            )
        )
    created = merchant is None
    if created:
        merchant = Merchant(
            appid=appid,
            name=(details["nick_name"] or appid)[:100],
            provider=provider,
            access=Merchant.Access.COMPONENT,
            event_mode=Merchant.EventMode.SAFE,
        )
    before = merchant.authorization
    if (
        not created
        and before == state
        and merchant.authorizer_refresh_token == refresh_token
        and merchant.func_ids == func_ids
    ):
        return merchant  # the same authorization told twice (page and push)
    merchant.authorization = state
    merchant.authorizer_refresh_token = refresh_token
    merchant.func_ids = func_ids
    merchant.authorizer_info = details
    merchant.authorized_at = now
    merchant.authorization_changed_at = now
    merchant.save()
    if created:
        kind = ProviderEvent.Kind.ONBOARDED
    elif before == A.ACTIVE and state == A.ACTIVE:
        kind = ProviderEvent.Kind.UPDATED
    else:
        kind = ProviderEvent.Kind.RELINKED
    provider_event(
        provider.pk,
        kind,
        merchant_id=merchant.pk,
        actor=actor,
        message=f"{source}: {', '.join(map(str, func_ids))}",
        answer={"func_ids": func_ids},
    )
    if state == A.INSUFFICIENT:
        provider_event(
            provider.pk,
            ProviderEvent.Kind.INSUFFICIENT,
            merchant_id=merchant.pk,
            message=permissions_words(func_ids),
        )
    return merchant


def authorization_revoked(*, provider: Provider, authorizer_appid: str) -> bool:
    """``unauthorized``: the sub-merchant is revoked — its calls stop at once, its
    data stays. Returns whether anything changed."""
    now = timezone.now()
    merchant = Merchant.objects.filter(
        provider=provider, appid=authorizer_appid, access=Merchant.Access.COMPONENT
    ).first()
    if merchant is None:
        return False
    moved = (
        Merchant.objects.filter(pk=merchant.pk)
        .exclude(authorization=A.REVOKED)
        .update(authorization=A.REVOKED, authorization_changed_at=now)
    )
    if moved:
        provider_event(provider.pk, ProviderEvent.Kind.REVOKED, merchant_id=merchant.pk)
    return bool(moved)


def merchant_refresh_token_replace(*, merchant_id: int, old: str, new: str) -> bool:
    """Persist the refresh token WeChat replaced — unless a newer authorization
    already stored another one (only ``old`` is overwritten)."""
    with transaction.atomic():
        merchant = (
            Merchant.objects.select_for_update()
            .only("pk", "provider_id", "authorizer_refresh_token")
            .get(pk=merchant_id)
        )
        if merchant.authorizer_refresh_token != old:
            return False
        merchant.authorizer_refresh_token = new
        merchant.save(update_fields=["authorizer_refresh_token"])
        provider_event(
            merchant.provider_id,
            ProviderEvent.Kind.REFRESH_TOKEN,
            merchant_id=merchant_id,
        )
    return True


def merchant_needs_reauthorization(*, merchant_id: int) -> bool:
    """WeChat refused the refresh token (61023): the merchant must authorize the
    provider again. A revoked merchant stays revoked."""
    merchant = Merchant.objects.filter(pk=merchant_id).only("provider_id").first()
    if merchant is None:
        return False
    moved = Merchant.objects.filter(
        pk=merchant_id, authorization__in=[A.ACTIVE, A.INSUFFICIENT]
    ).update(authorization=A.REAUTHORIZE, authorization_changed_at=timezone.now())
    if moved:
        provider_event(
            merchant.provider_id,
            ProviderEvent.Kind.REAUTHORIZE,
            merchant_id=merchant_id,
            message=str(wx.MESSAGES[61023]),
        )
    return bool(moved)
