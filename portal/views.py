"""Thin views: the landing redirect, merchant switching, sign-in, /healthz."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseForbidden,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from wechat import xmlutil

from . import events, health
from .middleware import SESSION_KEY
from .models import Merchant
from .roles import Capability, can
from .selectors import role_for

log = logging.getLogger(__name__)


@login_required
def home(request):
    """Where a signed-in user lands: the admin dashboard, or a cashier's till page."""
    if can(request.role, Capability.ADMIN):
        return redirect("admin:index")
    if can(request.role, Capability.REDEEM):
        return redirect("redemption:home")
    raise PermissionDenied(_("Your account is not attached to any merchant."))


@require_POST
@login_required
def switch_merchant(request):
    """Act for another merchant the user may act for; anything else is refused."""
    try:
        merchant_id = int(request.POST.get("merchant", ""))
    except ValueError:
        raise PermissionDenied from None
    if role_for(user=request.user, merchant_id=merchant_id) is None:
        raise PermissionDenied
    request.session[SESSION_KEY] = merchant_id
    messages.success(request, _("You are now working for another merchant."))
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    # The page the user was on may be another merchant's object: go to its list.
    return HttpResponseRedirect(_list_url(next_url))


def _list_url(url: str) -> str:
    parts = url.split("?")[0].rstrip("/").split("/")
    if len(parts) >= 5 and parts[1] == "admin":  # /admin/app/model/pk/...
        return "/".join(parts[:4]) + "/"
    return url


class LoginView(auth_views.LoginView):
    """The one sign-in page. After a wrong password it says how many tries are left
    before django-axes locks the account, and for how long (README, "Sign-in
    lockout"); the same words for any username, so they reveal no account."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        username = (form.data.get("username") or "").strip()
        if username:
            response.context_data["lockout"] = lockout_warning(self.request, username)
        return response


def lockout_warning(request, username: str) -> dict | None:
    """``{"left": n, "minutes": m}``: wrong passwords left before the lock, or None."""
    from axes.handlers.proxy import AxesProxyHandler
    from axes.helpers import get_cool_off, get_failure_limit

    credentials = {"username": username}
    limit = get_failure_limit(request, credentials)
    failures = AxesProxyHandler.get_failures(request, credentials)
    left = limit - failures
    if failures <= 0 or left <= 0:
        return None
    cool_off = get_cool_off(request)
    minutes = round(cool_off.total_seconds() / 60) if cool_off else None
    return {"left": left, "minutes": minutes}


@never_cache
def healthz(request):
    """JSON status of database, cache and broker; 200 only when all three answer."""
    checks = health.run_checks()
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "fail", **checks}, status=200 if ok else 503
    )


@csrf_exempt  # WeChat signs its pushes; there is no session here
def wechat_events(request, appid: str):
    """WeChat's push endpoint for one merchant (SPEC §10).

    GET: the URL check (echo ``echostr`` only on a valid signature). POST: an event,
    plain or encrypted; 403 on a bad signature, 400 on malformed XML, otherwise
    "success" as soon as it is stored (once, however often WeChat retries).
    """
    merchant = Merchant.objects.filter(appid=appid).first()
    if merchant is None:
        raise Http404
    if request.method == "GET":
        ok = events.url_check(
            merchant,
            signature=request.GET.get("signature", ""),
            timestamp=request.GET.get("timestamp", ""),
            nonce=request.GET.get("nonce", ""),
        )
        if not ok:
            return HttpResponseForbidden("bad signature")
        return HttpResponse(request.GET.get("echostr", ""), content_type="text/plain")
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        xml, parsed, encrypted = events.decode(merchant, request.body, request.GET)
    except events.SignatureError as exc:
        log.warning("rejected a push for %s: %s", appid, exc)
        return HttpResponseForbidden("bad signature")
    except xmlutil.XMLError as exc:
        log.warning("malformed push for %s: %s", appid, exc)
        return HttpResponseBadRequest("malformed XML")
    events.event_receive(merchant=merchant, xml=xml, parsed=parsed, encrypted=encrypted)
    return HttpResponse("success", content_type="text/plain")
