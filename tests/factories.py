"""Factories and helpers the tests of every app share (fixtures are in conftest.py)."""

from __future__ import annotations

import io
import time


def png(color=(7, 193, 96), size=(16, 16)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def cash_card(
    logo: str, picture: str, *, reduce=5000, least=50000, days=30, stores=(100001,)
):
    """A valid CASH friend coupon (the seed's example, with our images and stores)."""
    begin = int(time.time()) - 60
    use_condition = {"can_use_with_other_discount": True}
    if least:
        use_condition["least_cost"] = least
    return {
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
                    "begin_timestamp": begin,
                    "end_timestamp": begin + days * 86400 - 3600,
                },
                "location_id_list": list(stores),
                "can_share": False,
                "can_give_friend": False,
            },
            "advanced_info": {
                "use_condition": use_condition,
                "text_image_list": [
                    {"image_url": picture, "text": "招牌菜品，欢迎品尝"}
                ],
                "share_friends": True,
                "consume_share_self_num": 1,
            },
            "reduce_cost": reduce,
        },
    }


def process_events() -> None:
    """Run the handlers of the events WeChat (the sandbox) pushed, as the worker does."""
    from portal import events
    from portal.models import WeChatEvent

    for pk in WeChatEvent.objects.filter(
        status=WeChatEvent.Status.RECEIVED
    ).values_list("pk", flat=True):
        events.event_process(pk)


def editor_form(logo: str, pic: str, **overrides) -> dict:
    """The friend-coupon editor's POST data for a valid CASH card (全场满500减50)."""
    from datetime import timedelta

    from django.utils import timezone

    today = timezone.localdate()
    data = {
        "card_type": "CASH",
        "brand_name": "演示小馆",
        "reduce_cost": "50",
        "least_cost": "500",
        "begin_date": today.isoformat(),
        "end_date": (today + timedelta(days=30)).isoformat(),
        "location_ids": ["100001", "100002"],
        "logo_url": logo,
        "color": "Color010",
        "notice": "请出示二维码核销",
        "description": "不可与其他优惠同享",
        "text_image_1_url": pic,
        "text_image_1_text": "招牌菜品",
        "code_type": "CODE_TYPE_QRCODE",
        "consume_share": "self",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        "events-MIN_NUM_FORMS": "0",
        "events-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data
