"""`make run` as a user meets it: supervised, and private (issue 8 §1, §6).

The real runall on a fresh embedded VAR_DIR (bench/soak.py's Runall: migrate, demo
data, then `manage.py runall` on free ports); the quiet log and the private var/ of
a running stack are checked by tests/test_soak.py.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import soak  # noqa: E402


@pytest.fixture
def stack(tmp_path):
    runall = soak.Runall(tmp_path / "var")
    runall.prepare()
    runall.start()
    yield runall
    runall.stop()


def _run_marks(stack, name: str, timeout: float = 60) -> bool:
    """Sends two soak_mark tasks; True once the worker has run both."""
    out = stack.var_dir / f"sent-{name}"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "soak.py"),
            "--publish",
            name,
            "--var-dir",
            str(stack.var_dir),
            "--rate",
            "4",
            "--seconds",
            "0.5",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        env=stack.env,
        check=True,
        timeout=60,
    )
    sent = {line.split()[0] for line in out.read_text().splitlines()}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(stack.db, timeout=30) as db:
            marks = {m for (m,) in db.execute(f"SELECT mark FROM {soak.TABLE}")}  # noqa: S608
        if sent <= marks:
            return True
        time.sleep(0.3)
    return False


@pytest.mark.celery_worker
def test_a_dead_child_is_restarted_with_back_off_and_sigterm_stops_everything(stack):
    first = stack.children()
    assert set(first) == {"web", "sandbox", "worker", "beat"}

    # The worker dies (twice, quickly): it is back each time, the second time
    # after a longer wait, and runs tasks again.
    os.kill(first["worker"], signal.SIGKILL)
    assert stack.wait_for_log(
        f"worker (pid {first['worker']}) died: killed by SIGKILL", 10
    )
    assert stack.wait_for_log("restarting in 1 s", 1)
    assert stack.wait_for_log("ready.", 90, after=1), stack.log_text()[-3000:]
    second = stack.children()["worker"]
    assert second != first["worker"]
    os.kill(second, signal.SIGKILL)
    assert stack.wait_for_log(f"worker (pid {second}) died: killed by SIGKILL", 10)
    assert stack.wait_for_log("restarting in 2 s", 1)
    assert stack.wait_for_log("ready.", 90, after=2), stack.log_text()[-3000:]
    assert _run_marks(stack, "after-restart")

    # The web server dies: /healthz answers again from a new one.
    os.kill(first["web"], signal.SIGKILL)
    assert stack.wait_for_log(f"web (pid {first['web']}) died: killed by SIGKILL", 10)
    assert stack.wait_for_log("web restarted", 10)
    assert stack.wait_healthy(60)
    assert stack.children()["web"] != first["web"]
    assert stack.children()["sandbox"] == first["sandbox"]  # the others untouched
    assert stack.children()["beat"] == first["beat"]

    assert stack.stop() == 0
    assert stack.session_alive() == []
    assert not stack.healthz()


def test_settings_make_an_old_world_readable_var_private(tmp_path):
    """An install from before: var/ 0755, database and secrets 0644."""
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    for name in ("portal.sqlite3", "portal.sqlite3-wal", "secret_key"):
        (var / name).write_text("x")
        (var / name).chmod(0o644)
    (var / "broker").mkdir()
    (var / "broker").chmod(0o755)
    env = soak.embedded_env(var)
    subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
    )
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    assert stat.S_IMODE((var / "broker").stat().st_mode) == 0o700
    for name in ("portal.sqlite3", "portal.sqlite3-wal", "secret_key"):
        assert stat.S_IMODE((var / name).stat().st_mode) == 0o600, name


def test_a_new_database_and_its_wal_files_are_created_private(tmp_path):
    """Even under a permissive umask (022): SQLite gives -wal and -shm the mode of
    the database file, which settings create 0600."""
    var = tmp_path / "var"
    script = (
        "import os, json; os.umask(0o022); import django; django.setup(); "
        "from django.core.management import call_command; "
        "call_command('migrate', interactive=False, verbosity=0); "
        "from django.db import connection; from django.contrib.auth.models import User; "
        "User.objects.create(username='x'); "  # a write while the connection is open
        f"print(json.dumps({{p.name: oct(p.stat().st_mode & 0o777) "
        f"for p in __import__('pathlib').Path({str(var)!r}).iterdir() "
        "if p.name.startswith('portal.sqlite3')}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=soak.embedded_env(var),
        check=True,
        timeout=120,
        capture_output=True,
        text=True,
    ).stdout
    modes = json.loads(out.strip().splitlines()[-1])
    assert modes == {
        "portal.sqlite3": "0o600",
        "portal.sqlite3-wal": "0o600",
        "portal.sqlite3-shm": "0o600",
    }
