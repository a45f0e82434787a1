"""The portal's rules and the sandbox's agree on every card (SPEC §3, §12).

Both sides implement SPEC §3 on their own: the portal in ``cards/rules.py`` (what it
previews and checks before calling WeChat), the sandbox in
``sandbox/backends/rules.py`` (what WeChat answers). The same random cards go to
both, and they must agree: accepted or refused, and for refused cards on the
errcodes and fields; for accepted cards on the title, summary, usage note and stock
price. The first tests compare the two modules directly, on many cards and
updates; the last sends fewer cards to the live sandbox over HTTP through the
portal's WeChat client (card/create, card/get, the control API's summary,
card/pay/getpayprice).

Neither side is the expected answer of the other: each side's own tests assert
SPEC's examples (cards/tests/test_rules.py, sandbox/tests/test_rules.py).
"""

from __future__ import annotations

import functools
import io
import re
import time
from datetime import UTC, datetime
from decimal import Decimal
from random import Random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cards import rules as portal
from sandbox.backends import rules as wechat

DAY = 86400
NINETY_DAYS = 90 * DAY
INT32_MAX = 2**31 - 1
NOW = 1_750_000_000  # the direct comparison's clock: 2025-06-15 15:06:40 UTC
UPLOADED = "http://mmbiz.qpic.cn/mmbiz/differential-uploaded/0"
FOREIGN = "http://mmbiz.qpic.cn/mmbiz/never-uploaded-here/0"
CJK = "蛋挞羽绒服鞋类洗手液苹果蛋糕阿迪达斯全场通用"
ASCII = "abcdefXYZ0123-_ "

# Byte limits SPEC §3.5 gives (N 汉字 = 3·N bytes) and the ones around the
# thresholds' texts, to generate texts just under, at and over each.
LIMITS = {
    "brand_name": 36,
    "notice": 48,
    "center_title": 27,
    "center_sub_title": 36,
    "custom_url_name": 15,
    "custom_url_sub_title": 18,
    "promotion_url_name": 15,
    "promotion_url_sub_title": 18,
    "service_phone": 24,
    "gift_name": 18,
    "gift_unit": 6,
    "abstract": 60,
    "category": 60,
}


# --- the cards ----------------------------------------------------------------------
@functools.cache
def _sizes(limit: int, over: bool) -> st.SearchStrategy[int]:
    if over:  # one byte over most often: the exact boundary
        return st.sampled_from([limit + 1, limit + 1, limit + 2, limit + 3])
    return st.sampled_from([limit, limit - 1, limit - 2]) | st.integers(1, limit)


def text_of(draw: st.DrawFn, pick: Random, limit: int, *, over: bool = False) -> str:
    """A text of CJK (3 bytes each) and ASCII (1 byte) characters whose UTF-8 size
    is at most ``limit`` bytes — often exactly at it or just under — or, ``over``,
    1 to 3 bytes over it. The sizes are drawn; the characters come from ``pick``
    (drawing each one would make data generation most of the test's time)."""
    size = draw(_sizes(limit, over))
    cjk = pick.choice([0, size // 3, pick.randint(0, size // 3)])
    letters = [pick.choice(CJK) for _ in range(cjk)]
    letters += [pick.choice(ASCII) for _ in range(size - 3 * cjk)]
    pick.shuffle(letters)
    return "".join(letters)


fen = st.integers(1, 99_999_999) | st.sampled_from([1, 99, 100, 550, 5000, INT32_MAX])

# What can be wrong with a card, one or two at a time (most cards have none).
SPOILERS = (
    "reduce_cost",  # 0, negative, over int32, not a number, absent
    "least_cost",  # not above the amount off (SPEC §3.5 Decision), or negative
    "other_type",  # a field or threshold of the other card type (SPEC §3.1)
    "gift_num",  # 0 or 1000
    "too_long",  # one text 1–3 bytes over its limit
    "logo",  # not uploaded
    "picture",  # not uploaded, or no picture at all
    "cover",  # zero or two cover images
    "store",  # no store
    "color",  # the seed's Color0100 spelling
    "code_type",
    "share",  # can_share / can_give_friend with share_friends
    "gifts_after_use",  # another card beside consume_share_self_num, or two cards
    "validity_long",  # over 90 days
    "validity_reversed",  # ends at or before it begins
    "validity_ended",  # ended already (to the second)
    "validity_2038",  # ends after 2038-01-19
    "validity_shape",  # another date type, or an empty date_info
)


# A text over its limit has 13 fields to pick from: it comes up more often.
WEIGHTED = (*SPOILERS, "too_long", "too_long", "too_long")


@st.composite
def cards(
    draw: st.DrawFn, *, now: int = NOW, image: str = UPLOADED, exact_now: bool = True
) -> dict:
    """A friend coupon as a merchant might send it: every threshold combination,
    texts at their byte limits, amounts 1..99999999 fen, dates around their limits,
    cash or gift — and on about half the cards one or two things WeChat refuses.
    ``exact_now`` False keeps the end a minute or more away from ``now``."""
    count = draw(st.sampled_from([0, 0, 0, 1, 1, 2]))  # about half are clean
    spoiled = set(
        draw(st.lists(st.sampled_from(WEIGHTED), min_size=count, max_size=count))
    )
    card_type = draw(st.sampled_from(["CASH", "GIFT"]))
    too_long = draw(st.sampled_from(sorted(LIMITS))) if "too_long" in spoiled else ""

    pick = Random(draw(st.integers(0, 2**32)))  # the characters of every text

    def text(key: str) -> str:
        return text_of(draw, pick, LIMITS[key], over=key == too_long)

    block: dict[str, Any] = {}
    reduce = None
    if card_type == "CASH":
        reduce = draw(fen)
        if "reduce_cost" in spoiled:
            reduce = draw(st.sampled_from([0, -1, INT32_MAX + 1, "50元", 50.0, None]))
        block["reduce_cost"] = reduce
    if card_type == "GIFT" or ("other_type" in spoiled and draw(st.booleans())):
        block["gift_name"] = text("gift_name")
        block["gift_num"] = draw(st.integers(1, 999) | st.sampled_from([1, 999, "12"]))
        if "gift_num" in spoiled:
            block["gift_num"] = draw(st.sampled_from([0, 1000]))
        block["gift_unit"] = text("gift_unit")
    if card_type == "GIFT" and "other_type" in spoiled and draw(st.booleans()):
        block["reduce_cost"] = draw(fen)

    condition: dict[str, Any] = {}
    for key in ("accept_category", "reject_category", "object_use_for"):
        own = (key == "object_use_for") == (card_type == "GIFT")
        if (own and draw(st.booleans())) or (not own and "other_type" in spoiled):
            # Around the title's 5-character rule (SPEC §3.2) or the byte limit.
            if draw(st.booleans()):
                length = draw(st.integers(1, 7))
                condition[key] = "".join(
                    pick.choice(CJK + "ABC") for _ in range(length)
                )
            else:
                condition[key] = text("category")
    if draw(st.booleans()):
        least = draw(st.sampled_from([0, 50000]) | fen)
        if isinstance(reduce, int) and reduce > 0:
            least = draw(st.sampled_from([reduce + 1, reduce * 10, least + reduce]))
        if "least_cost" in spoiled:
            least = -1
            if isinstance(reduce, int) and reduce > 0:
                least = draw(st.sampled_from([reduce, reduce - 1, 1]))
        condition["least_cost"] = least
    if draw(st.booleans()):
        condition["can_use_with_other_discount"] = draw(st.booleans())

    base: dict[str, Any] = {
        "logo_url": FOREIGN if "logo" in spoiled else image,
        "brand_name": text("brand_name"),
        "code_type": "CODE_TYPE_WHATEVER"
        if "code_type" in spoiled
        else draw(st.sampled_from(["CODE_TYPE_QRCODE", "CODE_TYPE_TEXT"])),
        # The seed's spelling Color0100 is not a real name (SPEC §3.5).
        "color": "Color0100"
        if "color" in spoiled
        else draw(st.sampled_from(spec_palette())),
        "description": "不可与其他优惠同享",
        "date_info": draw(validity(now, spoiled, exact_now=exact_now)),
        "location_id_list": [] if "store" in spoiled else [272981040, 400183234],
        "can_share": "share" in spoiled and draw(st.booleans()),
        "can_give_friend": "share" in spoiled,
    }
    for key in (
        "notice",
        "center_title",
        "center_sub_title",
        "custom_url_name",
        "custom_url_sub_title",
        "promotion_url_name",
        "promotion_url_sub_title",
        "service_phone",
    ):
        if key == too_long or draw(st.booleans()):
            base[key] = text(key)
    if too_long == "abstract" or draw(st.booleans()):
        icons = draw(st.sampled_from([0, 2])) if "cover" in spoiled else 1
        abstract = {"abstract": text("abstract"), "icon_url_list": [image] * icons}
    else:
        abstract = None
    picture = FOREIGN if "picture" in spoiled and draw(st.booleans()) else image
    advanced: dict[str, Any] = {
        "use_condition": condition,
        "text_image_list": [{"image_url": picture, "text": "招牌菜品"}],
        "share_friends": True,
        "consume_share_self_num": 1,
    }
    if "picture" in spoiled and picture == image:
        advanced["text_image_list"] = []
    if abstract:
        advanced["abstract"] = abstract
    if "gifts_after_use" in spoiled:
        other_card = {"card_id": "pbLatjhvf1xBtaOIhYOCnp7Wv4DA", "num": 1}
        advanced["consume_share_card_list"] = [other_card] * draw(st.integers(1, 2))
    block["base_info"] = base
    block["advanced_info"] = advanced
    return {"card_type": card_type, card_type.lower(): block}


@st.composite
def validity(draw: st.DrawFn, now: int, spoiled: set, *, exact_now: bool) -> dict:
    """date_info: up to exactly 90 days, ending from a second (``exact_now``) or a
    few minutes after ``now`` up to 2038-01-19 03:14:07 — unless spoiled."""
    margin = 1 if exact_now else 600
    length = draw(st.sampled_from([NINETY_DAYS, 1, DAY]) | st.integers(1, NINETY_DAYS))
    end = now + draw(st.sampled_from([margin, DAY]) | st.integers(margin, 400 * DAY))
    if draw(st.integers(0, 9)) == 0:
        end = INT32_MAX  # the last second SPEC §3.5 allows
    if "validity_long" in spoiled:
        length = draw(
            st.sampled_from([NINETY_DAYS + 1]) | st.integers(NINETY_DAYS + 1, 400 * DAY)
        )
    if "validity_reversed" in spoiled:
        length = draw(st.sampled_from([0, -1, -DAY]))
    if "validity_ended" in spoiled:
        end = now - draw(
            st.sampled_from([0, 1]) if exact_now else st.integers(margin, 30 * DAY)
        )
    if "validity_2038" in spoiled:
        end = INT32_MAX + draw(st.sampled_from([1, DAY]))
    dates: dict[str, Any] = {
        "type": "DATE_TYPE_FIX_TIME_RANGE",
        "begin_timestamp": end - length,
        "end_timestamp": end,
    }
    if draw(st.booleans()):
        dates["begin_timestamp"] = str(end - length)  # WeChat takes numbers as text
    if "validity_shape" in spoiled:
        dates = draw(st.sampled_from([{**dates, "type": "DATE_TYPE_FIX_TERM"}, {}]))
    return dates


def spec_palette() -> list[str]:
    """SPEC §3.5's color names, written out here: neither side's list is the answer."""
    numbers = "010 020 030 040 050 060 070 080 081 082 090 100 101 102"
    return [f"Color{number}" for number in numbers.split(" ")]


# --- the comparison -----------------------------------------------------------------
def portal_answer(
    card: dict, now: float, uploaded: set[str]
) -> list[portal.FieldError]:
    return portal.validate_create(
        card, now=datetime.fromtimestamp(now, UTC), is_uploaded=uploaded.__contains__
    )


def refusals(found: list) -> list[tuple[int, str]]:
    """(errcode, field) of each error or problem, in a comparable order."""
    return sorted((item.errcode, item.field) for item in found)


def assert_same_texts(card: dict, *, title: str, summary: str) -> None:
    assert title == portal.title(card)
    assert summary == portal.summary(card)
    assert title, "an accepted card has a title"


derandomized = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@settings(derandomized, max_examples=1000)
@given(card=cards(), quantity=st.integers(1, 100_000_000))
def test_the_portal_and_the_sandbox_agree_on_every_card(card, quantity):
    errors = portal_answer(card, NOW, {UPLOADED})
    problems = wechat.create_problems(
        card, now=NOW, is_uploaded={UPLOADED}.__contains__
    )
    # The same refusals: the same (errcode, field) pairs, as often, on both sides.
    assert refusals(errors) == refusals(problems)
    if errors:
        answered = wechat.reported(problems)
        assert answered.errcode == portal.wechat_errcode(errors)
        return
    assert_same_texts(card, title=wechat.title(card), summary=wechat.summary(card))
    assert wechat.usage_note(card) == portal.usage_note(card)
    unit = wechat.unit_price(card)
    assert unit == portal.unit_price(card)
    assert unit * quantity == portal.stock_price(portal.unit_price(card), quantity)


@st.composite
def updates(draw: st.DrawFn, card: dict) -> dict:
    """A card/update type block for ``card``: fields that may change (some to
    values WeChat refuses), fields that may not, and the validity widened,
    narrowed or stretched past 90 days."""
    block = card[card["card_type"].lower()]
    dates = dict(block["base_info"]["date_info"])
    begin, end = (
        int(value) if isinstance(value, str) and value.isdigit() else value
        for value in (dates.get("begin_timestamp"), dates.get("end_timestamp"))
    )
    choices: dict[tuple[str, str], st.SearchStrategy] = {
        ("base_info", "service_phone"): st.sampled_from(["020-12345678", "1" * 25]),
        ("base_info", "logo_url"): st.sampled_from([UPLOADED, FOREIGN]),
        ("base_info", "notice"): st.sampled_from(["请出示二维码", "汉" * 17]),
        ("base_info", "color"): st.sampled_from(["Color020", "Color0100"]),
        ("base_info", "location_id_list"): st.sampled_from([[1], []]),
        ("base_info", "get_limit"): st.sampled_from([1, 0, "two"]),
        ("base_info", "brand_name"): st.just("别的餐厅"),  # may not change
        ("advanced_info", "use_condition"): st.just({"least_cost": 100}),  # neither
        ("advanced_info", "text_image_list"): st.sampled_from(
            [[{"image_url": UPLOADED, "text": "新图文"}], []]
        ),
        ("advanced_info", "consume_share_self_num"): st.sampled_from([0, 1, 2]),
    }
    if isinstance(begin, int) and isinstance(end, int):
        choices["base_info", "date_info"] = st.sampled_from(
            [
                {**dates, "end_timestamp": end + DAY},  # wider
                {**dates, "end_timestamp": end - 1},  # narrower
                {**dates, "begin_timestamp": begin + 1},  # narrower
                {**dates, "begin_timestamp": begin - DAY},  # wider
                {**dates, "end_timestamp": begin + NINETY_DAYS + 1},  # too long
            ]
        )
    keys = draw(st.lists(st.sampled_from(sorted(choices)), min_size=1, max_size=3))
    update: dict[str, Any] = {}
    for section, name in keys:
        update.setdefault(section, {})[name] = draw(choices[section, name])
    if draw(st.integers(0, 9)) == 0:
        update["reduce_cost"] = 100  # not a section: may not change
    return update


@settings(derandomized, max_examples=300)
@given(data=st.data())
def test_the_portal_and_the_sandbox_agree_on_every_update(data):
    card = data.draw(cards())
    update = data.draw(updates(card))
    errors = portal.validate_update(
        card,
        update,
        now=datetime.fromtimestamp(NOW, UTC),
        is_uploaded={UPLOADED}.__contains__,
    )
    problems = wechat.update_problems(card, update, is_uploaded={UPLOADED}.__contains__)
    assert refusals(errors) == refusals(problems)
    assert wechat.sends_to_review(update) == portal.needs_review(update)
    if not errors:
        assert wechat.merged(card, update) == portal.apply_update(card, update)


# --- the same over HTTP ---------------------------------------------------------------
APPID = "wx00000000d1ff0001"
SECRET = "differential-secret-0123456789ab"
HINT = re.compile(r"hint: \[([^\]]*)\]")


@pytest.fixture
def wechat_account(sandbox):
    """The portal's WeChat client on a sandbox account with an open coin account,
    and an image uploaded to it."""
    from PIL import Image

    sandbox.account(APPID, SECRET, auto_review_seconds=0)
    client = sandbox.client(APPID, SECRET)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="JPEG")
    image = client.media.upload_image(buffer.getvalue()).url
    client.coin.activate()
    return sandbox, client, image


def test_the_sandbox_over_http_agrees_with_the_portal(wechat_account):
    from wechat.errors import WeChatError

    sandbox, client, image = wechat_account
    now = int(time.time())
    seen = {"accepted": 0, "refused": 0}

    @settings(derandomized, max_examples=80)
    @given(
        card=cards(now=now, image=image, exact_now=False),
        quantity=st.integers(1, 100_000),
    )
    def check(card, quantity):
        errors = portal_answer(card, time.time(), {image})
        try:
            card_id = client.card.create(card)
        except WeChatError as refused:
            seen["refused"] += 1
            assert errors, f"the sandbox refused a card the portal accepts: {refused}"
            hint = HINT.search(refused.errmsg)
            assert hint, refused.errmsg
            assert (refused.errcode, hint[1]) in {(e.errcode, e.field) for e in errors}
            assert refused.errcode == portal.wechat_errcode(errors)
            return
        seen["accepted"] += 1
        assert not errors, f"the sandbox took a card the portal refuses: {errors}"
        got = client.card.get(card_id)
        listed = sandbox.control("GET", "cards", params={"appid": APPID})["cards"]
        [row] = [row for row in listed if row["card_id"] == card_id]
        assert_same_texts(card, title=got.title, summary=row["summary"])
        assert row["title"] == got.title
        sandbox.control("POST", f"cards/{card_id}/review", json={"approve": True})
        quote = client.coin.get_pay_price(card_id, quantity)
        assert quote.price == portal.unit_price(card) * quantity
        assert type(quote.price) is Decimal

    check()
    # Both kinds of answer were exercised.
    assert seen["accepted"] >= 10 and seen["refused"] >= 10, seen
