"""The dashboard's redemption part: today's redemptions and the way to the till page.

``today`` is the slot the redemption issue fills (``{"count": n, ...}``); until then
the section shows its empty state."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from portal import dashboard
from portal.roles import Capability, can


@dashboard.register(order=30)
def redemption_section(request):
    if not can(request.role, Capability.REDEEM):
        return None
    return {
        "key": "redemption",
        "title": _("Today's redemptions"),
        "template": "redemption/dashboard_section.html",
        "span": 4,
        "today": None,
        "till_url": reverse("redemption:home"),
    }
