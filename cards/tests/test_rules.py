"""cards.rules: titles, summaries, prices and field limits (SPEC §3.1–3.5)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from cards import rules
from cards.rules import (
    DATE_TYPE,
    HANZI_LIMITS,
    LATEST_END,
    PALETTE,
    REVIEW_ON_UPDATE,
    UPDATABLE_FIELDS,
    FieldError,
    apply_update,
    byte_len,
    fen_to_yuan_text,
    needs_review,
    parse_yuan,
    preview,
    stock_price,
    summary,
    title,
    unit_price,
    usage_note,
    validate_create,
    validate_update,
)

NOW = datetime(2025, 1, 1, tzinfo=UTC)
BEGIN = int(NOW.timestamp())
DAY = 86400
END = BEGIN + 30 * DAY
IMG = "http://mmbiz.qpic.cn/mmbiz/p98FjXy8LacgHxp3sJ3vn97bGLz0ib0Sfz1bjiaoOYA027iasqSG0sjpiby4vce3AtaPu6cIhBHkt6IjlkY9YnDsfw/0"
NO_THRESHOLD = "无起用金额限制,全场通用,不限品类"


def base_info() -> dict[str, Any]:
    """The seed's CASH example base_info (SPEC seed 000), with dates around NOW."""
    return {
        "logo_url": IMG,
        "brand_name": "微信餐厅",
        "code_type": "CODE_TYPE_TEXT",
        "color": "Color010",
        "notice": "请出示二维码核销卡券",
        "service_phone": "020-88888888",
        "description": "不可与其他优惠同享\n如需团购券发票,请在消费时向商户提出",
        "date_info": {
            "type": DATE_TYPE,
            "begin_timestamp": BEGIN,
            "end_timestamp": END,
        },
        "can_share": False,
        "can_give_friend": False,
        "location_id_list": [272981040, 400183234],
        "get_limit": 3,
        "center_title": "快速核销",
        "center_sub_title": "",
        "center_url": "www.qq.com",
        "custom_url_name": "立即使用",
        "custom_url": "http://www.qq.com",
        "custom_url_sub_title": "6个汉字tips",
        "promotion_url_name": "更多优惠",
        "promotion_url": "http://www.qq.com",
    }


def advanced_info(**use_condition: Any) -> dict[str, Any]:
    return {
        "use_condition": use_condition,
        "abstract": {
            "abstract": "微信餐厅推出多种新季菜品,期待您的光临",
            "icon_url_list": [IMG],
        },
        "text_image_list": [
            {"image_url": IMG, "text": "此菜品精选食材,以独特的烹饪方法"},
            {"image_url": IMG, "text": "此菜品迎合大众口味,老少皆宜,营养均衡"},
        ],
        "time_limit": [
            {
                "type": "MONDAY",
                "begin_hour": 0,
                "end_hour": 10,
                "begin_minute": 10,
                "end_minute": 59,
            },
            {"type": "HOLIDAY"},
        ],
        "business_service": [
            "BIZ_SERVICE_FREE_WIFI",
            "BIZ_SERVICE_WITH_PET",
            "BIZ_SERVICE_FREE_PARK",
            "BIZ_SERVICE_DELIVER",
        ],
        "consume_share_self_num": 1,
        "consume_share_card_list": [],
        "share_friends": True,
    }


def cash(reduce_cost: Any = 5000, **use_condition: Any) -> dict[str, Any]:
    """A complete, valid CASH card with the given thresholds."""
    return {
        "card_type": "CASH",
        "cash": {
            "base_info": base_info(),
            "advanced_info": advanced_info(**use_condition),
            "reduce_cost": reduce_cost,
        },
    }


def gift(name: str = "苹果", num: Any = 1, unit: str = "个", **use_condition: Any):
    """A complete, valid GIFT card with the given thresholds."""
    return {
        "card_type": "GIFT",
        "gift": {
            "base_info": base_info(),
            "advanced_info": advanced_info(**use_condition),
            "gift_name": name,
            "gift_num": num,
            "gift_unit": unit,
        },
    }


def _walk(card: dict, path: str) -> tuple[Any, str]:
    node: Any = card[card["card_type"].lower()]
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    return node, last


def put(card: dict, path: str, value: Any) -> dict:
    """Sets a dotted path of the card's type block; returns the card."""
    node, last = _walk(card, path)
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return card


def drop(card: dict, path: str) -> dict:
    node, last = _walk(card, path)
    del node[last]
    return card


def errors(card: Any, **kwargs: Any) -> list[tuple[str, str, int]]:
    kwargs.setdefault("now", NOW)
    return [(e.field, e.code, e.errcode) for e in validate_create(card, **kwargs)]


def only_error(card: Any, **kwargs: Any) -> tuple[str, str, int]:
    found = errors(card, **kwargs)
    assert len(found) == 1, found
    return found[0]


# ------------------------------------------------------------ SPEC §3.2–3.4


@pytest.mark.parametrize(
    ("card", "expected_title", "expected_summary", "unit"),
    [
        # The seed's table and SPEC §3.2 examples (50 yuan off, 500 yuan spend).
        (cash(least_cost=50000), "全场满500减50", "消费满500元可用", "0.6"),
        (
            cash(accept_category="羽绒服", least_cost=50000),
            "羽绒服满500减50",
            "适用于羽绒服;消费满500元可用",
            "0.6",
        ),
        (
            cash(accept_category="羽绒服和运动鞋", least_cost=50000),
            "满500减50",
            "适用于羽绒服和运动鞋;消费满500元可用",
            "0.6",
        ),
        (cash(accept_category="蛋挞"), "蛋挞减50元", "适用于蛋挞", "0.4"),
        (
            cash(accept_category="五个字品类"),
            "五个字品类减50元",
            "适用于五个字品类",
            "0.4",
        ),
        (
            cash(accept_category="六个字的品类"),
            "50元代金券",
            "适用于六个字的品类",
            "0.4",
        ),
        (
            cash(accept_category="蛋挞", reject_category="蛋糕"),
            "蛋挞减50元",
            "适用于蛋挞,不适用于蛋糕",
            "0.4",
        ),
        (cash(reject_category="蛋糕"), "50元代金券", "不适用于蛋糕", "0.4"),
        (cash(), "50元代金券", NO_THRESHOLD, "0.2"),
        (cash(least_cost=0), "50元代金券", NO_THRESHOLD, "0.2"),
        (
            cash(can_use_with_other_discount=False),
            "50元代金券",
            NO_THRESHOLD,
            "0.2",
        ),
        (cash(reduce_cost=550), "5.5元代金券", NO_THRESHOLD, "0.2"),
        (
            cash(reduce_cost=1, least_cost=101),
            "全场满1.01减0.01",
            "消费满1.01元可用",
            "0.6",
        ),
        (
            cash(reduce_cost="5000", least_cost="50000"),
            "全场满500减50",
            "消费满500元可用",
            "0.6",
        ),
        (gift("蛋挞", object_use_for="蛋糕"), "买蛋糕送蛋挞", "购买蛋糕可用", "0.6"),
        (gift(least_cost=50000), "全场满500送苹果", "消费满500元可用", "0.6"),
        (gift(), "苹果1个", NO_THRESHOLD, "0.2"),  # SPEC §3.2 Decision (V1.1)
        (gift("洗手液", 1, "瓶"), "洗手液1瓶", NO_THRESHOLD, "0.2"),
        (
            gift("蛋挞", object_use_for="蛋糕", least_cost=50000),
            "买蛋糕送蛋挞",
            "消费满500元可用;购买蛋糕可用",
            "0.6",
        ),
        (
            cash(accept_category="蛋挞", reject_category="蛋糕", least_cost=50000),
            "蛋挞满500减50",
            "适用于蛋挞,不适用于蛋糕;消费满500元可用",
            "0.6",
        ),
    ],
)
def test_title_summary_and_unit_price(card, expected_title, expected_summary, unit):
    assert errors(card) == []
    assert title(card) == expected_title
    assert summary(card) == expected_summary
    assert unit_price(card) == Decimal(unit)
    assert type(unit_price(card)) is Decimal


def test_usage_note():
    assert usage_note(cash()) == "可与其他优惠共享"
    assert usage_note(cash(can_use_with_other_discount=True)) == "可与其他优惠共享"
    assert usage_note(cash(can_use_with_other_discount=False)) == "不可与其他优惠共享"
    assert usage_note(gift(can_use_with_other_discount=False)) == "不可与其他优惠共享"


def test_thresholds_refused_for_the_type_count_as_absent():
    card = gift(accept_category="蛋挞", reject_category="蛋糕")
    assert errors(card) == [
        ("advanced_info.use_condition.accept_category", "not_allowed_for_type", 40071),
        ("advanced_info.use_condition.reject_category", "not_allowed_for_type", 40071),
    ]
    assert (title(card), summary(card), unit_price(card)) == (
        "苹果1个",
        NO_THRESHOLD,
        Decimal("0.2"),
    )
    card = cash(object_use_for="蛋糕")
    assert only_error(card) == (
        "advanced_info.use_condition.object_use_for",
        "not_allowed_for_type",
        40071,
    )
    assert (title(card), summary(card), unit_price(card)) == (
        "50元代金券",
        NO_THRESHOLD,
        Decimal("0.2"),
    )


def test_type_fields_of_the_other_type_are_refused():
    assert only_error(put(cash(), "gift_name", "苹果")) == (
        "gift_name",
        "not_allowed_for_type",
        40071,
    )
    assert only_error(put(gift(), "reduce_cost", 100)) == (
        "reduce_cost",
        "not_allowed_for_type",
        40071,
    )


@pytest.mark.parametrize(
    "card",
    [
        None,
        [],
        "CASH",
        {},
        {"card_type": "CASH"},
        {"card_type": "CASH", "cash": []},
        {"card_type": "GIFT", "gift": {"gift_name": 5}},
        {"card_type": ["CASH"], "cash": {}},
        {"card_type": "CASH", "cash": {"reduce_cost": True}},
        {"card_type": "CASH", "cash": {"reduce_cost": 5000, "advanced_info": "x"}},
        {"card_type": "CASH", "cash": {"advanced_info": {"use_condition": [1]}}},
    ],
)
def test_derived_texts_are_total_on_garbage(card):
    assert isinstance(title(card), str)
    assert summary(card) == NO_THRESHOLD
    assert usage_note(card) == "可与其他优惠共享"
    assert unit_price(card) == Decimal("0.2")
    assert errors(card)


def test_invalid_amount_gives_an_empty_title_but_keeps_the_thresholds():
    card = cash(reduce_cost=0, least_cost=50000)
    assert title(card) == ""
    assert summary(card) == "消费满500元可用"
    assert unit_price(card) == Decimal("0.6")
    card = gift(least_cost=-1)
    assert title(card) == "苹果1个"
    assert unit_price(card) == Decimal("0.2")


@pytest.mark.parametrize(
    ("fen", "text"),
    [
        (5000, "50"),
        (550, "5.5"),
        (1, "0.01"),
        (10, "0.1"),
        (123456, "1234.56"),
        (0, "0"),
        (100, "1"),
        (50000, "500"),
        (2147483647, "21474836.47"),
    ],
)
def test_fen_to_yuan_text(fen, text):
    assert fen_to_yuan_text(fen) == text


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("50", 5000),
        ("5.5", 550),
        ("0.01", 1),
        ("5.50", 550),
        (" 12 ", 1200),
        ("0", 0),
        ("1.234", None),
        ("abc", None),
        ("-1", None),
        ("", None),
        ("5.", None),
        (".5", None),
        ("1e3", None),
        ("５", None),
        (None, None),
        (5, None),
    ],
)
def test_parse_yuan(text, fen):
    assert parse_yuan(text) == fen


def test_stock_price_is_exact_decimal():
    assert stock_price(Decimal("0.6"), 3) == Decimal("1.8")
    assert str(stock_price(Decimal("0.6"), 3)) == "1.8"
    assert type(stock_price(Decimal("0.6"), 3)) is Decimal
    assert stock_price(Decimal("0.2"), 100_000_000) == Decimal("20000000")
    assert stock_price(Decimal("0.4"), 0) == 0
    with pytest.raises(TypeError):
        stock_price(Decimal("0.2"), 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        stock_price(Decimal("0.2"), True)
    with pytest.raises(ValueError):
        stock_price(Decimal("0.2"), -1)


def test_byte_len():
    assert byte_len("汉") == 3
    assert byte_len("a汉") == 4
    assert byte_len("") == 0
    assert byte_len("\ud800") == 3  # a lone surrogate does not raise


# ------------------------------------------------------------------ SPEC §3.5


def test_the_seeds_examples_are_valid():
    assert errors(cash()) == []
    assert errors(gift()) == []


def _card_for(path: str) -> dict:
    if path in ("gift_name", "gift_unit"):
        return gift()
    if path.endswith("object_use_for"):
        return gift("蛋挞", object_use_for="蛋糕")
    return cash()


def _set_text(path: str, text: str) -> dict:
    card = _card_for(path)
    return put(card, path, text)


@pytest.mark.parametrize("path", sorted(HANZI_LIMITS))
def test_hanzi_limits_at_the_boundary(path):
    chars, limit = HANZI_LIMITS[path]
    fit = limit // 3  # N 汉字 (description: its 3072 bytes hold 1024)
    assert fit >= chars
    assert errors(_set_text(path, "汉" * chars)) == []
    assert errors(_set_text(path, "汉" * fit)) == []
    assert errors(_set_text(path, "a" * limit)) == []
    assert errors(_set_text(path, "a" * (limit - 3) + "汉")) == []
    for text in ("汉" * (fit + 1), "a" * (limit + 1), "a" * (limit - 2) + "汉"):
        found = validate_create(_set_text(path, text), now=NOW)
        assert [(e.field, e.code, e.errcode) for e in found] == [
            (path, "too_long", 40071)
        ]
        assert found[0].message == (
            f"At most {chars} Chinese characters ({limit} bytes)."
        )


@pytest.mark.parametrize(
    ("path", "chars", "message"),
    [
        ("base_info.brand_name", 12, "At most 12 Chinese characters (36 bytes)."),
        ("base_info.notice", 16, "At most 16 Chinese characters (48 bytes)."),
        ("gift_name", 6, "At most 6 Chinese characters (18 bytes)."),
        ("gift_unit", 2, "At most 2 Chinese characters (6 bytes)."),
        ("base_info.center_title", 9, "At most 9 Chinese characters (27 bytes)."),
        ("base_info.center_sub_title", 12, "At most 12 Chinese characters (36 bytes)."),
        ("base_info.custom_url_name", 5, "At most 5 Chinese characters (15 bytes)."),
        (
            "base_info.custom_url_sub_title",
            6,
            "At most 6 Chinese characters (18 bytes).",
        ),
        (
            "base_info.promotion_url_sub_title",
            6,
            "At most 6 Chinese characters (18 bytes).",
        ),
        (
            "advanced_info.abstract.abstract",
            20,
            "At most 20 Chinese characters (60 bytes).",
        ),
    ],
)
def test_spec_limits(path, chars, message):
    """SPEC §3.5's numbers, not just the table: N 汉字 fit, N + 1 do not."""
    assert errors(_set_text(path, "券" * chars)) == []
    (error,) = validate_create(_set_text(path, "券" * (chars + 1)), now=NOW)
    assert error.message == message


def test_description_limit():
    """SPEC §3.5: description ≤ 1000 汉字 (3072 B)."""
    assert errors(_set_text("base_info.description", "汉" * 1000)) == []
    assert errors(_set_text("base_info.description", "a" * 3072)) == []
    assert only_error(_set_text("base_info.description", "a" * 3073)) == (
        "base_info.description",
        "too_long",
        40071,
    )


@pytest.mark.parametrize(
    "path",
    [
        "base_info.logo_url",
        "base_info.center_url",
        "base_info.custom_url",
        "base_info.promotion_url",
        "advanced_info.text_image_list.0.image_url",
        "advanced_info.abstract.icon_url_list.0",
    ],
)
def test_urls_are_at_most_128_bytes(path):
    url = "http://mmbiz.qpic.cn/"
    assert errors(put(cash(), path, url + "a" * (128 - len(url)))) == []
    found = validate_create(put(cash(), path, url + "a" * (129 - len(url))), now=NOW)
    assert [(e.field, e.code, e.errcode, e.message) for e in found] == [
        (path, "too_long", 40071, "At most 128 bytes.")
    ]


def test_service_phone_is_at_most_24_bytes():
    assert errors(put(cash(), "base_info.service_phone", "1" * 24)) == []
    assert only_error(put(cash(), "base_info.service_phone", "1" * 25)) == (
        "base_info.service_phone",
        "too_long",
        40071,
    )


def test_text_image_text_is_at_most_5000_characters():
    path = "advanced_info.text_image_list.1.text"
    assert errors(put(cash(), path, "汉" * 5000)) == []
    found = validate_create(put(cash(), path, "a" * 5001), now=NOW)
    assert [(e.field, e.code, e.message) for e in found] == [
        (path, "too_long", "At most 5000 characters.")
    ]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (1, None),
        ("1", None),
        (2147483647, None),
        (0, ("reduce_cost", "out_of_range", 40071)),
        (-100, ("reduce_cost", "out_of_range", 40071)),
        (2147483648, ("reduce_cost", "out_of_range", 40071)),
        ("9" * 5000, ("reduce_cost", "out_of_range", 40071)),
        pytest.param(10**5000, ("reduce_cost", "out_of_range", 40071), id="huge"),
        (True, ("reduce_cost", "not_a_number", 47001)),
        (50.0, ("reduce_cost", "not_a_number", 47001)),
        ("50元", ("reduce_cost", "not_a_number", 47001)),
        ([5000], ("reduce_cost", "not_a_number", 47001)),
        (None, ("reduce_cost", "required", 40071)),
        ("", ("reduce_cost", "required", 40071)),
    ],
)
def test_reduce_cost(value, error):
    found = errors(cash(reduce_cost=value))
    assert found == ([error] if error else [])


def test_money_messages_speak_yuan():
    (error,) = validate_create(cash(reduce_cost=0), now=NOW)
    assert error.message == "The amount must be from 0.01 to 21474836.47 yuan."
    (error,) = validate_create(cash(least_cost=-1), now=NOW)
    assert "yuan" in error.message


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (1, None),
        (999, None),
        ("12", None),
        (0, "out_of_range"),
        (1000, "out_of_range"),
        (None, "required"),
        (1.5, "not_a_number"),
    ],
)
def test_gift_num(value, code):
    found = errors(gift(num=value))
    assert [c for _, c, _ in found] == ([code] if code else [])


def test_least_cost():
    assert errors(cash(least_cost=0)) == []
    assert only_error(cash(least_cost=-1)) == (
        "advanced_info.use_condition.least_cost",
        "out_of_range",
        40071,
    )
    assert only_error(cash(least_cost=False)) == (
        "advanced_info.use_condition.least_cost",
        "not_a_number",
        47001,
    )


def test_the_amount_off_must_be_less_than_the_minimum_spend():
    # SPEC §3.5 Decision: 全场满500减600 is refused, with a message on reduce_cost.
    (error,) = validate_create(cash(reduce_cost=60000, least_cost=50000), now=NOW)
    assert (error.field, error.code, error.errcode) == (
        "reduce_cost",
        "not_below_minimum_spend",
        40071,
    )
    assert error.message == "The amount off must be less than the minimum spend."
    assert preview(
        {"card": cash(reduce_cost=60000, least_cost=50000)}, now=NOW
    ).errors == {"reduce_cost": ["The amount off must be less than the minimum spend."]}
    # The boundary: reduce == least is refused, one fen less is accepted.
    assert only_error(cash(reduce_cost=50000, least_cost=50000))[:2] == (
        "reduce_cost",
        "not_below_minimum_spend",
    )
    assert errors(cash(reduce_cost=49999, least_cost=50000)) == []
    assert title(cash(reduce_cost=49999, least_cost=50000)) == "全场满500减499.99"
    assert errors(cash(reduce_cost=1, least_cost=2)) == []
    assert only_error(cash(reduce_cost="2", least_cost="2"))[0] == "reduce_cost"
    # Without a minimum spend (absent or 0) there is nothing to compare with.
    assert errors(cash(reduce_cost=60000)) == []
    assert errors(cash(reduce_cost=60000, least_cost=0)) == []
    # A gift has no amount off: its minimum spend is free.
    assert errors(gift(least_cost=1)) == []


def test_the_minimum_spend_rule_speaks_chinese():
    from django.utils import translation

    with translation.override("zh-hans"):
        (error,) = validate_create(cash(reduce_cost=60000, least_cost=50000), now=NOW)
    assert error.message == "减免金额必须小于起用金额。"


@pytest.mark.parametrize(
    "path",
    [
        "base_info.logo_url",
        "base_info.brand_name",
        "base_info.description",
        "base_info.code_type",
        "base_info.color",
        "base_info.date_info",
        "advanced_info.text_image_list",
        "gift_name",
        "gift_num",
        "gift_unit",
    ],
)
def test_required_fields(path):
    card = drop(gift() if path.startswith("gift") else cash(), path)
    assert only_error(card) == (path, "required", 40071)


@pytest.mark.parametrize(
    "path",
    [
        "base_info.notice",
        "base_info.service_phone",
        "base_info.get_limit",
        "base_info.center_title",
        "base_info.can_share",
        "base_info.can_give_friend",
        "advanced_info.abstract",
        "advanced_info.time_limit",
        "advanced_info.business_service",
        "advanced_info.use_condition",
        "advanced_info.share_friends",
        "advanced_info.consume_share_self_num",
    ],
)
def test_optional_fields(path):
    assert errors(drop(cash(), path)) == []


def test_no_store_is_41025():
    assert only_error(drop(cash(), "base_info.location_id_list")) == (
        "base_info.location_id_list",
        "no_store",
        41025,
    )
    assert only_error(put(cash(), "base_info.location_id_list", [])) == (
        "base_info.location_id_list",
        "no_store",
        41025,
    )


def test_store_ids():
    path = "base_info.location_id_list"
    assert errors(put(cash(), path, ["272981040"])) == []
    assert only_error(put(cash(), path, ["abc"])) == (path, "not_a_number", 47001)
    assert only_error(put(cash(), path, [0])) == (path, "out_of_range", 40071)
    assert only_error(put(cash(), path, "272981040")) == (path, "invalid_type", 47001)
    known = {272981040}
    found = validate_create(cash(), now=NOW, known_location_ids=known)
    assert [(e.field, e.code, e.errcode) for e in found] == [
        (path, "unknown_store", 40071)
    ]
    assert "400183234" in found[0].message
    assert errors(cash(), known_location_ids={272981040, 400183234, 1}) == []


def test_images_must_come_from_uploadimg():
    other = "http://example.com/logo.jpg"
    card = cash()
    put(card, "base_info.logo_url", other)
    put(card, "advanced_info.abstract.icon_url_list", [other])
    put(card, "advanced_info.text_image_list.1.image_url", other)
    assert errors(card) == []  # no checker: nothing to say

    def is_uploaded(url: str) -> bool:
        return url.startswith("http://mmbiz.qpic.cn/")

    assert errors(card, is_uploaded=is_uploaded) == [
        ("base_info.logo_url", "image_not_uploaded", 40141),
        ("advanced_info.abstract.icon_url_list.0", "image_not_uploaded", 40141),
        ("advanced_info.text_image_list.1.image_url", "image_not_uploaded", 40141),
    ]
    assert errors(cash(), is_uploaded=is_uploaded) == []


def test_abstract_needs_exactly_one_cover_image():
    path = "advanced_info.abstract.icon_url_list"
    for icons in ([], [IMG, IMG]):
        assert only_error(put(cash(), path, icons)) == (
            path,
            "exactly_one_image",
            40071,
        )
    assert only_error(drop(cash(), path)) == (path, "exactly_one_image", 40071)


def test_text_image_list_entries():
    path = "advanced_info.text_image_list"
    assert only_error(put(cash(), path, [])) == (path, "required", 40071)
    assert only_error(put(cash(), path, "x")) == (path, "invalid_type", 47001)
    assert only_error(put(cash(), path, [None])) == (f"{path}.0", "invalid_type", 47001)
    assert only_error(drop(cash(), f"{path}.0.image_url")) == (
        f"{path}.0.image_url",
        "required",
        40071,
    )
    assert only_error(put(cash(), f"{path}.1.text", " ")) == (
        f"{path}.1.text",
        "required",
        40071,
    )


def test_lone_surrogates_are_refused():
    assert only_error(put(cash(), "base_info.brand_name", "a\ud800")) == (
        "base_info.brand_name",
        "invalid_text",
        40071,
    )


def test_wrong_json_types_are_47001():
    assert only_error(put(cash(), "base_info.brand_name", 12)) == (
        "base_info.brand_name",
        "invalid_type",
        47001,
    )
    assert only_error(put(cash(), "base_info.can_share", "false")) == (
        "base_info.can_share",
        "invalid_type",
        47001,
    )
    assert only_error(put(cash(), "base_info.date_info", [BEGIN, END])) == (
        "base_info.date_info",
        "invalid_type",
        47001,
    )
    assert errors(put(cash(), "base_info", [])) == [
        ("base_info", "invalid_type", 47001)
    ]


@pytest.mark.parametrize(
    ("card", "error"),
    [
        (None, ("", "invalid_type", 47001)),
        ([], ("", "invalid_type", 47001)),
        ({"cash": {}}, ("card_type", "required", 47001)),
        (
            {"card_type": "GROUPON", "groupon": {}},
            ("card_type", "invalid_choice", 47001),
        ),
        ({"card_type": "cash", "cash": {}}, ("card_type", "invalid_choice", 47001)),
        ({"card_type": "CASH", "gift": {}}, ("", "required", 47001)),
        ({"card_type": "GIFT", "gift": "x"}, ("", "required", 47001)),
    ],
)
def test_structure_errors(card, error):
    assert errors(card) == [error]


def test_share_friends_excludes_can_share_and_can_give_friend():
    card = put(cash(), "base_info.can_share", True)
    put(card, "base_info.can_give_friend", True)
    assert errors(card) == [
        ("base_info.can_share", "mutually_exclusive", 40071),
        ("base_info.can_give_friend", "mutually_exclusive", 40071),
    ]
    assert errors(put(card, "advanced_info.share_friends", False)) == []


def test_no_custom_code():
    assert only_error(put(cash(), "base_info.use_custom_code", True)) == (
        "base_info.use_custom_code",
        "not_supported",
        40071,
    )
    assert errors(put(cash(), "base_info.use_custom_code", False)) == []


def test_stock_cannot_be_set_at_creation():
    assert only_error(put(cash(), "base_info.sku", {"quantity": 100})) == (
        "base_info.sku.quantity",
        "not_supported",
        40071,
    )
    assert errors(put(cash(), "base_info.sku", {"quantity": 0})) == []


def _dates(begin: Any, end: Any, kind: Any = DATE_TYPE) -> dict:
    info = {"type": kind, "begin_timestamp": begin, "end_timestamp": end}
    return put(cash(), "base_info.date_info", info)


@pytest.mark.parametrize(
    ("begin", "end", "error"),
    [
        (BEGIN, BEGIN + 90 * DAY, None),
        (str(BEGIN), str(END), None),  # the seed sends them as strings
        (BEGIN - 10 * DAY, BEGIN + 1, None),  # begun already: fine
        (BEGIN, BEGIN + 90 * DAY + 1, "date_range_too_long"),
        (END, END, "ends_before_begin"),
        (END, BEGIN + DAY, "ends_before_begin"),
        (BEGIN - 30 * DAY, BEGIN, "already_ended"),
        (BEGIN - 30 * DAY, BEGIN - 1, "already_ended"),
        (LATEST_END - 10 * DAY, LATEST_END, None),
        (LATEST_END - 10 * DAY, LATEST_END + 1, "end_too_late"),
    ],
)
def test_validity(begin, end, error):
    found = errors(_dates(begin, end))
    assert found == ([("base_info.date_info", error, 40079)] if error else [])


def test_validity_formats():
    assert only_error(_dates(BEGIN, END, "DATE_TYPE_FIX_TERM")) == (
        "base_info.date_info.type",
        "invalid_choice",
        40071,
    )
    assert only_error(_dates(BEGIN, END, None)) == (
        "base_info.date_info.type",
        "required",
        40071,
    )
    assert only_error(_dates(BEGIN, "2025-02-01")) == (
        "base_info.date_info.end_timestamp",
        "not_a_number",
        47001,
    )
    assert only_error(_dates(-1, END)) == (
        "base_info.date_info.begin_timestamp",
        "out_of_range",
        40071,
    )
    assert only_error(_dates(None, END)) == (
        "base_info.date_info.begin_timestamp",
        "required",
        40071,
    )


def test_an_empty_date_info_is_not_a_validity():
    # Found by tests/test_differential_rules.py: {} used to pass unchecked.
    card = put(cash(), "base_info.date_info", {})
    assert errors(card) == [
        ("base_info.date_info.type", "required", 40071),
        ("base_info.date_info.begin_timestamp", "required", 40071),
        ("base_info.date_info.end_timestamp", "required", 40071),
    ]


def test_naive_now_is_utc():
    naive = datetime(2025, 1, 1)
    assert errors(_dates(BEGIN - DAY, BEGIN + 1), now=naive) == []
    assert errors(_dates(BEGIN - DAY, BEGIN), now=naive) == [
        ("base_info.date_info", "already_ended", 40079)
    ]


def test_consume_share():
    p = "advanced_info."
    other = [{"card_id": "pbLatjpvp0Xq6jtgRRxCKtudkBz8k", "num": 1}]
    card = put(cash(), p + "consume_share_self_num", 0)
    assert errors(put(card, p + "consume_share_card_list", other)) == []
    assert only_error(put(cash(), p + "consume_share_card_list", other)) == (
        p + "consume_share_card_list",
        "mutually_exclusive",
        40071,
    )
    assert only_error(put(cash(), p + "consume_share_self_num", 2)) == (
        p + "consume_share_self_num",
        "out_of_range",
        40071,
    )
    card = drop(cash(), p + "consume_share_self_num")
    assert only_error(put(card, p + "consume_share_card_list", other * 2)) == (
        p + "consume_share_card_list",
        "too_many",
        45021,
    )
    for entry, error in (
        ({"card_id": "p1", "num": 2}, ("num", "out_of_range", 40071)),
        ({"card_id": "p1"}, ("num", "required", 40071)),
        ({"card_id": "", "num": 1}, ("card_id", "required", 40071)),
        ({"card_id": "p" * 33, "num": 1}, ("card_id", "too_long", 40071)),
    ):
        card = drop(cash(), p + "consume_share_self_num")
        found = only_error(put(card, p + "consume_share_card_list", [entry]))
        assert found == (f"{p}consume_share_card_list.0.{error[0]}", *error[1:])


@pytest.mark.parametrize(
    ("entry", "error"),
    [
        ({"type": "SUNDAY", "begin_hour": 23, "end_minute": 59}, None),
        ({"type": "HOLIDAY", "begin_hour": "0"}, None),
        ({"type": "WEEKEND"}, ("type", "invalid_choice")),
        ({}, ("type", "required")),
        ({"type": "MONDAY", "end_hour": 24}, ("end_hour", "out_of_range")),
        ({"type": "MONDAY", "begin_hour": -1}, ("begin_hour", "out_of_range")),
        ({"type": "MONDAY", "begin_minute": 60}, ("begin_minute", "out_of_range")),
    ],
)
def test_time_limit(entry, error):
    found = errors(put(cash(), "advanced_info.time_limit", [entry]))
    path = "advanced_info.time_limit.0."
    assert found == ([(path + error[0], error[1], 40071)] if error else [])


def test_business_service():
    path = "advanced_info.business_service"
    assert errors(put(cash(), path, ["BIZ_SERVICE_DELIVER"])) == []
    assert errors(put(cash(), path, [])) == []
    assert only_error(put(cash(), path, ["BIZ_SERVICE_SPA"])) == (
        path,
        "invalid_choice",
        40071,
    )
    assert only_error(put(cash(), path, ["BIZ_SERVICE_DELIVER"] * 2)) == (
        path,
        "duplicate",
        40071,
    )
    assert only_error(put(cash(), path, [["BIZ_SERVICE_DELIVER"]])) == (
        path,
        "invalid_choice",
        40071,
    )


@pytest.mark.parametrize("color", sorted(PALETTE))
def test_palette_colors_are_valid(color):
    assert errors(put(cash(), "base_info.color", color)) == []


def test_palette():
    assert len(PALETTE) == 14
    assert PALETTE["Color010"] == "#63b359"
    assert PALETTE["Color102"] == "#5E6671"
    for wrong in ("Color0100", "#63b359", "color010", ["Color010"]):
        assert only_error(put(cash(), "base_info.color", wrong)) == (
            "base_info.color",
            "invalid_choice",
            40071,
        )


def test_code_type():
    for code_type in rules.CODE_TYPES:
        assert errors(put(cash(), "base_info.code_type", code_type)) == []
    assert only_error(put(cash(), "base_info.code_type", "CODE_TYPE_PDF417")) == (
        "base_info.code_type",
        "invalid_choice",
        40071,
    )


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (1, None),
        ("3", None),
        (0, "out_of_range"),
        (-1, "out_of_range"),
        (1.0, "not_a_number"),
    ],
)
def test_get_limit(value, code):
    found = errors(put(cash(), "base_info.get_limit", value))
    assert [c for _, c, _ in found] == ([code] if code else [])


def test_errors_are_translated_plain_strings():
    (error,) = validate_create(drop(cash(), "base_info.brand_name"), now=NOW)
    assert type(error.message) is str
    assert error == FieldError(
        "base_info.brand_name", "required", "This field is required.", 40071
    )


def test_wechat_errcode_reads_the_structure_first():
    card = put(cash(reduce_cost=0), "base_info.brand_name", 1)
    assert rules.wechat_errcode(validate_create(card, now=NOW)) == 47001
    assert rules.wechat_errcode(validate_create(cash(reduce_cost=0), now=NOW)) == 40071
    assert rules.wechat_errcode([]) == 0


# -------------------------------------------------------------------- updates


def update_errors(current: dict, update: Any, **kwargs: Any) -> list[tuple]:
    kwargs.setdefault("now", NOW)
    found = validate_update(current, update, **kwargs)
    return [(e.field, e.code, e.errcode) for e in found]


def test_the_seeds_update_example_is_valid():
    update = {
        "base_info": {
            k: v
            for k, v in base_info().items()
            if k not in ("brand_name", "date_info", "logo_url", "notice", "get_limit")
        },
        "advanced_info": {
            "time_limit": [{"type": "MONDAY"}, {"type": "HOLIDAY"}],
            "text_image_list": advanced_info()["text_image_list"],
            "business_service": ["BIZ_SERVICE_FREE_WIFI"],
            "consume_share_card_list": [{"card_id": "pbLatjpvp0Xq6jtgRR", "num": 1}],
            "consume_share_self_num": 0,
            "abstract": {"abstract": "新季菜品", "icon_url_list": [IMG]},
        },
    }
    del update["base_info"]["center_sub_title"]
    assert update_errors(cash(), update) == []
    assert needs_review(update)


def test_date_info_may_only_widen():
    def dates(begin: int, end: int) -> dict:
        return {
            "base_info": {"date_info": {"begin_timestamp": begin, "end_timestamp": end}}
        }

    current = cash()
    assert update_errors(current, dates(BEGIN - DAY, END + DAY)) == []
    assert update_errors(current, dates(BEGIN, BEGIN + 90 * DAY)) == []
    narrowed = ("base_info.date_info", "validity_narrowed", 40079)
    assert update_errors(current, dates(BEGIN, END - 1)) == [narrowed]
    assert update_errors(current, dates(BEGIN + 1, END)) == [narrowed]
    assert update_errors(current, dates(BEGIN, BEGIN + 90 * DAY + 1)) == [
        ("base_info.date_info", "date_range_too_long", 40079)
    ]
    # Only the end: merged into the stored range.
    only_end = {"base_info": {"date_info": {"end_timestamp": END + DAY}}}
    assert update_errors(current, only_end) == []
    assert apply_update(current, only_end)["cash"]["base_info"]["date_info"] == {
        "type": DATE_TYPE,
        "begin_timestamp": BEGIN,
        "end_timestamp": END + DAY,
    }


def test_an_ended_card_may_be_extended():
    later = NOW + timedelta(days=60)
    assert update_errors(cash(), {"base_info": {"notice": "新提醒"}}, now=later) == []
    widen = {"base_info": {"date_info": {"end_timestamp": BEGIN + 90 * DAY}}}
    assert update_errors(cash(), widen, now=later) == []


@pytest.mark.parametrize(
    ("update", "path"),
    [
        ({"base_info": {"brand_name": "新品牌"}}, "base_info.brand_name"),
        ({"base_info": {"sku": {"quantity": 5}}}, "base_info.sku"),
        ({"reduce_cost": 100}, "reduce_cost"),
        ({"gift_name": "梨"}, "gift_name"),
        ({"card_type": "GIFT"}, "card_type"),
        ({"card_id": "p1"}, "card_id"),
        (
            {"advanced_info": {"use_condition": {"least_cost": 1}}},
            "advanced_info.use_condition",
        ),
        ({"advanced_info": {"share_friends": False}}, "advanced_info.share_friends"),
    ],
)
def test_fields_that_cannot_be_updated(update, path):
    assert update_errors(cash(), update) == [(path, "not_updatable", 47001)]


def test_every_updatable_field_passes_the_gate():
    current = cash()
    block = current["cash"]
    for path in UPDATABLE_FIELDS:
        section, name = path.split(".")
        value = block[section].get(name)
        if value is None:
            continue
        assert update_errors(current, {section: {name: value}}) == [], path


def test_merged_card_is_validated_like_a_create():
    assert update_errors(cash(), {"base_info": {"notice": "汉" * 17}}) == [
        ("base_info.notice", "too_long", 40071)
    ]
    assert update_errors(cash(), {"base_info": {"location_id_list": []}}) == [
        ("base_info.location_id_list", "no_store", 41025)
    ]
    assert update_errors(
        cash(),
        {"base_info": {"logo_url": "http://x/y.png"}},
        is_uploaded=lambda url: url == IMG,
    ) == [("base_info.logo_url", "image_not_uploaded", 40141)]
    adding_card = {
        "advanced_info": {"consume_share_card_list": [{"card_id": "p1", "num": 1}]}
    }
    assert update_errors(cash(), adding_card) == [
        ("advanced_info.consume_share_card_list", "mutually_exclusive", 40071)
    ]
    adding_card["advanced_info"]["consume_share_self_num"] = 0
    assert update_errors(cash(), adding_card) == []


def test_update_structure():
    assert update_errors(cash(), []) == [("", "invalid_type", 47001)]
    assert update_errors(cash(), {"base_info": "x"}) == [
        ("base_info", "invalid_type", 47001)
    ]
    assert update_errors(cash(), {}) == []


def test_apply_update_deep_merges_and_never_mutates():
    current = cash()
    snapshot = copy.deepcopy(current)
    update = {
        "base_info": {"notice": "新提醒", "location_id_list": [1]},
        "advanced_info": {"abstract": {"abstract": "新摘要"}},
    }
    update_snapshot = copy.deepcopy(update)
    merged = apply_update(current, update)
    assert current == snapshot and update == update_snapshot
    block = merged["cash"]
    assert block["base_info"]["notice"] == "新提醒"
    assert block["base_info"]["brand_name"] == "微信餐厅"
    assert block["base_info"]["location_id_list"] == [1]  # replaced, not merged
    assert block["advanced_info"]["abstract"] == {
        "abstract": "新摘要",
        "icon_url_list": [IMG],
    }
    merged["cash"]["base_info"]["location_id_list"].append(2)
    assert update["base_info"]["location_id_list"] == [1]
    assert apply_update(current, {}) == current
    assert apply_update(current, {}) is not current


def test_needs_review():
    assert REVIEW_ON_UPDATE <= UPDATABLE_FIELDS
    assert needs_review({"base_info": {"notice": "x"}})
    assert needs_review({"base_info": {"logo_url": IMG}})
    assert needs_review({"advanced_info": {"text_image_list": []}})
    assert needs_review({"advanced_info": {"time_limit": []}})
    for quiet in (
        {"base_info": {"service_phone": "1"}},
        {"base_info": {"location_id_list": [1]}},
        {"base_info": {"date_info": {"end_timestamp": END}}},
        {"base_info": {"custom_url": "http://x"}},
        {"advanced_info": {"consume_share_self_num": 1}},
        {},
        None,
        [],
        {"base_info": "notice"},
    ):
        assert not needs_review(quiet), quiet


def test_updatable_fields_match_spec():
    assert "base_info.brand_name" not in UPDATABLE_FIELDS
    assert "advanced_info.use_condition" not in UPDATABLE_FIELDS
    assert {
        "base_info.logo_url",
        "base_info.notice",
        "base_info.date_info",
        "base_info.code_type",
        "advanced_info.abstract",
        "advanced_info.consume_share_card_list",
    } <= UPDATABLE_FIELDS
    assert len(UPDATABLE_FIELDS) == 26


# -------------------------------------------------------------------- preview


def test_preview_of_a_valid_card():
    result = preview({"card": cash(least_cost=50000)}, now=NOW, quantity=3)
    assert result.title == "全场满500减50"
    assert result.summary == "消费满500元可用"
    assert result.usage_note == "可与其他优惠共享"
    assert result.unit_price == Decimal("0.6")
    assert result.price == Decimal("1.8")
    assert type(result.price) is Decimal
    assert result.color_hex == "#63b359"
    assert result.errors == {}


def test_preview_of_a_partial_card_shows_errors_inline():
    card = {
        "card_type": "CASH",
        "cash": {
            "base_info": {"brand_name": "汉" * 13, "color": "Color102"},
            "advanced_info": {"use_condition": {"accept_category": "蛋挞"}},
            "reduce_cost": "abc",
        },
    }
    result = preview({"card": card}, now=NOW, quantity="10")
    assert result.title == ""  # no valid amount yet
    assert result.summary == "适用于蛋挞"
    assert result.unit_price == Decimal("0.4")
    assert result.price == Decimal("4.0")
    assert result.color_hex == "#5E6671"
    assert result.errors["base_info.brand_name"] == [
        "At most 12 Chinese characters (36 bytes)."
    ]
    assert result.errors["base_info.location_id_list"] == ["Choose at least one store."]
    assert next(iter(result.errors)) == "reduce_cost"


@pytest.mark.parametrize("quantity", [0, -1, "abc", 1.5, True, 100_000_001, [3]])
def test_preview_with_a_bad_quantity(quantity):
    result = preview({"card": cash()}, now=NOW, quantity=quantity)
    assert result.price is None
    assert result.errors == {
        "quantity": ["The quantity must be a whole number from 1 to 100000000."]
    }


@pytest.mark.parametrize("payload", [None, [], "card", {}, {"card": None}, 7])
def test_preview_without_a_card(payload):
    result = preview(payload, now=NOW)
    assert result.errors == {"": ["The request has no card object."]}
    assert (result.title, result.summary, result.unit_price, result.price) == (
        "",
        NO_THRESHOLD,
        Decimal("0.2"),
        None,
    )
    assert result.color_hex is None
