"""Property tests of cards.rules: total on any JSON value, exact money (SPEC §3)."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cards import rules

NOW = datetime(2025, 1, 1, tzinfo=UTC)
BEGIN = int(NOW.timestamp())
IMG = "http://mmbiz.qpic.cn/mmbiz/abc/0"
ERRCODES = {40071, 40079, 40141, 41025, 45021, 47001}
CODE_RE = re.compile(r"[a-z][a-z0-9_]*")

fast = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# Text with CJK, ASCII, digits and lone surrogates (which JSON can carry).
texts = st.text(
    alphabet=st.characters(categories=["Lo", "Lu", "Ll", "Nd", "Zs", "Po", "Cs"]),
    max_size=40,
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, 1, -1, 2**31, 2**63, 10**40])
    | st.builds(pow, st.just(10), st.just(5000))  # too long for str(): never printed
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts
    | st.from_regex(r"-?[0-9]{1,40}", fullmatch=True)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=25,
)

# Values that look like what a field expects, mixed with garbage.
plausible = st.one_of(
    json_values,
    st.integers(min_value=-5, max_value=200_000),
    st.sampled_from(
        [
            "Color010",
            "Color102",
            "CODE_TYPE_TEXT",
            "MONDAY",
            "HOLIDAY",
            "BIZ_SERVICE_DELIVER",
            rules.DATE_TYPE,
            IMG,
            "蛋挞",
            "羽绒服和运动鞋",
            "",
            "5000",
        ]
    ),
    st.lists(st.integers(min_value=-1, max_value=10**6), max_size=3),
    st.lists(st.sampled_from([*sorted(rules.BUSINESS_SERVICES), "X"]), max_size=5),
)


def _optional(keys: list[str], values: st.SearchStrategy) -> st.SearchStrategy:
    return st.fixed_dictionaries({}, optional={key: values for key in keys})


use_conditions = _optional(
    [
        "accept_category",
        "reject_category",
        "least_cost",
        "object_use_for",
        "can_use_with_other_discount",
    ],
    plausible,
)
date_infos = _optional(
    ["type", "begin_timestamp", "end_timestamp"],
    st.one_of(plausible, st.integers(BEGIN - 10**7, BEGIN + 10**7)),
)
base_infos = _optional(
    [
        "logo_url",
        "brand_name",
        "code_type",
        "color",
        "notice",
        "description",
        "service_phone",
        "location_id_list",
        "get_limit",
        "can_share",
        "can_give_friend",
        "use_custom_code",
        "center_title",
        "custom_url",
        "sku",
    ],
    plausible,
).flatmap(
    lambda base: st.one_of(
        st.just(base), date_infos.map(lambda d: {**base, "date_info": d})
    )
)
advanced_infos = st.fixed_dictionaries(
    {},
    optional={
        "use_condition": st.one_of(use_conditions, plausible),
        "abstract": st.one_of(
            _optional(["abstract", "icon_url_list"], plausible), plausible
        ),
        "text_image_list": st.one_of(
            st.lists(_optional(["image_url", "text"], plausible), max_size=3),
            plausible,
        ),
        "time_limit": st.one_of(
            st.lists(
                _optional(["type", "begin_hour", "end_hour", "end_minute"], plausible),
                max_size=3,
            ),
            plausible,
        ),
        "business_service": plausible,
        "consume_share_self_num": plausible,
        "consume_share_card_list": st.one_of(
            st.lists(_optional(["card_id", "num"], plausible), max_size=3), plausible
        ),
        "share_friends": plausible,
    },
)


@st.composite
def cards(draw: st.DrawFn) -> Any:
    """Structurally plausible cards whose field values are random."""
    card_type = draw(st.sampled_from(["CASH", "GIFT", "MEMBER", None, 5]))
    block = draw(
        _optional(["reduce_cost", "gift_name", "gift_num", "gift_unit"], plausible)
    )
    if draw(st.booleans()):
        block["base_info"] = draw(st.one_of(base_infos, plausible))
    if draw(st.booleans()):
        block["advanced_info"] = draw(st.one_of(advanced_infos, plausible))
    key = draw(st.sampled_from(["cash", "gift", "member"]))
    return {"card_type": card_type, key: block}


anything = st.one_of(json_values, cards())


def _check_preview(result: rules.Preview) -> None:
    assert isinstance(result.title, str)
    assert isinstance(result.summary, str) and result.summary
    assert result.usage_note in ("可与其他优惠共享", "不可与其他优惠共享")
    assert type(result.unit_price) is Decimal
    assert result.unit_price in rules.UNIT_PRICES
    assert result.price is None or type(result.price) is Decimal
    assert result.color_hex is None or result.color_hex in rules.PALETTE.values()
    assert isinstance(result.errors, dict)
    for field, messages in result.errors.items():
        assert isinstance(field, str)
        assert messages and all(type(m) is str and m for m in messages)


@fast
@given(payload=json_values, quantity=json_values)
def test_preview_never_raises_on_any_json(payload, quantity):
    _check_preview(rules.preview(payload, now=NOW, quantity=quantity))


@fast
@given(card=cards(), quantity=st.one_of(st.none(), st.integers(-5, 10**9), texts))
def test_preview_never_raises_on_plausible_cards(card, quantity):
    result = rules.preview(
        {"card": card},
        now=NOW,
        quantity=quantity,
        is_uploaded=lambda url: url == IMG,
        known_location_ids={1, 2, 3},
    )
    _check_preview(result)
    assert result.title == rules.title(card)
    assert result.summary == rules.summary(card)
    assert result.unit_price == rules.unit_price(card)
    assert result.usage_note == rules.usage_note(card)


@fast
@given(card=anything)
def test_validate_create_never_raises(card):
    errors = rules.validate_create(card, now=NOW, is_uploaded=lambda url: False)
    assert isinstance(errors, list)
    for error in errors:
        assert isinstance(error, rules.FieldError)
        assert type(error.message) is str and error.message
        assert error.errcode in ERRCODES
        assert CODE_RE.fullmatch(error.code)
        assert isinstance(error.field, str)
    assert isinstance(rules.wechat_errcode(errors), int)


@fast
@given(card=anything)
def test_derived_texts_never_raise(card):
    assert isinstance(rules.title(card), str)
    assert isinstance(rules.summary(card), str)
    assert isinstance(rules.usage_note(card), str)
    assert rules.unit_price(card) in rules.UNIT_PRICES


@fast
@given(current=anything, update=st.one_of(json_values, advanced_infos, base_infos))
def test_updates_never_raise_nor_mutate(current, update):
    update = {"advanced_info": update} if isinstance(update, dict) else update
    before = (copy.deepcopy(current), copy.deepcopy(update))
    errors = rules.validate_update(current, update, now=NOW)
    assert all(isinstance(e, rules.FieldError) for e in errors)
    merged = rules.apply_update(current, update)
    assert isinstance(merged, dict)
    assert isinstance(rules.needs_review(update), bool)
    assert (current, update) == before


def _valid_card(reduce_cost: int, least_cost: int, accept: str) -> dict:
    condition: dict[str, Any] = {"least_cost": least_cost}
    if accept:
        condition["accept_category"] = accept
    return {
        "card_type": "CASH",
        "cash": {
            "reduce_cost": reduce_cost,
            "base_info": {
                "logo_url": IMG,
                "brand_name": "店",
                "code_type": "CODE_TYPE_QRCODE",
                "color": "Color020",
                "description": "说明",
                "location_id_list": [1],
                "date_info": {
                    "type": rules.DATE_TYPE,
                    "begin_timestamp": BEGIN,
                    "end_timestamp": BEGIN + 86400,
                },
            },
            "advanced_info": {
                "use_condition": condition,
                "text_image_list": [{"image_url": IMG, "text": "图文"}],
            },
        },
    }


@fast
@given(
    reduce_cost=st.integers(1, rules.INT32_MAX - 1),
    above=st.one_of(st.none(), st.integers(1, rules.INT32_MAX)),
    accept=st.text(alphabet="蛋挞羽绒服鞋类AB", max_size=8),
)
def test_valid_cash_cards_have_a_title_and_no_errors(reduce_cost, above, accept):
    # No minimum spend (0), or one above the amount off (SPEC §3.5 Decision).
    least_cost = 0 if above is None else min(reduce_cost + above, rules.INT32_MAX)
    card = _valid_card(reduce_cost, least_cost, accept)
    assert rules.validate_create(card, now=NOW) == []
    built = rules.title(card)
    assert (
        built.endswith(f"减{rules.fen_to_yuan_text(reduce_cost)}")
        or built.endswith("元代金券")
        or built.endswith("元")
    )
    assert ("满" in built) == (least_cost > 0)
    expected = "0.6" if least_cost else "0.4" if accept.strip() else "0.2"
    assert rules.unit_price(card) == Decimal(expected)


@fast
@given(
    reduce_cost=st.integers(1, rules.INT32_MAX),
    least_cost=st.integers(1, rules.INT32_MAX),
)
def test_a_reduction_at_or_over_the_minimum_spend_is_refused(reduce_cost, least_cost):
    card = _valid_card(reduce_cost, least_cost, "")
    codes = [(e.field, e.code) for e in rules.validate_create(card, now=NOW)]
    if reduce_cost >= least_cost:
        assert codes == [("reduce_cost", "not_below_minimum_spend")]
    else:
        assert codes == []


@fast
@given(fen=st.integers(0, 10**15))
def test_yuan_text_round_trips(fen):
    text = rules.fen_to_yuan_text(fen)
    assert rules.parse_yuan(text) == fen
    assert Decimal(text) == Decimal(fen) / 100
    assert not (("." in text) and text.endswith("0"))


@fast
@given(
    unit=st.sampled_from(rules.UNIT_PRICES),
    quantity=st.integers(0, rules.MAX_STOCK_QUANTITY),
)
def test_stock_price_is_exact(unit, quantity):
    price = rules.stock_price(unit, quantity)
    assert type(price) is Decimal
    assert price * 10 == int(unit * 10) * quantity  # no rounding anywhere


@fast
@given(text=st.text(alphabet=st.sampled_from("汉字a1 ,"), max_size=50))
def test_brand_name_limit_is_36_bytes(text):
    card = _valid_card(100, 0, "")
    card["cash"]["base_info"]["brand_name"] = text
    codes = [e.code for e in rules.validate_create(card, now=NOW)]
    if not text.strip():
        assert codes == ["required"]
    else:
        assert codes == (["too_long"] if rules.byte_len(text) > 36 else [])
