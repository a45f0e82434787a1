"""Settings for the test suite: the embedded profile (or PostgreSQL/Redis when given),
the sandbox mounted in the same live server, and per-xdist-worker isolation."""

import os
from pathlib import Path

_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
_base = Path(__file__).resolve().parent.parent
if os.environ.get("PORTAL_TEST_WORKER") != _worker:
    # This process is a test process of its own (not a subprocess a test started,
    # which inherits its parent's values): its own files, cache keys and queue.
    os.environ["PORTAL_TEST_WORKER"] = _worker
    os.environ["VAR_DIR"] = str(_base / "var" / "test" / _worker)
    os.environ["CACHE_KEY_PREFIX"] = f"test-{_worker}-{os.getpid()}"
os.environ.setdefault("SANDBOX_MOUNTED", "true")
os.environ.setdefault(
    "STATICFILES_STORAGE", "django.contrib.staticfiles.storage.StaticFilesStorage"
)

from .settings import *  # noqa: E402,F403
from .settings import CACHES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Each xdist worker has its own queue, so a real Celery worker started by one test
# process never takes another's tasks on a shared Redis.
CELERY_TASK_DEFAULT_QUEUE = f"portal-{os.environ['CACHE_KEY_PREFIX']}"
LANGUAGE_CODE = "en"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
CACHES["default"]["KEY_PREFIX"] = os.environ["CACHE_KEY_PREFIX"]
