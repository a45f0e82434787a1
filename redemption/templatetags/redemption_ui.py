"""Redemption on other apps' pages: a card's codes on the card's page."""

from __future__ import annotations

from django import template
from django.urls import reverse

from portal.roles import Capability, can

from .. import selectors

register = template.Library()


@register.inclusion_tag("redemption/card_codes.html", takes_context=True)
def card_codes(context, card):
    """The card's codes: issued and in each status, how the consumed ones were
    redeemed, the latest codes, and the way to the card's history. The receives
    and redemptions per channel are the distribution panel's (beside it)."""
    request = context.get("request")
    role = getattr(request, "role", None)
    summary = selectors.card_codes(merchant=card.merchant, card=card)
    return {
        "card": card,
        "summary": summary,
        "history_url": (
            f"{reverse('redemption:history')}?card={card.pk}"
            if can(role, Capability.REDEEM)
            else ""
        ),
    }
