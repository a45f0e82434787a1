"""Log filters every process of the portal uses (settings.LOGGING, Celery, gunicorn).

* :class:`NoQueryStrings`: no log line ever shows a query string. WeChat's URLs carry
  the access token or the AppSecret there, the portal's may carry a code or an
  ``encrypt_code`` — and gunicorn's error lines ("Error handling request /x?…",
  "Invalid request from ip=…: …") and exception messages (urllib3's "Max retries
  exceeded with url: /cgi-bin/token?…") print whole URLs.
* :class:`RoutineAtDebug`: the foreground log is for people. Beat's ticks and the
  "received" / "succeeded" lines of the routine tasks it sends every few seconds
  are DEBUG; a routine task that did something (a non-empty result) still says so
  at INFO, and every other task, warning and error is untouched.
"""

from __future__ import annotations

import logging
import re

from gunicorn import glogging

# A query string: "?" and what follows it, in a word that has a "/" before the "?"
# (a path or a URL). "Is /dev/null?" or "ok?" have no query after them.
_QUERY = re.compile(r"(?P<path>[^\s?'\"<>]*/[^\s?'\"<>]*)\?[^\s'\"<>]+")
HIDDEN = "?…"


def redact_query_strings(text: str) -> str:
    """``text`` with every URL's query string replaced by ``?…``."""
    if "?" not in text:
        return text
    return _QUERY.sub(lambda m: m["path"] + HIDDEN, text)


class NoQueryStrings(logging.Filter):
    """Rewrites a record's message, traceback and stack without query strings."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_query_strings(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_query_strings(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_query_strings(record.stack_info)
        return True


# What Celery prints for a task's return value when there was nothing to do.
_NOTHING = frozenset({"0", "None", "''", '""', "[]", "{}", "()", "False"})


class RoutineAtDebug(logging.Filter):
    """Demotes routine Celery lines to DEBUG (shown only when DEBUG is on).

    ``tasks``: the names of the routine tasks (settings: every beat entry's task).
    """

    def __init__(self, tasks=(), name: str = ""):
        super().__init__(name)
        self.tasks = frozenset(tasks)

    def _routine(self, record: logging.LogRecord) -> bool:
        if record.name == "celery.beat":
            return str(record.msg).startswith("Scheduler: Sending due task")
        args = record.args if isinstance(record.args, dict) else {}
        if args.get("name") not in self.tasks:
            return False
        if record.name == "celery.worker.strategy":  # "Task x[id] received"
            return True
        if record.name == "celery.app.trace":  # "Task x[id] succeeded in …: result"
            return str(args.get("return_value")) in _NOTHING
        return False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not self._routine(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def install(logger: logging.Logger, *filters: logging.Filter) -> None:
    """Adds ``filters`` to every handler of ``logger`` that lacks one of their kind."""
    for handler in logger.handlers:
        for new in filters:
            if not any(type(f) is type(new) for f in handler.filters):
                handler.addFilter(new)


# What open pages poll while a user waits (and health probes): one line a second
# each would bury everything else. Shown at DEBUG, and whenever they fail.
# The portal's gunicorn access lines (runall, docker/gunicorn_conf.py): paths without
# query strings — WeChat's carry the access token and the portal's may carry codes.
# (The sandbox, which imports nothing of the portal, has its own: sandbox/gunicorn_conf.py.)
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'

ROUTINE_PATHS = re.compile(
    r"^/(healthz|static/.*|api/coins/(balance|recharges/\d+|stock-orders/\d+)"
    r"|admin/cards/friendcard/\d+/status/|api/redemption/recent.*|sandbox/static/.*)$"
)


class GunicornLogger(glogging.Logger):
    """gunicorn's logger with no query strings in its error (or access) lines, and
    the routine polls of open pages left out of the access log unless they fail
    (or LOG_LEVEL is DEBUG).

    ``--logger-class portal.logs.GunicornLogger`` (runall, docker/gunicorn_conf.py).
    """

    def setup(self, cfg):
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            install(logger, NoQueryStrings())

    def access(self, resp, req, environ, request_time):
        status = getattr(resp, "status_code", None) or 0
        if (
            req.method in ("GET", "HEAD")
            and 200 <= status < 400
            and ROUTINE_PATHS.match(req.path or "")
            and not logging.getLogger().isEnabledFor(logging.DEBUG)
        ):
            return
        super().access(resp, req, environ, request_time)
