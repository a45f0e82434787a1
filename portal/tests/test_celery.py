"""Celery with a real worker process over the configured broker."""

import pytest

from portal.celery import ping


@pytest.mark.celery_worker
def test_a_real_worker_runs_a_task_through_the_broker(
    celery_worker_process, transactional_db
):
    result = ping.delay()
    assert result.get(timeout=30) == "pong"
    assert celery_worker_process.poll() is None
