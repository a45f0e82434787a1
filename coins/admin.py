"""Coins in the merchant admin: buy stock (quote → confirm with a live countdown),
recharge by WeChat Pay QR code (status live), the ledger with WeChat's filters, CSV
export and the reconciliation with WeChat's balance. Views are thin: services decide."""

from __future__ import annotations

import csv
import io

import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cards.models import CardStatus, FriendCard
from portal.admin_base import MerchantScopedAdmin
from portal.labels import source_label
from portal.roles import Capability
from portal.sites import portal_site
from wechat import errors as wx

from . import display, selectors, services
from .models import CoinAccount, LedgerEntry, Recharge, StockOrder


def _wechat_error(request, exc: wx.WeChatError) -> None:
    messages.error(request, exc.message)


class QuoteForm(forms.Form):
    card = forms.ModelChoiceField(
        label=gettext_lazy("Card"), queryset=FriendCard.objects.none()
    )
    quantity = forms.CharField(
        label=gettext_lazy("Units of stock"), max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )  # fmt: skip

    def __init__(self, *args, merchant=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].queryset = FriendCard.objects.filter(
            merchant=merchant, status=CardStatus.APPROVED
        )

    def clean_quantity(self):
        try:
            return services.parse_quantity(self.cleaned_data["quantity"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["quantity"]) from None


class RechargeForm(forms.Form):
    coin_count = forms.CharField(
        label=gettext_lazy("Coins (1 coin = 1 yuan)"), max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )  # fmt: skip

    def clean_coin_count(self):
        try:
            return services.parse_coin_count(self.cleaned_data["coin_count"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["coin_count"]) from None


class CoinsAdmin(MerchantScopedAdmin):
    change_capability = Capability.COINS
    view_capability = Capability.COINS

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # states move only through the services

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _context(self, request, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            **extra,
        }

    def _require(self, request):
        if not self._can(request, Capability.COINS):
            raise PermissionDenied


@admin.register(StockOrder, site=portal_site)
class StockOrderAdmin(CoinsAdmin):
    list_display = ["card", "quantity", "price", "status", "quoted_at", "confirmed_at"]
    list_filter = ["status"]
    search_fields = ["card__title", "quote_id"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("card")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/confirm/", wrap(self.confirm_view), name="coins_stockorder_confirm"),
            path("<path:object_id>/requote/", wrap(self.requote_view), name="coins_stockorder_requote"),
            path("activate/", wrap(self.activate_view), name="coins_coins_activate"),
            *super().get_urls(),
        ]  # fmt: skip

    def add_view(self, request, form_url="", extra_context=None):
        """Buy stock: a card and a number of units → WeChat's 60-second quote."""
        self._require(request)
        initial = {
            "card": request.GET.get("card"),
            "quantity": request.GET.get("quantity", ""),
        }
        form = QuoteForm(
            request.POST or None, initial=initial, merchant=request.merchant
        )
        needs_account = False
        if request.method == "POST" and form.is_valid():
            try:
                order = services.stock_order_quote(
                    merchant=request.merchant, card=form.cleaned_data["card"],
                    quantity=form.cleaned_data["quantity"], actor=request.user,
                )  # fmt: skip
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            except wx.WeChatError as exc:
                form.add_error(None, exc.message)
                needs_account = exc.errcode == 43008  # no payment permission
            else:
                return redirect("admin:coins_stockorder_change", order.pk)
        account = CoinAccount.objects.filter(merchant=request.merchant).first()
        return TemplateResponse(
            request, "coins/quote_form.html",
            self._context(request, title=_("Buy stock"), form=form, account=account,
                          **_activation(request, needs_account)),
        )  # fmt: skip

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        shortfall = services.shortfall(order=order)
        return TemplateResponse(
            request, "coins/stock_order.html",
            self._context(
                request, title=_("Stock order"), order=order,
                seconds_left=services.seconds_left(order), shortfall=shortfall,
                recharge_coins=services.coins_to_recharge(shortfall),
                error_message=display.stock_order_message(order),
                events=display.coin_event_rows(
                    order.events.select_related("actor", "stock_order")[:20]
                ),
                status_url=reverse("api:coins_stock_order", args=[order.pk]),
                can_act=self._can(request, Capability.COINS),
            ),
        )  # fmt: skip

    def confirm_view(self, request, object_id):
        self._require(request)
        order = self.get_object(request, object_id)
        if request.method == "POST":
            order = services.stock_order_confirm_request(
                order=order, actor=request.user
            )
            if order.status == StockOrder.Status.EXPIRED:
                messages.error(request, display.stock_order_message(order))
        return redirect("admin:coins_stockorder_change", order.pk)

    def requote_view(self, request, object_id):
        self._require(request)
        order = self.get_object(request, object_id)
        if request.method != "POST":
            return redirect("admin:coins_stockorder_change", order.pk)
        try:
            new = services.stock_order_requote(order=order, actor=request.user)
        except (ValidationError, wx.WeChatError) as exc:
            messages.error(
                request, getattr(exc, "message", None) or "; ".join(exc.messages)
            )
            return redirect("admin:coins_stockorder_change", order.pk)
        return redirect("admin:coins_stockorder_change", new.pk)

    def activate_view(self, request):
        self._require(request)
        if request.method == "POST":
            try:
                account = services.coin_account_activate(
                    merchant=request.merchant, actor=request.user
                )
            except wx.WeChatError as exc:
                _wechat_error(request, exc)
            else:
                messages.success(
                    request,
                    _("The coin account is open: %(total)s coins.")
                    % {"total": account.total_coin},
                )
        next_url = request.POST.get("next", "")
        if next_url and url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}
        ):
            return redirect(next_url)
        return redirect("admin:index")


@admin.register(Recharge, site=portal_site)
class RechargeAdmin(CoinsAdmin):
    list_display = [
        "created",
        "coin_count",
        "status",
        "settled",
        "settled_by_label",
        "order",
    ]

    @admin.display(description=gettext_lazy("created at"), ordering="created_at")
    def created(self, obj):
        return f"{timezone.localtime(obj.created_at):%Y-%m-%d %H:%M}"

    @admin.display(description=gettext_lazy("settled at"), ordering="settled_at")
    def settled(self, obj):
        if obj.settled_at is None:
            return "—"
        return f"{timezone.localtime(obj.settled_at):%Y-%m-%d %H:%M}"

    @admin.display(description=gettext_lazy("settled by"), ordering="settled_by")
    def settled_by_label(self, obj):
        return source_label(obj.settled_by) or "—"

    @admin.display(description=gettext_lazy("WeChat order id"), ordering="order_id")
    def order(self, obj):
        short = obj.order_id if len(obj.order_id) <= 16 else obj.order_id[:15] + "…"
        return format_html('<code title="{}">{}</code>', obj.order_id, short)

    list_filter = ["status"]
    search_fields = ["order_id"]

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/qr.png",
                wrap(self.qr_png_view),
                name="coins_recharge_qr_png",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        """Recharge coins: an amount → a WeChat Pay order and its QR code."""
        self._require(request)
        form = RechargeForm(
            request.POST or None, initial={"coin_count": request.GET.get("coins", "")}
        )
        needs_account = False
        if request.method == "POST" and form.is_valid():
            try:
                recharge = services.recharge_create(
                    merchant=request.merchant, coin_count=form.cleaned_data["coin_count"],
                    actor=request.user,
                )  # fmt: skip
            except wx.WeChatError as exc:
                form.add_error(None, exc.message)
                needs_account = exc.errcode == 43008  # no payment permission
            else:
                return redirect("admin:coins_recharge_change", recharge.pk)
        return TemplateResponse(
            request, "coins/recharge_form.html",
            self._context(request, title=_("Recharge coins"), form=form,
                          **_activation(request, needs_account)),
        )  # fmt: skip

    def change_view(self, request, object_id, form_url="", extra_context=None):
        recharge = self.get_object(request, object_id)
        svg = qrcode.make(
            recharge.qrcode_url, image_factory=qrcode.image.svg.SvgPathImage
        ) if recharge.qrcode_url else None  # fmt: skip
        return TemplateResponse(
            request, "coins/recharge.html",
            self._context(
                request, title=_("Recharge"), recharge=recharge,
                qr_svg=svg.to_string(encoding="unicode") if svg else "",
                sandbox_pay_url=_sandbox_pay_url(recharge.qrcode_url),
                status_url=reverse("api:coins_recharge", args=[recharge.pk]),
                account=CoinAccount.objects.filter(merchant=request.merchant).first(),
                events=recharge.events.all()[:20],
            ),
        )  # fmt: skip

    def qr_png_view(self, request, object_id):
        recharge = self.get_object(request, object_id)
        if not recharge.qrcode_url:
            raise Http404
        buffer = io.BytesIO()
        qrcode.make(recharge.qrcode_url, box_size=10, border=4).save(
            buffer, format="PNG"
        )
        response = HttpResponse(buffer.getvalue(), content_type="image/png")
        response["Content-Disposition"] = (
            f'attachment; filename="recharge-{recharge.order_id}.png"'
        )
        return response


def _activation(request, needs_account: bool) -> dict:
    """43008 (no payment permission) is answered with the way out: a button that
    opens the coin account, and comes back here."""
    return {
        "needs_account": needs_account,
        "activate_url": reverse("admin:coins_coins_activate"),
        "here": request.get_full_path(),
    }


def _sandbox_pay_url(qrcode_url: str) -> str | None:
    """In the sandbox, the QR's weixin:// URL opens the sandbox's payment page."""
    base = settings.WECHAT_API_BASE
    if "/sandbox/" not in base or "pr=" not in qrcode_url:
        return None
    return f"{base}pay?pr={qrcode_url.split('pr=', 1)[1]}"


@admin.register(LedgerEntry, site=portal_site)
class LedgerEntryAdmin(CoinsAdmin):
    """WeChat's coin ledger, kept locally: keyset pages, filters, CSV, reconciliation."""

    def has_add_permission(self, request) -> bool:
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("export.csv", wrap(self.export_view), name="coins_ledgerentry_export"),
            path("sync/", wrap(self.sync_view), name="coins_ledgerentry_sync"),
            path(
                "reconcile/",
                wrap(self.reconcile_view),
                name="coins_ledgerentry_reconcile",
            ),
            *super().get_urls(),
        ]

    def _filters(self, request) -> selectors.LedgerFilters:
        def day(name):
            value = parse_date(request.GET.get(name, "") or "")
            if value is None:
                return None
            moment = timezone.make_aware(
                timezone.datetime.combine(value, timezone.datetime.min.time())
            )
            return moment + timezone.timedelta(days=1) if name == "to" else moment

        order_type = request.GET.get("type", "")
        exclude = request.GET.get("exclude", "")
        return selectors.LedgerFilters(
            order_type=order_type if order_type in LedgerEntry.OrderType.values else "",
            exclude_status=exclude if exclude in LedgerEntry.OrderStatus.values else "",
            begin=day("from"), end=day("to"), ascending=request.GET.get("sort") == "asc",
        )  # fmt: skip

    def changelist_view(self, request, extra_context=None):
        self._require(request)
        filters = self._filters(request)
        rows, next_cursor = selectors.ledger_page(
            merchant=request.merchant,
            filters=filters,
            after=request.GET.get("after", ""),
        )
        query = request.GET.copy()
        query.pop("after", None)
        next_query = None
        if next_cursor:
            following = query.copy()
            following["after"] = next_cursor
            next_query = following.urlencode()
        return TemplateResponse(
            request, "coins/ledger.html",
            self._context(
                request, title=_("Coin ledger"), rows=rows, filters=filters,
                params=request.GET, next_query=next_query, base_query=query.urlencode(),
                order_types=LedgerEntry.OrderType.choices,
                statuses=LedgerEntry.OrderStatus.choices,
                account=CoinAccount.objects.filter(merchant=request.merchant).first(),
            ),
        )  # fmt: skip

    def export_view(self, request):
        self._require(request)
        rows = selectors.ledger_queryset(
            merchant=request.merchant, filters=self._filters(request)
        )

        def lines():
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(["order_id", "order_type", "status", "create_time", "pay_finish_time",
                             "desc", "free_coin_count", "pay_coin_count", "refund_free_coin_count",
                             "refund_pay_coin_count"])  # fmt: skip
            for e in rows.iterator(chunk_size=2000):
                writer.writerow([e.order_id, e.order_type, e.status, e.create_time.isoformat(),
                                 e.pay_finish_time.isoformat() if e.pay_finish_time else "",
                                 e.desc, e.free_coin_count, e.pay_coin_count,
                                 e.refund_free_coin_count, e.refund_pay_coin_count])  # fmt: skip
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate(0)
            yield buffer.getvalue()

        response = StreamingHttpResponse(
            lines(), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = 'attachment; filename="coin-ledger.csv"'
        return response

    def sync_view(self, request):
        self._require(request)
        if request.method == "POST":
            try:
                count = services.ledger_sync(merchant=request.merchant)
            except wx.WeChatError as exc:
                _wechat_error(request, exc)
            else:
                messages.success(
                    request,
                    _("Ledger synced: %(count)s orders new or changed.")
                    % {"count": count},
                )
        return HttpResponseRedirect(reverse("admin:coins_ledgerentry_changelist"))

    def reconcile_view(self, request):
        self._require(request)
        try:
            result = services.reconcile(merchant=request.merchant)
        except wx.WeChatError as exc:
            _wechat_error(request, exc)
            return HttpResponseRedirect(reverse("admin:coins_ledgerentry_changelist"))
        return TemplateResponse(
            request, "coins/reconcile.html",
            self._context(request, title=_("Reconciliation"), result=result),
        )  # fmt: skip
