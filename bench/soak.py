#!/usr/bin/env python
"""Soak the embedded stack: does every task run exactly once, does anything die?

    .venv/bin/python bench/soak.py [--minutes 10] [--publishers 4] [--rate 5]

On a fresh, throw-away VAR_DIR with the embedded profile (SQLite, the filesystem
broker of portal/broker.py, the local sandbox): migrate, load the demo, then
``manage.py runall`` exactly as ``make run`` starts it (web, sandbox, worker, beat,
supervised) and, beside it, PUBLISHERS processes that each send RATE
``portal.soak_mark`` tasks a second for MINUTES, every one with a unique mark. The
task inserts its mark into a table whose primary key refuses a second insert (a
second run is counted instead). Meanwhile /healthz is asked every 2 s. Then the
queue is drained, runall is stopped with SIGTERM, and the script prints:

  sent, ran, lost (sent, never ran), duplicated (ran more than once), unexpected
  (ran, never sent), throughput and publish → run latency (p50/p99), children's
  deaths and restarts, CRITICAL lines, tracebacks, quarantined broker files,
  /healthz failures, runall's exit status.

Exit status 0 only if nothing was lost, duplicated or unexpected and no child died.
The CI test tests/test_soak.py runs the same for 15 s.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _harness  # noqa: E402

TABLE = "portal_soak_mark"  # portal.celery.SOAK_TABLE
# The embedded profile, whatever the caller's environment points at.
NOT_EMBEDDED = (
    "DATABASE_URL",
    "REDIS_URL",
    "CACHE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "PORTAL_PROFILE",
    "PORTAL_TEST_WORKER",
    "DJANGO_SETTINGS_MODULE",
    "ROOT_URLCONF",
    "SANDBOX_MOUNTED",
    "WECHAT_API_BASE",
    "CACHE_KEY_PREFIX",
    "CELERY_TASK_ALWAYS_EAGER",
)


def embedded_env(var_dir: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in NOT_EMBEDDED}
    env.update(
        VAR_DIR=str(var_dir),
        DJANGO_SETTINGS_MODULE="portal.settings",
        STATICFILES_STORAGE="django.contrib.staticfiles.storage.StaticFilesStorage",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


class Runall:
    """``manage.py runall`` on a fresh embedded VAR_DIR, as `make run` starts it."""

    def __init__(self, var_dir: Path | None = None):
        self.var_dir = Path(var_dir or tempfile.mkdtemp(prefix="portal-soak-"))
        self.port, self.sandbox_port = _harness.free_port(), _harness.free_port()
        self.env = embedded_env(
            self.var_dir, PORT=str(self.port), SANDBOX_PORT=str(self.sandbox_port)
        )
        self.log_path = self.var_dir / "runall.log"
        self.proc: subprocess.Popen | None = None
        self.exit_status: int | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def db(self) -> Path:
        return self.var_dir / "portal.sqlite3"

    def prepare(self) -> None:
        """Migrate and load the demo (what `make run` does before runall)."""
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); "
                "from django.core.management import call_command as c; "
                "c('migrate', interactive=False, verbosity=0); c('seed_demo')",
            ],
            cwd=ROOT,
            env=self.env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        with sqlite3.connect(self.db) as db:
            db.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} "
                "(mark TEXT PRIMARY KEY, runs INTEGER NOT NULL, done_at REAL)"
            )

    def start(self, timeout: float = 120) -> None:
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "runall",
                "--port",
                str(self.port),
                "--sandbox-port",
                str(self.sandbox_port),
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not self.wait_healthy(timeout):
            self.stop()
            raise RuntimeError("runall did not answer /healthz:\n" + self.log_text())
        # /healthz answers before the worker is ready; tasks wait in the queue.
        self.wait_for_log("ready.", timeout)

    def healthz(self) -> bool:
        try:
            with urllib.request.urlopen(self.base + "/healthz", timeout=5) as r:
                return r.status == 200
        except Exception:
            return False

    def wait_healthy(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.healthz():
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.5)
        return False

    def wait_for_log(self, text: str, timeout: float, after: int = 0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log_text().count(text) > after:
                return True
            time.sleep(0.3)
        return False

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def children(self) -> dict[str, int]:
        """The pids of runall's children by name (web, sandbox, worker, beat)."""
        out = subprocess.run(
            ["ps", "-ww", "-o", "pid=,args=", "--ppid", str(self.proc.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        found = {}
        for line in out.splitlines():
            pid, _, args = line.strip().partition(" ")
            if "gunicorn" in args:
                name = "sandbox" if "sandbox.wsgi" in args else "web"
            elif "celery" in args:
                name = "beat" if " beat " in args else "worker"
            else:
                continue
            found[name] = int(pid)
        return found

    def stop(self, timeout: float = 40) -> int:
        """SIGTERM runall; its exit status (SIGKILL to its session if it hangs)."""
        if self.proc is None:
            return -1
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                # Its session: runall's children run in process groups of their own.
                subprocess.run(
                    ["pkill", "-KILL", "-s", str(self.proc.pid)], check=False
                )
                self.proc.wait()
        self.exit_status = self.proc.returncode
        self.log.close()
        return self.exit_status

    def session_alive(self) -> list[str]:
        """Processes still in runall's session (its children, theirs)."""
        out = subprocess.run(
            ["ps", "-ww", "-o", "pid=,args=", "-s", str(self.proc.pid)],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return [line.strip() for line in out.splitlines() if line.strip()]


def publish_main(var_dir: str, name: str, rate: float, seconds: float, out: str):
    """One publisher process: RATE soak_mark tasks a second for SECONDS."""
    os.environ.update(embedded_env(Path(var_dir)))
    import django

    django.setup()
    from portal.celery import soak_mark

    errors = 0
    with open(out, "a") as sent:
        start = time.monotonic()
        seq = 0
        while (now := time.monotonic()) - start < seconds:
            due = start + seq / rate
            if due > now:
                time.sleep(due - now)
            mark = f"{name}-{seq}"
            try:
                soak_mark.apply_async(args=[mark])
            except Exception as exc:
                errors += 1
                print(f"publisher {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
            else:
                sent.write(f"{mark} {time.time():.6f}\n")
                sent.flush()
            seq += 1
    sys.exit(1 if errors else 0)


def soak(
    seconds: float,
    publishers: int = 4,
    rate: float = 5.0,
    drain: float = 120,
    var_dir: Path | None = None,
    inspect=None,
) -> dict:
    """Runs the soak; returns its numbers (see the module docstring).

    ``inspect(stack)``, if given, is called once the queue is drained, before
    runall is stopped (the CI test looks at the files and the log then).
    """
    stack = Runall(var_dir)
    stack.prepare()
    stack.start()
    pids_at_start = stack.children()
    out_dir = stack.var_dir / "sent"
    out_dir.mkdir()
    pubs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--publish",
                f"p{i}",
                "--var-dir",
                str(stack.var_dir),
                "--rate",
                str(rate),
                "--seconds",
                str(seconds),
                "--out",
                str(out_dir / f"p{i}"),
            ],
            cwd=ROOT,
            env=stack.env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(publishers)
    ]
    health_checks = health_failures = 0
    next_check = 0.0
    while any(p.poll() is None for p in pubs):
        if time.monotonic() >= next_check:
            next_check = time.monotonic() + 2
            health_checks += 1
            health_failures += not stack.healthz()
        time.sleep(0.2)
    publish_errors = [p.stderr.read() for p in pubs if p.returncode != 0]
    sent: dict[str, float] = {}
    for path in out_dir.iterdir():
        for line in path.read_text().splitlines():
            mark, at = line.split()
            sent[mark] = float(at)

    def ran() -> dict[str, tuple[int, float]]:
        with sqlite3.connect(stack.db, timeout=30) as db:
            rows = db.execute(f"SELECT mark, runs, done_at FROM {TABLE}")  # noqa: S608
            return {mark: (runs, at) for mark, runs, at in rows}

    deadline = time.monotonic() + drain
    done = ran()
    while len(set(sent) - set(done)) and time.monotonic() < deadline:
        time.sleep(1)
        done = ran()
    time.sleep(1)  # a late duplicate would show now
    done = ran()
    if inspect is not None:
        inspect(stack)
    pids_at_end = stack.children()
    exit_status = stack.stop()
    left_running = stack.session_alive()
    log = stack.log_text()
    latencies = sorted((done[m][1] - at) * 1000 for m, at in sent.items() if m in done)
    p50, p99 = _harness.percentiles(latencies) if latencies else (0.0, 0.0)
    finished = [at for _, at in done.values()]
    span = max(finished) - min(sent.values()) if finished and sent else 0.0
    quarantine = stack.var_dir / "broker" / "quarantine"
    return {
        "seconds": seconds,
        "publishers": publishers,
        "sent": len(sent),
        "ran": len(done),
        "lost": len(set(sent) - set(done)),
        "duplicated": sum(runs - 1 for runs, _ in done.values()),
        "unexpected": len(set(done) - set(sent)),
        "tasks_per_second": round(len(done) / span, 1) if span else 0.0,
        "latency_ms_p50": round(p50, 1),
        "latency_ms_p99": round(p99, 1),
        "child_deaths": len(re.findall(r" runall \S+ \(pid \d+\) died", log)),
        "restarts": len(re.findall(r" runall \S+ restarted", log)),
        "children_replaced": sorted(
            n for n, pid in pids_at_start.items() if pids_at_end.get(n) != pid
        ),
        "critical_lines": log.count("CRITICAL"),
        "tracebacks": log.count("Traceback (most recent call last)"),
        "quarantined_files": len(list(quarantine.iterdir()))
        if quarantine.exists()
        else 0,
        "healthz_checks": health_checks,
        "healthz_failures": health_failures,
        "publish_errors": len(publish_errors),
        "runall_exit_status": exit_status,
        "left_running": left_running,
        "var_dir": str(stack.var_dir),
    }


def passed(report: dict) -> bool:
    return not (
        report["lost"]
        or report["duplicated"]
        or report["unexpected"]
        or report["child_deaths"]
        or report["critical_lines"]
        or report["tracebacks"]
        or report["quarantined_files"]
        or report["healthz_failures"]
        or report["publish_errors"]
        or report["runall_exit_status"] != 0
        or report["left_running"]
        or not report["sent"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--publishers", type=int, default=4)
    parser.add_argument("--rate", type=float, default=5.0, help="tasks/s each")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--publish", help=argparse.SUPPRESS)  # a publisher process
    parser.add_argument("--var-dir", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        publish_main(args.var_dir, args.publish, args.rate, args.seconds, args.out)
        return
    if not args.json:
        print(
            f"soak: runall + {args.publishers} publishers × {args.rate:g} tasks/s "
            f"for {args.minutes:g} min …",
            flush=True,
        )
    report = soak(args.minutes * 60, args.publishers, args.rate)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        width = max(map(len, report))
        for key, value in report.items():
            print(f"  {key:<{width}}  {value}")
        print("PASS" if passed(report) else "FAIL")
    sys.exit(0 if passed(report) else 1)


if __name__ == "__main__":
    main()
