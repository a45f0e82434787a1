#!/usr/bin/env python
"""Recharge settlement at scale, and the ledger's page time on a million rows.

    .venv/bin/python bench/coins.py [--recharges 1000] [--ledger-rows 1000000]

1. RECHARGES pending recharges are paid at once in the sandbox; seconds until all
   are settled by the beat-driven poller alone (pushes switched off), and again with
   card_pay_order events on (targets: ≤ 15 s and ≤ 5 s after payment), with the
   number of getorder calls each made. Everything runs as `make run` runs it: the
   sandbox and the portal under gunicorn, a Celery worker and Celery beat.
2. LEDGER_ROWS ledger rows for one merchant: median time of a filtered, sorted page
   (keyset, no COUNT) over random filters and positions (target ≤ 30 ms), and of the
   same page with its running balance (one aggregate over the rows before the page:
   it grows with the ledger; no target yet).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time

import _harness


def start_celery(kind: str, env: dict) -> subprocess.Popen:
    args = (
        ["worker", "--concurrency", "2", "--loglevel", "WARNING"]
        if kind == "worker"
        else ["beat", "--loglevel", "WARNING", "--pidfile", ""]
    )
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "portal", *args],
        cwd=_harness.ROOT,
        env=env,
    )


def settle_phase(
    label, merchant, recharges, sandbox_base, http, wait_limit=120
) -> None:
    from coins.models import Recharge

    def calls(path: str) -> int:
        return http.get(sandbox_base + "control/calls", params={"path": path}).json()[
            "count"
        ]

    ids = [r.pk for r in recharges]
    before = {p: calls(p) for p in ("card/pay/getorder", "card/pay/getorderlist")}
    started = time.monotonic()
    http.post(
        sandbox_base + "control/recharges/pay-all",
        json={"appid": merchant.appid, "success": True},
    ).raise_for_status()
    paid_at = time.monotonic()  # the sandbox pays them one by one: the last one now
    while time.monotonic() - paid_at < wait_limit:
        if not Recharge.objects.filter(
            pk__in=ids, status=Recharge.Status.WAITING
        ).exists():
            break
        time.sleep(0.1)
    elapsed = time.monotonic() - paid_at
    settled = Recharge.objects.filter(pk__in=ids, status=Recharge.Status.PAID)
    by_event = settled.filter(settled_by="event").count()
    made = {p: calls(p) - n for p, n in before.items()}
    print(
        f"{label:18} paying all {len(ids)} took {paid_at - started:4.1f} s; "
        f"{settled.count()}/{len(ids)} settled {elapsed:5.1f} s after the last payment "
        f"({by_event} by event); getorder calls {made['card/pay/getorder']}, "
        f"getorderlist calls {made['card/pay/getorderlist']}"
    )


def recharge_benchmark(n: int) -> None:
    import requests
    from django.conf import settings

    from coins import services
    from portal.demo import seed_demo

    web_port, sandbox_port = _harness.free_port(), _harness.free_port()
    sandbox_base = f"http://127.0.0.1:{sandbox_port}/sandbox/"
    env = {
        **os.environ,
        "WECHAT_API_BASE": sandbox_base,
        "PORT": str(web_port),
        "SANDBOX_PORT": str(sandbox_port),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update({k: env[k] for k in ("WECHAT_API_BASE", "PORT", "SANDBOX_PORT")})
    settings.WECHAT_API_BASE = sandbox_base
    procs = [
        _harness.start_server(
            "sandbox.wsgi:application",
            sandbox_port,
            threads=16,
            extra_env={**env, "ROOT_URLCONF": "sandbox.urls_root"},
        ),
        _harness.start_server(
            "portal.wsgi:application", web_port, workers=2, threads=8, extra_env=env
        ),
        start_celery("worker", env),
        start_celery("beat", env),
    ]
    http = requests.Session()
    try:
        bistro = seed_demo(portal_url=f"http://127.0.0.1:{web_port}")["Demo Bistro"]
        services.coin_account_activate(merchant=bistro)
        callback = http.get(sandbox_base + "control/accounts").json()["accounts"]
        account = next(a for a in callback if a["appid"] == bistro.appid)

        def set_callback(url: str) -> None:
            http.post(
                sandbox_base + "control/accounts", json={**account, "callback_url": url}
            ).raise_for_status()

        for label, url in (
            ("poller alone", ""),
            ("poller + events", account["callback_url"]),
        ):
            set_callback(url)
            started = time.monotonic()
            recharges = [
                services.recharge_create(merchant=bistro, coin_count=1)
                for _ in range(n)
            ]
            print(
                f"{label:24} {n} recharges created in {time.monotonic() - started:5.1f} s"
            )
            settle_phase(label, bistro, recharges, sandbox_base, http)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def ledger_benchmark(rows: int, samples: int = 200) -> None:
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from coins import selectors
    from coins.models import LedgerEntry
    from portal.demo import seed_demo

    merchant = seed_demo()["Other Shop"]
    types = list(LedgerEntry.OrderType.values)
    statuses = list(LedgerEntry.OrderStatus.values)
    start = timezone.now() - timedelta(days=365)
    rng = random.Random(1)
    t0 = time.monotonic()
    batch = 20_000
    for first in range(0, rows, batch):
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    merchant=merchant,
                    order_id=f"bench{first + i}",
                    order_type=rng.choice(types),
                    status=rng.choice(statuses),
                    create_time=start
                    + timedelta(seconds=(first + i) * 31_536_000 // rows),
                    pay_coin_count=rng.randint(1, 500),
                )
                for i in range(min(batch, rows - first))
            ],
            batch_size=5000,
        )
    print(f"ledger: {rows:,} rows written in {time.monotonic() - t0:.0f} s")
    from coins import services

    t0 = time.monotonic()
    services.ledger_restate_balances(merchant=merchant)
    print(f"ledger: balances stated for {rows:,} rows in {time.monotonic() - t0:.0f} s")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    timings, with_balance = [], []
    for _ in range(samples):
        begin = start + timedelta(days=rng.randint(0, 300))
        filters = selectors.LedgerFilters(
            order_type=rng.choice(["", *types]),
            exclude_status=rng.choice(["", "ORDER_STATUS_WAITING"]),
            begin=begin if rng.random() < 0.5 else None,
            end=begin + timedelta(days=rng.randint(7, 60))
            if rng.random() < 0.5
            else None,
            ascending=rng.random() < 0.5,
        )
        after = ""
        for _ in range(rng.randint(1, 4)):  # also pages deep into the result
            t = time.perf_counter()
            rows, after = selectors.ledger_page(
                merchant=merchant, filters=filters, after=after or ""
            )
            timings.append((time.perf_counter() - t) * 1000)
            # What the page shows besides: signed amounts and the running balance.
            selectors.ledger_lines(merchant=merchant, rows=rows)
            with_balance.append((time.perf_counter() - t) * 1000)
            if not after:
                break
    p50, p99 = _harness.percentiles(timings)
    print(
        f"ledger page (50 rows, filtered, sorted, keyset): median {p50:.2f} ms, p99 {p99:.2f} ms "
        f"over {len(timings)} pages (target median ≤ 30 ms)"
    )
    p50, p99 = _harness.percentiles(with_balance)
    print(
        f"ledger page with the running balance: median {p50:.2f} ms, p99 {p99:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recharges", type=int, default=1000)
    parser.add_argument("--ledger-rows", type=int, default=1_000_000)
    parser.add_argument("--skip-recharges", action="store_true")
    parser.add_argument("--skip-ledger", action="store_true")
    args = parser.parse_args()
    _harness.setup_django()
    if not args.skip_recharges:
        recharge_benchmark(args.recharges)
    if not args.skip_ledger:
        ledger_benchmark(args.ledger_rows)


if __name__ == "__main__":
    main()
