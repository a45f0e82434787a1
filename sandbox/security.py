"""The sandbox's own web security: who may drive its control API, and the
Content-Security-Policy of its pages. Sandbox code: nothing from the portal.

The control API moves sandbox time, pays recharges and reads the accounts'
secrets. A web page a developer happens to open must not drive it: a browser sends
``Origin`` (and ``Sec-Fetch-Site``) with every cross-origin request, and only a
page of the sandbox itself may call it; a POST must say it is JSON, which a page
cannot send to another origin without a preflight the sandbox never answers. On a
shared staging host, ``SANDBOX_CONTROL_TOKEN`` (environment) also requires
``Authorization: Bearer <token>``. Tools such as tests, benchmarks and curl send
no ``Origin`` and keep working.
"""

from __future__ import annotations

import hmac
import os

from django.http import JsonResponse

TOKEN_ENV = "SANDBOX_CONTROL_TOKEN"  # noqa: S105  (the variable's name)
# A browser's own word on where a request comes from (Fetch Metadata).
ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})


# The console, the payment page and the 404 page: scripts and styles are files of
# this origin, the QR code and icons may be data: URIs, nothing frames them.
def content_security_policy(*, form_action: tuple[str, ...] = ()) -> str:
    """The sandbox pages' policy; ``form_action``: origins a form of the page may
    end up at besides this one (a redirect after a POST counts in browsers)."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "object-src 'none'",
            "base-uri 'self'",
            " ".join(["form-action 'self'", *form_action]),
            "frame-ancestors 'none'",
        ]
    )


CONTENT_SECURITY_POLICY = content_security_policy()


def _refuse(status: int, message: str, **headers) -> JsonResponse:
    response = JsonResponse({"error": message}, status=status)
    for name, value in headers.items():
        response[name] = value
    return response


def control_refusal(request) -> JsonResponse | None:
    """Why this control API request is refused (403, 401, 415), or None."""
    own = f"{request.scheme}://{request.get_host()}"
    origin = request.headers.get("Origin")
    if origin is not None and origin != own:
        return _refuse(403, "cross-origin requests to the control API are refused")
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ALLOWED_FETCH_SITES:
        return _refuse(403, "cross-site requests to the control API are refused")
    token = os.environ.get(TOKEN_ENV, "")
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            return _refuse(
                401,
                f"the control API needs Authorization: Bearer <{TOKEN_ENV}>",
                **{"WWW-Authenticate": 'Bearer realm="sandbox-control"'},
            )
    if request.method == "POST":
        content_type = request.content_type or ""
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            return _refuse(415, "POST bodies to the control API are application/json")
    return None


def _holds_nul(request) -> bool:
    """A NUL character in the path, the query or a body that is text (PostgreSQL
    refuses it in any string, so no lookup may see one)."""
    encoded = (b"%00", b"\x00")  # urlencoded (a typed "%00" is sent as %2500)
    query = request.META.get("QUERY_STRING", "").encode("latin-1", "replace")
    if "\x00" in request.path_info or any(m in query for m in encoded):
        return True
    content_type = request.content_type or ""
    if request.method != "POST" or content_type.startswith("multipart/"):
        return False
    try:
        body = request.body
    except Exception:  # too large: the view answers it
        return False
    if content_type == "application/x-www-form-urlencoded":
        return any(m in body for m in encoded)
    return b"\x00" in body or b"\\u0000" in body  # JSON's escape, or raw in XML


class SandboxSecurityMiddleware:
    """The sandbox's pages (below /sandbox/) get the sandbox's own CSP; a request
    holding a NUL character gets WeChat's 47001 (data format error), as WeChat
    answers what it cannot parse."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/sandbox/") and _holds_nul(request):
            return JsonResponse(
                {"errcode": 47001, "errmsg": "data format error"}, status=200
            )
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        is_sandbox = (match is not None and match.app_name == "sandbox") or (
            request.path_info.startswith("/sandbox/")
        )
        if is_sandbox:
            # A page may widen it for itself (``response.sandbox_csp``).
            response["Content-Security-Policy"] = getattr(
                response, "sandbox_csp", CONTENT_SECURITY_POLICY
            )
        return response
