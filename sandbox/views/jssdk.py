"""The JS-SDK stand-in (SPEC §6): ``/sandbox/jssdk/jweixin.js`` and the endpoints it
calls from the merchant's page to do what WeChat's client does on the phone.

The merchant's page is on another origin than the sandbox, so these endpoints
(and only these: never the control API) answer CORS requests. They carry no
cookies and trust nothing but signatures: the jsapi signature of the page's URL
(``config``), then the sandbox-signed session it gives, and each cardExt's
signature (``addcard``).
"""

from __future__ import annotations

import json
from functools import wraps

from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from .. import exceptions as exc
from ..backends import carddef, cards, jssdk, users
from ..models import Account, Code

JS_PATH = "sandbox/jweixin.js"


def cors(fn):
    """Allow the cross-origin POSTs (with a JSON body, hence the preflight) that a
    merchant's page makes through the JS-SDK."""

    @csrf_exempt
    @wraps(fn)
    def view(request, *args, **kwargs):
        if request.method == "OPTIONS":
            response = HttpResponse(status=204)
        elif request.method != "POST":
            response = JsonResponse({"errMsg": "POST only"}, status=405)
        else:
            try:
                body = json.loads(request.body.decode("utf-8") or "{}")
            except (UnicodeDecodeError, ValueError):
                body = None
            if not isinstance(body, dict):
                response = JsonResponse({"errMsg": "fail invalid json"}, status=400)
            else:
                response = JsonResponse(
                    fn(request, body, *args, **kwargs),
                    json_dumps_params={"ensure_ascii": False},
                )
        response["Access-Control-Allow-Origin"] = "*"
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "600"
        return response

    return view


def script(request):
    """The JS-SDK itself (plain JavaScript, no dependencies)."""
    found = finders.find(JS_PATH)
    if not found:
        raise Http404
    with open(found, encoding="utf-8") as handle:
        response = HttpResponse(
            handle.read(), content_type="application/javascript; charset=utf-8"
        )
    response["Cache-Control"] = "no-cache"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _labels() -> dict:
    """The overlay's words, in the language of the page's browser."""
    return {
        "title": _("WeChat (sandbox)"),
        "add_title": _("Add to your card wallet"),
        "openid": _("You are (openid)"),
        "add": _("Add"),
        "cancel": _("Cancel"),
        "ok": _("OK"),
        "gift_title": _("A gift after using your coupon"),
        "no_gift": _("No gift this time."),
        "refused": _("Not added"),
    }


def _allowed(body: dict, api: str) -> tuple[str, list[str]] | None:
    found = jssdk.session_apis(body.get("session"))
    if found is None or api not in found[1]:
        return None
    return found


@cors
def config(request, body: dict) -> dict:
    """POST {appId, timestamp, nonceStr, signature, url, jsApiList} →
    {errMsg: "config:ok", session} or {errMsg: "config:invalid signature"}."""
    result = jssdk.config_verify(body)
    answer = {"errMsg": result.err_msg}
    if result.session:
        answer["session"] = result.session
    return answer


def _card_view(request: jssdk.CardRequest) -> dict:
    card = request.card
    return {
        "cardId": request.card_id,
        "title": cards.card_title(card) if card else "",
        "brand": carddef.brand_name(card) if card else "",
        "openid": str(request.ext.get("openid") or ""),
    }


@cors
def addcard(request, body: dict) -> dict:
    """POST {session, cardList, openid?}. Without openid: the check before the
    overlay (signatures; the cards' titles; the account's users). With openid:
    the receive → {errMsg: "addCard:ok", cardList: [{cardId, cardExt, isSuccess,
    code (the encrypt_code)}], details: [...]}."""
    if _allowed(body, "addCard") is None:
        return {"errMsg": "addCard:" + jssdk.PERMISSION_DENIED}
    requests = jssdk.card_requests(body.get("cardList"))
    if requests is None:
        return {"errMsg": "addCard:" + jssdk.BAD_CARD_LIST}
    failed = next((r for r in requests if r.error), None)
    if failed is not None:
        return {"errMsg": "addCard:" + failed.error, "cardId": failed.card_id}
    openid = body.get("openid")
    if openid in (None, ""):
        account = requests[0].card.account
        return {
            "errMsg": "addCard:ok",
            "cards": [_card_view(r) for r in requests],
            "users": list(account.users.values_list("openid", flat=True)[:50]),
            "labels": _labels(),
        }
    try:
        users.openid_checked(openid)
    except exc.SandboxAPIError:
        return {"errMsg": "addCard:fail invalid openid"}
    added = jssdk.add_cards(requests, openid=openid)
    return {
        "errMsg": "addCard:ok",
        "cardList": [
            {
                "cardId": a.card_id,
                "cardExt": a.card_ext,
                "isSuccess": a.code is not None,
                "code": a.code.encrypt_code if a.code else "",
            }
            for a in added
        ],
        "details": [
            {
                "cardId": a.card_id,
                "errcode": a.refusal.errcode if a.refusal else 0,
                "errmsg": a.refusal.errmsg if a.refusal else "ok",
            }
            for a in added
        ],
    }


@cors
def consume_share(request, body: dict) -> dict:
    """POST {session, cardId, code}: the gift the consumer received when the code
    was consumed (the sandbox gives it at the consume itself)."""
    allowed = _allowed(body, "consumeAndShareCard")
    if allowed is None:
        return {"errMsg": "consumeAndShareCard:" + jssdk.PERMISSION_DENIED}
    code = jssdk.consumed_code(body.get("cardId"), body.get("code"))
    account = Account.objects.filter(appid=allowed[0]).first()
    if code is None or account is None or code.account_id != account.pk:
        return {"errMsg": "consumeAndShareCard:fail invalid code"}
    if code.status != Code.Status.CONSUMED:
        return {"errMsg": "consumeAndShareCard:fail the code is not consumed"}
    gifts = code.gifts.select_related("card")
    return {
        "errMsg": "consumeAndShareCard:ok",
        "gifts": [
            {
                "cardId": gift.card.card_id,
                "title": cards.card_title(gift.card),
                "brand": carddef.brand_name(gift.card),
                "openid": gift.openid,
                "code": gift.encrypt_code,
            }
            for gift in gifts
        ],
        "labels": _labels(),
    }
