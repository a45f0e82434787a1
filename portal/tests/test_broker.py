"""The embedded broker (portal/broker.py) under concurrent processes (issue 8 §1).

Real processes over a real folder, through kombu's public API: publishers and
consumers as separate interpreters, a consumer SIGKILLed while it holds messages.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

BASE = Path(__file__).resolve().parent.parent.parent
TRANSPORT = "portal.broker:Transport"


def _options(root: str) -> dict:
    root_path = Path(root)
    return {
        "data_folder_in": str(root_path / "queue"),
        "data_folder_out": str(root_path / "queue"),
        "control_folder": str(root_path / "control"),
        "polling_interval": 0.01,
        "reclaim_interval": 0.5,
    }


def _connection(root: str, transport: str):
    from kombu import Connection

    return Connection(
        "filesystem://", transport=transport, transport_options=_options(root)
    )


def _work_queue(name: str = "work"):
    from kombu import Exchange, Queue

    return Queue(name, Exchange(name, type="direct"), routing_key=name)


# --- the processes (run as `python -c`, see _spawn) ------------------------------
def publisher_main(root: str, transport: str, prefix: str, count: int) -> None:
    queue = _work_queue()
    with _connection(root, transport) as conn:
        producer = conn.Producer(serializer="json")
        for i in range(count):
            producer.publish(
                {"id": f"{prefix}-{i}"},
                exchange=queue.exchange,
                routing_key=queue.routing_key,
                declare=[queue],
            )


def consumer_main(
    root: str, transport: str, out: str, idle: float, hold: bool = False
) -> None:
    """Writes each message's id to ``out``; acks it unless ``hold``. Exits after
    ``idle`` seconds without a message (never, if ``hold``)."""
    queue = _work_queue()
    with open(out, "a") as seen, _connection(root, transport) as conn:

        def on_message(body, message):
            seen.write(body["id"] + "\n")
            seen.flush()
            if not hold:
                message.ack()

        with conn.Consumer(
            [queue], callbacks=[on_message], accept=["json"], prefetch_count=4
        ):
            last = time.monotonic()
            while hold or time.monotonic() - last < idle:
                try:
                    conn.drain_events(timeout=0.2)
                    last = time.monotonic()
                except TimeoutError:
                    pass


def binder_main(root: str, transport: str, prefix: str, count: int) -> None:
    from kombu import Exchange, Queue

    exchange = Exchange("shared", type="direct")
    with _connection(root, transport) as conn:
        channel = conn.default_channel
        for i in range(count):
            Queue(f"{prefix}-{i}", exchange, routing_key=f"{prefix}-{i}")(
                channel
            ).declare()


def _spawn(fn: str, *args, cwd=None) -> subprocess.Popen:
    call = f"from portal.tests.test_broker import {fn}; {fn}(*{args!r})"
    return subprocess.Popen(
        [sys.executable, "-c", call],
        cwd=cwd or BASE,
        env={**os.environ, "PYTHONPATH": str(BASE)},
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(procs, timeout=120) -> list[str]:
    errors = []
    for proc in procs:
        _, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0 or "Traceback" in err:
            errors.append(f"exit {proc.returncode}: {err[-2000:]}")
    return errors


def _drain(conn, done, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not done() and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            conn.drain_events(timeout=0.2)


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def run_many_publishers_two_consumers(root: Path, transport: str):
    """6 publishers × 150 messages while 2 consumers drain the queue."""
    sent = {f"p{p}-{i}" for p in range(6) for i in range(150)}
    consumers = [
        _spawn("consumer_main", str(root), transport, str(root / f"seen-{c}"), 6.0)
        for c in range(2)
    ]
    publishers = [
        _spawn("publisher_main", str(root), transport, f"p{p}", 150) for p in range(6)
    ]
    errors = _finish(publishers) + _finish(consumers)
    seen = _lines(root / "seen-0") + _lines(root / "seen-1")
    return sent, seen, errors


def test_many_publishers_and_two_consumers_get_every_message_exactly_once(tmp_path):
    sent, seen, errors = run_many_publishers_two_consumers(tmp_path, TRANSPORT)
    assert errors == []  # no JSONDecodeError, no crash, in any process
    assert len(seen) == len(set(seen)), "a message was delivered twice"
    assert set(seen) == sent, f"{len(sent - set(seen))} messages lost"
    assert _lines(tmp_path / "seen-0") and _lines(tmp_path / "seen-1")
    assert not list((tmp_path / "quarantine").iterdir())
    assert not [p for p in (tmp_path / "queue").iterdir()]  # all acked: none left
    assert not list((tmp_path / "tmp").iterdir())


def test_a_consumer_killed_holding_messages_has_them_delivered_to_the_next(tmp_path):
    root = str(tmp_path)
    assert _finish([_spawn("publisher_main", root, TRANSPORT, "m", 10)]) == []
    held = tmp_path / "held"
    doomed = _spawn("consumer_main", root, TRANSPORT, str(held), 0, True)
    deadline = time.monotonic() + 30
    while len(_lines(held)) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(_lines(held)) == 4  # its prefetch: claimed, never acked
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(10)

    after = tmp_path / "after"
    errors = _finish([_spawn("consumer_main", root, TRANSPORT, str(after), 3.0)])
    assert errors == []
    assert sorted(_lines(after)) == sorted(f"m-{i}" for i in range(10))
    assert set(_lines(held)) <= set(_lines(after))
    assert not list((tmp_path / "processing").rglob("*.msg"))
    dead = [
        p
        for p in (tmp_path / "processing").iterdir()
        if p.name.startswith(f"{doomed.pid}-")
    ]
    assert dead == []  # its folder is gone too


def test_a_consumer_that_stops_returns_what_it_did_not_ack(tmp_path):
    """A warm shutdown (the connection closed) requeues prefetched messages."""
    root = str(tmp_path)
    assert _finish([_spawn("publisher_main", root, TRANSPORT, "w", 3)]) == []
    from kombu import Consumer

    got = []
    with (
        _connection(root, TRANSPORT) as conn,
        Consumer(
            conn,
            [_work_queue()],
            callbacks=[lambda b, m: got.append(b["id"])],
            accept=["json"],
            prefetch_count=2,
        ),
    ):
        _drain(conn, lambda: len(got) == 2)
    assert len(got) == 2
    after = tmp_path / "after"
    assert _finish([_spawn("consumer_main", root, TRANSPORT, str(after), 2.0)]) == []
    assert sorted(_lines(after)) == ["w-0", "w-1", "w-2"]


def test_an_unreadable_message_file_is_quarantined_and_the_rest_delivered(
    tmp_path, caplog
):
    root = str(tmp_path)
    assert _finish([_spawn("publisher_main", root, TRANSPORT, "ok", 2)]) == []
    queue = tmp_path / "queue"
    # What kombu's own transport leaves when a writer is caught mid-write.
    (queue / "00000000000000000001_empty.work.msg").write_bytes(b"")
    (queue / "00000000000000000002_half.work.msg").write_bytes(b'{"body": "ey')
    from kombu import Consumer

    got = []

    def on_message(body, message):
        got.append(body["id"])
        message.ack()

    with (
        _connection(root, TRANSPORT) as conn,
        Consumer(conn, [_work_queue()], callbacks=[on_message], accept=["json"]),
    ):
        _drain(conn, lambda: len(got) == 2)
    assert sorted(got) == ["ok-0", "ok-1"]
    assert sorted(p.name for p in (tmp_path / "quarantine").iterdir()) == [
        "00000000000000000001_empty.work.msg",
        "00000000000000000002_half.work.msg",
    ]
    assert "could not be read" in caplog.text


def test_exchange_tables_stay_whole_under_concurrent_binds(tmp_path):
    root = str(tmp_path)
    binders = [_spawn("binder_main", root, TRANSPORT, f"b{b}", 25) for b in range(6)]
    assert _finish(binders) == []
    table = json.loads((tmp_path / "control" / "shared.exchange").read_text())
    assert sorted(row[2] for row in table) == sorted(
        f"b{b}-{i}" for b in range(6) for i in range(25)
    )


def test_every_broker_file_is_private_and_nothing_is_written_to_the_cwd(tmp_path):
    root = tmp_path / "broker"
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    procs = [
        _spawn("publisher_main", str(root), TRANSPORT, "x", 5, cwd=cwd),
        _spawn("binder_main", str(root), TRANSPORT, "y", 2, cwd=cwd),
    ]
    assert _finish(procs) == []
    held = _spawn("consumer_main", str(root), TRANSPORT, str(tmp_path / "h"), 0, True)
    try:
        deadline = time.monotonic() + 30
        while len(_lines(tmp_path / "h")) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(cwd.iterdir()) == []  # no ./control, nothing else
        paths = list(root.rglob("*"))
        assert any(p.name.endswith(".msg") for p in paths)  # queued and claimed
        assert any(p.name.endswith(".exchange") for p in paths)
        for path in paths:
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    finally:
        held.kill()
        held.wait()


def test_filesystem_urls_are_the_portal_broker():
    from kombu import Connection

    from portal import broker
    from portal.celery import app

    assert isinstance(Connection("filesystem://").transport, broker.Transport)
    if app.conf.broker_url.startswith("filesystem://"):
        with app.connection_for_write() as conn:
            assert isinstance(conn.transport, broker.Transport)


@pytest.mark.celery_worker
def test_no_control_folder_is_created_by_a_real_worker(celery_worker_process):
    """The worker's pidbox, gossip and mingle are off: no exchange of theirs on
    disk, and nothing next to manage.py."""
    from django.conf import settings

    from portal.celery import ping

    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        pytest.skip("the broker is not the embedded filesystem one (REDIS_URL is set)")
    assert ping.delay().get(timeout=30) == "pong"
    control = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["control_folder"])
    assert not (BASE / "control").exists()
    assert control.parent == settings.VAR_DIR / "broker"
    assert not [p for p in control.glob("*.exchange") if "pidbox" in p.name]
