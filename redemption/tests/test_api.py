"""The redemption API (/api/redemption/, issue 10 §4) over real HTTP: the live server
runs the portal and the sandbox; the tests are tills (requests sessions with the
till page's cookie and CSRF token, or a store's Bearer key) and separate processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time

import pytest
import requests
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client

import wechat
from portal.models import Store
from redemption import services
from redemption.models import Code, RedemptionAttempt, TillKey
from tests.factories import process_events

A = RedemptionAttempt.Outcome
API = "/api/redemption/"


# --- tills -------------------------------------------------------------------------------
def signed_in(
    live_server, username: str, store: Store | None = None
) -> requests.Session:
    """A till page's browser: the session cookie, the CSRF token, the store chosen."""
    client = Client()
    client.force_login(
        get_user_model().objects.get(username=username),
        backend="django.contrib.auth.backends.ModelBackend",
    )
    http = requests.Session()
    http.cookies.set(
        django_settings.SESSION_COOKIE_NAME,
        client.cookies[django_settings.SESSION_COOKIE_NAME].value,
    )
    page = http.get(live_server.url + "/redemption/", timeout=10)
    assert page.status_code == 200
    http.headers["X-CSRFToken"] = http.cookies[django_settings.CSRF_COOKIE_NAME]
    http.headers["Referer"] = live_server.url + "/redemption/"
    if store is not None:
        chosen = http.post(
            live_server.url + "/redemption/store/",
            data={"store": store.pk},
            timeout=10,
            allow_redirects=False,
        )
        assert chosen.status_code == 302
    return http


def _status_at_wechat(merchant, code: str) -> str:
    return wechat.for_merchant(merchant).code.get(code, check_consume=False).status


def key_for(store: Store, name: str = "Till 1") -> str:
    _key, raw = services.till_key_create(
        merchant=store.merchant, store=store, name=name
    )
    return raw


def bearer(raw: str) -> requests.Session:
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {raw}"
    return http


def post(http, live_server, what: str, code, key: str | None = None, **kw):
    headers = {"Idempotency-Key": key} if key else {}
    return http.post(
        live_server.url + API + what,
        json={"code": code},
        headers=headers,
        timeout=30,
        **kw,
    )


def assert_error(response, status: int, code: str, field: str | None = "code"):
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"code", "message", "field"}, body
    assert body["code"] == code, body
    assert body["message"]
    if field is not None:
        assert body["field"] == field, body
    return body


@pytest.fixture
def jingan(stocked_card) -> Store:
    """Demo Bistro's other store: the stocked card is not valid there."""
    return Store.objects.get(merchant=stocked_card.merchant, poi_id="100002")


# --- the happy paths -----------------------------------------------------------------------
def test_the_till_page_looks_up_and_consumes_with_its_session(
    stocked_card, receive, till_store, sandbox, live_server
):
    got = receive(stocked_card, "o_customer_1")
    http = signed_in(live_server, "demo_cashier", till_store)
    found = post(http, live_server, "lookup", got["code"])
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["code"] == got["code"] and body["card_id"] == stocked_card.card_id
    assert body["title"] == stocked_card.title and body["value"]
    assert body["status"] == "NORMAL" and body["can_consume"] is True
    assert body["valid_here"] is True and body["reason"] is None
    assert body["store"] == "100001" and body["message"]
    assert sandbox.calls("card/code/consume") == 0  # a lookup consumes nothing

    done = post(http, live_server, "consume", got["code"], key="till-a-1")
    assert done.status_code == 200, done.text
    answer = done.json()
    assert answer["status"] == "consumed" and answer["code"] == got["code"]
    assert answer["card_id"] == stocked_card.card_id
    assert answer["openid"] == "o_customer_1" and answer["consumed_at"]
    attempt = RedemptionAttempt.objects.get(pk=answer["attempt_id"])
    assert attempt.outcome == A.CONSUMED and attempt.channel == "till"
    assert attempt.user.username == "demo_cashier" and attempt.store == till_store

    # The same key: the same answer, no second consume.
    again = post(http, live_server, "consume", got["code"], key="till-a-1")
    assert again.status_code == 200 and again.json()["attempt_id"] == attempt.pk
    # Another key (a second scan): already consumed, when and where.
    second = post(http, live_server, "consume", got["code"], key="till-a-2")
    body = assert_error(second, 409, "already_consumed")
    assert "People's Square" in body["message"]
    assert sandbox.calls("card/code/consume") == 1

    recent = http.get(live_server.url + API + "recent", timeout=10).json()
    assert recent["store"] == "100001"
    assert [i["status"] for i in recent["items"]] == ["refused", "consumed"]


def test_a_pos_looks_up_and_consumes_with_its_stores_key(
    stocked_card, receive, till_store, sandbox, live_server
):
    got = receive(stocked_card, "o_pos_customer")
    pos = bearer(key_for(till_store, "POS 7"))
    found = post(pos, live_server, "lookup", got["code"])
    assert found.status_code == 200 and found.json()["can_consume"] is True
    done = post(pos, live_server, "consume", got["code"], key="pos-7-0001")
    assert done.status_code == 200, done.text  # no cookie, no CSRF token
    attempt = RedemptionAttempt.objects.get(pk=done.json()["attempt_id"])
    assert attempt.channel == "api" and attempt.api_key.name == "POS 7"
    assert attempt.store == till_store and attempt.user is None
    assert TillKey.objects.get(name="POS 7").last_used_at is not None
    polled = pos.get(live_server.url + API + f"attempts/{attempt.pk}", timeout=10)
    assert polled.json()["status"] == "consumed"
    # Another device's key does not see this device's attempts.
    other = bearer(key_for(till_store, "POS 8"))
    assert_error(
        other.get(live_server.url + API + f"attempts/{attempt.pk}", timeout=10),
        404,
        "not_found",
        None,
    )


# --- every refusal, by its code ----------------------------------------------------------------
def _consume_refused(live_server, store, code, status, reason):
    pos = bearer(key_for(store, f"POS {reason}"))
    before = RedemptionAttempt.objects.count()
    body = assert_error(post(pos, live_server, "consume", code), status, reason)
    assert RedemptionAttempt.objects.count() == before + 1
    assert RedemptionAttempt.objects.latest("pk").reason == reason
    return body


def test_already_consumed_elsewhere(
    stocked_card, receive, till_store, sandbox, live_server
):
    got = receive(stocked_card)
    sandbox.control(
        "POST", f"codes/{got['code']}/consume", json={"source": "FROM_MOBILE_HELPER"}
    )
    pos = bearer(key_for(till_store))
    found = post(pos, live_server, "lookup", got["code"]).json()
    assert found["reason"] == "already_consumed" and found["can_consume"] is False
    _consume_refused(live_server, till_store, got["code"], 409, "already_consumed")
    assert sandbox.calls("card/code/consume") == 0


@pytest.mark.parametrize(
    ("status_at_wechat", "http_status", "reason"),
    [
        ("UNAVAILABLE", 422, "unavailable"),
        ("DELETE", 422, "deleted"),
        ("EXPIRE", 422, "expired"),
    ],
)
def test_codes_wechat_says_cannot_be_used(
    stocked_card,
    receive,
    till_store,
    sandbox,
    live_server,
    status_at_wechat,
    http_status,
    reason,
):
    got = receive(stocked_card)
    sandbox.control(
        "POST", f"codes/{got['code']}/status", json={"status": status_at_wechat}
    )
    found = post(bearer(key_for(till_store, "L")), live_server, "lookup", got["code"])
    assert found.status_code == 200 and found.json()["reason"] == reason
    _consume_refused(live_server, till_store, got["code"], http_status, reason)
    assert sandbox.calls("card/code/consume") == 0


def test_a_code_marked_by_another_user(
    stocked_card, receive, till_store, sandbox, live_server
):
    got = receive(stocked_card, "o_owner")
    wechat.for_merchant(stocked_card.merchant).code.mark(
        got["code"], card_id=stocked_card.card_id, openid="o_friend"
    )
    _consume_refused(live_server, till_store, got["code"], 409, "marked_by_other")
    assert sandbox.calls("card/code/consume") == 0


def test_a_key_of_another_store_is_refused_not_valid_here(
    stocked_card, receive, jingan, sandbox, live_server
):
    got = receive(stocked_card)
    found = post(bearer(key_for(jingan, "J")), live_server, "lookup", got["code"])
    assert found.json()["valid_here"] is False
    assert found.json()["reason"] == "not_valid_here"
    _consume_refused(live_server, jingan, got["code"], 422, "not_valid_here")
    assert sandbox.calls("card/code/consume") == 0


def test_an_unknown_code_is_invalid(stocked_card, till_store, sandbox, live_server):
    pos = bearer(key_for(till_store))
    assert_error(post(pos, live_server, "lookup", "999999999999"), 400, "invalid_code")
    _consume_refused(live_server, till_store, "999999999999", 400, "invalid_code")


def test_wechat_busy(stocked_card, receive, till_store, sandbox, live_server):
    got = receive(stocked_card)
    pos = bearer(key_for(till_store))
    sandbox.fault("http_500", path="card/code/get", remaining=3)  # every retry
    assert_error(post(pos, live_server, "lookup", got["code"]), 503, "wechat_busy")
    sandbox.fault("errcode_-1", path="card/code/consume", remaining=1)
    _consume_refused(live_server, till_store, got["code"], 503, "wechat_busy")
    # Nothing happened: the next try consumes.
    assert post(pos, live_server, "consume", got["code"]).status_code == 200


def test_in_progress_while_another_till_is_with_wechat(
    stocked_card, receive, till_store, sandbox, live_server, monkeypatch, settings
):
    """WeChat takes 4 s to answer the first till (the client waits up to 10 s); the
    second one waits only 0.3 s (IN_FLIGHT_WAIT) for it: 409 in_progress, then
    already_consumed once it is done."""
    monkeypatch.setattr(services, "IN_FLIGHT_WAIT", 0.3)
    settings.WECHAT_TIMEOUT = 10.0
    got = receive(stocked_card)
    sandbox.fault("latency", path="card/code/consume", remaining=1, latency_ms=4000)
    first: list = []
    till_a = bearer(key_for(till_store, "A"))
    thread = threading.Thread(
        target=lambda: first.append(post(till_a, live_server, "consume", got["code"]))
    )
    thread.start()
    deadline = time.monotonic() + 5
    while not RedemptionAttempt.objects.filter(
        code=got["code"], sent_at__isnull=False
    ).exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    _consume_refused(live_server, till_store, got["code"], 409, "in_progress")
    thread.join(20)
    assert first[0].status_code == 200
    _consume_refused(live_server, till_store, got["code"], 409, "already_consumed")
    assert sandbox.calls("card/code/consume") == 1


# --- bad input: clear errors, nothing written but the attempt row ---------------------------
BAD_CODES = [
    "",
    "abc",
    "1" * 200,
    "１２３４５６７８９０１２",
    "12345678901²",
    "DROP;--",
]


@pytest.mark.parametrize("text", BAD_CODES)
def test_bad_codes(stocked_card, till_store, sandbox, live_server, text):
    pos = bearer(key_for(till_store))
    assert_error(post(pos, live_server, "lookup", text), 400, "invalid_code")
    assert not RedemptionAttempt.objects.exists()
    assert_error(post(pos, live_server, "consume", text), 400, "invalid_code")
    assert RedemptionAttempt.objects.count() == 1 and not Code.objects.exists()
    assert sandbox.calls("card/code/get") == 0
    assert sandbox.calls("card/code/consume") == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"code": "\xd6\xd0\xce\xc4"}',  # GBK bytes, not UTF-8
        b"not json",
        b"{}",
        b'{"code": 123456789012}',
        b'{"code": "' + b"1" * 10_000_000 + b'"}',  # 10 MB
    ],
    ids=["gbk", "not-json", "no-code", "a-number", "10MB"],
)
def test_bodies_that_are_not_a_code(
    stocked_card, till_store, sandbox, live_server, body
):
    pos = bearer(key_for(till_store))
    for what in ("lookup", "consume"):
        response = pos.post(
            live_server.url + API + what,
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert response.status_code in (400, 413, 422), response.text[:300]
        answer = response.json()
        assert set(answer) == {"code", "message", "field"}
        assert answer["field"] in ("code", None)
    assert RedemptionAttempt.objects.count() <= 1 and not Code.objects.exists()
    assert sandbox.calls("card/code/consume") == 0


# --- who may redeem -------------------------------------------------------------------------------
def test_keys_revoked_unknown_foreign_and_rate_limited(
    stocked_card, receive, till_store, sandbox, live_server, settings, demo
):
    got = receive(stocked_card)
    key, raw = services.till_key_create(
        merchant=stocked_card.merchant, store=till_store, name="Old POS"
    )
    services.till_key_revoke(key=key)
    for value in (raw, "fct_" + "x" * 40, "nonsense"):
        refused = post(bearer(value), live_server, "consume", got["code"])
        assert_error(refused, 401, "invalid_api_key", None)
    # Another merchant's key: that merchant has no such code; nothing leaks.
    other_store = Store.objects.get(poi_id="200001")
    foreign = bearer(key_for(other_store, "Other POS"))
    body = assert_error(
        post(foreign, live_server, "lookup", got["code"]), 400, "invalid_code"
    )
    assert stocked_card.title not in body["message"]
    assert_error(
        post(foreign, live_server, "consume", got["code"]), 400, "invalid_code"
    )
    assert sandbox.calls("card/code/consume") == 0
    assert (
        wechat.for_merchant(stocked_card.merchant)
        .code.get(got["code"], check_consume=False)
        .status
        == "NORMAL"
    )

    settings.REDEMPTION_RATE_PER_MINUTE = 3
    busy = bearer(key_for(till_store, "Busy POS"))
    answers = [post(busy, live_server, "lookup", got["code"]) for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    assert_error(answers[3], 429, "too_many_requests", None)


def test_the_session_needs_its_csrf_token(
    stocked_card, receive, till_store, sandbox, live_server
):
    got = receive(stocked_card)
    http = signed_in(live_server, "demo_cashier", till_store)
    del http.headers["X-CSRFToken"]
    assert_error(
        post(http, live_server, "consume", got["code"]), 403, "csrf_failed", None
    )
    assert not RedemptionAttempt.objects.exists()
    anonymous = requests.post(
        live_server.url + API + "consume", json={"code": got["code"]}, timeout=10
    )
    assert_error(anonymous, 401, "not_authenticated", None)


def test_a_cashier_of_another_merchant_learns_nothing(
    stocked_card, receive, sandbox, live_server
):
    got = receive(stocked_card)
    other = Store.objects.get(poi_id="200001")
    http = signed_in(live_server, "other_staff", other)
    for what in ("lookup", "consume"):
        body = assert_error(
            post(http, live_server, what, got["code"]), 400, "invalid_code"
        )
        assert stocked_card.title not in json.dumps(body, ensure_ascii=False)
        assert stocked_card.card_id not in json.dumps(body)
    assert sandbox.calls("card/code/consume") == 0


def test_a_cashier_bound_to_a_store_redeems_only_there(
    stocked_card, receive, till_store, jingan, sandbox, live_server
):
    from portal.models import Membership

    membership = Membership.objects.get(user__username="demo_cashier")
    membership.stores.set([jingan])
    got = receive(stocked_card)
    http = signed_in(live_server, "demo_cashier", till_store)  # not allowed: ignored
    found = post(http, live_server, "lookup", got["code"]).json()
    assert found["store"] == "100002" and found["reason"] == "not_valid_here"


def test_without_a_store_the_session_is_asked_to_choose_one(
    stocked_card, receive, sandbox, live_server
):
    got = receive(stocked_card)
    http = signed_in(live_server, "demo_staff")  # two stores, none chosen
    assert_error(
        post(http, live_server, "lookup", got["code"]), 400, "invalid", "store"
    )


# --- lost answers ------------------------------------------------------------------------------------
def test_a_lost_answer_is_settled_by_reading_never_by_consuming_again(
    stocked_card, receive, till_store, sandbox, live_server
):
    got = receive(stocked_card)
    pos = bearer(key_for(till_store))
    # WeChat applies the consume late (2.5 s), after the portal's 2 s timeout.
    sandbox.fault("timeout", path="card/code/consume", remaining=1, latency_ms=2500)
    first = post(pos, live_server, "consume", got["code"], key="pos-lost-1")
    assert_error(first, 503, "not_confirmed")
    assert sandbox.calls("card/code/get") >= 1  # settled by reading
    assert sandbox.wait_calls("card/code/consume", stocked_card.merchant.appid, 1) == 1
    attempt = RedemptionAttempt.objects.get(idempotency_key="pos-lost-1")
    for _ in range(50):  # WeChat's user_consume_card push: the read gives it to us
        process_events()
        attempt.refresh_from_db()
        if attempt.outcome == A.CONSUMED:
            break
        time.sleep(0.1)
    assert attempt.outcome == A.CONSUMED and attempt.late
    # The till's retry: answered from the database.
    _consume_refused(live_server, till_store, got["code"], 409, "already_consumed")
    same = post(pos, live_server, "consume", got["code"], key="pos-lost-1")
    assert same.status_code == 200 and same.json()["attempt_id"] == attempt.pk
    assert sandbox.calls("card/code/consume") == 1


def test_a_late_consume_whose_push_never_comes_is_found_by_the_retry(
    stocked_card, receive, till_store, sandbox, live_server
):
    """The consume lands after its answer was lost and WeChat's push is lost too: the
    cashier's retry finds the code consumed and gives it to the first attempt (late),
    saying "already redeemed" with when and where — no second consume."""
    got = receive(stocked_card)
    pos = bearer(key_for(till_store))
    sandbox.fault("timeout", path="card/code/consume", remaining=1, latency_ms=2500)
    first = post(pos, live_server, "consume", got["code"], key="pos-late-1")
    assert_error(first, 503, "not_confirmed")
    assert sandbox.wait_calls("card/code/consume", stocked_card.merchant.appid, 1) == 1
    deadline = time.monotonic() + 10
    while _status_at_wechat(stocked_card.merchant, got["code"]) != "CONSUMED":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    retry = post(pos, live_server, "consume", got["code"])  # no events processed
    assert_error(retry, 409, "already_consumed")
    attempt = RedemptionAttempt.objects.get(idempotency_key="pos-late-1")
    assert attempt.outcome == A.CONSUMED and attempt.late
    assert sandbox.calls("card/code/consume") == 1


def consume_losing_the_answer_and_the_reads(
    sandbox, live_server, http, code, reads: int = 3
):
    """The consume is applied and its answer lost (the connection drops after a
    second); the reads after it fail too (added while WeChat holds the consume, so
    the lookup before it still reads): the attempt stays "checking"."""
    sandbox.fault("latency", path="card/code/consume", remaining=1, latency_ms=1000)
    sandbox.fault("reset_after", path="card/code/consume", remaining=1)
    answer: list = []
    thread = threading.Thread(
        target=lambda: answer.append(post(http, live_server, "consume", code))
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not RedemptionAttempt.objects.filter(
        code=code, sent_at__isnull=False
    ).exists():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    sandbox.fault("http_500", path="card/code/get", remaining=reads)
    thread.join(30)
    return answer[0]


def test_an_unknown_outcome_is_202_checking_and_polling_settles_it(
    stocked_card, receive, till_store, sandbox, live_server
):
    got = receive(stocked_card)
    pos = bearer(key_for(till_store))
    checking = consume_losing_the_answer_and_the_reads(
        sandbox, live_server, pos, got["code"]
    )
    assert checking.status_code == 202, checking.text
    body = checking.json()
    assert body["status"] == "checking" and body["attempt_id"]
    url = live_server.url + API + f"attempts/{body['attempt_id']}"
    deadline = time.monotonic() + 15
    while (polled := pos.get(url, timeout=10).json())["status"] == "checking":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert polled["status"] == "consumed"
    assert sandbox.calls("card/code/consume") == 1


@pytest.mark.celery_worker
def test_a_real_worker_settles_an_unknown_one(
    stocked_card, receive, till_store, sandbox, live_server, celery_worker_process
):
    from redemption import tasks

    got = receive(stocked_card)
    pos = bearer(key_for(till_store))
    # 6 failed reads: the settle's own, and those of the worker that handles WeChat's
    # user_consume_card push (a hint) — so the attempt is left to the beat task.
    checking = consume_losing_the_answer_and_the_reads(
        sandbox, live_server, pos, got["code"], reads=6
    )
    assert checking.status_code == 202, checking.text
    attempt = RedemptionAttempt.objects.get(pk=checking.json()["attempt_id"])
    assert attempt.outcome == A.UNKNOWN
    deadline = time.monotonic() + 30
    while attempt.outcome == A.UNKNOWN:
        assert time.monotonic() < deadline, "the worker did not settle it"
        tasks.settle_unknown.delay()  # what beat sends
        time.sleep(1)
        attempt.refresh_from_db()
    assert attempt.outcome == A.CONSUMED
    assert sandbox.calls("card/code/consume") == 1


# --- eight tills at once --------------------------------------------------------------------------
def _eight_threads(live_server, code, sessions, keys=None):
    barrier, answers = threading.Barrier(len(sessions)), [None] * len(sessions)

    def till(i):
        barrier.wait()
        answers[i] = post(
            sessions[i], live_server, "consume", code, key=keys[i] if keys else None
        )

    threads = [threading.Thread(target=till, args=(i,)) for i in range(len(sessions))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


def _what(body: dict) -> str:
    """A success's status, or an error's code."""
    return body["status"] if "status" in body else body["code"]


def _one_consumed_seven_already(answers, sandbox):
    statuses = sorted((a.status_code, _what(a.json())) for a in answers)
    assert statuses.count((200, "consumed")) == 1, statuses
    assert statuses.count((409, "already_consumed")) == 7, statuses
    assert sandbox.calls("card/code/consume") == 1
    assert RedemptionAttempt.objects.filter(outcome=A.CONSUMED).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_tills_at_once_threads(
    stocked_card, receive, till_store, sandbox, live_server
):
    got = receive(stocked_card)
    tills = [bearer(key_for(till_store, f"Till {i}")) for i in range(8)]
    _one_consumed_seven_already(
        _eight_threads(live_server, got["code"], tills), sandbox
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_tills_with_the_same_idempotency_key(
    stocked_card, receive, till_store, sandbox, live_server
):
    """The same key from 8 tills at once: one attempt; each answer is that attempt's
    200, or 409 ``conflict`` while it is still with WeChat — whose retry gets the 200."""
    got = receive(stocked_card)
    pos = [bearer(key_for(till_store, f"Till {i}")) for i in range(8)]
    answers = _eight_threads(live_server, got["code"], pos, keys=["pos-9-0001"] * 8)
    ok = [a.json() for a in answers if a.status_code == 200]
    busy = [a for a in answers if a.status_code != 200]
    assert ok and {a["attempt_id"] for a in ok} == {ok[0]["attempt_id"]}
    for answer in busy:
        assert_error(answer, 409, "conflict", "Idempotency-Key")
    retry = post(pos[0], live_server, "consume", got["code"], key="pos-9-0001")
    assert (
        retry.status_code == 200 and retry.json()["attempt_id"] == ok[0]["attempt_id"]
    )
    assert RedemptionAttempt.objects.count() == 1
    assert sandbox.calls("card/code/consume") == 1


TILL_PROCESS = textwrap.dedent(
    """
    import json, sys, time, urllib.request, urllib.error
    url, key, code, start = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    request = urllib.request.Request(
        url, data=json.dumps({"code": code}).encode(), method="POST",
        headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"},
    )
    while time.time() < start:
        time.sleep(0.001)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            print(json.dumps([response.status, json.load(response)]))
    except urllib.error.HTTPError as error:
        print(json.dumps([error.code, json.load(error)]))
    """
)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_tills_at_once_in_separate_processes(
    stocked_card, receive, till_store, sandbox, live_server
):
    got = receive(stocked_card)
    keys = [key_for(till_store, f"Till {i}") for i in range(8)]
    start = time.time() + 2.0  # every process is up by then
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                TILL_PROCESS,
                live_server.url + API + "consume",
                key,
                got["code"],
                str(start),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for key in keys
    ]
    results = [json.loads(p.communicate(timeout=90)[0]) for p in procs]
    statuses = sorted((status, _what(body)) for status, body in results)
    assert statuses.count((200, "consumed")) == 1, statuses
    assert statuses.count((409, "already_consumed")) == 7, statuses
    assert sandbox.calls("card/code/consume") == 1
    assert RedemptionAttempt.objects.filter(outcome=A.CONSUMED).count() == 1
    assert RedemptionAttempt.objects.count() == 8


def test_the_openapi_docs_show_both_ways_in(live_demo, live_server, login):
    raw = login("demo_staff").get("/api/openapi.json").content

    def no_duplicate_keys(pairs):  # Swagger UI's YAML parser refuses them
        keys = [k for k, _v in pairs]
        assert len(keys) == len(set(keys)), keys
        return dict(pairs)

    schema = json.loads(raw, object_pairs_hook=no_duplicate_keys)
    consume = schema["paths"]["/api/redemption/consume"]["post"]
    assert {"200", "202", "409", "503", "429"} <= set(consume["responses"])
    assert {"TillKeyAuth", "TillSessionAuth"} <= {
        name for item in consume["security"] for name in item
    }
    params = {p["name"] for p in consume["parameters"]}
    assert "Idempotency-Key" in params
    assert schema["components"]["securitySchemes"]["TillKeyAuth"]["scheme"] == "bearer"
    examples = json.dumps(consume["requestBody"])
    assert "123456789012" in examples


def test_an_idempotency_key_reused_for_another_code_is_refused(
    stocked_card, receive, till_store, sandbox, live_server
):
    """A POS that reuses its Idempotency-Key must not read "redeemed" for a code that
    was not: the key's answer belongs to its own code only."""
    first, second = receive(stocked_card, "o_first"), receive(stocked_card, "o_second")
    pos = bearer(key_for(till_store))
    done = post(pos, live_server, "consume", first["code"], key="pos-reused-1")
    assert done.status_code == 200
    reused = post(pos, live_server, "consume", second["code"], key="pos-reused-1")
    assert_error(reused, 422, "conflict", "Idempotency-Key")
    assert sandbox.calls("card/code/consume") == 1
    codes = sandbox.control("GET", "codes?openid=o_second")["codes"]
    assert [c["status"] for c in codes] == ["NORMAL"]
    again = post(pos, live_server, "consume", first["code"], key="pos-reused-1")
    assert again.json()["attempt_id"] == done.json()["attempt_id"]
