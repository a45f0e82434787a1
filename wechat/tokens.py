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
        expires_in = int(expires_in)
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
        return value

    def _acquire(self) -> str | None:
        owner = secrets.token_hex(8)
        return owner if self.store.add(self.lock_key, owner, self.lock_ttl) else None

    def _release(self, owner: str) -> None:
        # Not atomic, but the lock's TTL bounds the harm of a rare wrong release.
        if self.store.get(self.lock_key) == owner:
            self.store.delete(self.lock_key)
