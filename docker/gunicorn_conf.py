"""gunicorn settings of the web container; every value can be overridden by env."""

import multiprocessing
import os

from portal.logs import ACCESS_LOG_FORMAT

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 30))
graceful_timeout = 20
keepalive = 5
accesslog = "-"
# Paths without query strings: WeChat's callbacks and API calls carry secrets there.
access_log_format = ACCESS_LOG_FORMAT
# …and error lines without them either ("Error handling request /x?…").
logger_class = "portal.logs.GunicornLogger"
# The client's IP from the proxy, for the lockout log and the access log.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
