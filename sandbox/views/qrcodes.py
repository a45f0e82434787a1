"""Distribution on WeChat's paths (SPEC §6): ``card/qrcode/create``,
``card/testwhitelist/set``, the QR image at ``show_qrcode_url``, and the simulated
phone a QR code's ``url`` opens (pick or type an openid, receive the card as if the
QR was scanned in WeChat).
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from .. import barcodes
from .. import exceptions as exc
from ..backends import carddef, cards, qrcodes, users
from .wire import read_json, wechat_api

OK = {"errcode": 0, "errmsg": "ok"}


def _base(request) -> str:
    return request.build_absolute_uri(reverse("sandbox:index"))


@wechat_api("card/qrcode/create", methods=("POST",))
def create(request, account):
    qr = qrcodes.qrcode_create(account, read_json(request))
    return {**OK, **qrcodes.qrcode_answer(qr, _base(request))}


@wechat_api("card/testwhitelist/set", methods=("POST",))
def testwhitelist_set(request, account):
    users.whitelist_set(account, read_json(request))
    return dict(OK)


@require_GET
def showqrcode(request):
    """The QR image (PNG) of a ticket, as mp.weixin.qq.com/cgi-bin/showqrcode."""
    qr = qrcodes.qrcode_find(request.GET.get("ticket", ""))
    if qr is None:
        raise Http404
    response = HttpResponse(
        barcodes.qr_png(qrcodes.qrcode_url(qr, _base(request))),
        content_type="image/png",
    )
    response["Cache-Control"] = "public, max-age=300"
    return response


def _date(timestamp: int | None) -> str:
    if timestamp is None:
        return ""
    return carddef.china_date(datetime.fromtimestamp(timestamp, UTC))


@require_http_methods(["GET", "POST"])
def phone(request, slug: str):
    """What WeChat shows after scanning the QR: the card, and "receive" as the
    user whose openid is picked or typed."""
    qr = qrcodes.qrcode_find(slug)
    if qr is None or qr.slug != slug:
        return render(request, "sandbox/phone.html", {"qr": None}, status=404)
    received, refusal = None, None
    openid = (request.POST.get("openid") or qr.openid or "").strip()
    if request.method == "POST":
        try:
            received = qrcodes.qrcode_scan(qr, openid=openid)
        except exc.SandboxAPIError as error:
            refusal = error
        qr.refresh_from_db()
    dates = carddef.validity(qr.card)
    context = {
        "qr": qr,
        "card": qr.card,
        "title": cards.card_title(qr.card),
        "brand": carddef.brand_name(qr.card),
        "valid_from": _date(dates.begin),
        "valid_to": _date(dates.end),
        "state": qrcodes.qrcode_state(qr),
        "openid": openid,
        "known_users": qr.account.users.all()[:100],
        "received": received,
        "refusal": refusal,
        "wallet_url": reverse("sandbox:console_user")
        + f"?appid={qr.account.appid}&openid={received.openid}"
        if received
        else "",
    }
    return render(request, "sandbox/phone.html", context)
