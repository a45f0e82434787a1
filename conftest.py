"""Fixtures shared by every app's tests."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest
from django.db import connection
from django.test import Client


def _redis_reachable() -> str | None:
    url = os.environ.get("REDIS_URL")
    if not url:
        return "REDIS_URL is not set (run with Redis to include this test)"
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname, parsed.port or 6379), timeout=1
        ):
            return None
    except OSError:
        return f"Redis at {parsed.hostname}:{parsed.port} does not answer"


def pytest_collection_modifyitems(config, items):
    redis_reason = _redis_reachable()
    for item in items:
        if "redis" in item.keywords and redis_reason:
            item.add_marker(pytest.mark.skip(reason=redis_reason))


@pytest.fixture(autouse=True)
def _needs_postgres(request):
    if (
        request.node.get_closest_marker("postgres")
        and connection.vendor != "postgresql"
    ):
        pytest.skip(
            "needs PostgreSQL (row locks and real concurrency): set DATABASE_URL "
            "to a PostgreSQL database"
        )


@pytest.fixture
def demo(db):
    """The demo tenants of `make run` (portal.demo); returns merchants by name."""
    from portal.demo import seed_demo

    return seed_demo()


@pytest.fixture
def login():
    """``login("demo_staff")`` → a test client signed in as that demo user."""

    def _login(username: str) -> Client:
        from django.contrib.auth import get_user_model

        client = Client()
        user = get_user_model().objects.get(username=username)
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return _login
