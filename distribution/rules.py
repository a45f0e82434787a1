"""Distribution's rules (SPEC §6, §3.6): pure functions on plain data, no ORM.

The admin forms, the services and the landing page call these; each refusal is a
``{field: message}`` entry in the reader's language, for the field it belongs to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext as _

# SPEC §6: outer_id is an integer 0–2³¹−1 (0 = no channel), outer_str ≤ 128.
MAX_OUTER_ID = 2**31 - 1
MAX_OUTER_STR = 128
# SPEC §6: an expiring QR code lives 60–1800 s; absent = permanent.
MIN_EXPIRE_SECONDS, MAX_EXPIRE_SECONDS = 60, 1800
# SPEC §6: the test whitelist holds at most 10 openids and usernames in all.
WHITELIST_MAX = 10
# SPEC §3.6 (V1.4): a card can be received from 5 days before it begins.
RECEIVE_LEAD = timedelta(days=5)
CHANNEL_NAME_MAX = 40
CAMPAIGN_TITLE_MAX = 40

_OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The seed's examples ("afdvvf", "eddy"): WeChat IDs, string(32).
_USERNAME = re.compile(r"[A-Za-z0-9_-]{1,32}")

Errors = dict[str, str]


def outer_str_for(outer_id: int) -> str:
    """The outer_str a channel carries beside its outer_id: the JS-SDK's cardExt
    has no outer_id, so H5 receives name their channel by this text alone."""
    return f"ch-{outer_id}"


def channel_name_errors(name: str) -> Errors:
    name = (name or "").strip()
    if not name:
        return {"name": _("Give the channel a name, e.g. “Window poster”.")}
    if len(name) > CHANNEL_NAME_MAX:
        return {
            "name": _("At most %(n)d characters.") % {"n": CHANNEL_NAME_MAX},
        }
    return {}


def parse_expire_seconds(value) -> tuple[int | None, Errors]:
    """``value`` as typed (blank = permanent) → (seconds or None, errors)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, {}
    text = str(value).strip()
    if isinstance(value, bool) or not text.isascii() or not text.isdigit():
        return None, {"expire_seconds": _("Write a whole number of seconds.")}
    seconds = int(text)
    if not MIN_EXPIRE_SECONDS <= seconds <= MAX_EXPIRE_SECONDS:
        return None, {
            "expire_seconds": _(
                "An expiring QR code lasts %(min)d to %(max)d seconds (30 minutes); "
                "leave it permanent for a poster."
            )
            % {"min": MIN_EXPIRE_SECONDS, "max": MAX_EXPIRE_SECONDS}
        }
    return seconds, {}


def qrcode_errors(
    *,
    submitted: bool,
    approved: bool,
    deleted: bool,
    ended: bool,
    quantity: int,
    whitelist_size: int,
    is_unique_code: bool,
) -> Errors:
    """What WeChat would refuse about a QR code of this card (SPEC §6, §3.6), said
    on the field it belongs to: an approved card, or one in review while the test
    whitelist has someone on it; not deleted or ended; one code per scan only for
    an approved card with stock."""
    if not submitted:
        return {
            "card": _(
                "This coupon is a draft: submit it to WeChat before making QR codes."
            )
        }
    if deleted:
        return {"card": _("This coupon is deleted.")}
    if ended:
        return {
            "card": _("This coupon has ended: nobody can receive it any more."),
        }
    if not approved and whitelist_size == 0:
        return {
            "card": _(
                "WeChat has not approved this coupon yet. Until it does, its QR "
                "codes work only for test users: put them on the test whitelist "
                "first."
            )
        }
    if is_unique_code and not approved:
        return {
            "is_unique_code": _("One code per scan needs a coupon WeChat approved."),
        }
    if is_unique_code and quantity <= 0:
        return {
            "is_unique_code": _("One code per scan needs stock: buy stock first."),
        }
    return {}


def _entries(values: Iterable[str] | str) -> list[str]:
    if isinstance(values, str):
        values = re.split(r"[\s,;，；]+", values)
    seen, kept = set(), []
    for value in values:
        value = (value or "").strip()
        if value and value not in seen:
            seen.add(value)
            kept.append(value)
    return kept


def whitelist_clean(
    openids: Iterable[str] | str, usernames: Iterable[str] | str
) -> tuple[list[str], list[str], Errors]:
    """The whole new whitelist (one entry per line, or a list; blanks and repeats
    dropped) → (openids, usernames, errors). At most 10 in all (SPEC §6)."""
    ids, names = _entries(openids), _entries(usernames)
    errors: Errors = {}
    bad = [v for v in ids if not _OPENID.fullmatch(v)]
    if bad:
        errors["openids"] = _(
            "Not an openid: %(v)s (letters, digits, - and _, at most 64)."
        ) % {"v": ", ".join(bad[:3])}
    bad = [v for v in names if not _USERNAME.fullmatch(v)]
    if bad:
        errors["usernames"] = _(
            "Not a WeChat ID: %(v)s (letters, digits, - and _, at most 32)."
        ) % {"v": ", ".join(bad[:3])}
    total = len(ids) + len(names)
    if total > WHITELIST_MAX:
        field = "openids" if len(ids) > len(names) else "usernames"
        errors.setdefault(
            field,
            _(
                "At most %(max)d test users in all (openids and WeChat IDs "
                "together); this list has %(n)d."
            )
            % {"max": WHITELIST_MAX, "n": total},
        )
    return ids, names, errors


def receivable_from(begin_at: datetime | None, now: datetime) -> datetime | None:
    """When customers may start receiving a card that begins at ``begin_at`` (5 days
    before, SPEC §3.6), or None when they already may."""
    if begin_at is None:
        return None
    start = begin_at - RECEIVE_LEAD
    return start if start > now else None


def consumption_rate(received: int, consumed: int) -> Decimal | None:
    """Redeemed per received, in percent with one decimal; None when none received."""
    if received <= 0:
        return None
    rate = Decimal(consumed) * 100 / Decimal(received)
    return rate.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


NO_CHANNEL = "none"
OTHER_CHANNEL = "other"


def channel_of(
    outer_id: int | None,
    outer_str: str,
    *,
    by_outer_id: Mapping[int, object],
    by_outer_str: Mapping[str, object],
):
    """The channel a receive came by: its OuterId when it names one of the
    merchant's channels (QR codes), else its OuterStr (H5 pages send only that);
    ``NO_CHANNEL`` when it carries neither, ``OTHER_CHANNEL`` when it names no
    channel of the merchant (a QR code made elsewhere, a consume-share gift)."""
    if outer_id and outer_id in by_outer_id:
        return by_outer_id[outer_id]
    if outer_str and outer_str in by_outer_str:
        return by_outer_str[outer_str]
    if not outer_id and not outer_str:
        return NO_CHANNEL
    return OTHER_CHANNEL
