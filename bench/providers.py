#!/usr/bin/env python
"""The provider console with 500 sub-merchants (SPEC §8, issue 12).

    .venv/bin/python bench/providers.py [--merchants 500] [--requests 300] [--clients 4]

500 sub-merchants of Demo Provider with 20 cards and a 20-line ledger each (10,000
cards, 10,000 ledger rows, coin accounts, events). p50/p99 of the console's first
page, a search and a sort, beside ``GET /api/ping`` (the same stack's trivial
authenticated endpoint) in the same run, the portal under gunicorn as in
`make run` (2 workers × 4 threads). Target: each ≤ 3 × ping's p50 and p99.

Then the queries of each page, at 500 sub-merchants and at 10: the same number
(no query that grows with the number of merchants on a page).
"""

from __future__ import annotations

import argparse
import http.client
import re
import threading
import time
from urllib.parse import urlencode

import _harness

PAGES = {
    "GET /api/ping": "/api/ping",
    "console, first page": "/provider/",
    "console, a search": "/provider/?" + urlencode({"q": "Shop 04"}),
    "console, sorted by balance": "/provider/?sort=-balance",
    "console, an alert, sorted": "/provider/?alert=low_stock&sort=-redemptions",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--merchants", type=int, default=500)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    _harness.setup_django()
    import requests
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from portal.demo import DEMO_PASSWORD, seed_demo
    from portal.models import Provider, ProviderStaff
    from portal.tests import provider_factory

    seed_demo()
    provider = Provider.objects.get(name="Demo Provider")
    started = time.monotonic()
    provider_factory.build(provider, args.merchants, cards_each=20, ledger_each=20)
    print(
        f"{args.merchants} sub-merchants, 20 cards and 20 ledger lines each, built in "
        f"{time.monotonic() - started:.1f} s"
    )
    small = Provider.objects.create(name="Small Provider")
    small_user = get_user_model().objects.create_user("small_staff")
    ProviderStaff.objects.create(provider=small, user=small_user)
    provider_factory.build(small, 10, cards_each=20, ledger_each=20, prefix="Small")
    if connection.vendor == "postgresql":
        # The planner's statistics of the tables just filled, as autovacuum would
        # gather them within a minute of such a load (without them PostgreSQL
        # takes every table for empty, and picks its indexes accordingly).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")

    # Queries per page, measured in this process (the same code the server runs).
    queries = {}
    for who, username in (("500", "demo_provider"), ("10", "small_staff")):
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(
            get_user_model().objects.get(username=username),
            backend="django.contrib.auth.backends.ModelBackend",
        )
        for name, path in PAGES.items():
            client.get(path)  # warm
            with CaptureQueriesContext(connection) as captured:
                assert client.get(path).status_code == 200, path
            queries[(who, name)] = len(captured.captured_queries)

    port = _harness.free_port()
    web = _harness.start_server(
        "portal.wsgi:application", port, workers=args.workers, threads=4
    )
    base = f"http://127.0.0.1:{port}"
    try:
        login = requests.Session()
        page = login.get(f"{base}/accounts/login/").text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        login.post(
            f"{base}/accounts/login/",
            data={
                "csrfmiddlewaretoken": token,
                "username": "demo_provider",
                "password": DEMO_PASSWORD,
            },
            headers={"Referer": f"{base}/accounts/login/"},
        ).raise_for_status()
        cookie = "; ".join(f"{k}={v}" for k, v in login.cookies.items())
        samples: dict[str, list[float]] = {name: [] for name in PAGES}
        lock = threading.Lock()

        def client() -> None:
            # One keep-alive connection; the pages in turn, so that each is
            # measured under the same load as the others.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            mine: dict[str, list[float]] = {name: [] for name in PAGES}
            for i in range(args.requests // args.clients + 3):
                for name, path in PAGES.items():
                    t0 = time.perf_counter()
                    conn.request("GET", path, headers={"Cookie": cookie})
                    response = conn.getresponse()
                    response.read()
                    elapsed = (time.perf_counter() - t0) * 1000
                    assert response.status == 200, (path, response.status)
                    if i >= 3:
                        mine[name].append(elapsed)
            conn.close()
            with lock:
                for name, values in mine.items():
                    samples[name].extend(values)

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        web.terminate()
        web.wait(10)

    ping50, ping99 = _harness.percentiles(samples["GET /api/ping"])
    print(
        f"\n{'page':30} {'requests':>8}  {'p50 ms':>7}  {'p99 ms':>7}  {'× ping':>11}"
        f"  queries (500 / 10 merchants)"
    )
    for name in PAGES:
        p50, p99 = _harness.percentiles(samples[name])
        ratio = f"{p50 / ping50:4.1f} / {p99 / ping99:4.1f}"
        print(
            f"{name:30} {len(samples[name]):8}  {p50:7.2f}  {p99:7.2f}  {ratio:>11}"
            f"  {queries[('500', name)]} / {queries[('10', name)]}"
        )
    print(
        f"\n{args.clients} concurrent clients, gunicorn {args.workers} workers × 4 "
        "threads. Target: p50 and p99 ≤ 3 × ping; queries the same at 500 and 10."
    )


if __name__ == "__main__":
    main()
