"""The current merchant travels with each request (SPEC §2).

``request.merchant`` is the merchant the user acts for (or None), ``request.role``
the user's role there. The choice lives in the session and is re-checked against
the database on every request, so a revoked membership takes effect at once.

The merchant's time zone is activated for the request: every page, form, history
and export shows and reads times in the merchant's local time.
"""

from __future__ import annotations

import zoneinfo

from django.utils import timezone

from .selectors import default_merchant_id, merchant_and_role

SESSION_KEY = "portal_merchant_id"


def resolve(request):
    """``(merchant, role)`` for the request's user, or ``(None, None)``."""
    user = request.user
    if not user.is_authenticated:
        return None, None
    merchant_id = request.session.get(SESSION_KEY)
    found = (
        merchant_and_role(user=user, merchant_id=merchant_id) if merchant_id else None
    )
    if found is None:
        merchant_id = default_merchant_id(user=user)
        if merchant_id is None:
            return None, None
        found = merchant_and_role(user=user, merchant_id=merchant_id)
        request.session[SESSION_KEY] = merchant_id
    return found if found else (None, None)


class CurrentMerchantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.merchant, request.role = resolve(request)
        zone = _zone(request.merchant)
        if zone is None:
            timezone.deactivate()  # settings.TIME_ZONE
        else:
            timezone.activate(zone)
        # Not deactivated on the way out: a streamed export (CSV) is written after
        # this returns and must still be in the merchant's zone. Each request sets
        # its own zone on the way in.
        return self.get_response(request)


def _zone(merchant) -> zoneinfo.ZoneInfo | None:
    name = getattr(merchant, "time_zone", "") if merchant is not None else ""
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
