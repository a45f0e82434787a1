#!/usr/bin/env python
"""Distribution's costs: QR codes drawn per second, and the H5 campaign page under load.

    .venv/bin/python bench/distribution.py [--qrcodes 300] [--clients 8] [--requests 2000]

1. QR codes rendered per second from WeChat-shaped links (``http://weixin.qq.com/q/…``),
   as SVG (the QR code's page, the printable sheets) and as PNG (the download), each
   link a new one (nothing cached).
2. p50/p99 of ``GET /c/<slug>/`` (the campaign page: its campaign and coupons read,
   the jsapi and wx_card tickets from the shared cache, wx.config and a cardExt
   signed for the request, the page rendered) with CLIENTS concurrent clients, next to
   ``GET /api/ping`` (a trivial signed-in endpoint) of the same stack in the same run.
   Target: the campaign page costs at most 1.5 × the ping.
The portal runs under gunicorn as in `make run` (2 workers × 4 threads), the sandbox
as its own process (WeChat: it hands out the tickets once).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import sys
import threading
import time
from pathlib import Path

import _harness

# This script is named like the app it measures: the app (the project's
# ``distribution`` package) must be what ``import distribution`` finds.
_here = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _here]
sys.modules.pop("distribution", None)


def render_rate(count: int) -> tuple[float, float]:
    from distribution import render

    links = [
        f"http://weixin.qq.com/q/{secrets.token_urlsafe(16)}" for _ in range(count)
    ]
    rates = []
    for draw in (render.qr_svg, render.qr_png):
        started = time.perf_counter()
        for link in links:
            draw(link)
        rates.append(count / (time.perf_counter() - started))
    return rates[0], rates[1]


def load(port: int, path: str, clients: int, requests: int, cookie: str = ""):
    samples: list[float] = []
    lock = threading.Lock()
    per_client = requests // clients

    def client():
        # One keep-alive connection per client: the load generator shares the two
        # cores with the server, so it must cost as little as it can.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Cookie": cookie} if cookie else {}
        mine = []
        for i in range(per_client + 10):
            t0 = time.perf_counter()
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - t0) * 1000
            assert response.status == 200, (path, response.status)
            if i >= 10:
                mine.append(elapsed)
        conn.close()
        with lock:
            samples.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--qrcodes", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    _harness.setup_django()
    import requests
    from django.conf import settings

    from cards.models import CardStatus, FriendCard
    from distribution import services
    from portal.demo import DEMO_PASSWORD, seed_demo
    from tests.factories import cash_card

    svg_rate, png_rate = render_rate(args.qrcodes)

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
    bistro = seed_demo(portal_url=f"http://127.0.0.1:{web_port}")["Demo Bistro"]
    definition = cash_card("http://127.0.0.1/bench/logo.png", "http://127.0.0.1/b.png")
    card = FriendCard.objects.create(
        merchant=bistro,
        card_type="CASH",
        status=CardStatus.APPROVED,
        card_id="pBenchCard0000000000000001",
        definition=definition,
        title="全场满500减50",
        brand_name="演示小馆",
        quantity=100,
    )
    channel = services.channel_create(merchant=bistro, name="Window poster")
    campaign = services.campaign_save(
        merchant=bistro, title="Spring tasting", channel=channel, cards=[card]
    )
    page_path = f"/c/{campaign.slug}/?from=poster"

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
            threads=4,
            extra_env=env,
        ),
    ]
    base = f"http://127.0.0.1:{web_port}"
    try:
        session = requests.Session()
        page = session.get(f"{base}/accounts/login/").text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        session.post(
            f"{base}/accounts/login/",
            data={
                "csrfmiddlewaretoken": token,
                "username": "demo_staff",
                "password": DEMO_PASSWORD,
            },
            headers={"Referer": f"{base}/accounts/login/"},
        ).raise_for_status()
        cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
        first = requests.get(base + page_path, timeout=30)  # fetches the tickets once
        assert first.status_code == 200 and '"signature"' in first.text, first.text[
            :500
        ]
        assert "jweixin.js" in first.text

        ping = load(web_port, "/api/ping", args.clients, args.requests, cookie)
        landing = load(web_port, page_path, args.clients, args.requests)
        ping_again = load(web_port, "/api/ping", args.clients, args.requests, cookie)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)

    print(
        f"QR codes rendered: SVG {svg_rate:7.1f}/s   PNG {png_rate:7.1f}/s"
        f"   ({args.qrcodes} distinct links each)"
    )
    rows = (
        ("GET /api/ping", ping + ping_again),
        ("GET /c/<slug>/ (campaign page)", landing),
    )
    measured = {}
    for name, samples in rows:
        p50, p99 = _harness.percentiles(samples)
        measured[name] = (p50, p99)
        print(
            f"{name:31} {len(samples):5} requests, {args.clients} clients: "
            f"p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
        )
    (ping50, ping99), (page50, page99) = measured.values()
    print(
        f"campaign page / ping: p50 {page50 / ping50:.2f}×  p99 {page99 / ping99:.2f}×"
        "   (target ≤ 1.5×)"
    )


if __name__ == "__main__":
    main()
