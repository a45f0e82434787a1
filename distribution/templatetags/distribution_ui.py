"""Distribution on other apps' pages: the panel of a card's page (its QR codes and
its channel table), and how a day is written."""

from __future__ import annotations

from django import template
from django.utils import timezone

from portal.roles import Capability, can

from .. import selectors

register = template.Library()


@register.filter
def day_or_time(value) -> str:
    """A moment in the current (merchant's) time zone: its day, with the time of day
    unless it is midnight ("2026-12-07", "2026-12-07 15:30")."""
    if not value:
        return ""
    local = timezone.localtime(value)
    if (local.hour, local.minute) == (0, 0):
        return f"{local:%Y-%m-%d}"
    return f"{local:%Y-%m-%d %H:%M}"


@register.inclusion_tag("distribution/card_panel.html", takes_context=True)
def card_distribution(context, card):
    """A submitted card's QR codes, campaign pages and receives per channel."""
    request = context.get("request")
    merchant = card.merchant
    rows = selectors.channel_figures(merchant=merchant, card=card)
    qrcodes = [
        (qr, selectors.qrcode_state(qr))
        for qr in selectors.card_qrcodes(merchant=merchant, card=card, limit=20)
    ]
    return {
        "card": card,
        "rows": rows,
        "total": selectors.figures_total(rows),
        "qrcodes": [
            {
                "qr": qr,
                "state": state,
                "label": selectors.qrcode_state_label(state),
                "tone": selectors.qrcode_tone(state),
            }
            for qr, state in qrcodes
        ],
        "campaigns": card.campaigns.filter(merchant=merchant).order_by("-created_at")[
            :10
        ],
        "receivable_from": selectors.receivable_from(card),
        "can_make": can(getattr(request, "role", None), Capability.CARDS),
    }
