"""QR codes (card/qrcode/create, SPEC §6) made by the portal's services against the
live sandbox over HTTP: recorded before WeChat is called, WeChat's rules and
errcodes on their fields, lost answers, and the receives they bring with their
channel (user_get_card → redemption's codes)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cards.models import FriendCard
from distribution import selectors, services
from distribution.models import DistributionEvent, QRCode
from redemption.models import Code
from tests.factories import process_events

K = DistributionEvent.Kind
PATH = "card/qrcode/create"


def kinds(qr) -> list[str]:
    return list(qr.events.order_by("pk").values_list("kind", flat=True))


def refused(**kwargs) -> dict:
    with pytest.raises(ValidationError) as error:
        services.qrcode_create(**kwargs)
    return error.value.message_dict


def test_a_permanent_qr_code_is_made_and_its_scans_carry_the_channel(
    stocked_card, poster, sandbox, scan
):
    merchant = stocked_card.merchant
    qr = services.qrcode_create(merchant=merchant, card=stocked_card, channel=poster)
    assert qr.status == QRCode.Status.READY and qr.expire_seconds is None
    assert qr.url.startswith(sandbox.base_url + "q/") and qr.ticket
    assert qr.expires_at is None and not qr.for_testing
    assert kinds(qr) == [K.QRCODE_SENT, K.QRCODE_READY]
    [at_wechat] = sandbox.control(
        "GET", "qrcodes", params={"card_id": stocked_card.card_id}
    )["qrcodes"]
    assert at_wechat["ticket"] == qr.ticket
    assert (at_wechat["outer_id"], at_wechat["outer_str"]) == (1, "ch-1")
    assert "expire_seconds" not in at_wechat

    for openid in ("o_alice", "o_bob"):
        assert scan(qr, openid).status_code == 200
    process_events()
    codes = Code.objects.filter(merchant=merchant, card=stocked_card)
    assert sorted(codes.values_list("openid", flat=True)) == ["o_alice", "o_bob"]
    assert set(codes.values_list("outer_id", "outer_str")) == {(1, "ch-1")}


def test_an_expiring_qr_code_lasts_its_seconds(stocked_card, poster, sandbox, scan):
    before = timezone.now()
    qr = services.qrcode_create(
        merchant=stocked_card.merchant,
        card=stocked_card,
        channel=poster,
        expire_seconds="600",
    )
    assert qr.expire_seconds == 600
    assert before + timedelta(seconds=600) <= qr.expires_at
    assert qr.expires_at <= timezone.now() + timedelta(seconds=600)
    assert selectors.qrcode_state(qr) == "ready"
    assert selectors.qrcode_state(qr, now=qr.expires_at) == "expired"
    sandbox.advance(601)
    answer = scan(qr, "o_late")
    assert answer.status_code == 400 and answer.json()["errcode"] == 40079


def test_a_unique_code_qr_scanned_twice_gives_one_code(
    stocked_card, poster, sandbox, scan
):
    qr = services.qrcode_create(
        merchant=stocked_card.merchant,
        card=stocked_card,
        channel=poster,
        is_unique_code=True,
    )
    assert qr.is_unique_code
    assert scan(qr, "o_first").status_code == 200
    second = scan(qr, "o_second")
    assert second.status_code == 400 and second.json()["errcode"] == 40116
    process_events()
    assert list(
        Code.objects.filter(card=stocked_card).values_list("openid", flat=True)
    ) == ["o_first"]


def test_bad_input_is_refused_on_its_field_and_nothing_is_written(
    stocked_card, poster, other_channel, sandbox
):
    merchant = stocked_card.merchant
    calls = sandbox.calls(PATH)
    base = dict(merchant=merchant, card=stocked_card, channel=poster)
    assert set(refused(**base, expire_seconds=59)) == {"expire_seconds"}
    assert set(refused(**base, expire_seconds=1801)) == {"expire_seconds"}
    assert set(refused(**{**base, "channel": other_channel})) == {"channel"}
    assert set(refused(**{**base, "channel": None})) == {"channel"}
    both = refused(**{**base, "channel": other_channel}, expire_seconds="abc")
    assert set(both) == {"channel", "expire_seconds"}
    # another merchant's card
    foreign = FriendCard.objects.create(
        merchant=other_channel.merchant,
        card_type="CASH",
        card_id="pForeign",
        status="CARD_STATUS_VERIFY_OK",
        definition={},
    )
    assert set(refused(**{**base, "card": foreign})) == {"card"}
    assert QRCode.objects.count() == 0
    assert not DistributionEvent.objects.filter(kind__startswith="qrcode").exists()
    assert sandbox.calls(PATH) == calls


def test_an_ended_card_and_a_draft_are_refused_before_wechat(
    stocked_card, poster, bistro, sandbox
):
    from cards import services as card_services
    from tests.factories import cash_card

    merchant, logo, pic = bistro
    FriendCard.objects.filter(pk=stocked_card.pk).update(
        end_at=timezone.now() - timedelta(minutes=1)
    )
    stocked_card.refresh_from_db()
    errors = refused(merchant=merchant, card=stocked_card, channel=poster)
    assert set(errors) == {"card"} and "ended" in errors["card"][0]
    draft = card_services.card_draft_save(
        merchant=merchant, definition=cash_card(logo, pic)
    )
    errors = refused(merchant=merchant, card=draft, channel=poster)
    assert set(errors) == {"card"} and "draft" in errors["card"][0]
    assert QRCode.objects.count() == 0 and sandbox.calls(PATH) == 0


def test_a_card_in_review_needs_the_test_whitelist(
    in_review_card, bistro, sandbox, scan
):
    merchant = in_review_card.merchant
    channel = services.channel_create(merchant=merchant, name="Staff test")
    errors = refused(merchant=merchant, card=in_review_card, channel=channel)
    assert set(errors) == {"card"} and "whitelist" in errors["card"][0]
    assert QRCode.objects.count() == 0 and sandbox.calls(PATH) == 0

    services.whitelist_set(merchant=merchant, openids=["o_tester"], usernames=[])
    qr = services.qrcode_create(merchant=merchant, card=in_review_card, channel=channel)
    assert qr.status == QRCode.Status.READY and qr.for_testing
    assert set(
        refused(
            merchant=merchant,
            card=in_review_card,
            channel=channel,
            is_unique_code=True,
        )
    ) == {"is_unique_code"}
    assert scan(qr, "o_tester").status_code == 200
    stranger = scan(qr, "o_stranger")
    assert stranger.status_code == 400 and stranger.json()["errcode"] == 40078


def test_one_code_per_scan_needs_stock(unstocked_card, poster, sandbox):
    calls = sandbox.calls(PATH)
    errors = refused(
        merchant=unstocked_card.merchant,
        card=unstocked_card,
        channel=poster,
        is_unique_code=True,
    )
    assert set(errors) == {"is_unique_code"}
    assert sandbox.calls(PATH) == calls


def test_wechats_refusals_come_back_on_their_field_in_our_words(
    unstocked_card, stocked_card, poster, sandbox
):
    merchant = unstocked_card.merchant
    # The portal believed there was stock; WeChat knows better (45031).
    FriendCard.objects.filter(pk=unstocked_card.pk).update(quantity=1)
    unstocked_card.refresh_from_db()
    errors = refused(
        merchant=merchant, card=unstocked_card, channel=poster, is_unique_code=True
    )
    assert errors == {
        "is_unique_code": [
            "WeChat says this coupon has no stock left: buy stock first."
        ]
    }
    qr = QRCode.objects.get(card=unstocked_card)
    assert (qr.status, qr.errcode, qr.url) == (QRCode.Status.FAILED, 45031, "")
    assert kinds(qr) == [K.QRCODE_SENT, K.QRCODE_REFUSED]
    assert services.qrcode_problem(qr) == errors["is_unique_code"][0]

    # The card ended at WeChat (its clock) before the portal noticed: 40079.
    sandbox.advance(31 * 86400)
    errors = refused(merchant=merchant, card=stocked_card, channel=poster)
    assert errors == {"card": ["WeChat says this coupon has ended."]}


def test_a_lost_answer_leaves_no_qr_code_anyone_could_scan(
    stocked_card, poster, sandbox
):
    merchant = stocked_card.merchant
    # WeChat makes the QR code each time, and the answer never arrives.
    sandbox.fault("reset_after", path=PATH, remaining=3)
    with pytest.raises(ValidationError) as lost:
        services.qrcode_create(merchant=merchant, card=stocked_card, channel=poster)
    assert "no QR code was made that anyone could scan" in lost.value.messages[0]
    qr = QRCode.objects.get()
    assert (qr.status, qr.answer_lost, qr.url) == (QRCode.Status.FAILED, True, "")
    assert kinds(qr) == [K.QRCODE_SENT, K.QRCODE_LOST]
    # WeChat holds QR codes nobody was given the link of (the client retried).
    made = sandbox.control("GET", "qrcodes", params={"card_id": stocked_card.card_id})
    assert len(made["qrcodes"]) == 3
    # Asking again makes one that works.
    again = services.qrcode_create(merchant=merchant, card=stocked_card, channel=poster)
    assert again.status == QRCode.Status.READY and again.url


def test_a_qr_code_whose_sender_died_is_recorded_not_made(stocked_card, poster):
    stuck = QRCode.objects.create(
        merchant=stocked_card.merchant,
        card=stocked_card,
        channel=poster,
        sent_at=timezone.now() - timedelta(minutes=2),
    )
    fresh = QRCode.objects.create(
        merchant=stocked_card.merchant,
        card=stocked_card,
        channel=poster,
        sent_at=timezone.now(),
    )
    assert services.qrcodes_fail_stuck() == 1
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert (stuck.status, stuck.answer_lost) == (QRCode.Status.FAILED, True)
    assert fresh.status == QRCode.Status.SENDING
    assert kinds(stuck) == [K.QRCODE_LOST]
    assert services.qrcodes_fail_stuck() == 0  # twice is harmless


def test_a_qr_code_made_outside_the_portal_counts_for_its_channel(
    stocked_card, poster, table, sandbox
):
    """wechatpy's create_qrcode, unchanged, with a channel's outer_id: its scans are
    the channel's in the portal's figures (they come from the events)."""
    import requests
    from wechatpy import WeChatClient

    class WeChatHostSession(requests.Session):
        """https://api.weixin.qq.com/… goes to the sandbox; wechatpy is unchanged."""

        def request(self, method, url, *args, **kwargs):
            url = url.replace("https://api.weixin.qq.com/", sandbox.base_url)
            return super().request(method, url, *args, **kwargs)

    merchant = stocked_card.merchant
    client = WeChatClient(merchant.appid, str.__str__(merchant.appsecret))
    client._http = WeChatHostSession()
    ticket = client.card.create_qrcode(
        {
            "action_name": "QR_CARD",
            "action_info": {
                "card": {"card_id": stocked_card.card_id, "outer_id": table.outer_id}
            },
        }
    )
    for openid in ("o_sdk_1", "o_sdk_2"):
        answer = sandbox.http.post(
            sandbox.base_url + f"control/qrcodes/{ticket}/scan",
            json={"openid": openid},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
    process_events()
    rows = {
        r.label: r.received
        for r in selectors.channel_figures(merchant=merchant, card=stocked_card)
    }
    assert rows == {"Window poster": 0, "Table 12": 2}
