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


def _database_url_of_test_db() -> str:
    """The URL of the database the tests run on, for a worker in another process."""
    from django.db import connection as conn

    s = conn.settings_dict
    if conn.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or ""
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}{port}/{s['NAME']}"


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker):
    """A real Celery worker process on this test run's database, broker and queue.

    Tests using it also need ``transactional_db`` so the worker sees their rows.
    """
    import subprocess
    import sys
    import time

    from django.conf import settings

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "DATABASE_URL": _database_url_of_test_db(),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    log_path = settings.VAR_DIR / "celery-worker.log"
    log = open(log_path, "w")  # noqa: SIM115  (closed at teardown)
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "portal", "worker",
            "--loglevel", "INFO", "--concurrency", "2", "--pool", "prefork",
            "--queues", settings.CELERY_TASK_DEFAULT_QUEUE,
            "--hostname", f"test-{os.getpid()}@%h", "--without-gossip",
            "--without-mingle", "--without-heartbeat",
        ],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("Celery worker did not start:\n" + log_path.read_text())
        time.sleep(0.2)
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
