#!/usr/bin/env python
"""How many token calls a herd causes, and what the client adds to a call.

    .venv/bin/python bench/token_herd.py [--processes 4] [--threads 25] [--calls 400]

1. PROCESSES × THREADS callers ask for the access token at the same instant with an
   empty cache → the number of ``cgi-bin/token`` calls the sandbox saw (target: 1).
2. p50/p99 of a trivial authenticated call (``cgi-bin/ticket/getticket``) through the
   client, next to the same call made directly with requests (target: the client
   adds ≤ 30 %).

The sandbox runs as its own gunicorn process, as in `make run`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import _harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=25)
    parser.add_argument("--calls", type=int, default=400)
    args = parser.parse_args()

    _harness.setup_django()
    import requests
    from django.core.cache import cache

    from wechat.client import WeChatClient

    port = _harness.free_port()
    sandbox = _harness.start_server(
        "sandbox.wsgi:application",
        port,
        extra_env={"ROOT_URLCONF": "sandbox.urls_root"},
    )
    base = f"http://127.0.0.1:{port}/sandbox/"
    appid, secret = "wx00000000be0c0001", "bench-secret-0123456789abcdef012"
    http = requests.Session()
    try:
        http.post(base + "control/accounts", json={"appid": appid, "secret": secret})

        # 1. The herd.
        cache.clear()
        start_at = time.time() + 3
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "wechat.tests.herd",
                    base,
                    appid,
                    secret,
                    str(args.threads),
                    str(start_at),
                ],
                cwd=_harness.ROOT,
                env=os.environ.copy(),
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(args.processes)
        ]
        tokens = []
        for proc in procs:
            out, _ = proc.communicate(timeout=120)
            tokens += json.loads(out.strip().splitlines()[-1])
        token_calls = http.get(
            base + "control/calls", params={"appid": appid, "path": "cgi-bin/token"}
        ).json()["count"]
        callers = args.processes * args.threads
        errors = [t for t in tokens if t.startswith("error")]

        # 2. Client overhead on a trivial authenticated call.
        client = WeChatClient(appid, secret, base_url=base, timeout=10)
        token = client.access_token()
        direct_ms, client_ms = [], []
        for i in range(args.calls + 20):
            t0 = time.perf_counter()
            client.call(
                "GET",
                "cgi-bin/ticket/getticket",
                params={"type": "jsapi"},
                safe_to_retry=True,
            )
            t1 = time.perf_counter()
            http.get(
                base + "cgi-bin/ticket/getticket",
                params={"type": "jsapi", "access_token": token},
                timeout=10,
            ).json()
            t2 = time.perf_counter()
            if i >= 20:  # warm-up
                client_ms.append((t1 - t0) * 1000)
                direct_ms.append((t2 - t1) * 1000)
    finally:
        sandbox.terminate()
        sandbox.wait(10)

    c50, c99 = _harness.percentiles(client_ms)
    d50, d99 = _harness.percentiles(direct_ms)
    print(
        f"token herd: {callers} callers in {args.processes} processes → "
        f"{token_calls} cgi-bin/token call(s) (target 1); "
        f"{len(set(tokens) - set(errors))} distinct token(s); {len(errors)} error(s)"
    )
    print(f"getticket via requests : p50 {d50:6.2f} ms   p99 {d99:6.2f} ms")
    print(f"getticket via client   : p50 {c50:6.2f} ms   p99 {c99:6.2f} ms")
    print(
        f"client overhead        : p50 {100 * (c50 / d50 - 1):+5.1f} %  "
        f"p99 {100 * (c99 / d99 - 1):+5.1f} %   (target ≤ +30 %)"
    )


if __name__ == "__main__":
    main()
