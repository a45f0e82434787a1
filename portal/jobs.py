"""Enqueue Celery tasks by name, after the transaction commits.

Services never import the task modules (tasks import services, not the reverse):
they name the task. A task enqueued inside a transaction runs only once the rows
it will read are committed, and not at all if the transaction rolls back.
"""

from __future__ import annotations

from django.db import transaction


def enqueue(name: str, *args, countdown: float | None = None, **options) -> None:
    """Run task ``name`` with ``args`` once the current transaction commits."""

    def send() -> None:
        from portal.celery import app

        options_ = dict(options)
        if countdown is not None:
            options_["countdown"] = countdown
        app.signature(name, args=args).apply_async(**options_)

    transaction.on_commit(send)
