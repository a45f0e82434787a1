"""card/pay/…: coins and stock on WeChat's paths (SPEC §5, §12), and the simulated
WeChat Pay page a recharge's QR leads to.

Parsing and answer shapes only; state and rules are in ``backends.coins``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from ..backends import coins
from ..models import CoinOrder
from .wire import read_json, wechat_api

OK = {"errcode": 0, "errmsg": "ok"}


def exact_json(value) -> str:
    """JSON as ``wire.answer`` writes it (UTF-8, compact), except that a Decimal is
    a JSON number with the Decimal's exact text (199.4, 200, 0.6) — never a float
    on the way, and never a string."""
    if isinstance(value, Decimal):
        return coins.coin_text(value)
    if isinstance(value, dict):
        items = (f"{exact_json(str(k))}:{exact_json(v)}" for k, v in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(exact_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def coin_api(path: str, *, methods: tuple = ("GET", "POST")):
    """``wechat_api`` (faults, token, errcodes, call log) whose successful answers
    are written by ``exact_json``: coin amounts as exact JSON numbers."""

    def decorator(fn):
        @wraps(fn)
        def keep(request, account, *args, **kwargs):
            data = fn(request, account, *args, **kwargs)
            request.coin_answer = data
            return data

        inner = wechat_api(path, methods=methods)(keep)

        @wraps(inner)
        def view(request, *args, **kwargs):
            response = inner(request, *args, **kwargs)
            data = getattr(request, "coin_answer", None)
            if data is not None and response.status_code == 200:
                response.content = exact_json(data).encode("utf-8")
            return response

        return view

    return decorator


@coin_api("card/pay/activate")
def activate(request, account):
    return {**OK, "reward": coins.coin_activate(account)}


@coin_api("card/pay/getpayprice", methods=("POST",))
def getpayprice(request, account):
    quote = coins.quote_create(account, read_json(request))
    return {
        **OK,
        "order_id": quote.order_id,
        "price": coins.coin_text(quote.price),
        "free_coin": coins.coin_text(quote.free_coin),
        "pay_coin": coins.coin_text(quote.pay_coin),
    }


@coin_api("card/pay/getcoinsinfo")
def getcoinsinfo(request, account):
    balance = coins.coin_balance(account)
    return {
        **OK,
        "free_coin": balance.free_coin,
        "pay_coin": balance.pay_coin,
        "total_coin": balance.total_coin,
    }


@coin_api("card/pay/confirm", methods=("POST",))
def confirm(request, account):
    coins.quote_confirm(account, read_json(request))
    return dict(OK)


@coin_api("card/pay/recharge", methods=("POST",))
def recharge(request, account):
    order = coins.recharge_create(account, read_json(request))
    return {
        **OK,
        "order_id": order.order_id,
        "qrcode_url": coins.recharge_qrcode_url(order),
        "qrcode_buffer": coins.recharge_qrcode_png(order),
    }


@coin_api("card/pay/getorder", methods=("POST",))
def getorder(request, account):
    order = coins.order_get(account, read_json(request))
    return {**OK, "order_info": coins.order_info(order)}


@coin_api("card/pay/getorderlist", methods=("POST",))
def getorderlist(request, account):
    total, orders = coins.order_list(account, read_json(request))
    return {
        **OK,
        "total_num": total,
        "order_list": [coins.order_info(order) for order in orders],
    }


# --- the payment page (weixin://wxpay/bizpayurl?pr=… → /sandbox/pay?pr=…) ---------
@require_GET
def pay_page(request):
    """What the payer's phone shows after scanning a recharge's QR."""
    token = request.GET.get("pr", "")
    try:
        order = coins.recharge_find(pay_token=token)
    except coins.UnknownRecharge:
        return render(request, "sandbox/pay.html", {"order": None}, status=404)
    return render(
        request,
        "sandbox/pay.html",
        {
            "order": order,
            "token": token,
            "waiting": order.status == CoinOrder.Status.WAITING,
            "paid": order.status == CoinOrder.Status.FINANCE_SUCC,
        },
    )


@require_POST
def pay_settle(request):
    token = request.POST.get("pr", "")
    try:
        order = coins.recharge_find(pay_token=token)
    except coins.UnknownRecharge:
        return render(request, "sandbox/pay.html", {"order": None}, status=404)
    decision = request.POST.get("decision")
    if decision not in ("pay", "fail"):
        messages.error(request, _("Choose Pay or Fail."))
        return redirect(reverse("sandbox:pay") + "?" + urlencode({"pr": token}))
    success = decision == "pay"
    try:
        # The payer's phone does not wait for WeChat's push to the merchant.
        coins.recharge_settle(order, success=success, wait=False)
    except coins.RechargeNotWaiting:
        messages.error(request, _("This order was already settled."))
    else:
        if success:
            messages.success(request, _("Payment made."))
        else:
            messages.warning(request, _("Payment failed."))
    return redirect(reverse("sandbox:pay") + "?" + urlencode({"pr": token}))
