"""Settings for the test suite: the embedded profile (or PostgreSQL/Redis when given),
the sandbox mounted in the same live server, and per-xdist-worker isolation."""

import os
from pathlib import Path

_worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
_base = Path(__file__).resolve().parent.parent
os.environ.setdefault("VAR_DIR", str(_base / "var" / "test" / _worker))
os.environ.setdefault("SANDBOX_MOUNTED", "true")
os.environ.setdefault(
    "STATICFILES_STORAGE", "django.contrib.staticfiles.storage.StaticFilesStorage"
)
os.environ.setdefault("CACHE_KEY_PREFIX", f"test-{_worker}-{os.getpid()}")

from .settings import *  # noqa: E402,F403
from .settings import CACHES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Each xdist worker has its own queue, so a real Celery worker started by one test
# process never takes another's tasks on a shared Redis.
CELERY_TASK_DEFAULT_QUEUE = f"portal-test-{_worker}"
LANGUAGE_CODE = "en"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
CACHES["default"]["KEY_PREFIX"] = os.environ["CACHE_KEY_PREFIX"]
