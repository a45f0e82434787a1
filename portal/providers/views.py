"""The provider's pages (SPEC §8): the console of sub-merchants, a sub-merchant's
authorization, onboarding through WeChat's authorization page, the open platform
settings. Thin: selectors read, services write.

Tenancy: every page works on the providers the signed-in user works for; another
provider's sub-merchant is a 404, like one that does not exist.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

import wechat
from wechat import errors as wx

from ..middleware import SESSION_KEY
from ..models import Merchant
from . import selectors, services
from .forms import ProviderSettingsForm

PROVIDER_SESSION_KEY = "portal_provider_id"
ONBOARDING_SESSION_KEY = "portal_provider_onboarding"
ONBOARDING_TTL = 3600


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _provider(request):
    """The provider the request acts for: ``?provider=`` (404 unless the user works
    for it), else the one kept in the session, else the user's first by name.
    The user's providers and roles are read once, in one query."""
    memberships = selectors.provider_memberships(user=request.user)
    if not memberships:
        raise Http404
    asked = request.GET.get("provider")
    if asked:
        wanted = _int(asked)
        if wanted not in memberships:
            raise Http404
    else:
        wanted = _int(request.session.get(PROVIDER_SESSION_KEY))
        if wanted not in memberships:
            wanted = next(iter(memberships))
    if request.session.get(PROVIDER_SESSION_KEY) != wanted:  # no session write per page
        request.session[PROVIDER_SESSION_KEY] = wanted
    provider, is_owner = memberships[wanted]
    request.provider_memberships = memberships
    request.provider_is_owner = is_owner
    return provider


def _context(request, provider, **extra):
    memberships = getattr(request, "provider_memberships", {})
    return {
        "provider": provider,
        "provider_status": selectors.provider_status(provider),
        "providers": [p for p, _owner in memberships.values()]
        if len(memberships) > 1
        else [],
        "is_owner": getattr(request, "provider_is_owner", False),
        # The provider's pages are not the current merchant's: no merchant notice.
        "merchant_notice": "",
        **extra,
    }


def read_only_refusal(request):
    """What a change to a read-only merchant gets (SPEC §8): 403, in words."""
    words = selectors.merchant_state_words(request.merchant)
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"code": "merchant_read_only", "message": words, "field": None},
            status=403,
        )
    return render(
        request,
        "provider/read_only.html",
        {"merchant": request.merchant, "words": words},
        status=403,
    )


# --- the console ------------------------------------------------------------------
def _alert_labels() -> dict:
    # gettext at request time (the user's language).
    return {
        "rejected": _("Rejected coupons"),
        "low_balance": _("Low coin balance"),
        "low_stock": _("Low stock"),
        "expiring": _("Coupons expiring within 7 days"),
        "token": _("Authorization problems"),
    }


def _sort_options() -> list[tuple[str, str]]:
    return [
        ("name", _("Name")),
        ("state", _("State")),
        ("-balance", _("Coin balance, highest first")),
        ("balance", _("Coin balance, lowest first")),
        ("-review", _("Coupons in review, most first")),
        ("-stock", _("Stock left, most first")),
        ("stock", _("Stock left, least first")),
        ("-redemptions", _("Redemptions this week, most first")),
        ("-last_event", _("Last event, newest first")),
    ]


def _query(request, **changes) -> str:
    params = {k: v for k, v in request.GET.items() if k != "page"}
    params.update({k: v for k, v in changes.items() if v not in (None, "")})
    for k, v in changes.items():
        if v in (None, ""):
            params.pop(k, None)
    return "?" + urlencode(params) if params else "?"


@login_required
@require_GET
def console(request):
    """Every sub-merchant with its state and figures: search, filters, sorting,
    pages, alerts, and the way into each."""
    provider = _provider(request)
    data = selectors.console_page(
        provider=provider,
        q=request.GET.get("q", ""),
        state=request.GET.get("state", ""),
        alert=request.GET.get("alert", ""),
        sort=request.GET.get("sort", "name"),
        page=request.GET.get("page", 1),
    )
    labels = _alert_labels()
    alerts = [
        {
            "key": key,
            "label": labels[key],
            "count": count,
            "url": _query(request, alert=key),
        }
        for key, count in data.alert_counts.items()
        if count
    ]
    page = data.page
    context = _context(
        request,
        provider,
        title=_("Provider console"),
        data=data,
        rows=data.rows,
        row_links=reverse("provider:merchant", args=[0]).rsplit("0/", 1)[0],
        states_counted=[
            (value, label, data.state_counts.get(value, 0))
            for value, label in Merchant.Authorization.choices
        ],
        alerts=alerts,
        alert_labels=labels,
        states=Merchant.Authorization.choices,
        sorts=_sort_options(),
        q=request.GET.get("q", ""),
        state=request.GET.get("state", ""),
        alert=request.GET.get("alert", ""),
        sort=request.GET.get("sort", "name"),
        history=selectors.provider_history(provider=provider, limit=8),
        prev_url=_query(request) + f"&page={page.previous_page_number()}"
        if page.has_previous()
        else "",
        next_url=_query(request) + f"&page={page.next_page_number()}"
        if page.has_next()
        else "",
        low_balance=selectors.low_balance(),
        low_stock=selectors.low_stock(),
    )
    return TemplateResponse(request, "provider/console.html", context)


@login_required
@require_GET
def merchant_detail(request, pk: int):
    provider = _provider(request)
    merchant = selectors.sub_merchant(provider=provider, merchant_id=pk)
    context = _context(
        request,
        provider,
        title=merchant.name,
        merchant=merchant,
        state_words=selectors.merchant_state_words(merchant),
        history=selectors.merchant_history(provider=provider, merchant=merchant),
        events_url=request.build_absolute_uri(
            reverse(
                "wechat_component_events",
                args=[provider.component_appid or "-", merchant.appid],
            )
        ),
    )
    return TemplateResponse(request, "provider/merchant.html", context)


@login_required
@require_POST
def merchant_enter(request, pk: int | None = None):
    """Act for the sub-merchant (``pk``, or the console's ``merchant`` button): its
    dashboard, cards, coins, redemption, stats."""
    provider = _provider(request)
    if pk is None:
        pk = _int(request.POST.get("merchant"))
        if pk is None:
            raise Http404
    merchant = selectors.sub_merchant(provider=provider, merchant_id=pk)
    request.session[SESSION_KEY] = merchant.pk
    messages.success(
        request, _("You are now working for %(name)s.") % {"name": merchant.name}
    )
    return redirect("admin:index")


@login_required
@require_GET
def coupons(request):
    """A coupon across sub-merchants: search titles and brands, filter by status."""
    from cards.models import CardStatus

    provider = _provider(request)
    page = selectors.coupons_across(
        provider=provider,
        q=request.GET.get("q", ""),
        status=request.GET.get("status", ""),
        page=request.GET.get("page", 1),
    )
    context = _context(
        request,
        provider,
        title=_("Coupons across merchants"),
        page=page,
        q=request.GET.get("q", ""),
        status=request.GET.get("status", ""),
        statuses=CardStatus.choices,
        prev_url=_query(request) + f"&page={page.previous_page_number()}"
        if page.has_previous()
        else "",
        next_url=_query(request) + f"&page={page.next_page_number()}"
        if page.has_next()
        else "",
    )
    return TemplateResponse(request, "provider/coupons.html", context)


# --- onboarding (SPEC §8) ---------------------------------------------------------------
@login_required
@require_GET
def onboarding_start(request):
    """*Add a merchant*: a pre-auth code, then WeChat's authorization page."""
    provider = _provider(request)
    try:
        code = wechat.for_provider(provider).component.create_preauthcode()
    except wx.WeChatError as exc:
        messages.error(request, exc.message)
        return redirect("provider:console")
    request.session[ONBOARDING_SESSION_KEY] = {
        "provider": provider.pk,
        "started": int(time.time()),
    }
    query = urlencode(
        {
            "component_appid": provider.component_appid,
            "pre_auth_code": code.code,
            "redirect_uri": request.build_absolute_uri(
                reverse("provider:onboarding_callback")
            ),
            "auth_type": 1,
        }
    )
    base = settings.WECHAT_MP_BASE
    base = base if base.endswith("/") else base + "/"
    return redirect(f"{base}cgi-bin/componentloginpage?{query}")


@login_required
@require_GET
def onboarding_callback(request):
    """WeChat's redirect back with ``auth_code``: the sub-merchant is created (or
    re-linked) and the provider's staff act for it at once."""
    started = request.session.get(ONBOARDING_SESSION_KEY) or {}
    provider_id = started.get("provider")
    if (
        not provider_id
        or int(time.time()) - int(started.get("started", 0)) > ONBOARDING_TTL
    ):
        messages.error(
            request,
            _("This authorization was not started here: add the merchant again."),
        )
        return redirect("provider:console")
    memberships = selectors.provider_memberships(user=request.user)
    if provider_id not in memberships:
        raise Http404
    provider = memberships[provider_id][0]
    auth_code = request.GET.get("auth_code", "")
    if not auth_code:
        messages.error(
            request, _("WeChat sent no authorization: add the merchant again.")
        )
        return redirect("provider:console")
    try:
        merchant = services.authorization_link(
            provider=provider, auth_code=auth_code, actor=request.user
        )
    except services.OnboardingRefused as refused:
        messages.error(request, refused.message)
        return redirect("provider:console")
    except wx.WeChatError as exc:
        messages.error(request, exc.message)
        return redirect("provider:console")
    request.session.pop(ONBOARDING_SESSION_KEY, None)
    request.session[SESSION_KEY] = merchant.pk
    words = selectors.merchant_state_words(merchant)
    if words:
        messages.warning(request, words)
    else:
        messages.success(
            request,
            _("%(name)s authorized %(provider)s: you are working for it now.")
            % {"name": merchant.name, "provider": provider.name},
        )
    return redirect("admin:index")


# --- settings -----------------------------------------------------------------------------
@login_required
def settings_view(request):
    """The provider's WeChat open platform settings (owners): secrets write-only."""
    provider = _provider(request)
    if not request.provider_is_owner:
        raise PermissionDenied
    form = ProviderSettingsForm(request.POST or None, provider=provider)
    if request.method == "POST" and form.is_valid():
        try:
            services.provider_update_settings(
                provider=provider,
                actor=request.user,
                component_appid=form.cleaned_data["component_appid"],
                component_appsecret=form.cleaned_data["component_appsecret"],
                component_token=form.cleaned_data["component_token"],
                component_encoding_aes_key=form.cleaned_data[
                    "component_encoding_aes_key"
                ],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("The open platform settings were saved."))
            return redirect("provider:settings")
    appid = provider.component_appid or "<component_appid>"
    context = _context(
        request,
        provider,
        title=_("Open platform settings"),
        form=form,
        auth_url=request.build_absolute_uri(reverse("wechat_component", args=[appid])),
        events_url=request.build_absolute_uri(
            reverse("wechat_component_events", args=[appid, "APPID"])
        ).replace("/APPID/", "/$APPID$/"),
    )
    return TemplateResponse(request, "provider/settings.html", context)
