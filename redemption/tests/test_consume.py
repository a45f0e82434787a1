"""Consuming codes at most once (SPEC §7), over real HTTP against the sandbox."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

import wechat
from portal.models import Store
from redemption import services
from redemption.models import (
    Code,
    CodeEvent,
    CodeStatus,
    ConsumeSource,
    Reason,
    RedemptionAttempt,
)
from tests.factories import process_events

A = RedemptionAttempt.Outcome


def _status_at_wechat(merchant, code: str) -> str:
    return wechat.for_merchant(merchant).code.get(code, check_consume=False).status


def test_lookup_then_consume_once(stocked_card, receive, till_store, sandbox):
    merchant = stocked_card.merchant
    got = receive(stocked_card)
    lookup = services.code_lookup(merchant=merchant, code=got["code"], store=till_store)
    assert lookup.can_consume and lookup.card == stocked_card and not lookup.reason
    assert lookup.valid_here and lookup.status == "NORMAL"
    attempt = services.code_consume(
        merchant=merchant, code=got["code"], store=till_store
    )
    assert attempt.outcome == A.CONSUMED and attempt.sent_at and attempt.finished_at
    assert _status_at_wechat(merchant, got["code"]) == "CONSUMED"
    record = Code.objects.get(code=got["code"])
    assert (
        record.status == CodeStatus.CONSUMED and record.consumed_location_id == "100001"
    )
    # Again: answered from the database, no second consume at WeChat.
    again = services.code_consume(merchant=merchant, code=got["code"], store=till_store)
    assert again.outcome == A.REFUSED and again.reason == Reason.ALREADY_CONSUMED
    assert sandbox.calls("card/code/consume") == 1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "1" * 200,
        "１２３４５６７８９０１２",
        "12345678901²",
        "12 34",
        "DROP;--",
    ],
)
def test_bad_codes_are_refused_and_only_the_attempt_is_written(
    stocked_card, till_store, sandbox, text
):
    attempt = services.code_consume(
        merchant=stocked_card.merchant, code=text, store=till_store
    )
    assert attempt.outcome == A.REFUSED and attempt.reason == Reason.INVALID_CODE
    assert RedemptionAttempt.objects.count() == 1 and not Code.objects.exists()
    assert sandbox.calls("card/code/consume") == 0


def test_a_code_of_another_merchant_is_an_invalid_code(
    stocked_card, receive, demo, sandbox
):
    got = receive(stocked_card)
    other = Store.objects.filter(merchant__name="Other Shop").first()
    attempt = services.code_consume(
        merchant=other.merchant, code=got["code"], store=other
    )
    assert attempt.reason == Reason.INVALID_CODE
    assert _status_at_wechat(stocked_card.merchant, got["code"]) == "NORMAL"
    assert sandbox.calls("card/code/consume") == 0


def test_a_card_not_valid_at_the_store_is_refused_with_its_reason(
    stocked_card, receive, sandbox
):
    got = receive(stocked_card)
    jingan = Store.objects.get(merchant=stocked_card.merchant, poi_id="100002")
    lookup = services.code_lookup(
        merchant=stocked_card.merchant, code=got["code"], store=jingan
    )
    assert lookup.reason == Reason.NOT_VALID_HERE and not lookup.valid_here
    attempt = services.code_consume(
        merchant=stocked_card.merchant, code=got["code"], store=jingan
    )
    assert attempt.reason == Reason.NOT_VALID_HERE
    assert sandbox.calls("card/code/consume") == 0


def test_a_code_marked_by_a_customer_is_not_consumed_at_the_till(
    stocked_card, receive, till_store, sandbox
):
    got = receive(stocked_card, "o_owner")
    wechat.for_merchant(stocked_card.merchant).code.mark(
        got["code"], card_id=stocked_card.card_id, openid="o_friend"
    )
    attempt = services.code_consume(
        merchant=stocked_card.merchant, code=got["code"], store=till_store
    )
    assert attempt.reason == Reason.MARKED_BY_OTHER
    assert _status_at_wechat(stocked_card.merchant, got["code"]) == "NORMAL"


def _eight_tills(merchant, code, store, *, keys=None):
    results, barrier = [], threading.Barrier(8)

    def till(i):
        barrier.wait()
        try:
            results.append(
                services.code_consume(
                    merchant=merchant,
                    code=code,
                    store=store,
                    idempotency_key=keys[i] if keys else None,
                )
            )
        except services.InProgress as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=till, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.mark.django_db(transaction=True)
def test_eight_tills_at_once_consume_once(stocked_card, receive, till_store, sandbox):
    got = receive(stocked_card)
    results = _eight_tills(stocked_card.merchant, got["code"], till_store)
    outcomes = sorted((r.outcome, r.reason) for r in results)
    assert outcomes.count((A.CONSUMED, "")) == 1
    assert outcomes.count((A.REFUSED, Reason.ALREADY_CONSUMED)) == 7, outcomes
    assert sandbox.calls("card/code/consume") == 1
    assert RedemptionAttempt.objects.filter(outcome=A.CONSUMED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_idempotency_key_gets_the_same_answer(
    stocked_card, receive, till_store, sandbox
):
    got = receive(stocked_card)
    results = _eight_tills(
        stocked_card.merchant, got["code"], till_store, keys=["pos-7-0001"] * 8
    )
    attempts = [r for r in results if isinstance(r, RedemptionAttempt)]
    busy = [r for r in results if isinstance(r, services.InProgress)]
    assert len(attempts) + len(busy) == 8
    assert {a.pk for a in attempts} == {attempts[0].pk}  # one attempt, one answer
    assert attempts[0].outcome == A.CONSUMED
    assert RedemptionAttempt.objects.count() == 1
    assert sandbox.calls("card/code/consume") == 1
    later = services.code_consume(
        merchant=stocked_card.merchant,
        code=got["code"],
        store=till_store,
        idempotency_key="pos-7-0001",
    )
    assert later.pk == attempts[0].pk and later.outcome == A.CONSUMED


@pytest.mark.parametrize("kind", ["timeout", "http_500_after", "reset_after"])
def test_a_lost_answer_of_an_applied_consume_is_settled_by_reading(
    stocked_card, receive, till_store, sandbox, kind
):
    got = receive(stocked_card)
    fields = {"latency_ms": 2500} if kind == "timeout" else {}
    # timeout: WeChat holds the answer past the client's 2 s and applies the consume
    # late, so the read right after the loss still says NORMAL.
    sandbox.fault(kind, path="card/code/consume", remaining=1, **fields)
    attempt = services.code_consume(
        merchant=stocked_card.merchant, code=got["code"], store=till_store
    )
    assert sandbox.wait_calls("card/code/consume", stocked_card.merchant.appid, 1) == 1
    if kind == "timeout":
        assert attempt.outcome == A.REFUSED and attempt.reason == Reason.NOT_CONFIRMED
        # WeChat's user_consume_card push arrives: a hint; the read gives it to the
        # attempt whose answer was lost.
        for _ in range(50):
            process_events()
            attempt.refresh_from_db()
            if attempt.outcome == A.CONSUMED:
                break
            time.sleep(0.1)
        assert attempt.outcome == A.CONSUMED and attempt.late
        assert CodeEvent.objects.filter(kind=CodeEvent.Kind.CONSUMED_LATE).count() == 1
    else:
        assert attempt.outcome == A.CONSUMED  # code/get said CONSUMED at once
    assert sandbox.calls("card/code/consume") == 1
    assert RedemptionAttempt.objects.filter(outcome=A.CONSUMED).count() == 1


@pytest.mark.parametrize("kind", ["http_500", "reset"])
def test_a_lost_answer_of_a_consume_never_applied_may_be_retried(
    stocked_card, receive, till_store, sandbox, kind
):
    got = receive(stocked_card)
    sandbox.fault(kind, path="card/code/consume", remaining=1)
    first = services.code_consume(
        merchant=stocked_card.merchant, code=got["code"], store=till_store
    )
    assert first.outcome == A.REFUSED and first.reason == Reason.NOT_CONFIRMED
    assert _status_at_wechat(stocked_card.merchant, got["code"]) == "NORMAL"
    second = services.code_consume(
        merchant=stocked_card.merchant, code=got["code"], store=till_store
    )
    assert second.outcome == A.CONSUMED
    assert sandbox.calls("card/code/consume") == 2  # the lost one did nothing


def test_a_retry_while_wechat_still_holds_the_first_consume(
    stocked_card, receive, till_store, sandbox
):
    """The first consume is applied late (12 s fault) after the cashier retried:
    WeChat consumes once; the portal records one consume."""
    got = receive(stocked_card)
    sandbox.fault("timeout", path="card/code/consume", remaining=1, latency_ms=3000)
    first = services.code_consume(
        merchant=stocked_card.merchant, code=got["code"], store=till_store
    )
    assert first.reason == Reason.NOT_CONFIRMED
    second = services.code_consume(
        merchant=stocked_card.merchant, code=got["code"], store=till_store
    )
    assert second.outcome == A.CONSUMED
    sandbox.wait_calls("card/code/consume", stocked_card.merchant.appid, 2, timeout=6)
    process_events()
    first.refresh_from_db()
    assert first.outcome == A.REFUSED  # the late one found it consumed (40099)
    assert RedemptionAttempt.objects.filter(outcome=A.CONSUMED).count() == 1


def test_wechat_unreachable_keeps_the_code_and_says_so(
    stocked_card, receive, till_store, settings
):
    got = receive(stocked_card)
    settings.WECHAT_API_BASE = "http://127.0.0.1:9/sandbox/"
    attempt = services.code_consume(
        merchant=stocked_card.merchant, code=got["code"], store=till_store
    )
    assert attempt.reason == Reason.WECHAT_BUSY


def test_lookup_reasons_from_wechat(stocked_card, receive, till_store, sandbox):
    merchant = stocked_card.merchant
    assert (
        services.code_lookup(
            merchant=merchant, code="999999999999", store=till_store
        ).reason
        == Reason.INVALID_CODE
    )
    deleted = receive(stocked_card, "o_a")
    sandbox.control(
        "POST", f"codes/{deleted['code']}/status", json={"status": "DELETE"}
    )
    assert (
        services.code_lookup(
            merchant=merchant, code=deleted["code"], store=till_store
        ).reason
        == Reason.DELETED
    )


def test_a_consume_elsewhere_is_recorded_with_its_source(
    stocked_card, receive, till_store, sandbox
):
    got = receive(stocked_card)
    sandbox.control(
        "POST", f"codes/{got['code']}/consume", json={"source": "FROM_MOBILE_HELPER"}
    )
    for _ in range(30):
        process_events()
        record = Code.objects.filter(code=got["code"]).first()
        if record and record.status == CodeStatus.CONSUMED:
            break
        time.sleep(0.1)
    assert record.status == CodeStatus.CONSUMED
    assert record.consume_source == ConsumeSource.FROM_MOBILE_HELPER
    assert CodeEvent.objects.filter(kind=CodeEvent.Kind.CONSUMED_ELSEWHERE).count() == 1
    attempt = services.code_consume(
        merchant=stocked_card.merchant, code=got["code"], store=till_store
    )
    assert attempt.reason == Reason.ALREADY_CONSUMED
    assert sandbox.calls("card/code/consume") == 0


def test_a_forged_consume_push_consumes_nothing(stocked_card, receive, till_store):
    got = receive(stocked_card)
    services.code_check(
        merchant=stocked_card.merchant,
        code=got["code"],
        payload={"UserCardCode": got["code"], "ConsumeSource": "FROM_MP"},
    )
    record = Code.objects.get(code=got["code"])
    assert record.status == CodeStatus.NORMAL
    attempt = services.code_consume(
        merchant=stocked_card.merchant, code=got["code"], store=till_store
    )
    assert attempt.outcome == A.CONSUMED


def test_a_receive_push_records_the_code_and_its_channel(stocked_card, receive):
    got = receive(stocked_card, "o_chan", outer_id=7, outer_str="window")
    for _ in range(30):
        process_events()
        record = Code.objects.filter(code=got["code"]).first()
        if record:
            break
        time.sleep(0.1)
    assert record.openid == "o_chan" and record.outer_id == 7
    assert record.outer_str == "window" and record.card == stocked_card


def test_a_card_made_outside_the_portal_is_imported_at_lookup(
    stocked_card, receive, till_store, sandbox
):
    """A card created at WeChat directly (the MP back office): its code is looked up,
    the card is imported, and it is redeemed like the others."""
    from cards.models import FriendCard

    merchant = stocked_card.merchant
    client = wechat.for_merchant(merchant)
    definition = dict(stocked_card.definition)
    card_id = client.card.create(definition)
    sandbox.control("POST", f"cards/{card_id}/review", json={"approve": True})
    client.card.testwhitelist_set(openids=["o_tester"])
    got = sandbox.control(
        "POST", f"cards/{card_id}/receive", json={"openid": "o_tester"}
    )
    attempt = services.code_consume(
        merchant=merchant, code=got["code"], store=till_store
    )
    assert attempt.outcome == A.CONSUMED
    imported = FriendCard.objects.get(card_id=card_id)
    assert imported.merchant == merchant and imported.title == stocked_card.title
