"""The open platform's wire, its authorization page, control API and console panel
(SPEC §8). Views parse and shape; ``backends.component`` holds the state and rules.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.contrib import messages
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from .. import security
from ..backends import component as backend
from ..models import Account, Component, ComponentPush
from .control import _bad, _body, control
from .wire import read_json, wechat_api

PREFIX = "cgi-bin/component/"


def _body_appid(request) -> str:
    """Calls are counted (and faulted) for the authorizer when the body names one,
    else for the component."""
    try:
        data = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        return ""
    if not isinstance(data, dict):
        return ""
    return str(data.get("authorizer_appid") or data.get("component_appid") or "")


def component_api(endpoint: str, *, needs_token: bool = True):
    """WeChat's wire for ``cgi-bin/component/<endpoint>`` (POST JSON): faults, the
    call log, errcodes as JSON; the view gets the component and the body."""

    def decorator(fn):
        @wechat_api(
            PREFIX + endpoint,
            needs_token=False,
            methods=("POST",),
            appid_of=_body_appid,
        )
        def view(request, _account):
            data = read_json(request)
            appid = str(data.get("component_appid") or "")
            if needs_token:
                component = backend.component_of_token(
                    request.GET.get("component_access_token"), appid
                )
            else:
                component = None
            return fn(request, component, data)

        view.__name__ = fn.__name__
        return view

    return decorator


@component_api("api_component_token", needs_token=False)
def api_component_token(request, _component, data):
    token, expires_in = backend.component_token_issue(
        component_appid=str(data.get("component_appid") or ""),
        secret=str(data.get("component_appsecret") or ""),
        ticket=str(data.get("component_verify_ticket") or ""),
    )
    return {"component_access_token": token, "expires_in": expires_in}


@component_api("api_create_preauthcode")
def api_create_preauthcode(request, component, data):
    code, expires_in = backend.preauthcode_create(component)
    return {"pre_auth_code": code, "expires_in": expires_in}


@component_api("api_query_auth")
def api_query_auth(request, component, data):
    return backend.query_auth(component, str(data.get("authorization_code") or ""))


@component_api("api_authorizer_token")
def api_authorizer_token(request, component, data):
    return backend.authorizer_token(
        component,
        authorizer_appid=str(data.get("authorizer_appid") or ""),
        refresh_token=str(data.get("authorizer_refresh_token") or ""),
    )


@component_api("api_get_authorizer_info")
def api_get_authorizer_info(request, component, data):
    return backend.authorizer_info(
        component, authorizer_appid=str(data.get("authorizer_appid") or "")
    )


@component_api("api_get_authorizer_list")
def api_get_authorizer_list(request, component, data):
    return backend.authorizer_list(
        component, offset=data.get("offset", 0), count=data.get("count", 500)
    )


# --- the authorization page (mp.weixin.qq.com/cgi-bin/componentloginpage) ------------
PAGE_ERRORS = {
    "unknown_component": gettext_lazy("This service provider is not known to WeChat."),
    "invalid_pre_auth_code": gettext_lazy(
        "This authorization link is not valid. Go back to the service provider and "
        "start again."
    ),
    "used_pre_auth_code": gettext_lazy(
        "This authorization link was used already. Go back to the service provider "
        "and start again."
    ),
    "expired_pre_auth_code": gettext_lazy(
        "This authorization link has expired (10 minutes). Go back to the service "
        "provider and start again."
    ),
    "bad_redirect_uri": gettext_lazy(
        "The service provider's return address is not a web address."
    ),
    "no_account": gettext_lazy("Choose the official account to authorize."),
}


def _redirect_ok(uri: str) -> bool:
    """An http(s) URL whose host[:port] is plain (it goes into the page's policy)."""
    parts = urlsplit(uri)
    return parts.scheme in ("http", "https") and bool(
        re.fullmatch(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?", parts.netloc)
    )


def _with_query(uri: str, params: dict) -> str:
    parts = urlsplit(uri)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _page(request, context: dict, redirect_uri: str, status: int = 200):
    """The authorization page, whose form ends at the provider's ``redirect_uri``
    (another origin): browsers hold a redirect after a POST to the page's
    form-action, so the policy allows that origin too."""
    page = render(request, "sandbox/mp/componentloginpage.html", context, status=status)
    target = urlsplit(redirect_uri)
    page.sandbox_csp = security.content_security_policy(
        form_action=(f"{target.scheme}://{target.netloc}",)
    )
    return page


def loginpage(request):
    """The merchant's admin picks an official account and the scopes to grant;
    then WeChat redirects to ``redirect_uri?auth_code=…&expires_in=600`` and pushes
    ``authorized`` (or ``updateauthorized``) to the component."""
    params = request.POST if request.method == "POST" else request.GET
    component_appid = params.get("component_appid", "")
    pre_auth_code = params.get("pre_auth_code", "")
    redirect_uri = params.get("redirect_uri", "")
    context = {
        "component_appid": component_appid,
        "pre_auth_code": pre_auth_code,
        "redirect_uri": redirect_uri,
        "auth_type": params.get("auth_type", "1"),
        "accounts": Account.objects.order_by("nick_name", "appid"),
        "scopes": [
            {"id": i, "name": name, "default": i in backend.DEFAULT_FUNC_IDS}
            for i, name in backend.FUNC_SCOPES.items()
        ],
    }
    try:
        component = backend.page_check(component_appid, pre_auth_code)
        if not _redirect_ok(redirect_uri):
            raise backend.PageError("bad_redirect_uri")
    except backend.PageError as error:
        context["error"] = PAGE_ERRORS[str(error)]
        return render(
            request, "sandbox/mp/componentloginpage.html", context, status=400
        )
    context["component"] = component
    if request.method != "POST":
        return _page(request, context, redirect_uri)
    appid = request.POST.get("authorizer_appid", "")
    if not Account.objects.filter(appid=appid).exists():
        context["form_error"] = PAGE_ERRORS["no_account"]
        return _page(request, context, redirect_uri, status=400)
    func_ids = [int(v) for v in request.POST.getlist("func_id") if v.isdigit()]
    try:
        grant = backend.authorization_grant(
            component,
            authorizer_appid=appid,
            func_ids=func_ids,
            pre_auth_code=pre_auth_code,
            wait=False,  # WeChat pushes while the browser follows the redirect
        )
    except backend.PageError as error:
        context["error"] = PAGE_ERRORS[str(error)]
        return render(
            request, "sandbox/mp/componentloginpage.html", context, status=400
        )
    return HttpResponseRedirect(
        _with_query(
            redirect_uri,
            {
                "auth_code": grant.authorization.auth_code,
                "expires_in": backend.AUTH_CODE_TTL,
            },
        )
    )


# --- control API ------------------------------------------------------------------------
def _push_json(push: ComponentPush | None) -> dict | None:
    if push is None:
        return None
    return {
        "push_id": push.pk,
        "info_type": push.info_type,
        "status": push.status,
        "attempts": push.attempts,
        "response": push.response,
    }


def _component_or_404(component_appid: str):
    return Component.objects.filter(component_appid=component_appid).first()


@control(["GET", "POST"])
def components(request):
    """POST: create or update a component; GET: every component."""
    if request.method == "POST":
        data = _body(request)
        interval = data.get("ticket_interval_seconds")
        rotate = data.get("rotate_refresh_tokens")
        if rotate is not None and not isinstance(rotate, bool):
            raise ValueError("rotate_refresh_tokens must be true or false")
        component = backend.component_save(
            component_appid=str(data.get("component_appid") or ""),
            secret=str(data.get("component_appsecret") or ""),
            token=str(data.get("token") or ""),
            encoding_aes_key=str(data.get("encoding_aes_key") or ""),
            callback_url=str(data.get("callback_url") or ""),
            events_url=str(data.get("events_url") or ""),
            name=str(data.get("name") or ""),
            ticket_interval_seconds=int(interval) if interval is not None else None,
            rotate_refresh_tokens=rotate,
        )
        return JsonResponse(backend.component_state(component), status=201)
    return JsonResponse(
        {"components": [backend.component_state(c) for c in Component.objects.all()]}
    )


@control(["GET"])
def component_detail(request, component_appid: str):
    component = _component_or_404(component_appid)
    if component is None:
        return _bad("unknown component_appid", 404)
    return JsonResponse(backend.component_state(component))


@control(["POST"])
def component_push_ticket(request, component_appid: str):
    """A new component_verify_ticket now, pushed before the answer."""
    component = _component_or_404(component_appid)
    if component is None:
        return _bad("unknown component_appid", 404)
    push = backend.ticket_push(component, wait=True)
    return JsonResponse(
        {
            "component_verify_ticket": component.tickets.first().ticket,
            "push": _push_json(push),
        }
    )


@control(["POST"])
def component_authorize(request, component_appid: str):
    """What the authorization page does: {"authorizer_appid", "func_ids",
    "pre_auth_code"?} → {"auth_code", "expires_in"}; authorized is pushed first."""
    component = _component_or_404(component_appid)
    if component is None:
        return _bad("unknown component_appid", 404)
    data = _body(request)
    func_ids = data.get("func_ids", list(backend.DEFAULT_FUNC_IDS))
    if not isinstance(func_ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in func_ids
    ):
        raise ValueError("func_ids must be a list of numbers")
    try:
        grant = backend.authorization_grant(
            component,
            authorizer_appid=str(data.get("authorizer_appid") or ""),
            func_ids=func_ids,
            pre_auth_code=str(data.get("pre_auth_code") or ""),
            wait=True,
        )
    except backend.PageError:
        return _bad("the pre_auth_code is not valid (unknown, used or expired)")
    return JsonResponse(
        {
            "auth_code": grant.authorization.auth_code,
            "expires_in": backend.AUTH_CODE_TTL,
            "info_type": grant.info_type,
            "push": _push_json(grant.push),
        }
    )


@control(["POST"])
def component_revoke(request, component_appid: str):
    """{"authorizer_appid"}: the account cancels the authorization; unauthorized
    is pushed before the answer."""
    component = _component_or_404(component_appid)
    if component is None:
        return _bad("unknown component_appid", 404)
    data = _body(request)
    try:
        authorization, push = backend.authorization_revoke(
            component, authorizer_appid=str(data.get("authorizer_appid") or "")
        )
    except LookupError as error:
        return _bad(str(error), 404)
    return JsonResponse(
        {
            "authorizer_appid": authorization.account.appid,
            "status": authorization.status,
            "push": _push_json(push),
        }
    )


# --- console ------------------------------------------------------------------------------
def console_context() -> dict:
    return {
        "components": [
            {
                "component": c,
                "ticket": c.tickets.first(),
                "authorizations": c.authorizations.select_related("account"),
            }
            for c in Component.objects.all()
        ],
        "component_pushes": ComponentPush.objects.select_related("component")[:10],
        "func_scopes": backend.FUNC_SCOPES,
    }


def _report(request, done: str, push: ComponentPush) -> None:
    if push.status == ComponentPush.Status.DELIVERED:
        text = _("%(done)s Event delivered: %(answer)s")
        messages.success(request, text % {"done": done, "answer": push.response})
    else:
        text = _("%(done)s Event not delivered: %(answer)s")
        messages.warning(request, text % {"done": done, "answer": push.response})


@require_POST
def console_push_ticket(request, component_appid: str):
    component = _component_or_404(component_appid)
    if component is not None:
        _report(request, _("Ticket pushed."), backend.ticket_push(component))
    return redirect("sandbox:console")


@require_POST
def console_revoke(request, component_appid: str):
    component = _component_or_404(component_appid)
    if component is not None:
        try:
            _authorization, push = backend.authorization_revoke(
                component, authorizer_appid=request.POST.get("authorizer_appid", "")
            )
        except LookupError:
            messages.error(request, _("This account has not authorized the provider."))
        else:
            _report(request, _("Authorization revoked."), push)
    return redirect("sandbox:console")
