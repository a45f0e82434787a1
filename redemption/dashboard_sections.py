"""The dashboard's redemption part: today's redemptions (per store and per cashier
or device, from redemption.selectors.today_counts), the way to the till page and to
the history."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from portal import dashboard, nav
from portal.roles import Capability, can

from . import selectors


@dashboard.register(order=30)
def redemption_section(request):
    if not can(request.role, Capability.REDEEM):
        return None
    merchant = request.merchant
    scope = selectors.store_scope(
        merchant=merchant, user=request.user, role=request.role
    )
    counts = selectors.today_counts(merchant=merchant, scope=scope)
    history_url = reverse("redemption:history")
    day = counts.day.isoformat()
    return {
        "key": "redemption",
        "title": _("Today's redemptions"),
        "template": "redemption/dashboard_section.html",
        "span": 4,
        "today": counts if counts.count or counts.elsewhere else None,
        "till_url": reverse("redemption:home"),
        "history_url": history_url,
        "today_url": f"{history_url}?from={day}&to={day}&outcome=consumed",
    }


@nav.register
def redemption_pages(request):
    """The sidebar's Redemption entry: the till and the history for those who
    redeem, the API keys for owners."""
    if not can(request.role, Capability.REDEEM):
        return []
    pages = [
        ("till", _("Till page"), reverse("redemption:home")),
        ("history", _("Redemption history"), reverse("redemption:history")),
    ]
    if can(request.role, Capability.STAFF):
        pages.append(("keys", _("API keys for tills"), reverse("redemption:keys")))
    return [
        {
            "name": _("Redemption"),
            "app_label": "redemption",
            "app_url": reverse("redemption:history"),
            "has_module_perms": True,
            "models": [
                {
                    "name": name,
                    "object_name": key,
                    "admin_url": url,
                    "add_url": None,
                    "view_only": True,
                    "perms": {"view": True},
                }
                for key, name, url in pages
            ],
        }
    ]
