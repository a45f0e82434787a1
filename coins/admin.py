"""Coins in the merchant admin: buy stock (quote → confirm with a live countdown),
recharge by WeChat Pay QR code (status live), the ledger with WeChat's filters, CSV
export and the reconciliation with WeChat's balance. Views are thin: services decide.

Every view these admins write themselves (custom views and the standard views they
replace) goes through one guard, ``coin_view``: it names the Django permission hook
each HTTP method needs ("view", "add" or "act": the role's coin capability) and
refuses any other method, so no view skips the permission or the capability check.
"""

from __future__ import annotations

import io
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import wraps

import qrcode
import qrcode.image.svg
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cards.models import CardStatus, FriendCard
from portal.admin_base import MerchantScopedAdmin
from portal.exports import csv_response, local_time
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
        label=gettext_lazy("Units of stock"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

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
        label=gettext_lazy("Coins (1 coin = 1 yuan)"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )

    def clean_coin_count(self):
        try:
            return services.parse_coin_count(self.cleaned_data["coin_count"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["coin_count"]) from None


def coin_view(**needs: str):
    """Guard of every view a coin admin writes itself: ``GET="view", POST="act"``
    names, per HTTP method, the permission hook that must allow the request
    (``has_view_permission``, ``has_add_permission`` or ``has_act_permission``);
    another method is 405. Custom views are also wrapped in ``admin_view`` (sign-in,
    the site's own permission) by ``get_urls``."""
    needs = {method.upper(): need for method, need in needs.items()}
    if "GET" in needs:
        needs.setdefault("HEAD", needs["GET"])

    def decorator(method):
        @wraps(method)
        def view(self, request, *args, **kwargs):
            need = needs.get(request.method)
            if need is None:
                return HttpResponseNotAllowed(sorted(needs))
            if not self.allows(request, need):
                raise PermissionDenied
            return method(self, request, *args, **kwargs)

        view.coin_view_needs = needs
        return view

    return decorator


class CoinsAdmin(MerchantScopedAdmin):
    change_capability = Capability.COINS
    view_capability = Capability.COINS
    act_capability = Capability.COINS

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # states move only through the services

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_act_permission(self, request) -> bool:
        """May buy stock, recharge, sync: the role's coin capability."""
        return self._can(request, self.act_capability)

    def allows(self, request, need: str) -> bool:
        return {
            "view": self.has_view_permission,
            "add": self.has_add_permission,
            "act": self.has_act_permission,
        }[need](request)

    def _context(self, request, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            **extra,
        }


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
            path(
                "<path:object_id>/confirm/",
                wrap(self.confirm_view),
                name="coins_stockorder_confirm",
            ),
            path(
                "<path:object_id>/requote/",
                wrap(self.requote_view),
                name="coins_stockorder_requote",
            ),
            path("activate/", wrap(self.activate_view), name="coins_coins_activate"),
            *super().get_urls(),
        ]

    @coin_view(GET="add", POST="add")
    def add_view(self, request, form_url="", extra_context=None):
        """Buy stock: a card and a number of units → WeChat's 60-second quote."""
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
                    merchant=request.merchant,
                    card=form.cleaned_data["card"],
                    quantity=form.cleaned_data["quantity"],
                    actor=request.user,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            except wx.WeChatError as exc:
                form.add_error(None, exc.message)
                needs_account = exc.is_(wx.E.NO_PAYMENT_PERMISSION)
            else:
                return redirect("admin:coins_stockorder_change", order.pk)
        account = CoinAccount.objects.filter(merchant=request.merchant).first()
        return TemplateResponse(
            request,
            "coins/quote_form.html",
            self._context(
                request,
                title=_("Buy stock"),
                form=form,
                account=account,
                **_activation(request, needs_account),
            ),
        )

    @coin_view(GET="view")
    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        shortfall = services.shortfall(order=order)
        return TemplateResponse(
            request,
            "coins/stock_order.html",
            self._context(
                request,
                title=_("Stock order"),
                order=order,
                seconds_left=services.seconds_left(order),
                shortfall=shortfall,
                recharge_coins=services.coins_to_recharge(shortfall),
                error_message=display.stock_order_message(order),
                events=display.coin_event_rows(
                    order.events.select_related("actor", "stock_order")[:20]
                ),
                status_url=reverse("api:coins_stock_order", args=[order.pk]),
                can_act=self.has_act_permission(request),
            ),
        )

    @coin_view(GET="view", POST="act")
    def confirm_view(self, request, object_id):
        order = self.get_object(request, object_id)
        if request.method == "POST":
            order = services.stock_order_confirm_request(
                order=order, actor=request.user
            )
            if order.status == StockOrder.Status.EXPIRED:
                messages.error(request, display.stock_order_message(order))
        return redirect("admin:coins_stockorder_change", order.pk)

    @coin_view(GET="view", POST="act")
    def requote_view(self, request, object_id):
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

    @coin_view(GET="view", POST="act")
    def activate_view(self, request):
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

    @coin_view(GET="add", POST="add")
    def add_view(self, request, form_url="", extra_context=None):
        """Recharge coins: an amount → a WeChat Pay order and its QR code."""
        form = RechargeForm(
            request.POST or None, initial={"coin_count": request.GET.get("coins", "")}
        )
        needs_account = False
        if request.method == "POST" and form.is_valid():
            try:
                recharge = services.recharge_create(
                    merchant=request.merchant,
                    coin_count=form.cleaned_data["coin_count"],
                    actor=request.user,
                )
            except wx.WeChatError as exc:
                form.add_error(None, exc.message)
                needs_account = exc.is_(wx.E.NO_PAYMENT_PERMISSION)
            else:
                return redirect("admin:coins_recharge_change", recharge.pk)
        return TemplateResponse(
            request,
            "coins/recharge_form.html",
            self._context(
                request,
                title=_("Recharge coins"),
                form=form,
                **_activation(request, needs_account),
            ),
        )

    @coin_view(GET="view")
    def change_view(self, request, object_id, form_url="", extra_context=None):
        recharge = self.get_object(request, object_id)
        svg = (
            qrcode.make(
                recharge.qrcode_url, image_factory=qrcode.image.svg.SvgPathImage
            )
            if recharge.qrcode_url
            else None
        )
        return TemplateResponse(
            request,
            "coins/recharge.html",
            self._context(
                request,
                title=_("Recharge"),
                recharge=recharge,
                qr_svg=svg.to_string(encoding="unicode") if svg else "",
                sandbox_pay_url=_sandbox_pay_url(recharge.qrcode_url),
                status_url=reverse("api:coins_recharge", args=[recharge.pk]),
                account=CoinAccount.objects.filter(merchant=request.merchant).first(),
                events=recharge.events.all()[:20],
            ),
        )

    @coin_view(GET="view")
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


# --- the ledger ------------------------------------------------------------------------
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


class LedgerFilterForm(forms.Form):
    """The ledger's filters, from the query string: a bad value is a field error
    (words on the field, status 400), never a server error."""

    type = forms.ChoiceField(label=gettext_lazy("Type"), required=False)
    exclude = forms.ChoiceField(label=gettext_lazy("Leave out status"), required=False)
    sort = forms.ChoiceField(
        label=gettext_lazy("Order"),
        required=False,
        choices=[
            ("desc", gettext_lazy("Newest first")),
            ("asc", gettext_lazy("Oldest first")),
        ],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["type"].choices = [
            ("", _("All")),
            *LedgerEntry.OrderType.choices,
        ]
        self.fields["exclude"].choices = [("", "—"), *LedgerEntry.OrderStatus.choices]
        # "from" is a Python keyword: the field is added by name.
        for name, label in (("from", _("From")), ("to", _("To"))):
            self.fields[name] = forms.DateField(
                label=label, required=False, input_formats=["%Y-%m-%d"]
            )
        self.order_fields(["type", "exclude", "from", "to", "sort"])

    def _day(self, name: str) -> date | None:
        value = self.cleaned_data.get(name)
        if value is not None and not FIRST_DAY <= value <= LAST_DAY:
            raise ValidationError(
                _("Give a day between %(first)s and %(last)s.")
                % {"first": FIRST_DAY.isoformat(), "last": LAST_DAY.isoformat()}
            )
        return value

    def clean_from(self):
        return self._day("from")

    def clean_to(self):
        return self._day("to")

    def clean(self):
        data = super().clean()
        begin, end = data.get("from"), data.get("to")
        if begin and end and end < begin:
            self.add_error("to", _("The end date is before the start date."))
        return data

    def filters(self) -> selectors.LedgerFilters:
        """The selector's filters; days are whole days in the current time zone."""
        data = self.cleaned_data

        def moment(day: date | None, *, next_day: bool = False) -> datetime | None:
            if day is None:
                return None
            day += timedelta(days=1 if next_day else 0)  # a local midnight, DST or not
            return timezone.make_aware(datetime.combine(day, time.min))

        return selectors.LedgerFilters(
            order_type=data.get("type") or "",
            exclude_status=data.get("exclude") or "",
            begin=moment(data.get("from")),
            end=moment(data.get("to"), next_day=True),
            ascending=data.get("sort") == "asc",
        )


def _signed(value: Decimal) -> str:
    """+ credit, − debit (a true minus sign), two decimals; 0 unsigned."""
    if not value:
        return "0.00"
    return f"{value:+.2f}".replace("-", "\u2212")


def _display(line: selectors.LedgerLine) -> dict:
    return {
        "line": line,
        "entry": line.entry,
        "free": _signed(line.free) if line.free else "",
        "pay": _signed(line.pay) if line.pay else "",
        "balance": "" if line.balance is None else f"{line.balance:.2f}",
    }


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

    def _page(self, request, form, *, status=200, rows=(), next_query=None, error=""):
        merchant = request.merchant
        query = request.GET.copy()
        query.pop("after", None)
        filtered = form.is_bound and any(request.GET.get(k) for k in form.fields)
        return TemplateResponse(
            request,
            "coins/ledger.html",
            self._context(
                request,
                title=_("Coin ledger"),
                form=form,
                error=error,
                lines=[_display(line) for line in rows],
                next_query=next_query,
                base_query=query.urlencode(),
                filtered=filtered,
                empty=not rows and selectors.ledger_is_empty(merchant=merchant),
                account=CoinAccount.objects.filter(merchant=merchant).first(),
                can_act=self.has_act_permission(request),
                time_zone=timezone.get_current_timezone_name(),
            ),
            status=status,
        )

    @coin_view(GET="view")
    def changelist_view(self, request, extra_context=None):
        form = LedgerFilterForm(request.GET)
        if not form.is_valid():
            return self._page(request, form, status=400)
        filters = form.filters()
        try:
            rows, next_cursor = selectors.ledger_page(
                merchant=request.merchant,
                filters=filters,
                after=request.GET.get("after", ""),
            )
        except selectors.InvalidCursor:
            error = _(
                "This page link is not valid (it was changed, or it belongs to "
                "another merchant). Start again from the first page."
            )
            return self._page(request, form, status=400, error=error)
        next_query = None
        if next_cursor:
            following = request.GET.copy()
            following["after"] = next_cursor
            next_query = following.urlencode()
        lines = selectors.ledger_lines(merchant=request.merchant, rows=rows)
        return self._page(request, form, rows=lines, next_query=next_query)

    CSV_COLUMNS = (
        gettext_lazy("Time"),
        gettext_lazy("Type"),
        gettext_lazy("Status"),
        gettext_lazy("Counted"),
        gettext_lazy("Description"),
        gettext_lazy("Free coins"),
        gettext_lazy("Paid coins"),
        gettext_lazy("Balance"),
        gettext_lazy("Paid at"),
        gettext_lazy("WeChat order"),
    )

    @coin_view(GET="view")
    def export_view(self, request):
        """The filtered ledger as CSV for Excel: UTF-8 with a BOM (Excel on Chinese
        Windows reads it right), translated headings, local time, signed amounts
        with the running balance, and no cell Excel would run as a formula."""
        form = LedgerFilterForm(request.GET)
        if not form.is_valid():
            return self._page(request, form, status=400)
        lines = selectors.ledger_export_lines(
            merchant=request.merchant, filters=form.filters()
        )
        yes, no = _("yes"), _("no")
        cents = Decimal("0.01")
        rows = (
            [
                local_time(line.entry.create_time),
                line.entry.get_order_type_display(),
                line.entry.get_status_display(),
                yes if line.counted else no,
                line.entry.desc,
                line.free.quantize(cents),
                line.pay.quantize(cents),
                "" if line.balance is None else line.balance.quantize(cents),
                local_time(line.entry.pay_finish_time),
                line.entry.order_id,
            ]
            for line in lines
        )
        return csv_response(
            filename="coin-ledger.csv", columns=self.CSV_COLUMNS, rows=rows
        )

    @coin_view(GET="view", POST="act")
    def sync_view(self, request):
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

    @coin_view(GET="view", POST="act")
    def reconcile_view(self, request):
        """GET shows the last reconciliation, read-only (the local ledger against
        the balance WeChat last reported); POST syncs with WeChat and checks again."""
        if request.method == "POST":
            try:
                services.reconcile(merchant=request.merchant)
            except wx.WeChatError as exc:
                _wechat_error(request, exc)
                return HttpResponseRedirect(
                    reverse("admin:coins_ledgerentry_changelist")
                )
            return HttpResponseRedirect(reverse("admin:coins_ledgerentry_reconcile"))
        result = selectors.reconciliation(
            merchant=request.merchant,
            local=services.ledger_local_balance(merchant=request.merchant),
        )
        if result is None:
            messages.info(
                request, _("Not reconciled yet: reconcile with WeChat first.")
            )
            return HttpResponseRedirect(reverse("admin:coins_ledgerentry_changelist"))
        return TemplateResponse(
            request,
            "coins/reconcile.html",
            self._context(request, title=_("Reconciliation"), result=result),
        )
