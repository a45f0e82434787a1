"""`make run`: the whole product in the foreground, as it deploys.

Starts the portal web server (gunicorn + whitenoise), the sandbox as its own web
process (WeChat is a separate server: a portal worker never waits on itself), a Celery
worker and Celery beat. Ctrl-C or SIGTERM stops every process it started; if one of
them dies, the others are stopped too and the exit status says so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand

from portal.demo import DEMO_PASSWORD

ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


class Command(BaseCommand):
    help = "Run web, sandbox, Celery worker and beat in the foreground."

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
        py = sys.executable
        env = {
            **os.environ,
            "PORT": str(port),
            "SANDBOX_PORT": str(sandbox_port),
            "PYTHONUNBUFFERED": "1",
        }
        # The access log shows paths without query strings: WeChat's carry the
        # access token (sandbox) and the portal's may carry codes.
        gunicorn = [
            py, "-m", "gunicorn", "--worker-class", "gthread",
            "--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT,
        ]  # fmt: skip
        commands = {
            "web": gunicorn
            + [
                "--bind", f"127.0.0.1:{port}",
                "--workers", str(web_workers),
                "--threads", "4",
                "portal.wsgi:application",
            ],
            "sandbox": gunicorn
            + [
                "--bind", f"127.0.0.1:{sandbox_port}",
                "--workers", "1",
                "--threads", "8",
                "--config", "python:sandbox.gunicorn_conf",
                "sandbox.wsgi:application",
            ],
            "worker": [
                py, "-m", "celery", "-A", "portal", "worker", "--loglevel", "INFO",
                "--concurrency", str(celery_concurrency), "--hostname", f"worker-{port}@%h",
            ],
            "beat": [
                py, "-m", "celery", "-A", "portal", "beat", "--loglevel", "INFO",
                "--pidfile", "",
            ],
        }  # fmt: skip
        procs: dict[str, subprocess.Popen] = {}
        stopping = False

        def stop(signum=None, frame=None):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

        for name, cmd in commands.items():
            procs[name] = subprocess.Popen(cmd, env=env, cwd=settings.BASE_DIR)

        self._announce(port, sandbox_port, procs, lambda: stopping)
        exit_code = 0
        while not stopping:
            for name, proc in procs.items():
                if proc.poll() is not None:
                    self.stderr.write(f"{name} exited with status {proc.returncode}")
                    exit_code = 1
                    stopping = True
                    break
            time.sleep(0.3)
        self._shutdown(procs)
        sys.exit(exit_code)

    def _announce(self, port, sandbox_port, procs, stopping) -> None:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not stopping():
            if any(p.poll() is not None for p in procs.values()):
                return
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                    break
            except Exception:
                time.sleep(0.5)
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

    def _shutdown(self, procs: dict[str, subprocess.Popen]) -> None:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
