"""The public H5 campaign page ``/c/<slug>/`` (SPEC §6): WeChat users open it on
their phones and receive the campaign's coupons with the JS-SDK's ``addCard``."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from cards.rules import PALETTE
from portal.middleware import content_security_policy

from . import jssdk, selectors


def _labels() -> dict:
    """The words the page's script shows, in the reader's language."""
    return {
        "added": _("Added to your card wallet."),
        "not_added": _("Not added: you may have received it the most times allowed."),
        "cancelled": _("Not added: you closed WeChat's window."),
        "failed": _("WeChat could not add the coupon. Reload the page and try again."),
        "config_failed": _(
            "WeChat refused this page's signature. Reload the page; if it happens "
            "again, tell the shop."
        ),
        "no_sdk": _("WeChat's script did not load. Check the connection and reload."),
    }


def _card_item(card) -> dict:
    base = card.type_block.get("base_info", {}) if card.type_block else {}
    return {
        "card": card,
        "logo": base.get("logo_url", ""),
        "color": PALETTE.get(base.get("color", ""), ""),
        "receivable_from": selectors.receivable_from(card),
    }


@require_safe
def landing(request, slug: str):
    """The page: its coupons, signed for this request (wx.config for this URL, a
    fresh cardExt per coupon); a closed or unknown page is 404."""
    campaign, cards = selectors.campaign_page(slug)
    if campaign is None:
        response = render(request, "distribution/landing_missing.html", status=404)
        response["Cache-Control"] = "no-store"
        return response
    merchant = campaign.merchant
    zone = selectors.merchant_zone(merchant)
    # The URL the browser shows (without #…): what wx.config's signature covers.
    signed = (
        jssdk.page_signatures(
            merchant=merchant,
            url=request.build_absolute_uri(),
            card_ids=[c.card_id for c in cards],
            outer_str=campaign.channel.outer_str,
        )
        if cards
        else None
    )
    with timezone.override(zone):  # the merchant's dates, whoever reads them
        response = render(
            request,
            "distribution/landing.html",
            {
                "campaign": campaign,
                "merchant": merchant,
                "items": [_card_item(c) for c in cards],
                "signed": signed,
                "jssdk_url": jssdk.jssdk_url(),
                "page_data": {"wx": signed, "labels": _labels()},
            },
        )
    origin = jssdk.jssdk_origin()
    response["Content-Security-Policy"] = content_security_policy(
        settings.WECHAT_API_BASE, script_origins=(origin,) if origin else ()
    )
    # Signed for this request only: never cached, never shared.
    response["Cache-Control"] = "no-store"
    return response
