#!/usr/bin/env python
"""Latency of the live preview under load.

    .venv/bin/python bench/preview.py [--clients 8] [--requests 2000]

p50/p99 of ``POST /api/cards/preview`` (WeChat's JSON) and of
``POST /api/cards/preview/form`` (the editor's raw form, built into that JSON on the
server: what the editor sends while you type) with CLIENTS concurrent signed-in
clients, next to ``GET /api/ping`` (a trivial authenticated endpoint of the same stack:
session, merchant, CSRF, django-ninja) in the same run. Target: each preview's p50 and p99
≤ 2 × the ping's (a ratio: this machine's speed varies).
The portal runs under gunicorn as in `make run` (2 workers × 4 threads).
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import threading
import time
from urllib.parse import urlencode

import _harness


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread")
    args = parser.parse_args()

    _harness.setup_django()
    import requests

    from cards.models import CardImage
    from portal.demo import DEMO_PASSWORD, seed_demo

    bistro = seed_demo()["Demo Bistro"]
    logo, dish = "http://127.0.0.1/bench/logo.png", "http://127.0.0.1/bench/dish.png"
    for url in (logo, dish):
        CardImage.objects.get_or_create(
            merchant=bistro,
            wechat_url=url,
            defaults={"content_type": "image/png", "size": 1},
        )
    now = int(time.time())
    card = {
        "card_type": "CASH",
        "cash": {
            "base_info": {
                "logo_url": logo,
                "brand_name": "演示小馆",
                "code_type": "CODE_TYPE_QRCODE",
                "color": "Color010",
                "notice": "请出示二维码核销",
                "description": "不可与其他优惠同享",
                "date_info": {
                    "type": "DATE_TYPE_FIX_TIME_RANGE",
                    "begin_timestamp": now,
                    "end_timestamp": now + 30 * 86400,
                },
                "location_id_list": [100001, 100002],
                "can_share": False,
                "can_give_friend": False,
            },
            "advanced_info": {
                "use_condition": {
                    "least_cost": 50000,
                    "can_use_with_other_discount": True,
                },
                "text_image_list": [{"image_url": dish, "text": "招牌菜品"}],
                "share_friends": True,
                "consume_share_self_num": 1,
            },
            "reduce_cost": 5000,
        },
    }

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
                "username": "demo_staff",
                "password": DEMO_PASSWORD,
            },
            headers={"Referer": f"{base}/accounts/login/"},
        ).raise_for_status()
        csrf = login.cookies["csrftoken"]
        body = json.dumps({"card": card}, ensure_ascii=False).encode()
        check = login.post(
            f"{base}/api/cards/preview?quantity=100",
            data=body,
            headers={"X-CSRFToken": csrf, "Content-Type": "application/json"},
        ).json()
        assert check["title"] == "全场满500减50" and not check["errors"], check
        today = time.strftime("%Y-%m-%d")
        later = time.strftime("%Y-%m-%d", time.localtime(time.time() + 30 * 86400))
        form = urlencode(
            [
                ("card_type", "CASH"),
                ("brand_name", "演示小馆"),
                ("reduce_cost", "50"),
                ("least_cost", "500"),
                ("begin_date", today),
                ("end_date", later),
                ("location_ids", "100001"),
                ("location_ids", "100002"),
                ("logo_url", logo),
                ("color", "Color010"),
                ("notice", "请出示二维码核销"),
                ("description", "不可与其他优惠同享"),
                ("text_image_1_url", dish),
                ("text_image_1_text", "招牌菜品"),
                ("code_type", "CODE_TYPE_QRCODE"),
                ("consume_share", "self"),
            ]
        ).encode()
        form_type = "application/x-www-form-urlencoded"
        check = login.post(
            f"{base}/api/cards/preview/form?quantity=100",
            data=form,
            headers={"X-CSRFToken": csrf, "Content-Type": form_type},
        ).json()
        assert check["title"] == "全场满500减50" and not check["errors"], check

        def run(kind: str) -> list[float]:
            samples: list[float] = []
            lock = threading.Lock()
            per_client = args.requests // args.clients

            def client():
                # http.client on one keep-alive connection: the load generator shares
                # the two cores with the server, so it must cost as little as it can.
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                headers = {
                    "X-CSRFToken": csrf,
                    "Content-Type": "application/json",
                    "Cookie": "; ".join(f"{k}={v}" for k, v in login.cookies.items()),
                }
                mine = []
                for i in range(per_client + 10):
                    t0 = time.perf_counter()
                    if kind == "preview":
                        path = f"/api/cards/preview?quantity={i + 1}"
                        conn.request("POST", path, body, headers)
                    elif kind == "form":
                        path = f"/api/cards/preview/form?quantity={i + 1}"
                        conn.request(
                            "POST", path, form, {**headers, "Content-Type": form_type}
                        )
                    else:
                        conn.request("GET", "/api/ping", headers=headers)
                    response = conn.getresponse()
                    response.read()
                    elapsed = (time.perf_counter() - t0) * 1000
                    assert response.status == 200, response.status
                    if i >= 10:
                        mine.append(elapsed)
                conn.close()
                with lock:
                    samples.extend(mine)

            threads = [threading.Thread(target=client) for _ in range(args.clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return samples

        ping = run("ping")
        preview = run("preview")
        editor_form = run("form")
    finally:
        web.terminate()
        web.wait(10)

    measured = {}
    for name, samples in (
        ("GET /api/ping", ping),
        ("POST /api/cards/preview", preview),
        ("POST /api/cards/preview/form", editor_form),
    ):
        p50, p99 = measured[name] = _harness.percentiles(samples)
        print(
            f"{name:31} {len(samples):5} requests, {args.clients} clients: p50 {p50:6.2f} ms  p99 {p99:6.2f} ms"
        )
    ping50, ping99 = measured["GET /api/ping"]
    for name in ("POST /api/cards/preview", "POST /api/cards/preview/form"):
        p50, p99 = measured[name]
        print(f"{name:31} ÷ ping: p50 {p50 / ping50:.2f}×  p99 {p99 / ping99:.2f}×")
    print("target: each preview ≤ 2 × the ping (p50 and p99)")


if __name__ == "__main__":
    main()
