"""Accounts, access tokens, tickets, images, faults and the call log (SPEC §4, §12)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q

from .. import exceptions as exc
from ..models import AccessToken, Account, Call, Fault, Image, Ticket
from . import clock

TOKEN_TTL = 7200
# SPEC §12: a new token leaves the previous one valid for five more minutes.
PREVIOUS_TOKEN_GRACE = 300
TICKET_TTL = 7200
MAX_IMAGE_BYTES = 1024 * 1024
TICKET_KINDS = ("jsapi", "wx_card")


# --- accounts --------------------------------------------------------------------
def account_save(
    *,
    appid: str,
    secret: str,
    token: str = "",
    encoding_aes_key: str = "",
    callback_url: str = "",
    encrypted: bool = False,
    auto_review_seconds: int | None = None,
    nick_name: str | None = None,
    principal_name: str | None = None,
) -> Account:
    """Create or update an account by appid."""
    defaults = {
        "secret": secret,
        "token": token,
        "encoding_aes_key": encoding_aes_key,
        "callback_url": callback_url,
        "encrypted": encrypted,
    }
    for name, value in (("nick_name", nick_name), ("principal_name", principal_name)):
        if value is not None:
            defaults[name] = value
    if auto_review_seconds is not None:
        defaults["auto_review_seconds"] = auto_review_seconds
    account, _ = Account.objects.update_or_create(appid=appid, defaults=defaults)
    return account


def account_get(appid: str) -> Account:
    account = Account.objects.filter(appid=appid).first()
    if account is None:
        raise exc.InvalidAppid()
    return account


# --- tokens ----------------------------------------------------------------------
@transaction.atomic
def token_issue(*, appid: str, secret: str, grant_type: str) -> tuple[str, int]:
    """``cgi-bin/token``: a new access token; earlier ones die in five minutes."""
    if grant_type != "client_credential":
        raise exc.InvalidGrantType()
    account = account_get(appid)
    if not secret or not secrets.compare_digest(account.secret, secret):
        raise exc.InvalidAppsecret()
    now = clock.now()
    grace_end = now + timedelta(seconds=PREVIOUS_TOKEN_GRACE)
    # Only the account's own tokens: a component's authorizer tokens (SPEC §8)
    # are another source and live on.
    AccessToken.objects.filter(
        account=account, component__isnull=True, expires_at__gt=grace_end
    ).update(expires_at=grace_end)
    token = secrets.token_urlsafe(48)
    AccessToken.objects.create(
        account=account,
        token=token,
        issued_at=now,
        expires_at=now + timedelta(seconds=TOKEN_TTL),
    )
    return token, TOKEN_TTL


def token_account(access_token: str | None) -> Account:
    """The account an access token belongs to: 41001 missing, 40001 unknown or
    superseded, 42001 expired."""
    if not access_token:
        raise exc.AccessTokenMissing()
    row = (
        AccessToken.objects.select_related("account")
        .filter(token=access_token)
        .only("expires_at", "issued_at", "account")
        .first()
    )
    if row is None:
        raise exc.InvalidCredential()
    if row.expires_at <= clock.now():
        # A token replaced by a newer one is "not latest" (40001); one that simply
        # lived its 7200 s is "expired" (42001) — as WeChat answers.
        if row.expires_at < row.issued_at + timedelta(seconds=TOKEN_TTL):
            raise exc.InvalidCredential()
        raise exc.AccessTokenExpired()
    return row.account


def tokens_expire(account: Account) -> int:
    """Expire every live token of the account now (a fault, or the console)."""
    return AccessToken.objects.filter(
        account=account, expires_at__gt=clock.now()
    ).update(expires_at=clock.now())


# --- tickets ---------------------------------------------------------------------
@transaction.atomic
def ticket_issue(account: Account, kind: str) -> tuple[str, int]:
    """``cgi-bin/ticket/getticket``: a jsapi or wx_card ticket valid 7200 s."""
    if kind not in TICKET_KINDS:
        raise exc.InvalidArgs("invalid ticket type")
    now = clock.now()
    ticket = secrets.token_urlsafe(64)
    Ticket.objects.create(
        account=account,
        kind=kind,
        ticket=ticket,
        expires_at=now + timedelta(seconds=TICKET_TTL),
    )
    return ticket, TICKET_TTL


# --- images ----------------------------------------------------------------------
_SIGNATURES = {
    b"\xff\xd8\xff": ("image/jpeg", "jpg"),
    b"\x89PNG\r\n\x1a\n": ("image/png", "png"),
}


def image_store(account: Account, content: bytes, *, base_url: str) -> str:
    """``cgi-bin/media/uploadimg``: a JPG/PNG ≤ 1 MB → the URL it is served at.

    The type is read from the bytes, not the file name (SPEC §3.5).
    """
    if not content:
        raise exc.MediaDataMissing()
    if len(content) > MAX_IMAGE_BYTES:
        raise exc.InvalidImageSize()
    kind = next((v for m, v in _SIGNATURES.items() if content.startswith(m)), None)
    if kind is None:
        raise exc.InvalidFileType()
    content_type, ext = kind
    key = secrets.token_hex(16)
    url = f"{base_url.rstrip('/')}/media/{key}.{ext}"
    Image.objects.create(
        account=account, key=key, content=content, content_type=content_type, url=url
    )
    return url


def image_is_ours(account: Account, url: str) -> bool:
    """True when ``url`` came from this account's uploadimg (else 40141, SPEC §3.5)."""
    return Image.objects.filter(account=account, url=url).exists()


# --- faults ----------------------------------------------------------------------
@dataclass(frozen=True)
class FaultHit:
    kind: str
    latency_ms: int


def fault_add(
    *,
    kind: str,
    appid: str = "",
    path: str = "",
    latency_ms: int = 0,
    remaining: int | None = None,
) -> Fault:
    if kind not in Fault.Kind.values:
        raise ValueError(f"unknown fault kind {kind!r}")
    return Fault.objects.create(
        kind=kind,
        appid=appid,
        path=path.strip("/"),
        latency_ms=latency_ms,
        remaining=remaining,
    )


def fault_clear(*, appid: str | None = None, path: str | None = None) -> int:
    faults = Fault.objects.all()
    if appid is not None:
        faults = faults.filter(appid=appid)
    if path is not None:
        faults = faults.filter(path=path.strip("/"))
    return faults.delete()[0]


def fault_take(*, appid: str, path: str) -> list[FaultHit]:
    """The faults that apply to this call, each counted down once."""
    hits = []
    matching = Fault.objects.filter(
        Q(appid="") | Q(appid=appid), Q(path="") | Q(path=path)
    ).exclude(remaining=0)
    for fault in matching:
        if fault.remaining is not None:
            taken = Fault.objects.filter(pk=fault.pk, remaining__gt=0).update(
                remaining=F("remaining") - 1
            )
            if not taken:
                continue
        hits.append(FaultHit(kind=fault.kind, latency_ms=fault.latency_ms))
    Fault.objects.filter(remaining=0).delete()
    return hits


# --- calls -----------------------------------------------------------------------
def call_record(*, appid: str, path: str, errcode: int, http_status: int = 200) -> None:
    Call.objects.create(
        appid=appid, path=path, errcode=errcode, http_status=http_status
    )


def call_count(*, appid: str | None = None, path: str | None = None) -> int:
    calls = Call.objects.all()
    if appid:
        calls = calls.filter(appid=appid)
    if path:
        calls = calls.filter(path=path.strip("/"))
    return calls.count()


def reset() -> None:
    """Forget everything but the accounts: tokens, tickets, images, faults, calls,
    pushes, cards, coins (accounts, orders, quotes), users, whitelists, codes, QR
    codes, and sandbox time."""
    from ..models import (
        Card,
        Code,
        CoinAccount,
        CoinOrder,
        Push,
        QRCode,
        Quote,
        WeChatUser,
        WhitelistEntry,
    )

    coins = (Quote, CoinOrder, CoinAccount)
    people = (Code, QRCode, WhitelistEntry, WeChatUser)
    for model in (AccessToken, Ticket, Image, Fault, Call, Push, *coins, *people, Card):
        model.objects.all().delete()
    clock.reset()
