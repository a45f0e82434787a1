"""Friend coupons in the merchant admin: the editor with its live preview, the list,
submission to WeChat, updates, deletion and the history of each card."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import csrf_protect_m
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from portal.admin_base import MerchantScopedAdmin, ScopedInline
from portal.roles import Capability
from portal.sites import portal_site
from wechat import errors as wx

from . import editor, rules, services
from .forms import CardEditorForm
from .models import CardEvent, CardStatus, FriendCard


class CardEventInline(ScopedInline):
    model = CardEvent
    extra = 0
    can_delete = False
    fields = ["at", "kind", "actor", "source", "message"]
    readonly_fields = fields
    verbose_name_plural = gettext_lazy("History")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(FriendCard, site=portal_site)
class FriendCardAdmin(MerchantScopedAdmin):
    change_capability = Capability.CARDS
    form = CardEditorForm
    inlines = [CardEventInline]
    change_form_template = "admin/cards/friendcard/change_form.html"
    list_display = [
        "title_link", "card_type", "status_badge", "quantity", "validity",
        "unit_price", "updated_at",
    ]  # fmt: skip
    list_display_links = None
    list_filter = ["status", "card_type"]
    search_fields = ["title", "brand_name", "card_id"]
    list_per_page = 50
    fieldsets = [
        (gettext_lazy("Type and value"), {"fields": [
            "card_type", "brand_name", "reduce_cost", "gift_name", "gift_num", "gift_unit",
        ]}),
        (gettext_lazy("Thresholds"), {
            "fields": ["least_cost", "accept_category", "reject_category",
                       "object_use_for", "no_other_discount"],
            "description": gettext_lazy(
                "Thresholds decide the title and the stock price, and cannot be "
                "changed after submission."
            ),
        }),
        (gettext_lazy("Validity"), {"fields": [("begin_date", "end_date")]}),
        (gettext_lazy("Stores"), {"fields": ["location_ids"]}),
        (gettext_lazy("Look"), {"fields": [
            "logo_url", "color", "notice", "description", "abstract", "cover_url",
            ("text_image_1_url", "text_image_1_text"),
            ("text_image_2_url", "text_image_2_text"),
            ("text_image_3_url", "text_image_3_text"),
        ]}),
        (gettext_lazy("Usage"), {"fields": [
            "code_type", "service_phone", "get_limit", "time_limit_days",
            ("time_begin", "time_end"), "business_service",
            ("center_title", "center_sub_title", "center_url"),
            ("custom_url_name", "custom_url_sub_title", "custom_url"),
            ("promotion_url_name", "promotion_url_sub_title", "promotion_url"),
        ]}),
        (gettext_lazy("After use (consume-share)"), {
            "fields": ["consume_share", "consume_share_card"]
        }),
    ]  # fmt: skip

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
        reason = f" — {obj.refuse_reason}" if obj.refuse_reason else ""
        # The colour comes from the stylesheet (portal.css): the CSP allows no style
        # attribute.
        return format_html(
            '<span class="card-status" data-status-code="{}">{}</span>{}',
            obj.status,
            obj.get_status_display(),
            reason,
        )

    @admin.display(description=gettext_lazy("validity"), ordering="end_at")
    def validity(self, obj):
        if not obj.begin_at or not obj.end_at:
            return "—"
        from django.utils import timezone

        begin, end = timezone.localtime(obj.begin_at), timezone.localtime(obj.end_at)
        return f"{begin:%Y-%m-%d} – {end:%Y-%m-%d}"

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
        ):
            return False
        return super().has_change_permission(request, obj)

    def render_change_form(
        self, request, context, add=False, change=False, form_url="", obj=None
    ):
        zone = settings.TIME_ZONE
        context.update(
            {
                "editor_spec": editor.spec_for_js(editor.utc_offset(zone)),
                "palette": rules.PALETTE,
                "preview_url": reverse("api:cards_preview"),
                "upload_url": reverse("api:cards_images"),
                "card": obj,
            }
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        definition = form.cleaned_data["definition"]
        if obj.pk and obj.is_submitted:
            self._update(request, obj, definition)
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

    def _submit(self, request, card):
        try:
            services.card_submit(card=card, actor=request.user)
        except services.CardRefused as exc:
            messages.error(
                request, _("WeChat did not accept the card: %s") % exc.errors[0].message
            )
        except wx.WeChatError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, _("Submitted to WeChat. The card is now in review.")
            )
        card.refresh_from_db()

    def _update(self, request, card, definition):
        try:
            updated = services.card_update(
                card=card, definition=definition, actor=request.user
            )
        except services.CardRefused as exc:
            messages.error(
                request,
                _("WeChat did not accept the change: %s") % exc.errors[0].message,
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
