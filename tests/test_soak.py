"""The embedded stack holds under load (issue 8 §1): bench/soak.py, shortened.

`make run`'s runall (web, sandbox, worker, beat over SQLite and the filesystem
broker) with 4 publisher processes beside it for 20 s: every task runs exactly
once, no child dies, no CRITICAL line, nothing quarantined, /healthz always up.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import soak  # noqa: E402

pytestmark = pytest.mark.celery_worker


def test_the_embedded_stack_runs_every_task_exactly_once_and_nothing_dies(tmp_path):
    report = soak.soak(seconds=20, publishers=4, rate=5, var_dir=tmp_path / "var")
    summary = {k: v for k, v in report.items() if k != "var_dir"}
    assert report["sent"] >= 300, summary  # 4 × 5/s × 20 s, give or take a start
    assert report["lost"] == 0, summary
    assert report["duplicated"] == 0, summary
    assert report["unexpected"] == 0, summary
    assert report["child_deaths"] == 0 and report["children_replaced"] == [], summary
    assert report["critical_lines"] == 0 and report["tracebacks"] == 0, summary
    assert report["quarantined_files"] == 0, summary
    assert report["healthz_failures"] == 0 and report["publish_errors"] == 0, summary
    assert report["runall_exit_status"] == 0 and report["left_running"] == [], summary
    assert soak.passed(report)
    shutil.rmtree(tmp_path / "var", ignore_errors=True)
