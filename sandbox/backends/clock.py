"""Sandbox time (SPEC §12): real time plus an offset the control API moves forward.

Tokens, quotes, marks and reviews expire by this clock, so a test or a demo can
jump an hour ahead without waiting.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F
from django.utils import timezone

from ..models import Clock


def _row() -> Clock:
    clock, _ = Clock.objects.get_or_create(pk=1)
    return clock


def offset() -> float:
    value = Clock.objects.filter(pk=1).values_list("offset_seconds", flat=True).first()
    return value or 0.0


def now() -> datetime:
    return timezone.now() + timedelta(seconds=offset())


def advance(seconds: float) -> datetime:
    """Move sandbox time forward (never back); returns the new sandbox time."""
    if seconds < 0:
        raise ValueError("the sandbox clock only moves forward")
    _row()
    Clock.objects.filter(pk=1).update(offset_seconds=F("offset_seconds") + seconds)
    return now()


def reset() -> None:
    Clock.objects.update_or_create(pk=1, defaults={"offset_seconds": 0})
