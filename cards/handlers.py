"""What the cards app does with WeChat's pushes (SPEC §3.6), and its dashboard part."""

from __future__ import annotations

from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from portal import dashboard, events
from portal.roles import Capability, can

from . import services
from .models import CardStatus, FriendCard


@events.handler("card_pass_check")
def on_card_pass_check(event) -> None:
    services.card_apply_review(
        merchant=event.merchant, card_id=event.payload.get("CardId", ""), approved=True
    )


@events.handler("card_not_pass_check")
def on_card_not_pass_check(event) -> None:
    services.card_apply_review(
        merchant=event.merchant,
        card_id=event.payload.get("CardId", ""),
        approved=False,
        reason=str(event.payload.get("RefuseReason", "")),
    )


@dashboard.register(order=10)
def cards_section(request):
    if not can(request.role, Capability.CARDS):
        return None
    counts = FriendCard.objects.filter(merchant=request.merchant).aggregate(
        total=Count("pk", filter=~Q(status=CardStatus.DELETED)),
        draft=Count("pk", filter=Q(status=CardStatus.DRAFT)),
        review=Count("pk", filter=Q(status=CardStatus.IN_REVIEW)),
        approved=Count("pk", filter=Q(status=CardStatus.APPROVED)),
        rejected=Count("pk", filter=Q(status=CardStatus.REJECTED)),
    )
    list_url = reverse("admin:cards_friendcard_changelist")
    alerts = []
    if counts["rejected"]:
        alerts.append(
            {
                "level": "error",
                "text": ngettext(
                    "%(n)d coupon was rejected by WeChat: see why and fix it.",
                    "%(n)d coupons were rejected by WeChat: see why and fix them.",
                    counts["rejected"],
                )
                % {"n": counts["rejected"]},
                "url": f"{list_url}?status__exact={CardStatus.REJECTED}",
                "action": _("See the rejected coupons"),
            }
        )
    if counts["review"]:
        alerts.append(
            {
                "level": "info",
                "text": ngettext(
                    "%(n)d coupon is in review at WeChat.",
                    "%(n)d coupons are in review at WeChat.",
                    counts["review"],
                )
                % {"n": counts["review"]},
                "url": f"{list_url}?status__exact={CardStatus.IN_REVIEW}",
                "action": _("Open"),
            }
        )
    return {
        "key": "cards",
        "title": _("Friend coupons"),
        "template": "cards/dashboard_section.html",
        "span": 4,
        "counts": counts,
        "statuses": {
            "draft": CardStatus.DRAFT,
            "review": CardStatus.IN_REVIEW,
            "approved": CardStatus.APPROVED,
            "rejected": CardStatus.REJECTED,
        },
        "list_url": list_url,
        "add_url": reverse("admin:cards_friendcard_add"),
        "alerts": alerts,
    }
