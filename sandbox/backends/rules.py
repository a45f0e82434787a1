"""WeChat's own rules for friend coupons, as the sandbox applies them (SPEC §3).

Written from SPEC.md §3 and WeChat's pages (``../shared/seeds/``), not from the
portal: the sandbox *is* WeChat, and a rule that both sides shared would pass every
test even when it is wrong (SPEC §12). ``tests/test_differential_rules.py`` sends the
same random cards to the portal's rules and to this module (directly, and over HTTP)
and requires the same titles, summaries, prices and refusals.

A card is the ``card`` object of ``card/create``::

    {"card_type": "CASH", "cash": {"base_info": {...}, "advanced_info": {...},
                                   "reduce_cost": 5000}}

Every refused value is a ``Problem(errcode, field)``: ``field`` is its JSON path
inside the type block ("reduce_cost", "base_info.date_info",
"advanced_info.text_image_list.0.image_url"; "card_type"; "" for the card), which
WeChat names in its errmsg as ``hint: [field]``. WeChat answers one errcode per call;
``reported`` picks it. Nothing here touches the database.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# --- WeChat's errcodes for card fields (SPEC §11) ---------------------------------
FORMAT_ERROR = 40071  # lengths, enums, ranges, missing values
INVALID_TIME = 40079  # validity: over 90 days, end ≤ begin, ended, narrowed
IMAGE_NOT_UPLOADED = 40141  # an image URL uploadimg did not return
NO_LOCATION = 41025  # no store (POI) in location_id_list
TOO_MANY_GIFT_RULES = 45021  # more than one consume_share card
BAD_STRUCTURE = 47001  # JSON of the wrong shape, fields that cannot be updated


@dataclass(frozen=True)
class Problem:
    errcode: int
    field: str


def reported(problems: Iterable[Problem]) -> Problem | None:
    """The problem WeChat answers with: a JSON-structure problem (47001) before any
    value problem — WeChat reads the shape before the values — else the first
    found. None when there is no problem."""
    problems = list(problems)
    for problem in problems:
        if problem.errcode == BAD_STRUCTURE:
            return problem
    return problems[0] if problems else None


# --- what WeChat accepts (SPEC §3, §3.5) -------------------------------------------
TYPE_BLOCKS = {"CASH": "cash", "GIFT": "gift"}  # SPEC §3: the only two types
CASH_ONLY_FIELDS = ("reduce_cost",)
GIFT_ONLY_FIELDS = ("gift_name", "gift_num", "gift_unit")
CASH_ONLY_THRESHOLDS = ("accept_category", "reject_category")  # SPEC §3.1
GIFT_ONLY_THRESHOLDS = ("object_use_for",)

INT_MAX = 2**31 - 1  # WeChat's int: reduce_cost, least_cost, get_limit
FIXED_RANGE = "DATE_TYPE_FIX_TIME_RANGE"  # the only date_info type of friend coupons
MAX_VALIDITY_SECONDS = 90 * 86400  # SPEC §3.5: end − begin ≤ 90 days
LAST_END = 2**31 - 1  # SPEC §3.5: the validity ends before 2038-01-19 03:14:08 UTC
MAX_GIFT_NUM = 999  # seed 000: gift_num 限三位数字
MAX_TEXT_IMAGE_CHARS = 5000  # seed 000: text 5000字以内 (characters)


def hanzi(count: int) -> int:
    """SPEC §3.5 Decision: a limit of N 汉字 is at most 3·N UTF-8 bytes."""
    return 3 * count


URL_BYTES = 128  # seed 000: logo_url, center_url, custom_url, promotion_url string(128)

# base_info's texts → their limit in UTF-8 bytes (SPEC §3.5; the seed's string(N)).
# Where SPEC gives no limit the sandbox keeps the one it has always answered:
# promotion_url_name 5 汉字 like custom_url_name, and every image URL 128 bytes
# like logo_url (uploadimg returns one kind of URL).
BASE_TEXTS: dict[str, int] = {
    "brand_name": hanzi(12),
    "notice": hanzi(16),
    "description": 3072,  # SPEC: 1000 汉字, string(3072)
    "service_phone": 24,
    "center_title": hanzi(9),
    "center_sub_title": hanzi(12),
    "center_url": URL_BYTES,
    "custom_url_name": hanzi(5),
    "custom_url": URL_BYTES,
    "custom_url_sub_title": hanzi(6),
    "promotion_url_name": hanzi(5),
    "promotion_url": URL_BYTES,
    "promotion_url_sub_title": hanzi(6),
}
REQUIRED_BASE_TEXTS = ("brand_name", "description")
GIFT_NAME_BYTES, GIFT_UNIT_BYTES = hanzi(6), hanzi(2)
ABSTRACT_BYTES = hanzi(20)  # string(60)
# Thresholds are printed in the title and summary; SPEC gives no limit, and the
# sandbox keeps the one it has always answered: 20 汉字.
THRESHOLD_TEXT_BYTES = hanzi(20)
CARD_ID_BYTES = 32  # seed 000: card_id string(32)

# SPEC §3.5's palette, with the real names (the seed writes Color0100…).
PALETTE = (
    "Color010",
    "Color020",
    "Color030",
    "Color040",
    "Color050",
    "Color060",
    "Color070",
    "Color080",
    "Color081",
    "Color082",
    "Color090",
    "Color100",
    "Color101",
    "Color102",
)
CODE_TYPES = (
    "CODE_TYPE_TEXT",
    "CODE_TYPE_BARCODE",
    "CODE_TYPE_QRCODE",
    "CODE_TYPE_ONLY_QRCODE",
    "CODE_TYPE_ONLY_BARCODE",
    "CODE_TYPE_NONE",
)
BUSINESS_SERVICES = (
    "BIZ_SERVICE_DELIVER",
    "BIZ_SERVICE_FREE_PARK",
    "BIZ_SERVICE_WITH_PET",
    "BIZ_SERVICE_FREE_WIFI",
)
TIME_LIMIT_DAYS = (
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
    "HOLIDAY",
)

# SPEC §3.5 "Updatable later", as (section, field) of the type block.
UPDATABLE: frozenset[tuple[str, str]] = frozenset(
    [
        *(
            ("base_info", name)
            for name in [
                "logo_url",
                "notice",
                "description",
                "service_phone",
                "color",
                "location_id_list",
                "center_title",
                "center_sub_title",
                "center_url",
                "custom_url_name",
                "custom_url",
                "custom_url_sub_title",
                "promotion_url_name",
                "promotion_url",
                "promotion_url_sub_title",
                "code_type",
                "get_limit",
                "can_share",
                "can_give_friend",
                "date_info",
            ]
        ),
        *(
            ("advanced_info", name)
            for name in [
                "abstract",
                "text_image_list",
                "business_service",
                "time_limit",
                "consume_share_self_num",
                "consume_share_card_list",
            ]
        ),
    ]
)
# Which updates send a card back to review (send_check true) — SPEC is silent and
# the seed's 是否提审 column is empty. The sandbox's decision: whatever a user reads
# on the coupon; links, stores, limits, dates and gifts after use change quietly.
QUIET_UPDATES: frozenset[tuple[str, str]] = frozenset(
    [
        ("base_info", "service_phone"),
        ("base_info", "location_id_list"),
        ("base_info", "code_type"),
        ("base_info", "get_limit"),
        ("base_info", "can_share"),
        ("base_info", "can_give_friend"),
        ("base_info", "date_info"),
        ("base_info", "center_url"),
        ("base_info", "custom_url"),
        ("base_info", "promotion_url"),
        ("advanced_info", "consume_share_self_num"),
        ("advanced_info", "consume_share_card_list"),
    ]
)

# --- stock price (SPEC §3.4; seed 000 定价标准) --------------------------------------
PRICE_NO_THRESHOLD = Decimal("0.2")
PRICE_CATEGORY = Decimal("0.4")  # accept_category / reject_category
PRICE_SPEND = Decimal("0.6")  # least_cost / object_use_for
NO_THRESHOLD_SUMMARY = "无起用金额限制,全场通用,不限品类"  # SPEC §3.3


# --- reading JSON values ----------------------------------------------------------
_HUGE = 10**30  # what a string of more than 30 digits counts as: too big for WeChat


def _as_int(value: Any) -> int | None:
    """The integer a JSON value stands for — an int, or a string of ASCII digits
    (WeChat takes numbers as strings: "最终需转换为字符串形态传入") — else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not isinstance(value, str) or not value.isascii():
        return None
    negative = value.startswith("-")
    digits = value[1:] if negative else value
    if not digits.isdigit():
        return None
    if len(digits) > 30:  # int() of thousands of digits is slow or refused
        return -_HUGE if negative else _HUGE
    return int(value)


def _block_key(card_type: Any) -> str | None:
    """The key of the type block ("cash", "gift") of a card_type, if it is one."""
    return TYPE_BLOCKS.get(card_type) if isinstance(card_type, str) else None


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


class _Reader:
    """One JSON object of the card at ``path``: each method reads one field and
    returns its value when WeChat takes it, else None after recording why (a
    field that is absent and not required is simply None)."""

    def __init__(self, found: list[Problem], obj: Any, path: str = ""):
        self.found = found
        self.obj = obj if isinstance(obj, dict) else {}
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def refuse(self, key: str, errcode: int) -> None:
        self.found.append(Problem(errcode, self.where(key)))

    def get(self, key: str) -> Any:
        return self.obj.get(key)

    def text(
        self, key: str, max_bytes: int, *, required: bool = False, max_chars: int = 0
    ) -> str | None:
        value = self.get(key)
        if _is_blank(value):
            if required:
                self.refuse(key, FORMAT_ERROR)
            return None
        if not isinstance(value, str):
            return self.refuse(key, BAD_STRUCTURE)
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate: not text WeChat can keep
            return self.refuse(key, FORMAT_ERROR)
        if (max_bytes and size > max_bytes) or (max_chars and len(value) > max_chars):
            return self.refuse(key, FORMAT_ERROR)
        return value

    def number(
        self, key: str, lowest: int, highest: int, *, required: bool = False
    ) -> int | None:
        value = self.get(key)
        if value is None or value == "":
            if required:
                self.refuse(key, FORMAT_ERROR)
            return None
        number = _as_int(value)
        if number is None:
            return self.refuse(key, BAD_STRUCTURE)
        if not lowest <= number <= highest:
            return self.refuse(key, FORMAT_ERROR)
        return number

    def boolean(self, key: str) -> bool | None:
        value = self.get(key)
        if value is not None and not isinstance(value, bool):
            return self.refuse(key, BAD_STRUCTURE)
        return value

    def choice(self, key: str, allowed: Iterable[str]) -> str | None:
        """A required value out of ``allowed`` (an unknown one is a format error)."""
        value = self.get(key)
        if isinstance(value, str) and value in allowed:
            return value
        return self.refuse(key, FORMAT_ERROR)

    def shaped(self, key: str, kind: type) -> Any:
        """The dict or list at ``key`` (None when absent); a value of another shape
        is a structure problem and reads as None too."""
        value = self.get(key)
        if value is None or isinstance(value, kind):
            return value
        return self.refuse(key, BAD_STRUCTURE)

    def section(self, key: str) -> _Reader | None:
        """A reader of the object at ``key`` (empty when absent); None, after a
        structure problem, when the value is not an object."""
        value = self.get(key)
        if value is not None and not isinstance(value, dict):
            return self.refuse(key, BAD_STRUCTURE)
        return _Reader(self.found, value, self.where(key))

    def listed(self, key: str, items: list) -> _Reader:
        """A reader of the list ``items`` at ``key``, its entries keyed "0", "1", …"""
        entries = {str(index): item for index, item in enumerate(items)}
        return _Reader(self.found, entries, self.where(key))

    def entries(self, key: str, items: list) -> list[_Reader]:
        """A reader per object of the list ``items`` at ``key``; other entries are
        structure problems."""
        readers = []
        for index, item in enumerate(items):
            path = self.where(f"{key}.{index}")
            if isinstance(item, dict):
                readers.append(_Reader(self.found, item, path))
            else:
                self.found.append(Problem(BAD_STRUCTURE, path))
        return readers


IsUploaded = Callable[[str], bool]


def _image(reader: _Reader, key: str, is_uploaded: IsUploaded | None) -> None:
    """A required image URL that uploadimg returned (SPEC §3.5: else 40141)."""
    url = reader.text(key, URL_BYTES, required=True)
    if url is not None and is_uploaded is not None and not is_uploaded(url):
        reader.refuse(key, IMAGE_NOT_UPLOADED)


# --- the terms: what the title, summary and price are built from ------------------
@dataclass
class Terms:
    """A card's type, value and thresholds (SPEC §3.1); None where absent or
    refused. ``least_cost`` 0 means no minimum spend (the seed: 无门槛则填0)."""

    card_type: str | None = None
    reduce_cost: int | None = None
    gift_name: str | None = None
    gift_num: int | None = None
    gift_unit: str | None = None
    accept_category: str | None = None
    reject_category: str | None = None
    least_cost: int | None = None
    object_use_for: str | None = None
    shares_with_other_discounts: bool = True


@dataclass
class _Card:
    terms: Terms
    block: _Reader | None = None  # the type block, when the card has one
    base: _Reader | None = None  # None when base_info is not an object
    advanced: _Reader | None = None


def _read_card(card: Any, found: list[Problem]) -> _Card:
    """The card's type block and its terms; problems of type, value and thresholds
    go to ``found``."""
    terms = Terms()
    if not isinstance(card, dict):
        found.append(Problem(BAD_STRUCTURE, ""))
        return _Card(terms)
    card_type = card.get("card_type")
    if _block_key(card_type) is None:
        found.append(Problem(BAD_STRUCTURE, "card_type"))
        return _Card(terms)
    block_value = card.get(_block_key(card_type))
    if not isinstance(block_value, dict):
        found.append(Problem(BAD_STRUCTURE, ""))
        return _Card(terms)
    terms.card_type = card_type
    block = _Reader(found, block_value)
    read = _Card(terms, block)
    read.base, read.advanced = (
        block.section("base_info"),
        block.section("advanced_info"),
    )
    if card_type == "CASH":
        _not_for_this_type(block, GIFT_ONLY_FIELDS)
        terms.reduce_cost = block.number("reduce_cost", 1, INT_MAX, required=True)
    else:
        _not_for_this_type(block, CASH_ONLY_FIELDS)
        terms.gift_name = block.text("gift_name", GIFT_NAME_BYTES, required=True)
        terms.gift_num = block.number("gift_num", 1, MAX_GIFT_NUM, required=True)
        terms.gift_unit = block.text("gift_unit", GIFT_UNIT_BYTES, required=True)
    if read.advanced is not None:
        _read_thresholds(read.advanced, terms)
    # SPEC §3.5 Decision: a cash card's reduction stays below its minimum spend
    # (全场满500减600 is refused on reduce_cost).
    if (
        terms.card_type == "CASH"
        and terms.reduce_cost is not None
        and terms.least_cost
        and terms.reduce_cost >= terms.least_cost
    ):
        block.refuse("reduce_cost", FORMAT_ERROR)
    return read


def _not_for_this_type(reader: _Reader, keys: Iterable[str]) -> set[str]:
    """SPEC §3.1: fields of the other card type are refused (40071)."""
    present = {key for key in keys if not _is_blank(reader.get(key))}
    for key in sorted(present):
        reader.refuse(key, FORMAT_ERROR)
    return present


def _read_thresholds(advanced: _Reader, terms: Terms) -> None:
    if not advanced.shaped("use_condition", dict):
        return
    condition = advanced.section("use_condition")
    other_type = (
        GIFT_ONLY_THRESHOLDS if terms.card_type == "CASH" else CASH_ONLY_THRESHOLDS
    )
    refused = _not_for_this_type(condition, other_type)
    for key in ("accept_category", "reject_category", "object_use_for"):
        if key not in refused:
            setattr(terms, key, condition.text(key, THRESHOLD_TEXT_BYTES))
    terms.least_cost = condition.number("least_cost", 0, INT_MAX) or None
    terms.shares_with_other_discounts = (
        condition.boolean("can_use_with_other_discount") is not False
    )


def terms_of(card: Any) -> Terms:
    """The terms of ``card``; refused values count as absent. Never raises."""
    return _read_card(card, []).terms


# --- title, summary, usage note, price ----------------------------------------------
def yuan(fen: int) -> str:
    """Fen as yuan with no trailing zeros (SPEC §3.2): 5000 → 50, 550 → 5.5, 1 → 0.01."""
    return f"{(Decimal(fen) / 100).normalize():f}"


def title(card: Any) -> str:
    """The title WeChat builds from the thresholds (SPEC §3.2, first rule that
    matches); "" for a card without a valid value. Never raises."""
    t = terms_of(card)
    if t.card_type == "CASH" and t.reduce_cost is not None:
        off = yuan(t.reduce_cost)
        category = t.accept_category
        short = category is not None and len(category) <= 5  # characters, not bytes
        if t.least_cost and short:
            return f"{category}满{yuan(t.least_cost)}减{off}"
        if t.least_cost and category:
            return f"满{yuan(t.least_cost)}减{off}"
        if t.least_cost:
            return f"全场满{yuan(t.least_cost)}减{off}"
        if short:
            return f"{category}减{off}元"
        return f"{off}元代金券"
    if t.card_type == "GIFT" and t.gift_name is not None:
        if t.object_use_for:
            return f"买{t.object_use_for}送{t.gift_name}"
        if t.least_cost:
            return f"全场满{yuan(t.least_cost)}送{t.gift_name}"
        # SPEC §3.2 Decision (V1.1): name + number in digits + unit, 苹果1个.
        number = "" if t.gift_num is None else str(t.gift_num)
        return f"{t.gift_name}{number}{t.gift_unit or ''}"
    return ""


def summary(card: Any) -> str:
    """The 详情摘要 (SPEC §3.3). Never raises."""
    t = terms_of(card)
    categories = ",".join(
        text
        for text in (
            t.accept_category and f"适用于{t.accept_category}",
            t.reject_category and f"不适用于{t.reject_category}",
        )
        if text
    )
    parts = [
        categories,
        f"消费满{yuan(t.least_cost)}元可用" if t.least_cost else "",
        f"购买{t.object_use_for}可用" if t.object_use_for else "",
    ]
    return ";".join(part for part in parts if part) or NO_THRESHOLD_SUMMARY


def usage_note(card: Any) -> str:
    """SPEC §3.3: 不可与其他优惠共享 when can_use_with_other_discount is false."""
    if terms_of(card).shares_with_other_discounts:
        return "可与其他优惠共享"
    return "不可与其他优惠共享"


def unit_price(card: Any) -> Decimal:
    """Coins per unit of stock (SPEC §3.4): the highest tier of the card's
    thresholds; can_use_with_other_discount alone is no threshold. Never raises."""
    t = terms_of(card)
    if t.least_cost or t.object_use_for:
        return PRICE_SPEND
    if t.accept_category or t.reject_category:
        return PRICE_CATEGORY
    return PRICE_NO_THRESHOLD


# --- card/create --------------------------------------------------------------------
def create_problems(
    card: Any, *, now: float | None, is_uploaded: IsUploaded | None = None
) -> list[Problem]:
    """Everything WeChat refuses in a ``card/create`` card (SPEC §3.1–3.5), [] when
    it takes the card. ``now`` (Unix seconds) refuses a validity that has already
    ended; None skips that rule. Never raises, whatever JSON ``card`` is."""
    found: list[Problem] = []
    read = _read_card(card, found)
    if read.block is None:
        return found
    if read.base is not None:
        _check_base(read.base, now=now, is_uploaded=is_uploaded)
    if read.advanced is not None:
        _check_advanced(read.advanced, is_uploaded=is_uploaded)
        # SPEC §3.5: a coupon shared with friends can be neither shared on nor given.
        if read.advanced.get("share_friends") is True and read.base is not None:
            for key in ("can_share", "can_give_friend"):
                if read.base.get(key) is True:
                    read.base.refuse(key, FORMAT_ERROR)
    return found


def _check_base(
    base: _Reader, *, now: float | None, is_uploaded: IsUploaded | None
) -> None:
    _image(base, "logo_url", is_uploaded)
    for key, limit in BASE_TEXTS.items():
        base.text(key, limit, required=key in REQUIRED_BASE_TEXTS)
    base.choice("code_type", CODE_TYPES)
    base.choice("color", PALETTE)
    base.number("get_limit", 1, INT_MAX)
    base.boolean("can_share")
    base.boolean("can_give_friend")
    if base.boolean("use_custom_code"):  # SPEC §3.5: no custom code
        base.refuse("use_custom_code", FORMAT_ERROR)
    # SPEC §3: stock is bought with coins, never set at creation.
    sku = base.get("sku")
    if isinstance(sku, dict) and sku.get("quantity") not in (None, 0, "0", ""):
        base.refuse("sku.quantity", FORMAT_ERROR)
    _check_stores(base)
    _check_validity(base, now=now)


def _check_stores(base: _Reader) -> None:
    """SPEC §3.5: at least one store (POI) id, else 41025."""
    ids = base.shaped("location_id_list", list)
    if ids is None:
        if base.get("location_id_list") is None:
            base.refuse("location_id_list", NO_LOCATION)
        return
    if not ids:
        return base.refuse("location_id_list", NO_LOCATION)
    numbers = [_as_int(item) for item in ids]
    if None in numbers:
        return base.refuse("location_id_list", BAD_STRUCTURE)
    if not all(1 <= number < 2**63 for number in numbers):
        base.refuse("location_id_list", FORMAT_ERROR)


def _check_validity(base: _Reader, *, now: float | None) -> None:
    """SPEC §3.5: a fixed range, begin < end, at most 90 days, ending before 2038
    and (at creation) not already ended — every one 40079 but the format."""
    if base.get("date_info") is None:
        return base.refuse("date_info", FORMAT_ERROR)
    if base.shaped("date_info", dict) is None:
        return
    dates = base.section("date_info")
    if dates.get("type") != FIXED_RANGE:
        dates.refuse("type", FORMAT_ERROR)
    begin = dates.number("begin_timestamp", 0, _HUGE, required=True)
    end = dates.number("end_timestamp", 0, _HUGE, required=True)
    if begin is None or end is None:
        return
    if end <= begin or end - begin > MAX_VALIDITY_SECONDS:
        base.refuse("date_info", INVALID_TIME)
    if end > LAST_END or (now is not None and end <= now):
        base.refuse("date_info", INVALID_TIME)


def _check_advanced(advanced: _Reader, *, is_uploaded: IsUploaded | None) -> None:
    if advanced.shaped("abstract", dict):
        _check_cover(advanced.section("abstract"), is_uploaded=is_uploaded)
    _check_text_images(advanced, is_uploaded=is_uploaded)
    services = advanced.shaped("business_service", list)
    # Known services, each once (the all() comes first: set() needs strings).
    if services and (
        not all(isinstance(s, str) and s in BUSINESS_SERVICES for s in services)
        or len(set(services)) < len(services)
    ):
        advanced.refuse("business_service", FORMAT_ERROR)
    periods = advanced.shaped("time_limit", list)
    for period in advanced.entries("time_limit", periods or []):
        period.choice("type", TIME_LIMIT_DAYS)
        for key in ("begin_hour", "end_hour"):
            period.number(key, 0, 23)
        for key in ("begin_minute", "end_minute"):
            period.number(key, 0, 59)
    _check_gifts_after_use(advanced)
    advanced.boolean("share_friends")


def _check_cover(abstract: _Reader, *, is_uploaded: IsUploaded | None) -> None:
    """The cover: a short text and exactly one uploaded picture (seed 000:
    仅支持填入一个封面图片链接)."""
    abstract.text("abstract", ABSTRACT_BYTES)
    icons = abstract.shaped("icon_url_list", list)
    if icons is None and abstract.get("icon_url_list") is not None:
        return
    if len(icons or []) != 1:
        return abstract.refuse("icon_url_list", FORMAT_ERROR)
    _image(abstract.listed("icon_url_list", icons), "0", is_uploaded)


def _check_text_images(advanced: _Reader, *, is_uploaded: IsUploaded | None) -> None:
    """Seed 000: at least one picture with its text (须至少传入一组图文列表)."""
    pictures = advanced.shaped("text_image_list", list)
    if pictures is None and advanced.get("text_image_list") is not None:
        return
    if not pictures:
        return advanced.refuse("text_image_list", FORMAT_ERROR)
    for picture in advanced.entries("text_image_list", pictures):
        _image(picture, "image_url", is_uploaded)
        picture.text("text", 0, required=True, max_chars=MAX_TEXT_IMAGE_CHARS)


def _check_gifts_after_use(advanced: _Reader) -> None:
    """Seed 000: consume_share_self_num (only 1) and consume_share_card_list (one
    other card, num 1) exclude each other; a second card is 45021."""
    self_num = advanced.number("consume_share_self_num", 0, 1)
    others = advanced.shaped("consume_share_card_list", list)
    if not others:
        return
    if len(others) > 1:
        return advanced.refuse("consume_share_card_list", TOO_MANY_GIFT_RULES)
    for other in advanced.entries("consume_share_card_list", others):
        other.text("card_id", CARD_ID_BYTES, required=True)
        other.number("num", 1, 1, required=True)
    if self_num:
        advanced.refuse("consume_share_card_list", FORMAT_ERROR)


# --- card/update --------------------------------------------------------------------
def merged(stored: Any, update: Any) -> dict:
    """The card after ``update``: its base_info/advanced_info merged into the stored
    card's, objects key by key, lists and values replaced. Inputs are not changed;
    other keys of ``update`` are ignored (``update_problems`` refuses them)."""
    card = copy.deepcopy(stored) if isinstance(stored, dict) else {}
    key = _block_key(card.get("card_type"))
    if key is None or not isinstance(update, dict):
        return card
    if not isinstance(card.get(key), dict):
        card[key] = {}
    for section in ("base_info", "advanced_info"):
        changes = update.get(section)
        if isinstance(changes, dict):
            if not isinstance(card[key].get(section), dict):
                card[key][section] = {}
            _merge_into(card[key][section], copy.deepcopy(changes))
    return card


def _merge_into(target: dict, changes: dict) -> None:
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_into(target[key], value)
        else:
            target[key] = value


def _validity(card: Any) -> tuple[int, int] | None:
    """(begin, end) of a card's date_info, when both are integers."""
    dates: Any = card
    for key in (_block_key(_get(card, "card_type")), "base_info", "date_info"):
        dates = _get(dates, key)
    begin = _as_int(_get(dates, "begin_timestamp"))
    end = _as_int(_get(dates, "end_timestamp"))
    return None if begin is None or end is None else (begin, end)


def _get(obj: Any, key: Any) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


def update_problems(
    stored: dict, update: Any, *, is_uploaded: IsUploaded | None = None
) -> list[Problem]:
    """Everything WeChat refuses in a ``card/update`` type block: fields that may
    not change (47001), a validity that narrows (40079, SPEC §3.5: it may only
    widen), and every create rule on the card as it would become — except "already
    ended": an ended card may be extended."""
    if not isinstance(update, dict):
        return [Problem(BAD_STRUCTURE, "")]
    found: list[Problem] = []
    allowed: dict[str, dict] = {}
    for section, changes in update.items():
        if section not in ("base_info", "advanced_info"):
            found.append(Problem(BAD_STRUCTURE, section))
            continue
        if changes is not None and not isinstance(changes, dict):
            found.append(Problem(BAD_STRUCTURE, section))
            continue
        for name, value in (changes or {}).items():
            if (section, name) in UPDATABLE:
                allowed.setdefault(section, {})[name] = value
            else:
                found.append(Problem(BAD_STRUCTURE, f"{section}.{name}"))
    after = merged(stored, allowed)
    found += create_problems(after, now=None, is_uploaded=is_uploaded)
    if "date_info" in allowed.get("base_info", {}):
        before, after_range = _validity(stored), _validity(after)
        if before and after_range:
            (old_begin, old_end), (new_begin, new_end) = before, after_range
            if new_begin > old_begin or new_end < old_end:
                found.append(Problem(INVALID_TIME, "base_info.date_info"))
    return found


def sends_to_review(update: Any) -> bool:
    """``send_check``: True when the update changes something a user reads on the
    coupon (every updatable field but QUIET_UPDATES)."""
    if not isinstance(update, dict):
        return False
    return any(
        (section, name) in UPDATABLE and (section, name) not in QUIET_UPDATES
        for section in ("base_info", "advanced_info")
        if isinstance(update.get(section), dict)
        for name in update[section]
    )
