"""A card/create whose answer was lost (SPEC §5 unknown outcomes): the card is
*checking with WeChat* until WeChat's card list shows it was created (found by the
marker the portal put in base_info.source) or the request can no longer land; it
is never created a second time to find out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

import wechat
from cards import services
from cards.models import CardEvent, CardStatus, FriendCard
from tests.factories import cash_card

APPLIED = ["timeout", "http_500_after", "reset_after"]
NOT_APPLIED = ["http_500", "reset"]


def _draft(bistro) -> FriendCard:
    merchant, logo, pic = bistro
    return services.card_draft_save(merchant=merchant, definition=cash_card(logo, pic))


def _lose_the_answer(sandbox, kind: str) -> None:
    fields = {"latency_ms": 3000} if kind == "timeout" else {}
    sandbox.fault(kind, path="card/create", remaining=1, **fields)


def _cards_at_wechat(merchant) -> list[str]:
    """The merchant's cards at WeChat but the demo's coupon made in its back office."""
    from portal.demo import DEMO_COUPON_SOURCE
    from sandbox.models import Card

    demo = {
        c.card_id
        for c in Card.objects.filter(account__appid=merchant.appid)
        if c.definition["cash"]["base_info"].get("source") == DEMO_COUPON_SOURCE
    }
    ids = wechat.for_merchant(merchant).card.batchget(offset=0, count=50).card_ids
    return [card_id for card_id in ids if card_id not in demo]


def _beat(card) -> None:
    FriendCard.objects.filter(pk=card.pk).update(next_check_at=timezone.now())
    services.cards_settle_unknown_submissions()
    card.refresh_from_db()


@pytest.mark.parametrize("kind", APPLIED)
def test_a_card_created_at_wechat_is_found_and_never_created_twice(
    bistro, sandbox, kind
):
    merchant = bistro[0]
    card = _draft(bistro)
    _lose_the_answer(sandbox, kind)
    with pytest.raises(services.wx.UnknownOutcome):
        services.card_submit(card=card)
    card.refresh_from_db()
    assert card.status == CardStatus.SUBMIT_UNKNOWN and card.card_id is None
    assert sandbox.wait_calls("card/create", merchant.appid, 1) == 1
    # A second click while WeChat is being asked changes nothing.
    assert services.card_submit(card=card).status == CardStatus.SUBMIT_UNKNOWN
    _beat(card)
    at_wechat = _cards_at_wechat(merchant)
    assert at_wechat == [card.card_id]
    assert card.status == CardStatus.IN_REVIEW and card.synced_definition
    assert sandbox.calls("card/create") == 1
    assert card.events.filter(kind=CardEvent.Kind.SUBMITTED).count() == 1


@pytest.mark.parametrize("kind", NOT_APPLIED)
def test_a_card_wechat_never_created_goes_back_to_draft_once_it_cannot_appear(
    bistro, sandbox, kind
):
    merchant = bistro[0]
    card = _draft(bistro)
    _lose_the_answer(sandbox, kind)
    with pytest.raises(services.wx.UnknownOutcome):
        services.card_submit(card=card)
    _beat(card)
    assert card.status == CardStatus.SUBMIT_UNKNOWN  # absent now proves nothing yet
    FriendCard.objects.filter(pk=card.pk).update(
        submit_sent_at=timezone.now() - timedelta(minutes=2)
    )
    _beat(card)
    assert card.status == CardStatus.DRAFT
    assert "Submit it again" in card.last_error["message"]
    assert _cards_at_wechat(merchant) == []
    # Submitted again: one card at WeChat.
    card = services.card_submit(card=card)
    assert card.status == CardStatus.IN_REVIEW
    assert _cards_at_wechat(merchant) == [card.card_id]


def test_a_submission_whose_sender_died_is_found(bistro, sandbox):
    """The web process died after WeChat created the card: the row is left
    'submitting'; the beat finds it in flight too long and looks for it."""
    merchant = bistro[0]
    card = _draft(bistro)
    card.status, card.create_marker = CardStatus.SUBMITTING, "fcp-test-marker-0001"
    card.submit_sent_at = timezone.now() - timedelta(seconds=31)
    card.save()
    card_id = wechat.for_merchant(merchant).card.create(services.create_payload(card))
    services.cards_settle_unknown_submissions()
    card.refresh_from_db()
    assert card.status == CardStatus.IN_REVIEW and card.card_id == card_id


def test_cards_made_elsewhere_are_not_taken_for_ours(bistro, sandbox):
    merchant = bistro[0]
    other = wechat.for_merchant(merchant).card.create(_draft(bistro).definition)
    card = _draft(bistro)
    sandbox.fault("http_500", path="card/create", remaining=1)
    with pytest.raises(services.wx.UnknownOutcome):
        services.card_submit(card=card)
    FriendCard.objects.filter(pk=card.pk).update(
        submit_sent_at=timezone.now() - timedelta(minutes=2)
    )
    _beat(card)
    assert card.status == CardStatus.DRAFT and card.card_id is None
    assert _cards_at_wechat(merchant) == [other]
