"""The portal's JSON API under /api/ (django-ninja), one router per app.

Tenancy is resolved once per router, not endpoint by endpoint: every router is a
``PortalRouter`` whose authentication (``MerchantAuth``) is the signed-in portal
user acting for a merchant, CSRF checked on writes, with the role's capability
for that router (or the operation's own ``auth=requires(...)``). The endpoint gets
``request.auth``, a ``Tenant``: the merchant, the role, and querysets scoped to
the merchant. Every error becomes ``{code, message, field}`` here, once
(portal.api_errors), and is documented on every operation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.contrib.auth.decorators import login_required
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    ValidationError,
)
from django.db.models import QuerySet
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Router, Schema
from ninja.constants import NOT_SET
from ninja.errors import AuthenticationError, AuthorizationError, HttpError
from ninja.errors import ValidationError as SchemaValidationError
from ninja.security import APIKeyCookie

from wechat.errors import TransportError, UnknownOutcome, WeChatError

from .admin_base import scope
from .api_errors import ERROR_RESPONSES, ErrorCode
from .roles import Capability, can

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tenant:
    """Who is calling, for which merchant, in which role (``request.auth``)."""

    user: object
    merchant: object
    role: str

    def scoped(self, queryset: QuerySet) -> QuerySet:
        """``queryset`` restricted to this merchant's rows (portal.admin_base.scope)."""
        return scope(queryset, self.merchant)

    def get_or_404(self, queryset: QuerySet, **lookup):
        """This merchant's object, or 404: another merchant's row looks missing."""
        found = self.scoped(queryset).filter(**lookup).first()
        if found is None:
            raise Http404
        return found


class MerchantAuth(APIKeyCookie):
    """The signed-in portal user acting for a merchant (the session the admin uses,
    CSRF checked on writes), whose role there grants ``capability``.

    No session or no merchant: 401. A role without the capability: 403.
    """

    param_name = "sessionid"

    def __init__(self, capability: str | None = Capability.ADMIN):
        self.capability = capability
        super().__init__(csrf=True)

    def __call__(self, request):
        if not request.user.is_authenticated:
            return None  # 401 before the CSRF check: sign in first
        return super().__call__(request)

    def authenticate(self, request, key):
        user = request.user
        merchant = getattr(request, "merchant", None)
        if not user.is_authenticated or merchant is None:
            return None
        role = getattr(request, "role", None)
        if self.capability is not None and not can(role, self.capability):
            raise AuthorizationError
        return Tenant(user=user, merchant=merchant, role=role)


def requires(capability: str | None) -> MerchantAuth:
    """``auth=requires(Capability.X)``: an operation's own capability."""
    return MerchantAuth(capability)


class PortalRouter(Router):
    """A router of the portal's API: its operations need ``capability`` (unless
    they say otherwise), declare a response schema, and document the error shape
    on 400/401/403/404/409/422/502."""

    def __init__(self, *, capability: str | None = Capability.ADMIN, **kwargs):
        kwargs.setdefault("auth", requires(capability))
        super().__init__(**kwargs)

    def add_api_operation(self, path, methods, view_func, *, response=NOT_SET, **kw):
        if response is NOT_SET:
            raise TypeError(f"{view_func.__qualname__}: declare its response schema")
        if not isinstance(response, dict):
            response = {200: response}
        response = {**ERROR_RESPONSES, **response}
        super().add_api_operation(path, methods, view_func, response=response, **kw)


api = NinjaAPI(
    title="Friend Coupons portal API",
    version="1",
    # Each PortalRouter has its own; this one tells the docs to send the CSRF token.
    auth=requires(Capability.ADMIN),
    urls_namespace="api",
    default_router=PortalRouter(),
    # The docs (django-ninja's bundled Swagger UI, no CDN) and the schema are for
    # signed-in users only.
    docs_decorator=login_required,
)


def error(
    request, status: int, code: ErrorCode, message: str, field: str | None = None
):
    return api.create_response(
        request,
        {"code": code.value, "message": str(message), "field": field},
        status=status,
    )


@api.exception_handler(AuthenticationError)
def on_not_authenticated(request, exc):
    return error(
        request, 401, ErrorCode.NOT_AUTHENTICATED, _("Sign in to the portal first.")
    )


@api.exception_handler(AuthorizationError)
@api.exception_handler(PermissionDenied)
def on_permission_denied(request, exc):
    return error(
        request, 403, ErrorCode.FORBIDDEN, _("You may not do this for this merchant.")
    )


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return error(request, 404, ErrorCode.NOT_FOUND, _("Not found."))


HTTP_ERROR_CODES = {
    401: ErrorCode.NOT_AUTHENTICATED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    409: ErrorCode.CONFLICT,
    429: ErrorCode.TOO_MANY_REQUESTS,
}


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    if exc.status_code == 403 and "CSRF" in exc.message:
        return error(
            request,
            403,
            ErrorCode.CSRF_FAILED,
            _("The request has no valid CSRF token: reload the page and try again."),
        )
    code = HTTP_ERROR_CODES.get(exc.status_code, ErrorCode.INVALID)
    messages = {
        ErrorCode.NOT_FOUND: _("Not found."),
        ErrorCode.TOO_MANY_REQUESTS: _("Too many requests: try again in a moment."),
        ErrorCode.CONFLICT: _("This request is already being handled."),
    }
    return error(
        request,
        exc.status_code,
        code,
        messages.get(code, _("The request is not valid.")),
    )


def _field(loc) -> str | None:
    """``("query", "quantity")`` → ``"quantity"``; ``("body", "payload", "card")`` →
    ``"card"``: the input's own name, without ninja's source and argument."""
    parts = [str(p) for p in loc or ()]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie", "form"):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] in ("payload", "data"):
        parts = parts[1:]
    return ".".join(parts) or None


@api.exception_handler(SchemaValidationError)
def on_schema_error(request, exc: SchemaValidationError):
    first = exc.errors[0] if exc.errors else {}
    return error(
        request,
        422,
        ErrorCode.INVALID,
        _("This value is not valid."),
        _field(first.get("loc")),
    )


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    if hasattr(exc, "error_dict"):
        field, errors = next(iter(exc.error_dict.items()))
        return error(
            request,
            400,
            ErrorCode.of(errors[0].code, ErrorCode.INVALID),
            errors[0].messages[0],
            field,
        )
    return error(
        request, 400, ErrorCode.of(exc.code, ErrorCode.INVALID), exc.messages[0]
    )


@api.exception_handler(WeChatError)
def on_wechat_error(request, exc: WeChatError):
    if isinstance(exc, UnknownOutcome):
        code = ErrorCode.WECHAT_UNKNOWN_OUTCOME
    elif isinstance(exc, TransportError):
        code = ErrorCode.WECHAT_UNAVAILABLE
    else:
        code = ErrorCode.WECHAT_REFUSED
    return error(request, 502, code, exc.message, exc.field)


@api.exception_handler(RequestDataTooBig)
def on_too_big(request, exc):
    return error(request, 400, ErrorCode.INVALID, _("The request is too large."))


@api.exception_handler(Exception)
def on_server_error(request, exc):
    log.exception("API error on %s", request.path)
    return error(
        request,
        500,
        ErrorCode.SERVER_ERROR,
        _("Something went wrong on our side. Please try again."),
    )


class PingOut(Schema):
    ok: bool
    merchant: int


@api.get("/ping", tags=["portal"], response=PingOut, auth=requires(None))
def ping(request):
    """A trivial authenticated endpoint: the stack's own cost (bench/preview.py)."""
    return {"ok": True, "merchant": request.auth.merchant.pk}


def _mount() -> None:
    from cards.api import router as cards_router
    from coins.api import router as coins_router
    from redemption.api import router as redemption_router

    api.add_router("/cards/", cards_router)
    api.add_router("/coins/", coins_router)
    api.add_router("/redemption/", redemption_router)


_mount()
