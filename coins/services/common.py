"""What every coin service shares: the client, the event row, input parsing, the
clock of unknown outcomes."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

import wechat
from cards import rules
from portal.models import Merchant

from ..models import CoinEvent

QUOTE_SECONDS = 60  # SPEC §5: a quote works once, within 60 s
MAX_QUANTITY = rules.MAX_STOCK_QUANTITY
MAX_RECHARGE = 100_000
# An unknown outcome is read again after these many seconds (then the last, repeated).
CHECK_SCHEDULE = (2, 3, 5, 10, 15, 30, 60)
# An unsafe call still "in flight" this long after it was sent: whoever sent it died.
IN_FLIGHT_STUCK = timedelta(seconds=30)


def unknown_margin() -> timedelta:
    """How long after a request could last have landed at WeChat its absence there
    proves it never will (SPEC §5: "WeChat has not seen it yet" proves nothing
    before that)."""
    return timedelta(seconds=getattr(settings, "UNKNOWN_OUTCOME_MARGIN_SECONDS", 30))


def next_check_in(check_count: int) -> timedelta:
    return timedelta(seconds=CHECK_SCHEDULE[min(check_count, len(CHECK_SCHEDULE) - 1)])


def client_for(merchant: Merchant):
    return wechat.for_merchant(merchant)


def coin_event(
    merchant: Merchant,
    kind: str,
    *,
    actor=None,
    stock_order=None,
    recharge=None,
    message: str = "",
    answer=None,
    source: str = "portal",
) -> CoinEvent:
    """The row every state change leaves (who, what, when, WeChat's answer)."""
    return CoinEvent.objects.create(
        merchant=merchant,
        kind=kind,
        actor=actor,
        stock_order=stock_order,
        recharge=recharge,
        message=message,
        wechat_answer=answer,
        source=source,
    )


def _whole_number(
    value, *, field: str, lo: int, hi: int, message: str, range_message: str = ""
) -> int:
    """A whole number typed by a user: ASCII digits only. ``str.isdigit`` accepts
    '²', '①', '１０' and '١٢٣', and ``int()`` then fails or reads a number the user
    did not type as one; here they are all refused with the same words."""
    text = str(value if value is not None else "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        raise ValidationError({field: message}, code="not_a_number")
    number = int(text)
    if not lo <= number <= hi:
        raise ValidationError({field: range_message or message}, code="out_of_range")
    return number


def parse_quantity(value) -> int:
    """A stock quantity typed by a user: a whole number from 1 to 100,000,000."""
    return _whole_number(
        value,
        field="quantity",
        lo=1,
        hi=MAX_QUANTITY,
        message=_("Enter the number of units as a whole number, like 100."),
        range_message=_("Buy from 1 to %(max)s units at a time.")
        % {"max": f"{MAX_QUANTITY:,}"},
    )


def parse_coin_count(value) -> int:
    """Coins to recharge (1 coin = 1 yuan): a whole number from 1 to 100,000."""
    return _whole_number(
        value,
        field="coin_count",
        lo=1,
        hi=MAX_RECHARGE,
        message=_("Recharge a whole number of coins from 1 to %(max)s.")
        % {"max": f"{MAX_RECHARGE:,}"},
    )
