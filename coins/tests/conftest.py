"""Coin fixtures: Demo Bistro with an approved card at the live sandbox."""

from __future__ import annotations

import pytest

from cards import services as card_services
from cards.models import CardStatus
from cards.tests.conftest import bistro, cash_card  # noqa: F401  (fixture re-export)
from portal import events
from portal.models import WeChatEvent


def process_events() -> None:
    """Run the handlers of the events the sandbox pushed (what the worker does)."""
    for pk in WeChatEvent.objects.filter(
        status=WeChatEvent.Status.RECEIVED
    ).values_list("pk", flat=True):
        events.event_process(pk)


@pytest.fixture
def approved_card(bistro, sandbox):  # noqa: F811
    """An approved CASH card (0.6 coins per unit: it has a minimum spend)."""
    merchant, logo, pic = bistro
    card = card_services.card_submit(
        card=card_services.card_draft_save(
            merchant=merchant, definition=cash_card(logo, pic)
        )
    )
    sandbox.control("POST", f"cards/{card.card_id}/review", json={"approve": True})
    process_events()
    card.refresh_from_db()
    assert card.status == CardStatus.APPROVED
    return card


@pytest.fixture
def coins_on(approved_card):
    """The coin account open (200 free coins) and the approved card."""
    from coins import services

    services.coin_account_activate(merchant=approved_card.merchant)
    process_events()
    return approved_card
