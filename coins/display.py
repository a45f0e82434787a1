"""What the coin pages say, in the viewer's language.

The services store stable codes (a status, WeChat's errcode, an event's kind); the
words are chosen here when a page renders. Text stored by a Celery worker would be
in the worker's language, not the reader's (SPEC §11: messages come from the errcode
through gettext, never from WeChat's errmsg).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from portal.labels import source_label
from wechat import errors as wx

from .models import CoinEvent, StockOrder

EXPIRED_HERE = _("The quote expired (quotes last 60 seconds). Get a new quote.")
EXPIRED_AT_WECHAT = _(
    "WeChat says the quote has expired (quotes last 60 seconds). Get a new quote."
)
NOT_ADDED = _("WeChat did not add the stock. Get a new quote to try again.")
UNITS_FOR_COINS = _("%(quantity)s units for %(price)s coins")


def errcode_message(errcode: int) -> str:
    """Our words for WeChat's errcode (wechat/errors.py MESSAGES)."""
    return wx.WeChatError(errcode).message


def stock_order_message(order: StockOrder) -> str:
    """Why a stock order ended as it did (empty while it is still going)."""
    status = order.status
    if status == StockOrder.Status.UNKNOWN:
        return wx.UnknownOutcome().message
    if order.problem and status != StockOrder.Status.CONFIRMED:
        return order.problem_message  # the problem's code, in the reader's words
    if status == StockOrder.Status.EXPIRED:
        return str(
            EXPIRED_AT_WECHAT if order.errcode == wx.E.INVALID_TIME else EXPIRED_HERE
        )
    if status == StockOrder.Status.FAILED:
        return (
            str(NOT_ADDED) if order.errcode is None else errcode_message(order.errcode)
        )
    if status == StockOrder.Status.UNKNOWN:
        return wx.UnknownOutcome().message
    return ""


def coin_event_rows(events) -> list[dict]:
    """Coin events as a history table shows them: local time (the template's date
    filter), words for every code, messages said again in the viewer's language."""
    rows = []
    for event in events:
        rows.append(
            {
                "at": event.at,
                "kind": event.get_kind_display(),
                "actor": event.actor,
                "source": source_label(event.source),
                "message": coin_event_message(event),
            }
        )
    return rows


def coin_event_message(event: CoinEvent) -> str:
    answer = event.wechat_answer if isinstance(event.wechat_answer, dict) else {}
    order = event.stock_order
    kind = event.kind
    if kind == CoinEvent.Kind.CONFIRMED and order is not None:
        return str(UNITS_FOR_COINS) % {"quantity": order.quantity, "price": order.price}
    if kind == CoinEvent.Kind.CONFIRM_REFUSED:
        errcode = answer.get("errcode")
        if errcode == wx.E.INVALID_TIME:
            return str(EXPIRED_AT_WECHAT)
        if errcode is None:
            return str(NOT_ADDED)
        return errcode_message(errcode)
    if kind == CoinEvent.Kind.CONFIRM_UNKNOWN:
        return wx.UnknownOutcome().message
    return event.message
