"""The dashboard's redemption part: the way to the till page (redemption arrives with
its own issue)."""

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
        "title": _("Redemption"),
        "template": "redemption/dashboard_section.html",
        "till_url": reverse("redemption:home"),
    }
