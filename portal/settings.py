"""Settings, all from the environment (django-environ); every variable is in .env.example.

Two profiles (README "Configuration"):

* ``embedded`` (the default, nothing set): SQLite under ``var/`` in WAL mode with
  immediate transactions, Celery over kombu's filesystem transport under ``var/``,
  results and cache in the database, the local sandbox as WeChat. A new user's first
  run and the quick test run need nothing but Python.
* ``production`` (``PORTAL_PROFILE=production``): PostgreSQL, Redis for the broker,
  results and cache; every secret must be given; HTTPS-only cookies and HSTS.
"""

import contextlib
import os
import secrets
import stat
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

PORTAL_PROFILE = env("PORTAL_PROFILE", default="embedded")
PRODUCTION = PORTAL_PROFILE == "production"
VAR_DIR = Path(env("VAR_DIR", default=str(BASE_DIR / "var")))


def _keep_private(var_dir: Path) -> None:
    """``var/`` holds the database (with the sandbox's plaintext secrets), the local
    secrets and the broker's messages: it is 0700 and what it holds is 0600/0700,
    including what an older version left world-readable. (runall gives its
    children umask 077 as well, so what they create starts private.)"""
    var_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in (var_dir, *var_dir.iterdir()):
        try:
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode) or st.st_uid != os.getuid():
                continue
            private = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
            if stat.S_IMODE(st.st_mode) & 0o077:
                path.chmod(stat.S_IMODE(st.st_mode) & private)
        except OSError:
            pass  # not ours to change (a mounted volume): the deployment decides


_keep_private(VAR_DIR)


def _local_secret(name: str, factory) -> str:
    """A secret kept in ``var/`` so the embedded profile needs no configuration.

    Generated once and reused by every process (web, sandbox, worker, beat).
    The production profile never comes here: it must be given its secrets.
    """
    path = VAR_DIR / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    value = factory()
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(value)
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)  # atomic: first writer wins when processes race
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def _fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


if PRODUCTION:
    SECRET_KEY = env("SECRET_KEY")
    FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY")
else:
    SECRET_KEY = env("SECRET_KEY", default=None) or _local_secret(
        "secret_key", lambda: secrets.token_urlsafe(50)
    )
    FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY", default=None) or _local_secret(
        "field_encryption_key", _fernet_key
    )

DEBUG = env.bool("DEBUG", default=False)
# Loopback names are always allowed: container health checks call /healthz on them.
ALLOWED_HOSTS = [
    *env.list("ALLOWED_HOSTS", default=[]),
    "127.0.0.1",
    "localhost",
]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "portal.ops.OpsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    # django-ninja's bundled Swagger UI (/api/docs) instead of a CDN's.
    "ninja",
    "axes",
    "django_celery_beat",
    "django_celery_results",
    "portal",
    "wechat",
    "sandbox",
    "cards",
    "coins",
    "redemption",
    "distribution",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Every response: the portal's CSP; below /sandbox/: the sandbox's own.
    "portal.middleware.ContentSecurityPolicyMiddleware",
    "sandbox.security.SandboxSecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # A NUL character anywhere in a request: a 400 in the user's language, before
    # the session, the user or any view looks anything up (PostgreSQL refuses it).
    "portal.middleware.RejectNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.CurrentMerchantMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # axes must come last: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# The portal's web process serves portal.urls; the sandbox runs as its own web
# process with sandbox.urls_root (see sandbox/wsgi.py). Tests mount both in one.
# Widgets render with the project's templates too (cards/widgets/…).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"
ROOT_URLCONF = env("ROOT_URLCONF", default="portal.urls")
SANDBOX_MOUNTED = env.bool("SANDBOX_MOUNTED", default=False)
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.tenancy",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}")
}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # Created 0600 before SQLite first opens it: SQLite gives the -wal and -shm
    # files the database file's own mode.
    if _db["NAME"] and _db["NAME"] != ":memory:" and not Path(_db["NAME"]).exists():
        with contextlib.suppress(OSError):
            os.close(os.open(_db["NAME"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock
    # at BEGIN so two processes never deadlock upgrading a read lock; the busy
    # timeout makes a writer wait for the other instead of failing.
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;"
            "PRAGMA busy_timeout=20000"
        ),
    }
    # A file, not :memory:, so that a real Celery worker and a live server in
    # another thread or process see the test database.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test_portal.sqlite3")}
# Persistent connections: opening one per request (and, on SQLite, running the
# PRAGMAs above each time) costs more than many a request.
_db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
_db["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (shared by web, sandbox and workers: locks and rate limits) -----
REDIS_URL = env("REDIS_URL", default="")
CACHES = {
    "default": env.cache(
        "CACHE_URL",
        default=(REDIS_URL or "dbcache://portal_cache"),
    )
}
CACHES["default"].setdefault("KEY_PREFIX", env("CACHE_KEY_PREFIX", default="portal"))
# The database cache culls a third of its rows past MAX_ENTRIES (Django: 300). It
# holds every merchant's access token and tickets: a provider with hundreds of
# sub-merchants would lose tokens to culling and refresh them again and again.
CACHE_MAX_ENTRIES = env.int("CACHE_MAX_ENTRIES", default=100_000)
if "DatabaseCache" in CACHES["default"]["BACKEND"]:
    CACHES["default"].setdefault("OPTIONS", {}).setdefault(
        "MAX_ENTRIES", CACHE_MAX_ENTRIES
    )

# --- Celery ------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # filesystem:// is portal/broker.py here, not kombu's own transport (kombu
    # #1551: a worker read half-written files and died; portal/celery.py registers
    # it). Every folder it uses is under var/broker.
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processing_folder": str(_broker_dir / "processing"),
        "quarantine_folder": str(_broker_dir / "quarantine"),
        "control_folder": str(_broker_dir / "control"),
        "tmp_folder": str(_broker_dir / "tmp"),
        # The folder is polled; kombu's default second caps a worker at a couple
        # of tasks a second once its prefetch is full.
        "polling_interval": 0.05,
    }
    # No pidbox: broadcasts are written to every worker that ever declared a
    # queue, and nobody removes a dead worker's (runall also passes
    # --without-gossip --without-mingle --without-heartbeat).
    CELERY_WORKER_ENABLE_REMOTE_CONTROL = False
    CELERY_RESULT_BACKEND = "django-db"
else:
    CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_EXTENDED = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = env("TIME_ZONE", default="Asia/Shanghai")
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# Redemption: lookups + consumes a minute per till API key (then 429).
REDEMPTION_RATE_PER_MINUTE = env.int("REDEMPTION_RATE_PER_MINUTE", default=120)
# Beat entries; each app adds its own clocks here (SPEC §5 "Celery owns the clocks").
CELERY_BEAT_SCHEDULE: dict = {
    "redispatch-events": {"task": "portal.redispatch_events", "schedule": 60.0},
    "redispatch-component-events": {
        "task": "portal.redispatch_component_events",
        "schedule": 60.0,
    },
    "cards-poll-reviews": {"task": "cards.poll_reviews", "schedule": 60.0},
    "coins-poll-recharges": {
        "task": "coins.poll_recharges",
        "schedule": 1.0,
        "options": {"expires": 5},  # a late tick is skipped, not piled up
    },
    "coins-expire-quotes": {"task": "coins.expire_due_stock_orders", "schedule": 15.0},
    "coins-settle-unknown": {
        "task": "coins.settle_unknown_stock_orders",
        "schedule": 15.0,
    },
    "redemption-settle-unknown": {
        "task": "redemption.settle_unknown",
        "schedule": 10.0,
    },
    "cards-settle-unknown": {
        "task": "cards.settle_unknown_submissions",
        "schedule": 15.0,
    },
    "coins-sync-ledgers": {"task": "coins.sync_ledgers", "schedule": 600.0},
    "distribution-fail-stuck-qrcodes": {
        "task": "distribution.fail_stuck_qrcodes",
        "schedule": 60.0,
    },
}
# A waiting recharge is polled (with back-off) for this long, then abandoned.
RECHARGE_POLL_GIVE_UP_SECONDS = env.int("RECHARGE_POLL_GIVE_UP_SECONDS", default=1800)
# SPEC §5 unknown outcomes: an unsafe call WeChat does not show this long after it
# could last have landed (a quote's 60 s, a request's sending) never happened.
UNKNOWN_OUTCOME_MARGIN_SECONDS = env.int("UNKNOWN_OUTCOME_MARGIN_SECONDS", default=30)
# A poller holds a recharge this long; if it dies mid-poll the next poll takes over.
RECHARGE_POLL_LEASE_SECONDS = env.int("RECHARGE_POLL_LEASE_SECONDS", default=10)

# --- WeChat ----------------------------------------------------------------
SANDBOX_PORT = env.int("SANDBOX_PORT", default=8001)
WECHAT_API_BASE = env(
    "WECHAT_API_BASE", default=f"http://127.0.0.1:{SANDBOX_PORT}/sandbox/"
)
WECHAT_TIMEOUT = env.float("WECHAT_TIMEOUT", default=5.0)
# WeChat's web pages (the providers' authorization page, SPEC §8): mp.weixin.qq.com
# in production, the sandbox's /sandbox/mp/ by default.
WECHAT_MP_BASE = env(
    "WECHAT_MP_BASE", default=f"http://127.0.0.1:{SANDBOX_PORT}/sandbox/mp/"
)
# The JS-SDK H5 pages load (SPEC §6). Empty: the sandbox's stand-in when
# WECHAT_API_BASE is the sandbox, else https://res.wx.qq.com/open/js/jweixin-1.6.0.js.
WECHAT_JSSDK_URL = env("WECHAT_JSSDK_URL", default="")

# --- Auth, sessions, lockout ----------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# README "Sign-in lockout": N wrong passwords for one username lock it for the
# cool-off time; `manage.py axes_reset_username NAME` unlocks it sooner.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username"]
# Locking by IP address would lock a whole shop: its tills share one public IP
# behind the shop's router. The lock is per account, as the README says.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["password", "password1", "password2"]
# Sessions read from the cache first when the cache is Redis (one query less per
# request); with the database cache that would only add one.
SESSION_ENGINE = env(
    "SESSION_ENGINE",
    default="django.contrib.sessions.backends.cached_db"
    if "redis" in CACHES["default"]["BACKEND"].lower()
    else "django.contrib.sessions.backends.db",
)
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # /healthz is probed over plain HTTP inside the compose network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- i18n --------------------------------------------------------------------
LANGUAGE_CODE = env("LANGUAGE_CODE", default="zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files (whitenoise: the web process serves them, as in deploy) ---
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": env(
            "STATICFILES_STORAGE",
            default="whitenoise.storage.CompressedManifestStaticFilesStorage",
        )
    },
}

# --- Logging: to stderr; secrets are scrubbed by wechat.client before logging.
# The console handler's filters (portal/logs.py; Celery's handlers get them in
# portal/celery.py, gunicorn's from runall) hide every query string and demote
# the routine beat ticks to DEBUG.
LOG_LEVEL = env("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "filters": {
        "no_query_strings": {"()": "portal.logs.NoQueryStrings"},
        "routine_at_debug": {
            "()": "portal.logs.RoutineAtDebug",
            "tasks": sorted({e["task"] for e in CELERY_BEAT_SCHEDULE.values()}),
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["no_query_strings", "routine_at_debug"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own handlers (console when DEBUG, mail_admins) are replaced by
        # ours: its "Not Found: /path" and server lines pass the same filters.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # urllib3 logs whole URLs at DEBUG: WeChat's carry the token or secret.
        "urllib3": {"level": "WARNING"},
    },
}
