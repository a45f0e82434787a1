"""Access tokens and tickets, cached in the shared cache and refreshed once (SPEC §4).

Many web and worker processes share one appid's token. Without a lock, every one of
them that finds the cache empty asks WeChat for a new token, and each new token
invalidates the previous ones (WxJava #1222, EasyWeChat #1453). Here:

* a value is cached with the time it should be refreshed (ahead of its expiry);
* only the holder of a cross-process lock (an atomic ``cache.add``) fetches; everyone
  else keeps using the still-valid value, or waits for the holder when there is none;
* ``invalidate(failed)`` drops the value only if it is still the one that failed, so a
  stale failure never throws away a token another process has just fetched.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Protocol

# Refresh this long before WeChat's expiry: calls in flight never carry a dying token.
REFRESH_MARGIN = 300


class TokenStore(Protocol):
    """Where credentials live: shared by every process of the deployment."""

    def get(self, key: str) -> dict | None: ...
    def set(self, key: str, value: dict, ttl: int) -> None: ...
    def delete(self, key: str) -> None: ...
    def add(self, key: str, value: str, ttl: int) -> bool: ...


class CacheTokenStore:
    """A TokenStore on Django's cache (Redis in production, the database embedded)."""

    def __init__(self, cache=None):
        if cache is None:
            from django.core.cache import cache as default_cache

            cache = default_cache
        self.cache = cache

    def get(self, key: str) -> dict | None:
        return self.cache.get(key)

    def set(self, key: str, value: dict, ttl: int) -> None:
        self.cache.set(key, value, ttl)

    def delete(self, key: str) -> None:
        self.cache.delete(key)

    def add(self, key: str, value: str, ttl: int) -> bool:
        return self.cache.add(key, value, ttl)


class CredentialUnavailable(Exception):
    """No credential could be had in time (the lock holder never delivered)."""


class CachedCredential:
    """One cached, lock-refreshed secret value: an access token or a ticket.

    ``fetch()`` asks WeChat and returns ``(value, expires_in_seconds)``.
    """

    def __init__(
        self,
        store: TokenStore,
        key: str,
        fetch: Callable[[], tuple[str, int]],
        *,
        wait_timeout: float = 15.0,
        lock_ttl: int = 30,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.key = key
        self.lock_key = f"{key}:lock"
        self.fetch = fetch
        self.wait_timeout = wait_timeout
        self.lock_ttl = lock_ttl
        self.clock = clock

    def get(self) -> str:
        """A valid value; at most one process fetches a new one at a time."""
        deadline = time.monotonic() + self.wait_timeout
        delay = 0.02
        while True:
            cached = self.store.get(self.key)
            now = self.clock()
            if cached and now < cached["refresh_at"]:
                return cached["value"]
            owner = self._acquire()
            if owner:
                try:
                    return self._refresh(owner)
                finally:
                    self._release(owner)
            if cached and now < cached["expires_at"]:
                return cached[
                    "value"
                ]  # someone else is refreshing; this one still works
            if time.monotonic() > deadline:
                raise CredentialUnavailable(self.key)
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    def invalidate(self, failed: str) -> None:
        """Forget the value if it is still ``failed``; a newer one is kept."""
        deadline = time.monotonic() + self.wait_timeout
        while True:
            owner = self._acquire()
            if owner:
                try:
                    cached = self.store.get(self.key)
                    if cached and cached["value"] == failed:
                        self.store.delete(self.key)
                finally:
                    self._release(owner)
                return
            cached = self.store.get(self.key)
            if not cached or cached["value"] != failed or time.monotonic() > deadline:
                return  # already replaced (or being replaced) by the lock holder
            time.sleep(0.02)

    def _refresh(self, owner: str) -> str:
        # Double-checked: the previous holder may have refreshed while we waited.
        cached = self.store.get(self.key)
        now = self.clock()
        if cached and now < cached["refresh_at"]:
            return cached["value"]
        value, expires_in = self.fetch()
        self._keep(value, int(expires_in), now)
        return value

    def prime(self, value: str, expires_in: int) -> None:
        """Keep a value WeChat handed over another way (``api_query_auth`` answers
        with the authorizer's first access token): no fetch needed for it."""
        self._keep(value, int(expires_in), self.clock())

    def _keep(self, value: str, expires_in: int, now: float) -> None:
        margin = min(REFRESH_MARGIN, expires_in // 4)
        self.store.set(
            self.key,
            {
                "value": value,
                "expires_at": now + expires_in,
                "refresh_at": now + expires_in - margin,
            },
            max(expires_in, 1),
        )

    def _acquire(self) -> str | None:
        owner = secrets.token_hex(8)
        return owner if self.store.add(self.lock_key, owner, self.lock_ttl) else None

    def _release(self, owner: str) -> None:
        # Not atomic, but the lock's TTL bounds the harm of a rare wrong release.
        if self.store.get(self.lock_key) == owner:
            self.store.delete(self.lock_key)


# --- where an access token comes from (SPEC §4, §8) ------------------------------
class TokenSource(Protocol):
    """Where a client's access token comes from: the one difference between an
    official account's own client and a provider's client for a sub-merchant.

    ``param`` names the query parameter that carries the token; ``cache_key`` keeps
    tokens of different sources apart in the shared cache; ``check()`` raises a
    typed ``WeChatError`` when nothing may be sent for the account now (before any
    call); ``fetch(client)`` asks WeChat for a new token: ``(token, expires_in)``.
    """

    param: str
    cache_key: str

    def check(self) -> None: ...
    def fetch(self, client) -> tuple[str, int]: ...


class AppSecretSource:
    """An official account's own token: ``cgi-bin/token`` with its AppSecret."""

    param = "access_token"
    cache_key = "token"

    def __init__(self, secret: str):
        self._secret = secret

    def __repr__(self) -> str:  # never the secret
        return "AppSecretSource()"

    def check(self) -> None:
        return None

    def fetch(self, client) -> tuple[str, int]:
        data = client.call(
            "GET",
            "cgi-bin/token",
            params={
                "grant_type": "client_credential",
                "appid": client.appid,
                "secret": self._secret,
            },
            with_token=False,
            safe_to_retry=True,
        )
        return data["access_token"], int(data.get("expires_in", 7200))


class ComponentTokenSource:
    """A provider's component access token: ``api_component_token`` with its
    component appsecret and the latest ``component_verify_ticket`` (SPEC §8).

    ``ticket()`` reads the stored ticket (None: none arrived yet). ``on_answer(exc)``
    hears how each fetch went (None: success), so the provider's alerts follow
    WeChat's answers (61005/61006 …) without the caller ever crashing on them.
    """

    param = "component_access_token"
    cache_key = "component_token"

    def __init__(
        self,
        appsecret: str,
        *,
        ticket: Callable[[], str | None],
        check: Callable[[], None] | None = None,
        on_answer: Callable[[Exception | None], None] | None = None,
    ):
        self._appsecret = appsecret
        self._ticket = ticket
        self._check = check
        self._on_answer = on_answer

    def __repr__(self) -> str:
        return "ComponentTokenSource()"

    def check(self) -> None:
        if self._check is not None:
            self._check()

    def fetch(self, client) -> tuple[str, int]:
        from . import errors

        ticket = self._ticket()
        if not ticket:
            error = errors.ComponentTicketMissing(path="api_component_token")
            self._report(error)
            raise error
        try:
            token, expires_in = client.component.component_token(
                self._appsecret, ticket
            )
        except errors.WeChatError as exc:
            self._report(exc)
            raise
        self._report(None)
        return token, expires_in

    def _report(self, exc: Exception | None) -> None:
        if self._on_answer is not None:
            self._on_answer(exc)


class AuthorizerTokenSource:
    """A sub-merchant's token through its provider's component: ``api_authorizer_token``
    with the authorizer refresh token (SPEC §8).

    ``component()`` builds the provider's client (a ``WeChatClient`` on a
    ``ComponentTokenSource``) when a refresh needs it; ``key`` names the provider's
    component in the cache key. ``refresh_token()`` reads the stored refresh token;
    ``refresh_token_changed(old, new)`` persists one WeChat replaced;
    ``refresh_token_refused()`` hears WeChat's 61023 (authorize again);
    ``check()`` raises before any call when the merchant may not be served.
    """

    param = "access_token"

    def __init__(
        self,
        component: Callable[[], object],
        *,
        key: str,
        refresh_token: Callable[[], str],
        refresh_token_changed: Callable[[str, str], None],
        refresh_token_refused: Callable[[], None],
        check: Callable[[], None] | None = None,
    ):
        self._component = component
        self.cache_key = f"authorizer:{key}"
        self._refresh_token = refresh_token
        self._changed = refresh_token_changed
        self._refused = refresh_token_refused
        self._check = check

    def __repr__(self) -> str:
        return f"AuthorizerTokenSource({self.cache_key!r})"

    def check(self) -> None:
        if self._check is not None:
            self._check()

    def fetch(self, client) -> tuple[str, int]:
        from . import errors

        old = self._refresh_token()
        if not old:
            self._refused()
            raise errors.ReauthorizationNeeded(path="api_authorizer_token")
        try:
            answer = self._component().component.authorizer_token(client.appid, old)
        except errors.WeChatError as exc:
            if exc.is_(errors.E.REFRESH_TOKEN_INVALID):
                self._refused()
                raise errors.ReauthorizationNeeded(
                    exc.errcode, exc.errmsg, path=exc.path
                ) from None
            raise
        if answer.refresh_token and answer.refresh_token != old:
            # Persisted before the token is used: a refresh token WeChat replaced
            # is never only in memory (SPEC §8).
            self._changed(old, answer.refresh_token)
        return answer.access_token, answer.expires_in
