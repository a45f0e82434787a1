"""The dashboard's sections. Each app registers its own in ``AppConfig.ready()``.

A section is a function ``(request) -> dict | None`` returning ``key``, ``title``,
``template`` and whatever its template needs, or None when it has nothing for this
user. Optional keys: ``span`` (columns of 12 it takes on a wide screen, default 4)
and ``alerts`` — what needs the user's attention, each ``{"level": "error" |
"warning" | "info", "text": ..., "url": ..., "action": ...}``. The alerts of every
section are gathered in one *Alerts* panel, placed at ``ALERTS_ORDER``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.utils.translation import gettext_lazy as _

_SECTIONS: list[tuple[int, Callable]] = []
ALERTS_ORDER = 35
_LEVELS = {"error": 0, "warning": 1, "info": 2}


def register(order: int):
    def decorator(fn: Callable) -> Callable:
        _SECTIONS.append((order, fn))
        _SECTIONS.sort(key=lambda item: item[0])
        return fn

    return decorator


def sections_for(request) -> list[dict]:
    """The sections for this request, in order, with the Alerts panel among them."""
    out, alerts, placed = [], [], False
    for order, fn in _SECTIONS:
        if order > ALERTS_ORDER and not placed:
            out.append(_alerts_section(alerts))
            placed = True
        section = fn(request)
        if section:
            section.setdefault("span", 4)
            alerts.extend(section.get("alerts") or ())
            out.append(section)
    if not placed:
        out.append(_alerts_section(alerts))
    return out


def _alerts_section(alerts: list[dict]) -> dict:
    # The list is filled in place as later sections run; sorted when rendered.
    return {
        "key": "alerts",
        "title": _("Needs your attention"),
        "template": "portal/sections/alerts.html",
        "span": 8,
        "alerts": _SortedAlerts(alerts),
    }


class _SortedAlerts:
    """The gathered alerts, errors first, read when the template renders."""

    def __init__(self, alerts: list[dict]):
        self._alerts = alerts

    def __iter__(self):
        return iter(sorted(self._alerts, key=lambda a: _LEVELS.get(a["level"], 9)))

    def __len__(self) -> int:
        return len(self._alerts)

    def __bool__(self) -> bool:
        return bool(self._alerts)
