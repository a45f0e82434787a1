"""A thundering herd of token readers, runnable in its own process.

    python -m wechat.tests.herd BASE_URL APPID SECRET THREADS START_AT

Waits until the wall-clock time START_AT, then THREADS threads each ask a fresh
client for the access token; prints the tokens they got as JSON. Used by the
multi-process test and by bench/token_herd.py.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time


def herd(base_url: str, appid: str, secret: str, threads: int, start_at: float) -> list:
    from wechat.client import WeChatClient

    tokens: list = []
    lock = threading.Lock()

    def worker():
        client = WeChatClient(appid, secret, base_url=base_url, timeout=10)
        time.sleep(max(0.0, start_at - time.time()))
        try:
            token = client.access_token()
        except Exception as exc:  # reported to the caller, who asserts on it
            token = f"error: {exc!r}"
        with lock:
            tokens.append(token)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(60)
    return tokens


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import django

    django.setup()
    base, appid, secret, n, start = sys.argv[1:6]
    print(json.dumps(herd(base, appid, secret, int(n), float(start))))
