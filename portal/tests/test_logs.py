"""No log line shows a query string; routine beat ticks stay out of the log (issue 8).

Each check runs the process as it runs for real (gunicorn as runall starts it; Django
and Celery with their logging configured as a worker configures it) and reads what
it printed.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent.parent


def failing_app(environ, start_response):
    """A WSGI app whose error escapes to gunicorn, URL and query in its message."""
    raise RuntimeError(f"could not serve {environ['RAW_URI']}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _send(port: int, raw: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(raw)
        conn.settimeout(5)
        try:
            while conn.recv(65536):
                pass
        except OSError:
            pass


def test_gunicorn_error_lines_never_show_a_query_string(tmp_path):
    from portal.management.commands.runall import Command

    port = _free_port()
    cmd = Command()._commands(port, _free_port(), 1, 1)["web"]
    assert cmd[-1] == "portal.wsgi:application"
    cmd[-1] = "portal.tests.test_logs:failing_app"
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=BASE, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "Booting worker" not in log_path.read_text():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(0.5)
        # gunicorn's "Error handling request <uri>" (and the exception's message).
        _send(port, b"GET /boom?access_token=SECRET1&x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
        # gunicorn's "Invalid request from ip=…: Invalid HTTP request line: '…'".
        _send(port, b"GET /bad?encrypt_code=SECRET2\r\n\r\n")
        deadline = time.monotonic() + 20
        while "Invalid request from ip" not in log_path.read_text():
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(20)
    text = log_path.read_text()
    assert "Error handling request GET /boom?…" in text
    assert "could not serve /boom?…" in text  # the traceback's message too
    assert "Invalid request from ip" in text and "/bad?…" in text
    assert "SECRET" not in text


def _run(script: str, log_level: str = "INFO") -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "LOG_LEVEL": log_level,
        "VAR_DIR": str(BASE / "var" / "test" / "logs"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def test_django_and_celery_log_lines_never_show_a_query_string():
    out = _run(
        "import logging, django; django.setup()\n"
        "logging.getLogger('django.request').warning('Not Found: %s', '/x?code=SECRET3')\n"
        "logging.getLogger('django.server').info('\"GET /s?code=SECRET4 HTTP/1.1\" 404')\n"
        "try:\n"
        "    raise ValueError('Max retries exceeded with url: /cgi-bin/token?secret=SECRET5')\n"
        "except ValueError:\n"
        "    logging.getLogger('wechat').exception('token call failed')\n"
        # What a worker does at start: Celery's own handlers replace Django's.
        "from portal.celery import app\n"
        "app.log.setup(loglevel='INFO')\n"
        "logging.getLogger('celery.app.trace').error('failed: GET /y?token=SECRET6')\n"
        "from celery.utils.log import get_task_logger\n"
        "get_task_logger('portal.demo').warning('see https://h/z?token=SECRET7')\n"
    )
    for line in (
        "Not Found: /x?…",
        '"GET /s?… HTTP/1.1"',
        "url: /cgi-bin/token?…",
        "failed: GET /y?…",
        "see https://h/z?…",
    ):
        assert line in out, out
    assert "SECRET" not in out, out


ROUTINE_LINES = """
import logging, django; django.setup()
from portal.celery import app
app.log.setup(loglevel=__import__('os').environ['LOG_LEVEL'])
from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS
strategy = logging.getLogger('celery.worker.strategy')
trace = logging.getLogger('celery.app.trace')
def done(name, tid, value):
    trace.info(LOG_SUCCESS, {'name': name, 'id': tid, 'runtime': 0.01,
                             'return_value': value})
strategy.info(LOG_RECEIVED, {'name': 'coins.poll_recharges', 'id': 'tick-received'})
done('coins.poll_recharges', 'tick-idle', '0')
done('coins.poll_recharges', 'tick-busy', '3')
strategy.info(LOG_RECEIVED, {'name': 'coins.confirm_stock_order', 'id': 'confirm-in'})
done('coins.confirm_stock_order', 'confirm-done', "'confirmed'")
logging.getLogger('celery.beat').info(
    'Scheduler: Sending due task %s (%s)', 'coins-poll-recharges', 'coins.poll_recharges')
logging.getLogger('celery.beat').info('beat: Starting...')
trace.warning('routine-warning for %s', 'coins.poll_recharges')
"""


def test_routine_beat_ticks_are_debug_and_everything_else_still_shows():
    out = _run(ROUTINE_LINES)
    for hidden in ("tick-received", "tick-idle", "Sending due task"):
        assert hidden not in out, out
    for shown in (
        "tick-busy",
        "confirm-in",
        "confirm-done",
        "beat: Starting",
        "routine-warning",
    ):
        assert shown in out, out

    debug = _run(ROUTINE_LINES, log_level="DEBUG")
    for line in ("tick-received", "tick-idle", "Sending due task"):
        assert line in debug, debug


def ok_app(environ, start_response):
    """Answers 200, or 500 for /api/coins/balance?fail."""
    failing = environ.get("QUERY_STRING") == "fail"
    start_response(
        "500 Error" if failing else "200 OK", [("Content-Type", "text/plain")]
    )
    return [b"ok"]


def test_routine_polls_stay_out_of_the_access_log_unless_they_fail(tmp_path):
    """Open pages poll the balance and statuses every second or two: those lines
    would bury everything else; a failing poll, and every other request, still show."""
    from portal.management.commands.runall import Command

    port = _free_port()
    cmd = Command()._commands(port, _free_port(), 1, 1)["web"]
    cmd[-1] = "portal.tests.test_logs:ok_app"
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, cwd=BASE, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "Booting worker" not in log_path.read_text():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(0.5)
        for path in (
            "/api/coins/balance",
            "/healthz",
            "/static/portal/design.css",
            "/api/coins/recharges/12",
            "/admin/",
            "/api/coins/balance?fail",
        ):
            _send(
                port,
                f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode(),
            )
        deadline = time.monotonic() + 20
        while '"GET /admin/"' not in log_path.read_text():
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        time.sleep(0.5)
    finally:
        proc.terminate()
        proc.wait(20)
    text = log_path.read_text()
    assert '"GET /admin/" 200' in text
    assert '"GET /api/coins/balance" 500' in text
    for quiet in (
        '"GET /api/coins/balance" 200',
        "/healthz",
        "design.css",
        "recharges/12",
    ):
        assert quiet not in text, quiet
