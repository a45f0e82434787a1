"""The console at /sandbox/console/: act as WeChat and its users by hand.

Every form here calls the same backends as the control API.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..backends import cards, clock, coins, core, push
from ..models import Account, Call, Card, CoinAccount, CoinOrder, Fault, Push
from . import component, console_users

EVENT_TEMPLATES = {
    "card_pass_check": "CardId=",
    "card_not_pass_check": "CardId=\nRefuseReason=",
    "user_get_card": "CardId=\nUserCardCode=\nIsGiveByFriend=0\nOuterStr=",
    "user_consume_card": "CardId=\nUserCardCode=\nConsumeSource=FROM_API",
    "card_pay_order": "OrderId=\nStatus=ORDER_STATUS_SUCC\nOrderType=ORDER_TYPE_WXPAY",
}


@dataclass(frozen=True)
class ConsoleAccount:
    """An account as the console shows it: its secret is never on the page (the
    control API's GET accounts, with its own protections, gives it to tools)."""

    appid: str
    secret: str
    callback_url: str
    encrypted: bool
    auto_review_seconds: int

    @classmethod
    def of(cls, account: Account) -> ConsoleAccount:
        return cls(
            appid=account.appid,
            secret=_("set") if account.secret else _("not set"),
            callback_url=account.callback_url,
            encrypted=account.encrypted,
            auto_review_seconds=account.auto_review_seconds,
        )


def console(request):
    context = {
        "now": clock.now(),
        "offset": clock.offset(),
        "accounts": [ConsoleAccount.of(a) for a in Account.objects.all()],
        "faults": Fault.objects.all(),
        "fault_kinds": Fault.Kind.choices,
        "pushes": Push.objects.select_related("account")[:20],
        "calls": Call.objects.order_by("-at")[:20],
        "event_templates": EVENT_TEMPLATES,
        "sections": [
            "sandbox/console_users.html",
            "sandbox/console_cards.html",
            "sandbox/console_coins.html",
            "sandbox/console_components.html",
        ],
        **_cards_context(),
        **_coins_context(),
        **console_users.users_context(),
        **component.console_context(),
    }
    return render(request, "sandbox/console.html", context)


@require_POST
def console_clock(request):
    try:
        seconds = float(request.POST.get("advance_seconds", "0"))
        clock.advance(seconds)
        messages.success(request, _("Sandbox time moved forward."))
    except ValueError:
        messages.error(request, _("Give a positive number of seconds."))
    return redirect("sandbox:console")


@require_POST
def console_fault_add(request):
    try:
        remaining = request.POST.get("remaining", "").strip()
        core.fault_add(
            kind=request.POST.get("kind", ""),
            appid=request.POST.get("appid", "").strip(),
            path=request.POST.get("path", "").strip(),
            latency_ms=int(request.POST.get("latency_ms") or 0),
            remaining=int(remaining) if remaining else None,
        )
        messages.success(request, _("Fault added."))
    except ValueError:
        messages.error(request, _("The fault is not valid."))
    return redirect("sandbox:console")


@require_POST
def console_fault_clear(request):
    Fault.objects.filter(pk=request.POST.get("id")).delete()
    messages.success(request, _("Fault removed."))
    return redirect("sandbox:console")


@require_POST
def console_event(request):
    account = Account.objects.filter(appid=request.POST.get("appid", "")).first()
    if account is None:
        messages.error(request, _("Choose an account."))
        return redirect("sandbox:console")
    fields = {}
    for line in request.POST.get("fields", "").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            fields[key.strip()] = value.strip()
    result = push.push_event(
        account,
        event=request.POST.get("event", "").strip() or "unknown",
        fields=fields,
        from_user=request.POST.get("from_user", "").strip(),
    )
    if result.status == Push.Status.DELIVERED:
        messages.success(request, _("Event delivered: %s") % result.response)
    else:
        messages.error(request, _("Event not delivered: %s") % result.response)
    return redirect("sandbox:console")


@require_POST
def console_account(request):
    account = Account.objects.filter(appid=request.POST.get("appid", "")).first()
    if account is not None:
        account.callback_url = request.POST.get("callback_url", "").strip()
        account.encrypted = request.POST.get("encrypted") == "on"
        try:
            account.auto_review_seconds = int(
                request.POST.get("auto_review_seconds") or 0
            )
        except ValueError:
            messages.error(request, _("The review delay must be a number of seconds."))
            return redirect("sandbox:console")
        account.save()
        messages.success(request, _("Account saved."))
    return redirect("sandbox:console")


@require_POST
def console_reset(request):
    core.reset()
    messages.success(request, _("The sandbox was reset."))
    return redirect("sandbox:console")


# --- cards (SPEC §3.6) -----------------------------------------------------------
CONSOLE_CARDS = 50


def _cards_context() -> dict:
    rows = Card.objects.select_related("account").order_by("-created_at", "-id")
    return {
        "cards": [
            {"card": card, "title": cards.card_title(card)}
            for card in rows[:CONSOLE_CARDS]
        ],
        "card_in_review": Card.Status.NOT_VERIFY,
    }


@require_POST
def console_card_review(request, card_id: str):
    card = Card.objects.select_related("account").filter(card_id=card_id).first()
    if card is None:
        messages.error(request, _("No such card."))
        return redirect("sandbox:console")
    approve = request.POST.get("decision") == "approve"
    reason = request.POST.get("reason", "").strip()
    if not approve and not reason:
        messages.error(request, _("Give the reason for the rejection."))
        return redirect("sandbox:console")
    try:
        result = cards.card_review(card, approve=approve, reason=reason, wait=True)
    except cards.CardNotReviewable:
        messages.error(request, _("A deleted card cannot be reviewed."))
        return redirect("sandbox:console")
    done = _("Card approved.") if approve else _("Card rejected.")
    return _report_push(request, done, result)


def _report_push(request, done: str, result: Push):
    """Say what was done and how the event's delivery went; back to the console."""
    if result.status == Push.Status.DELIVERED:
        text = _("%(done)s Event delivered: %(answer)s")
        messages.success(request, text % {"done": done, "answer": result.response})
    else:
        text = _("%(done)s Event not delivered: %(answer)s")
        messages.warning(request, text % {"done": done, "answer": result.response})
    return redirect("sandbox:console")


# --- coins (SPEC §5) -------------------------------------------------------------
CONSOLE_COIN_ORDERS = 50


def _coins_context() -> dict:
    orders = CoinOrder.objects.select_related("account", "card")
    return {
        "coin_accounts": CoinAccount.objects.select_related("account").order_by(
            "account__appid"
        ),
        "recharges_waiting": orders.filter(
            order_type=CoinOrder.Type.WXPAY, status=CoinOrder.Status.WAITING
        ).order_by("create_time", "id")[:CONSOLE_COIN_ORDERS],
        "coin_orders": orders.order_by("-create_time", "-id")[:CONSOLE_COIN_ORDERS],
    }


@require_POST
def console_recharge_pay(request, order_id: str):
    decision = request.POST.get("decision")
    if decision not in ("pay", "fail"):
        messages.error(request, _("Choose Pay or Fail."))
        return redirect("sandbox:console")
    success = decision == "pay"
    try:
        order = coins.recharge_find(order_id=order_id)
        _order, result = coins.recharge_settle(order, success=success, wait=True)
    except coins.UnknownRecharge:
        messages.error(request, _("No such recharge."))
        return redirect("sandbox:console")
    except coins.RechargeNotWaiting:
        messages.error(request, _("This recharge was already settled."))
        return redirect("sandbox:console")
    done = _("Recharge paid.") if success else _("Recharge failed.")
    return _report_push(request, done, result)
