"""The redemption history (issue 10 §6): every attempt of the merchant, newest first,
filtered, paged by keyset, exported as CSV; and the codes consumed elsewhere.

Who sees what: owners, staff and providers see every attempt, with the whole code
(they audit). A cashier sees the attempts of their own stores only (Membership.stores;
bound to none = every store, as at the till), with the code masked but its last
four characters, and cannot export.
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cards.models import FriendCard
from portal.exports import csv_response, local_time
from portal.roles import Capability, can
from portal.sites import portal_site

from . import selectors
from .models import Channel, CodeEvent, ConsumeSource, Reason, RedemptionAttempt

A = RedemptionAttempt.Outcome
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)
TONES = {A.CONSUMED: "tone-ok", A.REFUSED: "tone-bad", A.UNKNOWN: "tone-warn"}


def masked(code: str) -> str:
    """A code as a cashier sees it in the history: the last four characters."""
    return "•" * max(len(code) - 4, 0) + code[-4:]


class HistoryFilterForm(forms.Form):
    """The history's filters, from the query string: a bad value is a field error in
    words (status 400), never a server error."""

    store = forms.TypedChoiceField(
        label=gettext_lazy("Store"), required=False, coerce=int, empty_value=None
    )
    who = forms.ChoiceField(label=gettext_lazy("Cashier or device"), required=False)
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), required=False)
    card = forms.TypedChoiceField(
        label=gettext_lazy("Card"), required=False, coerce=int, empty_value=None
    )
    outcome = forms.ChoiceField(label=gettext_lazy("Outcome"), required=False)
    reason = forms.ChoiceField(label=gettext_lazy("Reason"), required=False)
    code = forms.CharField(label=gettext_lazy("Code"), required=False, max_length=64)

    def __init__(self, *args, merchant, stores, show_who: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        everything = ("", _("All"))
        self.fields["store"].choices = [everything, *((s.pk, s.name) for s in stores)]
        if show_who:
            self.fields["who"].choices = [
                everything,
                *selectors.who_choices(merchant=merchant),
            ]
        else:
            del self.fields["who"]
        self.fields["channel"].choices = [everything, *Channel.choices]
        cards = FriendCard.objects.filter(merchant=merchant).exclude(card_id="")
        self.fields["card"].choices = [
            everything,
            *cards.order_by("title").values_list("pk", "title"),
        ]
        self.fields["outcome"].choices = [everything, *A.choices]
        self.fields["reason"].choices = [everything, *Reason.choices]
        # "from" is a Python keyword: the date fields are added by name.
        for name, label in (("from", _("From")), ("to", _("To"))):
            self.fields[name] = forms.DateField(
                label=label,
                required=False,
                input_formats=["%Y-%m-%d"],
                error_messages={
                    "invalid": _("Give a day as YYYY-MM-DD, like 2026-12-01.")
                },
            )
        order = ["from", "to", "store", "who", "channel", "card", "outcome"]
        self.order_fields([*order, "reason", "code"])

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

    def clean_code(self):
        return "".join((self.cleaned_data.get("code") or "").split()).replace("-", "")

    def clean(self):
        data = super().clean()
        begin, end = data.get("from"), data.get("to")
        if begin and end and end < begin:
            self.add_error("to", _("The end date is before the start date."))
        return data

    def filters(self) -> selectors.HistoryFilters:
        data = self.cleaned_data
        who = data.get("who") or ""
        return selectors.HistoryFilters(
            begin=selectors.day_bounds(data.get("from")),
            end=selectors.day_bounds(data.get("to"), next_day=True),
            store_id=data.get("store"),
            user_id=int(who[1:]) if who.startswith("u") else None,
            api_key_id=int(who[1:]) if who.startswith("k") else None,
            channel=data.get("channel") or "",
            card_id=data.get("card"),
            outcome=data.get("outcome") or "",
            reason=data.get("reason") or "",
            code=data.get("code") or "",
        )


def _guard(request):
    if not can(getattr(request, "role", None), Capability.REDEEM):
        raise PermissionDenied
    merchant = request.merchant
    scope = selectors.store_scope(
        merchant=merchant, user=request.user, role=request.role
    )
    stores = list(selectors.visible_stores(merchant=merchant, scope=scope))
    auditor = can(request.role, Capability.ADMIN)
    form = HistoryFilterForm(
        request.GET, merchant=merchant, stores=stores, show_who=auditor
    )
    return merchant, scope, auditor, form


def page_context(request, **extra) -> dict:
    """What a redemption page needs to sit in the portal: the admin's header and
    sidebar for those who use the admin, the till's plain page for cashiers."""
    if can(getattr(request, "role", None), Capability.ADMIN):
        return {
            **portal_site.each_context(request),
            "base_template": "redemption/admin_base.html",
            **extra,
        }
    return {"base_template": "redemption/till_base.html", **extra}


def _row(attempt: RedemptionAttempt, *, auditor: bool) -> dict:
    return {
        "a": attempt,
        "code": attempt.code if auditor else masked(attempt.code),
        "who": selectors.who_label(attempt),
        "tone": TONES.get(attempt.outcome, "tone-muted"),
        "checking": attempt.outcome in (A.UNKNOWN, A.PENDING),
    }


@login_required
def history(request):
    merchant, scope, auditor, form = _guard(request)
    context = page_context(
        request,
        title=_("Redemption history"),
        form=form,
        auditor=auditor,
        time_zone=timezone.get_current_timezone_name(),
        rows=[],
        elsewhere=[],
        next_query=None,
        error="",
    )
    query = request.GET.copy()
    query.pop("after", None)
    context["base_query"] = query.urlencode()
    context["filtered"] = any(request.GET.get(k) for k in form.fields)
    status = 200
    if not form.is_valid():
        status = 400
    else:
        filters = form.filters()
        try:
            rows, cursor = selectors.history_page(
                merchant=merchant,
                filters=filters,
                scope=scope,
                after=request.GET.get("after", ""),
            )
        except selectors.InvalidCursor:
            rows, cursor, status = [], None, 400
            context["error"] = _(
                "This page link is not valid (it was changed, or it belongs to "
                "another merchant). Start again from the first page."
            )
        context["rows"] = [_row(a, auditor=auditor) for a in rows]
        if cursor:
            following = request.GET.copy()
            following["after"] = cursor
            context["next_query"] = following.urlencode()
        context["first_page"] = not request.GET.get("after")
        if auditor and context["first_page"] and not filters.store_id:
            context["elsewhere"] = [
                {"e": e, "source": elsewhere_source(e)}
                for e in selectors.consumed_elsewhere(
                    merchant=merchant, filters=filters
                )
            ]
    context["empty"] = not context["rows"] and selectors.history_is_empty(
        merchant=merchant, scope=scope
    )
    context["csv_url"] = (
        f"{reverse('redemption:history_csv')}?{context['base_query']}"
        if auditor and form.is_bound and not form.errors
        else ""
    )
    return render(request, "redemption/history.html", context, status=status)


CSV_COLUMNS = (
    gettext_lazy("When"),
    gettext_lazy("Code"),
    gettext_lazy("Card"),
    gettext_lazy("Store"),
    gettext_lazy("Who"),
    gettext_lazy("Channel"),
    gettext_lazy("Outcome"),
    gettext_lazy("Reason"),
    gettext_lazy("WeChat errcode"),
    gettext_lazy("Attempt"),
)


@login_required
def history_csv(request):
    """The filtered history as CSV for Excel: UTF-8 with a BOM, translated headings,
    the merchant's local time, no cell Excel would run as a formula. Owners, staff
    and providers only (a cashier's history is on screen)."""
    merchant, scope, auditor, form = _guard(request)
    if not auditor:
        raise PermissionDenied
    if not form.is_valid():
        return history(request)
    rows = selectors.history_queryset(
        merchant=merchant, filters=form.filters(), scope=scope
    )
    lines = (
        [
            local_time(a.created_at),
            a.code,
            a.card.title if a.card else "",
            a.store.name if a.store else "",
            selectors.who_label(a),
            a.get_channel_display(),
            a.get_outcome_display(),
            a.reason_message,
            "" if a.errcode is None else a.errcode,
            a.pk,
        ]
        for a in rows.iterator(chunk_size=2000)
    )
    return csv_response(filename="redemptions.csv", columns=CSV_COLUMNS, rows=lines)


def elsewhere_source(event: CodeEvent) -> str:
    try:
        return str(ConsumeSource(event.source).label)
    except ValueError:
        return _("WeChat (source not given)")
