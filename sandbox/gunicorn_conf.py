"""gunicorn settings of the sandbox process (used by `make run` and docker)."""

import threading

worker_class = "gthread"
# Paths only: WeChat's API carries access tokens and secrets in its query strings.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


def post_worker_init(worker):
    """Sandbox time moves on by itself: reviews and refunds happen when due."""
    from sandbox.backends import ticker

    threading.Thread(
        target=ticker.run_forever, name="sandbox-ticker", daemon=True
    ).start()
