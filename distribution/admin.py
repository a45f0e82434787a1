"""Distribution in the merchant admin (SPEC §6): channels, QR codes (made, listed per
card, drawn as SVG and PNG and printed at A6 or A4), campaign pages and the test
whitelist. Views are thin: forms parse, services decide, selectors read."""

from __future__ import annotations

from contextvars import ContextVar
from functools import wraps

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import csrf_protect_m
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cards.models import CardStatus, FriendCard
from portal.admin_base import MerchantScopedAdmin
from portal.roles import Capability
from portal.sites import portal_site

from . import render, rules, selectors, services
from .forms import CampaignForm, ChannelForm, QRCodeForm, WhitelistForm, add_errors
from .models import Campaign, Channel, QRCode, Whitelist

PRINT_SIZES = ("a6", "a4")
_channel_totals: ContextVar[dict | None] = ContextVar("channel_totals", default=None)


def needs(**by_method: str):
    """Guard of every view written here: ``GET="view", POST="add"`` names, per HTTP
    method, the permission hook that must allow it; another method is 405."""
    by_method = {m.upper(): need for m, need in by_method.items()}
    if "GET" in by_method:
        by_method.setdefault("HEAD", by_method["GET"])

    def decorator(method):
        @wraps(method)
        def view(self, request, *args, **kwargs):
            need = by_method.get(request.method)
            if need is None:
                return HttpResponseNotAllowed(sorted(by_method))
            allowed = {
                "view": self.has_view_permission,
                "add": self.has_add_permission,
                "change": self.has_change_permission,
            }[need](request)
            if not allowed:
                raise PermissionDenied
            return method(self, request, *args, **kwargs)

        return view

    return decorator


class DistributionAdmin(MerchantScopedAdmin):
    change_capability = Capability.CARDS

    def _context(self, request, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            **extra,
        }


def local(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return f"{timezone.localtime(value):{fmt}}" if value else "—"


def validity_label(qr: QRCode) -> str:
    if not qr.expire_seconds:
        return _("Permanent")
    return _("%(n)d s") % {"n": qr.expire_seconds}


# --- channels --------------------------------------------------------------------------
@admin.register(Channel, site=portal_site)
class ChannelAdmin(DistributionAdmin):
    form = ChannelForm
    list_display = ["name", "outer_id", "outer_str", "received", "redeemed", "created"]
    list_display_links = ["name"]
    search_fields = ["name", "outer_str"]
    readonly_fields = ["outer_id", "outer_str"]

    def get_fields(self, request, obj=None):
        return ["name"] if obj is None else ["name", "outer_id", "outer_str"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.merchant = request.merchant
        return form

    def changelist_view(self, request, extra_context=None):
        # One grouped query for the figures of every channel on the page (kept in
        # this request's context: the admin instance is shared by all threads).
        token = _channel_totals.set(selectors.channel_totals(merchant=request.merchant))
        try:
            response = super().changelist_view(request, extra_context)
            if hasattr(response, "render"):
                response.render()
            return response
        finally:
            _channel_totals.reset(token)

    def _totals(self, obj) -> tuple[int, int]:
        return (_channel_totals.get() or {}).get(obj.pk, (0, 0))

    @admin.display(description=gettext_lazy("received"))
    def received(self, obj):
        return self._totals(obj)[0]

    @admin.display(description=gettext_lazy("redeemed"))
    def redeemed(self, obj):
        return self._totals(obj)[1]

    @admin.display(description=gettext_lazy("created at"), ordering="created_at")
    def created(self, obj):
        return local(obj.created_at, "%Y-%m-%d")

    def save_model(self, request, obj, form, change):
        name = form.cleaned_data["name"]
        if change:
            saved = services.channel_rename(
                channel=Channel.objects.get(pk=obj.pk), name=name, actor=request.user
            )
        else:
            saved = services.channel_create(
                merchant=request.merchant, name=name, actor=request.user
            )
        obj.pk, obj.merchant = saved.pk, saved.merchant
        obj.refresh_from_db()


# --- QR codes ---------------------------------------------------------------------------
@admin.register(QRCode, site=portal_site)
class QRCodeAdmin(DistributionAdmin):
    list_display = [
        "qr_link",
        "channel",
        "validity",
        "unique",
        "state_badge",
        "created",
    ]
    list_display_links = None
    list_filter = ["card", "channel", "status"]
    list_select_related = ["card", "channel"]
    search_fields = ["card__title", "channel__name"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a QR code is what WeChat made: it is not edited

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # WeChat has no API to delete one

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/qr.png",
                wrap(self.png_view),
                name="distribution_qrcode_png",
            ),
            path(
                "<path:object_id>/qr.svg",
                wrap(self.svg_view),
                name="distribution_qrcode_svg",
            ),
            path(
                "<path:object_id>/print/",
                wrap(self.print_view),
                name="distribution_qrcode_print",
            ),
            *super().get_urls(),
        ]

    # --- list ---
    @admin.display(description=gettext_lazy("coupon"), ordering="card__title")
    def qr_link(self, obj):
        url = reverse("admin:distribution_qrcode_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.card)

    @admin.display(description=gettext_lazy("valid"))
    def validity(self, obj):
        return validity_label(obj)

    @admin.display(description=gettext_lazy("one code per scan"), boolean=True)
    def unique(self, obj):
        return obj.is_unique_code

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def state_badge(self, obj):
        state = selectors.qrcode_state(obj)
        return format_html(
            '<span class="badge {}">{}</span>',
            selectors.qrcode_tone(state),
            selectors.qrcode_state_label(state),
        )

    @admin.display(description=gettext_lazy("created at"), ordering="created_at")
    def created(self, obj):
        return local(obj.created_at)

    # --- make one ---
    @needs(GET="add", POST="add")
    def add_view(self, request, form_url="", extra_context=None):
        """A QR code for a coupon and a channel → card/qrcode/create → its page."""
        form = QRCodeForm(
            request.POST or None,
            initial={
                "card": request.GET.get("card"),
                "channel": request.GET.get("channel"),
            },
            merchant=request.merchant,
        )
        if request.method == "POST" and form.is_valid():
            expire = form.expire_value()
            if not form.errors:
                try:
                    qr = services.qrcode_create(
                        merchant=request.merchant,
                        card=form.cleaned_data["card"],
                        channel=form.cleaned_data["channel"],
                        expire_seconds=expire,
                        is_unique_code=form.cleaned_data["is_unique_code"],
                        actor=request.user,
                    )
                except ValidationError as exc:
                    add_errors(form, exc)
                else:
                    messages.success(request, _("WeChat made the QR code."))
                    return redirect("admin:distribution_qrcode_change", qr.pk)
        card = _chosen_card(form, request)
        return TemplateResponse(
            request,
            "distribution/qrcode_form.html",
            self._context(
                request,
                title=_("Make a QR code"),
                form=form,
                card=card,
                receivable_from=selectors.receivable_from(card) if card else None,
                whitelist=selectors.whitelist_of(request.merchant),
                has_channels=Channel.objects.filter(merchant=request.merchant).exists(),
            ),
        )

    # --- one QR code ---
    @needs(GET="view")
    def change_view(self, request, object_id, form_url="", extra_context=None):
        qr = self.get_object(request, object_id)
        state = selectors.qrcode_state(qr)
        return TemplateResponse(
            request,
            "distribution/qrcode.html",
            self._context(
                request,
                title=_("QR code"),
                qr=qr,
                state=state,
                state_label=selectors.qrcode_state_label(state),
                tone=selectors.qrcode_tone(state),
                validity=validity_label(qr),
                problem=services.qrcode_problem(qr),
                svg=render.qr_svg(qr.url) if qr.url else "",
                receivable_from=selectors.receivable_from(qr.card),
                sandbox=_is_sandbox(),
                events=qr.events.select_related("actor")[:20],
            ),
        )

    def _ready(self, request, object_id) -> QRCode:
        qr = self.get_object(request, object_id)
        if not qr.url:
            raise Http404
        return qr

    @needs(GET="view")
    def png_view(self, request, object_id):
        qr = self._ready(request, object_id)
        response = HttpResponse(render.qr_png(qr.url), content_type="image/png")
        response["Content-Disposition"] = f'attachment; filename="qrcode-{qr.pk}.png"'
        return response

    @needs(GET="view")
    def svg_view(self, request, object_id):
        qr = self._ready(request, object_id)
        response = HttpResponse(
            render.qr_svg_file(qr.url), content_type="image/svg+xml"
        )
        response["Content-Disposition"] = f'attachment; filename="qrcode-{qr.pk}.svg"'
        return response

    @needs(GET="view")
    def print_view(self, request, object_id):
        """The printable page (A6 for a table tent, A4 for a poster): the coupon's
        title, brand, validity and the QR code; ``?size=a4``."""
        qr = self._ready(request, object_id)
        size = request.GET.get("size", "a6")
        if size not in PRINT_SIZES:
            raise Http404
        card = qr.card
        return TemplateResponse(
            request,
            "distribution/print.html",
            {
                "qr": qr,
                "card": card,
                "size": size,
                "sizes": PRINT_SIZES,
                "svg": render.qr_svg(qr.url),
                "state": selectors.qrcode_state(qr),
                "receivable_from": selectors.receivable_from(card),
                "back_url": reverse("admin:distribution_qrcode_change", args=[qr.pk]),
            },
        )


def _chosen_card(form: QRCodeForm, request) -> FriendCard | None:
    key = form.data.get("card") or form.initial.get("card")
    if not key or not str(key).isdigit():
        return None
    return form.fields["card"].queryset.filter(pk=int(key)).first()


def _is_sandbox() -> bool:
    return settings.WECHAT_API_BASE.rstrip("/").endswith("/sandbox")


# --- campaign pages --------------------------------------------------------------------
@admin.register(Campaign, site=portal_site)
class CampaignAdmin(DistributionAdmin):
    form = CampaignForm
    change_form_template = "admin/distribution/campaign/change_form.html"
    list_display = ["title", "channel", "coupons", "active", "page_link", "updated"]
    list_display_links = ["title"]
    list_filter = ["active", "channel"]
    search_fields = ["title", "slug"]
    fields = ["title", "channel", "cards", "banner_file", "remove_banner", "active"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("channel")

    @admin.display(description=gettext_lazy("coupons"))
    def coupons(self, obj):
        return obj.cards.count()

    @admin.display(description=gettext_lazy("page"))
    def page_link(self, obj):
        url = reverse("distribution:landing", args=[obj.slug])
        return format_html(
            '<a href="{}" target="_blank" rel="noopener">{}</a>', url, url
        )

    @admin.display(description=gettext_lazy("updated at"), ordering="updated_at")
    def updated(self, obj):
        return local(obj.updated_at)

    # Django wraps the change form in one transaction; the banner's upload calls
    # WeChat, which must never happen inside one (services keep their own).
    @csrf_protect_m
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.merchant, form.actor = request.merchant, request.user
        return form

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        if obj is not None and obj.pk:
            url = request.build_absolute_uri(
                reverse("distribution:landing", args=[obj.slug])
            )
            context.update(
                {
                    "page_url": url,
                    "page_qr_svg": render.qr_svg(url),
                    "campaign": obj,
                    "shown_cards": selectors.campaign_cards(obj),
                }
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = services.campaign_save(
            merchant=request.merchant,
            campaign=Campaign.objects.get(pk=obj.pk) if change else None,
            title=data["title"],
            channel=data["channel"],
            cards=data["cards"],
            banner=data.get("banner"),
            active=data.get("active", True),
            actor=request.user,
        )
        obj.pk, obj.merchant, obj.slug = saved.pk, saved.merchant, saved.slug
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        pass  # the coupons were set by campaign_save


# --- the test whitelist -----------------------------------------------------------------
@admin.register(Whitelist, site=portal_site)
class WhitelistAdmin(DistributionAdmin):
    """One page: the whole list, replaced at WeChat on every save."""

    def has_add_permission(self, request) -> bool:
        return False  # the page replaces the list; there is nothing to add apart

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # an empty list is saved instead

    @needs(GET="view", POST="change")
    def changelist_view(self, request, extra_context=None):
        current = selectors.whitelist_of(request.merchant)
        initial = {
            "openids": "\n".join(current.openids) if current else "",
            "usernames": "\n".join(current.usernames) if current else "",
        }
        form = WhitelistForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                services.whitelist_set(
                    merchant=request.merchant,
                    openids=form.cleaned_data["openids"],
                    usernames=form.cleaned_data["usernames"],
                    actor=request.user,
                )
            except ValidationError as exc:
                add_errors(form, exc)
            else:
                messages.success(request, _("WeChat has the new test whitelist."))
                return redirect("admin:distribution_whitelist_changelist")
            current = selectors.whitelist_of(request.merchant)
        in_review = FriendCard.objects.filter(
            merchant=request.merchant, status=CardStatus.IN_REVIEW
        ).count()
        return TemplateResponse(
            request,
            "distribution/whitelist.html",
            self._context(
                request,
                title=_("Test whitelist"),
                form=form,
                whitelist=current,
                limit=rules.WHITELIST_MAX,
                in_review=in_review,
                can_save=self.has_change_permission(request),
            ),
        )

    @needs(GET="view")
    def change_view(self, request, object_id, form_url="", extra_context=None):
        self.get_object(request, object_id)  # another merchant's: 404
        return redirect("admin:distribution_whitelist_changelist")
