"""The client against a live sandbox, over real HTTP (SPEC §4, §11, §12)."""

from __future__ import annotations

import io
import logging
import threading

import pytest
import requests
from django.core.cache import cache

from wechat import errors

APPID = "wx00000000c11e0001"
SECRET = "client-test-secret-0123456789abc"


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (7, 193, 96)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def account(sandbox):
    sandbox.account(APPID, SECRET)
    return sandbox


def test_token_is_fetched_once_and_cached(account):
    client = account.client(APPID, SECRET)
    first = client.access_token()
    assert first and client.access_token() == first
    # A second client of the same appid (another request) shares the cache.
    assert account.client(APPID, SECRET).access_token() == first
    assert account.calls("cgi-bin/token", APPID) == 1


def test_wrong_secret_is_a_typed_error_with_words(account):
    client = account.client(APPID, "not-the-secret")
    with pytest.raises(errors.WeChatError) as caught:
        client.access_token()
    assert caught.value.errcode == 40125
    assert "AppSecret" in caught.value.message


def test_tickets_are_cached_like_tokens(account):
    client = account.client(APPID, SECRET)
    jsapi, card = client.ticket.jsapi(), client.ticket.wx_card()
    assert jsapi and card and jsapi != card
    assert client.ticket.jsapi() == jsapi and client.ticket.wx_card() == card
    assert account.calls("cgi-bin/ticket/getticket", APPID) == 2


def test_image_upload_is_served_back_at_its_url(account):
    client = account.client(APPID, SECRET)
    content = _png()
    uploaded = client.media.upload_image(
        content, filename="logo.png", content_type="image/png"
    )
    served = requests.get(uploaded.url, timeout=5)
    assert served.status_code == 200 and served.content == content
    assert served.headers["Content-Type"] == "image/png"


def test_image_limits(account):
    client = account.client(APPID, SECRET)
    with pytest.raises(errors.WeChatError) as too_big:
        client.media.upload_image(b"\xff\xd8\xff" + b"0" * (1024 * 1024))
    assert too_big.value.errcode == 40009
    with pytest.raises(errors.WeChatError) as gif:
        client.media.upload_image(b"GIF89a" + b"0" * 100, filename="x.gif")
    assert gif.value.errcode == 40005


def test_latency_past_the_timeout_is_retried_for_safe_calls(account):
    client = account.client(APPID, SECRET, timeout=0.5)
    client.access_token()
    account.fault(
        "latency",
        appid=APPID,
        path="cgi-bin/ticket/getticket",
        latency_ms=1500,
        remaining=1,
    )
    assert client.ticket.jsapi()
    assert account.wait_calls("cgi-bin/ticket/getticket", APPID, 2) == 2


def test_a_lost_answer_of_an_unsafe_call_is_unknown_outcome_never_resent(account):
    client = account.client(APPID, SECRET, timeout=0.5)
    client.access_token()
    account.fault(
        "timeout",
        appid=APPID,
        path="cgi-bin/ticket/getticket",
        latency_ms=1500,
        remaining=1,
    )
    with pytest.raises(errors.UnknownOutcome) as caught:
        client.call("GET", "cgi-bin/ticket/getticket", params={"type": "jsapi"})
    assert caught.value.message
    assert account.wait_calls("cgi-bin/ticket/getticket", APPID, 1) == 1
    import time

    time.sleep(1.2)  # the delayed answer arrives late; still one call
    assert account.calls("cgi-bin/ticket/getticket", APPID) == 1


def test_http_500_is_retried_for_safe_calls_only(account):
    client = account.client(APPID, SECRET)
    client.access_token()
    account.fault("http_500", appid=APPID, path="cgi-bin/ticket/getticket", remaining=2)
    assert client.ticket.jsapi()
    assert account.calls("cgi-bin/ticket/getticket", APPID) == 3
    account.fault("http_500", appid=APPID, path="cgi-bin/ticket/getticket", remaining=1)
    with pytest.raises(errors.UnknownOutcome):
        client.call("GET", "cgi-bin/ticket/getticket", params={"type": "wx_card"})
    assert account.calls("cgi-bin/ticket/getticket", APPID) == 4


def test_system_busy_is_retried_for_safe_calls_only(account):
    client = account.client(APPID, SECRET)
    client.access_token()
    account.fault(
        "errcode_-1", appid=APPID, path="cgi-bin/ticket/getticket", remaining=1
    )
    assert client.ticket.jsapi()
    account.fault(
        "errcode_-1", appid=APPID, path="cgi-bin/ticket/getticket", remaining=1
    )
    with pytest.raises(errors.SystemBusy) as caught:
        client.call("GET", "cgi-bin/ticket/getticket", params={"type": "wx_card"})
    assert "busy" in caught.value.message
    assert account.calls("cgi-bin/ticket/getticket", APPID) == 3


def test_persistent_failure_gives_up_with_a_transport_error(account):
    client = account.client(APPID, SECRET)
    client.access_token()
    account.fault("http_500", appid=APPID, path="cgi-bin/ticket/getticket")
    with pytest.raises(errors.TransportError):
        client.ticket.jsapi()
    assert account.calls("cgi-bin/ticket/getticket", APPID) == 3


def test_token_expired_mid_flow_is_refreshed_and_the_call_retried_once(account):
    client = account.client(APPID, SECRET)
    old = client.access_token()
    account.fault(
        "token_expired", appid=APPID, path="cgi-bin/ticket/getticket", remaining=1
    )
    assert client.ticket.jsapi()
    assert client.access_token() != old
    assert account.calls("cgi-bin/token", APPID) == 2


def test_sandbox_time_expiring_the_token_is_met_with_one_refresh(account):
    client = account.client(APPID, SECRET)
    old = client.access_token()
    account.advance(7201)
    assert client.ticket.jsapi()  # 42001 → refresh → retry
    assert client.access_token() != old
    assert account.calls("cgi-bin/token", APPID) == 2


def test_a_superseded_token_lives_five_minutes_then_is_refused(account):
    client = account.client(APPID, SECRET)
    old = client.access_token()
    # Someone else (another deployment) takes a new token: ours still works…
    requests.get(
        account.base_url + "cgi-bin/token",
        params={"grant_type": "client_credential", "appid": APPID, "secret": SECRET},
        timeout=5,
    ).raise_for_status()
    assert client.ticket.jsapi()
    assert client.access_token() == old
    account.advance(301)
    raw = requests.get(
        account.base_url + "cgi-bin/ticket/getticket",
        params={"access_token": old, "type": "jsapi"},
        timeout=5,
    ).json()
    assert raw["errcode"] == 40001
    assert client.ticket.wx_card()  # the client renews and carries on
    assert client.access_token() != old


def test_a_stale_failure_does_not_drop_a_newer_token(account):
    client = account.client(APPID, SECRET)
    old = client.access_token()
    cache.delete(client._token.key)
    new = client.access_token()
    assert new != old
    client.invalidate_token(old)  # a slow caller reports the old token failed
    assert client.access_token() == new
    assert account.calls("cgi-bin/token", APPID) == 2


def test_fifty_threads_with_an_empty_cache_cause_one_token_call(account):
    barrier = threading.Barrier(50)
    tokens, failures = [], []

    def worker():
        try:
            client = account.client(APPID, SECRET, timeout=5)
            barrier.wait()
            tokens.append(client.access_token())
        except Exception as exc:  # collected and asserted below
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not failures
    calls = account.calls("cgi-bin/token", APPID)
    seen = {t: tokens.count(t) for t in tokens}
    assert len(tokens) == 50 and len(seen) == 1, (calls, seen)
    assert calls == 1


def test_secrets_and_tokens_never_reach_the_log(account, caplog):
    caplog.set_level(logging.DEBUG)
    client = account.client(APPID, SECRET)
    token = client.access_token()
    client.ticket.jsapi()
    account.fault("http_500", appid=APPID)
    with pytest.raises(errors.TransportError):
        client.ticket.wx_card()
    text = caplog.text + repr(client)
    assert "cgi-bin/ticket/getticket" in caplog.text
    assert SECRET not in text and token not in text


def test_several_processes_with_an_empty_cache_cause_one_token_call(account):
    """4 processes × 10 threads share the cache (database or Redis): one refresh."""
    import json
    import os
    import subprocess
    import sys
    import time

    from conftest import _database_url_of_test_db

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings_test",
        "DATABASE_URL": _database_url_of_test_db(),
    }
    start_at = time.time() + 4
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wechat.tests.herd",
                account.base_url,
                APPID,
                SECRET,
                "10",
                str(start_at),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    tokens = []
    for proc in procs:
        out, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err[-2000:]
        tokens += json.loads(out.strip().splitlines()[-1])
    assert len(tokens) == 40
    assert len(set(tokens)) == 1, set(tokens)
    assert account.calls("cgi-bin/token", APPID) == 1
