"""The dashboard's sections. Each app registers its own in ``AppConfig.ready()``.

A section is a function ``(request) -> dict | None`` returning ``title``, ``template``
and whatever its template needs, or None when it has nothing for this user.
"""

from __future__ import annotations

from collections.abc import Callable

_SECTIONS: list[tuple[int, Callable]] = []


def register(order: int):
    def decorator(fn: Callable) -> Callable:
        _SECTIONS.append((order, fn))
        _SECTIONS.sort(key=lambda item: item[0])
        return fn

    return decorator


def sections_for(request) -> list[dict]:
    out = []
    for _order, fn in _SECTIONS:
        section = fn(request)
        if section:
            out.append(section)
    return out
