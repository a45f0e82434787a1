"""The one WeChat client: one request path for every call (SPEC §4, §11).

One client per merchant (its appid and secret), no global state. Every call goes
through ``WeChatClient.call``: access token, JSON with ``ensure_ascii=False``, a
timeout, errcode → typed exception, and the retry policy:

* token errors (40001/40014/42001) on any call: drop that token (only if it is still
  the cached one), refresh, retry once — WeChat refused the call, nothing happened;
* errcode -1, HTTP 5xx, timeouts and connection errors: retried with back-off only
  for calls marked ``safe_to_retry`` (reads, token, tickets, uploads). A call that is
  not (consume, confirm, recharge) raises ``UnknownOutcome`` when its answer was lost,
  and the caller settles it by reading, never by sending it again.
"""

from __future__ import annotations

import json
import logging
import random
import time
from decimal import Decimal
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from . import errors
from .api.card import CardAPI
from .api.code import CodeAPI
from .api.coin import CoinAPI
from .api.component import ComponentAPI
from .api.media import MediaAPI
from .api.ticket import TicketAPI
from .tokens import (
    AppSecretSource,
    CachedCredential,
    CacheTokenStore,
    TokenSource,
    TokenStore,
)

log = logging.getLogger("wechat")

DEFAULT_BASE = "https://api.weixin.qq.com/"
MAX_ATTEMPTS = 3
BACKOFF = 0.2  # seconds; doubled each attempt, with jitter


class WeChatClient:
    """WeChat's API for one official account.

    ``base_url`` is WeChat (``https://api.weixin.qq.com/``) or the sandbox
    (``http://127.0.0.1:8001/sandbox/``). The domain APIs hang off the client:
    ``client.media``, ``client.ticket``, ``client.card``, ``client.coin``,
    ``client.component``.

    Where the access token comes from is the ``token_source`` (SPEC §4, §8): the
    account's AppSecret by default (``secret``), a provider's component for its
    sub-merchants (``AuthorizerTokenSource``), or, for a provider's own component
    calls, the component token (``ComponentTokenSource``). Nothing else differs.
    """

    def __init__(
        self,
        appid: str,
        secret: str = "",
        *,
        base_url: str = DEFAULT_BASE,
        timeout: float = 5.0,
        store: TokenStore | None = None,
        session: requests.Session | None = None,
        token_source: TokenSource | None = None,
    ):
        self.appid = appid
        self.token_source = token_source or AppSecretSource(secret)
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.store = store or CacheTokenStore()
        self.session = session or _new_session()
        self._token = self.credential(
            self.token_source.cache_key, lambda: self.token_source.fetch(self)
        )
        self.media = MediaAPI(self)
        self.ticket = TicketAPI(self)
        self.card = CardAPI(self)
        self.coin = CoinAPI(self)
        self.code = CodeAPI(self)
        self.component = ComponentAPI(self)

    def __repr__(self) -> str:  # never the secret
        return f"WeChatClient(appid={self.appid!r}, base_url={self.base_url!r})"

    # --- tokens ------------------------------------------------------------------
    def access_token(self) -> str:
        """A valid access token, from the shared cache or (once) from WeChat.

        Raises the token source's typed error first when nothing may be sent for
        this account (a revoked sub-merchant): before any call.
        """
        self.token_source.check()
        return self._token.get()

    def invalidate_token(self, failed: str) -> None:
        self._token.invalidate(failed)

    def prime_token(self, value: str, expires_in: int) -> None:
        """Keep an access token WeChat handed over with another answer."""
        self._token.prime(value, expires_in)

    def credential(self, key: str, fetch) -> CachedCredential:
        """A cached, lock-refreshed value of this account (tickets)."""
        # The lock outlives the slowest fetch (every attempt timing out), and
        # waiters wait as long: a slow WeChat never lets a second refresh start.
        slowest = MAX_ATTEMPTS * (self.timeout + 3.05) + 2
        return CachedCredential(
            self.store,
            f"wechat:{key}:{self.base_url}:{self.appid}",
            fetch,
            wait_timeout=slowest,
            lock_ttl=int(slowest) + 5,
        )

    # --- the one request path ------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json_body: Any = None,
        files: dict | None = None,
        with_token: bool = True,
        safe_to_retry: bool = False,
        timeout: float | None = None,
        decimals: bool = False,
    ) -> dict:
        """Send one API call and return WeChat's JSON answer (errcode 0 or absent).

        Raises ``WeChatError`` (typed by errcode), ``TransportError`` when WeChat did
        not answer, or ``UnknownOutcome`` when a not-safe-to-retry call lost its answer.
        ``decimals``: JSON numbers with a fraction are read as ``Decimal`` (coins).
        """
        attempt, token_retried = 0, False
        while True:
            attempt += 1
            query = dict(params or {})
            token = None
            if with_token:
                token = self.access_token()
                query[self.token_source.param] = token
            started = time.monotonic()
            try:
                response = self._send(method, path, query, json_body, files, timeout)
            except requests.exceptions.RequestException as exc:
                never_sent = isinstance(exc, requests.exceptions.ConnectTimeout) or (
                    isinstance(exc, requests.exceptions.ConnectionError)
                    and _connection_refused(exc)
                )
                self._log(method, path, started, f"transport {type(exc).__name__}")
                if (safe_to_retry or never_sent) and attempt < MAX_ATTEMPTS:
                    self._backoff(attempt)
                    continue
                # "from None": requests' message holds the URL, with the token or
                # the secret in its query; it must not reach a log or a traceback.
                if safe_to_retry or never_sent:
                    raise errors.TransportError(
                        errmsg=type(exc).__name__, path=path
                    ) from None
                raise errors.UnknownOutcome(
                    errmsg=type(exc).__name__, path=path
                ) from None

            if response.status_code >= 500:
                self._log(method, path, started, f"HTTP {response.status_code}")
                if safe_to_retry and attempt < MAX_ATTEMPTS:
                    self._backoff(attempt)
                    continue
                cls = errors.TransportError if safe_to_retry else errors.UnknownOutcome
                raise cls(errmsg=f"HTTP {response.status_code}", path=path)

            try:
                data = (
                    response.json(parse_float=Decimal) if decimals else response.json()
                )
            except ValueError:
                # An answer that is not WeChat's JSON (a proxy's error page, a cut
                # body) says nothing about whether an unsafe call was applied.
                self._log(method, path, started, "not JSON")
                cls = errors.TransportError if safe_to_retry else errors.UnknownOutcome
                raise cls(errmsg="not JSON", path=path) from None
            errcode = int(data.get("errcode") or 0)
            self._log(method, path, started, f"errcode {errcode}")
            if errcode == 0:
                return data
            if errcode in errors.TOKEN_ERRCODES and with_token and not token_retried:
                # WeChat refused the call outright: nothing happened, so even a
                # consume or confirm may be sent again with a fresh token.
                self.invalidate_token(token)
                token_retried = True
                attempt -= 1
                continue
            if (
                errcode == errors.E.SYSTEM_BUSY
                and safe_to_retry
                and attempt < MAX_ATTEMPTS
            ):
                self._backoff(attempt)
                continue
            raise errors.error_for(errcode, str(data.get("errmsg", "")), path=path)

    def _send(
        self, method, path, query, json_body, files, timeout
    ) -> requests.Response:
        kwargs: dict[str, Any] = {
            "params": query,
            "timeout": (min(3.05, self.timeout), timeout or self.timeout),
        }
        if files is not None:
            kwargs["files"] = files
        elif json_body is not None:
            kwargs["data"] = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            kwargs["headers"] = {"Content-Type": "application/json; charset=utf-8"}
        return self.session.request(method, self.base_url + path, **kwargs)

    def _backoff(self, attempt: int) -> None:
        time.sleep(BACKOFF * (2 ** (attempt - 1)) * (0.5 + random.random()))  # noqa: S311

    def _log(self, method: str, path: str, started: float, outcome: str) -> None:
        # Path only: the query carries the access token or the secret.
        log.info(
            "wechat %s %s appid=%s %s %.0fms",
            method,
            path,
            self.appid,
            outcome,
            (time.monotonic() - started) * 1000,
        )


def _connection_refused(exc: Exception) -> bool:
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text


def _new_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "friend-coupon-portal/1.0"
    return session
