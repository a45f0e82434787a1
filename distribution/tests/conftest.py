"""Distribution fixtures (the shared ones — bistro, stocked_card, receive — are in the
root conftest.py). Everything runs against the live sandbox over HTTP."""

from __future__ import annotations

import pytest


@pytest.fixture
def poster(stocked_card):
    """Demo Bistro's "Window poster" channel."""
    from distribution import services

    return services.channel_create(merchant=stocked_card.merchant, name="Window poster")


@pytest.fixture
def table(stocked_card, poster):
    """Demo Bistro's "Table 12" channel (made after the poster)."""
    from distribution import services

    return services.channel_create(merchant=stocked_card.merchant, name="Table 12")


@pytest.fixture
def in_review_card(bistro):
    """A CASH card of Demo Bistro submitted to WeChat and not reviewed yet."""
    from cards import services as card_services
    from cards.models import CardStatus
    from tests.factories import cash_card

    merchant, logo, pic = bistro
    card = card_services.card_submit(
        card=card_services.card_draft_save(
            merchant=merchant, definition=cash_card(logo, pic, reduce=1000)
        )
    )
    assert card.status == CardStatus.IN_REVIEW
    return card


@pytest.fixture
def unstocked_card(stocked_card, bistro, sandbox):
    """A second approved CASH card of Demo Bistro, with no stock."""
    from cards import services as card_services
    from tests.factories import cash_card, process_events

    merchant, logo, pic = bistro
    card = card_services.card_submit(
        card=card_services.card_draft_save(
            merchant=merchant, definition=cash_card(logo, pic, reduce=2000)
        )
    )
    sandbox.control("POST", f"cards/{card.card_id}/review", json={"approve": True})
    process_events()
    card.refresh_from_db()
    assert card.quantity == 0 and card.status == "CARD_STATUS_VERIFY_OK"
    return card


@pytest.fixture
def scan(sandbox):
    """``scan(qr, openid)`` → the sandbox's answer to a WeChat user scanning the
    QR code (its control API, as the simulated phone does)."""
    import requests

    def _scan(qr, openid: str) -> requests.Response:
        return requests.post(
            sandbox.base_url + f"control/qrcodes/{qr.ticket}/scan",
            json={"openid": openid},
            timeout=10,
        )

    return _scan


@pytest.fixture
def other_channel(live_demo):
    """A channel of Other Shop (another merchant)."""
    from distribution import services

    return services.channel_create(merchant=live_demo["Other Shop"], name="Counter")
