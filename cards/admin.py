"""Friend coupons in the merchant admin: the editor with its live preview, the list,
submission to WeChat, updates, deletion and the history of each card."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin.options import csrf_protect_m
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.admin_base import MerchantScopedAdmin
from portal.labels import source_label
from portal.roles import Capability
from portal.sites import portal_site
from wechat import errors as wx

from . import editor, services
from .forms import CardEditorForm
from .models import CardEvent, CardStatus, FriendCard

# While a card is here, its page asks for its status until WeChat's review lands.
LIVE_STATUSES = (CardStatus.SUBMITTING, CardStatus.SUBMIT_UNKNOWN, CardStatus.IN_REVIEW)


def history_rows(card: FriendCard, limit: int = 50) -> list[dict]:
    """A card's history as its page shows it: local time, words for every code, and
    WeChat's refusals said from the errcode in the viewer's language."""
    rows = []
    for event in card.events.select_related("actor")[:limit]:
        answer = event.wechat_answer if isinstance(event.wechat_answer, dict) else {}
        known = wx.MESSAGES.get(answer.get("errcode"))
        rows.append(
            {
                "at": event.at,
                "kind": event.get_kind_display(),
                "actor": event.actor,
                "source": source_label(event.source),
                "message": str(known) if known is not None else event.message,
            }
        )
    return rows


@admin.register(FriendCard, site=portal_site)
class FriendCardAdmin(MerchantScopedAdmin):
    change_capability = Capability.CARDS
    form = CardEditorForm
    change_form_template = "admin/cards/friendcard/change_form.html"
    delete_confirmation_template = "admin/cards/friendcard/delete_confirmation.html"
    list_display = [
        "title_link",
        "card_type",
        "status_badge",
        "quantity",
        "validity",
        "price",
        "updated",
    ]
    list_display_links = None
    list_filter = ["status", "card_type"]
    search_fields = ["title", "brand_name", "card_id"]
    list_per_page = 50
    fieldsets = [
        (
            gettext_lazy("Type and value"),
            {
                "fields": [
                    "opened_version",
                    "card_type",
                    "brand_name",
                    "reduce_cost",
                    "gift_name",
                    "gift_num",
                    "gift_unit",
                ]
            },
        ),
        (
            gettext_lazy("Thresholds"),
            {
                "fields": [
                    "least_cost",
                    "accept_category",
                    "reject_category",
                    "object_use_for",
                    "no_other_discount",
                ],
                "description": gettext_lazy(
                    "Thresholds decide the title and the stock price, and cannot be "
                    "changed after submission."
                ),
            },
        ),
        (gettext_lazy("Validity"), {"fields": [("begin_date", "end_date")]}),
        (gettext_lazy("Stores"), {"fields": ["location_ids"]}),
        (
            gettext_lazy("Look"),
            {
                "fields": [
                    "logo_url",
                    "color",
                    "notice",
                    "description",
                    "abstract",
                    "cover_url",
                    ("text_image_1_url", "text_image_1_text"),
                    ("text_image_2_url", "text_image_2_text"),
                    ("text_image_3_url", "text_image_3_text"),
                ]
            },
        ),
        (
            gettext_lazy("Usage"),
            {
                "fields": [
                    "code_type",
                    "service_phone",
                    "get_limit",
                    "time_limit_days",
                    ("time_begin", "time_end"),
                    "business_service",
                    ("center_title", "center_sub_title", "center_url"),
                    ("custom_url_name", "custom_url_sub_title", "custom_url"),
                    ("promotion_url_name", "promotion_url_sub_title", "promotion_url"),
                ]
            },
        ),
        (
            gettext_lazy("After use (consume-share)"),
            {"fields": ["consume_share", "consume_share_card"]},
        ),
    ]

    class Media:
        css = {"all": ["cards/editor.css"]}
        js = ["cards/editor.js"]

    # --- list ------------------------------------------------------------------------
    @admin.display(description=gettext_lazy("title"), ordering="title")
    def title_link(self, obj):
        url = reverse("admin:cards_friendcard_change", args=[obj.pk])
        return format_html(
            '<a href="{}">{}</a>', url, obj.title or _("Untitled coupon")
        )

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, obj):
        if not obj.refuse_reason:
            return format_html(
                '<span class="badge status-{}">{}</span>',
                obj.status,
                obj.get_status_display(),
            )
        return format_html(
            '<span class="badge status-{}">{}</span>'
            '<span class="list-reason" title="{}">{}</span>',
            obj.status,
            obj.get_status_display(),
            obj.refuse_reason,
            obj.refuse_reason,
        )

    @admin.display(description=gettext_lazy("validity"), ordering="end_at")
    def validity(self, obj):
        if not obj.begin_at or not obj.end_at:
            return "—"
        begin, end = timezone.localtime(obj.begin_at), timezone.localtime(obj.end_at)
        return f"{begin:%Y-%m-%d} – {end:%Y-%m-%d}"

    @admin.display(description=gettext_lazy("coins/unit"), ordering="unit_price")
    def price(self, obj):
        return obj.unit_price

    @admin.display(description=gettext_lazy("updated at"), ordering="updated_at")
    def updated(self, obj):
        """This year's: month, day and time; older: the date (the full time on hover)."""
        when = timezone.localtime(obj.updated_at)
        short = (
            f"{when:%m-%d %H:%M}"
            if when.year == timezone.localdate().year
            else f"{when:%Y-%m-%d}"
        )
        return format_html(
            '<span title="{}">{}</span>', f"{when:%Y-%m-%d %H:%M:%S}", short
        )

    # --- the card's live status ----------------------------------------------------
    def get_urls(self):
        return [
            path(
                "<path:object_id>/status/",
                self.admin_site.admin_view(self.status_view),
                name="cards_friendcard_status",
            ),
            *super().get_urls(),
        ]

    def status_view(self, request, object_id):
        """What the card page polls while WeChat reviews the card (JSON)."""
        card = self.get_object(request, object_id)
        if not self.has_view_permission(request, card):
            raise PermissionDenied
        return JsonResponse(
            {
                "status": card.status,
                "status_label": card.get_status_display(),
                "refuse_reason": card.refuse_reason,
                "quantity": card.quantity,
                "title": card.title,
            }
        )

    # --- editor -----------------------------------------------------------------------
    # Django wraps these views in one transaction. Ours call WeChat, and a WeChat call
    # must never run inside a transaction: it would hold row (or, on SQLite, database)
    # locks for as long as WeChat takes. The services keep their own transactions.
    @csrf_protect_m
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._changeform_view(request, object_id, form_url, extra_context)

    @csrf_protect_m
    def delete_view(self, request, object_id, extra_context=None):
        return self._delete_view(request, object_id, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        form.merchant = request.merchant
        form.submitting = "_submit" in request.POST
        return form

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.status in (
            CardStatus.DELETED,
            CardStatus.SUBMITTING,
            CardStatus.SUBMIT_UNKNOWN,
        ):
            return False
        return super().has_change_permission(request, obj)

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        preview_url = reverse("api:cards_preview_form")
        if obj is not None and obj.pk:
            preview_url += f"?card={obj.pk}"
        context.update(
            {
                "preview_url": preview_url,
                "upload_url": reverse("api:cards_images"),
                "type_fields": json.dumps(editor.type_only_fields()),
                "card": obj,
                "history": history_rows(obj) if obj is not None and obj.pk else [],
                "status_url": (
                    reverse("admin:cards_friendcard_status", args=[obj.pk])
                    if obj is not None and obj.status in LIVE_STATUSES
                    else None
                ),
                "statuses": CardStatus,
            }
        )
        adminform = context.get("adminform")
        merchant = getattr(request, "merchant", None)
        if adminform is not None and merchant is not None:
            from redemption.online import link_help

            field = adminform.form.fields.get("center_url")
            if field is not None:  # where the merchant puts it (issue 10 §5)
                field.help_text = link_help(request, merchant)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        definition = form.cleaned_data["definition"]
        if obj.pk and obj.is_submitted:
            self._update(
                request, obj, definition, form.cleaned_data.get("opened_version")
            )
            return
        saved = services.card_draft_save(
            merchant=request.merchant,
            definition=definition,
            actor=request.user,
            card=obj if obj.pk else None,
        )
        obj.pk, obj.merchant = saved.pk, saved.merchant
        obj.refresh_from_db()
        if "_submit" in request.POST:
            self._submit(request, obj)
        elif services.validate_for_merchant(definition, merchant=request.merchant):
            # Saved as it is, but WeChat would refuse it: say so instead of "saved".
            request._card_draft_invalid = True

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        if getattr(request, "_card_draft_invalid", False) and level == messages.SUCCESS:
            message = _(
                "Draft saved. It cannot be submitted to WeChat until the marked "
                "fields are fixed."
            )
            level = messages.WARNING
        super().message_user(request, message, level, *args, **kwargs)

    def _submit(self, request, card):
        try:
            services.card_submit(card=card, actor=request.user)
        except services.CardRefused as exc:
            messages.error(
                request,
                _("WeChat did not accept the card: %s") % _said_now(exc.errors[0]),
            )
        except wx.WeChatError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("Submitted to WeChat. The card is now in review.")
            )
        card.refresh_from_db()

    def _update(self, request, card, definition, version=None):
        try:
            updated = services.card_update(
                card=card,
                definition=definition,
                actor=request.user,
                expected_version=version,
            )
        except services.CardRefused as exc:
            messages.error(
                request,
                _("WeChat did not accept the change: %s") % _said_now(exc.errors[0]),
            )
        except (wx.WeChatError, ValidationError) as exc:
            messages.error(
                request, getattr(exc, "message", None) or "; ".join(exc.messages)
            )
        else:
            if (
                updated.status == CardStatus.IN_REVIEW
                and updated.events.filter(kind=CardEvent.Kind.BACK_TO_REVIEW).exists()
            ):
                messages.warning(
                    request,
                    _("Saved at WeChat. The change sends the card back to review."),
                )
        card.refresh_from_db()

    def response_add(self, request, obj, post_url_continue=None):
        if "_submit" in request.POST or obj.last_error:
            return HttpResponseRedirect(
                reverse("admin:cards_friendcard_change", args=[obj.pk])
            )
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if "_submit" in request.POST or obj.last_error:
            return HttpResponseRedirect(
                reverse("admin:cards_friendcard_change", args=[obj.pk])
            )
        return super().response_change(request, obj)

    def delete_model(self, request, obj):
        services.card_delete(card=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for card in queryset:
            services.card_delete(card=card, actor=request.user)

    def get_deleted_objects(self, objs, request):
        # A card's history goes with it silently; only the cards are listed.
        return [str(o) for o in objs], {}, set(), []


def _said_now(error) -> str:
    """A refusal in the current language: WeChat's from its errcode (SPEC §11)."""
    if error.code == "wechat":
        known = wx.MESSAGES.get(error.errcode)
        if known is not None:
            return str(known)
    return error.message
