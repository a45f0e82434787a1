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


# --- NUL characters ------------------------------------------------------------------
# No text the portal keeps or looks up may hold U+0000: PostgreSQL refuses it in any
# string (SQLite takes it), so a search for ``a%00b`` was a server error there. Forms
# already say so on the field (Django's CharField); the query string, the path, the
# cookies and the headers, and the bodies that views read without a form (JSON, a
# till's urlencoded POST), are checked here, once, for every request: a clear 400.
_NUL = "\x00"
_ENCODED_NUL = (b"%00", b"\x00")  # urlencoded: a typed "%00" is sent as %2500
_JSON_NUL = b"\\u0000"  # JSON's escape (a literal backslash-u0000 text is refused too)


def _body_has_nul(request) -> bool:
    content_type = (request.content_type or "").lower()
    if content_type == "multipart/form-data":
        if request.path_info.startswith("/api/"):
            return False  # the API's uploads: a file, no text field to look up
        # Its text fields (the file contents are binary and never checked). A body
        # that does not parse raises here as it would in the view: a 400.
        return any(_NUL in key or _NUL in value for key, value in request.POST.items())
    if content_type not in ("application/x-www-form-urlencoded", "application/json"):
        return False  # XML (WeChat's pushes): its parser refuses NUL itself
    try:
        body = request.body
    except Exception:  # too large…: the view answers it its own way
        return False
    if content_type == "application/json":
        return _JSON_NUL in body or b"\x00" in body
    return any(marker in body for marker in _ENCODED_NUL)


def has_nul(request) -> bool:
    """Whether any text of the request holds a NUL character (encoded or not)."""
    if _NUL in request.path_info:
        return True
    query = request.META.get("QUERY_STRING", "").encode("latin-1", "replace")
    if any(marker in query for marker in _ENCODED_NUL):
        return True
    if any(
        _NUL in str(value)
        for key, value in request.META.items()
        if key.startswith("HTTP_")
    ):
        return True
    if any(_NUL in key or _NUL in value for key, value in request.COOKIES.items()):
        return True
    return request.method not in _SAFE_METHODS and _body_has_nul(request)


class RejectNulMiddleware:
    """A request holding a NUL character anywhere gets a 400 in words (JSON for the
    API), before any of it reaches a query. The sandbox (below /sandbox/) answers
    such requests itself, as WeChat does."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith("/sandbox/") and has_nul(request):
            return _nul_refusal(request)
        return self.get_response(request)


def _nul_refusal(request):
    import logging

    from django.http import JsonResponse
    from django.shortcuts import render
    from django.utils.translation import gettext as _

    from .api_errors import ErrorCode

    logging.getLogger("portal.security").warning(
        "refused a request with a NUL character: %s %s",
        request.method,
        request.path_info.replace(_NUL, "\\x00")[:200],
    )
    message = _(
        "The request holds a NUL character (\\0), which no field accepts: "
        "remove it and try again."
    )
    if request.path_info.startswith("/api/") or "json" in (request.content_type or ""):
        return JsonResponse(
            {"code": ErrorCode.INVALID.value, "message": message, "field": None},
            status=400,
        )
    return render(request, "400.html", {"message": message}, status=400)
