"""Words for the codes stored in history rows: where a change came from, and the
names of WeChat's events. Stored values stay stable codes; pages show these labels,
translated when the page renders (never stored text in another language)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# CardEvent.source, CoinEvent.source and Recharge.settled_by.
SOURCES = {
    "portal": _("In the portal"),
    "event": _("WeChat's event"),
    "poll": _("Asked WeChat"),
    "confirm": _("WeChat's confirm answer"),
    "settled": _("Read back from WeChat"),
    "clock": _("The 60-second clock"),
    "hint": _("Read from WeChat after its push"),
    "ledger": _("WeChat's ledger"),
    "import": _("Imported from WeChat"),
}

# WeChatEvent.event: what WeChat told the merchant (SPEC §10).
EVENTS = {
    "card_pass_check": _("Card approved by WeChat"),
    "card_not_pass_check": _("Card rejected by WeChat"),
    "card_pay_order": _("Coin order changed"),
    "user_get_card": _("A customer received a coupon"),
    "user_gifting_card": _("A customer gave a coupon to a friend"),
    "user_del_card": _("A customer deleted a coupon"),
    "user_consume_card": _("A coupon was redeemed"),
    "user_view_card": _("A customer opened a coupon"),
    "user_enter_session_from_card": _("A customer wrote from a coupon"),
    "card_sku_remind": _("A coupon's stock is running low"),
    "update_member_card": _("A member card changed"),
}


def source_label(value: str | None) -> str:
    """The words for a stored source code; an unknown code is shown as it is."""
    if not value:
        return ""
    label = SOURCES.get(value)
    return str(label) if label is not None else value


def event_label(value: str | None) -> str:
    """The words for a WeChat event name; an unknown name is shown as it is."""
    if not value:
        return ""
    label = EVENTS.get(value)
    return str(label) if label is not None else value
