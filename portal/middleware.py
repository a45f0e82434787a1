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


# SPEC §8: a merchant nothing may be done for (revoked, …) is read-only here.
_GUARDED = ("/admin/", "/api/")
_SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


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


def _zone(merchant) -> zoneinfo.ZoneInfo | None:
    name = getattr(merchant, "time_zone", "") if merchant is not None else ""
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


# --- Content-Security-Policy ---------------------------------------------------------
# Scripts and styles are the portal's own files (no inline script element, no style
# attributes); images are ours, data: URIs (QR codes, the admin's icons) and the
# card images WeChat hosts (uploadimg answers mmbiz.qpic.cn URLs; in the sandbox,
# its own host); nothing may frame a portal page or post a form elsewhere.
WECHAT_IMAGE_HOSTS = ("https://mmbiz.qpic.cn", "http://mmbiz.qpic.cn")


def _origin(url: str) -> str | None:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def content_security_policy(wechat_api_base: str, *, script_origins=()) -> str:
    """The portal's policy; ``wechat_api_base``'s origin may serve card images.
    ``script_origins`` may also serve scripts and be fetched from (a page that
    loads WeChat's JS-SDK sets its own policy with the SDK's origin)."""
    images = ["'self'", "data:", *WECHAT_IMAGE_HOSTS]
    wechat = _origin(wechat_api_base)
    if wechat and wechat not in images:
        images.append(wechat)
    scripts = " ".join(["'self'", *script_origins])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src " + scripts,
            "style-src 'self'",
            "img-src " + " ".join(images),
            "font-src 'self'",
            "connect-src " + scripts,
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


class ContentSecurityPolicyMiddleware:
    """Every portal response gets the policy, unless a view (or the sandbox's own
    middleware, for its pages) set one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings

        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = content_security_policy(
                settings.WECHAT_API_BASE
            )
        return response
