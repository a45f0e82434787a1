"""Things that happen by sandbox time without anyone asking: automatic card reviews,
T+1 refunds. Each backend registers a ``tick(now)``; they run before every API call
and once a second in the sandbox's web process (sandbox.gunicorn_conf)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from . import clock

log = logging.getLogger("sandbox.ticker")
_HOOKS: list[Callable[[datetime], None]] = []
_lock = threading.Lock()


def register(fn: Callable[[datetime], None]) -> Callable[[datetime], None]:
    _HOOKS.append(fn)
    return fn


def tick() -> None:
    """Run every hook once with the current sandbox time; one thread at a time."""
    if not _lock.acquire(blocking=False):
        return
    try:
        now = clock.now()
        for hook in _HOOKS:
            hook(now)
    finally:
        _lock.release()


def run_forever(interval: float = 1.0, stop: threading.Event | None = None) -> None:
    from django.db import close_old_connections

    stop = stop or threading.Event()
    while not stop.wait(interval):
        try:
            tick()
        except Exception:  # the ticker must survive a bad tick
            log.exception("sandbox tick failed")
        finally:
            close_old_connections()
