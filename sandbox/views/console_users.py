"""The console's "WeChat user" panel: pick or type an openid, receive a card as that
user, and see their coupons as WeChat's wallet shows them (title, validity, the
code as text, QR code or barcode per ``code_type``, and the coupon's link).

Every form calls the same backends as the control API.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .. import barcodes
from .. import exceptions as exc
from ..backends import carddef, cards, clock, codes, qrcodes, users
from ..models import Account, Card, Code, QRCode, WeChatUser

USER_CODES = 50

# code_type → (draw a QR, draw a barcode, show the digits)
CODE_DRAWING = {
    "CODE_TYPE_TEXT": (False, False, True),
    "CODE_TYPE_BARCODE": (False, True, True),
    "CODE_TYPE_QRCODE": (True, False, True),
    "CODE_TYPE_ONLY_QRCODE": (True, False, False),
    "CODE_TYPE_ONLY_BARCODE": (False, True, False),
    "CODE_TYPE_NONE": (False, False, False),
}


def users_context() -> dict:
    """The console's sections: the users seen lately, the latest QR codes."""
    recent = QRCode.objects.select_related("card", "account").order_by(
        "-created_at", "-id"
    )[:20]
    return {
        "wechat_users": WeChatUser.objects.select_related("account").order_by(
            "-created_at", "-id"
        )[:20],
        "qrcodes": [
            {
                "qr": qr,
                "title": cards.card_title(qr.card),
                "state": qrcodes.qrcode_state(qr),
                "phone_url": reverse("sandbox:phone", args=[qr.slug]),
                "image_url": reverse("sandbox:showqrcode")
                + "?"
                + urlencode({"ticket": qr.ticket}),
            }
            for qr in recent
        ],
    }


def _user_url(appid: str, openid: str) -> str:
    query = urlencode({"appid": appid, "openid": openid})
    return reverse("sandbox:console_user") + "?" + query


def _date(timestamp: int | None) -> str:
    if timestamp is None:
        return ""
    return carddef.china_date(datetime.fromtimestamp(timestamp, UTC))


def coupon_view(code: Code, *, openid: str, now) -> dict:
    """One coupon as the wallet shows it to ``openid``."""
    card = code.card
    qr, bar, digits = CODE_DRAWING[carddef.code_type(card)]
    dates = carddef.validity(card)
    status = codes.effective_status(code, card, now)
    try:
        link = codes.coupon_link(code, openid=openid)
    except codes.NoCouponLink:
        link = ""
    return {
        "code": code,
        "title": cards.card_title(card),
        "brand": carddef.brand_name(card),
        "code_type": carddef.code_type(card),
        "valid_from": _date(dates.begin),
        "valid_to": _date(dates.end),
        "status": status,
        "status_label": Code.Status(status).label,
        "usable": status == Code.Status.NORMAL,
        "mark_openid": codes.active_mark(code, now),
        "digits": digits,
        # Our own SVG of digits only: safe to inline.
        "qr_svg": mark_safe(barcodes.qr_svg(code.code)) if qr else "",  # noqa: S308
        "bar_svg": mark_safe(barcodes.code128_svg(code.code)) if bar else "",  # noqa: S308
        "link": link,
        "center_title": str(carddef.base_info(card).get("center_title") or ""),
    }


def console_user(request):
    """GET ?appid=&openid=: the user's wallet and what they can receive."""
    accounts = list(Account.objects.all())
    appid = request.GET.get("appid") or (accounts[0].appid if accounts else "")
    account = next((a for a in accounts if a.appid == appid), None)
    openid = request.GET.get("openid", "").strip()
    context = {
        "accounts": accounts,
        "account": account,
        "openid": openid,
        "known_users": account.users.all()[:100] if account else [],
        "cards": [],
        "coupons": [],
    }
    if account is not None:
        context["cards"] = [
            {"card": card, "title": cards.card_title(card)}
            for card in Card.objects.filter(account=account)
            .exclude(status=Card.Status.DELETE)
            .order_by("-created_at", "-id")[:50]
        ]
    if account is not None and openid:
        try:
            users.openid_checked(openid)
        except exc.SandboxAPIError:
            messages.error(request, _("An openid is 1 to 64 letters, digits, _ or -."))
            openid = context["openid"] = ""
    if account is not None and openid:
        now = clock.now()
        held = (
            Code.objects.select_related("card", "account")
            .filter(account=account, openid=openid)
            .order_by("-received_at", "-id")[:USER_CODES]
        )
        context["coupons"] = [coupon_view(c, openid=openid, now=now) for c in held]
        context["whitelisted"] = users.is_whitelisted(account, openid)
    return render(request, "sandbox/console_user.html", context)


@require_POST
def console_user_receive(request):
    appid = request.POST.get("appid", "")
    openid = request.POST.get("openid", "").strip()
    card = (
        Card.objects.select_related("account")
        .filter(account__appid=appid, card_id=request.POST.get("card_id", ""))
        .first()
    )
    if card is None:
        messages.error(request, _("Choose a card."))
        return redirect(_user_url(appid, openid))
    try:
        channel = codes.channel_checked(
            request.POST.get("outer_id", "").strip() or 0,
            request.POST.get("outer_str", "").strip(),
        )
        code = codes.code_receive(card, openid=openid, channel=channel, wait=True)
    except exc.SandboxAPIError as error:
        messages.error(
            request,
            _("WeChat refused: %(errcode)s %(errmsg)s")
            % {"errcode": error.errcode, "errmsg": error.errmsg},
        )
        return redirect(_user_url(appid, openid))
    messages.success(request, _("Received: code %(code)s.") % {"code": code.code})
    return redirect(_user_url(appid, openid))


@require_POST
def console_user_delete(request):
    """The user deletes a coupon from the wallet (pushes user_del_card)."""
    code = (
        Code.objects.select_related("card", "account")
        .filter(code=request.POST.get("code", ""))
        .first()
    )
    if code is None:
        messages.error(request, _("No such code."))
        return redirect("sandbox:console_user")
    try:
        codes.code_set_status(code, Code.Status.DELETE)
        messages.success(request, _("The coupon was deleted from the wallet."))
    except exc.SandboxAPIError:
        messages.error(request, _("A consumed coupon cannot be deleted."))
    return redirect(_user_url(code.account.appid, code.openid))
