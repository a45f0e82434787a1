"""The Celery application: web, worker and beat share settings and the database."""

import os

from celery import Celery, signals
from kombu import transport

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

# `filesystem://` (the embedded profile's broker) is portal/broker.py in every
# process of the portal: kombu's own transport loses and corrupts messages between
# processes (issue 8 §1). The alias, not `broker_transport`, so that the URL still
# decides (a redis:// URL is Redis).
transport.TRANSPORT_ALIASES["filesystem"] = "portal.broker:Transport"
transport._transport_cache.pop("filesystem", None)

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.after_setup_logger.connect
@signals.after_setup_task_logger.connect
def _filter_celery_logs(logger=None, **kwargs) -> None:
    """Celery's own log handlers get the filters of settings.LOGGING's console:
    no query strings, routine beat ticks at DEBUG (portal/logs.py)."""
    from portal.logs import NoQueryStrings, RoutineAtDebug, install

    routine = {entry["task"] for entry in app.conf.beat_schedule.values()}
    install(logger, NoQueryStrings(), RoutineAtDebug(routine))


@app.task(name="portal.ping")
def ping() -> str:
    """Answers 'pong': used by /healthz-style checks and the worker integration test."""
    return "pong"


SOAK_TABLE = "portal_soak_mark"


@app.task(name="portal.soak_mark", acks_late=True)
def soak_mark(mark: str) -> None:
    """Test-only (bench/soak.py and its CI test): record one run of task ``mark``.

    Inserts ``mark`` into a table the soak creates itself (no model, no migration);
    its primary key refuses a second run of the same mark, which is counted instead.
    """
    import time

    from django.db import IntegrityError, connection, transaction

    with connection.cursor() as cursor:
        try:
            with transaction.atomic():
                cursor.execute(
                    f"INSERT INTO {SOAK_TABLE} (mark, runs, done_at) VALUES (%s, 1, %s)",  # noqa: S608
                    [mark, time.time()],
                )
        except IntegrityError:
            cursor.execute(
                f"UPDATE {SOAK_TABLE} SET runs = runs + 1 WHERE mark = %s",  # noqa: S608
                [mark],
            )
