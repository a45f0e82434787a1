"""Helpers distribution's tests share."""

from __future__ import annotations

import time


def pushed(event: str, count: int, timeout: float = 10) -> None:
    """Wait until ``count`` pushes of ``event`` have reached the portal (some of the
    sandbox's answers come before their push), then handle every push as the
    worker does."""
    from portal.models import WeChatEvent
    from tests.factories import process_events

    deadline = time.monotonic() + timeout
    while WeChatEvent.objects.filter(event=event).count() < count:
        assert time.monotonic() < deadline, f"fewer than {count} {event} pushes arrived"
        time.sleep(0.1)
    process_events()
