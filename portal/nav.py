"""Pages of the merchant portal that are not a model's admin (the redemption history,
the API keys) in the admin's sidebar and the dashboard's "Everything in the portal".

An app registers a function ``(request) -> list[dict]`` in ``AppConfig.ready()``;
each dict is an app entry as the admin's ``app_list`` has them: ``name``,
``app_label``, ``app_url`` and ``models`` (each ``name``, ``object_name``,
``admin_url``). Return an empty list for a user who may not open them.
"""

from __future__ import annotations

from collections.abc import Callable

_ENTRIES: list[Callable] = []


def register(fn: Callable) -> Callable:
    _ENTRIES.append(fn)
    return fn


def extra_apps(request) -> list[dict]:
    apps: list[dict] = []
    for fn in _ENTRIES:
        apps.extend(fn(request) or ())
    return apps
