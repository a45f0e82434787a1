#!/usr/bin/env python
"""Redemption's cost: consumes per second end to end, beside the sandbox's own rate.

    .venv/bin/python bench/redemption.py [--tills 8] [--codes 120] [--workers 2]

(Stock is bought with the demo's 200 free coins: at most ~330 codes in all. With
DATABASE_URL on PostgreSQL the tills do not queue on SQLite's one writer.)

1. The sandbox's own ``card/code/consume`` rate: TILLS threads calling it directly
   (one keep-alive connection each, the merchant's access token), distinct codes.
2. ``POST /api/redemption/consume`` end to end with TILLS concurrent tills, each with
   its own store API key (Bearer), distinct codes: the portal writes the attempt,
   reads the code (code/get), claims it, consumes it at the sandbox and records it.
   Target: at least 0.5 × the sandbox's rate.
3. p50/p99 of ``POST /api/redemption/lookup`` and of the consume at TILLS tills.
The portal runs under gunicorn as in `make run` (2 workers × 4 threads), the sandbox
as its own process, both on this run's own database.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import threading
import time
from urllib.parse import urlencode

import _harness


def load(port: int, path: str, batches: list[list[tuple[dict, dict]]]):
    """Each till sends its batch of (headers, body) on one keep-alive connection;
    returns (seconds for all, latencies in ms, statuses)."""
    samples, statuses, lock = [], [], threading.Lock()
    barrier = threading.Barrier(len(batches) + 1)

    def till(batch):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine, seen = [], []
        barrier.wait()
        for headers, body in batch:
            t0 = time.perf_counter()
            conn.request(
                "POST",
                path,
                body=json.dumps(body),
                headers={"Content-Type": "application/json", **headers},
            )
            response = conn.getresponse()
            data = json.loads(response.read() or b"{}")
            mine.append((time.perf_counter() - t0) * 1000)
            seen.append((response.status, data.get("errcode", data.get("status"))))
        conn.close()
        with lock:
            samples.extend(mine)
            statuses.extend(seen)

    threads = [threading.Thread(target=till, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - started, samples, statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tills", type=int, default=8)
    parser.add_argument("--codes", type=int, default=120, help="per measurement")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="per portal worker")
    args = parser.parse_args()

    _harness.setup_django()
    import requests
    from django.conf import settings

    from portal.demo import seed_demo
    from portal.models import Store
    from redemption import services
    from wechat import for_merchant

    web_port, sandbox_port = _harness.free_port(), _harness.free_port()
    sandbox_base = f"http://127.0.0.1:{sandbox_port}/sandbox/"
    env = {
        **os.environ,
        "WECHAT_API_BASE": sandbox_base,
        "PORT": str(web_port),
        "SANDBOX_PORT": str(sandbox_port),
        "LOG_LEVEL": "WARNING",
        "REDEMPTION_RATE_PER_MINUTE": "100000",
    }
    os.environ.update({k: env[k] for k in ("WECHAT_API_BASE", "PORT", "SANDBOX_PORT")})
    settings.WECHAT_API_BASE = sandbox_base
    bistro = seed_demo(portal_url=f"http://127.0.0.1:{web_port}")["Demo Bistro"]
    store = Store.objects.get(merchant=bistro, poi_id="100001")
    keys = [
        services.till_key_create(merchant=bistro, store=store, name=f"Till {i}")[1]
        for i in range(args.tills)
    ]

    procs = [
        _harness.start_server(
            "sandbox.wsgi:application",
            sandbox_port,
            threads=8,
            extra_env={**env, "ROOT_URLCONF": "sandbox.urls_root"},
        ),
        _harness.start_server(
            "portal.wsgi:application",
            web_port,
            workers=args.workers,
            threads=args.threads,
            extra_env=env,
        ),
    ]
    try:
        # An approved card with stock, made as the portal makes it, and the codes
        # customers received (the sandbox's control API), distinct per measurement.
        card = _stocked_card(bistro, sandbox_base, args.codes * 2 + args.tills * 5)
        card_id = card.card_id
        control = requests.Session()
        codes = []
        for i in range(args.codes * 2 + args.tills * 5):
            got = control.post(
                sandbox_base + f"control/cards/{card_id}/receive",
                json={"openid": f"o_bench_{i}"},
            )
            got.raise_for_status()
            codes.append(got.json()["code"])
        direct, portal, warm = (
            codes[: args.codes],
            codes[args.codes : args.codes * 2],
            codes[args.codes * 2 :],
        )

        def split(items, make):
            return [
                [make(i, c) for c in items[i :: args.tills]] for i in range(args.tills)
            ]

        token = for_merchant(bistro).access_token()
        consume_path = "/sandbox/card/code/consume?" + urlencode(
            {"access_token": token}
        )
        # 1. The sandbox alone.
        sandbox_s, sandbox_ms, sandbox_st = load(
            sandbox_port,
            consume_path,
            split(direct, lambda i, c: ({}, {"code": c, "card_id": card_id})),
        )
        # Warm-up of the portal (connections, tokens, caches), then 2. and 3.
        auth = lambda i: {"Authorization": f"Bearer {keys[i]}"}  # noqa: E731
        load(
            web_port,
            "/api/redemption/lookup",
            split(warm, lambda i, c: (auth(i), {"code": c})),
        )
        lookup_s, lookup_ms, lookup_st = load(
            web_port,
            "/api/redemption/lookup",
            split(portal, lambda i, c: (auth(i), {"code": c})),
        )
        consume_s, consume_ms, consume_st = load(
            web_port,
            "/api/redemption/consume",
            split(portal, lambda i, c: (auth(i), {"code": c})),
        )
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)

    assert all(s == (200, 0) for s in sandbox_st), set(sandbox_st)
    assert all(s[0] == 200 for s in lookup_st), set(lookup_st)
    assert all(s == (200, "consumed") for s in consume_st), set(consume_st)
    sandbox_rate = len(direct) / sandbox_s
    portal_rate = len(portal) / consume_s
    print(
        f"{args.tills} tills, {args.codes} distinct codes per measurement; portal "
        f"{args.workers} workers × {args.threads} threads"
    )
    for name, samples, seconds in (
        ("sandbox card/code/consume", sandbox_ms, sandbox_s),
        ("POST /api/redemption/lookup", lookup_ms, lookup_s),
        ("POST /api/redemption/consume", consume_ms, consume_s),
    ):
        p50, p99 = _harness.percentiles(samples)
        print(
            f"{name:30} {len(samples) / seconds:7.1f}/s   "
            f"p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
        )
    print(
        f"consumes end to end / sandbox's own rate: {portal_rate / sandbox_rate:.2f}×"
        "   (target ≥ 0.5×)"
    )


def _stocked_card(merchant, sandbox_base: str, quantity: int):
    """conftest's stocked_card, at this run's sandbox."""
    import requests

    from cards import services as card_services
    from coins import services as coin_services
    from tests.factories import cash_card, png, process_events

    logo, pic = (
        card_services.card_image_upload(merchant=merchant, content=png(), filename=n)
        for n in ("logo.png", "dish.png")
    )
    card = card_services.card_submit(
        card=card_services.card_draft_save(
            merchant=merchant,
            definition=cash_card(logo.wechat_url, pic.wechat_url),
        )
    )
    requests.post(
        sandbox_base + f"control/cards/{card.card_id}/review",
        json={"approve": True},
        timeout=10,
    ).raise_for_status()
    for _ in range(50):
        process_events()
        card.refresh_from_db()
        if card.status == "APPROVED":
            break
        time.sleep(0.1)
    coin_services.coin_account_activate(merchant=merchant)
    process_events()
    order = coin_services.stock_order_quote(
        merchant=merchant, card=card, quantity=quantity
    )
    coin_services.stock_order_confirm(order_id=order.pk)
    card.refresh_from_db()
    assert card.quantity >= quantity, card.quantity
    return card


if __name__ == "__main__":
    main()
