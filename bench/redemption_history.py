"""The redemption history's page time with many attempts, beside /api/ping's.

    .venv/bin/python bench/redemption_history.py [--attempts 100000] [--samples 100]

Writes ATTEMPTS attempts for Demo Bistro (two stores, three people, a device, every
outcome, over a year) on a throw-away database (or DATABASE_URL's), then times whole
requests through Django (middleware, session, template) as the owner:
the first page, a filtered page (store + outcome + date range), a page reached by
the keyset link 5 pages deep, and the CSV of one day; /api/ping is the floor. The
history is keyset-paged on (merchant, created_at, id): its time must not grow with
the number of rows (target: first page median ≤ 150 ms; most of it is rendering
50 rows and the filters, not SQL: 9 queries, ~25 ms).
"""

from __future__ import annotations

import argparse
import random
import re
import time
from datetime import timedelta

import _harness

TARGET_MS = 150


def _timed(client, url: str, samples: int) -> list[float]:
    timings = []
    for _ in range(samples):
        t = time.perf_counter()
        response = client.get(url)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
        assert response.status_code == 200, (url, response.status_code)
        timings.append((time.perf_counter() - t) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--attempts", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    _harness.setup_django()

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from portal.demo import seed_demo
    from redemption.models import Channel, Reason, RedemptionAttempt, TillKey

    merchant = seed_demo()["Demo Bistro"]
    stores = list(merchant.stores.all())
    users = list(get_user_model().objects.filter(memberships__merchant=merchant))
    key = TillKey.objects.create(
        merchant=merchant,
        store=stores[0],
        name="Bench POS",
        prefix="fct_bench",
        key_hash="0" * 64,
    )
    rng = random.Random(10)
    reasons = [r for r in Reason.values if r != Reason.CHECKING]
    start = timezone.now() - timedelta(days=365)
    A = RedemptionAttempt.Outcome
    step = timedelta(seconds=31_536_000 / max(args.attempts, 1))
    # Spread over a year: the bench writes created_at itself.
    RedemptionAttempt._meta.get_field("created_at").auto_now_add = False
    t0 = time.monotonic()
    batch = 10_000
    for first in range(0, args.attempts, batch):
        rows = []
        for i in range(first, min(first + batch, args.attempts)):
            outcome = A.CONSUMED if rng.random() < 0.6 else A.REFUSED
            device = rng.random() < 0.3
            rows.append(
                RedemptionAttempt(
                    merchant=merchant,
                    code=f"{i:012d}",
                    store=rng.choice(stores),
                    channel=Channel.API if device else Channel.TILL,
                    user=None if device else rng.choice(users),
                    api_key=key if device else None,
                    outcome=outcome,
                    reason="" if outcome == A.CONSUMED else rng.choice(reasons),
                    created_at=start + step * i,
                )
            )
        RedemptionAttempt.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"{args.attempts:,} attempts written in {time.monotonic() - t0:.0f} s")

    client = Client(SERVER_NAME="127.0.0.1")
    owner = get_user_model().objects.get(username="demo_owner")
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    day = timezone.localtime(start + timedelta(days=200)).date()
    filtered = (
        f"/redemption/history/?store={stores[0].pk}&outcome=refused"
        f"&from={day - timedelta(days=30)}&to={day}"
    )
    url, deep = "/redemption/history/", None
    for _ in range(5):
        html = client.get(url).content.decode()
        link = re.search(r'href="\?([^"]+)" data-next-page', html)
        url = "/redemption/history/?" + link.group(1).replace("&amp;", "&")
    deep = url
    samples = args.samples
    results = {
        "/api/ping": _timed(client, "/api/ping", samples),
        "history, first page": _timed(client, "/redemption/history/", samples),
        "history, filtered": _timed(client, filtered, samples),
        "history, 5 pages deep": _timed(client, deep, samples),
        "history CSV, one day": _timed(
            client, f"/redemption/history/export.csv?from={day}&to={day}", 10
        ),
    }
    for name, timings in results.items():
        p50, p99 = _harness.percentiles(timings)
        print(f"{name:24s} median {p50:7.2f} ms  p99 {p99:7.2f} ms  ({len(timings)})")
    ping = _harness.percentiles(results["/api/ping"])[0]
    first = _harness.percentiles(results["history, first page"])[0]
    verdict = "ok" if first <= TARGET_MS else "OVER"
    print(
        f"first page {first:.1f} ms = {first / ping:.1f}× ping; "
        f"target median ≤ {TARGET_MS} ms: {verdict}"
    )


if __name__ == "__main__":
    main()
