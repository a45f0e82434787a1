"""WeChat's users as one account knows them, and the account's test whitelist
(SPEC §6: ``card/testwhitelist/set``, at most 10 openids and usernames in all)."""

from __future__ import annotations

import base64
import hashlib
import re

from django.db import IntegrityError, transaction

from .. import exceptions as exc
from ..models import Account, WeChatUser, WhitelistEntry
from .cards import InvalidParam

WHITELIST_MAX = 10
_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_USERNAME = re.compile(r"[A-Za-z0-9_-]{1,32}")


def openid_checked(openid) -> str:
    """An openid as the sandbox takes it (1–64 of A–Z a–z 0–9 _ -), else 40003."""
    if not isinstance(openid, str) or not _OPENID.fullmatch(openid):
        raise exc.InvalidOpenid()
    return openid


def openid_for_username(account: Account, username: str) -> str:
    """The openid a WeChat ID stands for in this account: the defined user's, or
    one derived from appid and username (the same every time), 28 characters like
    WeChat's."""
    user = WeChatUser.objects.filter(account=account, username=username).first()
    if user is not None:
        return user.openid
    digest = hashlib.sha256(f"{account.appid}:{username}".encode()).digest()
    return "o" + base64.urlsafe_b64encode(digest).decode()[:27]


def user_touch(account: Account, openid: str) -> WeChatUser:
    """The user with this openid, created when first seen."""
    user = WeChatUser.objects.filter(account=account, openid=openid).first()
    if user is not None:
        return user
    try:
        with transaction.atomic():
            return WeChatUser.objects.create(account=account, openid=openid)
    except IntegrityError:  # created meanwhile by another request
        return WeChatUser.objects.get(account=account, openid=openid)


def user_save(
    account: Account, *, openid: str = "", username: str = "", nickname: str = ""
) -> WeChatUser:
    """Define a user (the console, the control API): by openid, or by username
    (its openid is then derived, see ``openid_for_username``)."""
    if username and not _USERNAME.fullmatch(username):
        raise ValueError("a username is 1–32 of A–Z a–z 0–9 _ -")
    if not openid:
        if not username:
            raise ValueError("give an openid or a username")
        openid = openid_for_username(account, username)
    openid = openid_checked(openid)
    with transaction.atomic():
        user = user_touch(account, openid)
        if username and user.username != username:
            taken = WeChatUser.objects.filter(account=account, username=username)
            if taken.exclude(pk=user.pk).exists():
                raise ValueError("another user has this username")
            user.username = username
        if nickname:
            user.nickname = nickname[:64]
        user.save(update_fields=["username", "nickname"])
    return user


def is_whitelisted(account: Account, openid: str) -> bool:
    return WhitelistEntry.objects.filter(account=account, openid=openid).exists()


def whitelist_openids(account: Account) -> set[str]:
    return set(
        WhitelistEntry.objects.filter(account=account).values_list("openid", flat=True)
    )


def _string_list(value, field: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParam(f"invalid param hint: [{field}]")
    return value


@transaction.atomic
def whitelist_set(account: Account, body: dict) -> list[WhitelistEntry]:
    """``card/testwhitelist/set``: the account's whole test whitelist becomes these
    openids and usernames (duplicates counted once). More than 10 in all → 40053
    (the sandbox's choice; WeChat documents only the limit), and nothing changes.
    A username stands for its user's openid (``openid_for_username``)."""
    openids = list(dict.fromkeys(_string_list(body.get("openid"), "openid")))
    usernames = list(dict.fromkeys(_string_list(body.get("username"), "username")))
    if len(openids) + len(usernames) > WHITELIST_MAX:
        raise exc.InvalidActionInfo(
            f"invalid actioninfo hint: [openid, username] at most {WHITELIST_MAX} "
            "in all"
        )
    for openid in openids:
        openid_checked(openid)
    for username in usernames:
        if not _USERNAME.fullmatch(username):
            raise InvalidParam("invalid param hint: [username]")
    WhitelistEntry.objects.filter(account=account).delete()
    entries = [WhitelistEntry(account=account, openid=o) for o in openids]
    for username in usernames:
        openid = openid_for_username(account, username)
        user = user_touch(account, openid)
        if not user.username:
            user.username = username
            user.save(update_fields=["username"])
        entries.append(
            WhitelistEntry(account=account, openid=openid, username=username)
        )
    for openid in openids:
        user_touch(account, openid)
    return WhitelistEntry.objects.bulk_create(entries)
