"""The current merchant travels with each request (SPEC §2).

``request.merchant`` is the merchant the user acts for (or None), ``request.role``
the user's role there. The choice lives in the session and is re-checked against
the database on every request, so a revoked membership takes effect at once.
"""

from __future__ import annotations

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


# SPEC §8: a merchant nothing may be done for (revoked, …) is read-only here.
_GUARDED = ("/admin/", "/api/")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class CurrentMerchantMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.merchant, request.role = resolve(request)
        merchant = request.merchant
        if (
            merchant is not None
            and merchant.is_read_only
            and request.method not in _SAFE_METHODS
            and request.path.startswith(_GUARDED)
        ):
            from .providers.views import read_only_refusal

            return read_only_refusal(request)
        return self.get_response(request)
