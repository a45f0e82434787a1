"""WeChat's open platform (第三方平台, SPEC §8): components, their tickets and tokens,
pre-auth codes, authorizations and authorizer access tokens; pushes to the
component's 授权事件接收URL.

An authorizer access token is an ``AccessToken`` of the authorizing account issued
to the component: every card, coin, code, datacube and ticket API of that account
accepts it (and of no other account), as long as the authorization holds the scope
the API needs.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from ..exceptions import (
    ApiUnauthorized,
    AuthCodeExpired,
    AuthCodeInvalid,
    ComponentAppidInvalid,
    ComponentNotAuthorized,
    ComponentSecretInvalid,
    ComponentTicketExpired,
    ComponentTicketInvalid,
    ComponentTokenExpired,
    ComponentTokenInvalid,
    ComponentTokenMissing,
    InvalidArgs,
    RefreshTokenInvalid,
)
from ..models import (
    AccessToken,
    Account,
    Authorization,
    Component,
    ComponentAccessToken,
    ComponentPush,
    ComponentTicket,
    PreAuthCode,
)
from . import clock, pushcrypto, ticker
from .component_push import component_push
from .core import PREVIOUS_TOKEN_GRACE, TOKEN_TTL

log = logging.getLogger("sandbox.component")

TICKET_TTL = 12 * 3600  # SPEC §8: a component_verify_ticket is valid 12 hours
PRE_AUTH_CODE_TTL = 600  # SPEC §8 decision
AUTH_CODE_TTL = 600
MAX_LIST_COUNT = 500

# The scope ids (funcscope_category) the authorization page offers, with names.
FUNC_SCOPES = {
    1: "消息管理",
    2: "用户管理",
    3: "帐号服务",
    4: "网页服务",
    5: "微信小店",
    6: "微信多客服",
    7: "群发与通知",
    8: "卡券管理",
    9: "微信扫一扫",
    10: "微信连WIFI",
    11: "素材管理",
    12: "微信摇周边",
    13: "门店管理",
    15: "自定义菜单",
}
DEFAULT_FUNC_IDS = (1, 2, 4, 8, 11, 13, 15)
CARDS, STORES = 8, 13


class PageError(Exception):
    """The authorization page cannot go on: what it shows the merchant's admin."""


# --- components ----------------------------------------------------------------------
def component_save(
    *,
    component_appid: str,
    secret: str,
    token: str,
    encoding_aes_key: str,
    callback_url: str = "",
    events_url: str = "",
    name: str = "",
    ticket_interval_seconds: int | None = None,
    rotate_refresh_tokens: bool | None = None,
) -> Component:
    """Create or update a component by appid. ``events_url`` defaults to the
    callback URL's ``events/$APPID$/`` (where the portal listens)."""
    if not (component_appid and secret and token and encoding_aes_key):
        raise ValueError(
            "component_appid, component_appsecret, token and encoding_aes_key "
            "are required"
        )
    pushcrypto.aes_key(encoding_aes_key)  # a usable key, or BadKey (-40004)
    if callback_url and not events_url:
        events_url = callback_url.rstrip("/") + "/events/$APPID$/"
    defaults = {
        "secret": secret,
        "token": token,
        "encoding_aes_key": encoding_aes_key,
        "callback_url": callback_url,
        "events_url": events_url,
        "name": name,
    }
    if ticket_interval_seconds is not None:
        defaults["ticket_interval_seconds"] = int(ticket_interval_seconds)
    if rotate_refresh_tokens is not None:
        defaults["rotate_refresh_tokens"] = bool(rotate_refresh_tokens)
    component, _ = Component.objects.update_or_create(
        component_appid=component_appid, defaults=defaults
    )
    return component


def component_get(component_appid: str) -> Component:
    component = Component.objects.filter(component_appid=component_appid).first()
    if component is None:
        raise ComponentAppidInvalid()
    return component


def component_state(component: Component) -> dict:
    """What the control API says about a component (secrets included: it is the
    sandbox's own console)."""
    latest = component.tickets.first()
    return {
        "component_appid": component.component_appid,
        "component_appsecret": component.secret,
        "token": component.token,
        "encoding_aes_key": component.encoding_aes_key,
        "callback_url": component.callback_url,
        "events_url": component.events_url,
        "name": component.name,
        "ticket_interval_seconds": component.ticket_interval_seconds,
        "rotate_refresh_tokens": component.rotate_refresh_tokens,
        "component_verify_ticket": latest.ticket if latest else None,
        "ticket_created_at": int(latest.created_at.timestamp()) if latest else None,
        "authorizations": [
            {
                "authorizer_appid": a.account.appid,
                "status": a.status,
                "func_ids": a.func_ids,
                "authorized_at": int(a.authorized_at.timestamp()),
            }
            for a in component.authorizations.select_related("account")
        ],
    }


# --- tickets -------------------------------------------------------------------------
def ticket_issue(component: Component) -> ComponentTicket:
    return ComponentTicket.objects.create(
        component=component,
        ticket="ticket@@@" + secrets.token_urlsafe(48),
        created_at=clock.now(),
    )


def ticket_push(component: Component, *, wait: bool = True) -> ComponentPush:
    """A new component_verify_ticket, pushed to the component (SPEC §8)."""
    ticket = ticket_issue(component)
    return component_push(
        component,
        "component_verify_ticket",
        {"ComponentVerifyTicket": ticket.ticket},
        wait=wait,
    )


def ticket_check(component: Component, ticket: str) -> None:
    """61006 unless ``ticket`` is one of the component's; 61005 once it is 12 h old."""
    row = (
        ComponentTicket.objects.filter(component=component, ticket=ticket).first()
        if ticket
        else None
    )
    if row is None:
        raise ComponentTicketInvalid()
    if row.created_at + timedelta(seconds=TICKET_TTL) <= clock.now():
        raise ComponentTicketExpired()


@ticker.register
def push_due_tickets(now: datetime) -> None:
    """Every ``ticket_interval_seconds`` of sandbox time, each component with a
    callback URL gets a new ticket (delivered in the background)."""
    due = Component.objects.filter(ticket_interval_seconds__gt=0).exclude(
        callback_url=""
    )
    for component in due.filter(
        Q(next_ticket_at__isnull=True) | Q(next_ticket_at__lte=now)
    ):
        claimed = (
            Component.objects.filter(pk=component.pk)
            .filter(Q(next_ticket_at__isnull=True) | Q(next_ticket_at__lte=now))
            .update(
                next_ticket_at=now
                + timedelta(seconds=component.ticket_interval_seconds)
            )
        )
        if claimed:
            push = ticket_push(component, wait=False)
            log.info("ticket for %s queued (push %s)", component, push.pk)


# --- component tokens ----------------------------------------------------------------
@transaction.atomic
def component_token_issue(
    *, component_appid: str, secret: str, ticket: str
) -> tuple[str, int]:
    """api_component_token: 61011 unknown component, 40125 bad secret, 61006/61005
    bad or old ticket; a new token leaves the previous one five more minutes."""
    component = component_get(component_appid)
    if not secret or not secrets.compare_digest(component.secret, secret):
        raise ComponentSecretInvalid()
    ticket_check(component, ticket)
    now = clock.now()
    grace_end = now + timedelta(seconds=PREVIOUS_TOKEN_GRACE)
    ComponentAccessToken.objects.filter(
        component=component, expires_at__gt=grace_end
    ).update(expires_at=grace_end)
    token = secrets.token_urlsafe(48)
    ComponentAccessToken.objects.create(
        component=component,
        token=token,
        issued_at=now,
        expires_at=now + timedelta(seconds=TOKEN_TTL),
    )
    return token, TOKEN_TTL


def component_of_token(token: str | None, component_appid: str) -> Component:
    """The component a component_access_token belongs to (41001 / 40001 / 42001);
    the body's component_appid must be that component (61011)."""
    if not token:
        raise ComponentTokenMissing()
    row = (
        ComponentAccessToken.objects.select_related("component")
        .filter(token=token)
        .first()
    )
    if row is None:
        raise ComponentTokenInvalid()
    if row.expires_at <= clock.now():
        if row.expires_at < row.issued_at + timedelta(seconds=TOKEN_TTL):
            raise ComponentTokenInvalid()
        raise ComponentTokenExpired()
    if component_appid != row.component.component_appid:
        raise ComponentAppidInvalid()
    return row.component


# --- pre-auth codes and the authorization page -------------------------------------
def preauthcode_create(component: Component) -> tuple[str, int]:
    code = "preauthcode@@@" + secrets.token_urlsafe(32)
    PreAuthCode.objects.create(
        component=component,
        code=code,
        expires_at=clock.now() + timedelta(seconds=PRE_AUTH_CODE_TTL),
    )
    return code, PRE_AUTH_CODE_TTL


def page_check(component_appid: str, pre_auth_code: str) -> Component:
    """What the authorization page checks before it shows anything."""
    component = Component.objects.filter(component_appid=component_appid).first()
    if component is None:
        raise PageError("unknown_component")
    row = PreAuthCode.objects.filter(component=component, code=pre_auth_code).first()
    if row is None:
        raise PageError("invalid_pre_auth_code")
    if row.used_at is not None:
        raise PageError("used_pre_auth_code")
    if row.expires_at <= clock.now():
        raise PageError("expired_pre_auth_code")
    return component


def _refresh_token() -> str:
    return "refreshtoken@@@" + secrets.token_urlsafe(40)


@dataclass(frozen=True)
class Grant:
    authorization: Authorization
    info_type: str  # authorized | updateauthorized
    push: ComponentPush | None


def authorization_grant(
    component: Component,
    *,
    authorizer_appid: str,
    func_ids,
    pre_auth_code: str = "",
    push: bool = True,
    wait: bool = False,
) -> Grant:
    """The merchant's admin authorizes the component (the page, or the control API).

    A first grant (or one after a revocation) pushes ``authorized``, a new grant of a
    live authorization ``updateauthorized``; either way a new auth code (600 s) and a
    new refresh token, which voids the previous one (SPEC §8).
    """
    account = Account.objects.filter(appid=authorizer_appid).first()
    if account is None:
        raise ValueError("unknown authorizer_appid")
    ids = sorted({int(i) for i in func_ids if int(i) in FUNC_SCOPES})
    now = clock.now()
    with transaction.atomic():
        if pre_auth_code:
            used = PreAuthCode.objects.filter(
                component=component,
                code=pre_auth_code,
                used_at__isnull=True,
                expires_at__gt=now,
            ).update(used_at=now)
            if not used:
                raise PageError("invalid_pre_auth_code")
        current = (
            Authorization.objects.select_for_update()
            .filter(component=component, account=account)
            .first()
        )
        info_type = (
            "updateauthorized"
            if current and current.status == Authorization.Status.AUTHORIZED
            else "authorized"
        )
        values = {
            "func_ids": ids,
            "status": Authorization.Status.AUTHORIZED,
            "refresh_token": _refresh_token(),
            "previous_refresh_token": "",
            "auth_code": "queryauthcode@@@" + secrets.token_urlsafe(32),
            "auth_code_expires_at": now + timedelta(seconds=AUTH_CODE_TTL),
            "pre_auth_code": pre_auth_code,
            "authorized_at": now,
            "revoked_at": None,
        }
        authorization, _ = Authorization.objects.update_or_create(
            component=component, account=account, defaults=values
        )
        # The old authorization's tokens die with it.
        _expire_authorizer_tokens(component, account)
    pushed = None
    if push:
        pushed = component_push(
            component,
            info_type,
            {
                "AuthorizerAppid": account.appid,
                "AuthorizationCode": authorization.auth_code,
                "AuthorizationCodeExpiredTime": int(
                    authorization.auth_code_expires_at.timestamp()
                ),
                "PreAuthCode": pre_auth_code,
            },
            wait=wait,
        )
    return Grant(authorization=authorization, info_type=info_type, push=pushed)


def authorization_revoke(
    component: Component, *, authorizer_appid: str, wait: bool = True
) -> tuple[Authorization, ComponentPush]:
    """The merchant's admin cancels the authorization: its tokens and refresh token
    stop working and ``unauthorized`` is pushed."""
    authorization = (
        Authorization.objects.select_related("account")
        .filter(component=component, account__appid=authorizer_appid)
        .first()
    )
    if authorization is None:
        raise LookupError("this account has not authorized the component")
    now = clock.now()
    Authorization.objects.filter(pk=authorization.pk).update(
        status=Authorization.Status.REVOKED, revoked_at=now
    )
    _expire_authorizer_tokens(component, authorization.account)
    authorization.refresh_from_db()
    pushed = component_push(
        component,
        "unauthorized",
        {"AuthorizerAppid": authorizer_appid},
        wait=wait,
    )
    return authorization, pushed


def _expire_authorizer_tokens(component: Component, account: Account) -> None:
    # An expiry before its full lifetime reads as "invalid" (40001), as WeChat's.
    AccessToken.objects.filter(
        account=account, component=component, expires_at__gt=clock.now()
    ).update(expires_at=clock.now())


# --- authorizer tokens and information ----------------------------------------------
def _authorizer_token_issue(authorization: Authorization) -> tuple[str, int]:
    now = clock.now()
    grace_end = now + timedelta(seconds=PREVIOUS_TOKEN_GRACE)
    AccessToken.objects.filter(
        account=authorization.account,
        component=authorization.component,
        expires_at__gt=grace_end,
    ).update(expires_at=grace_end)
    token = secrets.token_urlsafe(48)
    AccessToken.objects.create(
        account=authorization.account,
        component=authorization.component,
        token=token,
        issued_at=now,
        expires_at=now + timedelta(seconds=TOKEN_TTL),
    )
    return token, TOKEN_TTL


def _func_info(ids) -> list[dict]:
    return [{"funcscope_category": {"id": i}} for i in ids]


@transaction.atomic
def query_auth(component: Component, authorization_code: str) -> dict:
    """api_query_auth: the authorization a code stands for (the same one however
    often it is asked within 600 s), with a fresh authorizer access token."""
    authorization = (
        Authorization.objects.select_related("account", "component")
        .filter(component=component, auth_code=authorization_code)
        .first()
    )
    if authorization is None or authorization.status != Authorization.Status.AUTHORIZED:
        raise AuthCodeInvalid()
    if authorization.auth_code_expires_at <= clock.now():
        raise AuthCodeExpired()
    token, expires_in = _authorizer_token_issue(authorization)
    return {
        "authorization_info": {
            "authorizer_appid": authorization.account.appid,
            "authorizer_access_token": token,
            "expires_in": expires_in,
            "authorizer_refresh_token": authorization.refresh_token,
            "func_info": _func_info(authorization.func_ids),
        }
    }


@transaction.atomic
def authorizer_token(
    component: Component, *, authorizer_appid: str, refresh_token: str
) -> dict:
    """api_authorizer_token: 61023 unless the refresh token is the authorization's
    (or, after a rotation, its predecessor until the new one is used)."""
    authorization = (
        Authorization.objects.select_for_update()
        .select_related("account", "component")
        .filter(component=component, account__appid=authorizer_appid)
        .first()
    )
    if (
        authorization is None
        or authorization.status != Authorization.Status.AUTHORIZED
        or not refresh_token
    ):
        raise RefreshTokenInvalid()
    current = secrets.compare_digest(authorization.refresh_token, refresh_token)
    previous = bool(authorization.previous_refresh_token) and secrets.compare_digest(
        authorization.previous_refresh_token, refresh_token
    )
    if not (current or previous):
        raise RefreshTokenInvalid()
    if current and authorization.previous_refresh_token:
        authorization.previous_refresh_token = ""  # the successor is in use now
    if current and component.rotate_refresh_tokens:
        authorization.previous_refresh_token = authorization.refresh_token
        authorization.refresh_token = _refresh_token()
    authorization.save(update_fields=["refresh_token", "previous_refresh_token"])
    token, expires_in = _authorizer_token_issue(authorization)
    return {
        "authorizer_access_token": token,
        "expires_in": expires_in,
        "authorizer_refresh_token": authorization.refresh_token,
    }


def _user_name(account: Account) -> str:
    # The original id (gh_…): the ToUserName of the account's pushes (push.py).
    return f"gh_{account.appid[-12:]}"


def authorizer_info(component: Component, *, authorizer_appid: str) -> dict:
    """api_get_authorizer_info: who the account is and what it granted (61003 when
    it never authorized this component)."""
    authorization = (
        Authorization.objects.select_related("account")
        .filter(component=component, account__appid=authorizer_appid)
        .first()
    )
    if authorization is None:
        raise ComponentNotAuthorized()
    account = authorization.account
    granted = set(authorization.func_ids)
    return {
        "authorizer_info": {
            "nick_name": account.nick_name or account.appid,
            "head_img": "",
            "service_type_info": {"id": 2},
            "verify_type_info": {"id": 0},
            "user_name": _user_name(account),
            "principal_name": account.principal_name,
            "alias": "",
            "qrcode_url": "",
            "business_info": {
                "open_store": int(STORES in granted),
                "open_scan": 0,
                "open_pay": 1,
                "open_card": int(CARDS in granted),
                "open_shake": 0,
            },
        },
        "authorization_info": {
            "authorizer_appid": account.appid,
            "authorizer_refresh_token": authorization.refresh_token
            if authorization.status == Authorization.Status.AUTHORIZED
            else "",
            "func_info": _func_info(authorization.func_ids),
        },
    }


def authorizer_list(component: Component, *, offset, count) -> dict:
    """api_get_authorizer_list: live authorizations, ``count`` ≤ 500 per page."""
    try:
        offset, count = int(offset), int(count)
    except (TypeError, ValueError):
        raise InvalidArgs() from None
    if offset < 0 or not 1 <= count <= MAX_LIST_COUNT:
        raise InvalidArgs()
    rows = (
        Authorization.objects.select_related("account")
        .filter(component=component, status=Authorization.Status.AUTHORIZED)
        .order_by("authorized_at", "id")
    )
    return {
        "total_count": rows.count(),
        "list": [
            {
                "authorizer_appid": a.account.appid,
                "refresh_token": a.refresh_token,
                "auth_time": int(a.authorized_at.timestamp()),
            }
            for a in rows[offset : offset + count]
        ],
    }


# --- what an authorizer access token may do -----------------------------------------
def _scope_for(path: str) -> int | None:
    """The scope id an API of the account needs when called by a component."""
    if (
        path.startswith(("card/", "datacube/getcard"))
        or path == "cgi-bin/media/uploadimg"
    ):
        return CARDS
    if path.startswith("cgi-bin/poi/"):
        return STORES
    return None


def scope_check(access_token: str | None, path: str) -> None:
    """48001 when an authorizer access token calls an API whose scope the account
    did not grant the component (or no longer grants it)."""
    needed = _scope_for(path)
    row = (
        AccessToken.objects.filter(token=access_token, component__isnull=False)
        .values("account_id", "component_id")
        .first()
        if access_token
        else None
    )
    if row is None:
        return
    authorization = (
        Authorization.objects.filter(
            account_id=row["account_id"], component_id=row["component_id"]
        )
        .values("status", "func_ids")
        .first()
    )
    if authorization is None or authorization.get("status") != "authorized":
        raise ComponentTokenInvalid()
    if needed is not None and needed not in (authorization["func_ids"] or []):
        raise ApiUnauthorized()
