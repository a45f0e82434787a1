"""`make run`: the whole product in the foreground, as it deploys, supervised.

Starts the portal web server (gunicorn + whitenoise), the sandbox as its own web
process (WeChat is a separate server: a portal worker never waits on itself), a Celery
worker and Celery beat. A child that dies is started again, after a back-off that
doubles from 1 s to 30 s while it keeps dying and starts over once it has stayed up
a minute; each death and restart is logged with the child's name and exit status.
Only Ctrl-C or SIGTERM stops everything: every child gets SIGTERM, stragglers get
SIGKILL after 15 s, whatever a child leaves behind (its group) is reaped, and the
command exits 0.

The children run with umask 077: what they create under var/ (the SQLite database
and its -wal/-shm, the broker's files, the local secrets) is readable by this user
only (settings.py keeps var/ itself 0700).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.demo import DEMO_PASSWORD
from portal.logs import ACCESS_LOG_FORMAT

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
# A child that stayed up this long was healthy: its next death restarts it at once.
STABLE_AFTER = 60.0
STOP_GRACE = 15.0


def _exit_status(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when runall itself dies (Linux), so a
    killed runall leaves no server holding its ports."""
    with contextlib.suppress(Exception):
        ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG


def _reap_group(proc: subprocess.Popen) -> None:
    """SIGKILL what is left of a child that has exited: a worker killed with
    SIGKILL leaves its pool processes behind, orphans holding each other's pipes
    open, that would outlive runall itself."""
    if os.name != "posix":
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class Child:
    name: str
    cmd: list[str]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = BACKOFF_FIRST
    restart_at: float | None = None
    restarts: int = 0


class Command(BaseCommand):
    help = "Run web, sandbox, Celery worker and beat in the foreground, supervised."

    def add_arguments(self, parser):
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("PORT", 8000))
        )
        parser.add_argument(
            "--sandbox-port",
            type=int,
            default=int(os.environ.get("SANDBOX_PORT", 8001)),
        )
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--celery-concurrency", type=int, default=2)

    def handle(
        self, *args, port, sandbox_port, web_workers, celery_concurrency, **opts
    ):
        self._env = {
            **os.environ,
            "PORT": str(port),
            "SANDBOX_PORT": str(sandbox_port),
            "PYTHONUNBUFFERED": "1",
        }
        children = [
            Child(name, cmd)
            for name, cmd in self._commands(
                port, sandbox_port, web_workers, celery_concurrency
            ).items()
        ]
        stopping = False

        def stop(signum=None, frame=None):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        os.umask(0o077)

        for child in children:
            self._start(child)
        announce_by = time.monotonic() + 60
        announced = False
        while not stopping:
            now = time.monotonic()
            for child in children:
                if stopping:  # Ctrl-C reached the children too: not a death
                    break
                if child.proc is not None and child.proc.poll() is not None:
                    self._died(child, now)
                elif child.restart_at is not None and now >= child.restart_at:
                    child.restarts += 1
                    self._start(child)
            if not announced and (self._answers(port) or now > announce_by):
                self._announce(port, sandbox_port)
                announced = True
            time.sleep(0.2 if announced else 0.5)
        self._shutdown(children)
        sys.exit(0)

    def _commands(self, port, sandbox_port, web_workers, celery_concurrency):
        py = sys.executable
        loglevel = os.environ.get("LOG_LEVEL", "INFO").upper()
        gunicorn = [
            py,
            "-m",
            "gunicorn",
            "--worker-class",
            "gthread",
            "--no-control-socket",
            "--logger-class",
            "portal.logs.GunicornLogger",
            "--access-logfile",
            "-",
            "--access-logformat",
            ACCESS_LOG_FORMAT,
        ]
        # No gossip, mingle, heartbeat or remote control: over the embedded
        # filesystem broker they are broadcasts nobody cleans up (portal/broker.py).
        worker_flags = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        return {
            "web": gunicorn
            + [
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(web_workers),
                "--threads",
                "4",
                "portal.wsgi:application",
            ],
            "sandbox": gunicorn
            + [
                "--bind",
                f"127.0.0.1:{sandbox_port}",
                "--workers",
                "1",
                "--threads",
                "8",
                "--config",
                "python:sandbox.gunicorn_conf",
                "sandbox.wsgi:application",
            ],
            "worker": [
                py,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--loglevel",
                loglevel,
                "--concurrency",
                str(celery_concurrency),
                "--hostname",
                f"worker-{port}@%h",
                *worker_flags,
            ],
            "beat": [
                py,
                "-m",
                "celery",
                "-A",
                "portal",
                "beat",
                "--loglevel",
                loglevel,
                "--pidfile",
                "",
            ],
        }

    def _log(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self.stderr.write(f"{stamp} runall {message}")
        self.stderr.flush()

    def _start(self, child: Child) -> None:
        child.proc = subprocess.Popen(
            child.cmd,
            env=self._env,
            cwd=settings.BASE_DIR,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            # A group of its own: what it forks (gunicorn's and Celery's pool
            # processes) can be reaped with it when it dies or stops.
            process_group=0 if os.name == "posix" else None,
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        if child.restarts:
            self._log(f"{child.name} restarted (pid {child.proc.pid})")

    def _died(self, child: Child, now: float) -> None:
        uptime = now - child.started_at
        if uptime >= STABLE_AFTER:
            child.backoff = BACKOFF_FIRST
        delay = child.backoff
        child.backoff = min(child.backoff * 2, BACKOFF_MAX)
        child.restart_at = now + delay
        self._log(
            f"{child.name} (pid {child.proc.pid}) died: "
            f"{_exit_status(child.proc.returncode)} after {uptime:.0f} s; "
            f"restarting in {delay:.0f} s"
        )
        _reap_group(child.proc)
        child.proc = None

    @staticmethod
    def _answers(port) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return True
        except Exception:
            return False

    def _announce(self, port, sandbox_port) -> None:
        base = f"http://127.0.0.1:{port}"
        users = "demo_owner, demo_staff, demo_cashier, demo_provider, other_staff"
        self.stdout.write(
            "\n"
            f"  Merchant portal   {base}/\n"
            f"  WeChat sandbox    http://127.0.0.1:{sandbox_port}/sandbox/console/\n"
            f"  Logins            {users}\n"
            f"  Password          {DEMO_PASSWORD} (demo only)\n"
            "  Stop              Ctrl-C\n"
        )
        self.stdout.flush()

    def _shutdown(self, children: list[Child]) -> None:
        running = [c for c in children if c.proc is not None and c.proc.poll() is None]
        for child in running:
            with contextlib.suppress(ProcessLookupError):
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for child in running:
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._log(f"{child.name} did not stop in {STOP_GRACE:.0f} s: SIGKILL")
                child.proc.kill()
                child.proc.wait()
        for child in running:
            _reap_group(child.proc)
