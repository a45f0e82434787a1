"""The checks behind /healthz. Each returns "ok" or a short reason, never a secret."""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import connection


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def check_cache() -> str:
    key, value = f"healthz:{uuid.uuid4().hex}", "1"
    cache.set(key, value, 10)
    got = cache.get(key)
    cache.delete(key)
    return "ok" if got == value else "cache did not keep a value"


def check_broker() -> str:
    from portal.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        # A channel proves the transport answers (Redis PING, folder access).
        conn.default_channel  # noqa: B018
    return "ok"


def run_checks() -> dict[str, str]:
    out = {}
    for name, fn in (
        ("database", check_database),
        ("cache", check_cache),
        ("broker", check_broker),
    ):
        try:
            out[name] = fn()
        except Exception as exc:  # a health check reports, it never raises
            out[name] = f"error: {type(exc).__name__}"
    return out
