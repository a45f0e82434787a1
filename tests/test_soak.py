"""The embedded stack holds under load (issue 8 §1): bench/soak.py, shortened.

`make run`'s runall (web, sandbox, worker, beat over SQLite and the filesystem
broker) with 4 publisher processes beside it for 15 s: every task runs exactly
once, no child dies, no CRITICAL line, nothing quarantined, /healthz always up.
While it runs, the log stays quiet about beat's ticks and var/ stays private.
"""

from __future__ import annotations

import shutil
import sqlite3
import stat
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import soak  # noqa: E402

pytestmark = pytest.mark.celery_worker


def _log_is_quiet_about_beat_ticks(stack) -> None:
    log = stack.log_text()
    assert "Sending due task" not in log
    assert "coins.poll_recharges[" not in log
    assert "coins.expire_due_stock_orders[" not in log
    assert "portal.soak_mark[" in log  # a task that is not a tick still shows
    # …and the ticks did run: the worker stored their (quiet) results.
    with sqlite3.connect(stack.db, timeout=30) as db:
        (ticks,) = db.execute(
            "SELECT COUNT(*) FROM django_celery_results_taskresult "
            "WHERE task_name = 'coins.poll_recharges' AND status = 'SUCCESS'"
        ).fetchone()
    assert ticks >= 10


def _var_is_private(stack) -> None:
    """var/ and everything the running portal keeps in it: this user's only (§6)."""
    var = stack.var_dir
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    names = {p.name for p in var.iterdir()}
    assert {"portal.sqlite3", "portal.sqlite3-wal", "portal.sqlite3-shm"} <= names
    assert {"secret_key", "field_encryption_key", "broker"} <= names
    checked = 0
    for path in var.rglob("*"):
        if path.name == "runall.log" or path.is_relative_to(var / "sent"):
            continue  # the soak's own files
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert not mode & 0o077, (str(path.relative_to(var)), oct(mode))
        checked += 1
    assert checked >= 10


def test_the_embedded_stack_runs_every_task_exactly_once_and_nothing_dies(tmp_path):
    seen = []

    def inspect(stack):
        _log_is_quiet_about_beat_ticks(stack)
        _var_is_private(stack)
        seen.append(True)

    report = soak.soak(
        seconds=15, publishers=4, rate=5, var_dir=tmp_path / "var", inspect=inspect
    )
    summary = {k: v for k, v in report.items() if k != "var_dir"}
    assert seen == [True]
    assert report["sent"] >= 250, summary  # 4 × 5/s × 15 s, give or take a start
    assert report["lost"] == 0, summary
    assert report["duplicated"] == 0, summary
    assert report["unexpected"] == 0, summary
    assert report["child_deaths"] == 0 and report["children_replaced"] == [], summary
    assert report["critical_lines"] == 0 and report["tracebacks"] == 0, summary
    assert report["quarantined_files"] == 0, summary
    assert report["healthz_failures"] == 0 and report["publish_errors"] == 0, summary
    assert report["runall_exit_status"] == 0 and report["left_running"] == [], summary
    assert soak.passed(report)
    assert not (ROOT / "control").exists()  # kombu's old ./control: never again
    shutil.rmtree(tmp_path / "var", ignore_errors=True)
