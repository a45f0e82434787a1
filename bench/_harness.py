"""Shared by the benchmarks: a private embedded environment and a sandbox process.

Each benchmark runs on its own throw-away ``VAR_DIR`` (SQLite, cache, broker), so it
never touches `make run`'s data — unless DATABASE_URL / CACHE_URL point elsewhere,
in which case it measures those.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(var_dir: str | None = None) -> str:
    """Configure Django on a fresh VAR_DIR (migrated); returns the VAR_DIR."""
    var_dir = var_dir or tempfile.mkdtemp(prefix="portal-bench-")
    os.environ["VAR_DIR"] = var_dir
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    os.environ.setdefault(
        "STATICFILES_STORAGE", "django.contrib.staticfiles.storage.StaticFilesStorage"
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return var_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    wsgi: str,
    port: int,
    *,
    threads: int = 8,
    workers: int = 1,
    extra_env=None,
    worker_class: str = "gthread",
):
    """gunicorn serving ``wsgi`` on 127.0.0.1:port; returns the process once it answers."""
    env = {**os.environ, **(extra_env or {})}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--worker-class",
            worker_class,
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            wsgi,
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return proc
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError(f"{wsgi} exited with {proc.returncode}") from None
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"{wsgi} did not start")


def percentiles(samples_ms: list[float]) -> tuple[float, float]:
    ordered = sorted(samples_ms)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50, p99
