"""Drafts, submission, review, updates and deletion against the live sandbox."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from cards import rules, services
from cards.models import CardEvent, CardStatus, FriendCard
from portal import events
from portal.models import WeChatEvent
from tests.factories import cash_card


def _draft(bistro, **kwargs) -> FriendCard:
    merchant, logo, pic = bistro
    return services.card_draft_save(
        merchant=merchant, definition=cash_card(logo, pic, **kwargs)
    )


def _process_events():
    for event in WeChatEvent.objects.filter(status=WeChatEvent.Status.RECEIVED):
        events.event_process(event.pk)


def test_a_draft_keeps_what_the_rules_derive(bistro):
    card = _draft(bistro)
    assert card.title == "全场满500减50" and card.unit_price == rules.unit_price(
        card.definition
    )
    assert list(card.stores.values_list("poi_id", flat=True)) == ["100001"]
    assert card.status == CardStatus.DRAFT and card.card_id is None
    assert card.events.get().kind == CardEvent.Kind.CREATED


def test_submit_creates_the_card_at_wechat_with_the_previewed_title(bistro, sandbox):
    card = services.card_submit(card=_draft(bistro))
    assert card.status == CardStatus.IN_REVIEW and card.card_id
    info = services.wechat.for_merchant(card.merchant).card.get(card.card_id)
    assert info.title == card.title == "全场满500减50"
    assert info.status == "CARD_STATUS_NOT_VERIFY"
    kinds = list(card.events.values_list("kind", flat=True))
    assert CardEvent.Kind.SUBMITTED in kinds


def test_an_existing_sdk_reads_back_the_title_the_preview_showed(
    bistro, sandbox, login
):
    import json

    from wechatpy import WeChatClient

    from sandbox.tests.helpers import WeChatHostSession

    merchant, logo, pic = bistro
    definition = cash_card(logo, pic)
    shown = (
        login("demo_staff")
        .post(
            "/api/cards/preview",
            json.dumps({"card": definition}),
            content_type="application/json",
        )
        .json()["title"]
    )
    card = services.card_submit(
        card=services.card_draft_save(merchant=merchant, definition=definition)
    )
    sdk = WeChatClient(merchant.appid, merchant.appsecret)
    sdk._http = WeChatHostSession(sandbox.base_url)
    read = sdk.card.get(card.card_id)
    assert read["cash"]["base_info"]["title"] == shown == "全场满500减50"


def test_two_submits_at_once_create_one_card(bistro, sandbox):
    card = _draft(bistro)
    barrier = threading.Barrier(2)
    results = []

    def submit():
        try:
            barrier.wait()
            results.append(
                services.card_submit(card=FriendCard.objects.get(pk=card.pk))
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sandbox.calls("card/create") == 1
    card.refresh_from_db()
    assert card.status == CardStatus.IN_REVIEW
    assert card.events.filter(kind=CardEvent.Kind.SUBMITTED).count() == 1


def test_our_rules_refuse_before_anything_is_sent(bistro, sandbox):
    card = _draft(bistro, days=91)
    with pytest.raises(services.CardRefused) as refused:
        services.card_submit(card=card)
    assert refused.value.errors[0].errcode == 40079
    assert sandbox.calls("card/create") == 0
    card.refresh_from_db()
    assert card.status == CardStatus.DRAFT
    assert card.last_error["field"] == "base_info.date_info"


def test_wechats_refusal_comes_back_on_its_field(bistro, sandbox):
    """The sandbox forgot the images (reset): WeChat answers 40141 on the logo."""
    card = _draft(bistro)
    sandbox.control("POST", "reset")
    with pytest.raises(services.CardRefused) as refused:
        services.card_submit(card=card)
    assert refused.value.errors[0].errcode == 40141
    card.refresh_from_db()
    assert card.status == CardStatus.DRAFT
    assert card.last_error["field"] == "base_info.logo_url"
    assert "upload" in card.last_error["message"]
    assert card.events.filter(kind=CardEvent.Kind.SUBMIT_FAILED).exists()


def test_wechat_unreachable_leaves_a_draft_to_submit_again(bistro, sandbox, settings):
    card = _draft(bistro)
    settings.WECHAT_API_BASE = "http://127.0.0.1:9/sandbox/"  # nothing listens
    with pytest.raises(services.wx.TransportError) as caught:
        services.card_submit(card=card)
    assert not isinstance(caught.value, services.wx.UnknownOutcome)
    card.refresh_from_db()
    assert card.status == CardStatus.DRAFT and card.last_error["message"]
    settings.WECHAT_API_BASE = sandbox.base_url
    assert services.card_submit(card=card).status == CardStatus.IN_REVIEW


@pytest.mark.parametrize("approve", [True, False])
def test_review_events_move_the_card_once(bistro, sandbox, approve):
    card = services.card_submit(card=_draft(bistro))
    sandbox.control(
        "POST",
        f"cards/{card.card_id}/review",
        json={"approve": approve, "reason": "图片模糊"},
    )
    _process_events()
    card.refresh_from_db()
    if approve:
        assert card.status == CardStatus.APPROVED and not card.refuse_reason
    else:
        assert card.status == CardStatus.REJECTED and card.refuse_reason == "图片模糊"
    # The same review arriving again (a retry, the poller) changes nothing.
    services.card_apply_review(
        merchant=card.merchant, card_id=card.card_id, approved=not approve
    )
    card.refresh_from_db()
    assert card.status == (CardStatus.APPROVED if approve else CardStatus.REJECTED)
    assert card.events.filter(kind__in=["approved", "rejected"]).count() == 1


def test_the_poller_settles_a_review_whose_event_was_lost(bistro, sandbox):
    card = services.card_submit(card=_draft(bistro))
    merchant = card.merchant
    sandbox.control(
        "POST",
        "accounts",
        json={
            "appid": merchant.appid,
            "secret": merchant.appsecret,
            "callback_url": "",
        },
    )
    sandbox.control("POST", f"cards/{card.card_id}/review", json={"approve": True})
    assert not WeChatEvent.objects.exists()
    FriendCard.objects.filter(pk=card.pk).update(
        submitted_at=card.submitted_at - services.timezone.timedelta(minutes=5)
    )
    assert services.cards_poll_reviews() == 1
    card.refresh_from_db()
    assert card.status == CardStatus.APPROVED
    assert card.events.get(kind="approved").source == "poll"


def test_updates_send_only_changes_and_report_send_check(bistro, sandbox):
    card = services.card_submit(card=_draft(bistro))
    sandbox.control("POST", f"cards/{card.card_id}/review", json={"approve": True})
    _process_events()
    card.refresh_from_db()
    new = cash_card(*bistro[1:])
    new["cash"]["base_info"] = {
        **card.definition["cash"]["base_info"],
        "service_phone": "021-1234",
    }
    new["cash"]["advanced_info"] = card.definition["cash"]["advanced_info"]
    card = services.card_update(card=card, definition=new)
    assert card.status == CardStatus.APPROVED  # a phone number is not reviewed
    changed = dict(card.definition)
    changed["cash"] = {
        **changed["cash"],
        "base_info": {**changed["cash"]["base_info"], "description": "新说明"},
    }
    card = services.card_update(card=card, definition=changed)
    assert card.status == CardStatus.IN_REVIEW
    assert card.events.filter(kind=CardEvent.Kind.BACK_TO_REVIEW).count() == 1
    info = services.wechat.for_merchant(card.merchant).card.get(card.card_id)
    assert info.definition["cash"]["base_info"]["description"] == "新说明"


def test_validity_may_only_widen_and_thresholds_are_frozen(bistro, sandbox):
    card = services.card_submit(card=_draft(bistro))
    base = card.definition["cash"]["base_info"]
    narrowed = {
        **card.definition,
        "cash": {
            **card.definition["cash"],
            "base_info": {
                **base,
                "date_info": {
                    **base["date_info"],
                    "end_timestamp": base["date_info"]["end_timestamp"] - 86400,
                },
            },
        },
    }
    with pytest.raises(services.CardRefused) as refused:
        services.card_update(card=card, definition=narrowed)
    assert refused.value.errors[0].errcode == 40079
    thresholds = {
        **card.definition,
        "cash": {
            **card.definition["cash"],
            "advanced_info": {
                **card.definition["cash"]["advanced_info"],
                "use_condition": {"least_cost": 100},
            },
        },
    }
    with pytest.raises(services.CardRefused) as frozen:
        services.card_update(card=card, definition=thresholds)
    assert frozen.value.errors[0].field.startswith("advanced_info.use_condition")
    assert sandbox.calls("card/update") == 0


def test_delete_a_draft_and_a_card_at_wechat(bistro, sandbox):
    draft = _draft(bistro)
    services.card_delete(card=draft)
    assert not FriendCard.objects.filter(pk=draft.pk).exists()
    card = services.card_submit(card=_draft(bistro))
    services.card_delete(card=card)
    card.refresh_from_db()
    assert card.status == CardStatus.DELETED
    info = services.wechat.for_merchant(card.merchant).card.get(card.card_id)
    assert info.status == "CARD_STATUS_DELETE"
