"""The token herd of a provider (SPEC §4, §8): 300 sub-merchants whose authorizer
tokens expire at once, 20 concurrent callers each → one ``api_authorizer_token``
per merchant (and one ``api_component_token`` for them all), in the shared cache
with its cross-process lock — the database cache, and Redis when REDIS_URL is set."""

from __future__ import annotations

import os
import queue
import secrets
import threading
import uuid

import pytest
from django.db import connection
from django.db.models import Count

import wechat
from portal.models import Merchant
from portal.tests.provider_helpers import push_ticket
from wechat.tokens import CacheTokenStore

MERCHANTS = 300
CALLERS = 20


def _store(backend: str):
    prefix = f"herd-{uuid.uuid4().hex[:8]}"
    if backend == "redis":
        from django.core.cache.backends.redis import RedisCache

        return CacheTokenStore(
            RedisCache(os.environ["REDIS_URL"], {"KEY_PREFIX": prefix})
        )
    from django.conf import settings
    from django.core.cache.backends.db import DatabaseCache
    from django.core.management import call_command
    from django.test import override_settings

    # As the embedded profile configures it (settings.CACHE_MAX_ENTRIES); its table
    # exists only where the database cache is this run's cache: made here if not.
    options = {"MAX_ENTRIES": settings.CACHE_MAX_ENTRIES}
    embedded = {"BACKEND": "django.core.cache.backends.db.DatabaseCache"}
    with override_settings(
        CACHES={"default": {**embedded, "LOCATION": "portal_cache"}}
    ):
        call_command("createcachetable", verbosity=0)
    return CacheTokenStore(
        DatabaseCache("portal_cache", {"KEY_PREFIX": prefix, "OPTIONS": options})
    )


def _sub_merchants(provider, count: int) -> list[Merchant]:
    """``count`` official accounts at WeChat that authorized the provider, and the
    portal's sub-merchants holding their refresh tokens (no token cached yet)."""
    from sandbox.backends.component import authorization_grant, component_get
    from sandbox.models import Account

    component = component_get(provider.component_appid)
    appids = [f"wx7e4d{i:012d}" for i in range(count)]
    Account.objects.bulk_create(
        [Account(appid=a, secret=secrets.token_hex(16)) for a in appids]
    )
    merchants = []
    for i, appid in enumerate(appids):
        grant = authorization_grant(
            component, authorizer_appid=appid, func_ids=[8, 13], push=False
        )
        merchants.append(
            Merchant(
                name=f"Herd {i:03d}",
                appid=appid,
                provider=provider,
                access=Merchant.Access.COMPONENT,
                authorizer_refresh_token=grant.authorization.refresh_token,
                func_ids=[8, 13],
            )
        )
    Merchant.objects.bulk_create(merchants)
    return list(Merchant.objects.filter(appid__in=appids).select_related("provider"))


@pytest.mark.parametrize(
    "backend", ["database", pytest.param("redis", marks=pytest.mark.redis)]
)
def test_300_sub_merchants_20_callers_each_one_refresh_per_merchant(
    sandbox, provider, backend
):
    from sandbox.models import Call

    push_ticket(sandbox, provider)
    merchants = _sub_merchants(provider, MERCHANTS)
    store = _store(backend)
    Call.objects.all().delete()

    # CALLERS threads take the callers in order: the 20 callers of a merchant are
    # next to each other in the queue, so they run at the same time. (Not more
    # threads: each holds a PostgreSQL connection, and so does the sandbox's
    # thread serving it: 40 of them, beside the other xdist worker's tests, can
    # use up PostgreSQL's 100 connections, as a CI run once did.)
    work: queue.Queue = queue.Queue()
    for merchant in merchants:
        for _ in range(CALLERS):
            work.put(merchant)
    results: list[tuple[str, str]] = []

    def caller() -> None:
        try:
            while True:
                try:
                    merchant = work.get_nowait()
                except queue.Empty:
                    return
                client = wechat.for_merchant(merchant, store=store, timeout=30)
                results.append((merchant.appid, client.access_token()))
        finally:
            connection.close()  # this thread's connection, once

    threads = [threading.Thread(target=caller) for _ in range(CALLERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert len(results) == MERCHANTS * CALLERS
    tokens: dict[str, set[str]] = {}
    for appid, token in results:
        tokens.setdefault(appid, set()).add(token)
    assert len(tokens) == MERCHANTS
    assert all(len(values) == 1 for values in tokens.values())  # one token each
    refreshes = dict(
        Call.objects.filter(path="cgi-bin/component/api_authorizer_token")
        .values_list("appid")
        .annotate(n=Count("pk"))
    )
    assert refreshes == {m.appid: 1 for m in merchants}
    assert (
        Call.objects.filter(path="cgi-bin/component/api_component_token").count() == 1
    )
    # Each token works on that merchant's own API.
    for merchant in merchants[:: MERCHANTS // 5]:
        client = wechat.for_merchant(merchant, store=store)
        assert client.card.batchget(offset=0, count=1).total == 0
    assert Call.objects.filter(
        path="cgi-bin/component/api_authorizer_token"
    ).count() == (MERCHANTS)
