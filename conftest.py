"""Fixtures shared by every app's tests."""

from __future__ import annotations

import contextlib
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


@pytest.fixture(scope="session", autouse=True)
def _empty_test_broker():
    """Tasks a previous run left in this worker's filesystem broker are dropped."""
    import shutil

    from django.conf import settings

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        queue = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        shutil.rmtree(queue, ignore_errors=True)
        os.makedirs(queue, exist_ok=True)
    yield


def clear_test_cache() -> None:
    """Empty this test process's part of the shared cache (tokens, locks).

    The database cache's table is not flushed between tests, and a shared Redis
    holds other processes' keys: only our key prefix is removed there.
    """
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    # The backend itself: `django.core.cache.cache` is a proxy, which isinstance()
    # does not see through — and clear() on Redis is FLUSHDB, every process's keys.
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        client = backend._cache.get_client(write=True)
        for key in client.scan_iter(match=f"{backend.key_prefix}:*", count=1000):
            client.delete(key)
    else:
        backend.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request the test client makes
    with another (Accept-Language, a cookie) leaves it active in this thread."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fresh_cache(request, django_db_blocker):
    uses_db = request.node.get_closest_marker("django_db") or {
        "db",
        "transactional_db",
        "live_server",
        "django_db_setup",
    } & set(request.fixturenames)
    if uses_db:
        with django_db_blocker.unblock():
            clear_test_cache()
    yield


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


@pytest.fixture
def celery_worker_process(transactional_db, live_server):
    """A real Celery worker process on this test run's database, broker and queue,
    talking to the live server's sandbox as WeChat; started for one test, on an
    emptied queue, so that it never handles another test's tasks."""
    proc, log = start_celery_worker(live_server.url)
    yield proc
    stop_celery_worker(proc, log)


def start_celery_worker(live_server_url: str, queue: str | None = None, **extra_env):
    """Start a worker process (returns it and its log file once it is ready)."""
    import subprocess
    import sys
    import time

    from django.conf import settings

    from portal.celery import app

    # A queue that does not exist yet has nothing to purge.
    with app.connection_for_write() as conn, contextlib.suppress(Exception):
        conn.default_channel.queue_purge(queue or settings.CELERY_TASK_DEFAULT_QUEUE)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "DATABASE_URL": _database_url_of_test_db(),
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "WECHAT_API_BASE": live_server_url + "/sandbox/",
        "WECHAT_TIMEOUT": "2",
        **extra_env,
    }
    log_path = settings.VAR_DIR / f"celery-worker-{time.monotonic_ns()}.log"
    log = open(log_path, "w")  # noqa: SIM115  (closed at teardown)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--pool",
            "prefork",
            "--queues",
            queue or settings.CELERY_TASK_DEFAULT_QUEUE,
            "--hostname",
            f"test-{os.getpid()}-{time.monotonic_ns()}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        env=env,
        cwd=settings.BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("Celery worker did not start:\n" + log_path.read_text())
        time.sleep(0.2)
    return proc, log


def stop_celery_worker(proc, log) -> None:
    import subprocess

    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


class SandboxHandle:
    """The sandbox as a test meets it: over HTTP, through its control API."""

    def __init__(self, base_url: str):
        import requests

        self.base_url = base_url  # …/sandbox/
        self.http = requests.Session()

    def control(self, method: str, path: str, **kwargs):
        # The control API takes only JSON POSTs (415 otherwise), bodyless too; and
        # the token when the environment sets one (sandbox.security).
        if method.upper() == "POST" and "json" not in kwargs and "data" not in kwargs:
            kwargs["json"] = {}
        token = os.environ.get("SANDBOX_CONTROL_TOKEN")
        if token:
            kwargs.setdefault("headers", {})["Authorization"] = f"Bearer {token}"
        response = self.http.request(
            method, self.base_url + "control/" + path, **kwargs
        )
        assert response.status_code < 300, response.text
        return response.json()

    def calls(self, path: str, appid: str | None = None) -> int:
        params = {"path": path, **({"appid": appid} if appid else {})}
        return self.control("GET", "calls", params=params)["count"]

    def wait_calls(self, path: str, appid: str, count: int, timeout: float = 5) -> int:
        """The call count once it reaches ``count`` (a delayed answer is still
        sleeping in the sandbox when the client has given up on it)."""
        import time

        deadline = time.monotonic() + timeout
        while (seen := self.calls(path, appid)) < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return seen

    def fault(self, kind: str, **fields) -> int:
        return self.control("POST", "faults", json={"kind": kind, **fields})["id"]

    def advance(self, seconds: float) -> None:
        self.control("POST", "clock", json={"advance_seconds": seconds})

    def account(self, appid: str, secret: str = "s" * 32, **fields) -> dict:
        return self.control(
            "POST", "accounts", json={"appid": appid, "secret": secret, **fields}
        )

    def client(self, appid: str, secret: str = "s" * 32, **kwargs):
        from wechat.client import WeChatClient

        # Generous: a loaded CI machine must not turn a slow answer into a retry
        # (tests of timeouts pass their own).
        kwargs.setdefault("timeout", 10.0)
        return WeChatClient(appid, secret, base_url=self.base_url, **kwargs)


@pytest.fixture
def sandbox(live_server, settings, transactional_db) -> SandboxHandle:
    """The sandbox served by the live server (with the portal), WECHAT_API_BASE on it.

    The demo merchants' sandbox accounts push events to this live server.
    """
    settings.WECHAT_API_BASE = live_server.url + "/sandbox/"
    settings.WECHAT_MP_BASE = live_server.url + "/sandbox/mp/"  # SPEC §8's page
    settings.WECHAT_TIMEOUT = 2.0
    yield SandboxHandle(live_server.url + "/sandbox/")
    _wait_for_background_pushes()


def _wait_for_background_pushes(timeout: float = 15.0) -> None:
    """The sandbox delivers some pushes from background threads (as WeChat pushes
    after answering): let them finish before the test's database is emptied, or
    one still writing deadlocks the flush and leaves rows to the next test."""
    import threading
    import time

    from sandbox.backends.push import PUSH_THREAD

    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread.name == PUSH_THREAD:
            thread.join(max(0.0, deadline - time.monotonic()))


@pytest.fixture
def live_demo(sandbox, live_server):
    """Demo data whose sandbox accounts call back this test's live server."""
    from portal.demo import seed_demo

    return seed_demo(portal_url=live_server.url)


# --- shared fixtures: Demo Bistro, its cards, its coins, its codes ---------------------
@pytest.fixture
def bistro(live_demo):
    """(merchant, logo_url, picture_url): Demo Bistro with two images at the sandbox."""
    from cards import services
    from tests.factories import png

    merchant = live_demo["Demo Bistro"]
    logo = services.card_image_upload(
        merchant=merchant, content=png(), filename="logo.png"
    )
    pic = services.card_image_upload(
        merchant=merchant, content=png((200, 80, 40), (64, 32)), filename="dish.png"
    )
    return merchant, logo.wechat_url, pic.wechat_url


@pytest.fixture
def approved_card(bistro, sandbox):
    """An approved CASH card (0.6 coins per unit: it has a minimum spend)."""
    from cards import services as card_services
    from cards.models import CardStatus
    from tests.factories import cash_card, process_events

    merchant, logo, pic = bistro
    card = card_services.card_submit(
        card=card_services.card_draft_save(
            merchant=merchant, definition=cash_card(logo, pic)
        )
    )
    sandbox.control("POST", f"cards/{card.card_id}/review", json={"approve": True})
    process_events()
    card.refresh_from_db()
    assert card.status == CardStatus.APPROVED
    return card


@pytest.fixture
def coins_on(approved_card):
    """The coin account open (200 free coins) and the approved card."""
    from coins import services
    from tests.factories import process_events

    services.coin_account_activate(merchant=approved_card.merchant)
    process_events()
    return approved_card


@pytest.fixture
def stocked_card(coins_on):
    """An approved CASH card of Demo Bistro with 50 units of stock (store 100001)."""
    from coins import services

    card = coins_on
    order = services.stock_order_quote(merchant=card.merchant, card=card, quantity=50)
    services.stock_order_confirm(order_id=order.pk)
    card.refresh_from_db()
    assert card.quantity == 50
    return card


@pytest.fixture
def receive(sandbox):
    """``receive(card, openid)`` → the sandbox's answer {card_id, code, encrypt_code}:
    a WeChat user receives the card."""

    def _receive(card, openid: str = "o_customer_1", **extra) -> dict:
        return sandbox.control(
            "POST", f"cards/{card.card_id}/receive", json={"openid": openid, **extra}
        )

    return _receive
