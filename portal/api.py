"""The portal's JSON API under /api/ (django-ninja), one router per app.

Session authentication (the signed-in portal user, CSRF enforced) scoped to the
current merchant; domain errors become ``{code, message, field}`` once, here.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.security import APIKeyCookie

from wechat.errors import TransportError, WeChatError

from .roles import can


class MerchantSession(APIKeyCookie):
    """A signed-in user acting for a merchant, with CSRF checked on writes."""

    param_name = "sessionid"

    def authenticate(self, request, key):
        user = request.user
        if user.is_authenticated and getattr(request, "merchant", None) is not None:
            return user
        return None


def require(request, capability: str) -> None:
    """403 unless the user's role at the current merchant grants ``capability``."""
    if not can(getattr(request, "role", None), capability):
        raise PermissionDenied


api = NinjaAPI(
    title="Friend Coupons portal API",
    version="1",
    auth=MerchantSession(),
    urls_namespace="api",
)


def error(request, status: int, code: str, message: str, field: str | None = None):
    return api.create_response(
        request, {"code": code, "message": message, "field": field}, status=status
    )


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.error_dict.items()))
        return error(
            request, 400, errors[0].code or "invalid", errors[0].messages[0], field
        )
    return error(request, 400, exc.code or "invalid", exc.messages[0])


@api.exception_handler(PermissionDenied)
def on_permission_denied(request, exc):
    return error(request, 403, "forbidden", _("You may not do this for this merchant."))


@api.exception_handler(WeChatError)
def on_wechat_error(request, exc: WeChatError):
    code = (
        "wechat_unavailable"
        if isinstance(exc, TransportError)
        else f"wechat_{exc.errcode}"
    )
    return error(request, 502, code, exc.message, exc.field)


@api.get("/ping", tags=["portal"])
def ping(request):
    """A trivial authenticated endpoint: the stack's own cost (bench/preview.py)."""
    return {"ok": True, "merchant": request.merchant.pk}


def _mount() -> None:
    from cards.api import router as cards_router
    from coins.api import router as coins_router

    api.add_router("/cards/", cards_router)
    api.add_router("/coins/", coins_router)


_mount()
