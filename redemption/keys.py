"""API keys for machines at the till (issue 10 §4): owners list, create and revoke
them. The raw key is shown once, on the page right after it is made, and never
again: only its hash is stored (services.till_key_create); the page that shows it
takes it out of the session as it renders.

Who: owners only (Capability.STAFF: they manage who acts for the merchant, and a key
acts for it). Staff and cashiers get 403; another merchant's key is a 404.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.admin_base import merchant_read_only
from portal.models import Store
from portal.roles import Capability, can

from . import services
from .history import page_context
from .models import TillKey

SHOWN_ONCE = "redemption_new_key"


class KeyForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Device name"),
        max_length=80,
        help_text=gettext_lazy(
            "What the device is, like “Till 1” or “POS by the door”."
        ),
    )
    store = forms.ModelChoiceField(
        label=gettext_lazy("Store"),
        queryset=Store.objects.none(),
        empty_label=None,
        help_text=gettext_lazy("The key redeems at this store only."),
    )

    def __init__(self, *args, merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = Store.objects.filter(
            merchant=merchant
        ).order_by("name")


def _owner(request):
    if not can(getattr(request, "role", None), Capability.STAFF):
        raise PermissionDenied
    if request.merchant is None:
        raise PermissionDenied
    return request.merchant


def _list(request, form, *, status=200):
    merchant = request.merchant
    keys = (
        TillKey.objects.filter(merchant=merchant)
        .select_related("store")
        .order_by("revoked_at", "store__name", "name")
    )
    return render(
        request,
        "redemption/keys.html",
        page_context(
            request,
            title=_("API keys for tills"),
            keys=keys,
            form=form,
            read_only=merchant_read_only(request),
        ),
        status=status,
    )


@login_required
def keys(request):
    """GET: the merchant's keys and the form for a new one. POST: make the key, keep
    the raw value in the session for the one page that shows it."""
    merchant = _owner(request)
    if request.method == "GET":
        return _list(request, KeyForm(merchant=merchant))
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    if merchant_read_only(request):
        raise PermissionDenied
    form = KeyForm(request.POST, merchant=merchant)
    if not form.is_valid():
        return _list(request, form, status=400)
    try:
        key, raw = services.till_key_create(
            merchant=merchant,
            store=form.cleaned_data["store"],
            name=form.cleaned_data["name"],
            actor=request.user,
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _list(request, form, status=400)
    request.session[SHOWN_ONCE] = {"id": key.pk, "raw": raw}
    return redirect("redemption:keys_created", key_id=key.pk)


@login_required
def key_created(request, key_id: int):
    """The raw key, once: taken out of the session as the page is made; a reload
    (or another tab) finds it gone and says so."""
    merchant = _owner(request)
    key = TillKey.objects.filter(merchant=merchant, pk=key_id).first()
    if key is None:
        raise Http404
    shown = request.session.get(SHOWN_ONCE) or {}
    raw = ""
    if shown.get("id") == key.pk:
        raw = shown.get("raw", "")
        del request.session[SHOWN_ONCE]
    response = render(
        request,
        "redemption/keys_created.html",
        page_context(
            request,
            title=_("New API key"),
            key=key,
            raw=raw,
            api_url=request.build_absolute_uri("/api/redemption/consume"),
            lookup_url=request.build_absolute_uri("/api/redemption/lookup"),
        ),
    )
    response["Cache-Control"] = "no-store"
    return response


@login_required
def key_revoke(request, key_id: int):
    """GET asks for confirmation; POST (with CSRF) revokes. A revoked key no longer
    authenticates; its history stays."""
    merchant = _owner(request)
    key = (
        TillKey.objects.filter(merchant=merchant, pk=key_id)
        .select_related("store")
        .first()
    )
    if key is None:
        raise Http404
    if request.method == "POST":
        if merchant_read_only(request):
            raise PermissionDenied
        services.till_key_revoke(key=key)
        messages.success(
            request,
            _("The key “%(name)s” is revoked: it no longer redeems anything.")
            % {"name": key.name},
        )
        return redirect("redemption:keys")
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET", "POST"])
    return render(
        request,
        "redemption/keys_revoke.html",
        page_context(request, title=_("Revoke an API key"), key=key),
    )
