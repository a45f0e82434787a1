"""What a card's stored definition says, for receiving and redeeming its codes
(SPEC §3, §6, §7): validity, get_limit, stock, gift rules, links, code type.

The definition is the card object as created and updated (``Card.definition``);
WeChat takes numbers as JSON numbers or digit strings, so both are read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from ..models import Card

# seed 002: "每人可领券的数量限制,不填写默认为50"
DEFAULT_GET_LIMIT = 50
# SPEC §3.6 (V1.4): a card can be received only from 5 days before it begins.
RECEIVE_LEAD = timedelta(days=5)
# WeChat's timestamps and dates are China time (UTC+8).
CHINA = timezone(timedelta(hours=8), "UTC+8")
CODE_TYPES = (
    "CODE_TYPE_TEXT",
    "CODE_TYPE_BARCODE",
    "CODE_TYPE_QRCODE",
    "CODE_TYPE_ONLY_QRCODE",
    "CODE_TYPE_ONLY_BARCODE",
    "CODE_TYPE_NONE",
)

_DIGITS = re.compile(r"-?[0-9]+")


def _number(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return int(value.strip())
    return None


def block(card: Card) -> dict:
    """The type block of the definition (``cash`` or ``gift``)."""
    value = card.definition.get(card.card_type.lower()) if card.definition else None
    return value if isinstance(value, dict) else {}


def base_info(card: Card) -> dict:
    value = block(card).get("base_info")
    return value if isinstance(value, dict) else {}


def advanced_info(card: Card) -> dict:
    value = block(card).get("advanced_info")
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Validity:
    begin: int | None  # Unix seconds, inclusive
    end: int | None  # Unix seconds, inclusive (WeChat suggests 23:59:59)

    def started(self, now: datetime) -> bool:
        return self.begin is None or now.timestamp() >= self.begin

    def ended(self, now: datetime) -> bool:
        return self.end is not None and now.timestamp() > self.end

    def receivable_from(self) -> datetime | None:
        if self.begin is None:
            return None
        return datetime.fromtimestamp(self.begin, UTC) - RECEIVE_LEAD


def validity(card: Card) -> Validity:
    dates = base_info(card).get("date_info")
    dates = dates if isinstance(dates, dict) else {}
    return Validity(
        begin=_number(dates.get("begin_timestamp")),
        end=_number(dates.get("end_timestamp")),
    )


def china_date(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d")


def get_limit(card: Card) -> int:
    value = _number(base_info(card).get("get_limit"))
    return value if value is not None and value > 0 else DEFAULT_GET_LIMIT


def code_type(card: Card) -> str:
    value = base_info(card).get("code_type")
    return value if value in CODE_TYPES else "CODE_TYPE_TEXT"


def brand_name(card: Card) -> str:
    return str(base_info(card).get("brand_name") or "")


def location_ids(card: Card) -> list[int]:
    ids = base_info(card).get("location_id_list")
    if not isinstance(ids, list):
        return []
    return [n for n in (_number(value) for value in ids) if n is not None]


def link(card: Card) -> str:
    """The coupon's own link: ``center_url`` (the button in the middle), else
    ``custom_url`` (the cell below); "" when it has neither."""
    base = base_info(card)
    for key in ("center_url", "custom_url"):
        value = base.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


@dataclass(frozen=True)
class Gift:
    """What a consume of this card gives the consumer (SPEC §7): ``card_id`` None
    means a new code of the same card."""

    card_id: str | None


def gift(card: Card) -> Gift | None:
    """consume_share_self_num ≥ 1 → a code of this card; else the first entry of
    consume_share_card_list → a code of that card; else no gift."""
    advanced = advanced_info(card)
    self_num = _number(advanced.get("consume_share_self_num"))
    if self_num is not None and self_num >= 1:
        return Gift(card_id=None)
    others = advanced.get("consume_share_card_list")
    if isinstance(others, list):
        for entry in others:
            if isinstance(entry, dict) and isinstance(entry.get("card_id"), str):
                num = _number(entry.get("num"))
                if num is None or num >= 1:
                    return Gift(card_id=entry["card_id"])
    return None
