"""The sandbox's own rules (sandbox/backends/rules.py) against SPEC §3's examples and
numbers — never against the portal's output (tests/test_differential_rules.py is
where the two meet)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from sandbox.backends import rules
from sandbox.backends.rules import Problem

NOW = 1_735_689_600  # 2025-01-01 00:00:00 UTC
DAY = 86400
IMG = "http://127.0.0.1/sandbox/media/uploaded.jpg"


def uploaded(url: str) -> bool:
    return url == IMG


def card(card_type: str = "CASH", **use_condition: Any) -> dict:
    """The seed's example card (seed 000), with the given thresholds."""
    block: dict[str, Any] = {
        "base_info": {
            "logo_url": IMG,
            "brand_name": "微信餐厅",
            "code_type": "CODE_TYPE_TEXT",
            "color": "Color010",
            "notice": "请出示二维码核销卡券",
            "service_phone": "020-88888888",
            "description": "不可与其他优惠同享\n如需团购券发票,请在消费时向商户提出",
            "date_info": {
                "type": "DATE_TYPE_FIX_TIME_RANGE",
                "begin_timestamp": NOW,
                "end_timestamp": NOW + 30 * DAY,
            },
            "can_share": False,
            "can_give_friend": False,
            "location_id_list": [272981040, 400183234],
            "get_limit": 3,
            "center_title": "快速核销",
            "custom_url_name": "立即使用",
            "custom_url": "http://www.qq.com",
            "custom_url_sub_title": "6个汉字tips",
            "promotion_url_name": "更多优惠",
            "promotion_url": "http://www.qq.com",
        },
        "advanced_info": {
            "use_condition": use_condition,
            "abstract": {
                "abstract": "微信餐厅推出多种新季菜品,期待您的光临",
                "icon_url_list": [IMG],
            },
            "text_image_list": [
                {"image_url": IMG, "text": "此菜品精选食材,以独特的烹饪方法"}
            ],
            "time_limit": [
                {"type": "MONDAY", "begin_hour": 0, "end_hour": 10},
                {"type": "HOLIDAY"},
            ],
            "business_service": ["BIZ_SERVICE_FREE_WIFI", "BIZ_SERVICE_DELIVER"],
            "consume_share_self_num": 1,
            "share_friends": True,
        },
    }
    if card_type == "CASH":
        block["reduce_cost"] = 5000  # 50 yuan
    else:
        block.update(gift_name="蛋挞", gift_num=1, gift_unit="个")
    return {"card_type": card_type, card_type.lower(): block}


def gift(name: str, num: Any, unit: str, **use_condition: Any) -> dict:
    built = card("GIFT", **use_condition)
    built["gift"].update(gift_name=name, gift_num=num, gift_unit=unit)
    return built


def with_value(built: dict, path: str, value: Any) -> dict:
    """A copy of the card with the dotted ``path`` of its type block set."""
    built = copy.deepcopy(built)
    node = built[built["card_type"].lower()]
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return built


def problems(built: Any, now: float | None = NOW) -> list[tuple[int, str]]:
    found = rules.create_problems(built, now=now, is_uploaded=uploaded)
    return [(problem.errcode, problem.field) for problem in found]


# --- SPEC §3.2–3.4: titles, summaries, prices -------------------------------------
NO_THRESHOLD = "无起用金额限制,全场通用,不限品类"


@pytest.mark.parametrize(
    ("built", "title", "summary", "price"),
    [
        # The seed's table: a 50 yuan cash card and a 蛋挞 gift, 500 yuan spend.
        (card(), "50元代金券", NO_THRESHOLD, "0.2"),
        (card(least_cost=50000), "全场满500减50", "消费满500元可用", "0.6"),
        (
            card(accept_category="羽绒服", least_cost=50000),
            "羽绒服满500减50",
            "适用于羽绒服;消费满500元可用",
            "0.6",
        ),
        (
            card(accept_category="羽绒服和运动鞋类", least_cost=50000),
            "满500减50",  # a category over 5 characters is left out
            "适用于羽绒服和运动鞋类;消费满500元可用",
            "0.6",
        ),
        (card(accept_category="蛋挞"), "蛋挞减50元", "适用于蛋挞", "0.4"),
        (card(accept_category="ABCDE"), "ABCDE减50元", "适用于ABCDE", "0.4"),
        (card(accept_category="ABCDEF"), "50元代金券", "适用于ABCDEF", "0.4"),
        (
            card(accept_category="蛋挞", reject_category="蛋糕"),
            "蛋挞减50元",
            "适用于蛋挞,不适用于蛋糕",
            "0.4",
        ),
        (card(reject_category="蛋糕"), "50元代金券", "不适用于蛋糕", "0.4"),
        (
            card(can_use_with_other_discount=False),
            "50元代金券",  # not sharing alone is no threshold
            NO_THRESHOLD,
            "0.2",
        ),
        (card(least_cost=0), "50元代金券", NO_THRESHOLD, "0.2"),
        (
            card(accept_category="蛋挞", reject_category="蛋糕", least_cost=50000),
            "蛋挞满500减50",
            "适用于蛋挞,不适用于蛋糕;消费满500元可用",
            "0.6",  # several thresholds: the highest tier (SPEC §3.4)
        ),
        (card("GIFT", object_use_for="蛋糕"), "买蛋糕送蛋挞", "购买蛋糕可用", "0.6"),
        (card("GIFT", least_cost=50000), "全场满500送蛋挞", "消费满500元可用", "0.6"),
        (
            card("GIFT", object_use_for="蛋糕", least_cost=50000),
            "买蛋糕送蛋挞",  # SPEC §3.2 Decision: object_use_for first
            "消费满500元可用;购买蛋糕可用",
            "0.6",
        ),
        (gift("洗手液", 1, "瓶"), "洗手液1瓶", NO_THRESHOLD, "0.2"),
        (gift("苹果", 1, "个"), "苹果1个", NO_THRESHOLD, "0.2"),  # not 苹果一个
        (gift("苹果", "12", "个"), "苹果12个", NO_THRESHOLD, "0.2"),
    ],
)
def test_titles_summaries_and_prices(built, title, summary, price):
    assert problems(built) == []
    assert rules.title(built) == title
    assert rules.summary(built) == summary
    assert rules.unit_price(built) == Decimal(price)
    assert type(rules.unit_price(built)) is Decimal


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (5000, "50"),
        (550, "5.5"),
        (1, "0.01"),
        (10, "0.1"),
        (123456, "1234.56"),
        (100, "1"),
        (2**31 - 1, "21474836.47"),
    ],
)
def test_yuan_without_trailing_zeros(fen, text):
    assert rules.yuan(fen) == text


def test_amounts_in_titles():
    assert rules.title(with_value(card(), "reduce_cost", 550)) == "5.5元代金券"
    assert rules.title(with_value(card(), "reduce_cost", 1)) == "0.01元代金券"
    assert rules.title(with_value(card(least_cost=101), "reduce_cost", 1)) == (
        "全场满1.01减0.01"
    )
    # WeChat takes numbers as strings too.
    assert rules.title(with_value(card(least_cost="50000"), "reduce_cost", "5000")) == (
        "全场满500减50"
    )


def test_usage_note():
    assert rules.usage_note(card()) == "可与其他优惠共享"
    assert (
        rules.usage_note(card(can_use_with_other_discount=True)) == "可与其他优惠共享"
    )
    assert rules.usage_note(card(can_use_with_other_discount=False)) == (
        "不可与其他优惠共享"
    )


def test_refused_thresholds_count_as_absent():
    # SPEC §3.1: accept_category is for CASH only, object_use_for for GIFT only.
    built = card("GIFT", accept_category="鞋类")
    assert problems(built) == [(40071, "advanced_info.use_condition.accept_category")]
    assert rules.title(built) == "蛋挞1个" and rules.unit_price(built) == Decimal("0.2")
    built = card(object_use_for="蛋糕")
    assert problems(built) == [(40071, "advanced_info.use_condition.object_use_for")]
    assert rules.unit_price(built) == Decimal("0.2")


# --- SPEC §3.5: a reduction below the minimum spend ----------------------------------
def test_the_reduction_must_stay_below_the_minimum_spend():
    # 全场满500减600 is refused on reduce_cost, 40071.
    assert problems(with_value(card(least_cost=50000), "reduce_cost", 60000)) == [
        (40071, "reduce_cost")
    ]
    assert problems(with_value(card(least_cost=50000), "reduce_cost", 50000)) == [
        (40071, "reduce_cost")
    ]
    assert problems(with_value(card(least_cost=50000), "reduce_cost", 49999)) == []
    assert problems(with_value(card(least_cost=0), "reduce_cost", 60000)) == []
    assert problems(with_value(card(), "reduce_cost", 60000)) == []
    assert problems(card("GIFT", least_cost=1)) == []


# --- SPEC §3.5: field rules -----------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "hanzi"),
    [
        ("base_info.brand_name", 12),
        ("base_info.notice", 16),
        ("base_info.center_title", 9),
        ("base_info.center_sub_title", 12),
        ("base_info.custom_url_name", 5),
        ("base_info.custom_url_sub_title", 6),
        ("base_info.promotion_url_sub_title", 6),
        ("advanced_info.abstract.abstract", 20),
    ],
)
def test_n_hanzi_is_3n_bytes(path, hanzi):
    # SPEC §3.5 Decision: N CJK characters fit, or up to 3·N ASCII ones.
    base = card("GIFT") if path.startswith("gift") else card()
    assert problems(with_value(base, path, "汉" * hanzi)) == []
    assert problems(with_value(base, path, "a" * 3 * hanzi)) == []
    assert problems(with_value(base, path, "汉" * (hanzi - 1) + "ab")) == []
    assert problems(with_value(base, path, "汉" * hanzi + "a")) == [(40071, path)]
    assert problems(with_value(base, path, "a" * (3 * hanzi + 1))) == [(40071, path)]


def test_gift_limits():
    assert problems(gift("六个汉字名字", 1, "两字")) == []
    assert problems(gift("七个汉字的名字", 1, "个")) == [(40071, "gift_name")]
    assert problems(gift("苹果", 1, "三个字")) == [(40071, "gift_unit")]
    assert problems(gift("苹果", 999, "个")) == []
    assert problems(gift("苹果", 1000, "个")) == [(40071, "gift_num")]
    assert problems(gift("苹果", 0, "个")) == [(40071, "gift_num")]


def test_description_is_3072_bytes():
    assert problems(with_value(card(), "base_info.description", "a" * 3072)) == []
    assert problems(with_value(card(), "base_info.description", "汉" * 1024)) == []
    assert problems(with_value(card(), "base_info.description", "a" * 3073)) == [
        (40071, "base_info.description")
    ]


def test_the_amount_is_at_least_one_fen():
    assert problems(with_value(card(), "reduce_cost", 1)) == []
    assert problems(with_value(card(), "reduce_cost", 0)) == [(40071, "reduce_cost")]
    assert problems(with_value(card(), "reduce_cost", None)) == [(40071, "reduce_cost")]
    assert problems(with_value(card(), "reduce_cost", "50元")) == [
        (47001, "reduce_cost")
    ]


@pytest.mark.parametrize(
    ("begin", "end", "expected"),
    [
        (NOW, NOW + 90 * DAY, []),
        (NOW, NOW + 90 * DAY + 1, [(40079, "base_info.date_info")]),
        (NOW + DAY, NOW + DAY, [(40079, "base_info.date_info")]),
        (NOW - 30 * DAY, NOW, [(40079, "base_info.date_info")]),  # ended
        (NOW - 30 * DAY, NOW + 1, []),
        (2**31 - 1 - DAY, 2**31 - 1, []),
        (2**31 - DAY, 2**31, [(40079, "base_info.date_info")]),  # 2038
        (str(NOW), str(NOW + DAY), []),
        (-1, NOW, [(40071, "base_info.date_info.begin_timestamp")]),
    ],
)
def test_validity(begin, end, expected):
    dates = {"type": "DATE_TYPE_FIX_TIME_RANGE", "begin_timestamp": begin}
    built = with_value(card(), "base_info.date_info", {**dates, "end_timestamp": end})
    assert problems(built) == expected


def test_validity_shape():
    assert problems(with_value(card(), "base_info.date_info", {})) == [
        (40071, "base_info.date_info.type"),
        (40071, "base_info.date_info.begin_timestamp"),
        (40071, "base_info.date_info.end_timestamp"),
    ]
    dates = copy.deepcopy(card()["cash"]["base_info"]["date_info"])
    dates["type"] = "DATE_TYPE_FIX_TERM"
    assert problems(with_value(card(), "base_info.date_info", dates)) == [
        (40071, "base_info.date_info.type")
    ]
    assert problems(with_value(card(), "base_info.date_info", None)) == [
        (40071, "base_info.date_info")
    ]


def test_stores_images_and_colors():
    assert problems(with_value(card(), "base_info.location_id_list", [])) == [
        (41025, "base_info.location_id_list")
    ]
    foreign = "http://mmbiz.qpic.cn/mmbiz/elsewhere/0"
    assert problems(with_value(card(), "base_info.logo_url", foreign)) == [
        (40141, "base_info.logo_url")
    ]
    assert problems(
        with_value(card(), "advanced_info.text_image_list.0.image_url", foreign)
    ) == [(40141, "advanced_info.text_image_list.0.image_url")]
    assert problems(
        with_value(card(), "advanced_info.abstract.icon_url_list", [IMG, IMG])
    ) == [(40071, "advanced_info.abstract.icon_url_list")]
    assert problems(with_value(card(), "advanced_info.text_image_list", [])) == [
        (40071, "advanced_info.text_image_list")
    ]
    for color in ("Color010", "Color082", "Color101", "Color102"):
        assert problems(with_value(card(), "base_info.color", color)) == []
    assert problems(with_value(card(), "base_info.color", "Color0100")) == [
        (40071, "base_info.color")  # the seed's spelling is not a real name
    ]


def test_sharing_and_gifts_after_use():
    shareable = with_value(card(), "base_info.can_share", True)
    assert problems(shareable) == [(40071, "base_info.can_share")]
    other = {"card_id": "pbLatjhvf1xBtaOIhYOCnp7Wv4DA", "num": 1}
    both = with_value(card(), "advanced_info.consume_share_card_list", [other])
    assert problems(both) == [(40071, "advanced_info.consume_share_card_list")]
    two = with_value(card(), "advanced_info.consume_share_card_list", [other, other])
    assert problems(two) == [(45021, "advanced_info.consume_share_card_list")]
    only_other = with_value(both, "advanced_info.consume_share_self_num", 0)
    assert problems(only_other) == []


@pytest.mark.parametrize("built", [None, [], "CASH", {"card_type": "MEMBER_CARD"}])
def test_not_a_card_is_47001(built):
    [(errcode, _)] = problems(built)
    assert errcode == 47001


def test_structure_is_reported_before_values():
    built = with_value(card(), "base_info.brand_name", "汉" * 13)
    built = with_value(built, "base_info.get_limit", "three")
    found = rules.create_problems(built, now=NOW, is_uploaded=uploaded)
    assert found == [
        Problem(40071, "base_info.brand_name"),
        Problem(47001, "base_info.get_limit"),
    ]
    assert rules.reported(found) == Problem(47001, "base_info.get_limit")
    assert rules.reported(found[:1]) == Problem(40071, "base_info.brand_name")
    assert rules.reported([]) is None


# --- card/update ----------------------------------------------------------------------
def test_updates_may_only_widen_the_validity():
    stored = card()
    dates = stored["cash"]["base_info"]["date_info"]

    def update(**changes: int) -> list[tuple[int, str]]:
        body = {"base_info": {"date_info": {**dates, **changes}}}
        found = rules.update_problems(stored, body, is_uploaded=uploaded)
        return [(problem.errcode, problem.field) for problem in found]

    assert update(end_timestamp=dates["end_timestamp"] + DAY) == []
    assert update(end_timestamp=dates["end_timestamp"] - DAY) == [
        (40079, "base_info.date_info")
    ]
    assert update(begin_timestamp=dates["begin_timestamp"] + 1) == [
        (40079, "base_info.date_info")
    ]
    assert update(end_timestamp=dates["begin_timestamp"] + 90 * DAY + 1) == [
        (40079, "base_info.date_info")
    ]


def test_what_an_update_may_change():
    stored = card()
    found = rules.update_problems(
        stored,
        {"base_info": {"brand_name": "别的餐厅", "service_phone": "1"}},
        is_uploaded=uploaded,
    )
    assert found == [Problem(47001, "base_info.brand_name")]
    found = rules.update_problems(
        stored, {"advanced_info": {"use_condition": {}}}, is_uploaded=uploaded
    )
    assert found == [Problem(47001, "advanced_info.use_condition")]
    found = rules.update_problems(stored, {"reduce_cost": 1}, is_uploaded=uploaded)
    assert found == [Problem(47001, "reduce_cost")]


def test_merged_keeps_the_rest_and_changes_nothing():
    stored = card()
    before = copy.deepcopy(stored)
    after = rules.merged(stored, {"base_info": {"date_info": {"end_timestamp": 7}}})
    assert stored == before
    assert after["cash"]["base_info"]["date_info"] == {
        **before["cash"]["base_info"]["date_info"],
        "end_timestamp": 7,
    }
    assert after["cash"]["reduce_cost"] == 5000
    images = rules.merged(stored, {"advanced_info": {"text_image_list": []}})
    assert images["cash"]["advanced_info"]["text_image_list"] == []  # lists replace


def test_send_check():
    assert rules.sends_to_review({"base_info": {"service_phone": "1"}}) is False
    assert rules.sends_to_review({"base_info": {"date_info": {}}}) is False
    assert rules.sends_to_review({"base_info": {"logo_url": IMG}}) is True
    assert rules.sends_to_review({"advanced_info": {"abstract": {}}}) is True
    assert rules.sends_to_review({"base_info": {"brand_name": "x"}}) is False
