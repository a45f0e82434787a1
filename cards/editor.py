"""The editor's form ↔ WeChat's create JSON, written once, on the server.

``FIELDS`` says, for each editor input, where its value goes in WeChat's ``card``
object and how the text the user typed becomes a JSON value. ``build_card`` applies
it — when the card is saved, and for the live preview: the browser posts the raw
form to ``POST /api/cards/preview/form``, which runs this module and cards/rules.py.
The browser holds no copy of either (no dates, no money, no limits in JavaScript).

Values that do not parse (``"5.5.5"`` as yuan, ``"x"`` as a number) are passed on as
the raw text, so that the rules report them on their field in the user's language.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from . import rules

TYPE = "{t}"  # replaced by the lower-cased card type: "cash" / "gift"


@dataclass(frozen=True)
class Field:
    name: str  # the form field
    path: str  # dotted path in the card object; "{t}" is the type block
    kind: str  # str | int | yuan | notbool | multi | int_multi | date_begin |
    #            date_end | time_limit | consume_share
    only: str = ""  # "CASH" / "GIFT": the field exists for that type only


def _f(name, path, kind="str", only=""):
    return Field(name, path, kind, only)


B, A, U = (
    f"{TYPE}.base_info",
    f"{TYPE}.advanced_info",
    f"{TYPE}.advanced_info.use_condition",
)
FIELDS: tuple[Field, ...] = (
    # type and value
    _f("card_type", "card_type"),
    _f("brand_name", f"{B}.brand_name"),
    _f("reduce_cost", f"{TYPE}.reduce_cost", "yuan", "CASH"),
    _f("gift_name", f"{TYPE}.gift_name", only="GIFT"),
    _f("gift_num", f"{TYPE}.gift_num", "int", "GIFT"),
    _f("gift_unit", f"{TYPE}.gift_unit", only="GIFT"),
    # thresholds (SPEC §3.1)
    _f("least_cost", f"{U}.least_cost", "yuan"),
    _f("accept_category", f"{U}.accept_category", only="CASH"),
    _f("reject_category", f"{U}.reject_category", only="CASH"),
    _f("object_use_for", f"{U}.object_use_for", only="GIFT"),
    _f("no_other_discount", f"{U}.can_use_with_other_discount", "notbool"),
    # validity
    _f("begin_date", f"{B}.date_info.begin_timestamp", "date_begin"),
    _f("end_date", f"{B}.date_info.end_timestamp", "date_end"),
    # stores
    _f("location_ids", f"{B}.location_id_list", "int_multi"),
    # look
    _f("logo_url", f"{B}.logo_url"),
    _f("color", f"{B}.color"),
    _f("notice", f"{B}.notice"),
    _f("description", f"{B}.description"),
    _f("abstract", f"{A}.abstract.abstract"),
    _f("cover_url", f"{A}.abstract.icon_url_list.0"),
    _f("text_image_1_url", f"{A}.text_image_list.0.image_url"),
    _f("text_image_1_text", f"{A}.text_image_list.0.text"),
    _f("text_image_2_url", f"{A}.text_image_list.1.image_url"),
    _f("text_image_2_text", f"{A}.text_image_list.1.text"),
    _f("text_image_3_url", f"{A}.text_image_list.2.image_url"),
    _f("text_image_3_text", f"{A}.text_image_list.2.text"),
    # usage
    _f("code_type", f"{B}.code_type"),
    _f("service_phone", f"{B}.service_phone"),
    _f("get_limit", f"{B}.get_limit", "int"),
    _f("time_limit_days", f"{A}.time_limit", "time_limit"),
    _f("business_service", f"{A}.business_service", "multi"),
    _f("center_title", f"{B}.center_title"),
    _f("center_sub_title", f"{B}.center_sub_title"),
    _f("center_url", f"{B}.center_url"),
    _f("custom_url_name", f"{B}.custom_url_name"),
    _f("custom_url", f"{B}.custom_url"),
    _f("custom_url_sub_title", f"{B}.custom_url_sub_title"),
    _f("promotion_url_name", f"{B}.promotion_url_name"),
    _f("promotion_url", f"{B}.promotion_url"),
    _f("promotion_url_sub_title", f"{B}.promotion_url_sub_title"),
    # consume-share (SPEC §3.5)
    _f("consume_share", f"{A}", "consume_share"),
)
# Friend coupons are shared with friends, never forwarded or re-shared (SPEC §3.5).
CONSTANTS = {
    f"{B}.date_info.type": "DATE_TYPE_FIX_TIME_RANGE",
    f"{B}.can_share": False,
    f"{B}.can_give_friend": False,
    f"{A}.share_friends": True,
}
# Inputs read by compound fields.

_YUAN = re.compile(r"^\d+(\.\d{1,2})?$")
_INT = re.compile(r"^-?\d+$")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def type_only_fields() -> dict[str, str]:
    """Editor fields that exist for one card type only: ``{"reduce_cost": "CASH"}``
    (the page shows the fields of the chosen type)."""
    return {f.name: f.only for f in FIELDS if f.only}


def _get(data, name) -> str:
    value = data.get(name, "")
    if isinstance(value, list):
        value = value[-1] if value else ""
    return str(value).strip()


def _getlist(data, name) -> list[str]:
    if hasattr(data, "getlist"):
        return [str(v) for v in data.getlist(name) if str(v).strip()]
    value = data.get(name, [])
    return [str(v) for v in (value if isinstance(value, list) else [value]) if str(v)]


def _set(card: dict, path: str, value) -> None:
    keys = path.split(".")
    node = card
    for key, nxt in itertools.pairwise(keys):
        index = int(key) if key.isdigit() else key
        default = [] if nxt.isdigit() else {}
        if isinstance(node, list):
            while len(node) <= index:
                node.append(None)
            if node[index] is None:
                node[index] = default
            node = node[index]
        else:
            node = node.setdefault(index, default)
    last = keys[-1]
    if isinstance(node, list):
        index = int(last)
        while len(node) <= index:
            node.append(None)
        node[index] = value
    else:
        node[last] = value


def _timestamp(text: str, zone: ZoneInfo, *, end: bool):
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return text
    moment = datetime.combine(day, time(23, 59, 59) if end else time(0, 0), zone)
    return int(moment.timestamp())


def _value(field: Field, data, zone: ZoneInfo):
    """The JSON value of one field, or None when the user left it empty."""
    kind = field.kind
    if kind == "str":
        return _get(data, field.name) or None
    if kind in ("int", "yuan"):
        text = _get(data, field.name)
        if not text:
            return None
        if kind == "int":
            return int(text) if _INT.match(text) else text
        return rules.parse_yuan(text) if _YUAN.match(text) else text
    if kind == "notbool":
        return _get(data, field.name) not in ("on", "true", "1")
    if kind == "multi":
        return _getlist(data, field.name) or None
    if kind == "int_multi":
        values = _getlist(data, field.name)
        return [int(v) if _INT.match(v) else v for v in values] or None
    if kind in ("date_begin", "date_end"):
        text = _get(data, field.name)
        return _timestamp(text, zone, end=kind == "date_end") if text else None
    if kind == "time_limit":
        return _time_limit(_getlist(data, field.name), data)
    raise ValueError(kind)


def _time_limit(days: list[str], data) -> list | None:
    if not days:
        return None
    begin, end = _get(data, "time_begin"), _get(data, "time_end")
    entries = []
    for day in days:
        entry: dict = {"type": day}
        if day != "HOLIDAY":
            for prefix, text in (("begin", begin), ("end", end)):
                match = _HHMM.match(text)
                if match:
                    entry[f"{prefix}_hour"] = int(match.group(1))
                    entry[f"{prefix}_minute"] = int(match.group(2))
                elif text:
                    entry[f"{prefix}_hour"] = text
        entries.append(entry)
    return entries


def build_card(data, *, time_zone: str, stored: dict | None = None) -> dict:
    """WeChat's ``card`` object from the editor's inputs (a QueryDict or a dict).

    Dates are days in ``time_zone`` (the merchant's): a card valid from 2026-12-02
    begins at that day's midnight there. ``stored`` is the definition of a card
    already at WeChat: its type, value, brand and thresholds are kept as they are
    (SPEC §3.5), whatever was posted."""
    if stored:
        data = _with(data, "card_type", stored.get("card_type", "CASH"))
    card = _build(data, ZoneInfo(time_zone))
    if stored:
        keep_frozen(card, stored)
    return card


def _with(data, name: str, value: str):
    if hasattr(data, "copy") and hasattr(data, "setlist"):
        data = data.copy()
        data[name] = value
        return data
    return {**data, name: value}


def _build(data, zone: ZoneInfo) -> dict:
    card_type = _get(data, "card_type").upper() or "CASH"
    type_key = card_type.lower()
    card: dict = {}
    for path, value in CONSTANTS.items():
        _set(card, path.replace(TYPE, type_key), value)
    for field in FIELDS:
        if field.only and field.only != card_type:
            continue
        path = field.path.replace(TYPE, type_key)
        if field.kind == "consume_share":
            choice = _get(data, field.name)
            if choice == "self":
                _set(card, path + ".consume_share_self_num", 1)
            elif choice == "other":
                other = _get(data, "consume_share_card")
                _set(
                    card,
                    path + ".consume_share_card_list",
                    [{"card_id": other, "num": 1}],
                )
            continue
        value = card_type if field.name == "card_type" else _value(field, data, zone)
        if value is not None:
            _set(card, path, value)
    _prune_lists(card)
    return card


def _prune_lists(node) -> None:
    """Drop list holes left by empty rows (a text-image row the user left blank)."""
    if isinstance(node, dict):
        for value in node.values():
            _prune_lists(value)
    elif isinstance(node, list):
        node[:] = [v for v in node if v not in (None, {}, [])]
        for value in node:
            _prune_lists(value)


def keep_frozen(card: dict, stored: dict) -> None:
    """Put back what cannot change once submitted (SPEC §3.5): type, value, brand,
    thresholds — as WeChat has them."""
    type_key = str(stored.get("card_type", "CASH")).lower()
    card["card_type"] = stored.get("card_type", "CASH")
    new, old = card.setdefault(type_key, {}), stored.get(type_key, {})
    for key in ("reduce_cost", "gift_name", "gift_num", "gift_unit"):
        new.pop(key, None)
        if key in old:
            new[key] = old[key]
    for section, key in (
        ("base_info", "brand_name"),
        ("advanced_info", "use_condition"),
    ):
        block = new.setdefault(section, {})
        block.pop(key, None)
        if key in old.get(section, {}):
            block[key] = old[section][key]


# --- and back: a stored card into the editor's initial values ----------------------
def _dig(card: dict, path: str, type_key: str):
    node = card
    for key in path.replace(TYPE, type_key).split("."):
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return None
    return node


def initial_from_card(card: dict, *, time_zone: str) -> dict:
    """The editor's initial values for a stored ``card`` object."""
    zone = ZoneInfo(time_zone)
    card_type = str(card.get("card_type") or "CASH")
    type_key = card_type.lower()
    initial: dict = {"card_type": card_type}
    for field in FIELDS:
        if field.name == "card_type":
            continue
        value = _dig(card, field.path, type_key)
        if field.kind == "consume_share":
            block = value or {}
            if block.get("consume_share_self_num"):
                initial["consume_share"] = "self"
            elif block.get("consume_share_card_list"):
                initial["consume_share"] = "other"
                first = block["consume_share_card_list"][0] or {}
                initial["consume_share_card"] = first.get("card_id", "")
            else:
                initial["consume_share"] = "none"
            continue
        if value is None:
            continue
        if field.kind == "yuan":
            initial[field.name] = (
                rules.fen_to_yuan_text(value) if isinstance(value, int) else str(value)
            )
        elif field.kind == "notbool":
            initial[field.name] = value is False
        elif field.kind in ("date_begin", "date_end"):
            if isinstance(value, int):
                initial[field.name] = (
                    datetime.fromtimestamp(value, zone).date().isoformat()
                )
        elif field.kind == "time_limit":
            initial[field.name] = [e.get("type") for e in value if isinstance(e, dict)]
            timed = next(
                (e for e in value if isinstance(e, dict) and "begin_hour" in e), None
            )
            if timed:
                initial["time_begin"] = _hhmm(timed, "begin")
                initial["time_end"] = _hhmm(timed, "end")
        elif field.kind == "int_multi":
            initial[field.name] = [str(v) for v in value]
        else:
            initial[field.name] = value
    return initial


def _hhmm(entry: dict, prefix: str) -> str:
    hour, minute = entry.get(f"{prefix}_hour"), entry.get(f"{prefix}_minute", 0)
    if isinstance(hour, int) and isinstance(minute, int):
        return f"{hour:02d}:{minute:02d}"
    return ""


def _error_fields() -> dict[str, str]:
    out = {}
    for field in FIELDS:
        if field.kind == "consume_share":
            continue  # its paths are listed below
        rel = field.path.split(".", 1)[1] if field.path.startswith(TYPE) else field.path
        out.setdefault(rel, field.name)
    out.update(
        {
            "base_info.date_info": "end_date",
            "base_info.date_info.type": "end_date",
            "advanced_info.text_image_list": "text_image_1_url",
            "advanced_info.abstract": "abstract",
            "advanced_info.abstract.icon_url_list": "cover_url",
            "advanced_info.time_limit": "time_limit_days",
            "advanced_info.consume_share_self_num": "consume_share",
            "advanced_info.consume_share_card_list": "consume_share",
            "advanced_info.use_condition": "least_cost",
            "base_info.can_share": "consume_share",
            "base_info.can_give_friend": "consume_share",
            "advanced_info.share_friends": "consume_share",
        }
    )
    return out


# JSON path (relative to the type block) → the editor field showing its errors.
ERROR_FIELDS = _error_fields()


def field_for_error(path: str) -> str | None:
    """The editor field an error at ``path`` belongs to (longest known prefix)."""
    parts = path.split(".")
    while parts:
        name = ERROR_FIELDS.get(".".join(parts))
        if name:
            return name
        parts.pop()
    return None


def errors_for_fields(errors: dict[str, list[str]]) -> tuple[dict[str, str], list[str]]:
    """The rules' errors (by JSON path) as the editor shows them: the first message
    of each editor field, and the messages that belong to no field."""
    fields: dict[str, str] = {}
    general: list[str] = []
    for path, messages in errors.items():
        name = field_for_error(path) if path else None
        if name is None:
            general.extend(messages)
        elif name not in fields and messages:
            fields[name] = messages[0]
    return fields, general
