"""Friend-coupon rules (SPEC §3): titles, summaries, stock prices and field limits.

Pure Python: no ORM, no settings, no I/O. The admin live preview, the API and the
portal's services all call these functions; no rule is written twice in the portal.
The sandbox writes WeChat's side of the same rules itself (``sandbox/backends/
rules.py``, SPEC §12), and ``tests/test_differential_rules.py`` holds the two to the
same titles, summaries, prices and refusals.

A ``card`` is the ``card`` object of WeChat's ``card/create`` body,
``{"card_type": "CASH", "cash": {"base_info": {...}, "advanced_info": {...},
"reduce_cost": 5000}}``. Error paths (``FieldError.field``) are relative to the
type block: ``"base_info.brand_name"``, ``"reduce_cost"``,
``"advanced_info.text_image_list.0.image_url"``; ``"card_type"`` for the type and
``""`` for the card as a whole. Messages are translated only when errors are
returned, so ``title``/``summary``/``unit_price`` never touch translations.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _

from wechat.errors import Errcode

# SPEC §3.5 palette, with the real names (not the seed's Color0100…).
PALETTE: dict[str, str] = {
    "Color010": "#63b359",
    "Color020": "#2c9f67",
    "Color030": "#509fc9",
    "Color040": "#5885cf",
    "Color050": "#9062c0",
    "Color060": "#d09a45",
    "Color070": "#e4b138",
    "Color080": "#ee903c",
    "Color081": "#f08500",
    "Color082": "#a9d92d",
    "Color090": "#dd6549",
    "Color100": "#cc463d",
    "Color101": "#cf3e36",
    "Color102": "#5E6671",
}
CODE_TYPES: frozenset[str] = frozenset(
    {
        "CODE_TYPE_TEXT",
        "CODE_TYPE_BARCODE",
        "CODE_TYPE_QRCODE",
        "CODE_TYPE_ONLY_QRCODE",
        "CODE_TYPE_ONLY_BARCODE",
        "CODE_TYPE_NONE",
    }
)
BUSINESS_SERVICES: frozenset[str] = frozenset(
    {
        "BIZ_SERVICE_DELIVER",
        "BIZ_SERVICE_FREE_PARK",
        "BIZ_SERVICE_WITH_PET",
        "BIZ_SERVICE_FREE_WIFI",
    }
)
TIME_LIMIT_TYPES: tuple[str, ...] = (
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
    "HOLIDAY",
)
CARD_TYPES: dict[str, str] = {"CASH": "cash", "GIFT": "gift"}  # SPEC §3: only these
DATE_TYPE = "DATE_TYPE_FIX_TIME_RANGE"  # SPEC §3.5: the only date type
MAX_VALID_DAYS = 90
LATEST_END = 2147483647  # 2038-01-19 03:14:07 UTC: the latest end (SPEC §3.5)
INT32_MAX = 2147483647  # WeChat's int fields (reduce_cost, least_cost, get_limit)
MAX_STOCK_QUANTITY = 100_000_000  # WeChat's stock ceiling (seed 002, sku.quantity)
UNIT_PRICES = (Decimal("0.2"), Decimal("0.4"), Decimal("0.6"))  # SPEC §3.4 tiers
NO_THRESHOLD_SUMMARY = "无起用金额限制,全场通用,不限品类"  # SPEC §3.3
SHAREABLE_NOTE, NOT_SHAREABLE_NOTE = "可与其他优惠共享", "不可与其他优惠共享"

# SPEC §3.5 Decision: "N 汉字" is checked as at most 3·N UTF-8 bytes; path → (N,
# bytes). description is string(3072), as SPEC writes it. Limits SPEC does not give
# are decisions: promotion_url_name 5 汉字 (string(16), like custom_url_name);
# accept/reject_category and object_use_for 20 汉字 (printed in title and summary).
HANZI_LIMITS: dict[str, tuple[int, int]] = {
    "base_info.brand_name": (12, 36),
    "base_info.notice": (16, 48),
    "base_info.description": (1000, 3072),
    "base_info.center_title": (9, 27),
    "base_info.center_sub_title": (12, 36),
    "base_info.custom_url_name": (5, 15),
    "base_info.custom_url_sub_title": (6, 18),
    "base_info.promotion_url_name": (5, 15),
    "base_info.promotion_url_sub_title": (6, 18),
    "gift_name": (6, 18),
    "gift_unit": (2, 6),
    "advanced_info.abstract.abstract": (20, 60),
    "advanced_info.use_condition.accept_category": (20, 60),
    "advanced_info.use_condition.reject_category": (20, 60),
    "advanced_info.use_condition.object_use_for": (20, 60),
}
# Plain byte limits (the API's string(N)). Decision: every URL, images included, is
# ≤ 128 bytes (logo_url is string(128) and uploadimg returns one kind of URL).
URL_MAX_BYTES = 128
BYTE_LIMITS: dict[str, int] = {
    "base_info.logo_url": URL_MAX_BYTES,
    "base_info.center_url": URL_MAX_BYTES,
    "base_info.custom_url": URL_MAX_BYTES,
    "base_info.promotion_url": URL_MAX_BYTES,
    "base_info.service_phone": 24,
    "image": URL_MAX_BYTES,  # abstract.icon_url_list.N, text_image_list.N.image_url
    "card_id": 32,  # consume_share_card_list.N.card_id (card_id is string(32))
}
TEXT_IMAGE_MAX_CHARS = 5000  # SPEC §3.5: characters, not bytes

# Optional base_info texts checked against the limits above (SPEC §3.5).
_BASE_TEXTS = (
    "notice",
    "service_phone",
    "center_title",
    "center_sub_title",
    "center_url",
    "custom_url_name",
    "custom_url",
    "custom_url_sub_title",
    "promotion_url_name",
    "promotion_url",
    "promotion_url_sub_title",
)

# SPEC is silent on which updates send the card back to review (send_check true).
# Decision: what users read on the coupon face or detail page goes back to review;
# operational settings (_UPDATABLE_QUIETLY) do not.
REVIEW_ON_UPDATE: frozenset[str] = frozenset(
    {
        "base_info.logo_url",
        "base_info.color",
        "base_info.notice",
        "base_info.description",
        "base_info.center_title",
        "base_info.center_sub_title",
        "base_info.custom_url_name",
        "base_info.custom_url_sub_title",
        "base_info.promotion_url_name",
        "base_info.promotion_url_sub_title",
        "advanced_info.abstract",
        "advanced_info.text_image_list",
        "advanced_info.business_service",
        "advanced_info.time_limit",
    }
)
_UPDATABLE_QUIETLY = {
    "base_info.service_phone",
    "base_info.location_id_list",
    "base_info.code_type",
    "base_info.get_limit",
    "base_info.can_share",
    "base_info.can_give_friend",
    "base_info.date_info",
    "base_info.center_url",
    "base_info.custom_url",
    "base_info.promotion_url",
    "advanced_info.consume_share_self_num",
    "advanced_info.consume_share_card_list",
}
# SPEC §3.5 "Updatable later", as paths relative to the type block.
UPDATABLE_FIELDS: frozenset[str] = REVIEW_ON_UPDATE | _UPDATABLE_QUIETLY

# WeChat errcodes the field errors map to (SPEC §11).
# lengths, enums, ranges, missing fields: every other format error
E_FORMAT = Errcode.FORMAT_ERROR
E_VALIDITY = (
    Errcode.INVALID_TIME
)  # over 90 days, end ≤ begin, ended, narrowed, past 2038
E_IMAGE = Errcode.IMAGE_NOT_UPLOADED  # image not returned by uploadimg
E_NO_STORE = Errcode.NO_STORE
E_GIFT_RULES = Errcode.TOO_MANY_GIFT_RULES  # more than one consume_share card
E_STRUCTURE = Errcode.INVALID_JSON_STRUCTURE  # wrong JSON types, no type block, …

_INT_RE = re.compile(r"-?[0-9]+")
_YUAN_RE = re.compile(r"\s*([0-9]{1,18})(?:\.([0-9]{1,2}))?\s*")

IsUploaded = Callable[[str], bool]


@dataclass(frozen=True)
class FieldError:
    field: str  # path relative to the type block; "card_type"; "" for the card
    code: str  # stable snake_case
    message: str  # translated
    errcode: int  # what WeChat answers for it


@dataclass(frozen=True)
class Preview:
    title: str
    summary: str
    usage_note: str
    unit_price: Decimal
    price: Decimal | None
    color_hex: str | None
    errors: dict[str, list[str]]
    # The same errors as stable codes (field → codes, in order) and the errcode
    # WeChat would answer for the card as it stands (0: none).
    codes: dict[str, list[str]] = field(default_factory=dict)
    errcode: int = 0


class _Errors(list):
    """(path, code, errcode, lazy message, params); translated by ``as_list``."""

    def add(self, path: str, code: str, errcode: int, msg: Any, **params: Any) -> None:
        self.append((path, code, errcode, msg, params))

    def as_list(self) -> list[FieldError]:
        return [
            FieldError(path, code, str(msg) % params if params else str(msg), errcode)
            for path, code, errcode, msg, params in self
        ]


# ---------------------------------------------------------------- text and money


def byte_len(text: str) -> int:
    """UTF-8 length in bytes (SPEC §3.5: a CJK character is 3). Never raises."""
    return len(text.encode("utf-8", "surrogatepass"))


def fen_to_yuan_text(fen: int) -> str:
    """Yuan with no trailing zeros (SPEC §3.2): 5000 → "50", 550 → "5.5", 1 → "0.01"."""
    yuan, cents = divmod(abs(fen), 100)
    text = str(yuan) if cents == 0 else f"{yuan}.{cents:02d}".rstrip("0")
    return f"-{text}" if fen < 0 else text


def parse_yuan(text: str) -> int | None:
    """Fen for a yuan amount typed in a form ("5.5" → 550), or None unless it is a
    non-negative amount with at most two decimals ("1.234", "abc", "-1", "")."""
    match = _YUAN_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return None
    return int(match[1]) * 100 + int((match[2] or "0").ljust(2, "0"))


def _to_int(value: Any) -> int | None:
    """An int (not a bool) or an ASCII digit string (WeChat accepts strings for
    numbers), else None. Digit strings over 30 digits are clamped to ±10**30."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT_RE.fullmatch(value):
        if len(value) > 31:
            return -(10**30) if value.startswith("-") else 10**30
        return int(value)
    return None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else None


# ------------------------------------------------------------------ field readers


class _Section:
    """Reads the fields of one JSON object, recording errors under ``prefix``.

    Each reader returns the field's value when it is valid and None when it is
    absent or invalid: callers treat invalid fields as absent."""

    def __init__(self, errs: _Errors, obj: Any, prefix: str = "") -> None:
        self.errs, self.obj, self.prefix = errs, obj, prefix

    def raw(self, key: str) -> Any:
        return _get(self.obj, key)

    def add(self, key: str, code: str, errcode: int, msg: Any, **params: Any) -> None:
        self.errs.add(self.prefix + key, code, errcode, msg, **params)

    def _required(self, key: str, required: bool) -> None:
        if required:
            self.add(key, "required", E_FORMAT, _("This field is required."))

    def text(
        self, key: str, *, required: bool = False, rule: str = "", max_chars: int = 0
    ) -> str | None:
        """A non-blank string within its HANZI_LIMITS/BYTE_LIMITS entry (``rule``,
        by default its path) and ``max_chars``."""
        value = self.raw(key)
        if _blank(value):
            return self._required(key, required)
        if not isinstance(value, str):
            return self.add(key, "invalid_type", E_STRUCTURE, _("Must be text."))
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:  # lone surrogates cannot be sent to WeChat
            msg = _("Contains characters that cannot be sent.")
            return self.add(key, "invalid_text", E_FORMAT, msg)
        rule = rule or self.prefix + key
        if rule in HANZI_LIMITS and size > HANZI_LIMITS[rule][1]:
            chars, limit = HANZI_LIMITS[rule]
            msg = _("At most %(chars)d Chinese characters (%(bytes)d bytes).")
            return self.add(key, "too_long", E_FORMAT, msg, chars=chars, bytes=limit)
        if rule in BYTE_LIMITS and size > BYTE_LIMITS[rule]:
            msg = _("At most %(bytes)d bytes.")
            return self.add(key, "too_long", E_FORMAT, msg, bytes=BYTE_LIMITS[rule])
        if max_chars and len(value) > max_chars:
            msg = _("At most %(chars)d characters.")
            return self.add(key, "too_long", E_FORMAT, msg, chars=max_chars)
        return value

    def integer(
        self,
        key: str,
        lo: int,
        hi: int,
        range_msg: Any,
        *,
        required: bool = False,
        nan_msg: Any = None,
        **params: Any,
    ) -> int | None:
        """An int (or digit string) in lo..hi; "" counts as absent."""
        value = self.raw(key)
        if value is None or (isinstance(value, str) and value == ""):
            return self._required(key, required)
        number = _to_int(value)
        if number is None:
            msg = nan_msg or _("Must be a whole number.")
            return self.add(key, "not_a_number", E_STRUCTURE, msg)
        if not lo <= number <= hi:
            return self.add(key, "out_of_range", E_FORMAT, range_msg, **params)
        return number

    def flag(self, key: str) -> bool | None:
        value = self.raw(key)
        if value is None or isinstance(value, bool):
            return value
        return self.add(key, "invalid_type", E_STRUCTURE, _("Must be true or false."))

    def choice(self, key: str, choices: Collection[str], msg: Any) -> str | None:
        """A required value among ``choices``."""
        value = self.raw(key)
        if _blank(value):
            return self._required(key, True)
        if isinstance(value, str) and value in choices:
            return value
        return self.add(key, "invalid_choice", E_FORMAT, msg)

    def child(self, key: str, kind: type = dict) -> Any:
        """The dict (or list) at ``key``; None when absent, False when mistyped."""
        value = self.raw(key)
        if value is None or isinstance(value, kind):
            return value
        msg = _("Must be a list.") if kind is list else _("Must be a JSON object.")
        self.add(key, "invalid_type", E_STRUCTURE, msg)
        return False

    def section(self, key: str) -> _Section:
        """The object at ``key``; a list reads as an object keyed "0", "1", …"""
        value = self.raw(key)
        if isinstance(value, list):
            value = {str(index): item for index, item in enumerate(value)}
        return _Section(self.errs, value, f"{self.prefix}{key}.")

    def objects(self, key: str) -> list[_Section]:
        """A section per object in the list at ``key``; other entries are errors."""
        if not isinstance(self.raw(key), list):
            return []
        entries, sections = self.section(key), []
        for index in entries.obj:
            if isinstance(entries.raw(index), dict):
                sections.append(entries.section(index))
            else:
                msg = _("Must be a JSON object.")
                entries.add(index, "invalid_type", E_STRUCTURE, msg)
        return sections

    def image(self, key: str, is_uploaded: IsUploaded | None, rule: str = "") -> None:
        """A required image URL that uploadimg returned (SPEC §3.5, else 40141)."""
        url = self.text(key, required=True, rule=rule)
        if url is not None and is_uploaded is not None and not is_uploaded(url):
            msg = _("Upload this image to WeChat first: only URLs from uploadimg.")
            self.add(key, "image_not_uploaded", E_IMAGE, msg)


# --------------------------------------------------------- type and thresholds


@dataclass
class _Terms:
    """What the title, summary and price depend on; None when absent or invalid."""

    card_type: str | None = None
    reduce: int | None = None
    gift_name: str | None = None
    gift_num: int | None = None
    gift_unit: str | None = None
    accept: str | None = None
    reject: str | None = None
    least: int | None = None  # least_cost 0 (no threshold) is None
    object_use_for: str | None = None
    other_discount: bool = True


@dataclass
class _Parsed:
    terms: _Terms = field(default_factory=_Terms)
    block: dict | None = None  # the type block, when the card has a valid one
    base: dict | None = None  # {} when absent; None when mistyped
    adv: dict | None = None


_MONEY_NAN = _(
    "Enter an amount in yuan, like 50 or 5.5 (in the API: whole fen, 100 fen = 1 yuan)."
)
_MONEY_MAX = fen_to_yuan_text(INT32_MAX)


def _parse(errs: _Errors, card: Any) -> _Parsed:
    """The type block, its sections, the type's fields and thresholds (SPEC §3)."""
    parsed, top = _Parsed(), _Section(errs, card)
    if not isinstance(card, dict):
        msg = _("The card must be a JSON object.")
        top.add("", "invalid_type", E_STRUCTURE, msg)
        return parsed
    card_type = card.get("card_type")
    if not isinstance(card_type, str) or card_type not in CARD_TYPES:
        code = "required" if _blank(card_type) else "invalid_choice"
        msg = _("Choose the coupon type: CASH or GIFT.")
        top.add("card_type", code, E_STRUCTURE, msg)
        return parsed
    block = card.get(CARD_TYPES[card_type])
    if not isinstance(block, dict):
        msg = _("The card has no %(block)s object for its type.")
        top.add("", "required", E_STRUCTURE, msg, block=CARD_TYPES[card_type])
        return parsed
    t, sec = parsed.terms, _Section(errs, block)
    parsed.block, t.card_type = block, card_type
    base, adv = sec.child("base_info"), sec.child("advanced_info")
    parsed.base = None if base is False else base or {}
    parsed.adv = None if adv is False else adv or {}
    if card_type == "CASH":
        _refuse(sec, ("gift_name", "gift_num", "gift_unit"), card_type)
        range_msg = _("The amount must be from 0.01 to %(max)s yuan.")
        t.reduce = sec.integer(
            "reduce_cost",
            1,
            INT32_MAX,
            range_msg,
            required=True,
            nan_msg=_MONEY_NAN,
            max=_MONEY_MAX,
        )
    else:
        _refuse(sec, ("reduce_cost",), card_type)
        t.gift_name = sec.text("gift_name", required=True)
        msg = _("The number of items must be from 1 to 999.")
        t.gift_num = sec.integer("gift_num", 1, 999, msg, required=True)
        t.gift_unit = sec.text("gift_unit", required=True)
    if parsed.adv is not None:
        _parse_thresholds(_Section(errs, parsed.adv, "advanced_info."), t)
    if (
        t.card_type == "CASH"
        and t.reduce is not None
        and t.least
        and t.reduce >= t.least
    ):
        # SPEC §3.5 Decision: 全场满500减600 is refused, on the amount off.
        msg = _("The amount off must be less than the minimum spend.")
        sec.add("reduce_cost", "not_below_minimum_spend", E_FORMAT, msg)
    return parsed


def _refuse(sec: _Section, keys: tuple[str, ...], card_type: str) -> list[str]:
    """A not_allowed_for_type error per key present (SPEC §3.1); returns them."""
    present = [key for key in keys if not _blank(sec.raw(key))]
    for key in present:
        if card_type == "CASH":
            msg = _("Not allowed on a cash coupon (only on gift coupons).")
        else:
            msg = _("Not allowed on a gift coupon (only on cash coupons).")
        sec.add(key, "not_allowed_for_type", E_FORMAT, msg)
    return present


def _parse_thresholds(adv: _Section, t: _Terms) -> None:
    """SPEC §3.1: which type may use which threshold; refused ones count as absent."""
    if not adv.child("use_condition"):
        return
    cond = adv.section("use_condition")
    if t.card_type == "CASH":
        refused = _refuse(cond, ("object_use_for",), "CASH")
    else:
        refused = _refuse(cond, ("accept_category", "reject_category"), "GIFT")
    t.accept, t.reject, t.object_use_for = (
        None if key in refused else cond.text(key)
        for key in ("accept_category", "reject_category", "object_use_for")
    )
    msg = _("The minimum spend must be from 0 to %(max)s yuan (0 for none).")
    least = cond.integer(
        "least_cost", 0, INT32_MAX, msg, nan_msg=_MONEY_NAN, max=_MONEY_MAX
    )
    t.least = least or None
    t.other_discount = cond.flag("can_use_with_other_discount") is not False


def _terms(card: Any) -> _Terms:
    return _parse(_Errors(), card).terms


# ------------------------------------------------------- title, summary, price


def _title(t: _Terms) -> str:
    if t.card_type == "CASH" and t.reduce is not None:
        r = fen_to_yuan_text(t.reduce)
        short = t.accept is not None and len(t.accept) <= 5
        if t.least:
            lc = fen_to_yuan_text(t.least)
            if short:
                return f"{t.accept}满{lc}减{r}"
            return f"满{lc}减{r}" if t.accept else f"全场满{lc}减{r}"
        return f"{t.accept}减{r}元" if short else f"{r}元代金券"
    if t.card_type == "GIFT" and t.gift_name is not None:
        if t.object_use_for:
            return f"买{t.object_use_for}送{t.gift_name}"
        if t.least:
            return f"全场满{fen_to_yuan_text(t.least)}送{t.gift_name}"
        return f"{t.gift_name}{t.gift_num or ''}{t.gift_unit or ''}"
    return ""


def _summary(t: _Terms) -> str:
    categories = [f"适用于{t.accept}"] if t.accept else []
    categories += [f"不适用于{t.reject}"] if t.reject else []
    parts = [",".join(categories)] if categories else []
    if t.least:
        parts.append(f"消费满{fen_to_yuan_text(t.least)}元可用")
    if t.object_use_for:
        parts.append(f"购买{t.object_use_for}可用")
    return ";".join(parts) or NO_THRESHOLD_SUMMARY


def _unit_price(t: _Terms) -> Decimal:
    if t.least or t.object_use_for:
        return UNIT_PRICES[2]
    return UNIT_PRICES[1] if t.accept or t.reject else UNIT_PRICES[0]


def title(card: dict) -> str:
    """The title WeChat builds (SPEC §3.2); "" without a valid amount (CASH) or gift
    name (GIFT). Never raises: invalid fields count as absent."""
    return _title(_terms(card))


def summary(card: dict) -> str:
    """The 详情摘要 (SPEC §3.3); NO_THRESHOLD_SUMMARY when no valid threshold is set.
    Never raises."""
    return _summary(_terms(card))


def usage_note(card: dict) -> str:
    """不可与其他优惠共享 when can_use_with_other_discount is false, else 可与其他优惠共享
    (SPEC §3.3). Never raises."""
    return SHAREABLE_NOTE if _terms(card).other_discount else NOT_SHAREABLE_NOTE


def unit_price(card: dict) -> Decimal:
    """Coins per unit of stock (SPEC §3.4): the highest tier among the valid
    thresholds; 0.2 for anything unreadable. Never raises."""
    return _unit_price(_terms(card))


def stock_price(unit: Decimal, quantity: int) -> Decimal:
    """unit × quantity, exact (Decimal, never float). TypeError/ValueError unless
    quantity is a non-negative int."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise TypeError("quantity must be an int")
    if quantity < 0:
        raise ValueError("quantity must not be negative")
    return unit * quantity


# ---------------------------------------------------------------- validation


def _check_base(
    base: _Section,
    *,
    now_ts: float | None,
    is_uploaded: IsUploaded | None,
    known_location_ids: Collection[int] | None,
) -> None:
    """SPEC §3.5 rules on base_info (a create, or the merged card of an update)."""
    base.image("logo_url", is_uploaded)
    base.text("brand_name", required=True)
    base.text("description", required=True)
    for key in _BASE_TEXTS:
        base.text(key)
    base.choice("code_type", CODE_TYPES, _("Unknown code type."))
    base.choice("color", PALETTE, _("Choose one of the palette colors."))
    msg = _("The limit per user must be a positive whole number.")
    base.integer("get_limit", 1, INT32_MAX, msg)
    base.flag("can_share")
    base.flag("can_give_friend")
    if base.flag("use_custom_code"):
        msg = _("Friend coupons cannot use custom codes.")
        base.add("use_custom_code", "not_supported", E_FORMAT, msg)
    if _get(base.raw("sku"), "quantity") not in (None, 0, "0", ""):
        msg = _("Stock cannot be set at creation: buy it with coins afterwards.")
        base.add("sku.quantity", "not_supported", E_FORMAT, msg)
    _check_locations(base, known_location_ids)
    _check_dates(base, now_ts=now_ts)


def _check_locations(base: _Section, known: Collection[int] | None) -> None:
    """SPEC §3.5: at least one store (41025); ids must be the merchant's stores."""
    key = "location_id_list"
    ids = base.child(key, list)
    if ids is False:
        return
    if not ids:
        return base.add(key, "no_store", E_NO_STORE, _("Choose at least one store."))
    numbers = [_to_int(item) for item in ids]
    if any(n is None for n in numbers):
        msg = _("Store ids must be whole numbers.")
        return base.add(key, "not_a_number", E_STRUCTURE, msg)
    if any(not 1 <= n <= 2**63 - 1 for n in numbers):
        return base.add(key, "out_of_range", E_FORMAT, _("Store ids must be positive."))
    unknown = [n for n in numbers if known is not None and n not in known]
    if unknown:
        msg = _("Not one of your stores: %(ids)s.")
        ids_text = ", ".join(str(n) for n in unknown[:10])
        base.add(key, "unknown_store", E_FORMAT, msg, ids=ids_text)


def _check_dates(base: _Section, *, now_ts: float | None) -> None:
    """SPEC §3.5 validity; ``now_ts`` None skips the "ends after now" rule."""
    kind = base.child("date_info")
    if kind is None:
        base.add("date_info", "required", E_FORMAT, _("Set the validity dates."))
    if kind is None or kind is False:  # an empty {} still needs its type and dates
        return
    info, key = base.section("date_info"), "date_info"
    if info.raw("type") != DATE_TYPE:
        msg = _("Only a fixed date range (DATE_TYPE_FIX_TIME_RANGE) is supported.")
        code = "required" if _blank(info.raw("type")) else "invalid_choice"
        info.add("type", code, E_FORMAT, msg)
    msg = _("Must be a Unix time in seconds (0 or more).")
    begin = info.integer("begin_timestamp", 0, 10**30, msg, required=True)
    end = info.integer("end_timestamp", 0, 10**30, msg, required=True)
    if begin is None or end is None:
        return
    if end <= begin:
        msg = _("The validity must end after it begins.")
        base.add(key, "ends_before_begin", E_VALIDITY, msg)
    elif end - begin > MAX_VALID_DAYS * 86400:
        msg = _("The validity may last at most %(days)d days.")
        base.add(key, "date_range_too_long", E_VALIDITY, msg, days=MAX_VALID_DAYS)
    if end > LATEST_END:
        msg = _("The validity must end before 19 January 2038.")
        base.add(key, "end_too_late", E_VALIDITY, msg)
    elif now_ts is not None and end <= now_ts:
        msg = _("The end date has already passed.")
        base.add(key, "already_ended", E_VALIDITY, msg)


def _check_advanced(adv: _Section, *, is_uploaded: IsUploaded | None) -> None:
    """SPEC §3.5 rules on advanced_info."""
    if adv.child("abstract"):
        abstract = adv.section("abstract")
        abstract.text("abstract")
        icons = abstract.child("icon_url_list", list)
        if icons is not False and len(icons or ()) != 1:
            msg = _("Exactly one cover image is required.")
            abstract.add("icon_url_list", "exactly_one_image", E_FORMAT, msg)
        elif icons:
            abstract.section("icon_url_list").image("0", is_uploaded, "image")
    images = adv.child("text_image_list", list)
    if images is None or images == []:
        msg = _("Add at least one picture with its text.")
        adv.add("text_image_list", "required", E_FORMAT, msg)
    elif images:
        for entry in adv.objects("text_image_list"):
            entry.image("image_url", is_uploaded, "image")
            entry.text("text", required=True, max_chars=TEXT_IMAGE_MAX_CHARS)
    services = adv.child("business_service", list)
    if services and not all(
        isinstance(name, str) and name in BUSINESS_SERVICES for name in services
    ):
        msg = _("Unknown service: choose delivery, parking, pets or Wi-Fi.")
        adv.add("business_service", "invalid_choice", E_FORMAT, msg)
    elif services and len(set(services)) != len(services):
        msg = _("Each service may be listed once.")
        adv.add("business_service", "duplicate", E_FORMAT, msg)
    if adv.child("time_limit", list):
        for entry in adv.objects("time_limit"):
            _check_time_limit(entry)
    _check_consume_share(adv)
    adv.flag("share_friends")


def _check_time_limit(entry: _Section) -> None:
    """SPEC §3.5: types MONDAY…SUNDAY, HOLIDAY; hours 0–23, minutes 0–59."""
    entry.choice("type", TIME_LIMIT_TYPES, _("Choose a day of the week or HOLIDAY."))
    hours, minutes = _("Hours go from 0 to 23."), _("Minutes go from 0 to 59.")
    for key in ("begin_hour", "end_hour"):
        entry.integer(key, 0, 23, hours)
    for key in ("begin_minute", "end_minute"):
        entry.integer(key, 0, 59, minutes)


def _check_consume_share(adv: _Section) -> None:
    """SPEC §3.5: give this card again (only 1) or one other friend card, not both."""
    msg = _("Only 1 is allowed (0 for none).")
    self_num = adv.integer("consume_share_self_num", 0, 1, msg)
    key = "consume_share_card_list"
    cards = adv.child(key, list)
    if not cards:
        return
    if len(cards) > 1:
        msg = _("At most one other friend coupon can be given after use.")
        return adv.add(key, "too_many", E_GIFT_RULES, msg)
    for entry in adv.objects(key):
        entry.text("card_id", required=True, rule="card_id")
        entry.integer("num", 1, 1, _("Only 1 is allowed."), required=True)
    if self_num:
        msg = _("Give either this coupon again or another coupon after use, not both.")
        adv.add(key, "mutually_exclusive", E_FORMAT, msg)


def _validate(
    card: Any,
    *,
    now_ts: float | None,
    is_uploaded: IsUploaded | None,
    known_location_ids: Collection[int] | None,
) -> _Errors:
    errs = _Errors()
    parsed = _parse(errs, card)
    if parsed.block is None:
        return errs
    base = _Section(errs, parsed.base, "base_info.")
    if parsed.base is not None:
        _check_base(
            base,
            now_ts=now_ts,
            is_uploaded=is_uploaded,
            known_location_ids=known_location_ids,
        )
    if parsed.adv is not None:
        _check_advanced(
            _Section(errs, parsed.adv, "advanced_info."), is_uploaded=is_uploaded
        )
        if parsed.adv.get("share_friends") is True:
            # SPEC §3.5: a card shared with friends is neither shareable nor giftable.
            msg = _("Must be false when the coupon is shared with friends.")
            for key in ("can_share", "can_give_friend"):
                if base.raw(key) is True:
                    base.add(key, "mutually_exclusive", E_FORMAT, msg)
    return errs


def _timestamp(now: datetime) -> float:
    """Seconds since the epoch; a naive ``now`` is taken as UTC."""
    return (now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp()


def validate_create(
    card: dict,
    *,
    now: datetime,
    is_uploaded: IsUploaded | None = None,
    known_location_ids: Collection[int] | None = None,
) -> list[FieldError]:
    """Every SPEC §3.1–3.5 violation of a card/create ``card`` object ([] when WeChat
    accepts it). Never raises, whatever JSON value ``card`` is."""
    return _validate(
        card,
        now_ts=_timestamp(now),
        is_uploaded=is_uploaded,
        known_location_ids=known_location_ids,
    ).as_list()


# ------------------------------------------------------------------- updates


def _updatable_part(errs: _Errors, update: dict) -> dict:
    """The updatable fields of ``update``; a not_updatable error for each other one."""
    msg = _("This field cannot be changed after the coupon is created.")
    kept: dict[str, dict] = {}
    for key, value in update.items():
        name = key if isinstance(key, str) else ""
        if name not in ("base_info", "advanced_info"):
            errs.add(name, "not_updatable", E_STRUCTURE, msg)
        elif value is not None and not isinstance(value, dict):
            errs.add(name, "invalid_type", E_STRUCTURE, _("Must be a JSON object."))
        elif value:
            kept[name] = {}
            for sub, sub_value in value.items():
                path = f"{name}.{sub}" if isinstance(sub, str) else name
                if path in UPDATABLE_FIELDS:
                    kept[name][sub] = sub_value
                else:
                    errs.add(path, "not_updatable", E_STRUCTURE, msg)
    return kept


def _date_range(card: Any) -> tuple[int, int] | None:
    info = _get(_parse(_Errors(), card).base, "date_info")
    begin, end = (_to_int(_get(info, k)) for k in ("begin_timestamp", "end_timestamp"))
    return None if begin is None or end is None else (begin, end)


def validate_update(
    current: dict,
    update: dict,
    *,
    now: datetime,
    is_uploaded: IsUploaded | None = None,
    known_location_ids: Collection[int] | None = None,
) -> list[FieldError]:
    """Errors of a card/update type block ``update`` against the stored card
    ``current`` ([] when WeChat accepts it).

    Fields that are not updatable are refused (SPEC §3.5, 47001); the validity may
    only widen (40079); the merged card must pass every create rule except "ends
    after now" (an update may extend a card that has ended; ``now`` is unused)."""
    del now
    errs = _Errors()
    if not isinstance(update, dict):
        msg = _("The update must be a JSON object.")
        errs.add("", "invalid_type", E_STRUCTURE, msg)
        return errs.as_list()
    kept = _updatable_part(errs, update)
    merged = apply_update(current, kept)
    errs += _validate(
        merged,
        now_ts=None,
        is_uploaded=is_uploaded,
        known_location_ids=known_location_ids,
    )
    old, new = _date_range(current), _date_range(merged)
    widened = not (old and new) or (new[0] <= old[0] and new[1] >= old[1])
    if "date_info" in kept.get("base_info", {}) and not widened:
        msg = _(
            "The validity can only be extended: the start cannot move later "
            "and the end cannot move earlier."
        )
        errs.add("base_info.date_info", "validity_narrowed", E_VALIDITY, msg)
    return errs.as_list()


def _deep_merge(target: dict, patch: dict) -> None:
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = value


def apply_update(current: dict, update: dict) -> dict:
    """A new card: ``current`` with the update's base_info/advanced_info deep-merged
    (objects merged key by key, lists replaced). Never mutates its inputs; other
    keys of ``update`` are ignored (``validate_update`` refuses them)."""
    result = copy.deepcopy(current) if isinstance(current, dict) else {}
    card_type = result.get("card_type")
    key = CARD_TYPES.get(card_type) if isinstance(card_type, str) else None
    if key is None or not isinstance(update, dict):
        return result
    if not isinstance(result.get(key), dict):
        result[key] = {}
    block = result[key]
    for section in ("base_info", "advanced_info"):
        patch = update.get(section)
        if isinstance(patch, dict):
            if not isinstance(block.get(section), dict):
                block[section] = {}
            _deep_merge(block[section], copy.deepcopy(patch))
    return result


def needs_review(update: dict) -> bool:
    """True when the update touches a field in REVIEW_ON_UPDATE (send_check true)."""
    return isinstance(update, dict) and any(
        isinstance(update.get(section), dict) and name in update[section]
        for section, name in (path.split(".") for path in REVIEW_ON_UPDATE)
    )


# ------------------------------------------------------------------- preview


def errors_by_field(errors: list[FieldError]) -> dict[str, list[str]]:
    """FieldError.field → its messages, in order (for inline display)."""
    grouped: dict[str, list[str]] = {}
    for error in errors:
        grouped.setdefault(error.field, []).append(error.message)
    return grouped


def wechat_errcode(errors: list[FieldError]) -> int:
    """The errcode WeChat answers for these errors: 47001 if any (the structure is
    read first), else the first error's; 0 when there is none."""
    if any(error.errcode == E_STRUCTURE for error in errors):
        return E_STRUCTURE
    return errors[0].errcode if errors else 0


def preview(
    payload: Any,
    *,
    now: datetime,
    quantity: Any = None,
    is_uploaded: IsUploaded | None = None,
    known_location_ids: Collection[int] | None = None,
) -> Preview:
    """Title, summary, usage note, unit price (and price for a valid ``quantity``,
    1..MAX_STOCK_QUANTITY), color and inline errors of a card/create body
    ``{"card": {...}}``. Never raises for any JSON value: invalid parts become
    errors and count as absent. A bad quantity is an error under "quantity"."""
    card = payload.get("card") if isinstance(payload, dict) else None
    if card is None:
        msg = str(_("The request has no card object."))
        errors = [
            FieldError(field="", code="required", message=msg, errcode=E_STRUCTURE)
        ]
    else:
        errors = validate_create(
            card,
            now=now,
            is_uploaded=is_uploaded,
            known_location_ids=known_location_ids,
        )
    grouped = errors_by_field(errors)
    codes: dict[str, list[str]] = {}
    for error in errors:
        codes.setdefault(error.field, []).append(error.code)
    parsed = _parse(_Errors(), card)
    terms, price = parsed.terms, None
    unit = _unit_price(terms)
    if not _blank(quantity):
        count = _to_int(quantity)
        if count is not None and 1 <= count <= MAX_STOCK_QUANTITY:
            price = stock_price(unit, count)
        else:
            msg = _("The quantity must be a whole number from 1 to %(max)d.")
            text = str(msg) % {"max": MAX_STOCK_QUANTITY}
            grouped.setdefault("quantity", []).append(text)
            codes.setdefault("quantity", []).append("out_of_range")
    color = _get(parsed.base, "color")
    return Preview(
        title=_title(terms),
        summary=_summary(terms),
        usage_note=SHAREABLE_NOTE if terms.other_discount else NOT_SHAREABLE_NOTE,
        unit_price=unit,
        price=price,
        color_hex=PALETTE.get(color) if isinstance(color, str) else None,
        errors=grouped,
        codes=codes,
        errcode=wechat_errcode(errors),
    )
