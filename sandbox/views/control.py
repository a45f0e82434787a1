"""The control API (README "Sandbox control API"): everything the console does, as JSON.

Not part of WeChat's API: it plays WeChat's staff and users (reviews, payments,
pushes), moves sandbox time and injects faults. Only tools and the sandbox's own
pages may call it (sandbox.security): a cross-origin request is 403, a POST that
is not ``application/json`` is 415, and with ``SANDBOX_CONTROL_TOKEN`` set a
request without ``Authorization: Bearer <token>`` is 401.
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..backends import cards, clock, coins, core, push
from ..models import Account, Card, CoinAccount, Fault
from ..security import control_refusal
from .coins import exact_json


def _body(request) -> dict:
    try:
        data = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _bad(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def control(methods: list[str]):
    """JSON in, JSON out; ValueError/KeyError become 400 with the reason. CSRF does
    not apply (no cookies are involved): ``control_refusal`` keeps browsers out."""

    def decorator(fn):
        @csrf_exempt
        @require_http_methods(methods)
        def view(request, *args, **kwargs):
            refused = control_refusal(request)
            if refused is not None:
                return refused
            try:
                return fn(request, *args, **kwargs)
            except (ValueError, KeyError, TypeError) as error:
                return _bad(str(error))

        view.__name__ = fn.__name__
        view.__doc__ = fn.__doc__
        return view

    return decorator


def account_json(account: Account) -> dict:
    return {
        "appid": account.appid,
        "secret": account.secret,
        "token": account.token,
        "encoding_aes_key": account.encoding_aes_key,
        "callback_url": account.callback_url,
        "encrypted": account.encrypted,
        "auto_review_seconds": account.auto_review_seconds,
        "nick_name": account.nick_name,
        "principal_name": account.principal_name,
    }


@control(["GET", "POST"])
def accounts(request):
    """GET: every account. POST: create or update one by appid."""
    if request.method == "POST":
        data = _body(request)
        if not data.get("appid") or not data.get("secret"):
            raise ValueError("appid and secret are required")
        account = core.account_save(
            appid=str(data["appid"]),
            secret=str(data["secret"]),
            token=str(data.get("token", "")),
            encoding_aes_key=str(data.get("encoding_aes_key", "")),
            callback_url=str(data.get("callback_url", "")),
            encrypted=bool(data.get("encrypted", False)),
            auto_review_seconds=data.get("auto_review_seconds"),
            nick_name=data.get("nick_name"),
            principal_name=data.get("principal_name"),
        )
        return JsonResponse(account_json(account), status=201)
    return JsonResponse({"accounts": [account_json(a) for a in Account.objects.all()]})


@control(["POST"])
def reset(request):
    """Forget all state but the accounts, and set sandbox time back to real time."""
    core.reset()
    return JsonResponse({"reset": True})


@control(["GET", "POST"])
def clock_view(request):
    """POST {"advance_seconds": N}: sandbox time moves forward N seconds."""
    if request.method == "POST":
        seconds = float(_body(request)["advance_seconds"])
        clock.advance(seconds)
    return JsonResponse(
        {"now": clock.now().isoformat(), "offset_seconds": clock.offset()}
    )


@control(["GET", "POST", "DELETE"])
def faults(request):
    """POST {"appid", "path", "kind", "latency_ms", "remaining"} adds a fault;
    DELETE (optionally ?appid=&path=) removes faults; GET lists them."""
    if request.method == "POST":
        data = _body(request)
        remaining = data.get("remaining")
        fault = core.fault_add(
            kind=str(data["kind"]),
            appid=str(data.get("appid", "")),
            path=str(data.get("path", "")),
            latency_ms=int(data.get("latency_ms", 0)),
            remaining=int(remaining) if remaining is not None else None,
        )
        return JsonResponse({"id": fault.pk}, status=201)
    if request.method == "DELETE":
        deleted = core.fault_clear(
            appid=request.GET.get("appid"), path=request.GET.get("path")
        )
        return JsonResponse({"deleted": deleted})
    return JsonResponse(
        {
            "faults": list(
                Fault.objects.values(
                    "id", "appid", "path", "kind", "latency_ms", "remaining"
                )
            ),
            "kinds": Fault.Kind.values,
        }
    )


@control(["POST"])
def events(request):
    """POST {"appid", "event", "fields": {...}, "from_user"}: push an event now;
    answers how the delivery went."""
    data = _body(request)
    account = Account.objects.filter(appid=data.get("appid", "")).first()
    if account is None:
        return _bad("unknown appid", 404)
    fields = data.get("fields") or {}
    if not isinstance(fields, dict):
        raise ValueError("fields must be an object")
    delivered = push.push_event(
        account,
        event=str(data["event"]),
        fields=fields,
        from_user=str(data.get("from_user", "")),
    )
    return JsonResponse(
        {
            "push_id": delivered.pk,
            "status": delivered.status,
            "attempts": delivered.attempts,
            "response": delivered.response,
        }
    )


@control(["GET"])
def calls(request):
    """GET ?appid=&path=: how many API calls the sandbox answered."""
    return JsonResponse(
        {
            "count": core.call_count(
                appid=request.GET.get("appid"), path=request.GET.get("path")
            )
        }
    )


def card_json(card: Card) -> dict:
    return {
        "card_id": card.card_id,
        "appid": card.account.appid,
        "card_type": card.card_type,
        "title": cards.card_title(card),
        "summary": cards.card_summary(card),
        "status": card.status,
        "quantity": card.quantity,
        "total_quantity": card.total_quantity,
        "refuse_reason": card.refuse_reason,
    }


@control(["GET"])
def cards_list(request):
    """GET ?appid= (optional): the cards WeChat keeps, oldest first."""
    rows = Card.objects.select_related("account").order_by("created_at", "id")
    if request.GET.get("appid"):
        rows = rows.filter(account__appid=request.GET["appid"])
    return JsonResponse({"cards": [card_json(card) for card in rows]})


@control(["POST"])
def card_review(request, card_id: str):
    """POST {"approve": true|false, "reason": "…"}: WeChat's reviewer decides; the
    card_pass_check / card_not_pass_check event is pushed before the answer."""
    data = _body(request)
    approve = data["approve"]
    if not isinstance(approve, bool):
        raise ValueError("approve must be true or false")
    card = Card.objects.select_related("account").filter(card_id=card_id).first()
    if card is None:
        return _bad("unknown card_id", 404)
    pushed = cards.card_review(
        card, approve=approve, reason=str(data.get("reason") or ""), wait=True
    )
    return JsonResponse(
        {
            "card_id": card.card_id,
            "status": card.status,
            "refuse_reason": card.refuse_reason,
            "push": {
                "push_id": pushed.pk,
                "event": pushed.event,
                "status": pushed.status,
                "attempts": pushed.attempts,
            },
        }
    )


# --- coins (SPEC §5) -------------------------------------------------------------
def _push_json(pushed) -> dict:
    return {
        "push_id": pushed.pk,
        "event": pushed.event,
        "status": pushed.status,
        "attempts": pushed.attempts,
    }


def _flag(data: dict, key: str, default: bool | None = None) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false")
    return value


@control(["GET"])
def coins_view(request):
    """GET ?appid=: the account's coin balance, exact (coins are JSON numbers)."""
    if not request.GET.get("appid"):
        raise ValueError("appid is required")
    account = Account.objects.filter(appid=request.GET["appid"]).first()
    if account is None:
        return _bad("unknown appid", 404)
    balance = CoinAccount.objects.filter(account=account).first()
    zero = Decimal(0)
    free = balance.free_coin if balance else zero
    pay = balance.pay_coin if balance else zero
    data = {
        "activated": balance is not None,
        "free_coin": free,
        "pay_coin": pay,
        "total_coin": free + pay,
        "recharges_waiting": coins.recharges_waiting(account),
    }
    return HttpResponse(exact_json(data), content_type="application/json")


@control(["POST"])
def recharge_pay(request, order_id: str):
    """POST {"success": true|false, "wait": true}: the payer pays (coins added) or
    the payment fails; the card_pay_order event is pushed before the answer unless
    "wait" is false. 404 unknown recharge, 409 already settled."""
    data = _body(request)
    success = _flag(data, "success")
    wait = _flag(data, "wait", True)
    try:
        order = coins.recharge_find(order_id=order_id)
        order, pushed = coins.recharge_settle(order, success=success, wait=wait)
    except coins.UnknownRecharge:
        return _bad("unknown recharge order_id", 404)
    except coins.RechargeNotWaiting:
        return _bad("the recharge is not waiting for payment", 409)
    return JsonResponse(
        {"order_id": order.order_id, "status": order.status, "push": _push_json(pushed)}
    )


@control(["POST"])
def recharges_pay_all(request):
    """POST {"appid", "success": true}: settle every waiting recharge of the
    account at once (benchmarks); events are delivered in the background."""
    data = _body(request)
    account = Account.objects.filter(appid=str(data.get("appid") or "")).first()
    if account is None:
        return _bad("unknown appid", 404)
    paid = coins.recharges_settle_all(account, success=_flag(data, "success", True))
    return JsonResponse({"paid": paid})
